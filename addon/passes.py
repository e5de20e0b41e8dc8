"""Blender render passes to the bundle's conventions (bpy-free, so tested without Blender)."""

import numpy as np


def linear_to_srgb8(rgb):
    """Scene-linear RGB to 8-bit sRGB (the clay pass is meant to be looked at)."""
    rgb = np.clip(np.nan_to_num(rgb), 0.0, 1.0)
    srgb = np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * np.power(rgb, 1 / 2.4) - 0.055)
    return np.rint(srgb * 255).astype(np.uint8)


def forward_flow(vector):
    """Blender's Vector pass as (H, W, 2) forward flow dx, dy in image pixels (y down).

    Z, W hold the motion towards the next frame, negated and with y up (checked by test)."""
    return np.stack([-vector[..., 2], vector[..., 3]], axis=-1).astype(np.float32)


def camera_space_normals(world_normals, w2c):
    """World-space normals rotated into OpenCV camera axes (x right, y down, z forward)."""
    rotation = np.asarray(w2c, np.float64)[:3, :3]
    return (world_normals.astype(np.float64) @ rotation.T).astype(np.float32)


def normal_preview(camera_normals):
    """8-bit normal map in the usual convention: x right = R, y up = G, towards the viewer = B."""
    preview = camera_normals * np.array([1.0, -1.0, -1.0])
    hit = np.any(camera_normals != 0, axis=-1, keepdims=True)
    return np.where(hit, np.rint((preview * 0.5 + 0.5) * 255), 0).astype(np.uint8)
