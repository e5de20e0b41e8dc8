"""What a take's looks measure as (numpy only, bpy-free; the tests and scripts/eval_cast.py use it).

- albedo: an object's material colour read back from a take as the median of
  take ÷ clay over its lit pixels, times the clay material's own albedo — the clay pass is
  the shot lit on a grey material of CLAY_ALBEDO (addon/blender/render.py CLAY_COLOR), so
  take ÷ clay is the material's albedo relative to the clay's;
- delta_e76: CIELAB distance (ΔE76);
- palette_distance: sliced Wasserstein-1 distance between two images' CIELAB pixel
  distributions (ΔE units: how far, on average, colours must move to turn one palette into
  the other); lab_histogram_distance: Hellinger distance of coarse Lab histograms (0..1).
"""

import numpy as np

from .colour_space import delta_e76, linear_to_lab, srgb8_to_lab, srgb_to_linear

CLAY_ALBEDO = 0.6           # linear Base Color of the clay material the shading pass uses
MIN_CLAY = 0.03             # linear clay luminance under which a pixel is too dark to read
_CLIPPED = 254              # 8-bit value at which a channel may have clipped
_DIRECTIONS = 16
_BINS = (8, 8, 8)
_RANGES = ((0, 100), (-100, 100), (-100, 100))

__all__ = ["CLAY_ALBEDO", "albedo_to_ratio", "ratio_to_albedo", "object_albedos", "delta_e76",
           "palette_distance", "lab_histogram_distance"]


def albedo_to_ratio(albedo_linear):
    """The colour ratio the composer multiplies the clay pass by, for a linear albedo."""
    return np.asarray(albedo_linear, np.float64) / CLAY_ALBEDO


def ratio_to_albedo(ratio):
    return np.asarray(ratio, np.float64) * CLAY_ALBEDO


def object_albedos(take8, clay8, ids, names=None, min_pixels=20):
    """{object (name if `names`, else id): CIELAB albedo (3,)} over all frames.
    take8, clay8: (F, H, W, 3) uint8 sRGB; ids: (F, H, W) objects-pass indices (0: none);
    names[k - 1] names index k. Pixels too dark to read, or clipped in either image, are
    left out; objects with fewer than `min_pixels` readable pixels are left out."""
    take8, clay8 = np.asarray(take8)[..., :3], np.asarray(clay8)[..., :3]
    take, clay = srgb_to_linear(take8 / 255.0), srgb_to_linear(clay8 / 255.0)
    readable = ((clay @ np.array([0.2126, 0.7152, 0.0722])) > MIN_CLAY) & (take8.max(-1) < _CLIPPED) \
        & (clay8.max(-1) < _CLIPPED) & (clay.min(-1) > 1e-4)
    albedos = {}
    for object_id in np.unique(ids):
        inside = (ids == object_id) & readable
        if object_id == 0 or inside.sum() < min_pixels:
            continue
        ratio = np.median(take[inside] / clay[inside], axis=0)
        key = names[object_id - 1] if names is not None and object_id <= len(names) else int(object_id)
        albedos[key] = linear_to_lab(ratio_to_albedo(ratio))
    return albedos


def _lab_pixels(image8, limit=20000):
    lab = srgb8_to_lab(np.asarray(image8)[..., :3]).reshape(-1, 3)
    step = max(1, len(lab) // limit)
    return lab[::step]


def _directions():
    rng = np.random.default_rng(0)      # fixed: the same distance every time
    vectors = np.concatenate([np.eye(3), rng.normal(size=(_DIRECTIONS - 3, 3))])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def palette_distance(image_a8, image_b8):
    """Sliced Wasserstein-1 distance (ΔE units) between the Lab colours of two images or takes
    ((..., 3) uint8 arrays of any sizes)."""
    a, b = _lab_pixels(image_a8), _lab_pixels(image_b8)
    quantiles = np.linspace(0, 1, 257)[1:-1]
    distances = [np.abs(np.quantile(a @ d, quantiles) - np.quantile(b @ d, quantiles)).mean() for d in _directions()]
    return float(np.mean(distances))


def lab_histogram_distance(image_a8, image_b8):
    """Hellinger distance (0 same, 1 disjoint) of 8x8x8-bin CIELAB histograms."""
    histograms = []
    for image in (image_a8, image_b8):
        counts, _ = np.histogramdd(_lab_pixels(image), bins=_BINS, range=_RANGES)
        histograms.append(counts.ravel() / max(counts.sum(), 1))
    return float(np.sqrt(max(0.0, 1 - np.sqrt(histograms[0] * histograms[1]).sum())))
