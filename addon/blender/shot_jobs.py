"""The jobs the panels start: Generate a shot (export its passes, then the engine) and
Regenerate a take (its own bundle again, and the take it continued from, with a seed the shot
has not used). They decide where takes and bundles go (the scene's project folder, see
addon/take_folders.py), whether the shot's last passes can be reused, and what the request
says; `generation.GenerationJob` runs them. After either, `advance_seed` moves the shot's
Seed field past every seed used.
"""

from pathlib import Path

import bpy

from ...engine.bundle import camera as camera_math
from ...engine.bundle.take_record import read_take
from ..engine_report import CONTINUE_CHECKBOX, continue_problem, generation_backend, passes_to_export
from ..engine_request import lens_passes, local_models, shot_request
from ..scene_fingerprint import matching_bundle, write_fingerprint
from ..strip_layout import PREFIX
from ..take_folders import (BUNDLES, new_bundle_dir, project_id, seed_past, shot_takes_dir, take_folder_seeds,
                            unsaved_problem)
from ..ui.preferences import engine_report, engine_setup, model_folder, takes_root
from . import errors, sequencer
from .cast import scene_cast, shot_reference_file
from .background_export import export_steps
from .generation import GenerationJob
from .lens import camera_has_dof
from .scene_fingerprint import export_fingerprint
from .shots import scene_shots

PROJECT_PROPERTY = "blockcast_project"  # the scene's project id: its takes folder under the takes root
_SEED_FIELD_MAX = 2**31 - 1  # the Seed field is a Blender int property


def _export_size(scene, size):
    if size is not None:
        return size
    render = scene.render
    return camera_math.render_size(render.resolution_x, render.resolution_y, render.resolution_percentage)


def project_takes_root(scene, prefs):
    """(takes root, project id) for the scene's takes; the id is stored in the scene at its
    first Generate. An unsaved file without a Takes Folder is refused (UserError)."""
    root = takes_root(prefs)
    problem = unsaved_problem(bpy.data.filepath, prefs.takes_folder, root)
    if problem:
        raise errors.UserError(problem)
    stored = scene.get(PROJECT_PROPERTY)
    editor = sequencer.sequence_editor(scene) if stored is None else None
    strips = [s[PREFIX + "take_json"] for s in sequencer.all_strips(editor) if sequencer.is_take(s)] if editor else []
    project = project_id(root, stored, bpy.data.filepath, strips)
    if stored != project:
        scene[PROJECT_PROPERTY] = project
    return root, project


def used_seeds(scene, shot_name, takes_dir):
    """Every seed the shot's takes have used: its strips' and its take folders' (strips deleted
    from the sequencer still count, as their takes are on disk)."""
    seeds = set(take_folder_seeds(takes_dir))
    for strip in sequencer.shot_takes(scene, shot_name):
        try:
            seeds.add(int(strip.get(PREFIX + "seed", 0)))
        except (TypeError, ValueError):
            continue
    return seeds


def advance_seed(job):
    """After a Generate or Regenerate (made takes or not): the shot's Seed field moves past
    every seed its takes have used, so the next Generate never repeats a take. A seed typed
    beyond them all stays."""
    scene = bpy.data.scenes.get(job.scene_name) if job.scene_name else None
    if scene is None:
        return
    settings = scene.blockcast.shot_generation_settings(job.shot_name, create=True)
    advanced = seed_past(settings.seed, used_seeds(scene, job.shot_name, job.takes_dir))
    settings.seed = min(advanced, _SEED_FIELD_MAX)


class _Fingerprinted:
    """The export (background_export's steps, whose `note`, `in_background` and `close` the
    job reads through this), then its fingerprint stored in the finished bundle."""

    def __init__(self, export, bundle_dir, fingerprint):
        self._export, self._bundle_dir, self._fingerprint = export, bundle_dir, fingerprint

    def __getattr__(self, name):
        return getattr(self._export, name)

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._export)
        except StopIteration:
            if self._fingerprint is not None:
                write_fingerprint(self._bundle_dir, self._fingerprint)
            raise

    def close(self):
        self._export.close()


def _previous_shot(scene, shot_name):
    """The name of the shot before `shot_name` in the scene's order; None for the first shot."""
    names = [shot.name for shot in scene_shots(scene)]
    index = names.index(shot_name) if shot_name in names else 0
    return names[index - 1] if index > 0 else None


def _refuse_unless_backend_continues(report, backend):
    """UserError, in the panel's words, when the engine's report says `backend` cannot continue a take."""
    problem = continue_problem(report, backend)
    if problem:
        raise errors.UserError(problem)


def previous_accepted_take(scene, shot_name):
    """The take folder of the accepted take of the shot before `shot_name` (Continue From Previous
    Shot); UserError, in the panel's words, when there is no previous shot, it has no accepted take
    or that take's folder is gone."""
    previous = _previous_shot(scene, shot_name)
    if previous is None:
        raise errors.UserError(f"{CONTINUE_CHECKBOX}: {shot_name} is the first shot, nothing comes before "
                               "it: clear the checkbox")
    accepted = next((s for s in sequencer.shot_takes(scene, previous) if s.get(PREFIX + "accepted")), None)
    if accepted is None:
        raise errors.UserError(f"{CONTINUE_CHECKBOX}: {previous} has no accepted take yet: generate it "
                               "first, or clear the checkbox")
    take = Path(accepted[PREFIX + "take_json"]).parent
    if not take.is_dir():
        raise errors.UserError(f"{CONTINUE_CHECKBOX}: {previous}'s accepted take {take} is gone: Accept another "
                               f"take of {previous}, or untick {CONTINUE_CHECKBOX}")
    return take


def _repeated_seed_note(request, used):
    repeated = sorted(set(range(request.seed, request.seed + request.takes)) & used)
    if not repeated:
        return None
    seeds = ", ".join(map(str, repeated))
    return (f"seed {seeds} used before, as typed (the same look on these passes); the Seed field then moves "
            "past every used seed")


def shot_job(scene, shot, prefs, passes, size=None, make_job=GenerationJob):
    """A job exporting `shot` and generating it with its settings (`scene.blockcast`). It
    exports the chosen `passes` plus those the backend needs (the previz backend needs the
    shading, normal and objects passes, which the default pass choice leaves out) and those the
    take's lens reads (depth for depth of field, flow for motion blur). `make_job` (GenerationJob's
    arguments) lets Make Variations run the same export into its own job."""
    root, project = project_takes_root(scene, prefs)
    takes_dir = shot_takes_dir(root, project, shot.name)
    settings = scene.blockcast.shot_generation_settings(shot.name, create=True)
    setup = engine_setup(prefs)
    report = engine_report(setup)
    backend = generation_backend(settings.backend, prefs.default_backend, report)
    if settings.continue_previous:
        _refuse_unless_backend_continues(report, backend)
    continue_from = previous_accepted_take(scene, shot.name) if settings.continue_previous else None
    request = shot_request(settings, report, backend, prefs.device, _export_size(scene, size),
                           local_models(model_folder(prefs), backend), shot_reference_file(settings.reference_image),
                           memory=prefs.memory, continue_from=continue_from)
    cast, _ = scene_cast(scene)
    with_references = any(member.references for member in cast.members)
    exported = passes_to_export(passes, report, backend, with_references, request.controls)
    lens = lens_passes(request, camera_has_dof(shot.camera_name), scene.render.use_motion_blur)
    exported += [name for name in lens if name not in exported]
    notes = [note for note in [_repeated_seed_note(request, used_seeds(scene, shot.name, takes_dir))] if note]
    fingerprint = export_fingerprint(scene, shot, exported, _export_size(scene, size))
    reused = matching_bundle(takes_dir / BUNDLES, fingerprint) if fingerprint else None
    if reused is not None:
        job = make_job(scene, shot.name, request, setup, takes_dir, reused, None)
        notes.insert(0, f"passes unchanged: reusing {BUNDLES}/{reused.name}")
        job.progress.bundle_note = notes[0]  # the live status line says so too, not only the final report
        job.reports += [("INFO", f"{shot.name}: {note}") for note in notes]
        return job
    bundle_dir = new_bundle_dir(takes_dir)
    steps = export_steps(scene, shot, bundle_dir, exported, size)
    job = make_job(scene, shot.name, request, setup, takes_dir, bundle_dir,
                   _Fingerprinted(steps, bundle_dir, fingerprint))
    job.reports += [("INFO", f"{shot.name}: {note}") for note in notes]
    return job


def regenerate_job(scene, strip, prefs, make_job=GenerationJob):
    """A job making one more take like `strip`'s (same bundle, prompt, backend, models and
    parameters, and the take it continued from) with a seed none of the shot's takes used.
    `make_job` takes GenerationJob's arguments."""
    take_dir = Path(strip[PREFIX + "take_json"]).parent
    record = read_take(take_dir)
    shot = strip[PREFIX + "shot"]
    bundle = Path(record.bundle.path)
    if not bundle.is_dir():
        raise errors.UserError(f"the take's bundle {bundle} is gone: use Generate to export the shot again")
    seed = seed_past(0, used_seeds(scene, shot, take_dir.parent))
    request, setup = record.request(seed, prefs.device, take_dir), engine_setup(prefs)
    if request.continue_from:
        _refuse_unless_backend_continues(engine_report(setup), request.backend)
        _refuse_a_gone_take(scene, shot, record.take, Path(request.continue_from))
    return make_job(scene, shot, request, setup, take_dir.parent, bundle, None)


def _refuse_a_gone_take(scene, shot, take, continued):
    """UserError, in the panel's words, when the take `take` of `shot` continued from is gone."""
    if continued.is_dir():
        return
    previous = _previous_shot(scene, shot) or "the previous shot"
    raise errors.UserError(f"{CONTINUE_CHECKBOX}: {shot}'s take {take} continued from {continued}, which is gone: "
                           f"Accept a take of {previous} again and Generate, or untick {CONTINUE_CHECKBOX} and "
                           "Generate")
