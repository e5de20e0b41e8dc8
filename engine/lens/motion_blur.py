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
TILE_MIN_PX = 4
# A fixed 4×4 ordered dither of the sample instants turns banding into fine, stable grain.
_BAYER = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], np.float32) / 16 + 1 / 32


def _length2(vectors):
    return vectors[..., 0] ** 2 + vectors[..., 1] ** 2


def _neighbourhood_max(flow, tile):
    """Per pixel, the longest flow vector within about one tile around it."""
    height, width = flow.shape[:2]
    th, tw = -(-height // tile), -(-width // tile)
    padded = np.zeros((th * tile, tw * tile, 2), np.float32)
    padded[:height, :width] = flow
    tiles = padded.reshape(th, tile, tw, tile, 2).transpose(0, 2, 1, 3, 4).reshape(th, tw, tile * tile, 2)
    longest = np.argmax(tiles[..., 0] ** 2 + tiles[..., 1] ** 2, axis=-1)
    tile_max = np.take_along_axis(tiles, longest[..., None, None], axis=2)[:, :, 0]
    best = tile_max.copy()
    best_len = best[..., 0] ** 2 + best[..., 1] ** 2
    edge = np.pad(tile_max, ((1, 1), (1, 1), (0, 0)))
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            candidate = edge[dy:dy + th, dx:dx + tw]
            length = candidate[..., 0] ** 2 + candidate[..., 1] ** 2
            better = length > best_len
            best[better], best_len[better] = candidate[better], length[better]
    return np.repeat(np.repeat(best, tile, axis=0), tile, axis=1)[:height, :width]


def _fetch(packed, width, height, xs, ys, velocity, instant, tolerance2):
    """The source a pixel sees back along `velocity` at `instant`, and whether the source's
    own motion brings it to that pixel then."""
    x = np.clip(np.rint(xs - instant * velocity[:, 0]), 0, width - 1)
    y = np.clip(np.rint(ys - instant * velocity[:, 1]), 0, height - 1)
    source = np.take(packed, y.astype(np.intp) * width + x.astype(np.intp), axis=0)
    miss = (ys - y - instant * source[:, -1]) ** 2 + (xs - x - instant * source[:, -2]) ** 2
    return source, miss <= tolerance2


def motion_blur(image, flow, depth, shutter):
    """`image` (H, W, C) as the shutter sees it; `flow` (H, W, 2) px to the next frame, `depth` metres."""
    image = np.asarray(image, np.float32)
    flow = np.nan_to_num(np.asarray(flow, np.float32))
    height, width, channels = image.shape
    start, end = shutter.interval()
    span = end - start
    longest = float(np.sqrt(_length2(flow).max())) if flow.size else 0.0
    if longest * span < 0.5:
        return image.copy()
    samples = int(min(MAX_SAMPLES, max(2, np.ceil(longest * span))))
    neighbour = _neighbourhood_max(flow, max(TILE_MIN_PX, int(np.ceil(longest * max(-start, end))))).reshape(-1, 2)
    # Only pixels with something moving nearby by half a pixel or more change.
    active = np.flatnonzero(_length2(neighbour) * span * span >= 0.25)
    if not active.size:
        return image.copy()
    depth = np.where(np.isfinite(depth) & (depth > 0), depth, np.float32(1e9)).astype(np.float32)
    packed = np.concatenate([image, depth[..., None], flow], axis=-1).reshape(-1, channels + 3)
    everywhere = active.size == packed.shape[0]  # e.g. a camera move: no indexing needed
    xs, ys = (active % width).astype(np.float32), (active // width).astype(np.float32)
    here = packed if everywhere else np.take(packed, active, axis=0)
    own_flow, fastest = here[:, -2:], neighbour if everywhere else np.take(neighbour, active, axis=0)
    # Where the fastest nearby motion is this pixel's own, looking along it again adds nothing.
    other = np.flatnonzero(_length2(fastest - own_flow) * span * span > 0.25)
    tolerance2 = np.maximum(1.0, _length2(fastest) * (span / samples) ** 2)
    dither = np.tile(_BAYER, (-(-height // 4), -(-width // 4)))[:height, :width].reshape(-1)
    dither = dither if everywhere else dither[active]
    total = np.zeros((active.size, channels), np.float32)
    here_colour, here_depth = here[:, :channels], here[:, channels]
    for i in range(samples):
        instant = start + (i + dither) / samples * span
        own, own_arrives = _fetch(packed, width, height, xs, ys, own_flow, instant, tolerance2)
        # Nothing arrives: background the mover uncovers; the farther of the two stands in for it.
        total += own[:, :channels]
        stay = np.flatnonzero(~own_arrives & (own[:, channels] < here_depth))
        total[stay] += here_colour[stay] - own[stay, :channels]
        if other.size:
            seen, arrives = _fetch(packed, width, height, xs[other], ys[other], fastest[other], instant[other],
                                   tolerance2[other])
            wins = arrives & (~own_arrives[other] | (seen[:, channels] < own[other, channels] * 0.99))
            won = other[wins]
            # Replace what was added for these pixels (their own source, or here) by the arrival.
            fallback = np.where((own_arrives[won] | (own[won, channels] >= here_depth[won]))[:, None],
                                own[won, :channels], here_colour[won])
            total[won] += seen[wins, :channels] - fallback
    total /= samples
    if everywhere:
        return total.reshape(height, width, channels)
    out = image.reshape(-1, channels).copy()
    out[active] = total
    return out.reshape(height, width, channels)
