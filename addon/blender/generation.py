"""A generation job: export the shot's passes, run the engine as a child process, put each
finished take into the sequencer.

`tick()` does a little and returns at once (one exported frame, or the engine's new
events), so a modal operator's timer drives it and Blender stays responsive; scripts call
it in a loop. Only complete takes (the engine's `done` event: the take folder is renamed
into place) become strips, so a cancel or a crash never leaves half a take in the
sequencer. The job holds the scene's name, never the scene itself: the artist may undo,
which replaces Blender's data while the engine runs.
"""

import atexit
import shutil
import time
import traceback
from pathlib import Path

import bpy

from ...engine.bundle import camera as camera_math
from ...engine.bundle.events import DoneEvent
from ...engine.bundle.take_record import TakeRecordError, read_take
from ..cast import CastInputError
from ..engine_process import EXIT_CANCELLED, EngineError, EngineProcess
from ..engine_report import generation_backend, passes_to_export
from ..engine_request import lens_passes, local_models, shot_request
from .lens import camera_has_dof
from ..generation_progress import GenerationProgress
from ..ui.preferences import engine_report, engine_setup, model_folder, takes_root
from ..strip_layout import PREFIX, LayoutError, next_seed
from ..take_folders import new_bundle_dir, shot_takes_dir
from . import errors, sequencer
from .cast import scene_cast, shot_reference_file
from .export import iter_export_shot

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
        """Stop: an export is dropped at once (nothing written); the engine gets SIGTERM and the
        job ends when it has exited (finished takes stay, in the sequencer too)."""
        if self._export is not None:
            self._export.close()
            self._export = None
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
        self.progress.export_frame(done, total)

    def _start_engine(self):
        self._engine = EngineProcess(self.setup, self.request.to_arguments(self.bundle_dir, self.takes_dir))
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
            self._end("failed", self._engine.failure_message())

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
        self._export = None
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
            if self._export is None:
                time.sleep(poll_s)
        return self.progress.phase


def _export_size(scene, size):
    if size is not None:
        return size
    render = scene.render
    return camera_math.render_size(render.resolution_x, render.resolution_y, render.resolution_percentage)


def shot_job(scene, shot, prefs, passes, size=None):
    """A job exporting `shot` and generating it with its settings (`scene.blockcast`). It
    exports the chosen `passes` plus those the backend needs (the previz backend needs the
    shading, normal and objects passes, which the default pass choice leaves out) and those the
    take's lens reads (depth for depth of field, flow for motion blur)."""
    settings = scene.blockcast.shot_generation_settings(shot.name, create=True)
    setup = engine_setup(prefs)
    report = engine_report(setup)
    backend = generation_backend(settings.backend, prefs.default_backend, report)
    request = shot_request(settings, report, backend, prefs.device, _export_size(scene, size),
                           local_models(model_folder(prefs), backend), shot_reference_file(settings.reference_image))
    takes_dir = shot_takes_dir(takes_root(prefs), bpy.data.filepath, shot.name)
    bundle_dir = new_bundle_dir(takes_dir)
    cast, _ = scene_cast(scene)
    with_references = any(member.references for member in cast.members)
    exported = passes_to_export(passes, report, backend, with_references)
    lens = lens_passes(request, camera_has_dof(shot.camera_name), scene.render.use_motion_blur)
    exported += [name for name in lens if name not in exported]
    steps = iter_export_shot(scene, shot, bundle_dir, exported, size)
    return GenerationJob(scene, shot.name, request, setup, takes_dir, bundle_dir, steps)


def regenerate_job(scene, strip, prefs):
    """A job making one more take like `strip`'s (same bundle, prompt, backend, models and
    parameters) with a seed none of the shot's takes used."""
    take_dir = Path(strip[PREFIX + "take_json"]).parent
    record = read_take(take_dir)
    shot = strip[PREFIX + "shot"]
    bundle = Path(record.bundle.path)
    if not bundle.is_dir():
        raise errors.UserError(f"the take's bundle {bundle} is gone: use Generate to export the shot again")
    seed = next_seed(take.get(PREFIX + "seed", 0) for take in sequencer.shot_takes(scene, shot))
    return GenerationJob(scene, shot, record.request(seed, prefs.device, take_dir), engine_setup(prefs),
                         take_dir.parent, bundle)


@atexit.register
def _stop_engine_on_exit():
    """Blender is quitting: let a running engine clean up its unfinished take and stop."""
    job = running_job()
    if job is not None:
        job.cancel()
