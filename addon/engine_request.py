"""The generate request the Generate panel asks for (bpy-free): the panel's settings and the
engine's backends report turned into the contract's GenerateRequest (engine.bundle.request),
whose `to_arguments` is the engine's command line.

The panel keeps "0: the backend's" for steps and long side, and "" for no reference image;
the request says None for each, so the engine reads one vocabulary whoever asks.
"""

from pathlib import Path

from ..engine.bundle.request import GenerateRequest
from .engine_report import control_weights


def generation_size(long_side, width, height):
    """(W, H) with the shot's aspect and `long_side` as its longer side; None for long_side 0
    (the backend's default size)."""
    if not long_side:
        return None
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def local_models(model_folder, backend):
    """{role: folder} for each MODEL_FOLDER/<backend>/<role>/ folder: local copies that replace
    the role's hub model. Empty when there is no such folder."""
    if not model_folder or not backend:
        return {}
    folder = Path(model_folder) / backend
    if not folder.is_dir():
        return {}
    return {child.name: str(child) for child in sorted(folder.iterdir())
            if child.is_dir() and not child.name.startswith(".")}


def shot_request(settings, report, backend, device, shot_size, models, reference, memory="auto",
                 continue_from=None):
    """The request for a shot from its Generate panel `settings` (prompt, negative_prompt, seed,
    takes, steps, long_side, weights(), depth_of_field and motion_blur, as scene.blockcast keeps
    them per shot): weights only for the controls `backend` lets the artist set
    (engine_report.control_weights), the size from the long side and the exported `shot_size`
    (W, H); the lens switches off only when their checkbox is cleared; `device` and `memory` as
    Preferences set them; `continue_from` the previous shot's accepted take folder (Continue From
    Previous Shot), or None."""
    return GenerateRequest(
        backend=backend, prompt=settings.prompt, negative_prompt=settings.negative_prompt, seed=settings.seed,
        takes=settings.takes, steps=settings.steps or None,
        controls=control_weights(settings.weights(), report, backend),
        size=generation_size(settings.long_side, *shot_size), device=device, memory=memory, models=models,
        reference=reference or None, depth_of_field="camera" if settings.depth_of_field else "off",
        motion_blur="scene" if settings.motion_blur else "off",
        continue_from=str(continue_from) if continue_from else None)


def lens_passes(request, camera_has_dof, scene_has_motion_blur):
    """The bundle passes the lens of `request` reads, so Generate exports them: depth for depth of
    field (when the request follows a camera that has it on), flow for motion blur (when it follows
    a scene that has it on)."""
    needed = []
    if request.depth_of_field == "camera" and camera_has_dof:
        needed.append("depth")
    if request.motion_blur == "scene" and scene_has_motion_blur:
        needed.append("flow")
    return needed
