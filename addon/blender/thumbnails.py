"""Take thumbnails for the Takes panel, through one bpy.utils.previews collection.

A thumbnail is keyed by its image's path and modification time, so a take rewritten in
place shows its new first frame; the collection is freed when the add-on unregisters.
Headless Blender loads previews but draws none (icon ids may be 0), so tests check what
was loaded (`loaded_paths`) rather than pixels.
"""

import os

import bpy.utils.previews

_PREVIEWS = {"collection": None}


def _collection():
    if _PREVIEWS["collection"] is None:
        _PREVIEWS["collection"] = bpy.utils.previews.new()
    return _PREVIEWS["collection"]


def thumbnail_icon(path):
    """The icon id of the image at `path` (loaded once per version of the file); 0 when missing."""
    if not path:
        return 0
    try:
        key = f"{path}|{os.stat(path).st_mtime_ns}"
    except OSError:
        return 0
    previews = _collection()
    preview = previews.get(key) or previews.load(key, path, "IMAGE")
    return preview.icon_id


def loaded_paths():
    collection = _PREVIEWS["collection"]
    return sorted({key.rsplit("|", 1)[0] for key in collection.keys()}) if collection is not None else []


def free():
    if _PREVIEWS["collection"] is not None:
        bpy.utils.previews.remove(_PREVIEWS["collection"])
        _PREVIEWS["collection"] = None
