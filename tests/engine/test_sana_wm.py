"""sana-wm: the camera path as SanaWMPipeline's own code reads it (in metres, by the bundle's unit
scale), the first-frame rule (the previz look's first frame without a reference), and takes from a
tiny random SANA-WM loaded through from_pretrained (nothing mocked)."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from engine import backends, camera_path, controls
from engine.backends.base import Request
from engine.backends.sana_wm import CLAY, PREVIZ_LOOK, TRAINED_SIZE, first_frame
from engine.bundle import read_bundle
from engine.bundle.request import GenerateRequest
from engine.generate import Generation
from conftest import export_demo_bundle
from test_backend_contract import Recorder


def _rotation(rng):
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def _records(rng, count=5, size=(640, 480)):
    """Camera records as cameras.json holds them: OpenCV w2c, pixel-centre intrinsics at `size`."""
    records = []
    for _ in range(count):
        w2c = np.eye(4)
        w2c[:3, :3], w2c[:3, 3] = _rotation(rng), rng.normal(size=3) * 3
        records.append({"w2c_opencv": w2c.tolist(), "fx": 600 + rng.uniform(-50, 50), "fy": 610.0,
                        "cx": size[0] / 2 - 0.5 + rng.uniform(-20, 20), "cy": size[1] / 2 - 0.5 + rng.uniform(-9, 9)})
    return records


def test_intrinsics_scale_and_shift_with_the_cover_crop():
    # 640x480 onto 1280x704: scale 2, 128 px cropped off the top; pixel centres stay centres.
    record = {"fx": 500.0, "fy": 510.0, "cx": 319.5, "cy": 239.5}
    assert camera_path.generation_intrinsics(record, 640, 480, 1280, 704) == [1000.0, 1020.0, 639.5, 351.5]


def test_the_pipelines_rays_pass_through_the_projected_points():
    """diffusers' compute_raymap (the rays the DiT sees) at pixel (x, y) meets the world points that
    camera_path.project sends to (x, y), after prepare_camera's own relative-pose step."""
    from diffusers.pipelines.sana_wm.cam_utils import _pose_inverse, compute_raymap

    rng = np.random.default_rng(3)
    records = _records(rng)
    path = camera_path.sana_camera_path(records, 640, 480, 128, 64, model_frames=9)
    poses = torch.from_numpy(path["c2w"])
    relative = _pose_inverse(poses[0:1]) @ poses  # what cam_utils.prepare_camera does to them
    np.testing.assert_allclose(relative.numpy(), path["c2w"], atol=1e-12)  # ours are relative already
    first_to_world = camera_path.rigid_inverse(records[0]["w2c_opencv"])
    for index in range(len(records)):
        intrinsics = torch.from_numpy(path["intrinsics"][index:index + 1])
        rays = compute_raymap(intrinsics, relative[index:index + 1], 64, 128, use_plucker=False)[0].numpy()
        ys, xs = rng.integers(0, 64, 6), rng.integers(0, 128, 6)
        in_first = rays[ys, xs, :3] + rng.uniform(1, 20, (6, 1)) * rays[ys, xs, 3:]
        world = in_first @ first_to_world[:3, :3].T + first_to_world[:3, 3]
        pixels = camera_path.project(world, records[0], path["c2w"][index], path["intrinsics"][index])
        np.testing.assert_allclose(pixels, np.column_stack([xs, ys]), atol=1e-9)


def test_a_first_frame_at_the_generation_size_keeps_its_pixels_and_intrinsics():
    from diffusers.pipelines.sana_wm.cam_utils import resize_and_center_crop, transform_intrinsics_for_crop

    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 128, 3), dtype=np.uint8))
    cropped, source, resized, offset = resize_and_center_crop(image, 64, 128)
    assert (source, resized, offset) == ((128, 64), (128, 64), (0, 0))
    assert np.array_equal(np.asarray(cropped), np.asarray(image))
    intrinsics = np.array([[100.5, 101.0, 63.5, 31.5]], np.float32)
    assert np.array_equal(transform_intrinsics_for_crop(intrinsics, source, resized, offset), intrinsics)


def test_the_path_holds_its_last_pose_and_converts_units_to_metres():
    records = _records(np.random.default_rng(5), count=3)
    path = camera_path.sana_camera_path(records, 640, 480, 1280, 704, model_frames=9)
    assert path["c2w"].shape == (9, 4, 4) and path["intrinsics"].shape == (9, 4)
    np.testing.assert_allclose(path["c2w"][0], np.eye(4), atol=1e-12)
    assert all(np.array_equal(path["c2w"][k], path["c2w"][2]) for k in range(3, 9))
    centimetres = camera_path.relative_c2w(records, metres_per_unit=0.01)
    np.testing.assert_allclose(centimetres[:, :3, 3], path["c2w"][:3, :3, 3] * 0.01)
    with pytest.raises(ValueError, match="cannot hold"):
        camera_path.sana_camera_path(records, 640, 480, 1280, 704, model_frames=2)


def test_frame_and_size_rules():
    backend = backends.create("sana-wm")
    assert [backend.model_frames(n) for n in (1, 6, 9, 10, 161)] == [1, 9, 9, 17, 161]
    assert backend.model_size(1920, 1080) == TRAINED_SIZE == (1280, 704)
    assert backend.model_size(128, 72, (128, 72)) == (128, 64)
    assert backend.required_controls == ("camera",)


def _request(**fields):
    base = dict(prompt="", negative_prompt="", seed=0, steps=1, guidance=1.0, weights={}, controls={},
                num_frames=1, width=64, height=32)
    return Request(**{**base, **fields})


def test_first_frame_rule():
    red, green, blue = (Image.new("RGB", (80, 40), colour) for colour in ("red", "green", "blue"))
    shading = {"shading": [blue]}
    source, image = first_frame(_request(shot_reference=red, references={"Ann": [green]}, controls=shading))
    assert source == "shot reference" and image.size == (64, 32) and image.getpixel((3, 3)) == (255, 0, 0)
    references = {"Bob": [], "Ann": [green]}
    assert first_frame(_request(references=references, controls=shading))[0] == "cast reference of Ann"
    assert first_frame(_request(controls=shading))[0] == CLAY  # no previz model loaded
    previz = {"shading": [blue], "objects": [Image.new("I;16", (80, 40))]}
    look = lambda request: np.full((32, 64, 3), 7, np.uint8)  # noqa: E731  (the previz take's first frame)
    source, image = first_frame(_request(controls=previz), look)
    assert source == PREVIZ_LOOK == "previz look, first frame" and image.getpixel((3, 3)) == (7, 7, 7)
    assert first_frame(_request(controls=shading), look)[0] == CLAY  # no objects pass: the clay frame
    assert first_frame(_request(references=references, controls=previz), look)[0] == "cast reference of Ann"
    with pytest.raises(ValueError, match="--reference.*--passes including shading,objects"):
        first_frame(_request())


@pytest.fixture(scope="module")
def sana_models(tmp_path_factory):
    from engine.random_models_sana import save_sana_wm_models

    return save_sana_wm_models(tmp_path_factory.mktemp("sana-wm"))


def test_take_from_the_reference_along_the_camera_path(bundle10, sana_models, tmp_path):
    reference = tmp_path / "accepted_frame.png"
    Image.new("RGB", (128, 72), (200, 80, 40)).save(reference)
    request = GenerateRequest(backend="sana-wm", steps=2, size=(128, 72), reference=str(reference),
                              models={"pipeline": str(sana_models["pipeline"])})
    recorder = Recorder()
    generation = Generation(request, bundle10, tmp_path / "takes", recorder, recorder)
    (take,) = generation.run()
    record = json.loads((take / "take.json").read_text())
    bundle = read_bundle(bundle10)
    assert record["parameters"]["generation_size"] == [128, 64] and record["parameters"]["model_frames"] == 17
    assert record["parameters"]["controls"] == {"camera": 1.0}  # the bundle has no shading pass
    settings = record["parameters"]["backend_settings"]
    assert settings["first_frame"] == "shot reference" and settings["trained_size"] is False
    assert len(list((take / "frames").iterdir())) == len(bundle.frames)
    assert [event["step"] for event in recorder.events if event["event"] == "step"] == [1, 2]

    # What reaches the pipeline is the mapped path, and the pipeline's own preparation keeps it.
    backend, built = generation.backend, controls.build_controls(bundle, ["camera"], 128, 64)
    inputs = backend.pipeline_inputs(_request(controls=built, num_frames=10, width=128, height=64,
                                              shot_reference=Image.open(reference).convert("RGB")))
    expected = camera_path.sana_camera_path(bundle.cameras(), bundle.width, bundle.height, 128, 64, 17)
    np.testing.assert_allclose(inputs["c2w"], expected["c2w"], atol=1e-6)
    np.testing.assert_allclose(inputs["intrinsics"], expected["intrinsics"], atol=1e-4)
    c2w, intrinsics = backend.pipe.prepare_camera_trajectory(inputs["c2w"], None, inputs["intrinsics"], 17)
    _, intrinsics = backend.pipe.image_processor.preprocess_with_intrinsics(inputs["image"], intrinsics, 64, 128)
    assert np.array_equal(c2w, inputs["c2w"]) and np.array_equal(intrinsics, inputs["intrinsics"])


def test_the_path_is_in_metres_by_the_bundles_unit_scale(bundle10, tmp_path):
    """The same shot exported from a centimetre scene (Unit Scale 0.01: every translation x100)
    reaches the pipeline as the same path in metres; bundle10 (a 1.6 export at scale 1) as it is."""
    centimetres = tmp_path / "centimetres"
    shutil.copytree(bundle10, centimetres)
    manifest = json.loads((centimetres / "bundle.json").read_text(encoding="utf-8"))
    manifest["metres_per_unit"] = 0.01
    (centimetres / "bundle.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    cameras = json.loads((centimetres / "cameras.json").read_text(encoding="utf-8"))
    for record in cameras["frames"]:
        for row in record["w2c_opencv"][:3]:
            row[3] *= 100
    (centimetres / "cameras.json").write_text(json.dumps(cameras), encoding="utf-8")

    backend, paths = backends.create("sana-wm"), []
    for folder in (bundle10, centimetres):
        bundle = read_bundle(folder)
        built = controls.build_controls(bundle, ["camera"], 128, 64)
        assert built["camera"]["metres_per_unit"] == (1.0 if folder == bundle10 else 0.01)
        paths.append(backend.pipeline_inputs(_request(controls=built, num_frames=10, width=128, height=64,
                                                      shot_reference=Image.new("RGB", (128, 64))))["c2w"])
        assert backend.settings["metres_per_unit"] == bundle.record.metres_per_unit
    assert np.abs(paths[0][:, :3, 3]).max() > 0.1  # the demo camera moves
    np.testing.assert_allclose(paths[1], paths[0], rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def bundle_at_generation_size(demo_blend, tmp_path_factory):
    """Two frames of the demo shot at 128x64, a size sana-wm generates at, with every pass previz reads."""
    return export_demo_bundle(tmp_path_factory, demo_blend, "shot_128x64", "depth,camera,shading,normal,objects",
                              frames="3-4", size="128x64")


def test_without_a_reference_the_first_frame_is_the_previz_takes(bundle_at_generation_size, sana_models, tmp_path):
    """The picture handed to the pipeline is frames/0003.png (the first) of the previz take of the
    same seed and prompt: the cast's colours and the previz model's own on the clay, graded."""
    prompt, seed = "a moody night scene", 4
    recorder = Recorder()
    previz = GenerateRequest(backend="previz", prompt=prompt, seed=seed)
    (previz_take,) = Generation(previz, bundle_at_generation_size, tmp_path / "previz", recorder, recorder).run()
    request = GenerateRequest(backend="sana-wm", prompt=prompt, seed=seed, steps=1, size=(128, 64),
                              models={"pipeline": str(sana_models["pipeline"])})
    generation = Generation(request, bundle_at_generation_size, tmp_path / "sana", recorder, recorder)
    handed = []
    pipeline = generation.backend.pipeline_inputs
    generation.backend.pipeline_inputs = lambda *args: handed.append(pipeline(*args)) or handed[-1]
    (take,) = generation.run()

    expected = np.asarray(Image.open(previz_take / "frames" / "0003.png").convert("RGB"))
    assert np.array_equal(np.asarray(handed[0]["image"]), expected)
    sana, looked = (json.loads((folder / "take.json").read_text()) for folder in (take, previz_take))
    assert sana["parameters"]["backend_settings"]["first_frame"] == PREVIZ_LOOK
    assert sana["parameters"]["controls"] == {"camera": 1.0, "shading": 1.0, "objects": 1.0}
    assert set(sana["models"]) == {"pipeline", "previz"}
    assert sana["look"] == looked["look"] and sana["grade"] == looked["grade"] == "night"
    assert [event["step"] for event in recorder.events if event["event"] == "step" and event["take"] == sana["take"]] \
        == [1]  # the look's own sampling steps are not the take's
