"""A reference image's palette and grade: its dominant colours (k-means in CIELAB) and a
colour transfer of frames toward it (Reinhard et al. 2001: per-channel mean and spread in
Lab matched to the reference's). Deterministic: the same image gives the same palette.
"""

import numpy as np

from .colour_space import lab_to_srgb8, srgb8_to_lab

PALETTE_SIZE = 6
_SAMPLE_SIDE = 64            # the image is reduced to at most this many pixels a side first
_ITERATIONS = 12
_SPREAD_LIMITS = (0.4, 2.5)  # how far a channel's spread may be scaled by the transfer


def reduced_lab(image):
    """(N, 3) CIELAB pixels of a PIL image reduced to at most 64 px a side."""
    from PIL import Image

    small = image.convert("RGB")
    small.thumbnail((_SAMPLE_SIDE, _SAMPLE_SIDE), Image.BILINEAR)
    return srgb8_to_lab(np.asarray(small)).reshape(-1, 3)


def dominant_colours(image, count=PALETTE_SIZE):
    """[(sRGB uint8 (3,), share)] of the image's main colours, largest share first (k-means
    in CIELAB started from lightness quantiles, so no random start)."""
    lab = reduced_lab(image)
    order = np.argsort(lab[:, 0], kind="stable")
    centres = lab[order[((np.arange(count) + 0.5) / count * len(lab)).astype(int)]].copy()
    for _ in range(_ITERATIONS):
        nearest = np.argmin(((lab[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        for k in range(count):
            if np.any(nearest == k):
                centres[k] = lab[nearest == k].mean(axis=0)
    nearest = np.argmin(((lab[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    shares = np.bincount(nearest, minlength=count) / len(lab)
    ranked = [k for k in np.argsort(-shares, kind="stable") if shares[k] > 0]
    return [(lab_to_srgb8(centres[k]), float(shares[k])) for k in ranked]


def lab_statistics(image):
    lab = reduced_lab(image)
    return lab.mean(axis=0), lab.std(axis=0)


def take_statistics(frames8, stride=4):
    """Lab mean and spread of a take's frames (every `stride`-th pixel, frame by frame, so a
    long shot at full size never needs all its frames in Lab at once)."""
    total, squares, count = np.zeros(3), np.zeros(3), 0
    for frame in frames8:
        lab = srgb8_to_lab(frame[::stride, ::stride]).reshape(-1, 3)
        total, squares, count = total + lab.sum(axis=0), squares + (lab ** 2).sum(axis=0), count + len(lab)
    mean = total / max(count, 1)
    return mean, np.sqrt(np.maximum(squares / max(count, 1) - mean ** 2, 0))


def transfer(frame8, take_stats, target_stats):
    """One frame moved from the take's Lab mean and spread (take_statistics) to the
    reference's: the same transform for every frame, so the take does not flicker."""
    (mean, std), (target_mean, target_std) = take_stats, target_stats
    scale = np.clip(np.asarray(target_std) / np.maximum(std, 1e-6), *_SPREAD_LIMITS)
    return lab_to_srgb8((srgb8_to_lab(frame8) - mean) * scale + np.asarray(target_mean))
