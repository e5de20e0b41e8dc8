"""The blocking's lens in every take (engine/generate.py with engine/lens): a bundle exported from
a scene whose camera has Depth of Field on and whose Render ▸ Motion Blur is on gives takes
defocused where out of focus and blurred along the flow, the sharp frames kept in unblurred/,
and take.json's lens record; the request's switches turn each off; old bundles read as before; a
backend that declares a lens effect among its lens_controls gets the lens and the engine leaves that
effect to it."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import BLENDER_PYTHON, _run
from PIL import Image

from engine import backends
from engine.backends.base import Backend
from engine.bundle.reader import read_bundle
from engine.bundle.take_record import read_take
from engine.lens import frame_lens, frame_px_per_mm
from engine.lens.defocus import coc_radius_px
from engine.lens.take import plan_take_lens

PASSES = "depth,pose,camera,shading,normal,objects,flow"
LENS_SCENE = """
import sys, bpy
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
scene = bpy.context.scene
dof = scene.camera.data.dof
dof.use_dof, dof.aperture_fstop, dof.focus_object = True, 0.1, bpy.data.objects["Ana_body"]
dof.aperture_blades, dof.aperture_ratio = 6, 1.5
scene.render.use_motion_blur, scene.render.motion_blur_shutter = True, 0.5
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[2])
"""


@pytest.fixture(scope="module")
def lens_bundle(demo_blend, tmp_path_factory):
    """Frames 1-3 of the demo shot, its camera at f/0.1 (a wide blur at 128x72) focused on Ana, motion blur at 0.5 frame."""
    folder = tmp_path_factory.mktemp("lens")
    blend = folder / "lens.blend"
    _run([BLENDER_PYTHON, "-c", LENS_SCENE, demo_blend, blend])
    _run([BLENDER_PYTHON, "scripts/export_passes.py", blend, "--out", folder / "bundle", "--frames", "1-3",
          "--passes", PASSES, "--quiet"])
    return folder / "bundle"


def _take(engine_main, bundle, out, *flags):
    code, events = engine_main("generate", bundle, "--out", out, "--seed", "1", "--device", "cpu", *flags)
    assert code == 0, events
    (done,) = [event for event in events if event["event"] == "done"]
    return read_take(done["path"]), done["path"], events


def _image(take_dir, relative):
    return np.asarray(Image.open(f"{take_dir}/{relative}"), np.int16)


def test_the_exported_bundle_carries_the_lens(lens_bundle):
    bundle = read_bundle(lens_bundle)
    assert bundle.record.schema_version == "1.6"
    assert bundle.record.shot.motion_blur.shutter == 0.5 and bundle.record.shot.motion_blur.position == "CENTER"
    dof = bundle.cameras()[0]["depth_of_field"]
    assert dof["fstop"] == pytest.approx(0.1) and dof["blades"] == 6 and dof["ratio"] == pytest.approx(1.5)


def test_a_take_is_defocused_where_out_of_focus_and_keeps_its_sharp_frames(engine_main, lens_bundle, tmp_path):
    record, take_dir, events = _take(engine_main, lens_bundle, tmp_path / "takes", "--motion-blur=off")
    lens = record.lens
    assert lens.depth_of_field and lens.motion_blur is None and lens.lens_s > 0
    assert [event["frame"] for event in events if event["event"] == "lens"] == [1, 2, 3]
    bundle = read_bundle(lens_bundle)
    plan = plan_take_lens(bundle, "camera", "off")
    for frame, relative in zip(bundle.frames, record.frames):
        sharp, lensed = _image(take_dir, lens.unblurred_frame(frame)), _image(take_dir, relative)
        lens_record = plan.frame_record(frame)
        radius = np.abs(coc_radius_px(bundle.depth(frame), frame_lens(lens_record),
                                      frame_px_per_mm(lens_record, bundle.width, bundle.height)))
        difference = np.abs(lensed - sharp).max(axis=2)
        assert difference[radius > 1].mean() > 4 * max(difference[radius < 0.25].mean(), 0.25)
    off, off_dir, _ = _take(engine_main, lens_bundle, tmp_path / "off", "--depth-of-field=off", "--motion-blur=off")
    assert off.lens is None and "lens" not in json.loads((tmp_path / "off" / off.take / "take.json").read_text())
    for frame, relative in zip(bundle.frames, off.frames):  # the sharp frames are the take without the lens
        assert np.array_equal(_image(off_dir, relative), _image(take_dir, lens.unblurred_frame(frame)))
    assert read_take(take_dir).request().motion_blur == "off" and off.request().depth_of_field == "off"


def test_motion_blur_follows_the_scenes_shutter(engine_main, lens_bundle, tmp_path):
    record, take_dir, _ = _take(engine_main, lens_bundle, tmp_path / "takes", "--depth-of-field=off")
    assert not record.lens.depth_of_field and record.lens.motion_blur.shutter == 0.5
    assert record.lens.motion_blur.position == "CENTER"
    assert any(not np.array_equal(_image(take_dir, relative), _image(take_dir, record.lens.unblurred_frame(frame)))
               for frame, relative in zip(record.bundle.frame_range(), record.frames))


def test_motion_blur_without_a_flow_pass_is_noted_never_failed(engine_main, lens_bundle, tmp_path):
    bundle = tmp_path / "no_flow"
    shutil.copytree(lens_bundle, bundle, ignore=shutil.ignore_patterns("flow", "controls"))
    manifest = json.loads((bundle / "bundle.json").read_text())
    del manifest["passes"]["flow"]
    (bundle / "bundle.json").write_text(json.dumps(manifest, indent=1))
    record, _, events = _take(engine_main, bundle, tmp_path / "takes", "--depth-of-field=off")
    assert record.lens is None and any("no flow pass" in note for note in record.ignored)
    assert any("no flow pass" in event["message"] for event in events if event["event"] == "warning")


def test_a_1_2_bundle_reads_as_a_round_aperture_without_motion_blur(engine_main, lens_bundle, tmp_path):
    bundle = tmp_path / "old"
    shutil.copytree(lens_bundle, bundle, ignore=shutil.ignore_patterns("controls"))
    manifest = json.loads((bundle / "bundle.json").read_text())
    manifest["schema_version"] = "1.2"
    del manifest["shot"]["motion_blur"]
    (bundle / "bundle.json").write_text(json.dumps(manifest, indent=1))
    cameras = json.loads((bundle / "cameras.json").read_text())
    for camera in cameras["frames"]:
        camera["depth_of_field"] = {key: camera["depth_of_field"][key] for key in ("focus_distance", "fstop")}
    (bundle / "cameras.json").write_text(json.dumps(cameras))
    record, _, _ = _take(engine_main, bundle, tmp_path / "takes")
    assert record.lens.depth_of_field and record.lens.motion_blur is None
    assert not any("pass;" in note for note in record.ignored)  # nothing of the lens missing


class LensAwareBackend(Backend):
    """As a defocus-aware model would: depth of field is its own control (lens_controls), so it gets
    the lens in its Request; its frames are seeded noise at the shot's size, kept to compare."""
    name = "test-lens-aware"
    description = "test backend that applies depth of field itself"
    controls = ("depth",)
    default_weights = {"depth": 1.0}
    default_long_side = 128
    lens_controls = ("depth_of_field",)
    given, made = [], []

    def load(self, models, controls, device):
        pass

    def generate(self, request, hooks):
        LensAwareBackend.given.append(request.lens)
        video = np.random.default_rng(request.seed).integers(0, 256, (request.num_frames, request.height,
                                                                      request.width, 3), dtype=np.uint8)
        LensAwareBackend.made.append(video)
        return video


@pytest.fixture
def lens_aware():
    backends.register(LensAwareBackend)
    LensAwareBackend.given.clear()
    LensAwareBackend.made.clear()
    yield LensAwareBackend
    backends._REGISTRY.pop(LensAwareBackend.name)  # other tests list the built-in backends only


def test_a_backend_that_applies_depth_of_field_itself_gets_the_lens_and_no_post_process(
        engine_main, lens_bundle, lens_aware, tmp_path):
    record, take_dir, events = _take(engine_main, lens_bundle, tmp_path / "takes", "--backend", lens_aware.name,
                                     "--motion-blur=off")
    (plan,) = lens_aware.given
    assert plan.depth_of_field and plan.shutter is None
    assert plan.frame_record(1)["depth_of_field"]["fstop"] == pytest.approx(0.1)
    lens = record.lens
    assert lens.applied_by == {"depth_of_field": "backend"} and lens.depth_of_field and lens.unblurred is None
    assert not (Path(take_dir) / "unblurred").exists() and not any(event["event"] == "lens" for event in events)
    for made, relative in zip(lens_aware.made[0], record.frames):  # the backend's frames, untouched
        assert np.array_equal(_image(take_dir, relative), made)


def test_the_engine_still_applies_what_the_backend_leaves(engine_main, lens_bundle, lens_aware, tmp_path):
    record, take_dir, _ = _take(engine_main, lens_bundle, tmp_path / "takes", "--backend", lens_aware.name)
    (plan,) = lens_aware.given
    assert plan.depth_of_field and plan.shutter is None  # motion blur is not the backend's
    lens = record.lens
    assert lens.applied_by == {"depth_of_field": "backend", "motion_blur": "engine"}
    assert lens.motion_blur.shutter == 0.5 and lens.lens_s > 0
    first, last = record.bundle.frame_range()
    for made, frame in zip(lens_aware.made[0], range(first, last + 1)):
        assert np.array_equal(_image(take_dir, lens.unblurred_frame(frame)), made)
    previz, _, _ = _take(engine_main, lens_bundle, tmp_path / "previz", "--motion-blur=off")
    assert previz.lens.applied_by == {"depth_of_field": "engine"}


def test_backends_json_lists_each_backends_lens_controls(engine_main, lens_aware, capsys):
    from engine.cli import main
    assert main(["backends", "--json"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)["backends"]}
    assert listed[lens_aware.name]["lens_controls"] == ["depth_of_field"] and listed["previz"]["lens_controls"] == []
