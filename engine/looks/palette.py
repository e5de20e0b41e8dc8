"""A reference image's palette and grade: its dominant colours (k-means in CIELAB) and a
colour transfer of frames toward it. The transfer is Reinhard et al. 2001 (per-channel mean
and spread in Lab matched to the reference's) followed by a split tone taken from the
reference: each pixel's a*b* moves by how the reference's mean a*b* at the pixel's lightness
rank differs from the take's there, so the reference's shadows and highlights lend their
colours to the take's (a dusk picture's blue darks and orange lights) where a mean and a
spread cannot. Both are smooth functions of a pixel's colour, the same for every frame of
a take. Deterministic: the same image gives the same palette and grade.
"""

from dataclasses import dataclass

import numpy as np

from .colour_space import lab_to_srgb8, srgb8_to_lab

PALETTE_SIZE = 6
_SAMPLE_SIDE = 64            # the image is reduced to at most this many pixels a side first
_ITERATIONS = 12
_SPREAD_LIMITS = (0.4, 2.5)  # how far a channel's spread may be scaled by the transfer
_TONE_RANKS = np.linspace(0, 1, 9)   # lightness ranks (darkest 0 .. brightest 1) the split tone is set at
_TONE_WIDTH = 1 / 8          # rank width each tone's mean a*b* is taken over (Gaussian)
_L_BINS = 500                # L* histogram bins (0.2 L* each)
_L_SMOOTHING = 2.0           # L* (Gaussian) a pixel's rank is smoothed over, so an 8-bit step never jumps a tone


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


@dataclass
class LabStatistics:
    """What the transfer needs of an image or a take: Lab mean and spread, each L* bin's rank
    (0 darkest .. 1 brightest, smoothed over _L_SMOOTHING) and the mean a*b* at each of
    _TONE_RANKS."""
    mean: np.ndarray            # (3,)
    std: np.ndarray             # (3,)
    bin_ranks: np.ndarray       # (_L_BINS,) rank of each L* bin's centre
    tones: np.ndarray           # (len(_TONE_RANKS), 2) mean a*b* at each rank

    def rank(self, lightness):
        return np.interp(lightness, _BIN_CENTRES, self.bin_ranks)

    def tone(self, rank):
        """(..., 2) mean a*b* at the given ranks."""
        return np.stack([np.interp(rank, _TONE_RANKS, self.tones[:, c]) for c in range(2)], axis=-1)


_BIN_CENTRES = (np.arange(_L_BINS) + 0.5) * (100 / _L_BINS)


class _Accumulator:
    """Lab sums and an L* histogram with each bin's a*b* sums, added to chunk by chunk."""

    def __init__(self):
        self.sums, self.squares = np.zeros(3), np.zeros(3)
        self.counts, self.chroma = np.zeros(_L_BINS), np.zeros((_L_BINS, 2))

    def add(self, lab):
        lab = lab.reshape(-1, 3)
        self.sums += lab.sum(axis=0)
        self.squares += (lab ** 2).sum(axis=0)
        bins = np.clip((lab[:, 0] * (_L_BINS / 100)).astype(int), 0, _L_BINS - 1)
        self.counts += np.bincount(bins, minlength=_L_BINS)
        for channel in range(2):
            self.chroma[:, channel] += np.bincount(bins, lab[:, 1 + channel], minlength=_L_BINS)

    def statistics(self):
        total = max(self.counts.sum(), 1)
        mean = self.sums / total
        std = np.sqrt(np.maximum(self.squares / total - mean ** 2, 0))
        offsets = np.arange(-4 * _L_SMOOTHING, 4 * _L_SMOOTHING + 1e-9, 100 / _L_BINS)
        kernel = np.exp(-0.5 * (offsets / _L_SMOOTHING) ** 2)
        smoothed = np.convolve(self.counts, kernel / kernel.sum(), mode="same")
        bin_ranks = (np.cumsum(smoothed) - smoothed / 2) / max(smoothed.sum(), 1e-12)
        raw_ranks = (np.cumsum(self.counts) - self.counts / 2) / total
        weights = np.exp(-0.5 * ((raw_ranks[None] - _TONE_RANKS[:, None]) / _TONE_WIDTH) ** 2) * (self.counts > 0)
        tones = (weights @ self.chroma) / np.maximum(weights @ self.counts, 1e-12)[:, None]
        return LabStatistics(mean, std, bin_ranks, tones)


def lab_statistics(image):
    """LabStatistics of a reference image (reduced to at most 64 px a side)."""
    accumulator = _Accumulator()
    accumulator.add(reduced_lab(image))
    return accumulator.statistics()


def take_statistics(frames8, stride=4):
    """LabStatistics of a take's frames (every `stride`-th pixel, frame by frame, so a long
    shot at full size never needs all its frames in Lab at once)."""
    accumulator = _Accumulator()
    for frame in frames8:
        accumulator.add(srgb8_to_lab(frame[::stride, ::stride]))
    return accumulator.statistics()


def transfer(frame8, take_stats, target_stats):
    """One frame moved from the take's statistics (take_statistics) to the reference's: the
    mean and spread per Lab channel, then the split tone. The same transform for every
    frame, so the take does not flicker."""
    take, target = take_stats, target_stats
    lab = srgb8_to_lab(frame8)
    scale = np.clip(target.std / np.maximum(take.std, 1e-6), *_SPREAD_LIMITS)
    moved = (lab - take.mean) * scale + target.mean
    rank = take.rank(lab[..., 0])
    toned = (take.tone(rank) - take.mean[1:]) * scale[1:] + target.mean[1:]   # the take's tone once moved
    moved[..., 1:] += target.tone(rank) - toned
    return lab_to_srgb8(moved)
