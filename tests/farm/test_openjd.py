"""The Open Job Description job: validated by openjd's own model and CLI, run end to end by
`openjd run` (the runtime AWS Deadline Cloud workers use), resumed after a hard kill."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import (BLENDER_PYTHON, BPY_BLENDER, ENGINE_PYTHON, OPENJD, REPO_ROOT, check, file_hashes, kill_tree,
                      make_openjd, openjd_run, run, take_records, tiny_job_args)
from openjd.model import StepParameterSpaceIterator, create_job, decode_job_template, preprocess_job_parameters

SHOTS = ("sh010", "sh_020")


def tasks_of(job_dir, **values):
    """{step name: [task parameters, ...]} as a farm would schedule the job (openjd-model)."""
    template = decode_job_template(template=json.loads((job_dir / "template.json").read_text()))
    given = {**json.loads((job_dir / "parameters.json").read_text()), **{k: str(v) for k, v in values.items()}}
    parameters = preprocess_job_parameters(job_template=template, job_parameter_values=given,
                                           job_template_dir=job_dir, current_working_dir=job_dir)
    job = create_job(job_template=template, job_parameter_values=parameters)
    return job, {step.name: ([{k: v.value for k, v in task.items()}
                              for task in StepParameterSpaceIterator(space=step.parameterSpace)]
                             if step.parameterSpace else [{}]) for step in job.steps}


def test_template_validates_and_lays_out_the_tasks(two_shot_blend, tiny_models, tmp_path):
    job_dir = tmp_path / "job"
    check(make_openjd(two_shot_blend, job_dir, *tiny_job_args(tiny_models)))
    check(run([OPENJD, "check", job_dir / "template.json"]))
    job, tasks = tasks_of(job_dir, Takes=5, TakesPerTask=2)
    assert [(t["Shot"], t["ShotFolder"], t["Frames"]) for t in tasks["ExportPasses"]] == [  # names as JSON literals
        ('"sh010"', "sh010", "1-2"), ('"sh010"', "sh010", "3-3"), ('"sh 020"', "sh_020", "4-5"),
        ('"sh 020"', "sh_020", "6-6")]
    assert tasks["MergeChunks"] == [{"ShotFolder": "sh010", "Chunks": "1-2,3-3"},
                                    {"ShotFolder": "sh_020", "Chunks": "4-5,6-6"}]
    assert [(t["ShotFolder"], t["FirstTake"]) for t in tasks["GenerateTakes"]] == [
        (shot, first) for shot in SHOTS for first in ("1", "3", "5")]
    assert [[d.dependsOn for d in step.dependencies or []] for step in job.steps] == [
        [], ["ExportPasses"], ["MergeChunks"], ["GenerateTakes"]]
    # No machine path in the template; this site's paths are relative to the job folder.
    text = (job_dir / "template.json").read_text()
    assert "/tmp" not in text and str(REPO_ROOT) not in text and str(two_shot_blend.parent) not in text
    values = json.loads((job_dir / "parameters.json").read_text())
    assert not any(Path(values[name]).is_absolute() for name in ("BlendFile", "OutputDir", "BlockcastDir",
                                                                 "EnginePython"))
    assert (job_dir / values["BlendFile"]).resolve() == two_shot_blend.resolve()
    deadline = json.loads((job_dir / "parameter_values.json").read_text())["parameterValues"]
    assert {entry["name"]: entry["value"] for entry in deadline} == values
    # Every task runs our own scripts, with arguments, never through a shell.
    commands = {step.name: step.script.actions.onRun for step in job.steps}
    assert all(action.command == "{{Param.Blender}}" or action.command == "{{Param.EnginePython}}"
               for action in commands.values())
    assert [next(a for a in action.args if a.endswith(".py")).rsplit("/", 1)[1] for action in commands.values()] == [
        "farm_export.py", "farm_merge.py", "farm_generate.py", "farm_assemble.py"]


def test_generation_requires_a_gpu_worker_unless_cpu_is_allowed(two_shot_blend, tmp_path):
    check(make_openjd(two_shot_blend, tmp_path / "gpu", "--takes", "2", "--backend", "animatediff"))
    job, _ = tasks_of(tmp_path / "gpu")
    requirements = {step.name: step.hostRequirements for step in job.steps}
    assert [(a.name, a.min) for a in requirements["GenerateTakes"].amounts] == [("amount.worker.gpu", 1)]
    assert [requirements[name] for name in ("ExportPasses", "MergeChunks", "Assemble")] == [None, None, None]
    parameters = json.loads((tmp_path / "gpu" / "template.json").read_text())["parameterDefinitions"]
    assert next(p["default"] for p in parameters if p["name"] == "Device") == "cuda"
    check(make_openjd(two_shot_blend, tmp_path / "cpu", "--allow-cpu-generation", "--backend", "animatediff"))
    job, _ = tasks_of(tmp_path / "cpu")
    assert all(step.hostRequirements is None for step in job.steps)
    check(make_openjd(two_shot_blend, tmp_path / "previz"))  # the default backend is made for CPUs
    job, _ = tasks_of(tmp_path / "previz")
    assert all(step.hostRequirements is None for step in job.steps)


def test_the_default_job_generates_with_previz_and_exports_the_passes_it_needs(two_shot_blend, tmp_path):
    result = check(make_openjd(two_shot_blend, tmp_path / "default"))
    assert "backend previz, passes depth,pose,camera,shading,normal,objects" in result.stdout
    job, _ = tasks_of(tmp_path / "default")
    assert (job.parameters["Backend"].value, job.parameters["Passes"].value) == (
        "previz", "depth,pose,camera,shading,normal,objects")
    check(make_openjd(two_shot_blend, tmp_path / "chosen", "--passes", "depth,shading", "--backend", "previz"))
    assert tasks_of(tmp_path / "chosen")[0].parameters["Passes"].value == "depth,shading,normal,objects"
    check(make_openjd(two_shot_blend, tmp_path / "animatediff", "--backend", "animatediff"))
    assert tasks_of(tmp_path / "animatediff")[0].parameters["Passes"].value == "depth,pose,camera"


def test_a_default_previz_job_runs_with_its_cycles_passes_merged_from_chunks(two_shot_blend, farm_env, tmp_path):
    """The default backend end to end: chunks with the Cycles passes previz needs merge into the
    whole shot's bundle, and previz (shipped with Blockcast, no download) makes the take."""
    job_dir = tmp_path / "job"
    check(make_openjd(two_shot_blend, job_dir, "--shots", "sh010", "--chunk", "2", "--steps", "2",
                      "--allow-cpu-generation", "--blender", BPY_BLENDER))
    check(openjd_run(job_dir, farm_env))
    output = job_dir / "output"
    takes = take_records(output)
    assert [(name, take["backend"]) for name, (take, _) in takes.items()] == [
        ("takes/sh010/batch-001-001/take-001-previz-s0", "previz")]
    whole = tmp_path / "whole"
    check(run([BLENDER_PYTHON, REPO_ROOT / "scripts" / "export_passes.py", two_shot_blend, "--shot", "sh010",
               "--passes", "depth,pose,camera,shading,normal,objects", "--out", whole, "--quiet"], cwd=REPO_ROOT))
    assert file_hashes(output / "bundles" / "sh010", skip=["controls"]) == file_hashes(whole)


def test_make_openjd_refuses_unknown_shots_and_existing_jobs(two_shot_blend, tmp_path):
    result = make_openjd(two_shot_blend, tmp_path / "job", "--shots", "sh010,sh999")
    assert result.returncode == 1 and result.stderr.count("error:") == 1 and "no shot named 'sh999'" in result.stderr
    check(make_openjd(two_shot_blend, tmp_path / "job", "--shots", "sh 020"))
    _, tasks = tasks_of(tmp_path / "job")
    assert [t["ShotFolder"] for t in tasks["MergeChunks"]] == ["sh_020"]
    again = make_openjd(two_shot_blend, tmp_path / "job")
    assert again.returncode == 1 and "--overwrite" in again.stderr


def test_local_run_of_a_two_shot_job_makes_bundles_takes_and_an_edit(finished_job, two_shot_blend, tmp_path):
    job_dir, result = finished_job
    output = job_dir / "output"
    for shot in SHOTS:
        check(run([ENGINE_PYTHON, "-m", "engine", "check", output / "bundles" / shot], cwd=REPO_ROOT))
    takes = take_records(output)
    assert sorted(takes) == [f"takes/{shot}/batch-001-001/take-001-animatediff-s0" for shot in SHOTS]
    assert [len(frames) for _, frames in takes.values()] == [3, 3]
    assert sorted(p.name for p in (output / "edit").iterdir()) == ["assembly.json", "cut-take-01.mp4", "takes.blend"]
    assert not list(output.rglob(".*"))  # no partial file or folder anywhere
    # The chunked export, merged, is the same bundle as exporting the whole shot at once.
    whole = tmp_path / "whole"
    check(run([BLENDER_PYTHON, REPO_ROOT / "scripts" / "export_passes.py", two_shot_blend, "--shot", "sh010",
               "--out", whole, "--quiet"], cwd=REPO_ROOT))
    assert file_hashes(output / "bundles" / "sh010", skip=["controls"]) == file_hashes(whole)


def test_rerunning_the_finished_job_is_a_no_op(finished_job, farm_env):
    job_dir, _ = finished_job
    output = job_dir / "output"
    before = {str(p): p.stat().st_mtime_ns for p in output.rglob("*")}
    result = check(openjd_run(job_dir, farm_env))
    assert result.stdout.count("nothing to do") == 4 + 2 + 2 + 1  # every export, merge, generation and assembly
    assert {str(p): p.stat().st_mtime_ns for p in output.rglob("*")} == before


def test_a_task_killed_midway_and_retried_gives_the_uninterrupted_result(finished_job, farm_env, tmp_path):
    job_dir, _ = finished_job
    copy = tmp_path / "job"
    shutil.copytree(job_dir, copy)
    shot_takes = copy / "output" / "takes" / "sh_020"
    shutil.rmtree(shot_takes)
    _, tasks = tasks_of(copy)  # every parameter of the task, as the farm evaluates them (the per-shot seed, prompt)
    (chosen,) = [t for t in tasks["GenerateTakes"] if t["ShotFolder"] == "sh_020" and t["FirstTake"] == "1"]
    task = ["--step", "GenerateTakes", *[arg for name, value in chosen.items()
                                         for arg in ("--task-param", f"{name}={value}")]]
    process = subprocess.Popen([str(OPENJD), "run", "template.json", "-p", "file://parameters.json", *task], cwd=copy,
                               env=farm_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:  # a hard kill (a worker dying) in the middle of denoising
        if '"event": "step"' in line:
            kill_tree(process)
            break
    assert process.returncode is not None and process.returncode < 0
    assert not list(shot_takes.glob("*/take-*")) and list(shot_takes.glob("*/.take-*.partial"))
    check(openjd_run(copy, farm_env, *task))
    assert not list(shot_takes.rglob(".*"))
    assert take_records(copy / "output") == take_records(job_dir / "output")


def test_paths_are_mapped_by_the_farms_path_mapping_rules(finished_job, farm_env, tmp_path):
    """Job values written for a studio path run on a worker that mounts it elsewhere."""
    job_dir, _ = finished_job
    values = json.loads((job_dir / "parameters.json").read_text())
    values["OutputDir"] = "/studio/projects/demo/output"
    (tmp_path / "studio.json").write_text(json.dumps(values))
    rules = {"version": "pathmapping-1.0", "path_mapping_rules": [
        {"source_path_format": "POSIX", "source_path": "/studio/projects/demo", "destination_path": str(job_dir)}]}
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    result = check(run([OPENJD, "run", "template.json", "-p", f"file://{tmp_path / 'studio.json'}",
                        "--path-mapping-rules", f"file://{tmp_path / 'rules.json'}", "--step", "MergeChunks"],
                       cwd=job_dir, env=farm_env))
    assert f"{job_dir}/output/bundles/sh010 is already this merge; nothing to do" in result.stdout


def test_assembly_runs_on_blender_42_too(finished_job, farm_env, tmp_path):
    """The oldest Blender we support assembles the same edit (its sequencer API differs)."""
    blender42 = REPO_ROOT / ".venv-blender42" / "bin" / "python"
    if not blender42.exists():
        pytest.skip("needs .venv-blender42: scripts/setup_env.sh blender42")
    output = tmp_path / "output"
    shutil.copytree(finished_job[0] / "output", output, ignore=shutil.ignore_patterns("edit"))
    check(run([blender42, REPO_ROOT / "scripts" / "farm_assemble.py", "--output-dir", output, "--shots",
               ",".join(SHOTS)], env=farm_env))
    assert sorted(p.name for p in (output / "edit").iterdir()) == ["assembly.json", "cut-take-01.mp4", "takes.blend"]


def test_a_shot_with_its_own_prompt_and_seed_keeps_them(tmp_path):
    """The Generate panel's per-shot prompt and seed reach that shot's generation tasks as OpenJD
    schedules them; a shot without its own takes the job's Seed and Prompt parameters."""
    from farm import openjd
    from farm.job import FarmJob, FarmShot

    shots = [FarmShot("sh010", 1, 2, prompt="dusk {{Param.Seed}}, rain", seed=7), FarmShot("sh020", 3, 4)]
    job = FarmJob(name="demo", scene="Scene", shots=shots, prompt="day", seed=100)
    values = openjd.parameter_values(job, tmp_path / "d.blend", tmp_path / "out", REPO_ROOT, ENGINE_PYTHON,
                                     "blender", tmp_path / "job")
    openjd.write_job(tmp_path / "job", openjd.build_template(job), values)
    check(run([OPENJD, "check", tmp_path / "job" / "template.json"]))
    _, tasks = tasks_of(tmp_path / "job")
    by_shot = {t["ShotFolder"]: t for t in tasks["GenerateTakes"]}
    assert by_shot["sh010"]["SeedArgument"] == "--seed=7"
    assert by_shot["sh010"]["PromptArgument"] == '--prompt-json="dusk \\u007b\\u007bParam.Seed\\u007d\\u007d, rain"'
    assert by_shot["sh020"]["SeedArgument"] == "--seed=100" and by_shot["sh020"]["PromptArgument"] == "--prompt=day"


def test_the_memory_parameter_reaches_the_engine(finished_job, farm_env, tmp_path):
    """Memory (the engine's --memory, default auto, as the panel's Generate passes Preferences ▸
    Memory) is a job parameter the generation task hands to the engine: its take.json records it."""
    job_dir, _ = finished_job
    template = json.loads((job_dir / "template.json").read_text())
    (memory,) = [p for p in template["parameterDefinitions"] if p["name"] == "Memory"]
    assert memory["default"] == "auto" and tuple(memory["allowedValues"]) == ("auto", "high", "balanced", "low")
    (device,) = [p for p in template["parameterDefinitions"] if p["name"] == "Device"]
    assert tuple(device["allowedValues"]) == ("auto", "cpu", "cuda", "mps")  # the engine's --device choices
    copy = tmp_path / "job"
    shutil.copytree(job_dir, copy)
    shutil.rmtree(copy / "output" / "takes" / "sh010")
    _, tasks = tasks_of(copy)
    (chosen,) = [t for t in tasks["GenerateTakes"] if t["ShotFolder"] == "sh010"]
    task = ["--step", "GenerateTakes", "-p", "Memory=balanced",
            *[arg for name, value in chosen.items() for arg in ("--task-param", f"{name}={value}")]]
    check(openjd_run(copy, farm_env, *task))
    (record,) = [json.loads(p.read_text()) for p in (copy / "output" / "takes" / "sh010").glob("*/take-*/take.json")]
    assert record["parameters"]["memory"] == "balanced"
    refused = openjd_run(copy, farm_env, "--step", "GenerateTakes", "-p", "Memory=lots")
    assert refused.returncode != 0 and "Memory" in refused.stdout + refused.stderr
