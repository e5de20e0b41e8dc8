"""Motion blur along the bundle's exact forward optical flow, for the scene's shutter.

Why a reconstruction and not a plain gather: averaging each pixel along its own flow keeps a
moving object inside its silhouette (the background next to it does not move, so it never
samples the object). Here every output pixel asks, at each instant of the shutter, what was
in front of it: its own surface if that moves with it, or a neighbour arriving along the
fastest motion nearby (the tile maximum, as in McGuire et al. 2012), whichever is nearer the
camera; where neither is there (background the mover uncovers) the farther one fills in.

Conventions: flow/NNNN.npy is (dx, dy) in pixels, x right, y down, the motion of the surface
at each pixel to the next frame; motion is taken as linear over the shutter, which opens for
`length` frames centred on the frame, starting at it or ending at it (Render ▸ Motion Blur).
"""

import numpy as np


MAX_SAMPLES = 16
SAMPLE_SPACING_PX = 1.5  # the ordered dither fills in between
TILE_MIN_PX = 4
# A fixed 4×4 ordered dither of the sample instants turns banding into fine, stable grain.
_BAYER = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], np.float32) / 16 + 1 / 32


def _length2(vectors):
    return vectors[..., 0] ** 2 + vectors[..., 1] ** 2


def _neighbourhood_max(flow, length2, tile):
    """Per tile, the longest flow vector in it and the 8 tiles around it. Every other pixel
    of each row and column is looked at (tiles are 4 px or more, and flow is smooth within a
    surface), which is four times less work."""
    height, width = length2.shape
    th, tw = -(-height // tile), -(-width // tile)
    half = tile // 2
    # Max-pool one int64 key per pixel: quantised length in the high bits, pixel index in the low.
    keys = np.zeros((th * half, tw * half), np.int64)
    seen = length2[::2, ::2][:th * half, :tw * half]
    keys[:seen.shape[0], :seen.shape[1]] = (np.minimum(seen, 1e6) * 1024).astype(np.int64) << 32
    rows, cols = np.arange(seen.shape[0]) * 2, np.arange(seen.shape[1]) * 2
    keys[:seen.shape[0], :seen.shape[1]] |= rows[:, None] * width + cols[None, :]
    pooled = keys.reshape(th, half, tw, half).max(axis=3).max(axis=1)
    pooled = np.pad(pooled, 1)
    best = pooled[1:-1, 1:-1].copy()
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            np.maximum(best, pooled[dy:dy + th, dx:dx + tw], out=best)
    index = best & 0xFFFFFFFF
    return flow.reshape(-1, 2)[index], length2.ravel()[index]


def _fetch(colour, motion, width, height, xs, ys, velocity, instant, tolerance2):
    """The source a pixel sees back along `velocity` at `instant` (its colour and its depth,
    flow), and whether the source's own motion brings it to that pixel then."""
    x = np.clip(np.rint(xs - instant * velocity[:, 0]), 0, width - 1)
    y = np.clip(np.rint(ys - instant * velocity[:, 1]), 0, height - 1)
    index = y.astype(np.intp) * width + x.astype(np.intp)
    source = np.take(motion, index, axis=0)
    miss = (ys - y - instant * source[:, 2]) ** 2 + (xs - x - instant * source[:, 1]) ** 2
    return np.take(colour, index, axis=0), source, miss <= tolerance2


def motion_blur(image, flow, depth, shutter):
    """`image` (H, W, C) as the shutter sees it; `flow` (H, W, 2) px to the next frame, `depth` metres."""
    image = np.asarray(image, np.float32)
    flow = np.asarray(flow, np.float32)
    if not np.isfinite(flow).all():
        flow = np.nan_to_num(flow)
    height, width, channels = image.shape
    start, end = shutter.interval()
    span = end - start
    length2 = _length2(flow)
    longest = float(np.sqrt(length2.max())) if flow.size else 0.0
    if longest * span < 1.0:
        return image.copy()
    tile = 2 * max(TILE_MIN_PX // 2, int(np.ceil(longest * max(-start, end) / 2)))  # even
    fastest_in_tile, fastest_len2 = _neighbourhood_max(flow, length2, tile)
    # Only pixels with something nearby smeared a pixel or more change (nearest sampling shows
    # nothing of a shorter smear).
    moving_tiles = fastest_len2 * span * span >= 1.0
    if not moving_tiles.any():
        return image.copy()
    pixel_tiles = np.repeat(np.repeat(moving_tiles, tile, axis=0), tile, axis=1)[:height, :width]
    active = np.flatnonzero(pixel_tiles)
    depth = np.where(np.isfinite(depth) & (depth > 0), depth, np.float32(1e9)).astype(np.float32)
    colour = np.ascontiguousarray(image).reshape(-1, channels)
    motion = np.empty((height * width, 3), np.float32)  # depth, dx, dy: what a source is fetched with
    motion[:, 0], motion[:, 1:] = depth.ravel(), flow.reshape(-1, 2)
    rows = active // width
    fastest = fastest_in_tile[rows // tile, (active - rows * width) // tile]
    dither = np.tile(_BAYER, (-(-height // 4), -(-width // 4)))[:height, :width].reshape(-1)[active]
    # Samples at most SAMPLE_SPACING_PX apart along the longest motion a pixel sees, in powers of two.
    smear = np.sqrt(np.maximum(_length2(fastest), length2.ravel()[active])) * span / SAMPLE_SPACING_PX
    counts = np.minimum(MAX_SAMPLES, 2 ** np.ceil(np.log2(np.maximum(smear, 2.0)))).astype(np.int32)
    out = image.reshape(-1, channels).copy()
    for samples in np.unique(counts):
        group = np.flatnonzero(counts == samples)
        out[active[group]] = _reconstruct(colour, motion, width, height, active[group], fastest[group],
                                          dither[group], int(samples), start, span)
    return out.reshape(height, width, channels)


def _reconstruct(colour, motion, width, height, pixels, fastest, dither, samples, start, span):
    """Mean over the shutter's instants of what is in front of each of these pixels (flat indices)."""
    rows = pixels // width
    xs, ys = (pixels - rows * width).astype(np.float32), rows.astype(np.float32)
    here_colour, here = np.take(colour, pixels, axis=0), np.take(motion, pixels, axis=0)
    own_flow, here_depth = here[:, 1:], here[:, 0]
    # Where the fastest nearby motion is this pixel's own, looking along it again adds nothing.
    other = np.flatnonzero(_length2(fastest - own_flow) * span * span > 0.25)
    tolerance2 = np.maximum(1.0, _length2(fastest) * (span / samples) ** 2)
    total = np.zeros(here_colour.shape, np.float32)
    for i in range(samples):
        instant = start + (i + dither) / samples * span
        own_colour, own, own_arrives = _fetch(colour, motion, width, height, xs, ys, own_flow, instant, tolerance2)
        # Nothing arrives: background the mover uncovers; the farther of the two stands in for it.
        total += own_colour
        stay = np.flatnonzero(~own_arrives & (own[:, 0] < here_depth))
        total[stay] += here_colour[stay] - own_colour[stay]
        if other.size:
            seen_colour, seen, arrives = _fetch(colour, motion, width, height, xs[other], ys[other], fastest[other],
                                                instant[other], tolerance2[other])
            wins = arrives & (~own_arrives[other] | (seen[:, 0] < own[other, 0] * 0.99))
            won = other[wins]
            # Replace what was added for these pixels (their own source, or here) by the arrival.
            fallback = np.where((own_arrives[won] | (own[won, 0] >= here_depth[won]))[:, None],
                                own_colour[won], here_colour[won])
            total[won] += seen_colour[wins] - fallback
    return total / samples
