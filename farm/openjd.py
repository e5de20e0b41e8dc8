"""A FarmJob as an Open Job Description job (what AWS Deadline Cloud runs; `openjd run` runs it locally).

The template holds no machine paths: the .blend, the output folder, the Blockcast checkout
and the engine's Python are PATH job parameters, which a farm maps with its path-mapping
rules and `openjd run` resolves against the folder it runs in. Shots and their frame chunks
are task parameter values (the farm schedules each one as a task); every task runs one of our
scripts with plain arguments, through no shell, so nothing in the job is evaluated as code.

OpenJD evaluates `{{ ... }}` in every string of the template, task parameter values included,
and has no escape for it; only job parameter values are used as given. So no user text is
template text: the scene and shot names are JSON literals with escaped braces (farm/literal.py,
decoded by the task), the prompt and the model list are job parameter values, and the job's
display name loses its braces. Values go as `--option=VALUE`, so a value starting with '-' stays one.
"""

import json
import os
import re
from pathlib import Path

from . import layout, literal
from .job import DEVICES, MEMORY_PRESETS

SPEC = "jobtemplate-2023-09"
TEMPLATE, PARAMETERS, DEADLINE_PARAMETERS = "template.json", "parameters.json", "parameter_values.json"
GPU_REQUIREMENT = {"amounts": [{"name": "amount.worker.gpu", "min": 1}]}
MAX_VALUE = 1024  # characters of a STRING job parameter value (jobtemplate-2023-09)


def _param(name, kind, description, **extra):
    return {"name": name, "type": kind, "description": description, **extra}


def _parameters(job):
    return [
        _param("BlendFile", "PATH", "The saved .blend whose shots the job exports.", objectType="FILE", dataFlow="IN"),
        _param("OutputDir", "PATH", "Where chunks/, bundles/, takes/ and edit/ are written.",
               objectType="DIRECTORY", dataFlow="OUT"),
        _param("BlockcastDir", "PATH", "The Blockcast checkout the workers run scripts/ and engine/ from.",
               objectType="DIRECTORY", dataFlow="NONE"),
        _param("EnginePython", "PATH", "The engine venv's Python on the workers (scripts/setup_env.sh engine).",
               objectType="FILE", dataFlow="NONE"),
        _param("Blender", "STRING", "Blender's executable (or scripts/bpy-blender for the bpy-module venv).",
               default="blender"),
        _param("Passes", "STRING", "Passes to export, with those the Backend needs (previz: shading, depth, "
               "normal, objects); add them when choosing another backend here.", default=job.export_passes),
        _param("Takes", "INT", "Takes per shot (seeds Seed, Seed+1, ...).", default=job.takes, minValue=1),
        _param("TakesPerTask", "INT", "Takes one generation task makes (models load once per task).",
               default=job.takes_per_task, minValue=1),
        _param("Seed", "INT", "The first take's seed, for shots without their own.", default=job.seed),
        _param("Backend", "STRING", "The engine backend.", default=job.backend),
        _param("Prompt", "STRING", "The prompt of shots without their own.", default=job.prompt),
        _param("Steps", "INT", "Denoising steps; 0 is the backend's default.", default=job.steps, minValue=0),
        _param("GenerationSize", "STRING", "Generation size WxH; empty is the backend's default.",
               default=job.generation_size),
        _param("Models", "STRING", "Model overrides ROLE=ID_OR_PATH, separated by ';' (site paths: in the "
               "parameter values).", default=""),
        _param("Device", "STRING", "Generation device (the engine's --device; mps: Apple silicon workers).",
               default=job.device, allowedValues=list(DEVICES)),
        _param("Memory", "STRING", "The engine's memory preset (--memory): high, balanced (model offload), low "
               "(group offload, float8 weights); auto picks from each worker's free GPU memory.", default=job.memory,
               allowedValues=list(MEMORY_PRESETS)),
    ]


def _blender_step(name, script, args, parameter_space=None, dependencies=()):
    step = {"name": name, "script": {"actions": {"onRun": {"command": "{{Param.Blender}}", "args": [
        "-b", "--factory-startup", "--python-exit-code", "1", "-P", f"{{{{Param.BlockcastDir}}}}/scripts/{script}",
        "--", *args]}}}}
    return _with(step, parameter_space, dependencies)


def _python_step(name, script, args, parameter_space, dependencies, **extra):
    step = {"name": name, **extra, "script": {"actions": {"onRun": {
        "command": "{{Param.EnginePython}}", "args": [f"{{{{Param.BlockcastDir}}}}/scripts/{script}", *args]}}}}
    return _with(step, parameter_space, dependencies)


def _with(step, parameter_space, dependencies):
    if parameter_space:
        step["parameterSpace"] = parameter_space
    if dependencies:
        step["dependencies"] = [{"dependsOn": name} for name in dependencies]
    return step


def _strings(name, values):
    return {"name": name, "type": "STRING", "range": list(values)}


def _shot_path(kind, leaf=""):
    """OUTPUT/kind/SHOT[/leaf] as an OpenJD format string (see farm/layout.py)."""
    return "/".join(filter(None, ["{{Param.OutputDir}}", kind, "{{Task.Param.ShotFolder}}", leaf]))


def _label(name):
    """`name` for the job's display name, which OpenJD evaluates and which takes no control character."""
    return re.sub(r"[{}\x00-\x1f\x7f-\x9f]", "_", name)


def check_values(job):
    """A LayoutError for job values that OpenJD cannot hold as job parameter values."""
    if len(job.prompt) > MAX_VALUE:
        raise layout.LayoutError(f"the prompt has {len(job.prompt)} characters; an OpenJD job parameter holds at "
                                 f"most {MAX_VALUE}: shorten the prompt")
    for shot in job.shots:
        if len(_prompt_argument(shot)) > MAX_VALUE:
            raise layout.LayoutError(f"shot {shot.name}'s prompt is too long for an OpenJD task parameter (at most "
                                     f"{MAX_VALUE} characters once encoded): shorten it")
    models = ";".join(job.models)
    if len(models) > MAX_VALUE:
        raise layout.LayoutError(f"the --model overrides take {len(models)} characters; an OpenJD job parameter "
                                 f"holds at most {MAX_VALUE}: use shorter model paths")


def _seed_argument(shot):
    """A shot's own seed, else the job's Seed parameter (task parameter values are template text)."""
    return "--seed={{Param.Seed}}" if shot.seed is None else f"--seed={int(shot.seed)}"


def _prompt_argument(shot):
    """A shot's own prompt as a JSON literal (no braces for OpenJD to expand), else the job's Prompt."""
    return "--prompt={{Param.Prompt}}" if shot.prompt is None else f"--prompt-json={literal.encode(shot.prompt)}"


def build_template(job):
    """The job template (a dict, written as JSON) for `job`."""
    check_values(job)
    chunks = [(shot, chunk) for shot in job.shots for chunk in shot.chunks(job.chunk_size)]
    folders = [shot.folder for shot in job.shots]
    export = _blender_step("ExportPasses", "farm_export.py", [
        "{{Param.BlendFile}}", f"--scene-json={literal.encode(job.scene)}", "--shot-json={{Task.Param.Shot}}",
        "--frames={{Task.Param.Frames}}", "--passes={{Param.Passes}}",
        "--out", _shot_path(layout.CHUNKS, "{{Task.Param.Frames}}"), "--skip-done", "--overwrite"], {
        "taskParameterDefinitions": [_strings("Shot", [literal.encode(s.name) for s, _ in chunks]),
                                     _strings("ShotFolder", [s.folder for s, _ in chunks]),
                                     _strings("Frames", [c for _, c in chunks])],
        "combination": "(Shot, ShotFolder, Frames)"})
    merge = _python_step("MergeChunks", "farm_merge.py", [
        "--chunks-dir", _shot_path(layout.CHUNKS), "--chunks={{Task.Param.Chunks}}",
        "--out", _shot_path(layout.BUNDLES)], {
        "taskParameterDefinitions": [_strings("ShotFolder", folders),
                                     _strings("Chunks", [",".join(s.chunks(job.chunk_size)) for s in job.shots])],
        "combination": "(ShotFolder, Chunks)"}, ["ExportPasses"])
    generate = _python_step("GenerateTakes", "farm_generate.py", [
        _shot_path(layout.BUNDLES), "--out", _shot_path(layout.TAKES),
        "--first-take", "{{Task.Param.FirstTake}}", "--takes-per-task", "{{Param.TakesPerTask}}",
        "--takes", "{{Param.Takes}}", "{{Task.Param.SeedArgument}}", "--backend={{Param.Backend}}",
        "{{Task.Param.PromptArgument}}", "--steps={{Param.Steps}}", "--size={{Param.GenerationSize}}",
        "--models={{Param.Models}}", "--device={{Param.Device}}", "--memory={{Param.Memory}}"], {
        "taskParameterDefinitions": [_strings("ShotFolder", folders),
                                     _strings("SeedArgument", [_seed_argument(s) for s in job.shots]),
                                     _strings("PromptArgument", [_prompt_argument(s) for s in job.shots]),
                                     {"name": "FirstTake", "type": "INT",
                                      "range": "1-{{Param.Takes}}:{{Param.TakesPerTask}}"}],
        "combination": "(ShotFolder, SeedArgument, PromptArgument) * FirstTake"}, ["MergeChunks"],
        **({} if job.cpu_generation else {"hostRequirements": GPU_REQUIREMENT}))
    # SIGTERM first on cancel: the engine stops at its next step and removes the take it was making.
    generate["script"]["actions"]["onRun"]["cancelation"] = {"mode": "NOTIFY_THEN_TERMINATE"}
    assemble = _blender_step("Assemble", "farm_assemble.py", [
        "--output-dir", "{{Param.OutputDir}}", f"--shots={','.join(folders)}"], dependencies=["GenerateTakes"])
    label = _label(job.name)
    return {"specificationVersion": SPEC, "name": f"Blockcast {label}"[:128],
            "description": f"Blockcast: passes, takes and an edit for {len(job.shots)} shot(s) of {label}",
            "parameterDefinitions": _parameters(job), "steps": [export, merge, generate, assemble]}


def _relative(path, job_dir):
    """`path` relative to the job folder where possible, so the folder moves as a whole."""
    try:
        return os.path.relpath(Path(path).absolute(), Path(job_dir).absolute())
    except ValueError:  # another drive (Windows): keep it absolute
        return str(Path(path).absolute())


def parameter_values(job, blend, output_dir, blockcast_dir, engine_python, blender, job_dir):
    """This site's values for the parameters that name its files and programs, paths relative to
    the job folder (model folders too are this site's, so they go here, not in the template)."""
    return {"BlendFile": _relative(blend, job_dir), "OutputDir": _relative(output_dir, job_dir),
            "BlockcastDir": _relative(blockcast_dir, job_dir), "EnginePython": _relative(engine_python, job_dir),
            "Blender": blender, "Models": ";".join(job.models)}


def write_job(job_dir, template, values):
    """template.json, parameters.json (for `openjd run -p file://...`) and parameter_values.json
    (Deadline Cloud's job-bundle form of the same values) in `job_dir`."""
    job_dir = Path(job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    deadline = {"parameterValues": [{"name": name, "value": value} for name, value in values.items()]}
    for name, document in ((TEMPLATE, template), (PARAMETERS, values), (DEADLINE_PARAMETERS, deadline)):
        temp = job_dir / f".{name}.partial"
        temp.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        temp.replace(job_dir / name)
    return job_dir / TEMPLATE
