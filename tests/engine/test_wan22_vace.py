"""wan22-vace end to end on the tiny two-expert pipeline: both experts across the boundary, the
low-noise guidance, the depth+pose composite, cast references, carried-over keep frames and the
4k+1 rule mapped back to the shot. (Progress and cancel: test_backend_contract.py.)"""

import json
import shutil

import numpy as np
import pytest
from conftest import read_frames
from PIL import Image

from engine.backends import create
from engine.backends.device import Device
from engine.backends.models import ResolvedModel
from engine.bundle.cast import Cast, CastMember
from engine.bundle.request import GenerateRequest
from engine.bundle.take_record import read_take
from engine.generate import Generation, RequestError
from test_backend_contract import Recorder
from test_request_contract import load_addon_module


class Loaded(dict):
    """A warm service's loaded backends, holding one backend loaded beforehand (so hooks can be put on it)."""

    def __init__(self, backend):
        super().__init__()
        self.backend = backend

    def get(self, key):
        return self.backend


@pytest.fixture(scope="module")
def loaded(wan22_models):
    """The backend loaded once for the depth+pose composite (the module's takes all use it)."""
    backend = create("wan22-vace")
    backend.load({"pipeline": ResolvedModel("pipeline", str(wan22_models), wan22_models)}, ["depth", "pose"],
                 Device("cpu", "cpu"))
    backend.folder = wan22_models
    return backend


COMPOSITE = {"depth": 1.0, "pose": 0.5}


def take(bundle, out, backend, **fields):
    """One take through the engine's Generation with `backend`, already loaded (its models' folder)."""
    request = GenerateRequest(backend="wan22-vace", prompt="two people", steps=2, size=(32, 18), seed=4,
                              models={"pipeline": str(backend.folder)}, controls=COMPOSITE, **fields)
    recorder = Recorder()
    (path,) = Generation(request, bundle, out, recorder, recorder, loaded_backends=Loaded(backend)).run()
    return path, json.loads((path / "take.json").read_text()), recorder


def test_frame_rule_and_what_it_declares():
    backend = create("wan22-vace")
    assert [backend.model_frames(n) for n in (1, 6, 11, 13, 81)] == [1, 9, 13, 13, 81]
    assert backend.roles[0].default_id == "linoyts/Wan2.2-VACE-Fun-14B-diffusers"
    for shared in (backend, create("wan-vace")):  # the composite and the carry-over are VaceBackend's
        assert shared.max_controls == 2 and shared.carry_frames == 5 and shared.size_multiple == 16
        assert shared.bundle_problem(None, {"depth": 1.0}) is None


def with_reference(source, bundle):
    """A copy of `source` whose cast gives the first actor (its body objects) a reference image."""
    shutil.copytree(source, bundle, ignore=shutil.ignore_patterns("controls"))
    (bundle / "cast").mkdir()
    Image.new("RGB", (40, 60), (200, 30, 30)).save(bundle / "cast" / "a.png")
    manifest = json.loads((bundle / "bundle.json").read_text())
    actor = manifest["actors"][0]
    body = tuple(name for name in manifest["passes"]["objects"]["objects"] if name.startswith(actor["object"]))
    manifest["cast"] = Cast(members=(CastMember(actor["name"], "actor", body, "", ("cast/a.png",)),)).to_json()
    (bundle / "bundle.json").write_text(json.dumps(manifest))
    return actor["name"]


@pytest.fixture(scope="module")
def first_take(bundle_actors, loaded, tmp_path_factory):
    """A take on the depth+pose composite of a bundle whose cast has a reference, with both
    experts counted by forward hooks."""
    bundle = tmp_path_factory.mktemp("bundle") / "with_reference"
    actor = with_reference(bundle_actors, bundle)
    calls = {"transformer": 0, "transformer_2": 0}
    hooks = [getattr(loaded.pipe, name).register_forward_hook(
        lambda _module, _args, _out, name=name: calls.__setitem__(name, calls[name] + 1)) for name in calls]
    try:
        path, record, recorder = take(bundle, tmp_path_factory.mktemp("takes"), loaded, guidance=4.0)
    finally:
        for hook in hooks:
            hook.remove()
    return path, record, calls, bundle, actor, recorder


def test_both_experts_run_across_the_boundary_with_their_own_guidance(first_take, loaded):
    path, record, calls = first_take[:3]
    settings = record["parameters"]["backend_settings"]
    # 2 steps, flow shift 3: t = 1000 (>= 875: high noise), then 750 (low noise); guidance > 1 runs each twice.
    assert calls == {"transformer": 2, "transformer_2": 2}
    assert settings["expert_steps"] == {"transformer": 1, "transformer_2": 1} and settings["boundary_ratio"] == 0.875
    assert loaded.pipe._guidance_scale == 4.0 and loaded.pipe._guidance_scale_2 == settings["guidance_scale_2"] == 3.0
    frames = read_frames(path)
    assert list(frames) == [f"{n:04d}.png" for n in range(3, 9)]
    assert {f.shape for f in frames.values()} == {(72, 128, 3)}
    assert record["parameters"]["model_frames"] == 9 and settings["video_frames"] == 9
    assert record["parameters"]["generation_size"] == [32, 16]


def test_the_composite_control_with_the_casts_reference(first_take):
    """Depth and pose become one composite video (kept for review); the cast's reference reaches
    the pipeline's reference_images, as in wan-vace."""
    _path, record, _calls, bundle, actor, recorder = first_take
    settings = record["parameters"]["backend_settings"]
    assert settings["control"] == "composite" and settings["conditioning_scale"] == 1.0
    assert record["parameters"]["controls"] == COMPOSITE
    assert any("one weight, the larger (1.0)" in line for line in record["ignored"])
    review = sorted((bundle / "controls" / "composite").iterdir())
    assert [p.name for p in review] == [f"{n:04d}.png" for n in range(3, 9)]
    pixels = np.asarray(Image.open(review[0]))
    assert (pixels.max(axis=2) != pixels.min(axis=2)).any()  # colour: skeletons over grey depth
    assert "composite" in next(e for e in recorder.events if e["event"] == "controls")["kinds"]
    assert settings["references"] == {actor: 1} and settings["reference_latent_frames"] == 1
    assert record["references"] == {actor: ["cast/a.png"]}


def test_depth_and_pose_without_silhouettes_are_refused_before_loading(bundle10, wan22_models, tmp_path):
    request = GenerateRequest(backend="wan22-vace", controls={"depth": 1.0, "pose": 1.0},
                              models={"pipeline": str(wan22_models)})
    with pytest.raises(RequestError, match="--passes including mask"):
        Generation(request, bundle10, tmp_path / "takes", Recorder(), Recorder())


def test_the_previous_take_carries_over_as_kept_frames(first_take, bundle_actors, loaded, tmp_path):
    path, record, _ = take(bundle_actors, tmp_path, loaded, continue_from=str(first_take[0]))
    settings = record["parameters"]["backend_settings"]
    assert settings["carried_over_frames"] == 5 and settings["video_frames"] == 13  # 5 + 6 -> 4k+1
    assert list(read_frames(path)) == [f"{n:04d}.png" for n in range(3, 9)]      # the shot's frames, no more
    # take.json 1.1 records what it continued from, so Regenerate asks for the same take again
    assert record["schema_version"] == "1.1" and "continued_from" not in first_take[1]
    assert record["continued_from"] == {"take": str(first_take[0]), "frames": 5}
    assert read_take(path).request().continue_from == str(first_take[0])


def test_keep_frames_go_first_with_a_black_mask():
    backend = create("wan22-vace")
    backend.control = "depth"
    carried = [Image.new("RGB", (32, 16), (i, 0, 0)) for i in range(5)]
    controls = [Image.new("RGB", (32, 16), (0, 0, i)) for i in range(6)]
    request = type("R", (), dict(controls={"depth": controls}, carry_over=carried, num_frames=6, width=32,
                                 height=16))()
    video, mask, kept = backend.video_and_mask(request)
    assert kept == 5 and len(video) == len(mask) == 13
    assert video[:5] == carried and video[5:11] == controls and video[11:] == [controls[-1]] * 2
    assert [np.asarray(m).max() for m in mask] == [0] * 5 + [255] * 8


def test_continue_from_is_checked_before_loading(bundle_actors, first_take, wan22_models, tmp_path):
    previous = first_take[0]
    cases = [("wan22-vace", tmp_path / "nowhere", "not a take folder"),
             ("previz", previous, "previz cannot continue a take")]
    damaged = tmp_path / "damaged"
    shutil.copytree(previous, damaged)
    record = json.loads((damaged / "take.json").read_text())
    record["frames"][-1] = "../../outside.png"
    (damaged / "take.json").write_text(json.dumps(record))
    cases.append(("wan22-vace", damaged, "not a file inside the take folder"))
    refused = {}
    for backend, folder, words in cases:
        models = {"pipeline": str(wan22_models)} if backend == "wan22-vace" else {}
        request = GenerateRequest(backend=backend, continue_from=str(folder), models=models)
        recorder = Recorder()
        with pytest.raises(RequestError, match=words) as caught:
            Generation(request, bundle_actors, tmp_path / "takes", recorder, recorder)
        assert recorder.events == []
        refused[backend] = str(caught.value)
    # where the add-on shows engine errors, the CLI refusal of a backend that cannot continue reads in
    # the panel's words; others stay the engine's
    in_panel_words = load_addon_module("engine_report").in_panel_words
    assert in_panel_words(refused["previz"]) == (
        "Continue From Previous Shot: the previz backend cannot continue a take — untick Continue From Previous "
        "Shot, or choose a backend that can (e.g. wan-vace) as Backend")
    assert in_panel_words(refused["wan22-vace"]) == refused["wan22-vace"]
