"""Measures that compare a lens effect with Blender's own render: SSIM and edge width.

SSIM as in Wang et al. 2004 (Gaussian window σ = 1.5, K1 = 0.01, K2 = 0.03), on values in
[0, 1]; edge width as the 10–90 % rise of a step profile, which for a disk of radius r is
`disk_edge_rise(r)` (a little under r).
"""

import numpy as np

SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _gaussian_filter(plane, sigma):
    half = int(np.ceil(3.5 * sigma))
    taps = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = plane
    for axis in (0, 1):
        out = np.apply_along_axis(lambda line: np.convolve(line, taps, mode="valid"), axis, out)
    return out


def ssim(first, second, data_range=1.0):
    """Mean SSIM of two (H, W) or (H, W, C) images (colour: the mean over channels)."""
    first = np.asarray(first, np.float64)
    second = np.asarray(second, np.float64)
    if first.ndim == 3:
        return float(np.mean([ssim(first[..., c], second[..., c], data_range) for c in range(first.shape[-1])]))
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mu1, mu2 = _gaussian_filter(first, SSIM_SIGMA), _gaussian_filter(second, SSIM_SIGMA)
    var1 = _gaussian_filter(first * first, SSIM_SIGMA) - mu1 * mu1
    var2 = _gaussian_filter(second * second, SSIM_SIGMA) - mu2 * mu2
    covar = _gaussian_filter(first * second, SSIM_SIGMA) - mu1 * mu2
    index = ((2 * mu1 * mu2 + c1) * (2 * covar + c2)) / ((mu1 * mu1 + mu2 * mu2 + c1) * (var1 + var2 + c2))
    return float(index.mean())


def edge_rise(profile):
    """Distance in pixels between the 10 % and 90 % crossings of a rising step profile."""
    profile = np.asarray(profile, np.float64)
    low, high = profile.min(), profile.max()
    if high - low <= 0:
        return 0.0
    level = (profile - low) / (high - low)
    level = np.maximum.accumulate(level)  # noise must not make the crossing ambiguous
    x = np.arange(len(level), dtype=np.float64)
    return float(np.interp(0.9, level, x) - np.interp(0.1, level, x))


def disk_edge_rise(radius):
    """10–90 % rise of a step blurred by a uniform disk of `radius` pixels."""
    if radius <= 0:
        return 0.0
    x = np.linspace(-radius, radius, 4001)
    cumulative = np.cumsum(np.sqrt(np.clip(radius * radius - x * x, 0.0, None)))
    cumulative /= cumulative[-1]
    return float(np.interp(0.9, cumulative, x) - np.interp(0.1, cumulative, x))
