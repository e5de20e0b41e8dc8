"""What a farm job exports for its backend: the job writers' table of the built-in backends'
needed passes agrees with the engine's own report, and the chosen passes are kept."""

import json

from conftest import ENGINE_PYTHON, REPO_ROOT, check, run

from farm.job import BACKEND_PASSES, DEFAULT_BACKEND, FarmJob, FarmShot, added_passes, passes_for_backend


def test_the_backend_table_is_the_engines_report(venvs):
    report = json.loads(check(run([ENGINE_PYTHON, "-m", "engine", "backends", "--json"], cwd=REPO_ROOT)).stdout)
    entries = report["backends"]
    assert {entry["name"]: tuple(entry["passes"]) for entry in entries if entry["passes"]} == BACKEND_PASSES
    assert next(entry["name"] for entry in entries if entry["default"]) == DEFAULT_BACKEND


def test_a_job_exports_its_passes_plus_those_its_backend_needs():
    job = FarmJob(name="demo", scene="Scene", shots=[FarmShot("sh010", 1, 2)])
    assert (job.backend, job.passes) == ("previz", "depth,pose,camera")
    assert job.export_passes == "depth,pose,camera,shading,normal,objects"
    assert passes_for_backend(" shading, objects ", "previz") == "shading,objects,depth,normal"
    assert added_passes("depth,shading,normal,objects", "previz") == []
    assert passes_for_backend("depth,pose,camera", "animatediff") == "depth,pose,camera"
    assert passes_for_backend("depth", "a-plug-in") == "depth"  # unknown here: its generation says what it lacks
