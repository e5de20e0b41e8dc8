"""The round trip inside Blender, on real bpy with the real engine as a child process:
Generate → takes as strips → accept, regenerate, review → save and reopen; cancel; failure;
the headless script; the default backend (previz), whose passes Generate adds.

The add-on runs as users get it: the built extension installed into a fresh bpy process
(tests/roundtrip_scenarios.py, one process per scenario); this process then opens the
.blend files it saved. The engine runs the `wan-vace` backend on tiny random-weight models
with the real architecture (engine/random_models.py), found through the add-on's model
folder (MODEL_FOLDER/wan-vace/pipeline), and the default `previz` backend on the weights
Blockcast ships (engine/previz/weights), on a 5-frame 64x36 demo shot.
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENGINE_PYTHON = REPO / ".venv-engine" / "bin" / "python"
SHOT = "Scene"  # the demo scene's camera shot is named after its scene

pytestmark = pytest.mark.skipif(not ENGINE_PYTHON.exists(), reason="needs the engine venv: scripts/setup_env.sh engine")


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _run(command, timeout=300):
    result = subprocess.run([str(c) for c in command], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def model_folders(tmp_path_factory):
    """(working, broken): model folders holding wan-vace/pipeline as tiny real weights, or empty."""
    root = tmp_path_factory.mktemp("models")
    _run([ENGINE_PYTHON, "-c", "import sys; from engine.random_models import save_wan_vace_models; "
                               "save_wan_vace_models(sys.argv[1])", root])
    working, broken = root / "working", root / "broken"
    (working / "wan-vace").mkdir(parents=True)
    (root / "wan-vace").rename(working / "wan-vace" / "pipeline")
    (broken / "wan-vace" / "pipeline").mkdir(parents=True)
    return working, broken


@pytest.fixture(scope="module")
def demo_blend(tmp_path_factory):
    path = tmp_path_factory.mktemp("scene") / "demo.blend"
    _run([sys.executable, REPO / "scripts" / "make_demo_scene.py", "--save", path, "--frames", "5", "--size", "64x36"])
    return path



@pytest.fixture
def scenario(extension_zip, demo_blend, model_folders, tmp_path):
    """Run a scenario of roundtrip_scenarios.py; returns its report."""

    def run(name):
        env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"))
        command = [sys.executable, REPO / "tests" / "roundtrip_scenarios.py", name, extension_zip, REPO, demo_blend,
                   model_folders[0], tmp_path / "takes", tmp_path / "out.blend"]
        result = subprocess.run([str(c) for c in command], capture_output=True, text=True, env=env, timeout=300)
        lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
        assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-3000:]
        return json.loads(lines[0][len("REPORT "):])

    return run


def open_takes(blend):
    """The shot's take strips in a saved .blend (custom properties need no add-on)."""
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(blend))
    editor = bpy.context.scene.sequence_editor
    strips = editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all
    takes = sorted((s for s in strips if s.get("blockcast_shot") == SHOT and s.get("blockcast_take")),
                   key=lambda s: s.channel)
    return editor, takes, [s for s in strips if s.get("blockcast_control")]


def take_folders(tmp_path):
    return sorted(p.name for p in (tmp_path / "takes").rglob("*take-*"))


def test_generate_puts_takes_in_the_sequencer_to_accept_regenerate_review_and_reopen(scenario, model_folders,
                                                                                   tmp_path):
    report = scenario("generate")
    assert report["idname"] == "bl_ext.user_default.blockcast"
    assert report["default_takes_root"] == str(Path(report["user_dir"]) / "takes")
    assert "no engine set up" in report["without_engine"]  # the extension ships no engine
    assert report["generate"] == report["accept"] == report["regenerate"] == report["controls"] == ["FINISHED"]
    assert report["seed_after"] == 2  # Generate again makes new takes
    assert report["mutes_after_accept"] == [False, True]  # the accepted take swapped onto the shot's first channel

    editor, takes, controls = open_takes(tmp_path / "out.blend")
    assert [s.channel for s in takes] == [1, 2, 3] and editor.channels[1].name == SHOT
    assert [editor.channels[c].name for c in (2, 3)] == [f"{SHOT} alt 1", f"{SHOT} alt 2"]
    assert [(s["blockcast_seed"], s.mute) for s in takes] == [(1, False), (0, True), (2, True)]
    for strip in takes:
        take = Path(strip["blockcast_take_json"]).parent
        assert take.name == f"take-00{strip['blockcast_seed'] + 1}-wan-vace-s{strip['blockcast_seed']}"
        assert (strip.frame_final_start, strip.frame_final_end) == (1, 6)
        assert Path(strip.directory) == take / "frames"
        assert [e.filename for e in strip.elements] == [f"{f:04d}.png" for f in range(1, 6)]
        assert all((take / "frames" / e.filename).is_file() for e in strip.elements)
        assert (strip["blockcast_prompt"], strip["blockcast_backend"]) == ("a red kite", "wan-vace")
        assert strip["blockcast_models"].to_dict() == {"pipeline": str(model_folders[0] / "wan-vace" / "pipeline")}
        assert json.loads((take / "take.json").read_text())["seed"] == strip["blockcast_seed"]
    assert takes[2]["blockcast_bundle"] == takes[0]["blockcast_bundle"]  # regenerated from the same passes
    (control,) = controls
    assert (control["blockcast_control"], control.channel, control.frame_final_start, control.mute) == (
        "depth", 4, 1, True)  # above the shot's block (its take channels 1-3)
    assert editor.channels[4].name == f"{SHOT} depth control"


def test_cancel_while_running_leaves_no_half_take_and_no_engine(scenario, tmp_path):
    report = scenario("cancel")
    assert report["step_when_cancelled"] >= 1 and report["takes_when_cancelled"] == 0
    assert report["cancel"] == ["FINISHED"] and report["phase"] == "cancelled"
    assert not report["engine_alive"] and not report["running_job"]
    assert report["strips"] == 0 and take_folders(tmp_path) == []  # not even a hidden partial take
    assert not report["bundle_left"]  # nothing refers to it
    assert any(level == "WARNING" and "cancelled" in message for level, message in report["reports"])


def test_engine_failure_is_reported_in_its_words_and_changes_nothing(scenario, demo_blend, tmp_path):
    before = sha256(demo_blend)
    report = scenario("failure")
    assert "has no weights: the engine loads .safetensors only" in report["generate"]
    assert report["strips"] == 0 and not report["running_job"]
    assert take_folders(tmp_path) == [] and sha256(demo_blend) == before


def test_generate_with_the_default_backend_exports_the_passes_it_needs(scenario):
    """No backend named and no Check Engine: the engine's default (previz, its weights in
    engine/previz/weights) needs shading, normal and objects, which the default passes lack."""
    report = scenario("previz")
    assert report["generate"] == ["FINISHED"] and report["strips"] == 1
    assert not report["report_before"] and "previz" in report["known_backends"]  # asked once, kept
    assert report["chosen"] == ["depth", "pose", "camera"]
    assert report["bundle_passes"] == ["camera", "depth", "normal", "objects", "pose", "shading"]
    assert (report["take"], report["backend"]) == ("take-001-previz-s0", "previz")
    assert report["controls"] == ["depth", "normal", "objects", "shading"]
    assert report["size"] == [64, 36] and report["frames"] == [f"{f:04d}.png" for f in range(1, 6)]


def test_headless_script_does_the_chain_and_never_touches_the_input(demo_blend, model_folders, tmp_path):
    before = sha256(demo_blend)
    out = tmp_path / "out.blend"
    script = [sys.executable, REPO / "scripts" / "shot_to_sequencer.py"]
    options = ["--backend", "wan-vace", "--model-folder", model_folders[0], "--takes-dir", tmp_path / "takes",
               "--steps", "2", "--long-side", "64", "--prompt", "a red kite", "--device", "cpu", "--quiet"]
    result = subprocess.run([str(c) for c in [*script, demo_blend, "--save", out, *options]], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert sha256(demo_blend) == before
    refused = subprocess.run([str(c) for c in [*script, demo_blend, "--save", demo_blend, *options]], cwd=REPO,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1 and "never overwritten" in refused.stderr
    _, (take,), _ = open_takes(out)
    assert (take.channel, take.frame_final_start, take.frame_final_end, take.mute) == (1, 1, 6, False)
    assert take["blockcast_prompt"] == "a red kite" and Path(take["blockcast_take_json"]).is_file()
