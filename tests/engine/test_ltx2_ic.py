"""The ltx2-ic backend: 8k+1 frames and 64-pixel sides mapped back to the shot, the control as an
IC-LoRA reference at the LoRA's downscale, the shot or cast reference at latent index 0, the shot's
frame rate, the soundtrack never decoded, progress and cancel. Tiny random LTX-2.3 models
(engine/random_models_ltx2.py) load through from_pretrained and load_lora_weights; what the
pipeline did is read from torch forward hooks on its real modules."""

import json

import numpy as np
import pytest
from conftest import BLENDER_PYTHON, export_demo_bundle, read_frames
from PIL import Image
from safetensors.torch import save_file

from engine.backends import create
from engine.backends.base import Hooks, Request
from engine.backends.device import Device
from engine.backends.ltx2_ic import (AUDIO_NOTE, CAST_REFERENCE_STRENGTH, SHOT_REFERENCE_STRENGTH, lora_file,
                                     reference_downscale)
from engine.backends.models import ResolvedModel
from engine.progress import Cancelled

SIZE = 64   # generation side: a 2x2 latent grid, the half-size control a 1x1 one


def test_frame_count_rule_rounds_up_to_8k_plus_1_and_sides_to_64():
    backend = create("ltx2-ic")
    assert [backend.model_frames(n) for n in (1, 2, 9, 10, 17, 48)] == [1, 9, 9, 17, 17, 49]
    assert backend.model_size(128, 72, (64, 36)) == (64, 64) and backend.model_size(1920, 1080) == (768, 448)
    assert backend.controls == ("depth", "pose", "edges") and backend.max_controls == 1


def test_reference_downscale_comes_from_the_lora_file_name_else_its_metadata(tmp_path):
    assert [reference_downscale(tmp_path / f"ic-lora-ref{scale}.safetensors") for scale in ("0.5", "1", "0.25")] \
        == [2, 1, 4]
    import torch

    tagged, plain = tmp_path / "tagged.safetensors", tmp_path / "plain.safetensors"
    save_file({"a.lora_A.weight": torch.zeros(1)}, tagged, metadata={"reference_downscale_factor": "2"})
    save_file({"a.lora_A.weight": torch.zeros(1)}, plain)
    assert (reference_downscale(tagged), reference_downscale(plain)) == (2, 1)
    with pytest.raises(ValueError, match="ic_lora=FOLDER"):
        lora_file(tmp_path)  # two safetensors files, neither the union control's name
    quarter = tmp_path / "quarter"
    quarter.mkdir()
    save_file({"a.lora_A.weight": torch.zeros(1)}, quarter / "ic-lora-ref0.25.safetensors")
    models = {"pipeline": ResolvedModel("pipeline", "unused", tmp_path),
              "ic_lora": ResolvedModel("ic_lora", str(quarter), quarter)}
    with pytest.raises(ValueError, match="multiples of 128"):   # refused before any weights load
        create("ltx2-ic").load(models, ["depth"], Device("cpu", "cpu"))


@pytest.fixture(scope="module")
def loaded(ltx2_models):
    """The backend loaded once on the CPU with the tiny models, and forward hooks recording what
    its transformer, VAE encoder and audio decoders were given."""
    backend = create("ltx2-ic")
    backend.load({role: ResolvedModel(role, str(path), path) for role, path in ltx2_models.items()}, ["edges"],
                 Device("cpu", "cpu"))
    seen = {"transformer": [], "encoded": [], "audio": 0}
    pipe = backend.pipe
    pipe.transformer.register_forward_pre_hook(lambda _m, _a, kwargs: seen["transformer"].append(kwargs),
                                               with_kwargs=True)
    pipe.vae.encoder.register_forward_pre_hook(lambda _m, args: seen["encoded"].append(tuple(args[0].shape)))
    for module in (pipe.audio_vae.decoder, pipe.vocoder):
        module.register_forward_pre_hook(lambda *_: seen.__setitem__("audio", seen["audio"] + 1))
    return backend, seen


def request(frames=6, fps=12.0, **extra):
    lines = [Image.fromarray(np.eye(SIZE, dtype=np.uint8)[::-1] * 255).convert("RGB")] * frames
    values = dict(prompt="a red car", negative_prompt="", seed=1, steps=2, guidance=1.0, weights={"edges": 1.0},
                  controls={"edges": lines}, num_frames=frames, width=SIZE, height=SIZE, fps=fps)
    return Request(**{**values, **extra})


def run(loaded, **extra):
    backend, seen = loaded
    for key in ("transformer", "encoded"):
        seen[key].clear()
    seen["audio"] = 0
    steps = []
    video = backend.generate(request(**extra), Hooks(on_step=lambda step, total: steps.append((step, total))))
    return video, seen, steps


def test_the_control_is_a_half_size_reference_the_frame_rate_reaches_the_model_and_audio_is_dropped(loaded):
    video, seen, steps = run(loaded)
    assert video.shape == (6, SIZE, SIZE, 3) and video.dtype == np.uint8
    assert steps == [(1, 2), (2, 2)]
    # The control video, padded to 9 frames, is encoded at half the generation size (the LoRA's ref0.5).
    assert seen["encoded"] == [(1, 3, 9, SIZE // 2, SIZE // 2)]
    call = seen["transformer"][0]
    assert call["fps"] == 12.0 and (call["num_frames"], call["height"], call["width"]) == (2, 2, 2)
    # 2 latent frames x 2 x 2 generated tokens, then the 2 x 1 x 1 reference tokens, which stay clean.
    timestep = call["timestep"][0]
    assert timestep.shape == (8 + 2,) and bool((timestep[:8] > 0).all()) and bool((timestep[8:] == 0).all())
    settings = loaded[0].settings
    assert settings["reference_downscale_factor"] == 2 and settings["frame_rate"] == 12.0
    assert settings["control"] == "edges" and settings["first_frame"] is None
    # The soundtrack LTX-2 denoises alongside is never decoded (no audio VAE decoder, no vocoder), and the take says so.
    assert seen["audio"] == 0 and settings["audio"].startswith("not decoded")
    assert AUDIO_NOTE in loaded[0].take_notes().ignored


def test_the_shot_reference_is_the_first_frame_at_full_strength(loaded):
    grey = Image.new("RGB", (90, 40), (200, 120, 40))   # any shape: the pipeline fills and centre-crops it
    _video, seen, _steps = run(loaded, shot_reference=grey)
    assert seen["encoded"][0] == (1, 3, 1, SIZE, SIZE)  # the image, one frame at the generation size
    timestep = seen["transformer"][0]["timestep"][0]
    first_frame_tokens = timestep[:4]
    assert SHOT_REFERENCE_STRENGTH == 1.0 and bool((first_frame_tokens == 0).all()) and bool((timestep[4:8] > 0).all())
    assert loaded[0].settings["first_frame"] == "shot reference"


def test_without_a_shot_reference_a_cast_reference_seen_in_the_shot_is_the_first_frame(loaded):
    from engine.bundle.cast import Cast, CastMember

    cast = Cast(members=(CastMember("Ann", "actor", ("Ann",)), CastMember("Bob", "actor", ("Bob",))))
    ids = [Image.fromarray(np.full((SIZE, SIZE), 2, np.uint16))] * 6   # only Bob (object id 2) is in the shot
    references = {"Ann": [Image.new("RGB", (20, 20), "red")], "Bob": [Image.new("RGB", (20, 20), "blue")]}
    backend, seen = loaded
    _video, seen, _steps = run(loaded, cast=cast, object_names=["Ann", "Bob"], references=references,
                               controls={**request().controls, "objects": ids})
    timestep, step_one = seen["transformer"][0]["timestep"][0], seen["transformer"][0]["timestep"][0][4]
    assert timestep[:4].tolist() == pytest.approx([float(step_one) * (1 - CAST_REFERENCE_STRENGTH)] * 4, rel=1e-4)
    assert backend.settings["first_frame"] == "Bob's reference"
    assert any("Ann's reference" in note for note in backend.take_notes().ignored)


def test_cancel_stops_at_a_step(loaded):
    backend, _seen = loaded
    steps = []

    def cancel():
        if steps:
            raise Cancelled("cancelled by the test")

    with pytest.raises(Cancelled):
        backend.generate(request(), Hooks(on_step=lambda step, total: steps.append(step), check_cancel=cancel))
    assert steps == [1]


@pytest.fixture(scope="module")
def edges_bundle(demo_blend, tmp_path_factory):
    """Frames 3-12 (10 frames, rounded up to 17) with the passes the edges control is made from."""
    if not BLENDER_PYTHON.exists():
        pytest.skip("needs the Blender venv to export bundles")
    return export_demo_bundle(tmp_path_factory, demo_blend, "shot_edges", "depth,objects", frames="3-12")


def test_a_take_through_the_engine_has_the_shots_frames_and_writes_its_control(engine_main, edges_bundle,
                                                                            ltx2_models, tmp_path, capsys):
    models = [arg for role, path in ltx2_models.items() for arg in ("--model", f"{role}={path}")]
    code, events = engine_main("generate", edges_bundle, "--out", tmp_path, "--backend", "ltx2-ic", *models,
                               "--control", "edges=0.8", "--steps", "2", "--size", "64x36", "--seed", "4",
                               "--prompt", "two people in a studio")
    assert code == 0, events
    take = tmp_path / "take-001-ltx2-ic-s4"
    frames = read_frames(take)
    assert list(frames) == [f"{n:04d}.png" for n in range(3, 13)] and frames["0003.png"].shape == (72, 128, 3)
    record = json.loads((take / "take.json").read_text())
    bundle = json.loads((edges_bundle / "bundle.json").read_text())
    params = record["parameters"]
    assert params["model_frames"] == 17 and params["generation_size"] == [64, 64]
    assert params["backend_settings"]["frame_rate"] == bundle["shot"]["fps"]
    assert params["backend_settings"]["conditioning_attention_strength"] == 0.8
    assert AUDIO_NOTE in record["ignored"]
    assert record["models"]["ic_lora"]["file_hashes"]
    assert sorted(p.name for p in (edges_bundle / "controls" / "edges").iterdir())[0] == "0003.png"

    from engine.cli import main

    capsys.readouterr()
    assert main(["backends", "--json"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)["backends"]}
    assert listed["ltx2-ic"]["controls"] == ["depth", "pose", "edges"]
