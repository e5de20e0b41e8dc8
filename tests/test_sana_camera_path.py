"""The sana-wm camera path checked against Blender's own projection (real bpy, nothing mocked).

A moving, panning camera with lens shift renders a 4:3 or a 2.4:1 shot; its per-frame records
(what the bundle's cameras.json holds) go through engine.camera_path to SanaWMPipeline's c2w and
intrinsics at 1280x704 (the 4:3 frame is cropped top and bottom, the 2.4:1 one at the sides). Known world points, projected
as the pipeline reads the path (relative to the first frame, composed back), must land where
`world_to_camera_view` puts them, mapped through the same cover-and-crop, within 0.01 px.
"""

import importlib
import json
import math

import numpy as np
import pytest

from engine import camera_path
from engine.bundle import camera
from engine.imaging import cover_fit

GENERATION = (1280, 704)
TOLERANCE_PX = 0.01


@pytest.fixture
def glue(blockcast):
    return importlib.import_module(f"{blockcast.__name__}.addon.blender.camera")


def _moving_camera(bpy, scene, shift):
    data = bpy.data.cameras.new("Cam")
    data.lens, data.sensor_width, data.sensor_fit = 28.0, 36.0, "AUTO"
    data.shift_x, data.shift_y = shift
    cam = bpy.data.objects.new("Cam", data)
    scene.collection.objects.link(cam)
    scene.camera = cam
    for frame, location, rotation in ((1, (0.0, -8.0, 1.6), (80, 0, 0)), (5, (2.5, -6.0, 2.4), (74, 4, 18)),
                                      (9, (4.0, -3.5, 1.2), (86, -3, 35))):
        cam.location, cam.rotation_euler = location, [math.radians(angle) for angle in rotation]
        cam.keyframe_insert("location", frame=frame)
        cam.keyframe_insert("rotation_euler", frame=frame)
    return cam


def _world_points(rng, count=40):
    """Points of a 'set' in front of the camera's path (some leave the frame: still projected)."""
    return np.column_stack([rng.uniform(-3, 6, count), rng.uniform(2, 9, count), rng.uniform(0, 3, count)])


@pytest.mark.parametrize("shift, size", [((0.0, 0.0), (640, 480)), ((0.08, -0.05), (640, 480)),
                                         ((-0.04, 0.06), (960, 400))])
def test_projection_through_the_sana_path_matches_blender(glue, empty_scene, shift, size):
    import bpy
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    scene = empty_scene
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = *size, 100
    scene.frame_start, scene.frame_end = 1, 9
    cam = _moving_camera(bpy, scene, shift)
    src_w, src_h = camera.render_size(*size, 100)
    records = []
    for frame in range(1, 10):
        scene.frame_set(frame)
        records.append(glue.camera_frame_record(scene, cam))
    path = camera_path.sana_camera_path(records, src_w, src_h, *GENERATION, model_frames=9)
    np.testing.assert_allclose(path["c2w"][0], np.eye(4), atol=1e-12)  # relative to the first frame

    scale, crop_x, crop_y = cover_fit(src_w, src_h, *GENERATION)
    assert crop_x > 0 or crop_y > 0  # the crop matters: 4:3 (top and bottom) or 2.4:1 (sides) onto 1280x704
    points = _world_points(np.random.default_rng(7))
    worst = 0.0
    for index, frame in enumerate(range(1, 10)):
        scene.frame_set(frame)
        # What the pipeline does to the poses (cam_utils.prepare_camera), composed back here.
        relative = camera_path.rigid_inverse(path["c2w"][0]) @ path["c2w"][index]
        got = camera_path.project(points, records[0], relative, path["intrinsics"][index])
        view = np.array([world_to_camera_view(scene, cam, Vector(p)) for p in points])
        # Blender's normalised view (0..1 across the frame, y up) -> generation pixels, pixel-centre.
        expected = np.column_stack([view[:, 0] * src_w * scale - crop_x - 0.5,
                                    (1 - view[:, 1]) * src_h * scale - crop_y - 0.5])
        worst = max(worst, float(np.abs(got - expected).max()))
    print(f"sana-wm camera path, {size[0]}x{size[1]}, shift {shift}: worst reprojection error {worst:.2e} px over 9 frames")
    assert worst < TOLERANCE_PX, f"worst reprojection error {worst:.5f} px"



def _blocking_at_scale(bpy, scene, units_per_metre):
    """The moving, panning camera and a box, every length times `units_per_metre`, the scene's
    Unit Scale its inverse: the same blocking in metres (1) or centimetres (100)."""
    scene.unit_settings.system, scene.unit_settings.scale_length = "METRIC", 1.0 / units_per_metre
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 320, 180, 100
    scene.frame_start, scene.frame_end = 1, 9
    data = bpy.data.cameras.new("Cam")
    data.lens, data.sensor_width, data.shift_x = 28.0, 36.0, 0.03
    data.clip_start, data.clip_end = 0.1 * units_per_metre, 100.0 * units_per_metre
    cam = bpy.data.objects.new("Cam", data)
    scene.collection.objects.link(cam)
    scene.camera = cam
    for frame, location, rotation in ((1, (0.0, -8.0, 1.6), (80, 0, 0)), (5, (2.5, -6.0, 2.4), (74, 4, 18)),
                                      (9, (4.0, -3.5, 1.2), (86, -3, 35))):
        cam.location = [value * units_per_metre for value in location]
        cam.rotation_euler = [math.radians(angle) for angle in rotation]
        cam.keyframe_insert("location", frame=frame)
        cam.keyframe_insert("rotation_euler", frame=frame)
    mesh = bpy.data.meshes.new("Box")
    mesh.from_pydata([(x * units_per_metre, y * units_per_metre, z * units_per_metre)
                      for x in (1, 2) for y in (4, 5) for z in (0, 1)], [], [(0, 1, 3, 2), (4, 5, 7, 6)])
    scene.collection.objects.link(bpy.data.objects.new("Box", mesh))



def _exported(blockcast, scene, out):
    """The scene's shot exported with the camera pass, as the add-on writes it."""
    from engine.bundle import read_bundle

    export, shots = (importlib.import_module(f"{blockcast.__name__}.addon.blender.{name}") for name in ("export", "shots"))
    return read_bundle(export.export_shot(scene, shots.resolve_shot(scene), out, "camera"))


def _sana_path(bundle):
    """The SANA-WM camera path of a bundle, translations in metres by its recorded unit scale."""
    return camera_path.sana_camera_path(bundle.cameras(), bundle.width, bundle.height, *GENERATION, model_frames=9,
                                        metres_per_unit=bundle.record.metres_per_unit)


def test_a_centimetre_scene_gives_the_same_camera_path_in_metres(blockcast, empty_scene, tmp_path):
    """Unit Scale 0.01 with every length x100 is the same shot: bundle.json records the unit scale
    and the path SANA-WM gets is the metre scene's (translations in metres), not 100x longer."""
    import bpy
    from engine.bundle import read_bundle

    _blocking_at_scale(bpy, empty_scene, 1)
    metre_bundle = _exported(blockcast, empty_scene, tmp_path / "m")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _blocking_at_scale(bpy, bpy.context.scene, 100)
    bundle = _exported(blockcast, bpy.context.scene, tmp_path / "cm")

    assert metre_bundle.record.metres_per_unit == 1.0 and bundle.record.metres_per_unit == 0.01
    assert bundle.record.schema_version == "1.6" and bundle.manifest["metres_per_unit"] == 0.01
    raw = np.array([record["w2c_opencv"] for record in bundle.cameras()])[:, :3, 3]
    assert np.abs(raw).max() > 100  # cameras.json keeps the scene's own units
    metres, centimetres = _sana_path(metre_bundle), _sana_path(bundle)
    moved = np.abs(metres["c2w"][:, :3, 3]).max()
    assert moved > 1.0  # the camera travels metres
    worst = float(np.abs(centimetres["c2w"] - metres["c2w"]).max())
    print(f"sana-wm camera path, Unit Scale 0.01 vs 1: worst difference {worst:.1e} ({worst / moved:.1e} of the move)")
    assert worst < 1e-6 * moved
    np.testing.assert_allclose(centimetres["intrinsics"], metres["intrinsics"], rtol=1e-9)

    # A bundle written before 1.6 has no unit scale: it reads as metres, as every bundle then was.
    document = json.loads((tmp_path / "m" / "bundle.json").read_text(encoding="utf-8"))
    del document["metres_per_unit"]
    document["schema_version"] = "1.5"
    (tmp_path / "m" / "bundle.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    old = read_bundle(tmp_path / "m")
    assert old.record.metres_per_unit == 1.0 and old.record.to_json() == document
    np.testing.assert_array_equal(_sana_path(old)["c2w"], metres["c2w"])


def test_unit_system_none_applies_no_scale(blockcast, empty_scene):
    """With Units ▸ Unit System None, Blender ignores Unit Scale: the bundle records 1 (metres)."""
    export = importlib.import_module(f"{blockcast.__name__}.addon.blender.export")
    empty_scene.unit_settings.system, empty_scene.unit_settings.scale_length = "NONE", 0.01
    assert export.metres_per_unit(empty_scene) == 1.0
    empty_scene.unit_settings.system = "IMPERIAL"  # still metres per unit inside Blender: only shown in feet
    assert export.metres_per_unit(empty_scene) == 0.01
