"""sRGB <-> linear <-> CIELAB (D65) in numpy: the one colour space every look is judged in.

Albedos are named in sRGB (what artists type and pick), composed in linear light (what the
clay pass's shading multiplies) and compared in CIELAB, where ΔE76 is a plain distance.
"""

import numpy as np

_SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                         [0.2126729, 0.7151522, 0.0721750],
                         [0.0193339, 0.1191920, 0.9503041]])
_XYZ_TO_SRGB = np.linalg.inv(_SRGB_TO_XYZ)
_WHITE = _SRGB_TO_XYZ.sum(axis=1)    # D65 white of linear sRGB (1, 1, 1)
_EPSILON, _KAPPA = 216 / 24389, 24389 / 27


def srgb_to_linear(srgb):
    """sRGB in 0..1 (any shape ending in 3) -> linear RGB."""
    srgb = np.asarray(srgb, np.float64)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear):
    linear = np.clip(np.asarray(linear, np.float64), 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def linear_to_lab(linear):
    """Linear RGB (..., 3) -> CIELAB (..., 3), L in 0..100."""
    xyz = np.asarray(linear, np.float64) @ _SRGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > _EPSILON, np.cbrt(xyz), (_KAPPA * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def lab_to_linear(lab):
    lab = np.asarray(lab, np.float64)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    xyz = np.where(f ** 3 > _EPSILON, f ** 3, (116 * f - 16) / _KAPPA) * _WHITE
    return xyz @ _XYZ_TO_SRGB.T


def srgb8_to_lab(srgb8):
    return linear_to_lab(srgb_to_linear(np.asarray(srgb8, np.float64) / 255.0))


def lab_to_srgb8(lab):
    return np.clip(np.rint(linear_to_srgb(lab_to_linear(lab)) * 255), 0, 255).astype(np.uint8)


def hex_to_srgb8(text):
    return np.array([int(text[i:i + 2], 16) for i in (1, 3, 5)], np.uint8)


def srgb8_to_hex(rgb):
    return "#" + "".join(f"{int(v):02x}" for v in np.clip(np.rint(rgb), 0, 255))


def delta_e76(lab_a, lab_b):
    """CIE 1976 colour difference: the Euclidean distance in CIELAB (2.3 is about just noticeable)."""
    return np.linalg.norm(np.asarray(lab_a, np.float64) - np.asarray(lab_b, np.float64), axis=-1)
