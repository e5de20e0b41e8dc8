"""The Flamenco v3 job type: its JavaScript parses, compileJob authors the expected tasks (run
under node with recording `author`/`job` objects), and every command it emits runs for real."""

import json
import re
import shlex
import shutil

import pytest
from conftest import BPY_BLENDER, ENGINE_PYTHON, REPO_ROOT, check, run, take_records

from farm import flamenco_job  # conftest put the repository on sys.path
from farm.job import (BACKEND_PASSES, DEFAULT_BACKEND, DEFAULT_PASSES, DEVICES, MEMORY_PRESETS, FarmJob, FarmShot,
                      passes_for_backend)
from farm.layout import chunk_ranges, format_range, shot_folder

JOB_TYPE = REPO_ROOT / "farm" / "flamenco" / "blockcast.js"
HARNESS = REPO_ROOT / "tests" / "farm" / "flamenco_harness.js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="needs node (apt-get install nodejs)")


def compile_job(settings):
    result = check(run([NODE, HARNESS, JOB_TYPE, json.dumps(settings)]))
    return json.loads(result.stdout)


def tiny_job(shots, **options):
    return FarmJob(name="demo", scene="Scene", shots=shots, **options)


def test_job_type_parses():
    check(run([NODE, "--check", JOB_TYPE]))


def test_compile_job_authors_export_merge_generate_and_assembly_tasks(tmp_path):
    shots = [FarmShot("sh010", 1, 5), FarmShot("sh 020/b", 6, 8)]
    job = tiny_job(shots, backend="animatediff", chunk_size=2, takes=5, takes_per_task=2)
    tasks = compile_job(flamenco_job.settings(job, "/studio/demo.blend", "/studio/out"))["tasks"]
    by_name = {task["name"]: task for task in tasks}
    exports = [t["name"] for t in tasks if t["name"].startswith("export-")]
    assert exports == [f"export-{s.folder}-{format_range(a, b)}" for s in shots
                       for a, b in chunk_ranges(s.frame_start, s.frame_end, 2)]  # the same chunks as farm.layout
    assert shots[1].folder == shot_folder("sh 020/b") == "sh_020_b"
    assert by_name["merge-sh010"]["dependencies"] == ["export-sh010-1-2", "export-sh010-3-4", "export-sh010-5-5"]
    generates = [t for t in tasks if t["name"].startswith("generate-")]
    assert [t["name"] for t in generates] == [f"generate-{s.folder}-take-{n}" for s in shots for n in (1, 3, 5)]
    assert {t["type"] for t in generates} == {"blockcast-gpu"}  # only GPU workers list this task type
    assert [t["dependencies"] for t in generates[:3]] == [["merge-sh010"]] * 3
    assert by_name["assemble"]["dependencies"] == [t["name"] for t in generates]
    assert {t["type"] for t in tasks if t not in generates} == {"blender", "misc"}
    export = by_name["export-sh_020_b-6-7"]["commands"][0]
    assert export["type"] == "blender-render" and export["parameters"]["blendfile"] == "/studio/demo.blend"
    assert _option(export["parameters"]["args"], "--shot-json") == '"sh 020/b"'
    for cpu_job in (tiny_job(shots, backend="animatediff", allow_cpu_generation=True), tiny_job(shots)):  # previz
        cpu = compile_job(flamenco_job.settings(cpu_job, "/s/d.blend", "/s/o"))
        assert {t["type"] for t in cpu["tasks"] if t["name"].startswith("generate-")} == {"misc"}


def _option(args, name):
    """The value of `--name=VALUE` in `args`."""
    return next(arg.split("=", 1)[1] for arg in args if arg.startswith(f"{name}="))


def _export_passes(compiled):
    """The --passes of the export tasks (one value when they all agree)."""
    return {_option(task["commands"][0]["parameters"]["args"], "--passes") for task in compiled["tasks"]
            if task["name"].startswith("export-")}


def test_the_default_job_generates_with_previz_and_exports_the_passes_it_needs():
    job = tiny_job([FarmShot("sh010", 1, 4)])
    settings = flamenco_job.settings(job, "/s/d.blend", "/s/o")
    assert (settings["backend"], settings["passes"]) == ("previz", "depth,pose,camera,shading,normal,objects")
    compiled = compile_job(settings)
    assert _export_passes(compiled) == {"depth,pose,camera,shading,normal,objects"}
    generate = next(t for t in compiled["tasks"] if t["name"].startswith("generate-"))["commands"][0]["parameters"]
    assert _option(generate["args"], "--backend") == "previz"
    # A job submitted with the job type's own defaults (Flamenco's add-on) gets them too.
    defaults = {s["key"]: s.get("default") for s in compiled["settings"]}
    assert (defaults["backend"], defaults["passes"]) == (DEFAULT_BACKEND, DEFAULT_PASSES)
    bare = {key: value for key, value in settings.items() if key not in ("backend", "passes")}
    assert _export_passes(compile_job(bare)) == {passes_for_backend(defaults["passes"], "previz")}


@pytest.mark.parametrize("backend", [*BACKEND_PASSES, "animatediff", "a-plug-in", "constructor"])
def test_the_job_type_adds_the_same_backend_passes_as_the_job_writers(backend):
    """A backend chosen in Flamenco's submission form gets the passes farm/job.py would add (and a
    name every JavaScript object has, `constructor`, is no backend)."""
    settings = flamenco_job.settings(tiny_job([FarmShot("sh010", 1, 2)]), "/s/d.blend", "/s/o")
    settings.update(backend=backend, passes="depth, pose")
    assert _export_passes(compile_job(settings)) == {passes_for_backend("depth, pose", backend)}


def test_bad_settings_fail_compilation_with_a_message():
    settings = flamenco_job.settings(tiny_job([FarmShot("a b", 1, 2)]), "/s/d.blend", "/s/o")
    settings["shots"] = json.dumps([["a b", 1, 2], ["a_b", 3, 4]])
    result = run([NODE, HARNESS, JOB_TYPE, json.dumps(settings)])
    assert result.returncode != 0 and "share an output folder name" in result.stderr


def _argv(command, variables):
    """The process a Flamenco Worker starts for a command, with the Manager's variables filled in."""
    def fill(text):
        return re.sub(r"\{(\w+)\}", lambda m: variables.get(m.group(1), m.group(0)), str(text))

    params = command["parameters"]
    if command["type"] == "blender-render":  # `{exe} {exeArgs} {argsBefore} {blendfile} {args}`
        return [*shlex.split(fill(params["exe"])), *shlex.split(fill(params["exeArgs"])),
                *map(fill, params["argsBefore"]), fill(params["blendfile"]), *map(fill, params["args"])]
    assert command["type"] == "exec"
    return [fill(params["exe"]), *map(fill, params["args"])]


def _in_dependency_order(tasks):
    done, ordered = set(), []
    while len(ordered) < len(tasks):
        ready = [t for t in tasks if t["name"] not in done and set(t["dependencies"]) <= done]
        assert ready, "the tasks' dependencies form a cycle"
        ordered += ready
        done |= {t["name"] for t in ready}
    return ordered


def test_every_emitted_command_runs_for_real(two_shot_blend, tiny_models, farm_env, finished_job, tmp_path):
    job = tiny_job([FarmShot("sh 020", 4, 6)], backend="animatediff", chunk_size=2, steps=2, generation_size="64x36",
                   models=tiny_models, allow_cpu_generation=True)
    output = tmp_path / "output"
    tasks = compile_job(flamenco_job.settings(job, two_shot_blend, output))["tasks"]
    variables = {"blender": str(BPY_BLENDER), "blenderArgs": "-b -y", "blockcast": str(REPO_ROOT),
                 "blockcast_python": str(ENGINE_PYTHON)}
    commands = [_argv(c, variables) for task in _in_dependency_order(tasks) for c in task["commands"]]
    assert len(commands) == 2 + 1 + 1 + 1  # two export chunks, merge, one take batch, assembly
    for argv in commands:
        check(run(argv, env=farm_env))
    assert sorted(p.name for p in (output / "edit").iterdir()) == ["assembly.json", "cut-take-01.mp4", "takes.blend"]
    openjd_output = finished_job[0] / "output"  # the same shot and seed on the OpenJD farm: the same take
    openjd_takes = take_records(openjd_output)
    assert take_records(output) == {name: take for name, take in openjd_takes.items() if "sh_020" in name}
    reruns = [run(argv, env=farm_env) for argv in commands]
    assert all(r.returncode == 0 and "nothing to do" in r.stdout for r in reruns)


def test_a_shot_with_its_own_prompt_and_seed_keeps_them_on_the_farm():
    """The Generate panel's per-shot prompt and seed (Set Up Shot) reach that shot's generation tasks;
    shots without their own take the job's."""
    shots = [FarmShot("sh010", 1, 2, prompt="dusk {{Param.X}}, rain", seed=7), FarmShot("sh020", 3, 4)]
    job = tiny_job(shots, prompt="day", seed=100, takes=1)
    assert json.loads(flamenco_job.shots_json(shots)) == [["sh010", 1, 2, "dusk {{Param.X}}, rain", 7],
                                                          ["sh020", 3, 4]]
    tasks = compile_job(flamenco_job.settings(job, "/s/d.blend", "/s/o"))["tasks"]
    args = {t["name"]: t["commands"][0]["parameters"]["args"] for t in tasks if t["name"].startswith("generate-")}
    own, default = args["generate-sh010-take-1"], args["generate-sh020-take-1"]
    assert _option(own, "--seed") == "7" and _option(default, "--seed") == "100"
    assert json.loads(_option(own, "--prompt-json")) == "dusk {{Param.X}}, rain"
    assert "{" not in _option(own, "--prompt-json")  # braces travel escaped
    assert json.loads(_option(default, "--prompt-json")) == "day"


def test_the_memory_setting_reaches_every_generation_task():
    """The job's Memory (the engine's --memory, as the panel's Generate passes Preferences ▸ Memory)
    is a submission setting, default auto, that every generation task passes on."""
    settings = flamenco_job.settings(tiny_job([FarmShot("sh010", 1, 2)], memory="low", takes=2), "/s/d.blend", "/s/o")
    compiled = compile_job(settings)
    (memory,) = [s for s in compiled["settings"] if s["key"] == "memory"]
    assert memory["default"] == "auto" and tuple(memory["choices"]) == MEMORY_PRESETS
    (device,) = [s for s in compiled["settings"] if s["key"] == "device"]
    assert sorted(device["choices"]) == sorted(DEVICES)  # the engine's --device choices, mps included
    generate = [t["commands"][0]["parameters"]["args"] for t in compiled["tasks"] if t["name"].startswith("generate-")]
    assert len(generate) == 2 and {_option(args, "--memory") for args in generate} == {"low"}
