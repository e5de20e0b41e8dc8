"""Fixtures for the engine tests: real exported bundles and tiny random-weight models.

The engine talks to Blender only through files and processes, so the bundles come from
the real exporter run with the Blender venv (.venv) as a subprocess; the models are real
diffusers architectures with tiny configs, saved and loaded through `from_pretrained`.
These tests need the engine venv: `.venv-engine/bin/python -m pytest tests/engine`.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))
BLENDER_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"

if importlib.util.find_spec("diffusers") is None:  # e.g. the Blender venv running all of tests/
    collect_ignore_glob = ["test_*.py"]


def _run(command, timeout=300):
    result = subprocess.run([str(c) for c in command], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="session", autouse=True)
def private_hash_cache(tmp_path_factory):
    """Keep the model file-hash cache of in-process runs out of the user's ~/.cache."""
    os.environ["BLOCKCAST_CACHE"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def demo_blend(tmp_path_factory):
    if not BLENDER_PYTHON.exists():
        pytest.skip("needs the Blender venv to export bundles: scripts/setup_env.sh blender")
    path = tmp_path_factory.mktemp("scene") / "demo.blend"
    _run([BLENDER_PYTHON, "scripts/make_demo_scene.py", "--save", path, "--frames", "17", "--size", "128x72"])
    return path


def export_demo_bundle(tmp_path_factory, demo_blend, name, passes, frames=None, size=None):
    """The demo scene's `passes` (and `frames` "A-B", else all; at `size` "WxH", else 128x72) exported
    by scripts/export_passes.py into a fresh folder named `name`, as the add-on's headless export writes them."""
    out = tmp_path_factory.mktemp("bundles") / name
    _run([BLENDER_PYTHON, "scripts/export_passes.py", demo_blend, "--out", out,
          *(["--frames", frames] if frames else []), *(["--size", size] if size else []), "--passes", passes, "--quiet"])
    return out


@pytest.fixture(scope="session")
def bundle17(demo_blend, tmp_path_factory):
    """17 frames (one past AnimateDiff's 16-frame context) with a shading pass, at 128x72."""
    return export_demo_bundle(tmp_path_factory, demo_blend, "shot17", "depth,pose,camera,shading")


@pytest.fixture(scope="session")
def bundle10(demo_blend, tmp_path_factory):
    """Frames 3-12: 10 frames, which Wan must round up to 13 (4k+1) and map back."""
    return export_demo_bundle(tmp_path_factory, demo_blend, "shot10", "depth,pose,camera", frames="3-12")


@pytest.fixture(scope="session")
def previz_shots(tmp_path_factory):
    """Two held-out shots of the previz dataset generator (6 frames at 112x64): different
    cameras and objects, the same object names, for the previz and cast tests."""
    if not BLENDER_PYTHON.exists():
        pytest.skip("needs the Blender venv to render test shots: scripts/setup_env.sh blender")
    out = tmp_path_factory.mktemp("previz-shots")
    _run([BLENDER_PYTHON, "scripts/make_previz_dataset.py", "--out", out, "--clips", "2", "--first-seed", "990000",
          "--frames", "6", "--size", "112x64", "--beauty-samples", "1"])
    return [path / "bundle" for path in sorted(out.glob("clip_*"))]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    from engine.random_models import save_animatediff_models, save_wan_vace_models

    root = tmp_path_factory.mktemp("models")
    return {**save_animatediff_models(root), **save_wan_vace_models(root)}


@pytest.fixture(scope="session")
def ltx2_models(tmp_path_factory):
    """Tiny LTX-2.3 pipeline and IC-LoRA folders (engine/random_models_ltx2.py): {"pipeline", "ic_lora"}."""
    pytest.importorskip("peft", reason="the ltx2-ic IC-LoRA loads through PEFT: install requirements-engine.txt")
    from engine.random_models_ltx2 import save_ltx2_models

    return save_ltx2_models(tmp_path_factory.mktemp("ltx2-models"))


@pytest.fixture(scope="session")
def animatediff_models(tiny_models):
    roles = ("base", "motion_adapter", "controlnet_depth", "controlnet_pose")
    return ["--backend", "animatediff"] + [arg for role in roles for arg in ("--model", f"{role}={tiny_models[role]}")]


@pytest.fixture(scope="session")
def wan_models(tiny_models):
    return ["--backend", "wan-vace", "--model", f"pipeline={tiny_models['pipeline']}"]


@pytest.fixture(scope="session")
def engine_env(tmp_path_factory, private_hash_cache):
    """Environment for engine subprocesses: an empty Hugging Face cache, offline."""
    env = dict(os.environ)
    env.update(HF_HOME=str(tmp_path_factory.mktemp("hf-home")), HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO_ROOT))
    return env


class EngineRun:
    def __init__(self, result):
        self.returncode, self.stdout, self.stderr = result.returncode, result.stdout, result.stderr
        self.events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{\"event\"")]

    def of(self, kind):
        return [event for event in self.events if event["event"] == kind]


@pytest.fixture(scope="session")
def run_engine(engine_env):
    """Run `python -m engine ARGS` in a subprocess; returns an EngineRun."""

    def run(*args, timeout=300, env=None):
        result = subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=REPO_ROOT,
                                env={**engine_env, **(env or {})}, capture_output=True, text=True, timeout=timeout)
        return EngineRun(result)

    return run


def read_frames(take_dir):
    """{file name: RGB array} of a take's frames."""
    from PIL import Image

    return {p.name: np.asarray(Image.open(p)) for p in sorted((Path(take_dir) / "frames").iterdir())}


def _in_process(read_stdout):
    from engine.cli import main

    def run(*args):
        code = main([str(a) for a in args])
        return code, [json.loads(line) for line in read_stdout().splitlines() if line.startswith('{"event"')]

    return run


@pytest.fixture
def engine_main(capsys):
    """Run the CLI in this process (no interpreter start-up); returns (exit code, events)."""
    return _in_process(lambda: capsys.readouterr().out)


@pytest.fixture(scope="module")
def engine_main_module():
    """engine_main for module-scoped fixtures: stdout captured by redirection."""
    import contextlib
    import io

    buffer = io.StringIO()

    def read():
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    with contextlib.redirect_stdout(buffer):
        yield _in_process(read)


@pytest.fixture(scope="session")
def bundle_actors(demo_blend, tmp_path_factory):
    """Frames 3-8 (6: 4k+1 backends pad them) with the actors' silhouettes (mask, objects) beside
    depth and pose, for the VACE depth+pose composite."""
    return export_demo_bundle(tmp_path_factory, demo_blend,
                              "shot_actors", "depth,pose,camera,mask,objects", frames="3-8")


@pytest.fixture(scope="session")
def wan22_models(tmp_path_factory):
    """The tiny two-expert Wan 2.2 VACE pipeline folder (engine/random_models_wan22.py)."""
    from engine.random_models_wan22 import save_wan22_vace_models

    return save_wan22_vace_models(tmp_path_factory.mktemp("models-wan22"))["pipeline"]
