"""Cancelling a generation: stops at the next step, removes the unfinished take, keeps the rest."""

import json
import signal
import subprocess
import sys

import pytest
from conftest import REPO_ROOT


def _generate_until(engine_env, args, stop_when, sig):
    """Start `python -m engine generate ARGS`, send `sig` once an event satisfies
    `stop_when`, and return (exit code, events, stderr)."""
    process = subprocess.Popen([sys.executable, "-m", "engine", "generate", *map(str, args)], cwd=REPO_ROOT,
                               env=engine_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events = []
    try:
        for line in process.stdout:
            events.append(json.loads(line))
            if stop_when(events[-1]):
                process.send_signal(sig)
                break
        events.extend(json.loads(line) for line in process.stdout)
        code = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    return code, events, process.stderr.read()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cancel_mid_take_keeps_finished_takes_and_removes_the_unfinished_one(engine_env, bundle10, animatediff_models,
                                                                            tmp_path, sig):
    args = [bundle10, "--out", tmp_path, *animatediff_models, "--steps", "6", "--takes", "3", "--size", "64x36"]

    def second_take_started(event):
        return event["event"] == "step" and event["take"].startswith("take-002") and event["step"] == 1

    code, events, stderr = _generate_until(engine_env, args, second_take_started, sig)
    assert code == 130, stderr
    assert "cancelled" in stderr
    cancelled = [e for e in events if e["event"] == "cancelled"]
    assert [e["take"] for e in cancelled] == ["take-002-animatediff-s1"]
    steps = [e["step"] for e in events if e["event"] == "step" and e["take"].startswith("take-002")]
    assert steps[-1] < 6  # stopped at a step, not after the take
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take-001-animatediff-s0"]  # no partial folder left
    finished = json.loads((tmp_path / "take-001-animatediff-s0" / "take.json").read_text())
    assert finished["status"] == "complete" and len(finished["frames"]) == 10


def test_the_cancel_file_stops_the_take_with_no_signal(engine_env, bundle10, animatediff_models, tmp_path):
    """The portable cancel (what the add-on uses on Windows): the caller only creates a file."""
    cancel_file, out = tmp_path / "cancel", tmp_path / "takes"
    args = ["generate", bundle10, "--out", out, *animatediff_models, "--steps", "6", "--takes", "3", "--size", "64x36",
            f"--cancel-file={cancel_file}"]
    process = subprocess.Popen([sys.executable, "-m", "engine", *map(str, args)], cwd=REPO_ROOT, env=engine_env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events = []
    try:
        for line in process.stdout:
            events.append(json.loads(line))
            if events[-1]["event"] == "step" and events[-1]["take"].startswith("take-002") and events[-1]["step"] == 1:
                cancel_file.write_text("")
                break
        events.extend(json.loads(line) for line in process.stdout)
        code = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 130, process.stderr.read()
    assert [e["take"] for e in events if e["event"] == "cancelled"] == ["take-002-animatediff-s1"]
    assert [e["step"] for e in events if e["event"] == "step" and e["take"].startswith("take-002")][-1] < 6
    assert sorted(p.name for p in out.iterdir()) == ["take-001-animatediff-s0"]


def test_the_addons_cancel_reaches_the_real_engine_through_the_file_alone(engine_env, bundle10, animatediff_models,
                                                                         tmp_path):
    """addon/engine_process.py's EngineProcess (what Blender runs) with a grace period longer than
    the test: no signal is ever sent, the cancel file alone stops the take."""
    import importlib
    import time
    import types

    for dotted, folder in (("bpy_free", REPO_ROOT), ("bpy_free.addon", REPO_ROOT / "addon")):
        if dotted not in sys.modules:
            sys.modules[dotted] = types.ModuleType(dotted)
            sys.modules[dotted].__path__ = [str(folder)]
    ep = importlib.import_module("bpy_free.addon.engine_process")
    setup = ep.EngineSetup(sys.executable, REPO_ROOT)
    out = tmp_path / "takes"
    process = ep.EngineProcess(setup, ["generate", str(bundle10), f"--out={out}", *map(str, animatediff_models),
                                       "--steps=6", "--takes=3", "--size=64x36"], grace_s=3600)
    seen, deadline = [], time.monotonic() + 300
    while (code := process.poll()) is None:
        assert time.monotonic() < deadline
        for event in process.events():
            seen.append(event)
            if event.event == "step" and event.take.startswith("take-002") and event.step == 1:
                process.cancel()
        time.sleep(0.02)
    seen += process.events()
    assert code == 130, process.output_tail()  # exited by itself: a signal would read as negative
    assert [e.take for e in seen if e.event == "cancelled"] == ["take-002-animatediff-s1"]
    assert sorted(p.name for p in out.iterdir()) == ["take-001-animatediff-s0"]
    assert not process.cancel_file.parent.exists()
