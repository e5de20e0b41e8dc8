"""The 3D tracking pass's math (bpy-free numpy): each visible surface point, coloured by where it
was at the shot's first frame, exactly (Diffusion-as-Shader's tracking video, made from the scene
instead of estimated by a point tracker).

A pixel's ray (through its centre, where the depth render samples) hits a triangle of the scene
at frame t; the hit's barycentric coordinates on that triangle name the same surface point on
the same triangle at the reference frame, for rigid and armature-deformed meshes whose topology
stays the same. The reference camera projects that point: pixel x, y (OpenCV pixel-centre, as
cameras.json's cx, cy) and planar depth z, stored as they are (off-screen or behind the camera
too). The control image maps them as Diffusion-as-Shader does: R = screen x, G = screen y
downwards (1 - Blender's camera-view y), B = inverse depth between the reference frame's 2nd and
98th percentiles, each clipped to [0, 1]; background 0.
"""

import numpy as np

from .camera import intrinsics_matrix, project_points

CONTROL_MAX = 65535
LOW_PERCENTILE, HIGH_PERCENTILE = 2.0, 98.0


def _K(record):
    return intrinsics_matrix(record["fx"], record["fy"], record["cx"], record["cy"])


def pixel_rays(record, columns, rows):
    """World-space ray origin (3,) and unit directions (N, 3) through pixel centres (columns, rows)."""
    w2c = np.asarray(record["w2c_opencv"], np.float64)
    rotation = w2c[:3, :3]
    camera = np.stack([np.asarray(columns, np.float64), np.asarray(rows, np.float64),
                       np.ones(len(columns))], axis=-1) @ np.linalg.inv(_K(record)).T
    directions = camera @ rotation  # c2w rotation = w2c rotation transposed
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    return -rotation.T @ w2c[:3, 3], directions


def barycentrics(origin, directions, triangles):
    """(N, 3) barycentric weights of each ray's hit on its triangle ((N, 3, 3) world vertices),
    Möller-Trumbore in float64: the plane hit, whatever the rasteriser rounded."""
    a, b, c = (np.asarray(triangles, np.float64)[:, k] for k in range(3))
    edge1, edge2 = b - a, c - a
    p = np.cross(directions, edge2)
    det = np.einsum("ij,ij->i", edge1, p)
    det = np.where(np.abs(det) > 1e-300, det, 1e-300)
    s = origin - a
    u = np.einsum("ij,ij->i", s, p) / det
    v = np.einsum("ij,ij->i", directions, np.cross(s, edge1)) / det
    return np.stack([1.0 - u - v, u, v], axis=-1)


def paired_triangles(reference, current):
    """Frame t's triangles beside the reference frame's. Both map an object or instance key to
    (object name, (T, 3, 3) world triangles); a key pairs when its triangle count is unchanged.
    Returns (triangles (N, 3, 3), reference triangles (NaN where unpaired), paired (N,) bool,
    names of the unpaired objects)."""
    pieces, before, paired, untracked = [], [], [], set()
    for key, (name, triangles) in current.items():
        known = reference.get(key)
        same = known is not None and known[1].shape == triangles.shape
        if not same:
            untracked.add(name)
        pieces.append(triangles)
        before.append(known[1] if same else np.full(triangles.shape, np.nan))
        paired.append(np.full(len(triangles), same))
    if not pieces:
        return np.zeros((0, 3, 3)), np.zeros((0, 3, 3)), np.zeros(0, bool), untracked
    return np.concatenate(pieces), np.concatenate(before), np.concatenate(paired), untracked


def reference_points(weights, reference_triangles):
    """The surface points with `weights` (N, 3) on the same triangles at the reference frame."""
    return np.einsum("nk,nkj->nj", weights, np.asarray(reference_triangles, np.float64))


def first_frame_positions(record, reference_record, hit_rows, hit_columns, triangles, reference_triangles,
                          width, height):
    """(H, W, 3) float32 (x, y, z) at the reference frame for the hit pixels, NaN elsewhere.
    hit_rows/hit_columns: the pixels whose ray hit triangles[i] (frame t) = reference_triangles[i]."""
    out = np.full((height, width, 3), np.nan, np.float32)
    if len(hit_rows) == 0:
        return out
    origin, directions = pixel_rays(record, hit_columns, hit_rows)
    points = reference_points(barycentrics(origin, directions, triangles), reference_triangles)
    pixels, depth = project_points(points, _K(reference_record), np.asarray(reference_record["w2c_opencv"]))
    out[hit_rows, hit_columns] = np.concatenate([pixels, depth[:, None]], axis=-1)
    return out


def inverse_depth_range(reference_positions, clip_start, clip_end):
    """(low, high) 1/metres: the 2nd and 98th percentiles of the reference frame's inverse depth
    over its hits. With no hit, the camera's clip range; with one depth everywhere (a wall square
    to the camera), that inverse depth halved and doubled, so B is 1/3 there rather than undefined."""
    depth = reference_positions[..., 2]
    hits = depth[np.isfinite(depth) & (depth > 0)].astype(np.float64)
    if hits.size == 0:
        return 1.0 / clip_end, 1.0 / clip_start
    low, high = (float(v) for v in np.percentile(1.0 / hits, [LOW_PERCENTILE, HIGH_PERCENTILE]))
    if not high > low:
        return low / 2.0, high * 2.0
    return low, high


def tracking_colours(positions, low, high, width, height):
    """(H, W, 3) float64 in [0, 1]: R = screen x, G = screen y (down), B = normalised inverse
    depth, each clipped; background (NaN) 0. Pixel-edge screen coordinates: (x + 0.5) / W."""
    x, y, z = (positions[..., k].astype(np.float64) for k in range(3))
    hit = np.isfinite(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = np.where(z > 0, 1.0 / z, -np.inf)  # behind the camera: nearest-impossible, B = 0
        colours = np.stack([(x + 0.5) / width, (y + 0.5) / height, (inverse - low) / (high - low)], axis=-1)
    return np.where(hit[..., None], np.clip(colours, 0.0, 1.0), 0.0)


def tracking_control(positions, low, high):
    """The 16-bit RGB control image of `positions` (the pass's first-frame .npy)."""
    height, width = positions.shape[:2]
    return np.rint(tracking_colours(positions, low, high, width, height) * CONTROL_MAX).astype(np.uint16)
