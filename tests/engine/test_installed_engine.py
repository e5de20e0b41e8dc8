"""The engine as a user installs it: the built wheel pip-installed into a fresh virtual
environment from a local wheel folder (no index), then `blockcast-engine backends` and a
previz take run from another folder with PYTHONPATH unset, so nothing from the checkout is on
the path. Slow: it fills the wheel cache once (tests/engine_wheels.py) and installs torch."""

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tests"))
from engine_wheels import ENGINE_PYTHON, engine_wheel, wheel_cache  # noqa: E402

pytestmark = pytest.mark.slow


def _run(command, timeout=1200, **options):
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=timeout, **options)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def test_the_wheel_installs_into_a_fresh_environment_and_makes_a_previz_take(previz_shots, tmp_path):
    wheels, wheel = wheel_cache(), engine_wheel(tmp_path / "dist")
    venv = tmp_path / "fresh engine é"
    _run([ENGINE_PYTHON, "-m", "venv", venv])
    started = time.monotonic()
    _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-index", "--find-links", wheels,
          f"{wheel}[serve]"])
    print(f"pip install of the engine wheel and its pins: {time.monotonic() - started:.0f} s")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(HF_HOME=str(tmp_path / "hf-home"), HF_HUB_OFFLINE="1")
    where = _run([venv / "bin" / "python", "-c", "import engine; print(engine.__file__)"], cwd=elsewhere, env=env)
    assert where.stdout.strip().startswith(str(venv)), where.stdout  # the installed package, not the checkout's

    listing = json.loads(_run([venv / "bin" / "blockcast-engine", "backends", "--json"], cwd=elsewhere,
                              env=env).stdout)
    previz = next(entry for entry in listing["backends"] if entry["name"] == "previz")
    assert previz["default"] and all(model["present"] for model in previz["models"])  # weights inside the wheel
    assert str(venv) in previz["models"][0]["default"]

    out = tmp_path / "takes"
    _run([venv / "bin" / "blockcast-engine", "generate", previz_shots[0], "--out", out, "--steps", "2", "--device", "cpu"],
         cwd=elsewhere, env=env)
    (take,) = out.iterdir()
    record = json.loads((take / "take.json").read_text())
    assert take.name.startswith("take-001-previz") and record["status"] == "complete"
    assert len(record["frames"]) == 6
    assert _run([venv / "bin" / "python", "-m", "engine", "--version"], cwd=elsewhere, env=env).stdout.startswith(
        "blockcast engine")
