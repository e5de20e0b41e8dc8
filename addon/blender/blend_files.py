"""Opening a script's .blend and scene with errors that say what to do, and saving .blend
files the safe way: the path checked before any work, the file written into a hidden
temporary file and renamed into place, the temporary file removed if anything fails."""

import os
import shutil
import tempfile
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


def check_save_path(path, source=None, overwrite=False):
    """Refuse, in one line, a --save path that save_blend could not write or must not replace:
    a folder, the input file `source`, an existing file without --overwrite or without write
    permission, a folder that cannot be created or written in. Headless scripts call this
    before any work, so a bad path never costs an export and a generation."""
    given, path = str(path), Path(path)
    if given.endswith(("/", os.sep)) or path.is_dir():
        raise UserError(f"--save {given} is a folder: give the .blend file to write, e.g. {path / 'takes.blend'}")
    if source and (path.resolve() == Path(source).resolve()
                   or path.exists() and os.path.exists(source) and os.path.samefile(path, source)):
        raise UserError(f"--save {given} is the input file, which is never overwritten: save elsewhere")
    if path.exists():
        if not path.is_file():
            raise UserError(f"--save {given} is not a regular file: give the path of a .blend file")
        if not overwrite:
            raise UserError(f"{given} exists: choose another path or pass --overwrite")
        if not path.stat().st_mode & 0o222:
            raise UserError(f"--save {given} is read-only: make it writable to replace it, or save elsewhere")
    folder = path.resolve().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"--save {given}: {folder} is a file, so no folder can be made there: save elsewhere")
    try:  # the one reliable test, for any user and file system (read-only mounts, /proc, ACLs)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".blockcast-probe-")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"--save {given}: cannot write in {folder} ({exc.strerror}): choose a writable folder") from None


def save_blend(path, **options):
    """Save the open file as `path` without ever leaving a half-written .blend there, or the
    temporary file beside it; the session keeps its own file path (a copy). `options` go to
    save_as_mainfile. A failure is a UserError naming the path."""
    path = Path(path).resolve()
    if path.is_dir():
        raise UserError(f"cannot save {path}: it is a folder")
    temp = path.with_name(f".{path.name}.partial.blend")
    created = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]  # deepest first
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        bpy.ops.wm.save_as_mainfile(filepath=str(temp), copy=True, compress=False, **options)
        temp.replace(path)
    except BaseException as exc:
        for leftover in (temp, temp.with_name(f"{temp.name}@")):  # ours, and Blender's own temporary file
            leftover.unlink(missing_ok=True)
        for folder in created:
            try:
                folder.rmdir()
            except OSError:
                break
        if not isinstance(exc, (OSError, RuntimeError)):
            raise
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).strip()
        raise UserError(f"cannot save {path} ({reason}; {_free_space(path)}): save elsewhere or free "
                        "some space") from None


def _free_space(path):
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    return f"{shutil.disk_usage(folder).free / 2**20:.1f} MiB free there"
