"""The animatediff backend end to end on a real exported bundle with tiny random weights."""

import hashlib
import json

import imageio_ffmpeg
import numpy as np
import pytest
from conftest import read_frames

from engine.bundle import read_bundle
from engine.generate import bundle_hash

GENERATE = ["--prompt", "a woman in a red coat walks", "--negative-prompt", "blurry", "--steps", "2", "--size", "64x36"]


@pytest.fixture(scope="module")
def two_takes(run_engine, bundle17, animatediff_models, tmp_path_factory):
    out = tmp_path_factory.mktemp("takes")
    run = run_engine("generate", bundle17, "--out", out, *animatediff_models, *GENERATE, "--seed", "7", "--takes", "2")
    assert run.returncode == 0, run.stderr
    return run, out


def test_progress_events_and_two_takes_with_consecutive_seeds(two_takes):
    run, out = two_takes
    assert [e["event"] for e in run.events][:3] == ["load", "controls", "start"]
    assert [e["take"] for e in run.of("done")] == ["take-001-animatediff-s7", "take-002-animatediff-s8"]
    assert [e["seed"] for e in run.of("start")] == [7, 8]
    for take in ("take-001-animatediff-s7", "take-002-animatediff-s8"):
        steps = [e["step"] for e in run.of("step") if e["take"] == take]
        assert steps == [1, 2]
        windows = [(e["start"], e["end"]) for e in run.of("window") if e["take"] == take]
        assert windows == [(1, 16), (2, 17)]  # 17 frames: two overlapping FreeNoise windows
        frames = [e["frame"] for e in run.of("frame") if e["take"] == take]
        assert frames == list(range(1, 18))  # every shot frame written exactly once
    names = ["take-001-animatediff-s7", "take-002-animatediff-s8"]
    assert run.of("finished")[0]["takes"] == [str(out / name) for name in names]
    assert sorted(p.name for p in out.iterdir()) == names


def test_take_has_the_shots_frames_a_preview_and_a_complete_take_json(two_takes, bundle17):
    _, out = two_takes
    take = out / "take-001-animatediff-s7"
    bundle = read_bundle(bundle17)
    frames = read_frames(take)
    assert list(frames) == [f"{n:04d}.png" for n in bundle.frames]
    assert all(f.shape == (bundle.height, bundle.width, 3) for f in frames.values())
    reader = imageio_ffmpeg.read_frames(str(take / "preview.mp4"))
    meta = next(reader)
    assert tuple(meta["size"]) == (bundle.width, bundle.height) and meta["fps"] == bundle.fps
    assert sum(1 for _ in reader) == len(bundle.frames)

    record = json.loads((take / "take.json").read_text())
    assert record["status"] == "complete" and record["take"] == take.name and record["backend"] == "animatediff"
    assert record["prompt"] == GENERATE[1] and record["negative_prompt"] == "blurry" and record["seed"] == 7
    descriptions = [actor.description for actor in bundle.actors]
    assert all(descriptions) and record["composed_prompt"] == ", ".join([GENERATE[1], *descriptions])
    assert set(record["models"]) == {"base", "motion_adapter", "controlnet_depth", "controlnet_pose"}
    weights = record["models"]["controlnet_pose"]["file_hashes"]["diffusion_pytorch_model.safetensors"]
    path = record["models"]["controlnet_pose"]["path"] + "/diffusion_pytorch_model.safetensors"
    assert weights == hashlib.sha256(open(path, "rb").read()).hexdigest()
    params = record["parameters"]
    assert params["steps"] == 2 and params["guidance"] == 7.5 and params["controls"] == {"depth": 1.0, "pose": 1.0}
    assert params["generation_size"] == [64, 40] and params["model_frames"] == 17
    assert params["backend_settings"]["scheduler"] == "DDIMScheduler"
    assert record["bundle"]["hash"] == bundle_hash(bundle) and record["bundle"]["frame_count"] == 17
    assert record["engine"]["diffusers"] == "0.42.1" and record["device"]["kind"] == "cpu"
    assert record["timings"]["steps"] == 2 and record["timings"]["per_step_s"] > 0
    assert len(record["frames"]) == 17 and record["preview"] == "preview.mp4"


def test_same_seed_gives_the_same_frames_and_new_takes_never_overwrite(two_takes, engine_main, bundle17,
                                                                     animatediff_models):
    _, out = two_takes
    first = out / "take-001-animatediff-s7"
    before = {p.name: p.read_bytes() for p in (first / "frames").iterdir()}
    code, events = engine_main("generate", bundle17, "--out", out, *animatediff_models, *GENERATE, "--seed", "7")
    assert code == 0
    again = out / "take-003-animatediff-s7"
    assert events[-1]["takes"] == [str(again)]
    original, repeat = read_frames(first), read_frames(again)
    assert all(np.array_equal(original[name], repeat[name]) for name in original)
    other = read_frames(out / "take-002-animatediff-s8")
    assert not all(np.array_equal(original[name], other[name]) for name in original)
    assert {p.name: p.read_bytes() for p in (first / "frames").iterdir()} == before


def test_init_video_from_the_shading_pass(engine_main, bundle17, animatediff_models, tmp_path):
    code, events = engine_main("generate", bundle17, "--out", tmp_path, *animatediff_models, *GENERATE,
                               "--steps", "4", "--init-video", "shading", "--strength", "0.5", "--control", "depth=0.7")
    assert code == 0
    record = json.loads((tmp_path / "take-001-animatediff-s0" / "take.json").read_text())
    assert record["parameters"]["init_video"] == "shading" and record["parameters"]["strength"] == 0.5
    assert record["parameters"]["controls"] == {"depth": 0.7}
    assert set(record["models"]) == {"base", "motion_adapter", "controlnet_depth"}  # no pose ControlNet loaded
    assert [e["step"] for e in events if e["event"] == "step"] == [1, 2]  # 4 steps x strength 0.5
    assert len(read_frames(tmp_path / "take-001-animatediff-s0")) == 17
