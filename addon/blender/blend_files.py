"""Saving .blend files the safe way: into a hidden temporary file, renamed into place."""

from pathlib import Path

import bpy


def save_blend(path, **options):
    """Save the open file as `path` without ever leaving a half-written .blend there; the
    session keeps its own file path (a copy). `options` go to save_as_mainfile."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.partial.blend")
    bpy.ops.wm.save_as_mainfile(filepath=str(temp), copy=True, compress=False, **options)
    temp.replace(path)
