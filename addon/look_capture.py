"""A reference crop of an actor from a take (bpy-free): the take frame where the actor shows the
most pixels (the objects pass of the take's bundle), cut to their bounding box.

Used by Lock Look from Take, so later shots get the look this take gave the actor.
"""

import os
from pathlib import Path

import numpy as np

from ..engine.bundle import png

MARGIN = 0.1  # of the box's size, on every side


def _ids(bundle, object_names):
    names = bundle.object_names()
    return [index for index, name in enumerate(names, start=1) if name in object_names]


def best_frame(bundle, object_names):
    """(frame, pixel count, (x0, y0, x1, y1)) of the bundle frame with the most pixels of
    `object_names`, in the bundle's pixels (x1, y1 exclusive); None where they never show."""
    ids = _ids(bundle, object_names)
    if not ids or not bundle.has("objects"):
        return None
    best = None
    for frame in bundle.frames:
        mask = np.isin(bundle.object_index(frame), ids)
        count = int(mask.sum())
        if count and (best is None or count > best[1]):
            rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            best = (frame, count, (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1))
    return best


def _rgb(pixels):
    if pixels.ndim == 2:
        return np.repeat(pixels[:, :, None], 3, axis=2)
    return pixels[:, :, :3]


def reference_crop(take_dir, record, bundle, object_names):
    """The crop (H, W, 3) uint8 of the take's frame showing the actor most, or None when the actor
    never shows or the frame is gone."""
    found = best_frame(bundle, object_names)
    if found is None:
        return None
    frame, _, (x0, y0, x1, y1) = found
    path = Path(take_dir) / record.frames[bundle.frames.index(frame)]
    if not path.is_file():
        return None
    pixels = _rgb(png.read_png(path))
    sx, sy = pixels.shape[1] / bundle.width, pixels.shape[0] / bundle.height  # the take may be another size
    mx, my = MARGIN * (x1 - x0), MARGIN * (y1 - y0)
    left, top = max(0, int((x0 - mx) * sx)), max(0, int((y0 - my) * sy))
    right = min(pixels.shape[1], max(left + 1, int(np.ceil((x1 + mx) * sx))))
    bottom = min(pixels.shape[0], max(top + 1, int(np.ceil((y1 + my) * sy))))
    return np.ascontiguousarray(pixels[top:bottom, left:right])


def save_crop(pixels, path):
    """Write the crop as a PNG through a temporary file renamed into place; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        png.write_png(temp, pixels)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path
