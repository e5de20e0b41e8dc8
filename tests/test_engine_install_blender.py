"""Preferences ▸ Set Up Engine end to end in real bpy with the built extension installed into a
user folder with a space and non-ASCII letters: offline it only shows the commands; a failed
install keeps the previous engine; from a local wheel folder (no network) it installs the
engine the zip carries, and Check Engine and a previz Generate run on that engine.
Slow: it fills the wheel cache once (tests/engine_wheels.py) and installs torch (minutes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from engine_wheels import wheel_cache

REPO = Path(__file__).resolve().parents[1]

def _run(command, timeout=600, **options):
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=timeout, **options)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def _scenario(extension_zip, tmp_path, wheels, empty, blend, takes, *mode, timeout=1800):
    user = tmp_path / "Zoë's Blender user"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["BLENDER_USER_RESOURCES"] = str(user)
    result = _run([sys.executable, REPO / "tests" / "engine_install_scenario.py", extension_zip, wheels, empty, blend,
                   takes, *mode], timeout=timeout, env=env, cwd=tmp_path)
    return user, json.loads(next(line for line in result.stdout.splitlines() if line.startswith("REPORT "))[7:])


def _check_offline(offline, wheels):
    assert offline["result"] == ["CANCELLED"] and offline["engines"] == [] and offline["engine_python"] == ""
    assert "Online access is off" in offline["line"]
    commands = offline["commands"]
    assert len(commands) == 4 and " -m venv " in commands[0] and "torch==2.14.1" in commands[1]
    assert f"--find-links '{wheels}'" in commands[1] or f"--find-links {wheels}" in commands[1]
    assert "engine_wheel/blockcast_engine-" in commands[2] and "bin/blockcast-engine" in commands[3]
    assert commands[3].endswith(" backends")


def test_with_online_access_off_set_up_engine_installs_nothing_and_shows_the_commands(extension_zip, tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _, report = _scenario(extension_zip, tmp_path, wheels, wheels, "", tmp_path, "offline-only", timeout=300)
    _check_offline(report["offline"], wheels)


@pytest.mark.slow
def test_set_up_engine_from_a_local_wheel_folder_then_check_and_generate(extension_zip, tmp_path):
    wheels = wheel_cache()
    blend = tmp_path / "demo.blend"
    _run([sys.executable, REPO / "scripts" / "make_demo_scene.py", "--save", blend, "--frames", "3", "--size", "64x36"],
         cwd=REPO)
    empty, takes = tmp_path / "no wheels", tmp_path / "takes"
    empty.mkdir()
    takes.mkdir()
    user, report = _scenario(extension_zip, tmp_path, wheels, empty, blend, takes)
    offline, failed, installed = report["offline"], report["failed"], report["installed"]
    _check_offline(offline, wheels)

    assert "failed" in failed["result"] and failed["engines"] == [] and failed["engine_python"] == ""
    assert "Installing torch" in failed["line"]

    assert installed["result"] == ["FINISHED"], installed["line"]
    assert len(installed["engines"]) == 1
    python = Path(installed["engine_python"])
    assert python == Path(report["engines_folder"]) / installed["engines"][0] / "bin" / "python"
    assert str(user) in str(python) and installed["engine_dir"] == "None"  # the installed engine, no checkout
    print(f"Set Up Engine from the local wheel folder: {installed['seconds']} s")

    assert report["check"] == ["FINISHED"] and report["check_error"] is None
    assert "previz" in report["backends"]
    assert report["generate"] == ["FINISHED"], report
    assert [t for t in report["takes"] if "take-001-previz" in t], report["takes"]
