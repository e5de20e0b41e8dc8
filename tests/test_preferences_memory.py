"""Preferences ▸ Device offers the Apple GPU and Preferences ▸ Memory the engine's --memory presets,
and Generate's request carries both (real bpy for the preferences, bpy-free for the request)."""

import pytest


def test_preferences_offer_the_engines_devices_and_memory_presets(blockcast):
    import bpy

    from blockcast.addon.ui import preferences
    from blockcast.engine.bundle.request import DEVICES, MEMORY_PRESETS

    assert [item[0] for item in preferences.DEVICES] == list(DEVICES)
    assert [item[0] for item in preferences.MEMORY] == list(MEMORY_PRESETS)
    memory = preferences.BlockcastPreferences.__annotations__["memory"]
    assert memory.function is bpy.props.EnumProperty and memory.keywords["default"] == "auto"
    assert preferences._Defaults.memory == "auto"


@pytest.mark.parametrize("device, memory, flags", [("mps", "low", ["--device=mps", "--memory=low"]),
                                                    ("auto", "auto", [])])
def test_generate_sends_the_device_and_memory_preferences(blockcast, device, memory, flags):
    from types import SimpleNamespace

    from blockcast.addon.engine_request import shot_request

    settings = SimpleNamespace(prompt="", negative_prompt="", seed=0, takes=1, steps=0, long_side=0,
                               weights=lambda: {}, depth_of_field=True, motion_blur=True)
    request = shot_request(settings, None, "", device, (64, 36), {}, "", memory=memory)
    args = request.to_arguments("/b", "/t")
    assert [arg for arg in args if arg.startswith(("--device", "--memory"))] == flags


REVISION = "0123456789abcdef0123456789abcdef01234567"


def test_download_progress_reads_the_engines_fetch_lines(blockcast):
    from blockcast.addon.model_downloads import fetch_arguments, progress_line
    from blockcast.engine.bundle.models_record import ModelProgress

    assert fetch_arguments("wan-vace", "pipeline", "/m") == ["models", "fetch", "wan-vace", "--role", "pipeline",
                                                             "--allow-network", "--model-folder", "/m"]
    state = {"line": "", "done": False, "failed": False}
    progress_line(state, ModelProgress(event="fetch", backend="wan-vace", role="pipeline",
                                       hub_id="Wan-AI/Wan2.1-VACE-1.3B-diffusers", size_bytes=31_850_000_000))
    assert state["line"] == "Downloading Wan-AI/Wan2.1-VACE-1.3B-diffusers (31.85 GB)"
    progress_line(state, ModelProgress(event="download", role="pipeline", done=2_000_000_000, total=8_000_000_000))
    assert state["line"] == "Downloading pipeline: 2.00 of 8.00 GB" and not state["done"]
    progress_line(state, ModelProgress(event="fetched", role="pipeline", folder="/m/wan-vace/pipeline", ok=True,
                                       problems=[]))
    assert state == {"line": "pipeline downloaded to /m/wan-vace/pipeline", "done": True, "failed": False}


def test_models_are_listed_by_the_real_engine_from_a_filled_cache(blockcast, tmp_path, monkeypatch):
    from pathlib import Path

    from blockcast.addon.engine_process import EngineSetup
    from blockcast.addon.model_downloads import list_models

    repo = Path(__file__).resolve().parents[1]
    snapshot = tmp_path / "hub" / "models--h94--IP-Adapter" / "snapshots" / REVISION
    (snapshot / "models").mkdir(parents=True)
    (snapshot / "models" / "ip-adapter_sd15.safetensors").write_bytes(b"x")
    (tmp_path / "hub" / "models--h94--IP-Adapter" / "refs").mkdir()
    (tmp_path / "hub" / "models--h94--IP-Adapter" / "refs" / "main").write_text(REVISION)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    entries = list_models(EngineSetup(repo / ".venv-engine" / "bin" / "python", repo))
    found = {(e.backend, e.role): e for e in entries}
    assert found[("animatediff", "ip_adapter")].folder == str(snapshot)
    assert found[("wan-vace", "pipeline")].folder is None and found[("previz", "previz")].found_in == "shipped"



def test_a_models_list_of_another_engine_version_is_an_error_saying_what_to_do(blockcast, tmp_path):
    """An engine whose `models list --json` has a field of another type (a size as text) gives the
    Models panel an EngineError to show, not a traceback."""
    import sys
    from pathlib import Path

    from blockcast.addon.engine_process import EngineError, EngineSetup
    from blockcast.addon.model_downloads import list_models

    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "__init__.py").write_text("")
    (tmp_path / "engine" / "cli.py").write_text("")
    (tmp_path / "engine" / "__main__.py").write_text(
        'import json\nprint(json.dumps({"models": [{"backend": "wan-vace", "size_bytes": "16 GB"}]}))\n')
    with pytest.raises(EngineError, match=r"size_bytes should be a number, not '16 GB'.*Set Up Engine again"):
        list_models(EngineSetup(Path(sys.executable), tmp_path))


DOWNLOAD_OFFLINE = r"""
import json, os, sys
sys.path[:0] = sys.argv[1:3]
from blockcast_import import import_blockcast
blockcast = import_blockcast()
import bpy
from blockcast.addon.ui import operators_models
bpy.ops.wm.read_factory_settings(use_empty=True)
blockcast.register()
report = {"online": bpy.app.online_access,
          "result": sorted(bpy.ops.blockcast.download_model(backend="wan-vace", role="pipeline")),
          "fetch": operators_models.MODELS["fetch"], "alert": bool(operators_models.MODELS["alert"]),
          "line": operators_models.MODELS["line"]}
blockcast.unregister()
print("REPORT " + json.dumps(report), flush=True)
os._exit(0)  # bpy 4.2 as a module crashes on exit once the add-on was registered
"""


def test_download_with_online_access_off_starts_nothing_and_shows_the_command(blockcast, tmp_path):
    """In a fresh process: the add-on registered in the test run's own process would crash bpy 4.2 at exit."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", DOWNLOAD_OFFLINE, str(repo / "scripts"), str(repo)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads(lines[0][len("REPORT "):])
    assert not report["online"]
    assert report["result"] == ["CANCELLED"]
    assert report["fetch"] is None and report["alert"]
    assert report["line"].endswith("models fetch wan-vace --role pipeline --allow-network")
