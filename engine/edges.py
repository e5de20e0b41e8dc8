"""Edge maps made exactly from the scene, not by edge-detecting an image (bpy-free numpy).

LTX-2's canny IC-LoRA, VACE and Cosmos-Transfer take a Canny-style edge video: thin white
lines on black. Blockcast knows where the edges are: an edge lies between two neighbouring
pixels (left-right or up-down) that show different objects (silhouettes, an object against
the background too) or the same object at depths more than `relative_jump` apart (a surface
stepping behind itself). Each such pair marks ONE pixel, the nearer one (the occluding side;
the object's pixel against background), so lines are 1 pixel wide as Canny's are, and lie on
the object that casts the contour.
"""

import numpy as np

DEFAULT_RELATIVE_JUMP = 0.1  # neighbours more than 10 % apart in depth are a step, not a slope
EDGE = 255


def _pairs(depth, ids, relative_jump, axis):
    """(edge between pixel i and its next neighbour along `axis`, that neighbour is the nearer)."""
    first = [slice(None)] * 2
    second = [slice(None)] * 2
    first[axis], second[axis] = slice(None, -1), slice(1, None)
    d0, d1 = depth[tuple(first)], depth[tuple(second)]
    i0, i1 = ids[tuple(first)], ids[tuple(second)]
    hit0, hit1 = i0 != 0, i1 != 0
    near = np.where(hit0 & hit1, np.minimum(d0, d1), np.inf)
    with np.errstate(invalid="ignore"):
        step = hit0 & hit1 & (np.abs(d0 - d1) > relative_jump * near)
    edge = (i0 != i1) | step
    second_nearer = hit1 & (~hit0 | (d1 < d0))
    return edge, second_nearer, tuple(first), tuple(second)


def edge_map(depth, ids, relative_jump=DEFAULT_RELATIVE_JUMP):
    """uint8 (H, W): 255 on edges, 0 elsewhere. `depth` is metric planar depth (inf: no hit),
    `ids` the object index (0: background); both (H, W) at the same size."""
    depth = np.asarray(depth, np.float64)
    ids = np.asarray(ids)
    if depth.shape != ids.shape or depth.ndim != 2:
        raise ValueError(f"depth {depth.shape} and object ids {ids.shape} must be two (H, W) arrays of one size")
    ids = np.where(np.isfinite(depth) & (depth > 0), ids, 0)  # no depth hit: background, whatever the index says
    out = np.zeros(depth.shape, np.uint8)
    for axis in (0, 1):
        edge, second_nearer, first, second = _pairs(depth, ids, relative_jump, axis)
        out[first][edge & ~second_nearer] = EDGE
        out[second][edge & second_nearer] = EDGE
    return out
