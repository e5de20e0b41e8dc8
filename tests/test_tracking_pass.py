"""The 3D tracking pass and the edges control on analytic scenes, in real bpy (nothing mocked):
a plane and a box moving by known amounts under a moving camera. Every hit pixel's first-frame
position must equal the analytic one (its ray meets the known surface at frame t; the same local
point at frame 1, projected by bpy_extras' world_to_camera_view), so a surface point keeps its
colour however it moves; edges lie on the projected silhouette and on a depth step."""

import json
import math
import shutil

import numpy as np
import pytest

from engine.bundle import read_bundle, validate_bundle
from engine.bundle.png import read_png
from engine.bundle.tracking import tracking_control
from engine.edges import edge_map

SIZE = (64, 36)
FRAMES = (1, 3)
BOX = {1: ((0.3, 0.0, 1.0), 0.0), 2: ((-0.1, 0.3, 1.05), 12.0), 3: ((-0.4, 0.5, 1.1), 25.0)}  # location, z°
PLANE = {1: (-1.1, -1.0, 1.3), 2: (-0.9, -1.0, 1.2), 3: (-0.7, -1.1, 1.1)}
CAMERA_X = {1: 0.0, 2: 0.15, 3: 0.3}


def _mesh_object(scene, name, vertices, faces):
    import bpy
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(vertices, [], faces)
    obj = bpy.data.objects.new(name, mesh)
    scene.collection.objects.link(obj)
    return obj


def _moving_scene(scene):
    """Camera 6 m back looking along +Y, sliding right; a unit box moving and turning; a plane
    (1.2 x 0.8 m, facing the camera, tilted 30° about x) sliding. Keys on every frame: exact values."""
    import bpy
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    camera.rotation_euler = (math.radians(90), 0, 0)
    scene.collection.objects.link(camera)
    scene.camera = camera
    scene.render.resolution_x, scene.render.resolution_y = SIZE
    scene.render.resolution_percentage = 100
    scene.frame_start, scene.frame_end = FRAMES
    corners = [(x, y, z) for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)]
    box = _mesh_object(scene, "Box", corners, [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6),
                                               (0, 2, 6, 4), (1, 5, 7, 3)])
    plane = _mesh_object(scene, "Plane", [(-0.6, 0, -0.4), (0.6, 0, -0.4), (0.6, 0, 0.4), (-0.6, 0, 0.4)],
                         [(0, 1, 2, 3)])
    plane.rotation_euler = (math.radians(30), 0, 0)
    for frame in range(FRAMES[0], FRAMES[1] + 1):
        camera.location = (CAMERA_X[frame], -6.0, 1.0)
        camera.keyframe_insert("location", frame=frame)
        box.location, box.rotation_euler = BOX[frame][0], (0, 0, math.radians(BOX[frame][1]))
        box.keyframe_insert("location", frame=frame)
        box.keyframe_insert("rotation_euler", frame=frame)
        plane.location = PLANE[frame]
        plane.keyframe_insert("location", frame=frame)
    return camera, {"Box": box, "Plane": plane}


def _local_hit(name, origin, direction):
    """Ray parameter and local point where a local-space ray meets the analytic surface (None: misses)."""
    if name == "Plane":  # the quad y = 0, |x| <= 0.6, |z| <= 0.4
        if abs(direction[1]) < 1e-12:
            return None
        t = -origin[1] / direction[1]
        point = origin + t * direction
        return (t, point) if t > 0 and abs(point[0]) <= 0.6 and abs(point[2]) <= 0.4 else None
    with np.errstate(divide="ignore", invalid="ignore"):  # slabs of the unit box
        near, far = (-0.5 - origin) / direction, (0.5 - origin) / direction
    t_in, t_out = np.max(np.minimum(near, far)), np.min(np.maximum(near, far))
    return (t_in, origin + t_in * direction) if 0 < t_in <= t_out else None


def _analytic_first_frame(scene, camera, objects, record, row, column):
    """(screen x, screen y down, depth) at frame 1 of the surface point the pixel's ray meets first
    at the scene's current frame, from the known transforms; None where the ray misses."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector
    w2c = np.array(record["w2c_opencv"])
    ray = np.array([(column - record["cx"]) / record["fx"], (row - record["cy"]) / record["fy"], 1.0])
    origin, direction = -w2c[:3, :3].T @ w2c[:3, 3], w2c[:3, :3].T @ ray
    hits = []
    for name, obj in objects.items():
        inverse = np.linalg.inv(np.array(obj.matrix_world))
        hit = _local_hit(name, inverse[:3, :3] @ origin + inverse[:3, 3], inverse[:3, :3] @ direction)
        if hit is not None:
            hits.append((hit[0], name, hit[1]))
    if not hits:
        return None
    _, name, local = min(hits, key=lambda h: h[0])
    frame = scene.frame_current
    scene.frame_set(FRAMES[0])
    view = world_to_camera_view(scene, camera, objects[name].matrix_world @ Vector(local))
    scene.frame_set(frame)
    return name, np.array([view.x, 1.0 - view.y, view.z])


@pytest.fixture(scope="module")
def tracked(blockcast, tmp_path_factory):
    """The moving scene exported once for the tests below: (its saved .blend, the bundle)."""
    import bpy

    from blockcast.addon.blender.export import export_shot
    from blockcast.addon.blender.shots import resolve_shot
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene, folder = bpy.context.scene, tmp_path_factory.mktemp("tracked")
    _moving_scene(scene)
    bpy.ops.wm.save_as_mainfile(filepath=str(folder / "moving.blend"))
    path = export_shot(scene, resolve_shot(scene), folder / "shot", "depth,camera,objects,tracking")
    return folder / "moving.blend", read_bundle(path)


def test_every_hit_pixel_carries_its_surface_points_analytic_first_frame_position(tracked):
    import bpy
    blend, bundle = tracked
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    scene = bpy.context.scene
    camera, objects = scene.camera, {name: bpy.data.objects[name] for name in ("Box", "Plane")}
    width, height = SIZE
    records = bundle.cameras()
    worst, worst_png, compared = 0.0, 0.0, 0
    for frame, record in zip(bundle.frames, records):
        scene.frame_set(frame)
        positions = bundle.tracking_first_frame(frame)
        control = bundle.tracking_control(frame) / 65535.0
        screen = np.stack([(positions[..., 0] + 0.5) / width, (positions[..., 1] + 0.5) / height,
                           positions[..., 2]], axis=-1)
        seen = set()
        for row, column in zip(*np.nonzero(np.isfinite(positions[..., 2]))):
            expected = _analytic_first_frame(scene, camera, objects, record, row, column)
            if expected is None:  # a silhouette pixel the rasteriser gave the surface, the ray not
                continue
            seen.add(expected[0])
            error = np.abs(screen[row, column] - expected[1])
            worst = max(worst, error[0], error[1], error[2] / expected[1][2])
            worst_png = max(worst_png, *np.abs(control[row, column, :2] - np.clip(expected[1][:2], 0, 1)))
            compared += 1
        assert seen == {"Box", "Plane"}
    assert compared > 0.2 * width * height * len(bundle.frames)
    print(f"tracking: {compared} pixels, worst error {worst:.2e} (.npy), {worst_png:.2e} (16-bit PNG)")
    assert worst_png < 1e-4, worst_png  # of the 0..1 range: the colour a surface point keeps in every frame
    assert worst < 1e-5, worst  # screen units (0..1) and relative depth: float32 storage, no estimate


def test_the_first_frame_is_its_own_gradient_and_colours_follow_the_format(tracked):
    _, bundle = tracked
    entry, first = bundle.passes["tracking"], bundle.frames[0]
    positions, depth = bundle.tracking_first_frame(first), bundle.depth(first)
    hit = np.isfinite(depth)
    assert np.array_equal(np.isfinite(positions[..., 2]), hit)
    rows, columns = np.nonzero(hit)
    assert np.abs(positions[rows, columns, 0] - columns).max() < 1e-3  # at frame 1 a pixel is where it was
    assert np.abs(positions[rows, columns, 1] - rows).max() < 1e-3
    assert np.allclose(positions[hit, 2], depth[hit], rtol=1e-5)  # the depth pass's own planar depth
    low, high = np.percentile(1.0 / depth[hit].astype(np.float64), [2, 98])
    assert entry.reference_frame == first and entry.untracked == []
    assert entry.inverse_depth_low == pytest.approx(low, rel=1e-5)
    assert entry.inverse_depth_high == pytest.approx(high, rel=1e-5)
    for frame in bundle.frames:
        control = bundle.tracking_control(frame)
        assert control.dtype == np.uint16 and control.shape == (SIZE[1], SIZE[0], 3)
        assert np.array_equal(control, tracking_control(bundle.tracking_first_frame(frame), entry.inverse_depth_low,
                                                        entry.inverse_depth_high))
        assert not control[~np.isfinite(bundle.depth(frame))].any()  # background 0


def test_the_tracking_pass_round_trips_and_a_1_4_bundle_still_reads(tracked, tmp_path):
    _, bundle = tracked
    assert validate_bundle(bundle.root) == []
    assert bundle.record.schema_version == "1.6"
    assert bundle.record.to_json() == bundle.manifest
    old = json.loads((bundle.root / "bundle.json").read_text(encoding="utf-8"))
    old["schema_version"] = "1.4"
    del old["passes"]["tracking"]
    folder = tmp_path / "as_1_4"
    folder.mkdir()
    for name in ("depth", "objects"):
        shutil.copytree(bundle.root / name, folder / name)
    for name in ("cameras.json", "camera_re10k.txt"):
        (folder / name).write_bytes((bundle.root / name).read_bytes())
    (folder / "bundle.json").write_text(json.dumps(old), encoding="utf-8")
    assert validate_bundle(folder) == [] and not read_bundle(folder).has("tracking")


def test_chunks_with_a_tracking_pass_are_not_merged(tracked, tmp_path):
    from engine.bundle import BundleError
    from engine.bundle.merge import merge_bundles
    _, bundle = tracked
    with pytest.raises(BundleError, match="fixed at each chunk's first frame.*in one task"):
        merge_bundles([bundle.root, bundle.root], tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def _surface_tree(scene):
    """A BVH of every mesh surface of `scene` at its current frame, in world space."""
    import bpy
    from mathutils.bvhtree import BVHTree
    depsgraph = bpy.context.evaluated_depsgraph_get()
    vertices, triangles = [], []
    for obj in scene.objects:
        if obj.type != "MESH":
            continue
        evaluated = obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        mesh.calc_loop_triangles()
        base = len(vertices)
        vertices += [tuple(evaluated.matrix_world @ v.co) for v in mesh.vertices]
        triangles += [tuple(base + i for i in tri.vertices) for tri in mesh.loop_triangles]
        evaluated.to_mesh_clear()
    return BVHTree.FromPolygons(vertices, triangles, all_triangles=True)


def test_an_armature_deformed_actor_is_tracked_on_its_own_first_frame_surface(glue, empty_scene, tmp_path):
    """Each pixel's first-frame point, unprojected from the pass, lies on the scene's frame-1 surface
    (the mannequin's arm swings 70° between frames 1 and 3, so its points come from elsewhere)."""
    from mathutils import Vector
    _moving_scene(empty_scene)
    rig = glue.actors.add_proxy_actor(empty_scene, "Ana", location=(0.9, 0.8, -0.3))
    bone = rig.pose.bones["upper_arm.R"]
    bone.rotation_mode = "XYZ"
    for frame, angle in ((1, 0), (2, 35), (3, 70)):
        bone.rotation_euler = (0, 0, math.radians(angle))
        bone.keyframe_insert("rotation_euler", frame=frame)
    bundle = read_bundle(glue.export.export_shot(empty_scene, glue.shots.resolve_shot(empty_scene), tmp_path / "b",
                                                 "depth,camera,tracking"))
    assert bundle.passes["tracking"].untracked == []
    reference = bundle.cameras()[0]
    K = np.array([[reference["fx"], 0, reference["cx"]], [0, reference["fy"], reference["cy"]], [0, 0, 1]])
    c2w = np.linalg.inv(np.array(reference["w2c_opencv"]))
    empty_scene.frame_set(1)
    tree = _surface_tree(empty_scene)
    positions = bundle.tracking_first_frame(3)
    hit = np.isfinite(positions[..., 2])
    x, y, z = (positions[hit][:, k].astype(np.float64) for k in range(3))
    camera_points = (np.stack([x, y, np.ones_like(x)], axis=-1) @ np.linalg.inv(K).T) * z[:, None]
    world = camera_points @ c2w[:3, :3].T + c2w[:3, 3]
    distances = [tree.find_nearest(Vector(point))[3] for point in world]
    print(f"armature: {len(distances)} pixels, farthest {max(distances):.2e} m from the frame-1 surface")
    assert len(distances) > 200 and max(distances) < 1e-4, max(distances)  # metres, from float32 storage


def test_edges_lie_on_the_projected_silhouette_and_on_a_depth_step(glue, empty_scene, tmp_path):
    """A card at 4 m and, in the same object, a card 2 m behind it: the near card's outline is
    an object edge where it meets background and a depth step where it covers the far card."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector
    _moving_scene(empty_scene)
    for obj in list(empty_scene.objects):
        if obj.type == "MESH":
            empty_scene.collection.objects.unlink(obj)
    near = [(-0.5, -2.0, 0.6), (0.5, -2.0, 0.6), (0.5, -2.0, 1.4), (-0.5, -2.0, 1.4)]
    far = [(x * 2.0, 0.0, z * 1.6 - 0.4) for x, _, z in near]
    _mesh_object(empty_scene, "Cards", near + far, [(0, 1, 2, 3), (4, 5, 6, 7)])
    empty_scene.frame_end = 1
    path = glue.export.export_shot(empty_scene, glue.shots.resolve_shot(empty_scene), tmp_path / "b", "depth,objects")
    bundle = read_bundle(path)
    depth, ids = bundle.depth(1), bundle.object_index(1)
    edges = edge_map(depth, ids)
    empty_scene.frame_set(1)
    width, height = SIZE

    def pixel_box(corners):
        points = [world_to_camera_view(empty_scene, empty_scene.camera, Vector(c)) for c in corners]
        xs, ys = [p.x * width for p in points], [(1 - p.y) * height for p in points]
        return min(xs), max(xs), min(ys), max(ys)

    left, right, top, bottom = pixel_box(near)
    rows, columns = np.nonzero(edges)
    x, y = columns + 0.5, rows + 0.5
    on_near = (x > left) & (x < right) & (y > top) & (y < bottom)
    distance = np.minimum.reduce([x - left, right - x, y - top, bottom - y])
    near_edges = on_near & (distance < 1.0)  # the near card's outline, inside it, within a pixel
    assert np.all(near_edges | ~on_near)
    assert np.allclose(depth[rows[on_near], columns[on_near]], depth[rows[on_near], columns[on_near]].min(), rtol=0.01)
    assert len(set(ids[ids > 0].tolist())) == 1  # one object: the near card's outline is a depth step
    f_left, f_right, f_top, f_bottom = pixel_box(far)
    far_edges = ~on_near
    far_distance = np.minimum.reduce([x - f_left, f_right - x, y - f_top, f_bottom - y])
    assert np.all(np.abs(far_distance[far_edges]) < 1.0)  # the far card's outline against background
    assert near_edges.sum() >= 2 * (right - left + bottom - top) - 8 and far_edges.any()


PANELS = r"""
import json, os, sys
sys.path[:0] = [sys.argv[1], os.path.join(sys.argv[1], "..", "scripts"), os.path.join(sys.argv[1], "..")]
from blockcast_import import import_blockcast
blockcast = import_blockcast()
import bpy
bpy.ops.wm.read_factory_settings(use_empty=True)
blockcast.register()
scene = bpy.context.scene
scene.camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
scene.collection.objects.link(scene.camera)
drawn = []

class Layout:  # records the properties a panel draws; each must exist on the real data
    active = enabled = True
    def __getattr__(self, name):
        if name in ("row", "column", "box", "split", "grid_flow"):
            return lambda *a, **k: Layout()
        raise AttributeError(name)
    def prop(self, data, name, **kwargs):
        assert name in data.bl_rna.properties, name
        drawn.append(name)
    def operator(self, *a, **k): return type("Properties", (), {})()
    def label(self, **k): pass

preferences = sys.modules["blockcast.addon.ui.preferences"]
report = {}
for backend, controls in (("ic", ["depth", "edges", "tracking"]), ("camera-path", ["camera"])):
    preferences.ENGINE_CHECK["report"] = {"backends": [
        {"name": backend, "default": True, "controls": controls, "passes": [], "models": [], "ignores": []}]}
    scene.blockcast.shot = scene.name
    scene.blockcast.shot_generation_settings(scene.name, create=True).use_custom_weights = True
    drawn.clear()
    bpy.types.BLOCKCAST_PT_generate.draw(type("Panel", (), {"layout": Layout()})(), bpy.context)
    report[backend] = sorted(name for name in drawn if name.startswith("weight_"))
drawn.clear()
bpy.types.BLOCKCAST_PT_shots.draw(type("Panel", (), {"layout": Layout()})(), bpy.context)
report["shots"] = [name for name in drawn if name.startswith("pass_")]
report["tooltip"] = scene.blockcast.bl_rna.properties["pass_tracking"].description
print("REPORT " + json.dumps(report), flush=True)
os._exit(0)  # bpy 4.2 as a module crashes on exit once the add-on was registered
"""


def test_the_panels_offer_the_tracking_pass_and_a_weight_for_each_control_the_backend_takes(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path
    script = tmp_path / "panels.py"
    script.write_text(PANELS)
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"))
    result = subprocess.run([sys.executable, str(script), str(Path(__file__).parent)], capture_output=True,
                            text=True, env=env, timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(lines[0][len("REPORT "):])
    assert report["ic"] == ["weight_depth", "weight_edges", "weight_tracking"]
    assert report["camera-path"] == ["weight_camera"]
    assert "pass_tracking" in report["shots"] and "first frame" in report["tooltip"]


def test_off_screen_and_behind_the_camera_clip_in_the_control_and_ranges_fall_back():
    from engine.bundle.tracking import inverse_depth_range, tracking_colours
    positions = np.full((1, 4, 3), np.nan, np.float32)
    positions[0, 0] = (-10.0, 2.0, 5.0)   # left of the frame at the first frame
    positions[0, 1] = (1.5, 9.0, -1.0)    # below it, and behind the camera
    positions[0, 2] = (3.5, 0.5, 2.0)     # the right edge pixel's centre, at 2 m
    colours = tracking_colours(positions, 0.25, 0.5, width=4, height=2)
    assert colours[0, 0].tolist() == [0.0, 1.0, 0.0]  # x < 0 clipped; 1/5 m is under low: B clipped to 0
    assert colours[0, 1].tolist() == [0.5, 1.0, 0.0]
    assert colours[0, 2].tolist() == [1.0, 0.5, 1.0]
    assert colours[0, 3].tolist() == [0.0, 0.0, 0.0]  # background
    assert inverse_depth_range(np.full((2, 2, 3), np.nan), 0.1, 100.0) == (0.01, 10.0)  # no hit: clip range
    wall = np.zeros((2, 2, 3))
    wall[..., 2] = 4.0
    assert inverse_depth_range(wall, 0.1, 100.0) == (0.125, 0.5)  # one depth: 1/4 halved and doubled


def test_an_object_whose_triangles_changed_or_that_was_not_there_is_untracked():
    from engine.bundle.tracking import paired_triangles
    one, two = np.ones((1, 3, 3)), np.ones((2, 3, 3))
    reference = {("Box",): ("Box", two), ("Blob",): ("Blob", one)}
    current = {("Box",): ("Box", two * 2), ("Blob",): ("Blob", two), ("New",): ("New", one)}
    triangles, before, paired, untracked = paired_triangles(reference, current)
    assert triangles.shape == before.shape == (5, 3, 3) and paired.tolist() == [True, True, False, False, False]
    assert np.array_equal(before[:2], two) and np.isnan(before[2:]).all() and untracked == {"Blob", "New"}
    assert paired_triangles(reference, {})[0].shape == (0, 3, 3)
