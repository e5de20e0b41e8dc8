"""The add-on's bpy-free engine plumbing: command lines, events, progress, stopping the child.

These modules are loaded without bpy, as Blender-free code (tests/engine/test_bpy_free.py
guards that every add-on core module imports without Blender).
Process control is tested with real child processes: a stand-in `engine` package that
prints events and handles signals the way the engine does (engine/progress.py); the real
engine is only asked `backends --json` here (tests/test_roundtrip.py runs generations).
"""

import importlib.util
import os
import signal
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest
from bpy_free_modules import load_bpy_free

REPO = Path(__file__).resolve().parents[1]
ENGINE_PYTHON = REPO / ".venv-engine" / "bin" / "python"




ep = load_bpy_free("engine_process")
rep = load_bpy_free("engine_report")
req = load_bpy_free("engine_request")
gp = load_bpy_free("generation_progress")
events = importlib.import_module("bpy_free.engine.bundle.events")  # the event records, as the add-on loaded them
TakeRecord = importlib.import_module("bpy_free.engine.bundle.take_record").TakeRecord  # the add-on's take record


class PanelSettings(types.SimpleNamespace):
    """A shot's Generate panel settings as scene.blockcast keeps them (addon/ui/properties.py)."""

    def weights(self):
        return dict(self.chosen_weights)


def panel_settings(**changes):
    values = {"prompt": "a kite", "negative_prompt": "blur", "seed": 7, "takes": 2, "steps": 4, "long_side": 64,
              "chosen_weights": {"depth": 1.0, "pose": 0.5}, "depth_of_field": True, "motion_blur": True}
    return PanelSettings(**{**values, **changes})


def test_generate_arguments_carry_every_choice():
    request = req.shot_request(panel_settings(), None, "wan-vace", "cpu", (512, 288),
                               {"pipeline": "/m/wan", "base": "x/y"}, "")
    args = request.to_arguments("/b", "/t")
    assert args[:3] == ["generate", "/b", "--out=/t"]
    pairs = dict(arg.split("=", 1) for arg in args[3:])
    assert pairs == {"--seed": "7", "--takes": "2", "--prompt": "a kite", "--negative-prompt": "blur",
                     "--device": "cpu", "--backend": "wan-vace", "--steps": "4", "--size": "64x36",
                     "--control": "depth=1.0,pose=0.5", "--model": "pipeline=/m/wan"}
    assert args[-2:] == ["--model=base=x/y", "--model=pipeline=/m/wan"]


def test_the_panels_zeros_leave_the_engine_to_choose():
    request = req.shot_request(panel_settings(steps=0, long_side=0, seed=0, takes=1, prompt="", negative_prompt=""),
                               None, "", "auto", (512, 288), {}, "")
    assert (request.steps, request.size, request.reference) == (None, None, None)
    assert request.to_arguments("/b", "/t") == ["generate", "/b", "--out=/t", "--control=depth=1.0,pose=0.5"]


@pytest.mark.parametrize("dof, blur, camera_dof, scene_blur, passes", [
    (True, True, True, True, ["depth", "flow"]), (True, True, False, False, []),
    (False, True, True, True, ["flow"]), (True, False, True, True, ["depth"]),
])
def test_generate_exports_the_passes_the_takes_lens_reads(dof, blur, camera_dof, scene_blur, passes):
    request = req.shot_request(panel_settings(depth_of_field=dof, motion_blur=blur), None, "", "auto", (512, 288),
                               {}, "")
    assert req.lens_passes(request, camera_dof, scene_blur) == passes


def test_a_take_record_gives_back_its_request_with_a_new_seed():
    record = TakeRecord.from_json({
        "schema": "blockcast.take", "take": "take-001-animatediff-s3", "backend": "animatediff", "prompt": "p",
        "negative_prompt": "n", "seed": 3, "models": {"base": {"source": "/m/sd15", "path": "/m/sd15"}},
        "parameters": {"steps": 9, "requested_size": [64, 36], "controls": {"depth": 0.8}},
        "bundle": {"path": "/b", "frames": [1, 2]}, "frames": ["frames/0001.png", "frames/0002.png"]})
    request = record.request(seed=11, device="cuda")  # what Regenerate asks for
    assert (request.backend, request.prompt, request.negative_prompt, request.seed, request.takes) == (
        "animatediff", "p", "n", 11, 1)
    assert (request.steps, request.size, request.controls, request.models, request.device) == (
        9, (64, 36), {"depth": 0.8}, {"base": "/m/sd15"}, "cuda")


def test_generation_size_keeps_the_shot_aspect():
    assert req.generation_size(0, 512, 288) is None
    assert req.generation_size(64, 512, 288) == (64, 36)
    assert req.generation_size(96, 288, 512) == (54, 96)


def test_local_models_are_model_folder_backend_role(tmp_path):
    (tmp_path / "wan-vace" / "pipeline").mkdir(parents=True)
    (tmp_path / "wan-vace" / ".cache").mkdir()
    (tmp_path / "wan-vace" / "notes.txt").write_text("")
    assert req.local_models(tmp_path, "wan-vace") == {"pipeline": str(tmp_path / "wan-vace" / "pipeline")}
    assert req.local_models(tmp_path, "animatediff") == {} and req.local_models("", "wan-vace") == {}


def test_exit_messages_use_the_engines_own_words():
    assert ep.exit_message(1, "model base is missing", ["whatever"]) == "model base is missing"
    assert ep.exit_message(1, None, ["Traceback", "engine: error: bad bundle", ""]) == (
        "the engine stopped with exit code 1: bad bundle")
    assert ep.exit_message(-9, None, []) == "the engine was killed by signal 9 without a message"


def test_setup_check_names_what_to_fix(tmp_path):
    with pytest.raises(ep.EngineError, match="does not exist: set it in Preferences"):
        ep.EngineSetup(tmp_path / "nope" / "python").check()
    with pytest.raises(ep.EngineError, match="holds no engine package"):
        ep.EngineSetup(Path(sys.executable), tmp_path).check()


def test_child_environment_drops_blenders_python_overrides(tmp_path):
    env = ep.EngineSetup(Path(sys.executable), tmp_path).environment({"PYTHONHOME": "/blender", "PATH": "/bin",
                                                                       "PYTHONPATH": "/blender/lib"})
    assert env["PYTHONPATH"] == str(tmp_path) and "PYTHONHOME" not in env and env["PATH"] == "/bin"


def stand_in_engine(tmp_path, body):
    """An `engine` package whose `python -m engine` runs `body` (with json, os, signal, sys, time)."""
    package = tmp_path / "engine"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "cli.py").write_text("")
    prelude = "import json, os, signal, sys, time\n" \
              "def emit(event, **fields):\n" \
              "    print(json.dumps({'event': event, 'time': time.time(), **fields}), flush=True)\n"
    (package / "__main__.py").write_text(prelude + textwrap.dedent(body))
    return ep.EngineSetup(Path(sys.executable), tmp_path)


def _events_until_exit(process, timeout=20):
    """Drain events as a timer would until the child has exited; (exit code, events)."""
    events, deadline = [], time.monotonic() + timeout
    while (code := process.poll()) is None:
        assert time.monotonic() < deadline, "the child did not exit"
        events += process.events()
        time.sleep(0.02)
    return code, events + process.events()


def test_events_arrive_in_order_and_chatter_is_kept_aside(tmp_path):
    setup = stand_in_engine(tmp_path, """
        print("Loading pipeline components...", flush=True)
        for step in (1, 2, 3):
            emit("step", take="take-001", step=step, total=3)
        print("a warning", file=sys.stderr, flush=True)
        emit("finished", takes=[])
    """)
    process = ep.EngineProcess(setup, ["generate"])
    code, events = _events_until_exit(process)
    assert code == 0
    assert [e.event for e in events] == ["step", "step", "step", "finished"]
    assert [e.step for e in events[:3]] == [1, 2, 3]
    assert set(process.output_tail()) == {"Loading pipeline components...", "a warning"}


SIGTERM_STOPS = """
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    for step in range(1, 1000):
        if stop:
            emit("cancelled", take="take-001", message="unfinished take removed")
            sys.exit(130)
        emit("step", take="take-001", step=step, total=999)
        time.sleep(0.01)
"""


def test_cancel_without_a_cancel_file_sends_sigterm_and_the_engine_stops_at_its_next_step(tmp_path):
    process = ep.EngineProcess(stand_in_engine(tmp_path, SIGTERM_STOPS), ["check"])  # check takes no --cancel-file
    assert process.cancel_file is None
    while not process.events():
        time.sleep(0.01)
    process.cancel()
    code, events = _events_until_exit(process)
    assert code == ep.EXIT_CANCELLED and events[-1].event == "cancelled"
    assert process.cancel_requested


def test_generate_is_cancelled_through_its_cancel_file_with_no_signal(tmp_path):
    """The portable cancel (Windows has no SIGTERM to catch): SIGTERM is ignored here, the file works."""
    setup = stand_in_engine(tmp_path, """
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cancel_file = sys.argv[-1].split("=", 1)[1]
        for step in range(1, 1000):
            if os.path.exists(cancel_file):
                emit("cancelled", take="take-001", message="unfinished take removed")
                sys.exit(130)
            emit("step", take="take-001", step=step, total=999)
            time.sleep(0.01)
    """)
    process = ep.EngineProcess(setup, ["generate", "/b", "--out=/t"], grace_s=600)
    assert process.cancel_file.parent.is_dir() and not process.cancel_file.exists()
    while not process.events():
        time.sleep(0.01)
    process.cancel()
    code, events = _events_until_exit(process)
    assert code == ep.EXIT_CANCELLED and events[-1].event == "cancelled"
    assert not process.cancel_file.parent.exists()  # the cancel file's folder goes with the engine


def test_an_engine_deaf_to_the_cancel_file_gets_sigterm_after_the_grace_period(tmp_path):
    process = ep.EngineProcess(stand_in_engine(tmp_path, SIGTERM_STOPS), ["generate"], grace_s=0.3)
    while not process.events():
        time.sleep(0.01)
    started = time.monotonic()
    process.cancel()
    code, events = _events_until_exit(process)
    assert code == ep.EXIT_CANCELLED and events[-1].event == "cancelled" and time.monotonic() - started >= 0.3


def test_an_engine_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    setup = stand_in_engine(tmp_path, """
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        emit("load")
        time.sleep(60)
    """)
    process = ep.EngineProcess(setup, ["generate"], grace_s=0.5)
    while not process.events():
        time.sleep(0.01)
    started = time.monotonic()
    process.cancel()
    code, _ = _events_until_exit(process)
    assert code == -signal.SIGKILL and 0.4 < time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)


def test_a_crash_is_reported_with_the_engines_last_words(tmp_path):
    setup = stand_in_engine(tmp_path, """
        emit("error", take=None, message="model pipeline (x/y) is not in the local Hugging Face cache")
        print("engine: error: model pipeline (x/y) is not in the local Hugging Face cache", file=sys.stderr)
        sys.exit(1)
    """)
    process = ep.EngineProcess(setup, ["generate"])
    code, _ = _events_until_exit(process)
    assert code == 1 and process.failure_message() == "model pipeline (x/y) is not in the local Hugging Face cache"

    (tmp_path / "killed").mkdir()
    setup = stand_in_engine(tmp_path / "killed", """
        print("Segmentation fault", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    process = ep.EngineProcess(setup, ["generate"])
    code, _ = _events_until_exit(process)
    assert code == -signal.SIGKILL
    assert process.failure_message() == "the engine was killed by signal 9: Segmentation fault"


def test_a_missing_interpreter_fails_before_anything_starts(tmp_path):
    with pytest.raises(ep.EngineError, match="does not exist"):
        ep.EngineProcess(ep.EngineSetup(tmp_path / "python"), ["generate"])


@pytest.mark.skipif(not ENGINE_PYTHON.exists(), reason="needs the engine venv: scripts/setup_env.sh engine")
def test_check_engine_lists_the_real_engines_backends():
    report = ep.check_engine(ep.EngineSetup(ENGINE_PYTHON, REPO))
    names = [entry["name"] for entry in report["backends"]]
    assert {"animatediff", "previz", "wan-vace"} <= set(names)
    assert all("present" in model for entry in report["backends"] for model in entry["models"])
    assert rep.report_default_backend(report) == "previz"
    passes = {entry["name"]: entry["passes"] for entry in report["backends"]}
    assert passes["animatediff"] == passes["wan-vace"] == []
    # With cast references, the diffusion backends need the objects pass to place each one.
    assert rep.passes_to_export(["depth"], report, "wan-vace", with_references=True) == ["depth", "objects"]
    assert rep.passes_to_export(["depth"], report, "wan-vace") == ["depth"]
    assert rep.passes_to_export(["depth", "pose", "camera"], report, "previz") == [
        "depth", "pose", "camera", "shading", "normal", "objects"]
    # The passes a take's controls read come too: edges reads depth and objects; VACE's depth+pose
    # composite reads the actors' silhouettes (mask); the camera-path backend needs the camera pass.
    assert rep.passes_to_export(["depth"], report, "ltx2-ic", weights={"edges": 1.0}) == ["depth", "objects"]
    assert rep.passes_to_export(["depth"], report, "wan-vace", weights={"depth": 1.0, "pose": 0.5}) == [
        "depth", "pose", "mask"]
    assert rep.passes_to_export(["depth"], report, "wan-vace", weights={"depth": 1.0, "pose": 0.0}) == ["depth"]
    assert rep.passes_to_export(["depth"], report, "sana-wm") == ["depth", "camera", "shading", "objects"]
    weighted = {name: rep.weighted_controls(WEIGHTED, report, name) for name in ("previz", "animatediff", "wan-vace")}
    assert weighted == {"previz": [], "animatediff": ["depth", "pose"], "wan-vace": ["depth", "pose"]}


WEIGHTED = ("depth", "pose")  # the add-on's weight settings (addon/ui/properties.py CONTROL_KINDS)
REPORT = {"backends": [
    {"name": "animatediff", "default": False, "controls": ["depth", "pose"], "passes": []},
    {"name": "previz", "default": True, "controls": ["shading", "depth", "normal", "objects"],
     "passes": ["shading", "depth", "normal", "objects"]},
    {"name": "depth-only", "default": False, "controls": ["depth"], "passes": []},
]}


def test_the_backend_is_the_shots_else_the_preferences_else_the_engines():
    assert rep.generation_backend("wan-vace", "animatediff", REPORT) == "wan-vace"
    assert rep.generation_backend("", "animatediff", REPORT) == "animatediff"
    assert rep.generation_backend("", "", REPORT) == "previz"
    assert rep.generation_backend("", "", None) == ""  # the engine could not be asked: it chooses
    assert rep.report_default_backend({"backends": [{"name": "a"}]}) == ""


def test_generate_exports_the_chosen_passes_plus_those_the_backend_needs():
    chosen = ["depth", "pose", "camera"]
    assert rep.passes_to_export(chosen, REPORT, "previz") == ["depth", "pose", "camera", "shading", "normal", "objects"]
    assert rep.added_passes(["shading", "objects"], REPORT, "previz") == ["depth", "normal"]
    assert rep.passes_to_export(chosen, REPORT, "animatediff") == chosen
    # Without a report, or for a backend it does not list, the artist's choice stands.
    assert rep.passes_to_export(chosen, None, "previz") == chosen
    assert rep.passes_to_export(chosen, REPORT, "a-plug-in") == chosen
    assert rep.passes_to_export(chosen, {"backends": [{"name": "animatediff"}]}, "animatediff") == chosen  # no `passes`


def test_weights_are_offered_and_sent_only_for_controls_the_backend_lets_the_artist_set():
    assert rep.weighted_controls(WEIGHTED, REPORT, "animatediff") == ["depth", "pose"]
    assert rep.weighted_controls(WEIGHTED, REPORT, "depth-only") == ["depth"]
    assert rep.weighted_controls(WEIGHTED, REPORT, "previz") == []  # it needs every control it takes
    assert rep.no_weights_note(REPORT, "previz") == "previz uses shading, depth, normal, objects; no weights"
    chosen = {"depth": 0.8, "pose": 0.5}
    assert rep.control_weights(chosen, REPORT, "animatediff") == chosen
    assert rep.control_weights(chosen, REPORT, "depth-only") == {"depth": 0.8}
    assert rep.control_weights(chosen, REPORT, "previz") is None  # the backend's own controls, no refused pose
    assert rep.control_weights(None, REPORT, "animatediff") is None
    request = req.shot_request(panel_settings(chosen_weights=chosen), REPORT, "previz", "auto", (512, 288), {}, "")
    assert request.controls is None and not any(arg.startswith("--control") for arg in request.to_arguments("/b", "/t"))
    # Without a report, or for a backend it does not list, the artist's weights go as set: the engine judges them.
    assert rep.weighted_controls(WEIGHTED, None, "previz") == list(WEIGHTED)
    assert rep.control_weights(chosen, None, "") == rep.control_weights(chosen, REPORT, "a-plug-in") == chosen


def _event(kind, at, **fields):
    """The typed event the add-on gets from the engine's JSON line (engine/bundle/events.py)."""
    return events.Event.from_json({"event": kind, "time": at, **fields})


def test_progress_folds_engine_events_into_a_status_and_time_left():
    progress = gp.GenerationProgress("sc01", takes=2)
    fractions = []
    for done in (1, 2):
        progress.export_frame(done, 2)
        fractions.append(progress.fraction)
    assert progress.status_line() == "sc01: exporting passes, frame 2/2"
    progress.engine_started()
    assert progress.status_line() == "sc01: starting the engine"
    progress.apply(_event("load", 0.0, backend="wan-vace", device="cpu"))
    assert progress.status_line() == "sc01: loading models (wan-vace on cpu)"
    progress.apply(_event("start", 10.0, take="take-001", steps=4))
    for step in (1, 2):
        progress.apply(_event("step", 10.0 + 2 * step, take="take-001", step=step, total=4))
        fractions.append(progress.fraction)
    assert progress.seconds_left == pytest.approx(2 * 2 + 4 * 2)  # 2 steps of this take + 4 of the next
    assert progress.status_line() == "sc01: take 1/2, step 2/4, about 12s left"
    progress.apply(_event("frame", 20.0, take="take-001", frame=5))
    assert progress.status_line() == "sc01: take 1/2, writing frame 5"
    progress.apply(_event("done", 21.0, take="take-001", path="/t/take-001"))
    fractions.append(progress.fraction)
    assert progress.status_line() == "sc01: take 2/2, starting"
    progress.apply(_event("unknown-future-event", 22.0))
    progress.apply(_event("error", 22.0, message="out of memory"))
    assert progress.running  # over only when the process has exited
    progress.end("failed", "out of memory")
    assert not progress.running and progress.status_line() == "sc01: failed: out of memory"
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(0.55)


def test_a_reused_bundle_is_said_in_the_status_line_until_the_engine_generates():
    progress = gp.GenerationProgress("sc01", takes=1)
    progress.bundle_note = "passes unchanged: reusing bundles/003"
    progress.engine_started()
    assert progress.status_line() == "sc01: starting the engine (passes unchanged: reusing bundles/003)"
    progress.apply(_event("load", 0.5, backend="previz", device="cpu"))
    assert progress.status_line().endswith("(passes unchanged: reusing bundles/003)")
    progress.apply(_event("start", 1.0, take="take-001", steps=4))
    assert "reusing" not in progress.status_line()


def test_progress_after_a_cancel_counts_the_takes_kept():
    progress = gp.GenerationProgress("sc01", takes=3)
    progress.apply(_event("done", 1.0, take="take-001", path="/t/take-001"))
    progress.end("cancelled")
    assert progress.status_line() == "sc01: cancelled, 1 take kept"
    assert gp.format_duration(3725) == "1h 02m" and gp.format_duration(75) == "1m 15s"
