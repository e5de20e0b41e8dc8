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


def _fetch(motion, width, height, xs, ys, vx, vy, instant, tolerance2):
    """The pixel a pixel sees back along (vx, vy) at `instant` (flat index), its depth, and
    whether its own motion brings it to that pixel then. `motion`: depth, dx, dy per pixel."""
    depth_at, dx_at, dy_at = motion
    x = xs - instant * vx
    np.clip(np.rint(x, out=x), 0, width - 1, out=x)
    y = ys - instant * vy
    np.clip(np.rint(y, out=y), 0, height - 1, out=y)
    index = (y * width + x).astype(np.intp)
    miss = (ys - y - instant * np.take(dy_at, index)) ** 2 + (xs - x - instant * np.take(dx_at, index)) ** 2
    return index, np.take(depth_at, index), miss <= tolerance2


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
    tile_rows, tile_cols = np.arange(height) // tile, np.arange(width) // tile
    everywhere = bool(moving_tiles.all())  # the camera moves: every pixel (no mask to search)
    if everywhere:
        active = np.arange(height * width, dtype=np.int32)
        rows = np.repeat(np.arange(height, dtype=np.int32), width)
        cols = np.tile(np.arange(width, dtype=np.int32), height)
    else:
        moving = np.repeat(np.repeat(moving_tiles, tile, axis=0), tile, axis=1)[:height, :width]
        active = np.flatnonzero(moving).astype(np.int32)
        rows, cols = np.divmod(active, np.int32(width))
    # The fastest nearby motion per pixel, as two planes (gathers of pairs are slow).
    in_tile = tile_rows[rows] * moving_tiles.shape[1] + tile_cols[cols]
    fastest = tuple(np.take(np.ascontiguousarray(fastest_in_tile[..., axis]).ravel(), in_tile) for axis in (0, 1))
    dither = np.take(_BAYER.ravel(), (rows & 3) * 4 + (cols & 3))
    # Pixel coordinates as floats (exact integers in float32 below 2^24 pixels).
    coordinate = np.float32 if height * width < 2 ** 24 else np.float64
    xs, ys = cols.astype(coordinate), rows.astype(coordinate)
    # What a source is fetched with, one plane each (gathers from planes are the fastest).
    depth = np.where(np.isfinite(depth) & (depth > 0), depth, np.float32(1e9)).astype(np.float32, copy=False).ravel()
    motion = (depth, np.ascontiguousarray(flow[..., 0]).ravel(), np.ascontiguousarray(flow[..., 1]).ravel())
    colour = image.reshape(-1, channels)
    # Samples at most SAMPLE_SPACING_PX apart along the longest motion a pixel sees, in powers of two.
    fastest_len2 = fastest[0] ** 2 + fastest[1] ** 2
    smear2 = np.maximum(fastest_len2, np.take(length2.ravel(), active)) * (span / SAMPLE_SPACING_PX) ** 2
    exponents = np.ones(active.size, np.int8)  # 2 samples at least, then 4 beyond 2 px apart...
    for exponent in range(1, int(np.log2(MAX_SAMPLES))):
        exponents += smear2 > 4.0 ** exponent
    out = np.empty_like(colour) if everywhere else colour.copy()
    present = np.flatnonzero(np.bincount(exponents))
    for exponent in present:
        group = slice(None) if len(present) == 1 else exponents == exponent
        out[active[group]] = _reconstruct(colour, motion, width, height, active[group], xs[group], ys[group],
                                          [plane[group] for plane in (*fastest, fastest_len2)], dither[group],
                                          2 ** int(exponent), start, span)
    return out.reshape(height, width, channels)


def _reconstruct(colour, motion, width, height, pixels, xs, ys, fastest, dither, samples, start, span):
    """Mean over the shutter's instants of what is in front of each of these pixels (flat indices);
    `fastest`: the fastest nearby motion's dx, dy and squared length per pixel."""
    here_depth, own_vx, own_vy = (np.take(plane, pixels) for plane in motion)
    fastest_vx, fastest_vy, fastest_len2 = fastest
    # Where the fastest nearby motion is this pixel's own, looking along it again adds nothing.
    other = np.flatnonzero(((fastest_vx - own_vx) ** 2 + (fastest_vy - own_vy) ** 2) * span * span > 0.25)
    tolerance2 = np.maximum(1.0, fastest_len2 * (span / samples) ** 2)
    other_xs, other_ys, other_dither, other_tolerance2 = xs[other], ys[other], dither[other], tolerance2[other]
    other_vx, other_vy = fastest_vx[other], fastest_vy[other]
    total = np.zeros((pixels.size, colour.shape[1]), np.float32)
    for i in range(samples):
        instant = start + (i + dither) / samples * span
        source, source_depth, arrives = _fetch(motion, width, height, xs, ys, own_vx, own_vy, instant, tolerance2)
        # Nothing arrives: background the mover uncovers; the farther of the two stands in for it.
        seen = np.where(arrives | (source_depth >= here_depth), source, pixels)
        if other.size:
            other_instant = start + (i + other_dither) / samples * span
            arrival, arrival_depth, arrived = _fetch(motion, width, height, other_xs, other_ys, other_vx, other_vy,
                                                     other_instant, other_tolerance2)
            wins = arrived & (~arrives[other] | (arrival_depth < source_depth[other] * 0.99))
            seen[other[wins]] = arrival[wins]
        total += np.take(colour, seen, axis=0)
    return total / samples
