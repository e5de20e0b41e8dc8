"""The wan-vace backend end to end: 4k+1 frames and 16-pixel sizes mapped back to the shot."""

import json
import shutil

import numpy as np
import pytest
from conftest import read_frames

from engine.backends import create

GENERATE = ["--prompt", "two people in a studio", "--steps", "2", "--size", "64x36", "--seed", "3"]


@pytest.fixture(scope="module")
def wan_take(engine_main_module, bundle10, wan_models, tmp_path_factory):
    out = tmp_path_factory.mktemp("wan-takes")
    code, events = engine_main_module("generate", bundle10, "--out", out, *wan_models, *GENERATE)
    assert code == 0
    return out / "take-001-wan-vace-s3", events


def test_frame_count_rule_rounds_up_to_4k_plus_1():
    backend = create("wan-vace")
    assert [backend.model_frames(n) for n in (1, 2, 5, 10, 13, 17, 48)] == [1, 5, 5, 13, 13, 17, 49]
    assert backend.model_size(128, 72, (64, 36)) == (64, 32) and backend.model_size(1920, 1080) == (832, 464)


def test_wan_take_has_exactly_the_shots_frames_at_the_shots_size(wan_take, bundle10):
    take, events = wan_take
    frames = read_frames(take)
    assert list(frames) == [f"{n:04d}.png" for n in range(3, 13)]
    assert all(f.shape == (72, 128, 3) for f in frames.values())
    assert [e["frame"] for e in events if e["event"] == "frame"] == list(range(3, 13))
    record = json.loads((take / "take.json").read_text())
    params = record["parameters"]
    assert params["model_frames"] == 13 and params["generation_size"] == [64, 32]
    assert params["controls"] == {"depth": 1.0} and params["guidance"] == 5.0
    assert record["models"]["pipeline"]["file_hashes"]["transformer/diffusion_pytorch_model.safetensors"]


def test_wan_is_deterministic_for_a_seed_and_takes_the_pose_control(wan_take, engine_main, bundle10, wan_models,
                                                                    tmp_path):
    take, _ = wan_take
    code, _ = engine_main("generate", bundle10, "--out", tmp_path, *wan_models, *GENERATE)
    assert code == 0
    first, again = read_frames(take), read_frames(tmp_path / "take-001-wan-vace-s3")
    assert all(np.array_equal(first[name], again[name]) for name in first)
    code, _ = engine_main("generate", bundle10, "--out", tmp_path, *wan_models, *GENERATE, "--control", "pose=0.8")
    assert code == 0
    record = json.loads((tmp_path / "take-002-wan-vace-s3" / "take.json").read_text())
    assert record["parameters"]["backend_settings"]["control"] == "pose"
    posed = read_frames(tmp_path / "take-002-wan-vace-s3")
    assert not all(np.array_equal(first[name], posed[name]) for name in first)


def test_default_model_is_found_by_hub_id_in_the_local_cache(run_engine, bundle10, tiny_models, tmp_path):
    """The hub cache layout huggingface_hub itself reads: refs/main names a snapshot folder."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf" / "hub" / "models--Wan-AI--Wan2.1-VACE-1.3B-diffusers"
    shutil.copytree(tiny_models["pipeline"], repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    env = {"HF_HOME": str(tmp_path / "hf")}
    listing = run_engine("backends", "--json", env=env)
    wan = next(b for b in json.loads(listing.stdout)["backends"] if b["name"] == "wan-vace")
    assert wan["models"][0]["present"] is True
    out = tmp_path / "takes"
    run = run_engine("generate", bundle10, "--out", out, "--backend", "wan-vace", *GENERATE, env=env)
    assert run.returncode == 0, run.stderr
    model = json.loads((out / "take-001-wan-vace-s3" / "take.json").read_text())["models"]["pipeline"]
    assert model["source"] == "Wan-AI/Wan2.1-VACE-1.3B-diffusers" and model["revision"] == revision


def test_a_bundle_that_cannot_take_control_images_only_warns(engine_main, bundle10, wan_models, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(bundle10, bundle, ignore=shutil.ignore_patterns("controls"))
    (bundle / "controls").write_text("a file where the controls folder would go")
    code, events = engine_main("generate", bundle, "--out", tmp_path / "takes", *wan_models, *GENERATE)
    assert code == 0
    warning = next(e for e in events if e["event"] == "warning")
    assert "could not write control images" in warning["message"]
    assert len(read_frames(tmp_path / "takes" / "take-001-wan-vace-s3")) == 10
