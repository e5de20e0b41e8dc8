"""Gathers what the 3D tracking pass needs from Blender: every rendered triangle in world space,
and which triangle each depth-hit pixel's ray meets (engine/bundle/tracking.py does the math).

Triangles come from the render's own depsgraph (the one the depth pass renders), per object and
per instance, so each frame's triangles pair with the reference frame's by position in the same
evaluated mesh: exact for rigid and armature-deformed meshes. An object whose triangle count
changed (a modifier that remeshes), or that was not rendered at the reference frame, has no
reference surface: its pixels are left 0 and its name is listed in the pass's `untracked`.
"""

import numpy as np
from mathutils import Vector
from mathutils.bvhtree import BVHTree

from ...engine.bundle import depth as depth_math
from ...engine.bundle import tracking as tracking_math


def _instance_key(instance):
    obj = instance.object.original
    if instance.is_instance:
        return (instance.parent.original.name, obj.name, tuple(instance.persistent_id))
    return (obj.name,)


def scene_triangles(depsgraph):
    """{key: (object name, (T, 3, 3) float64 world-space triangles)} of every rendered mesh surface."""
    found = {}
    for instance in depsgraph.object_instances:
        obj = instance.object
        if obj.type not in {"MESH", "CURVE", "SURFACE", "META", "FONT"}:
            continue
        mesh = obj.to_mesh()
        try:
            if mesh is None or not len(mesh.polygons):
                continue
            mesh.calc_loop_triangles()
            corners = np.empty(len(mesh.loop_triangles) * 3, np.int64)
            mesh.loop_triangles.foreach_get("vertices", corners)
            local = np.empty(len(mesh.vertices) * 3, np.float64)
            mesh.vertices.foreach_get("co", local)
        finally:
            obj.to_mesh_clear()
        matrix = np.array(instance.matrix_world, np.float64)
        world = local.reshape(-1, 3) @ matrix[:3, :3].T + matrix[:3, 3]
        found[_instance_key(instance)] = (obj.original.name, world[corners].reshape(-1, 3, 3))
    return found


class TrackingReference:
    """The reference frame's triangles and camera, and the objects found untracked since."""

    def __init__(self, triangles, record, frame):
        self.triangles, self.record, self.frame, self.untracked = triangles, record, frame, set()
        self.inverse_depth = None  # (low, high), from the reference frame's own positions

    def manifest_fields(self):
        low, high = self.inverse_depth
        return dict(reference_frame=self.frame, inverse_depth_low=low, inverse_depth_high=high,
                    untracked=sorted(self.untracked))

    def positions(self, triangles, record, depth):
        """(H, W, 3) float32 reference-frame (x, y, z) of each depth-hit pixel at this frame."""
        height, width = depth.shape
        current, reference, paired, untracked = tracking_math.paired_triangles(self.triangles, triangles)
        self.untracked |= untracked
        rows, columns = np.nonzero(depth_math.hit_mask(depth))
        hit = _ray_hits(current, record, rows, columns) if len(current) and len(rows) else np.full(len(rows), -1)
        keep = hit >= 0
        keep[keep] = paired[hit[keep]]  # a pixel of an untracked object stays background
        return tracking_math.first_frame_positions(record, self.record, rows[keep], columns[keep],
                                                   current[hit[keep]], reference[hit[keep]], width, height)


def _ray_hits(triangles, record, rows, columns):
    """Index of the triangle each pixel-centre ray meets first (-1: none), via Blender's BVH."""
    tree = BVHTree.FromPolygons(triangles.reshape(-1, 3).tolist(),
                                np.arange(len(triangles) * 3).reshape(-1, 3).tolist(), all_triangles=True)
    origin, directions = tracking_math.pixel_rays(record, columns, rows)
    start = Vector(origin)
    found = np.full(len(rows), -1, np.int64)
    for n, direction in enumerate(directions.tolist()):
        index = tree.ray_cast(start, Vector(direction))[2]
        if index is not None:
            found[n] = index
    return found
