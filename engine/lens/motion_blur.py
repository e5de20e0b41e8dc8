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


def _neighbourhood_max(flow, tile):
    """Per pixel, the longest flow vector within about one tile around it."""
    height, width = flow.shape[:2]
    th, tw = -(-height // tile), -(-width // tile)
    padded = np.zeros((th * tile, tw * tile, 2), np.float32)
    padded[:height, :width] = flow
    tiles = padded.reshape(th, tile, tw, tile, 2).transpose(0, 2, 1, 3, 4).reshape(th, tw, tile * tile, 2)
    longest = np.argmax((tiles ** 2).sum(-1), axis=-1)
    tile_max = np.take_along_axis(tiles, longest[..., None, None], axis=2)[:, :, 0]
    best = tile_max.copy()
    best_len = (best ** 2).sum(-1)
    edge = np.pad(tile_max, ((1, 1), (1, 1), (0, 0)))
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            candidate = edge[dy:dy + th, dx:dx + tw]
            length = (candidate ** 2).sum(-1)
            better = length > best_len
            best[better], best_len[better] = candidate[better], length[better]
    return np.repeat(np.repeat(best, tile, axis=0), tile, axis=1)[:height, :width]


def motion_blur(image, flow, depth, shutter):
    """`image` (H, W, C) as the shutter sees it; `flow` (H, W, 2) px to the next frame, `depth` metres."""
    image = np.asarray(image, np.float32)
    flow = np.nan_to_num(np.asarray(flow, np.float32))
    height, width, channels = image.shape
    start, end = shutter.interval()
    reach = max(abs(start), abs(end))
    longest = float(np.sqrt((flow ** 2).sum(-1).max())) if flow.size else 0.0
    smear = longest * (end - start)
    if smear < 0.5:
        return image.copy()
    samples = int(min(MAX_SAMPLES, max(2, np.ceil(smear))))
    tile = max(TILE_MIN_PX, int(np.ceil(longest * reach)))
    neighbour = _neighbourhood_max(flow, tile)
    depth = np.where(np.isfinite(depth) & (depth > 0), depth, np.float32(1e9)).astype(np.float32)
    packed = np.concatenate([image, depth[..., None], flow], axis=-1).reshape(-1, channels + 3)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    dither = np.tile(_BAYER, (-(-height // 4), -(-width // 4)))[:height, :width]
    tolerance = np.maximum(1.0, np.sqrt((neighbour ** 2).sum(-1)) * (end - start) / samples)
    here = packed.reshape(height, width, -1)

    def fetch(velocity, instant):
        x = np.clip(np.rint(xs - instant * velocity[..., 0]), 0, width - 1).astype(np.intp)
        y = np.clip(np.rint(ys - instant * velocity[..., 1]), 0, height - 1).astype(np.intp)
        source = np.take(packed, y * width + x, axis=0)
        # Does the source's own motion bring it to this pixel at this instant?
        miss = (ys - y - instant * source[..., -1]) ** 2 + (xs - x - instant * source[..., -2]) ** 2
        return source, miss <= tolerance ** 2

    total = np.zeros_like(image)
    for i in range(samples):
        instant = start + (i + dither) / samples * (end - start)
        own, own_arrives = fetch(flow, instant)
        other, other_arrives = fetch(neighbour, instant)
        other_wins = other_arrives & (~own_arrives | (other[..., channels] < own[..., channels] * 0.99))
        # Neither arrives: background the mover uncovers; the farther of the two stands in for it.
        fill = np.where((own[..., channels] >= depth)[..., None], own, here)
        pick = np.where(other_wins[..., None], other, np.where(own_arrives[..., None], own, fill))
        total += pick[..., :channels]
    return total / samples
