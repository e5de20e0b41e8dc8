"""Pass export on real Blender scenes (real bpy, nothing mocked)."""

import json
import math

import numpy as np
import pytest

from engine.bundle import read_bundle, validate_bundle
from engine.bundle import depth as depth_math
from engine.bundle.pose import BEHIND, COCO18_KEYPOINTS, OCCLUDED, OUTSIDE, VISIBLE

WIDTH, HEIGHT = 160, 90



def _camera(scene, location=(0, 0, 0), rotation=(0, 0, 0), lens=50):
    import bpy
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    camera.data.lens = lens
    camera.location, camera.rotation_euler = location, rotation
    scene.collection.objects.link(camera)
    scene.camera = camera
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = WIDTH, HEIGHT, 100
    scene.frame_start = scene.frame_end = 1
    return camera


def _plane(scene, z, size=200.0, name="Plane"):
    import bpy
    mesh = bpy.data.meshes.new(name)
    s = size / 2
    mesh.from_pydata([(-s, -s, z), (s, -s, z), (s, s, z), (-s, s, z)], [], [(0, 1, 2, 3)])
    obj = bpy.data.objects.new(name, mesh)
    scene.collection.objects.link(obj)
    return obj


def _export(glue, scene, out, passes="depth,pose,camera", **kwargs):
    shot = glue.shots.resolve_shot(scene)
    return glue.export.export_shot(scene, shot, out, passes, **kwargs)


def test_plane_at_known_distance_gives_exact_planar_depth(glue, empty_scene, tmp_path):
    _camera(empty_scene)
    _plane(empty_scene, -5.0)
    bundle = read_bundle(_export(glue, empty_scene, tmp_path / "b", "depth"))
    depth = bundle.depth(1)
    assert depth.shape == (HEIGHT, WIDTH) and depth.dtype == np.float32
    # Exact to the float32 depth buffer's precision (measured: 2.6e-6 relative at 5 m).
    assert np.abs(depth - 5.0).max() < 5.0 * 5e-6
    assert bundle.passes["depth"].near == pytest.approx(5.0, rel=5e-6)


def test_tilted_camera_depth_is_planar_not_ray_length(glue, empty_scene, tmp_path):
    camera = _camera(empty_scene, location=(0, 0, 0), rotation=(math.radians(25), 0, 0))
    _plane(empty_scene, -4.0)
    bundle = read_bundle(_export(glue, empty_scene, tmp_path / "b", "depth,camera"))
    record = bundle.cameras()[0]
    K = np.array([[record["fx"], 0, record["cx"]], [0, record["fy"], record["cy"]], [0, 0, 1]])
    c2w = np.linalg.inv(np.array(record["w2c_opencv"]))
    v, u = np.mgrid[0:HEIGHT, 0:WIDTH]
    rays = np.stack([u, v, np.ones_like(u)], -1).reshape(-1, 3) @ np.linalg.inv(K).T  # camera z = 1
    world_dirs = rays @ c2w[:3, :3].T
    expected = ((-4.0 - camera.location.z) / world_dirs[:, 2]).reshape(HEIGHT, WIDTH)
    depth = bundle.depth(1)
    hits = np.isfinite(depth)
    assert hits.mean() > 0.3
    assert np.abs(depth[hits] - expected[hits]).max() < 1e-3
    assert np.all(expected[~hits] <= 0) or np.all(~np.isfinite(depth[~hits]))


def test_moving_shot_uses_one_depth_range_for_every_frame(glue, empty_scene, tmp_path):
    camera = _camera(empty_scene)
    _plane(empty_scene, -5.0)
    _plane(empty_scene, -3.0, size=1.0, name="Near card")
    empty_scene.frame_end = 4
    for frame, z in ((1, 0.0), (4, 1.5)):
        camera.location.z = z
        camera.keyframe_insert("location", frame=frame)
    bundle = read_bundle(_export(glue, empty_scene, tmp_path / "b", "depth"))
    depth_pass = bundle.passes["depth"]
    depths = [bundle.depth(frame) for frame in bundle.frames]
    hits = np.concatenate([d[np.isfinite(d)] for d in depths])
    assert depth_pass.near == pytest.approx(hits.min()) and depth_pass.far == pytest.approx(hits.max())
    assert depth_pass.near < 3.1 and depth_pass.far > 6.4  # the card seen at 3 m, the floor at 6.5 m
    for frame, depth in zip(bundle.frames, depths):
        expected = depth_math.disparity_control(depth, depth_pass.near, depth_pass.far)
        assert np.array_equal(bundle.depth_control(frame), expected)
    # The floor recedes as the camera rises: the same floor must get darker, not re-normalise to white.
    centre = (HEIGHT - 1, 0)
    assert bundle.depth_control(1)[centre] > bundle.depth_control(4)[centre]


def _actor_scene(glue, scene):
    """A mannequin 4 m in front of a camera looking along +Y."""
    _camera(scene, location=(0, -4, 1.0), rotation=(math.radians(90), 0, 0), lens=35)
    _plane(scene, 0.0)
    return glue.actors.add_proxy_actor(scene, "Ana", "a dancer in a yellow dress")


def test_pose_keypoints_are_projected_joints(glue, empty_scene, tmp_path):
    import bpy
    from bpy_extras.object_utils import world_to_camera_view

    actor = _actor_scene(glue, empty_scene)
    bundle = read_bundle(_export(glue, empty_scene, tmp_path / "b"))
    document = bundle.openpose(1)
    assert set(document) >= {"version", "people", "canvas_width", "canvas_height"}
    assert (document["canvas_width"], document["canvas_height"]) == (WIDTH, HEIGHT)
    (person,) = document["people"]
    keypoints = np.array(person["pose_keypoints_2d"]).reshape(18, 3)
    joints = glue.actors.actor_joints_world(actor, bpy.context.evaluated_depsgraph_get())
    from mathutils import Vector
    for index, joint in enumerate(joints):
        ndc = world_to_camera_view(empty_scene, empty_scene.camera, Vector(joint))
        expected = (ndc.x * WIDTH - 0.5, (1 - ndc.y) * HEIGHT - 0.5)
        assert keypoints[index, 2] == 1.0, COCO18_KEYPOINTS[index]
        assert keypoints[index, :2] == pytest.approx(expected, abs=1e-3)
    assert bundle.actors[0].description == "a dancer in a yellow dress"
    assert bundle.actors[0].bone_map["preset"] == "mannequin"
    joint_frame = bundle.joints()["frames"][0]["actors"][0]
    assert np.allclose(joint_frame["world"], joints)
    assert joint_frame["state"] == [VISIBLE] * 18


def test_a_centimetre_scene_keeps_joints_inside_the_body_visible(glue, empty_scene, tmp_path):
    """The occlusion margin is 0.2 m whatever the Unit Scale: the same mannequin in a scene at Unit
    Scale 0.01 with every length x100 keeps every joint visible (at 0.2 units, 2 mm, a joint a few
    centimetres inside its own mesh would read as occluded)."""
    _actor_scene(glue, empty_scene)
    empty_scene.unit_settings.scale_length = 0.01
    for obj in empty_scene.objects:
        if obj.parent is None:
            obj.location, obj.scale = obj.location * 100, obj.scale * 100
    empty_scene.camera.data.clip_end = 10000.0
    bundle = read_bundle(_export(glue, empty_scene, tmp_path / "b"))
    assert bundle.record.metres_per_unit == 0.01
    assert bundle.joints()["frames"][0]["actors"][0]["state"] == [VISIBLE] * 18


def test_pose_flags_occluded_outside_and_behind(glue, empty_scene, tmp_path):
    import bpy
    actor = _actor_scene(glue, empty_scene)
    wall = bpy.data.objects.new("Low wall", bpy.data.meshes.new("Low wall"))
    wall.data.from_pydata([(-3, -2, 0), (3, -2, 0), (3, -2, 0.9), (-3, -2, 0.9)], [], [(0, 1, 2, 3)])
    empty_scene.collection.objects.link(wall)
    aside = glue.actors.add_proxy_actor(empty_scene, "Bo", location=(30, 0, 0))
    behind = glue.actors.add_proxy_actor(empty_scene, "Cy", location=(0, -10, 0))
    assert [a.name for a in glue.actors.scene_actors(empty_scene)] == [actor.name, aside.name, behind.name]
    bundle = read_bundle(_export(glue, empty_scene, tmp_path / "b"))
    states = {a["name"]: a["state"] for a in bundle.joints()["frames"][0]["actors"]}
    kp = {name: i for i, name in enumerate(COCO18_KEYPOINTS)}
    assert states["Ana"][kp["left_ankle"]] == OCCLUDED and states["Ana"][kp["right_knee"]] == OCCLUDED
    assert states["Ana"][kp["nose"]] == VISIBLE and states["Ana"][kp["neck"]] == VISIBLE
    assert set(states["Bo"]) == {OUTSIDE} and set(states["Cy"]) == {BEHIND}
    people = bundle.openpose(1)["people"]
    ana, bo, cy = (np.array(p["pose_keypoints_2d"]).reshape(18, 3) for p in people)
    assert ana[kp["left_ankle"], 2] == 0.5 and 0 < ana[kp["left_ankle"], 2] < ana[kp["nose"], 2]
    assert not bo.any() and not cy.any()


def test_shot_without_actors_gets_empty_openpose_files(glue, empty_scene, tmp_path):
    _camera(empty_scene)
    _plane(empty_scene, -5.0)
    empty_scene.frame_end = 2
    bundle = read_bundle(_export(glue, empty_scene, tmp_path / "b"))
    for frame in (1, 2):
        assert bundle.openpose(frame)["people"] == []
    assert validate_bundle(bundle.root) == []


def test_exporting_twice_gives_identical_files(glue, empty_scene, tmp_path):
    actor = _actor_scene(glue, empty_scene)
    empty_scene.frame_end = 3
    actor.location.x = -0.5
    actor.keyframe_insert("location", frame=1)
    actor.location.x = 0.5
    actor.keyframe_insert("location", frame=3)
    passes = "depth,pose,camera,shading,normal,flow,mask,objects"
    first = _export(glue, empty_scene, tmp_path / "one", passes)
    second = _export(glue, empty_scene, tmp_path / "two", passes)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert len(files) > 20
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative
    assert validate_bundle(first) == []


def test_cycles_passes_shading_normals_mask_and_flow(glue, empty_scene, tmp_path):
    import bpy
    actor = _actor_scene(glue, empty_scene)
    light = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    empty_scene.collection.objects.link(light)
    empty_scene.frame_end = 2
    actor.keyframe_insert("location", frame=1)
    actor.location.x, actor.location.z = 0.3, 0.2  # moves right and up in the image by frame 2
    actor.keyframe_insert("location", frame=2)
    bundle = read_bundle(_export(glue, empty_scene, tmp_path / "b", "depth,shading,normal,flow,mask,objects"))
    mask = bundle.actor_mask(1)
    assert set(np.unique(mask)) == {0, 1}
    objects = bundle.object_index(1)
    names = bundle.passes["objects"].objects
    assert objects.dtype == np.uint16 and names == sorted(names) and "Plane" in names
    body = names.index(glue.actors.actor_meshes(actor, empty_scene)[0].name) + 1
    assert np.array_equal(objects == body, mask == 1)  # the mask is the actor's objects
    assert set(np.unique(objects)) == {0, names.index("Plane") + 1, body}  # sky, floor and body
    depth = bundle.depth(1)
    floor_pixel = (HEIGHT - 2, 2)
    assert mask[floor_pixel] == 0 and np.isfinite(depth[floor_pixel])
    normals = bundle.normal(1).astype(np.float32)
    assert normals[floor_pixel] == pytest.approx([0, -1, 0], abs=0.05)  # floor faces up: -y in OpenCV axes
    flow = bundle.flow(1)
    assert flow.shape == (HEIGHT, WIDTH, 2)
    fx = bundle.cameras()[0]["fx"] if bundle.has("camera") else WIDTH * 35 / 36
    assert np.median(flow[mask == 1, 0]) == pytest.approx(0.3 / 4 * fx, rel=0.15)  # right: +dx
    assert np.median(flow[mask == 1, 1]) == pytest.approx(-0.2 / 4 * fx, rel=0.15)  # up: -dy
    # Static floor, static camera: no motion beyond the actor's anti-aliased outline.
    near_actor = mask > 0
    for _ in range(2):
        near_actor = near_actor | np.roll(near_actor, 1, 0) | np.roll(near_actor, -1, 0)
        near_actor = near_actor | np.roll(near_actor, 1, 1) | np.roll(near_actor, -1, 1)
    assert np.abs(flow[~near_actor]).max() < 1e-3
    shading = bundle.shading(1)
    assert shading.shape == (HEIGHT, WIDTH, 3) and shading.dtype == np.uint8 and shading.std() > 5


def test_export_leaves_the_user_scene_untouched(glue, empty_scene, tmp_path):
    import bpy
    actor = _actor_scene(glue, empty_scene)
    render = empty_scene.render
    before = (render.engine, render.filepath, render.resolution_x, empty_scene.frame_current,
              render.image_settings.file_format, len(bpy.data.scenes), len(bpy.data.materials),
              actor.pass_index, empty_scene.view_layers[0].material_override)
    empty_scene.frame_end = 2
    _export(glue, empty_scene, tmp_path / "b", "depth,pose,shading,mask", resolution=(64, 36))
    after = (render.engine, render.filepath, render.resolution_x, empty_scene.frame_current,
             render.image_settings.file_format, len(bpy.data.scenes), len(bpy.data.materials),
             actor.pass_index, empty_scene.view_layers[0].material_override)
    assert before == after


def test_cancel_leaves_nothing_behind(glue, empty_scene, tmp_path):
    _actor_scene(glue, empty_scene)
    empty_scene.frame_end = 5
    calls = []

    def cancel_after_two():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(glue.export.ExportCancelled):
        _export(glue, empty_scene, tmp_path / "b", should_cancel=cancel_after_two)
    assert list(tmp_path.iterdir()) == []


def test_marker_shots_follow_camera_bindings(glue, empty_scene, tmp_path):
    import bpy
    wide = _camera(empty_scene)
    close = bpy.data.objects.new("Close", bpy.data.cameras.new("Close"))
    empty_scene.collection.objects.link(close)
    empty_scene.frame_start, empty_scene.frame_end = 1, 30
    for name, frame, camera in (("sc01_wide", 1, wide), ("sc01_close", 11, close)):
        marker = empty_scene.timeline_markers.new(name, frame=frame)
        marker.camera = camera
    shots = glue.shots.scene_shots(empty_scene)
    assert [(s.name, s.camera_name, s.frame_start, s.frame_end) for s in shots] == [
        ("sc01_wide", "Camera", 1, 10), ("sc01_close", "Close", 11, 30)]
    _plane(empty_scene, -5.0)
    shot = glue.shots.resolve_shot(empty_scene, "sc01_close", frames=(11, 12))
    bundle = read_bundle(glue.export.export_shot(empty_scene, shot, tmp_path / "b", "camera"))
    assert bundle.name == "sc01_close" and bundle.frames == [11, 12]
    assert bundle.record.shot.camera == "Close"
    with pytest.raises(glue.shots.ShotError, match="no shot named"):
        glue.shots.resolve_shot(empty_scene, "sc02")
    with pytest.raises(glue.shots.ShotError, match="inverted"):
        glue.shots.resolve_shot(empty_scene, frames=(9, 3))


def test_bad_input_gives_clear_errors(glue, empty_scene, tmp_path):
    from blockcast.addon.blender.camera import CameraError
    with pytest.raises(CameraError, match="no camera"):
        _export(glue, empty_scene, tmp_path / "a")
    camera = _camera(empty_scene)
    camera.data.type = "ORTHO"
    with pytest.raises(CameraError, match="orthographic"):
        _export(glue, empty_scene, tmp_path / "b")
    camera.data.type = "PERSP"
    with pytest.raises(glue.export.ExportError, match="resolution"):
        _export(glue, empty_scene, tmp_path / "c", resolution=(0, 90))
    with pytest.raises(glue.export.ExportError, match="unknown pass"):
        _export(glue, empty_scene, tmp_path / "d", "depth,beauty")
    assert list(tmp_path.iterdir()) == []
