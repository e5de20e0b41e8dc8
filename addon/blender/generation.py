"""A generation job: export the shot's passes, run the engine as a child process, put each
finished take into the sequencer (the jobs themselves are made in `shot_jobs`).

`tick()` does a little and returns at once (the background export's progress, one frame of
an in-process export, or the engine's new events), so a modal operator's timer drives it and
Blender stays responsive; scripts call it in a loop. Only an in-process export holds input
(`holds_input`, see background_export). Only complete takes (the engine's `done` event: the
take folder is renamed into place) become strips, so a cancel or a crash never leaves half a
take in the sequencer. The job holds the scene's name, never the scene itself: the artist may
undo, which replaces Blender's data while the engine runs.
"""

import atexit
import shutil
import time
import traceback
from pathlib import Path

import bpy

from ...engine.bundle.events import DoneEvent
from ...engine.bundle.take_record import TakeRecordError
from ..cast import CastInputError
from ..engine_process import EXIT_CANCELLED, EngineError
from ..engine_report import in_panel_words
from ..generation_progress import GenerationProgress
from ..strip_layout import LayoutError
from . import errors, sequencer
from .engine_choice import start_engine

JOB_ERRORS = errors.USER_ERRORS + (EngineError, TakeRecordError, LayoutError, CastInputError)
_RUNNING = []  # the running job: one at a time, so two engines never fight over one GPU


def running_job():
    return _RUNNING[0] if _RUNNING else None


class GenerationJob:
    """Export (unless given a bundle) → engine → strips, advanced by `tick()`."""

    def __init__(self, scene, shot_name, request, setup, takes_dir, bundle_dir, export_steps=None):
        if running_job() is not None:
            raise errors.UserError("a generation is already running: wait for it to finish or cancel it")
        setup.check()
        self.scene_name, self.shot_name = scene.name, shot_name
        self.request, self.setup = request, setup
        self.takes_dir, self.bundle_dir = Path(takes_dir), Path(bundle_dir)
        self.progress = GenerationProgress(shot_name, request.takes)
        self.reports = []          # (level, message) for whoever runs the job to show
        self.strip_names = []      # the strips this job added
        self._export = export_steps
        self._exports_bundle = export_steps is not None
        self._engine = None
        if export_steps is None:
            self._start_engine()
        _RUNNING.append(self)

    @property
    def running(self):
        return self.progress.running

    @property
    def exporting(self):
        return self._export is not None

    @property
    def holds_input(self):
        """True while this process renders the passes itself: the scene must not change meanwhile."""
        return self._export is not None and not getattr(self._export, "in_background", False)

    @property
    def engine_pid(self):
        return self._engine.pid if self._engine is not None else None

    def tick(self):
        """Advance a little; returns False once the job is over."""
        if not self.running:
            return False
        try:
            if self._export is not None:
                self._export_step()
            elif self._engine is not None:
                self._engine_step()
        except JOB_ERRORS as exc:
            self._end("failed", str(exc))
        except Exception as exc:  # a bug of ours must not leave an engine running unseen
            traceback.print_exc()
            if self._engine is not None:
                self._engine.kill()
            self._end("failed", f"internal error ({type(exc).__name__}: {exc}); the console has the details")
        return self.running

    def cancel(self):
        """Stop: an export is dropped at once (nothing written, a background export's Blender
        stopped); the engine gets SIGTERM and the job ends when it has exited (finished takes
        stay, in the sequencer too)."""
        if self._export is not None:
            self._end("cancelled")
        elif self._engine is not None:
            self._engine.cancel()

    def stop(self, timeout_s):
        """Cancel and end the job now, for when Blender ends the operator (e.g. another file is
        loading): no more strips are added, and the engine is killed if it has not exited in time."""
        self.scene_name = None
        self.cancel()
        deadline = time.monotonic() + timeout_s
        while self.tick() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.running:
            self._engine.kill()
            self._end("cancelled")

    def _export_step(self):
        try:
            done, total = next(self._export)
        except StopIteration:
            self._export = None
            self._start_engine()
            return
        self.progress.export_frame(done, total, getattr(self._export, "note", ""))

    def _start_engine(self):
        """The engine service when one takes the job (engine_choice), else a child process."""
        self._engine = start_engine(self.setup, self.request, self.bundle_dir, self.takes_dir, self.reports)
        self.progress.engine_started()

    def _engine_step(self):
        code = self._engine.poll()  # before draining: once it gives a code, every event is queued
        for event in self._engine.events():
            self.progress.apply(event)
            if isinstance(event, DoneEvent):
                self._add_take(event.path)
        if code is None:
            return
        if code == 0:
            self._end("finished")
        elif code == EXIT_CANCELLED or self._engine.cancel_requested:
            self._end("cancelled")
        else:
            self._end("failed", in_panel_words(self._engine.failure_message()))

    def _add_take(self, take_dir):
        scene = bpy.data.scenes.get(self.scene_name) if self.scene_name else None
        if scene is None:
            self.reports.append(("WARNING", f"the shot's scene is gone; the take is kept at {take_dir}"))
            return
        try:
            strips = sequencer.add_takes(scene, [take_dir], self.shot_name)
        except (TakeRecordError, LayoutError) as exc:
            self.reports.append(("WARNING", f"{exc}; the take is kept at {take_dir}"))
            return
        self.strip_names += [strip.name for strip in strips]

    def _end(self, phase, message=None):
        export, self._export = self._export, None
        if export is not None:
            export.close()
        self.progress.end(phase, message)
        if self in _RUNNING:
            _RUNNING.remove(self)
        made = len(self.progress.takes_done)
        if self._exports_bundle and made == 0 and self.bundle_dir.is_dir():
            shutil.rmtree(self.bundle_dir, ignore_errors=True)  # nothing refers to it
        if phase == "finished":
            self.reports.append(("INFO", f"{self.shot_name}: {made} take{'s' if made != 1 else ''} in the sequencer "
                                         f"({self.takes_dir})"))
        elif phase == "cancelled":
            self.reports.append(("WARNING", f"{self.shot_name}: generation cancelled; {made} finished take(s) kept"))
        else:
            self.reports.append(("ERROR", f"{self.shot_name}: {message}"))

    def wait(self, poll_s=0.05, on_tick=None):
        """Run to the end in this thread (scripts, `execute`); returns the final phase."""
        while self.tick():
            if on_tick is not None:
                on_tick(self.progress)
            if not self.holds_input:
                time.sleep(poll_s)
        return self.progress.phase


@atexit.register
def _stop_engine_on_exit():
    """Blender is quitting: let a running engine clean up its unfinished take and stop."""
    job = running_job()
    if job is not None:
        job.cancel()
