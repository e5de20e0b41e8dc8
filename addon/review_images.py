"""The objects control as a colour preview for review (bpy-free, numpy only).

The engine writes the objects control it fed the model as BUNDLE/controls/objects/NNNN.png:
16-bit object indices (0 = background, k = the bundle's k-th object), which any viewer,
Blender's sequencer included, shows as black. For review the add-on colours them here:
each index its own colour, the same in every frame and take, background black, written
once beside them as BUNDLE/controls/objects_colour/NNNN.png (temp file + rename; rewritten
only when the index image is newer). Colouring on the add-on side means takes made by any
engine version, on the farm or before this existed, review the same way.
"""

import colorsys
import os
import uuid
from pathlib import Path

import numpy as np

from ..engine.bundle import png

OBJECTS = "objects"
COLOUR_FOLDER = "objects_colour"
_GOLDEN = 0.618033988749895


def object_colour(index):
    """(r, g, b) 0-255 of object `index`: hues a golden-ratio step apart, so neighbouring
    indices never look alike; index 0 (background) is black."""
    if index == 0:
        return (0, 0, 0)
    hue = (index * _GOLDEN) % 1.0
    value = 1.0 if index % 2 else 0.8
    return tuple(round(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.75, value))


def colour_objects(indices):
    """(H, W, 3) uint8 colour preview of an (H, W) object-index image."""
    indices = np.asarray(indices)
    if indices.ndim == 3:
        indices = indices[:, :, 0]
    ids, inverse = np.unique(indices, return_inverse=True)
    palette = np.array([object_colour(int(i)) for i in ids], np.uint8)
    return palette[inverse.reshape(indices.shape)]


def _write_atomically(path, pixels):
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        png.write_png(temp, pixels)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def colour_frames(index_files):
    """The colour previews of `index_files` (BUNDLE/controls/objects/NNNN.png), written beside
    them in controls/objects_colour/ where missing or older; returns their paths in order.
    Raises OSError when the bundle cannot be written, ValueError for a damaged index image."""
    out = []
    for source in map(Path, index_files):
        target = source.parent.parent / COLOUR_FOLDER / source.name
        if not target.is_file() or target.stat().st_mtime_ns < source.stat().st_mtime_ns:
            target.parent.mkdir(exist_ok=True)
            _write_atomically(target, colour_objects(png.read_png(source)))
        out.append(target)
    return out


def review_files(kind, control_files):
    """The images a sequencer shows for control `kind`: the objects control coloured, the
    others (already 8-bit pictures) as they are."""
    return colour_frames(control_files) if kind == OBJECTS and control_files else list(control_files)
