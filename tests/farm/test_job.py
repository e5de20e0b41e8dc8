"""What a farm job exports for its backend: the job writers' table of the built-in backends'
needed passes (engine/bundle's, imported with the stdlib alone) agrees with the engine's own
report, and the chosen passes are kept."""

import json
import sys
import textwrap

import pytest
from conftest import ENGINE_PYTHON, REPO_ROOT, check, run

from farm.job import BACKEND_PASSES, DEFAULT_BACKEND, FarmJob, FarmShot, added_passes, passes_for_backend
from farm.layout import LayoutError


def test_the_backend_table_is_the_engines_report(venvs):
    report = json.loads(check(run([ENGINE_PYTHON, "-m", "engine", "backends", "--json"], cwd=REPO_ROOT)).stdout)
    entries = report["backends"]
    assert {entry["name"]: tuple(entry["passes"]) for entry in entries if entry["passes"]} == BACKEND_PASSES
    assert next(entry["name"] for entry in entries if entry["default"]) == DEFAULT_BACKEND


def test_the_defaults_are_imported_from_the_bundle_contracts_in_both_homes():
    """The checkout's `farm` and the extension's `blockcast.farm` (the add-on's copy, whose package
    __init__ needs bpy and is skipped here) both import engine/bundle's defaults, loading no numpy."""
    probe = textwrap.dedent("""
        import importlib, sys, types
        shipped = types.ModuleType("blockcast")
        shipped.__path__ = [sys.argv[1]]
        sys.modules["blockcast"] = shipped
        import farm.job
        from engine.bundle import request, schema
        copy = importlib.import_module("blockcast.farm.job")
        assert farm.job.DEFAULT_BACKEND == copy.DEFAULT_BACKEND == request.DEFAULT_BACKEND
        assert farm.job.DEFAULT_PASSES == copy.DEFAULT_PASSES == ",".join(schema.DEFAULT_PASSES)
        assert farm.job.BACKEND_PASSES == copy.BACKEND_PASSES
        print(",".join(name for name in ("numpy", "torch", "bpy") if name in sys.modules))
    """)
    result = check(run([sys.executable, "-c", probe, REPO_ROOT], cwd=REPO_ROOT))
    assert result.stdout.strip() == ""


def test_a_job_exports_its_passes_plus_those_its_backend_needs():
    job = FarmJob(name="demo", scene="Scene", shots=[FarmShot("sh010", 1, 2)])
    assert (job.backend, job.passes) == ("previz", "depth,pose,camera")
    assert job.export_passes == "depth,pose,camera,shading,normal,objects"
    assert passes_for_backend(" shading, objects ", "previz") == "shading,objects,depth,normal"
    assert added_passes("depth,shading,normal,objects", "previz") == []
    assert passes_for_backend("depth,pose,camera", "animatediff") == "depth,pose,camera"
    assert passes_for_backend("depth", "a-plug-in") == "depth"  # unknown here: its generation says what it lacks


def test_a_job_takes_the_engines_memory_presets_only():
    shots = [FarmShot("sh010", 1, 2)]
    assert FarmJob(name="demo", scene="Scene", shots=shots).memory == "auto"
    with pytest.raises(LayoutError, match="memory 'lots' is not one of auto, high, balanced, low"):
        FarmJob(name="demo", scene="Scene", shots=shots, memory="lots")


def test_a_tracking_pass_is_refused_in_chunks_before_the_job_is_written():
    shots = [FarmShot("sh010", 1, 30), FarmShot("sh020", 1, 12)]
    with pytest.raises(LayoutError, match="shot sh010 cannot be exported in chunks: set Frames per Task"
                                          r" \(--chunk\) to at least 30"):
        FarmJob(name="demo", scene="Scene", shots=shots, passes="depth,tracking", chunk_size=24)
    assert FarmJob(name="demo", scene="Scene", shots=shots, passes="depth,tracking", chunk_size=30).chunk_size == 30
