"""Fixtures for the farm tests: real jobs, run by real job runtimes, on a tiny two-shot .blend.

These tests run in the farm venv (`.venv-farm/bin/python -m pytest tests/farm`), which has
Open Job Description's CLI; every task is a separate process in the venv a farm worker would
use: the Blender venv (.venv, through scripts/bpy-blender) exports and assembles, the engine
venv (.venv-engine) merges and generates, with tiny random-weight models of the real
architectures (engine/random_models.py). Nothing is mocked.
"""

import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))
BLENDER_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
ENGINE_PYTHON = REPO_ROOT / ".venv-engine" / "bin" / "python"
BPY_BLENDER = REPO_ROOT / "scripts" / "bpy-blender"
OPENJD = Path(sys.executable).parent / "openjd"
SHOT_MARKERS = (("sh010", 1), ("sh 020", 4))  # two shots of 3 frames; the second name needs a safe folder name

if importlib.util.find_spec("openjd") is None:  # e.g. the Blender venv running all of tests/
    collect_ignore_glob = ["test_*.py"]

ADD_MARKERS = """
import sys, bpy
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
scene = bpy.context.scene
for name, frame in {markers!r}:
    scene.timeline_markers.new(name, frame=frame).camera = scene.camera
bpy.ops.wm.save_mainfile()
"""


def run(command, timeout=300, **kwargs):
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=timeout, **kwargs)


def check(result):
    assert result.returncode == 0, (f"{result.args} failed ({result.returncode}):\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="session")
def venvs():
    missing = [p for p in (BLENDER_PYTHON, ENGINE_PYTHON) if not p.exists()]
    if missing:
        pytest.skip(f"needs {', '.join(map(str, missing))}: scripts/setup_env.sh blender engine")


@pytest.fixture(scope="session")
def two_shot_blend(venvs, tmp_path_factory):
    """The demo scene, 6 frames at 64x36, cut into two camera-bound marker shots."""
    path = tmp_path_factory.mktemp("scene") / "demo.blend"
    check(run([BLENDER_PYTHON, REPO_ROOT / "scripts" / "make_demo_scene.py", "--save", path, "--frames", "6",
               "--size", "64x36"], cwd=REPO_ROOT))
    check(run([BLENDER_PYTHON, "-c", ADD_MARKERS.format(markers=SHOT_MARKERS), path]))
    return path


@pytest.fixture(scope="session")
def tiny_models(venvs, tmp_path_factory):
    """['ROLE=PATH', ...] for AnimateDiff's roles, saved by the engine venv."""
    root = tmp_path_factory.mktemp("models")
    code = ("import json, sys; from engine.random_models import save_animatediff_models; "
            "print(json.dumps({k: str(v) for k, v in save_animatediff_models(sys.argv[1]).items()}))")
    models = json.loads(check(run([ENGINE_PYTHON, "-c", code, root], cwd=REPO_ROOT)).stdout.splitlines()[-1])
    return [f"{role}={path}" for role, path in models.items()]


@pytest.fixture(scope="session")
def farm_env(tmp_path_factory):
    """Task environment: an empty Hugging Face cache, offline; runtimes' temp files kept in pytest's."""
    return dict(os.environ, HF_HOME=str(tmp_path_factory.mktemp("hf-home")), HF_HUB_OFFLINE="1",
                TMPDIR=str(tmp_path_factory.mktemp("tmp")))


def tiny_job_args(tiny_models):
    """make_openjd options for a job that a 2-core CPU runs in well under a minute: AnimateDiff with
    tiny models, whose default passes need no Cycles render (the default backend, previz, does)."""
    return ["--backend", "animatediff", "--chunk", "2", "--takes", "1", "--steps", "2", "--generation-size", "64x36",
            "--allow-cpu-generation", "--blender", BPY_BLENDER,
            *(arg for model in tiny_models for arg in ("--model", model))]


def make_openjd(blend, job_dir, *args):
    return run([BLENDER_PYTHON, REPO_ROOT / "scripts" / "make_openjd.py", blend, "--out", job_dir, *args],
               cwd=REPO_ROOT)


def openjd_run(job_dir, env, *args, timeout=300):
    return run([OPENJD, "run", "template.json", "-p", "file://parameters.json", *args], cwd=job_dir, env=env,
               timeout=timeout)


def descendants(pid):
    """Every process below `pid` (Linux /proc), to kill a task the way a crashed worker dies."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill_tree(process):
    for pid in [*descendants(process.pid), process.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=60)


RECORD_KEYS = ("take", "status", "seed", "backend", "prompt", "parameters", "frames")


def file_hashes(root, skip=()):
    """{relative path: sha256} of the files under root, leaving out `skip` folders."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and not set(p.relative_to(root).parts) & set(skip)}


def take_records(output):
    """{take path: (its record's lasting fields, its frames' bytes)} under output/takes."""
    found = {}
    for record_path in sorted((output / "takes").glob("*/*/take-*/take.json")):
        record = json.loads(record_path.read_text())
        kept = {key: record[key] for key in RECORD_KEYS} | {"bundle_hash": record["bundle"]["hash"]}
        found[str(record_path.parent.relative_to(output))] = (kept, file_hashes(record_path.parent / "frames"))
    return found


@pytest.fixture(scope="session")
def finished_job(two_shot_blend, tiny_models, farm_env, tmp_path_factory):
    """A 2-shot job written by make_openjd and run whole by `openjd run`, uninterrupted."""
    job_dir = tmp_path_factory.mktemp("finished") / "job"
    check(make_openjd(two_shot_blend, job_dir, *tiny_job_args(tiny_models)))
    result = check(openjd_run(job_dir, farm_env))
    return job_dir, result
