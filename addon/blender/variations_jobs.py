"""The jobs of the Variations row: Make Variations (the shot's passes exported as Generate does,
then `python -m engine variations`, or full takes on a diffusion backend) and Make Takes (one
full take per picked seed, from the variations' own bundle and request).

Both are driven like Generate's job (`tick`, `cancel`, `stop`, `wait`, `progress`, `reports`),
so the operators run them with operators_generate's modal machinery."""

import time
from dataclasses import replace
from pathlib import Path

import bpy

from ...engine.bundle.service_record import VariationsSettings
from ...engine.bundle.variations_record import VariationsRecordError
from ..variations import DEFAULT_COUNT, VARIATIONS_DIR, diffusion_takes, makes_sheet, request_from_text, run_requests
from ..variations_progress import RunsProgress, VariationsProgress
from ..ui.preferences import engine_setup
from . import errors
from .engine_choice import start_engine
from .generation import JOB_ERRORS, GenerationJob
from .shot_jobs import shot_job
from .variations import shot_sheet, store_sheet


class VariationsJob(GenerationJob):
    """Export → `engine variations` → the sheet shown (scene.blockcast_variations). The folder the
    engine names at the end counts as the job's one take, so the bundle it refers to is kept; a
    cancel leaves neither (the engine removes its unfinished folder, the job the fresh bundle)."""

    def __init__(self, scene, shot_name, request, setup, takes_dir, bundle_dir, export_steps=None, count=DEFAULT_COUNT):
        self.count = count
        self.out_dir = Path(takes_dir) / VARIATIONS_DIR
        self.sheet = None
        super().__init__(scene, shot_name, replace(request, takes=1), setup, takes_dir, bundle_dir, export_steps)
        launched = self.progress.phase == "launching"
        self.progress = VariationsProgress(shot_name, count)
        if launched:
            self.progress.engine_started()

    def _start_engine(self):
        """`variations` on the engine service when one takes the job (Keep Engine Warm: no start-up,
        the model already loaded), else in a child engine process (engine_choice)."""
        self._engine = start_engine(self.setup, self.request, self.bundle_dir, self.out_dir, self.reports,
                                    VariationsSettings(count=self.count))
        self.progress.engine_started()

    def _end(self, phase, message=None):
        if phase == "finished":
            phase, message = self._show_sheet()
        super()._end(phase, message)
        if phase == "finished":
            self.reports[-1] = ("INFO", f"{self.shot_name}: {len(self.sheet.tiles)} variations on the sheet "
                                        f"(image {self._image_name()!r}); tick tiles and Make Takes")
        elif phase == "cancelled":
            self.reports[-1] = ("WARNING", f"{self.shot_name}: variations cancelled; nothing was kept")

    def _show_sheet(self):
        folder = self.progress.folder
        scene = bpy.data.scenes.get(self.scene_name) if self.scene_name else None
        if not folder:
            return "failed", "the engine finished without naming its variations folder: update the engine"
        if scene is None:
            self.reports.append(("WARNING", f"the shot's scene is gone; the variations are kept at {folder}"))
            return "cancelled", None
        try:
            self.sheet = store_sheet(scene, self.shot_name, folder, self.request, self.takes_dir)
        except VariationsRecordError as exc:
            return "failed", str(exc)
        return "finished", None

    def _image_name(self):
        scene = bpy.data.scenes.get(self.scene_name) if self.scene_name else None
        entry = scene.blockcast_variations.sheet(self.shot_name) if scene is not None else None
        return entry.image if entry is not None else ""


def variations_job(scene, shot, prefs, passes, size, count):
    """(the Make Variations job, a note for the artist or None): a contact sheet of `count` looks
    on the default backend, else a capped number of full takes with distinct seeds."""
    notes = []

    def make_job(scene, shot_name, request, setup, takes_dir, bundle_dir, steps):
        if makes_sheet(request.backend):
            return VariationsJob(scene, shot_name, request, setup, takes_dir, bundle_dir, steps, count=count)
        takes_request, note = diffusion_takes(request, count)
        notes.append(note)
        return GenerationJob(scene, shot_name, takes_request, setup, takes_dir, bundle_dir, steps)

    job = shot_job(scene, shot, prefs, passes, size, make_job=make_job)
    return job, (notes[0] if notes else None)


class PickedTakesJob:
    """Full takes of the picked variations: one GenerationJob per run of consecutive seeds, one
    after another on the variations' bundle (the engine makes consecutive seeds per call)."""

    exporting = holds_input = False  # no export: the variations' bundle is reused

    def __init__(self, scene, shot_name, requests, setup, takes_dir, bundle_dir):
        self.scene_name, self.shot_name = scene.name, shot_name
        self.request = requests[0]
        self.setup, self.takes_dir, self.bundle_dir = setup, Path(takes_dir), Path(bundle_dir)
        self.seeds = [request.seed + k for request in requests for k in range(request.takes)]
        self.progress = RunsProgress(shot_name, len(self.seeds))
        self.reports, self.strip_names = [], []
        self._pending = list(requests)
        self._stopping = False
        self._job = None
        self._start_next(scene)

    @property
    def running(self):
        return self.progress.running

    @property
    def engine_pid(self):
        return self._job.engine_pid if self._job is not None else None

    def _start_next(self, scene):
        self._job = GenerationJob(scene, self.shot_name, self._pending.pop(0), self.setup, self.takes_dir,
                                  self.bundle_dir)
        self.progress.start_run(self._job.progress)

    def tick(self):
        """Advance the running call; start the next run when it finished. False once all are over."""
        if not self.running:
            return False
        if self._job.tick():
            return True
        job = self._job
        self.strip_names += job.strip_names
        self.reports += job.reports[:-1]  # its warnings; the summary is this job's own
        scene = bpy.data.scenes.get(self.scene_name) if self.scene_name else None
        if job.progress.phase != "finished" or self._stopping or not self._pending or scene is None:
            phase = "cancelled" if job.progress.phase == "finished" and self._pending else job.progress.phase
            self._end(phase, job.progress.error, job.reports[-1] if job.reports else None)
            return False
        try:
            self._start_next(scene)
        except JOB_ERRORS as exc:
            self._end("failed", str(exc))
        return self.running

    def _end(self, phase, message=None, last_report=None):
        self.progress.start_run(None)
        self.progress.end(phase, message)
        made = len(self.progress.takes_done)
        if phase == "finished":
            self.reports.append(("INFO", f"{self.shot_name}: {made} picked take(s) in the sequencer (seeds "
                                         f"{', '.join(map(str, self.seeds))})"))
        elif phase == "cancelled":
            self.reports.append(("WARNING", f"{self.shot_name}: Make Takes cancelled; {made} finished take(s) kept"))
        else:
            self.reports.append(last_report or ("ERROR", f"{self.shot_name}: {message}"))

    def cancel(self):
        """Stop after the running call's cancel (its finished takes stay); no further run starts."""
        self._stopping = True
        if self._job is not None:
            self._job.cancel()

    def stop(self, timeout_s):
        self._stopping, self.scene_name = True, None
        self._job.stop(timeout_s)
        self.tick()

    def wait(self, poll_s=0.05, on_tick=None):
        while self.tick():
            if on_tick is not None:
                on_tick(self.progress)
            time.sleep(poll_s)
        return self.progress.phase


def picked_takes_job(scene, shot_name, prefs):
    """The Make Takes job for the shot's picked variations; UserError saying what to do when
    there are none or the variations' bundle is gone."""
    entry, sheet = shot_sheet(scene, shot_name)
    seeds = entry.picked_seeds()
    if not seeds:
        raise errors.UserError("no variation picked: tick the tiles you want as full takes, then Make Takes")
    missing = [seed for seed in seeds if sheet.tile(seed) is None]
    if missing:
        raise errors.UserError(f"the variations folder has no seed {missing[0]}: Make Variations again")
    if not sheet.bundle.is_dir():
        raise errors.UserError(f"the variations' bundle {sheet.bundle} is gone: Make Variations again")
    try:
        request = request_from_text(entry.request)
    except ValueError as exc:
        raise errors.UserError(f"the variations' request is damaged ({exc}): Make Variations again") from None
    requests = run_requests(request, seeds)
    return PickedTakesJob(scene, shot_name, requests, engine_setup(prefs), entry.takes_dir, sheet.bundle)
