"""Depth conventions: metric planar depth in, one shot-wide disparity control image out.

ControlNet depth models were trained on MiDaS-style inverse depth (near = bright).
Normalising each frame on its own makes the control video flicker, so the exporter
measures one near/far range over the whole shot and every frame uses it.
"""

import numpy as np

CONTROL_MAX = 65535
# Farthest hit maps to 1, not 0, so "far" and "nothing there" stay distinguishable.
CONTROL_FAR = 1


def hit_mask(depth, clip_end=None):
    """Pixels where the camera sees geometry (background carries inf or a huge value)."""
    mask = np.isfinite(depth) & (depth > 0)
    if clip_end is not None:
        mask &= depth <= clip_end
    return mask


def update_range(depth_range, depth, clip_end=None):
    """Fold one frame into a running (near, far) pair; returns the new pair."""
    hits = depth[hit_mask(depth, clip_end)]
    if hits.size == 0:
        return depth_range
    near, far = float(hits.min()), float(hits.max())
    if depth_range is None:
        return near, far
    return min(depth_range[0], near), max(depth_range[1], far)


def disparity_control(depth, near, far, clip_end=None):
    """uint16 control image: 1/depth mapped linearly so near = 65535, far = 1, no hit = 0."""
    out = np.zeros(depth.shape, np.uint16)
    hits = hit_mask(depth, clip_end)
    if not hits.any():
        return out
    inv_near, inv_far = 1.0 / near, 1.0 / far
    span = inv_near - inv_far
    if span <= 0:  # the whole shot sees one distance: everything is "near"
        out[hits] = CONTROL_MAX
        return out
    t = (1.0 / depth[hits].astype(np.float64) - inv_far) / span
    out[hits] = np.rint(CONTROL_FAR + np.clip(t, 0.0, 1.0) * (CONTROL_MAX - CONTROL_FAR)).astype(np.uint16)
    return out


def control_to_depth(control, near, far):
    """Inverse of disparity_control (metres; inf where there was no hit), for consumers and tests."""
    control = np.asarray(control, np.float64)
    t = (control - CONTROL_FAR) / (CONTROL_MAX - CONTROL_FAR)
    inv = 1.0 / far + t * (1.0 / near - 1.0 / far)
    with np.errstate(divide="ignore"):
        return np.where(control > 0, 1.0 / inv, np.inf)
