"""How well generated frames follow the blocking, measured against Blender's own render
(numpy only; scripts/eval_previz.py prints them, the tests use them).

- edge_f1: image edges (luminance gradient) against the control's depth-discontinuity
  edges, with a 1-pixel tolerance;
- ssim: structural similarity of luminance (7x7 box windows, as scikit-image's default);
- object_colour_variance: mean colour variance inside each object's mask;
- warp_error: mean colour change between consecutive frames along the exact optical flow.
Frames are uint8 sRGB (F, H, W, 3) unless said otherwise.
"""

import numpy as np

DEPTH_JUMP = 0.05       # relative disparity jump that makes a depth edge
GRADIENT_EDGE = 0.08    # luminance gradient (per pixel, 0..1 scale) that makes an image edge
TOLERANCE_PX = 1


def luminance(frames):
    rgb = np.asarray(frames, np.float32)[..., :3] / 255.0
    return rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32)


def _dilate(mask, radius):
    out = mask.copy()
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            out |= np.roll(np.roll(mask, dy, axis=-2), dx, axis=-1)
    return out


def depth_edges(depth):
    """(..., H, W) bool from metric depth (no hit: 0, negative or not finite)."""
    depth = np.asarray(depth, np.float64)
    disparity = np.where(np.isfinite(depth) & (depth > 0), 1.0 / np.where(depth > 0, depth, 1.0), 0.0)
    edges = np.zeros(disparity.shape, bool)
    for axis in (-1, -2):
        a = np.moveaxis(disparity, axis, -1)
        jump = np.abs(a[..., 1:] - a[..., :-1]) > DEPTH_JUMP * np.maximum(a[..., 1:], a[..., :-1])
        e = np.moveaxis(edges, axis, -1)
        e[..., 1:] |= jump
    return edges


def image_edges(frames):
    """(F, H, W) bool where the luminance changes by more than GRADIENT_EDGE to a neighbour."""
    lum = luminance(frames)
    edges = np.zeros(lum.shape, bool)
    edges[..., 1:] |= np.abs(np.diff(lum, axis=-1)) > GRADIENT_EDGE
    edges[..., 1:, :] |= np.abs(np.diff(lum, axis=-2)) > GRADIENT_EDGE
    return edges


def edge_f1(frames, depth):
    """F1 of the frames' edges against the depth edges, each matched within TOLERANCE_PX."""
    found, wanted = image_edges(frames), depth_edges(depth)
    if not wanted.any() or not found.any():
        return 0.0
    precision = (found & _dilate(wanted, TOLERANCE_PX)).sum() / found.sum()
    recall = (wanted & _dilate(found, TOLERANCE_PX)).sum() / wanted.sum()
    return float(2 * precision * recall / max(precision + recall, 1e-12))


def _box(values, size):
    """Mean over size x size windows (valid part only) of (F, H, W)."""
    padded = np.pad(np.cumsum(np.cumsum(values, axis=-1), axis=-2), ((0, 0), (1, 0), (1, 0)))
    total = (padded[:, size:, size:] - padded[:, :-size, size:] - padded[:, size:, :-size]
             + padded[:, :-size, :-size])
    return total / (size * size)


def ssim(frames_a, frames_b, size=7):
    """Mean SSIM of the luminance of two clips (data range 1)."""
    a, b = luminance(frames_a).astype(np.float64), luminance(frames_b).astype(np.float64)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mean_a, mean_b = _box(a, size), _box(b, size)
    n = size * size / (size * size - 1)  # sample (co)variances, as scikit-image
    var_a = (_box(a * a, size) - mean_a ** 2) * n
    var_b = (_box(b * b, size) - mean_b ** 2) * n
    cov = (_box(a * b, size) - mean_a * mean_b) * n
    index = ((2 * mean_a * mean_b + c1) * (2 * cov + c2)) / ((mean_a ** 2 + mean_b ** 2 + c1) * (var_a + var_b + c2))
    return float(index.mean())


def object_colour_variance(frames, ids, min_pixels=20):
    """Pixel-weighted mean, over every object in every frame, of the summed RGB variance
    (0..1 scale) inside the object's mask; background (id 0) left out."""
    rgb = np.asarray(frames, np.float32)[..., :3] / 255.0
    total, weight = 0.0, 0
    for frame_rgb, frame_ids in zip(rgb, ids):
        for object_id in np.unique(frame_ids):
            inside = frame_ids == object_id
            count = int(inside.sum())
            if object_id == 0 or count < min_pixels:
                continue
            total += frame_rgb[inside].var(axis=0).sum() * count
            weight += count
    return total / max(weight, 1)


def _bilinear(image, x, y):
    h, w = image.shape[:2]
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = np.clip(x0, 0, w - 1), np.clip(y0, 0, h - 1)
    x1, y1 = np.clip(x0 + 1, 0, w - 1), np.clip(y0 + 1, 0, h - 1)
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def warp_error(frames, flows):
    """Mean absolute RGB difference (0..1) between frame t and frame t+1 sampled where the
    forward flow of frame t says each pixel went; pixels that leave the frame are skipped."""
    rgb = np.asarray(frames, np.float32)[..., :3] / 255.0
    height, width = rgb.shape[1:3]
    cols, rows = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    errors = []
    for index in range(len(rgb) - 1):
        x, y = cols + flows[index][..., 0], rows + flows[index][..., 1]
        inside = (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
        moved = _bilinear(rgb[index + 1], x, y)
        errors.append(np.abs(moved - rgb[index]).mean(axis=-1)[inside])
    return float(np.concatenate(errors).mean()) if errors else 0.0
