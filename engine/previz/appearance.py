"""Appearance on top of the blocking's own light: the numpy half of the previz model.

The clay pass already holds the shot's lighting (shadows, falloff, light colour) on a grey
material. What the blocking does not know is each object's material, so the model
predicts one colour ratio per object — linear beauty / linear clay — and a frame is
`clay x ratio[object]`. Tying colour to the objects pass keeps every object one coherent
colour, the same in every frame, at the shot's full resolution.

Ratios are encoded for the network as 2 * sqrt(ratio / RATIO_MAX) - 1, in [-1, 1]
(a gamma-like curve, so dark materials keep resolution).
"""

import numpy as np

RATIO_MAX = 2.5
BACKGROUND = 0  # object index of pixels that hit nothing: they keep the clay pass (the world)
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec. 709 weights of linear RGB
_DARK = 1e-3     # linear clay sum under which an object's ratio is unknown (kept at 1)


def srgb_to_linear(srgb8):
    values = np.asarray(srgb8, np.float32) / 255.0
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def linear_to_srgb8(linear):
    values = np.clip(np.asarray(linear, np.float32), 0.0, 1.0)
    srgb = np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)
    return np.clip(np.rint(srgb * 255.0), 0, 255).astype(np.uint8)


def encode_ratio(ratio):
    return 2.0 * np.sqrt(np.clip(ratio, 0.0, RATIO_MAX) / RATIO_MAX) - 1.0


def decode_ratio(encoded):
    return ((np.clip(encoded, -1.0, 1.0) + 1.0) / 2.0) ** 2 * RATIO_MAX


def object_edges(ids):
    """(..., H, W) bool: pixels whose right or lower neighbour is another object."""
    edges = np.zeros(ids.shape, bool)
    horizontal = ids[..., :, 1:] != ids[..., :, :-1]
    vertical = ids[..., 1:, :] != ids[..., :-1, :]
    edges[..., :, 1:] |= horizontal
    edges[..., :, :-1] |= horizontal
    edges[..., 1:, :] |= vertical
    edges[..., :-1, :] |= vertical
    return edges


def object_ratios(beauty8, clay8, ids):
    """{object id: (3,) ratio} over a whole clip: sum of linear beauty / sum of linear clay
    per channel over the object's pixels in every frame (a ratio of sums, so well-lit pixels
    count most and shadowed ones cannot blow up). Background and unlit objects get 1."""
    beauty, clay = srgb_to_linear(beauty8[..., :3]), srgb_to_linear(clay8[..., :3])
    ratios = {}
    for object_id in np.unique(ids):
        inside = ids == object_id
        clay_sum = clay[inside].sum(axis=0)
        if object_id == BACKGROUND or clay_sum.sum() < _DARK * inside.sum():
            ratios[int(object_id)] = np.ones(3, np.float32)
        else:
            ratios[int(object_id)] = np.clip(beauty[inside].sum(axis=0) / np.maximum(clay_sum, 1e-6), 0, RATIO_MAX)
    return ratios


def paint(ids, ratios):
    """(..., H, W, 3) float32 ratio image: each pixel gets its object's ratio (1 if unknown)."""
    table_size = int(max(ids.max(initial=0), max(ratios, default=0))) + 1
    table = np.ones((table_size, 3), np.float32)
    for object_id, ratio in ratios.items():
        table[object_id] = ratio
    return table[ids]


def pool_by_object(encoded, ids):
    """{object id: (3,) ratio}: the median of the model's encoded prediction over each
    object's pixels in all frames, decoded. encoded: (F, H, W, 3); ids: (F, H, W)."""
    ratios = {}
    for object_id in np.unique(ids):
        if object_id == BACKGROUND:
            continue
        ratios[int(object_id)] = decode_ratio(np.median(encoded[ids == object_id], axis=0)).astype(np.float32)
    return ratios


def calibrate(ratios, chroma_gain=1.0, luminance_gain=1.0, luminance_spread=1.0):
    """Each object's colour ratio pushed away from its grey (its luma, so hue changes leave
    brightness alone) by `chroma_gain`, its grey moved towards the shot's mean grey (`luminance_spread` 1 keeps it, 0 gives every object the
    shot's brightness), and all scaled by `luminance_gain`. See model.PrevizSampler.calibration."""
    greys = {object_id: float(np.dot(ratio, LUMA)) for object_id, ratio in ratios.items()}
    shot_grey = float(np.mean(list(greys.values()))) if greys else 1.0
    calibrated = {}
    for object_id, ratio in ratios.items():
        grey = greys[object_id]
        new_grey = shot_grey + luminance_spread * (grey - shot_grey)
        calibrated[object_id] = np.clip((new_grey + chroma_gain * (ratio - grey)) * luminance_gain, 0, RATIO_MAX)
    return calibrated


def compose(clay8, ids, ratios):
    """(F, H, W, 3) uint8 sRGB frames: the clay pass times each object's colour ratio."""
    return linear_to_srgb8(srgb_to_linear(clay8[..., :3]) * paint(ids, ratios))
