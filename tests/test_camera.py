"""Camera conventions checked against Blender's own projection (real bpy, nothing mocked)."""

import importlib
import json
import math

import numpy as np
import pytest

from engine.bundle import camera


@pytest.fixture
def glue(blockcast):
    return importlib.import_module(f"{blockcast.__name__}.addon.blender.camera")


def _add_camera(bpy, scene, name="Cam"):
    data = bpy.data.cameras.new(name)
    obj = bpy.data.objects.new(name, data)
    scene.collection.objects.link(obj)
    scene.camera = obj
    return obj


def _points_in_view(bpy, scene, cam_obj, count=50, seed=0):
    """Random world points inside the view frustum, 2 to 20 m in front of the camera."""
    rng = np.random.default_rng(seed)
    frame = [np.array(v) for v in cam_obj.data.view_frame(scene=scene)]  # camera space, z = -d
    lo, hi = np.min(frame, axis=0), np.max(frame, axis=0)
    dist = -frame[0][2]
    local = []
    for _ in range(count):
        z = rng.uniform(2.0, 20.0)
        x, y = rng.uniform(lo[0], hi[0]) * z / dist, rng.uniform(lo[1], hi[1]) * z / dist
        local.append((x, y, -z))
    mw = np.array(cam_obj.matrix_world.normalized())
    return np.array([mw[:3, :3] @ p + mw[:3, 3] for p in local])


@pytest.mark.parametrize("sensor_fit", ["AUTO", "HORIZONTAL", "VERTICAL"])
@pytest.mark.parametrize("size", [(640, 360), (360, 640)])
@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.1, -0.07)])
@pytest.mark.parametrize("pixel_aspect", [(1.0, 1.0), (1.5, 1.0), (1.0, 2.0)])
def test_projection_matches_blender(blockcast, empty_scene, sensor_fit, size, shift, pixel_aspect):
    import bpy
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    scene = empty_scene
    render = scene.render
    render.resolution_x, render.resolution_y = size
    render.resolution_percentage = 50
    render.pixel_aspect_x, render.pixel_aspect_y = pixel_aspect
    cam = _add_camera(bpy, scene)
    cam.data.lens, cam.data.sensor_width, cam.data.sensor_height = 35.0, 36.0, 20.0
    cam.data.sensor_fit = sensor_fit
    cam.data.shift_x, cam.data.shift_y = shift
    cam.location = (1.5, -4.0, 2.0)
    cam.rotation_euler = (math.radians(70), math.radians(10), math.radians(25))
    cam.scale = (2.0, 0.5, 1.3)
    bpy.context.view_layer.update()

    W, H = camera.render_size(*size, 50)
    K = camera.intrinsics_matrix(*camera.intrinsics(
        cam.data.lens, cam.data.sensor_width, cam.data.sensor_height, sensor_fit, *shift,
        W, H, *pixel_aspect))
    w2c = camera.world_to_opencv_camera(cam.matrix_world)
    points = _points_in_view(bpy, scene, cam)
    pixels, depth = camera.project_points(points, K, w2c)

    expected = np.array([world_to_camera_view(scene, cam, Vector(p)) for p in points])
    expected_uv = np.stack([expected[:, 0] * W - 0.5, (1 - expected[:, 1]) * H - 0.5], axis=1)
    np.testing.assert_allclose(pixels, expected_uv, atol=1e-3)
    np.testing.assert_allclose(depth, expected[:, 2], rtol=1e-6)  # mathutils is float32


def test_opencv_axes_and_inverse():
    mw = np.eye(4)
    mw[:3, 3] = (1.0, 2.0, 3.0)
    c2w = camera.opencv_camera_to_world(mw)
    np.testing.assert_allclose(c2w[:3, 2], [0, 0, -1])  # OpenCV +z = Blender -Z
    np.testing.assert_allclose(c2w[:3, 1], [0, -1, 0])  # OpenCV +y = Blender -Y
    np.testing.assert_allclose(camera.world_to_opencv_camera(mw) @ c2w, np.eye(4), atol=1e-12)


def _random_w2c(rng):
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    w2c = np.eye(4)
    w2c[:3, :3] = q * np.sign(np.linalg.det(q))
    w2c[:3, 3] = rng.normal(size=3)
    return w2c


def test_re10k_round_trip():
    rng = np.random.default_rng(1)
    W, H = 640, 360
    frames = [{"timestamp_us": 41667 * i, "fx": 622.2 + i / 3, "fy": 622.2 + i / 7,
               "cx": 319.5 - 0.1 * i, "cy": 179.5 + 1 / 3, "w2c": _random_w2c(rng)}
              for i in range(5)]
    text = camera.format_re10k(frames, W, H, "blockcast test shot")
    lines = text.splitlines()
    assert lines[0] == "blockcast test shot"
    assert all(len(line.split()) == 19 for line in lines[1:])
    assert len(lines) == 6
    parsed = camera.parse_re10k(text, W, H)
    for f, p in zip(frames, parsed):
        assert p["timestamp_us"] == f["timestamp_us"]
        np.testing.assert_array_equal(p["w2c"], f["w2c"])
        for key in ("fx", "fy", "cx", "cy"):
            assert p[key] == pytest.approx(f[key], rel=1e-12, abs=1e-12)


def test_re10k_centred_camera_writes_half():
    """Pixel-edge principal point: a centred camera is 0.5, as in RealEstate10K's files."""
    fx, fy, cx, cy = camera.intrinsics(50, 36, 24, "AUTO", 0, 0, 640, 360)
    text = camera.format_re10k(
        [{"timestamp_us": 0, "fx": fx, "fy": fy, "cx": cx, "cy": cy, "w2c": np.eye(4)}],
        640, 360, "c")
    assert [float(v) for v in text.splitlines()[1].split()[3:7]] == [0.5, 0.5, 0.0, 0.0]


def test_camera_frame_record(glue, empty_scene):
    import bpy

    scene = empty_scene
    cam = _add_camera(bpy, scene)
    cam.location = (0.0, 0.0, 0.0)
    cam.keyframe_insert("location", frame=1)
    cam.location = (4.0, 0.0, 0.0)
    cam.keyframe_insert("location", frame=11)

    scene.frame_set(11)
    record = glue.camera_frame_record(scene, cam)
    json.dumps(record)
    assert set(record) == {
        "frame", "fx", "fy", "cx", "cy", "w2c_opencv", "matrix_world", "lens_mm",
        "sensor_width_mm", "sensor_height_mm", "sensor_fit", "shift_x", "shift_y",
        "clip_start", "clip_end", "depth_of_field"}
    assert record["frame"] == 11
    assert record["matrix_world"][0][3] == pytest.approx(4.0)
    assert record["depth_of_field"] is None

    scene.frame_set(1)
    assert glue.camera_frame_record(scene, cam)["matrix_world"][0][3] == pytest.approx(0.0)

    target = bpy.data.objects.new("Target", None)
    scene.collection.objects.link(target)
    target.location = (1.0, 3.0, -5.0)  # camera looks down -Z: 5 m along the view axis
    cam.data.dof.use_dof = True
    cam.data.dof.focus_object = target
    cam.data.dof.aperture_fstop = 2.8
    scene.frame_set(1)
    dof = glue.camera_frame_record(scene, cam)["depth_of_field"]
    assert dof["focus_distance"] == pytest.approx(5.0)
    assert dof["fstop"] == pytest.approx(2.8)


def test_check_camera_errors(glue, empty_scene):
    import bpy

    with pytest.raises(glue.CameraError, match="no camera"):
        glue.check_camera(empty_scene.camera)
    empty = bpy.data.objects.new("Empty", None)
    with pytest.raises(glue.CameraError, match="not a camera"):
        glue.check_camera(empty)
    cam = _add_camera(bpy, empty_scene)
    cam.data.type = "ORTHO"
    with pytest.raises(glue.CameraError, match="orthographic.*Perspective"):
        glue.check_camera(cam)
    cam.data.type = "PERSP"
    glue.check_camera(cam)
