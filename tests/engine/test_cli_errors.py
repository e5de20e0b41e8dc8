"""The command line's checks and error paths: each fails fast, says what to do, loses nothing."""

import json
import shutil
import subprocess
import sys

import pytest
from conftest import REPO_ROOT
from test_request_contract import load_addon_module



def test_check_accepts_an_exported_bundle(run_engine, bundle17):
    run = run_engine("check", bundle17)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok" in run.stdout and "17 frames" in run.stdout


@pytest.mark.parametrize("damage, expected", [
    (lambda root: (root / "depth" / "0005.png").unlink(), "missing depth/0005.png"),
    (lambda root: (root / "bundle.json").write_text("{ not json"), "not valid JSON"),
    (lambda root: (root / "pose" / "0002.json").write_text("[1, 2"), "pose/0002.json is not valid JSON"),
], ids=["missing-frame", "manifest", "pose-json"])
def test_check_and_generate_refuse_a_corrupted_bundle(run_engine, bundle17, tmp_path, animatediff_models,
                                                      damage, expected):
    broken = tmp_path / "broken"
    shutil.copytree(bundle17, broken)
    damage(broken)
    check = run_engine("check", broken)
    assert check.returncode == 1 and expected in check.stdout
    out = tmp_path / "takes"
    run = run_engine("generate", broken, "--out", out, *animatediff_models)
    assert run.returncode == 1 and expected in run.stderr
    assert run.of("error") and expected in run.of("error")[0]["message"]
    assert not out.exists() or not any(out.iterdir())


def test_backends_lists_rules_and_missing_models_with_the_download_command(run_engine):
    run = run_engine("backends", "--json")
    assert run.returncode == 0, run.stderr
    report = {entry["name"]: entry for entry in json.loads(run.stdout)["backends"]}
    assert {"animatediff", "previz", "wan-vace"} <= set(report)
    assert [name for name, entry in report.items() if entry["default"]] == ["previz"]
    assert report["animatediff"]["controls"] == ["depth", "pose"]
    assert report["previz"]["passes"] == ["shading", "depth", "normal", "objects"]  # what the add-on exports for it
    assert report["animatediff"]["passes"] == report["wan-vace"]["passes"] == []
    (previz,) = report["previz"]["models"]
    assert previz["present"] and previz["download"] is None  # shipped in engine/previz/weights
    assert "4k+1" in report["wan-vace"]["frames"] and "16" in report["wan-vace"]["size"]
    # what Continue From Previous Shot reads up front: the backends that can continue a take
    assert {name: entry["carry_frames"] for name, entry in report.items() if entry["carry_frames"]} == {
        "wan-vace": 5, "wan22-vace": 5}
    problem = load_addon_module("engine_report").continue_problem
    listed = json.loads(run.stdout)
    assert problem(listed, "wan-vace") is None and problem(listed, "previz") == (
        "Continue From Previous Shot: the previz backend cannot continue a take — untick Continue From Previous "
        "Shot, or choose wan-vace or wan22-vace as Backend")
    model = report["wan-vace"]["models"][0]
    assert model["present"] is False and "hf download Wan-AI/Wan2.1-VACE-1.3B-diffusers" in model["download"]
    assert "models fetch wan-vace --allow-network" in model["download"]
    text = run_engine("backends")
    assert "missing" in text.stdout and "models fetch wan-vace --allow-network" in text.stdout
    assert "previz (default):" in text.stdout
    assert "needs:    the bundle's shading, depth, normal, objects passes" in text.stdout
    assert "continues: a --continue-from take's last 5 frames lead into the shot" in text.stdout


def test_a_missing_shipped_model_folder_says_to_restore_it_not_to_download_it(tmp_path):
    from engine.backends import ModelRole
    from engine.cli import model_presence

    gone = tmp_path / "weights"
    present, how = model_presence(ModelRole("previz", str(gone), "shipped with Blockcast"))
    assert not present and "hf download" not in how
    assert how == (f"it ships with Blockcast: restore {gone} from the Blockcast repository, "
                   "or pass --model previz=FOLDER")


def test_the_default_backend_names_the_passes_to_export(run_engine, bundle10, tmp_path):
    run = run_engine("generate", bundle10, "--out", tmp_path / "takes")
    assert run.returncode == 1 and "--passes including shading,depth,normal,objects" in run.stderr, run.stderr


def test_missing_model_names_the_model_and_the_download_command(run_engine, bundle17, tmp_path, tiny_models):
    out = tmp_path / "takes"
    run = run_engine("generate", bundle17, "--out", out, "--backend", "animatediff", "--model", f"base={tiny_models['base']}")
    assert run.returncode == 1
    assert "motion_adapter (guoyww/animatediff-motion-adapter-v1-5-3)" in run.stderr
    assert "hf download guoyww/animatediff-motion-adapter-v1-5-3" in run.stderr
    assert "models fetch animatediff --allow-network" in run.stderr
    assert not any(out.iterdir())


def test_model_without_safetensors_is_refused(run_engine, bundle10, tmp_path):
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "model_index.json").write_text("{}")
    (pickled / "diffusion_pytorch_model.bin").write_bytes(b"\0")
    run = run_engine("generate", bundle10, "--out", tmp_path / "takes", "--backend", "wan-vace",
                     "--model", f"pipeline={pickled}")
    assert run.returncode == 1 and "safetensors only" in run.stderr


def test_unwritable_output_is_reported_before_loading(run_engine, bundle17, tmp_path, animatediff_models):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run = run_engine("generate", bundle17, "--out", blocker / "takes", *animatediff_models)
    assert run.returncode == 1 and "cannot write takes to" in run.stderr
    assert not run.of("load") and blocker.read_text() == "not a folder"


@pytest.mark.parametrize("args, expected", [
    (["--control", "camera=1"], "takes no camera control"),
    (["--size", "512x512"], "pick a size with the shot's aspect"),
    (["--model", "unet=/x"], "has no model role unet"),
])
def test_request_errors_are_clear(run_engine, bundle17, tmp_path, animatediff_models, args, expected):
    run = run_engine("generate", bundle17, "--out", tmp_path / "takes", *animatediff_models, *args)
    assert run.returncode == 1 and expected in run.stderr, run.stderr


@pytest.mark.parametrize("args, expected", [
    (["--size", "0x0"], "size '0x0' is not of the form WxH"),
    (["--takes", "0"], "--takes and --steps must be at least 1"),
    (["--steps", "0"], "--takes and --steps must be at least 1"),
    (["--strength", "2"], "--strength 2.0 is outside (0, 1]"),
    (["--seed", "-1"], "--seed -1 is out of range"),
    (["--guidance", "-1"], "--guidance -1.0 must be a number from 0 up"),
    (["--control", "depth=-1"], "control weight 'depth=-1' must be a number from 0 up"),
    (["--control", "depth=nan"], "control weight 'depth=nan' must be a number from 0 up"),
    (["--control", "foo=1"], "'foo' is not a control: choose from depth, pose"),
    (["--control", "depth=abc"], "control weight 'depth=abc' is not NAME=NUMBER"),
    (["--backend", "nope"], "invalid choice: 'nope'"),
], ids=lambda value: value if isinstance(value, str) and value.startswith("--") else None)
def test_a_bad_argument_exits_2_with_one_line(engine_main, bundle10, tmp_path, capsys, args, expected):
    """docs/engine.md: 2 bad arguments (an option's value wrong whatever the bundle); 1 the rest."""
    try:
        code, events = engine_main("generate", bundle10, "--out", tmp_path / "takes", *args)
        message = events[-1]["message"]
        assert [e["event"] for e in events] == ["error"]  # refused before the bundle or any model is read
    except SystemExit as exit_:  # argparse's own refusal
        code, message = exit_.code, capsys.readouterr().err
    assert code == 2 and expected in message, message
    assert not (tmp_path / "takes").exists()


def test_a_runtime_problem_still_exits_1(engine_main, tmp_path):
    code, events = engine_main("generate", tmp_path / "no-bundle", "--out", tmp_path / "takes")
    assert code == 1 and "is not a pass bundle" in events[-1]["message"]


def test_wan_composites_two_controls_only_with_the_actors_silhouettes(run_engine, bundle10, tmp_path, wan_models):
    run = run_engine("generate", bundle10, "--out", tmp_path / "takes", *wan_models, "--control", "depth=1,pose=1")
    assert run.returncode == 1 and "needs the actors' silhouettes" in run.stderr
    assert "--passes including mask" in run.stderr and not (tmp_path / "takes").exists()


def test_the_engine_never_imports_bpy(bundle10, tmp_path, tiny_models, engine_env):
    script = (
        "import sys, engine.cli\n"
        "from engine.cli import main\n"
        f"code = main(['generate', {str(bundle10)!r}, '--out', {str(tmp_path)!r}, '--backend', 'wan-vace',"
        f" '--model', 'pipeline={tiny_models['pipeline']}', '--steps', '1', '--size', '64x36'])\n"
        "assert code == 0, code\n"
        "assert 'bpy' not in sys.modules, 'bpy was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=engine_env, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


def test_actor_descriptions_follow_the_prompt_in_actor_order():
    from engine.bundle.manifest import ActorRecord
    from engine.generate import compose_prompt

    actors = [ActorRecord(name="Ana", description=" a woman in a red coat "), ActorRecord(name="Ben", description=""),
              ActorRecord(name="Cy", description="a boy with a kite")]
    assert compose_prompt("dusk, a quiet street", actors) == "dusk, a quiet street, a woman in a red coat, a boy with a kite"
    assert compose_prompt("", actors[:1]) == "a woman in a red coat"
    assert compose_prompt("only the prompt", []) == "only the prompt"
