"""The jobs the panels start: Generate a shot (export its passes, then the engine) and
Regenerate a take (its own bundle again, with a seed the shot has not used). They decide
where takes and bundles go and what the request says; `generation.GenerationJob` runs them."""

from pathlib import Path

import bpy

from ...engine.bundle import camera as camera_math
from ...engine.bundle.take_record import read_take
from ..engine_report import generation_backend, passes_to_export
from ..engine_request import lens_passes, local_models, shot_request
from ..strip_layout import PREFIX, next_seed
from ..take_folders import new_bundle_dir, shot_takes_dir
from ..ui.preferences import engine_report, engine_setup, model_folder, takes_root
from . import errors, sequencer
from .cast import scene_cast, shot_reference_file
from .background_export import export_steps
from .generation import GenerationJob
from .lens import camera_has_dof


def _export_size(scene, size):
    if size is not None:
        return size
    render = scene.render
    return camera_math.render_size(render.resolution_x, render.resolution_y, render.resolution_percentage)


def shot_job(scene, shot, prefs, passes, size=None, make_job=GenerationJob):
    """A job exporting `shot` and generating it with its settings (`scene.blockcast`). It
    exports the chosen `passes` plus those the backend needs (the previz backend needs the
    shading, normal and objects passes, which the default pass choice leaves out) and those the
    take's lens reads (depth for depth of field, flow for motion blur). `make_job` (GenerationJob's
    arguments) lets Make Variations run the same export into its own job."""
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
    steps = export_steps(scene, shot, bundle_dir, exported, size)
    return make_job(scene, shot.name, request, setup, takes_dir, bundle_dir, steps)


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
