"""Opening a script's .blend and scene with errors that say what to do, and saving .blend
files the safe way: into a hidden temporary file, renamed into place."""

from pathlib import Path

import bpy

from .errors import UserError


def open_scene(blend=None, scene_name=None):
    """The scene a headless script works on: `scene_name` (default: the active scene) of
    `blend`, opened first when given (under `blender -b FILE -P ...` the file is already open)."""
    if blend:
        if not Path(blend).is_file():
            raise UserError(f"{blend} does not exist: pass the path of a .blend file")
        try:
            bpy.ops.wm.open_mainfile(filepath=str(Path(blend).resolve()), load_ui=False)
        except RuntimeError as exc:
            raise UserError(f"cannot open {blend}: {str(exc).strip()}") from None
    scene = bpy.data.scenes.get(scene_name) if scene_name else bpy.context.scene
    if scene is None:
        raise UserError(f"no scene named {scene_name!r}: the file has {', '.join(bpy.data.scenes.keys())}")
    return scene


def save_blend(path, **options):
    """Save the open file as `path` without ever leaving a half-written .blend there; the
    session keeps its own file path (a copy). `options` go to save_as_mainfile."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.partial.blend")
    bpy.ops.wm.save_as_mainfile(filepath=str(temp), copy=True, compress=False, **options)
    temp.replace(path)
