"""Names and prompts reach the farm's tasks as typed: a scene, shots and a prompt made of what
OpenJD (`{{ ... }}`) and Flamenco Manager (`{NAME}`) would expand, quotes, shell characters,
a leading '-', control characters and non-ASCII, run through real `openjd run` and real node."""

import json
import re

import pytest
from conftest import (BLENDER_PYTHON, BPY_BLENDER, ENGINE_PYTHON, OPENJD, REPO_ROOT, check, make_openjd, openjd_run,
                      run, tiny_job_args)
from openjd.model import decode_job_template
from test_flamenco import JOB_TYPE, NODE, _argv, _in_dependency_order, compile_job

from farm import flamenco_job, literal
from farm.job import FarmJob, FarmShot
from farm.layout import shot_folder

SCENE = "Sc {{Param.Blender}} {blender}"
SHOTS = ("sh {{Param.Blender}}", "-x {blender} {{ Task.Param.Frames }} \"q' $HOME `id`; é ☃")
PROMPT = "-a {{Param.Blender}} {blockcast} \"cat\" 'it' $HOME `id` ; \\n\n\ttab é ☃ }}"
NASTY = [*SHOTS, SCENE, PROMPT, "", "{", "}", "}}{{", "a\\{{b}}", "\x7f\x85\u2028", "--", "-", "=x=", "{{{{}}}}"]

MAKE_SCENE = """
import sys, bpy
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
scene = bpy.context.scene
scene.name = {scene!r}
for name, frame in {markers!r}:
    scene.timeline_markers.new(name, frame=frame).camera = scene.camera
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[2])
"""


@pytest.fixture(scope="module")
def nasty_blend(venvs, tmp_path_factory):
    """The demo scene, 4 frames at 64x36, its scene and two shots (frames 1-2, 3-4) named to be expanded,
    saved under a file name that OpenJD would evaluate too."""
    folder = tmp_path_factory.mktemp("nasty")
    plain, path = folder / "plain.blend", folder / "demo {{Param.Blender}}.blend"
    check(run([BLENDER_PYTHON, REPO_ROOT / "scripts" / "make_demo_scene.py", "--save", plain, "--frames", "4",
               "--size", "64x36"], cwd=REPO_ROOT))
    check(run([BLENDER_PYTHON, "-c", MAKE_SCENE.format(scene=SCENE, markers=list(zip(SHOTS, (1, 3)))), plain, path]))
    return path


def _exported(chunk):
    manifest = json.loads((chunk / "bundle.json").read_text(encoding="utf-8"))
    return manifest["source"]["scene"], manifest["shot"]["name"]


def _prompts(takes_dir):
    return [json.loads(p.read_text(encoding="utf-8"))["prompt"] for p in sorted(takes_dir.glob("*/take-*/take.json"))]


def test_the_encoding_holds_no_braces_and_round_trips_in_python_and_javascript():
    script = f"{JOB_TYPE.read_text()}\n;console.log(JSON.stringify(JSON.parse(process.argv[1]).map(literal)));"
    from_js = json.loads(check(run([NODE, "-e", script, json.dumps(NASTY)])).stdout) if NODE else None
    for index, text in enumerate(NASTY):
        encoded = literal.encode(text)
        assert literal.decode(encoded) == text and encoded.startswith('"')
        assert not re.search(r"[{}\x00-\x1f\x7f-\x9f]", encoded)
        assert from_js is None or from_js[index] == encoded  # the Flamenco job type writes the same text
    for not_a_string in ("sh010", "1", "null", '["a"]', '"unterminated'):
        with pytest.raises(ValueError):
            literal.decode(not_a_string)


def test_openjd_runs_every_task_with_the_names_and_prompt_as_typed(nasty_blend, tiny_models, farm_env, tmp_path):
    job_dir = tmp_path / "job"
    check(make_openjd(nasty_blend, job_dir, *tiny_job_args(tiny_models), "--prompt", PROMPT))
    check(run([OPENJD, "check", job_dir / "template.json"]))
    template = json.loads((job_dir / "template.json").read_text(encoding="utf-8"))
    decode_job_template(template=template)
    # Every `{{` in the template's format strings (all but the parameters' default values, which OpenJD
    # uses as given) is one of the job writer's own references, none from user text.
    text = json.dumps({**template, "parameterDefinitions": None}, ensure_ascii=False)
    assert set(re.findall(r"\{\{(.*?)\}\}", text)) <= {
        "Param.Blender", "Param.BlockcastDir", "Param.BlendFile", "Param.OutputDir", "Param.EnginePython",
        "Param.Passes", "Param.Takes", "Param.TakesPerTask", "Param.Seed", "Param.Backend", "Param.Prompt",
        "Param.Steps", "Param.GenerationSize", "Param.Models", "Param.Device", "Param.Memory", "Task.Param.Shot",
        "Task.Param.ShotFolder", "Task.Param.Frames", "Task.Param.Chunks", "Task.Param.FirstTake",
        "Task.Param.SeedArgument", "Task.Param.PromptArgument"}
    assert template["name"] == "Blockcast demo __Param.Blender__"  # a display name, its braces dropped
    check(openjd_run(job_dir, farm_env, timeout=600))
    output = job_dir / "output"
    for shot, frames in zip(SHOTS, ("1-2", "3-4")):
        assert _exported(output / "chunks" / shot_folder(shot) / frames) == (SCENE, shot)
        assert _prompts(output / "takes" / shot_folder(shot)) == [PROMPT]
    assert (output / "edit" / "takes.blend").is_file()


def test_flamenco_tasks_get_the_names_and_prompt_as_typed(nasty_blend, tiny_models, farm_env, tmp_path):
    """The Manager's variable replacement (every `{NAME}` it knows, in every argument) is applied
    as the worker would get it; `{blender}` is in the scene, a shot and the prompt."""
    if NODE is None:
        pytest.skip("needs node (apt-get install nodejs)")
    shot = FarmShot(SHOTS[1], 3, 4)
    job = FarmJob(name="demo", scene=SCENE, shots=[shot], backend="animatediff", chunk_size=2, steps=2,
                  generation_size="64x36", models=tiny_models, allow_cpu_generation=True, prompt=PROMPT)
    output = tmp_path / "output"
    tasks = compile_job(flamenco_job.settings(job, nasty_blend, output))["tasks"]
    assert shot.folder == "x_blender_Task.Param.Frames_q_HOME_id"  # no leading '-' to pass for an option
    assert f"merge-{shot.folder}" in [task["name"] for task in tasks]  # the job type's folder is farm.layout's
    variables = {"blender": str(BPY_BLENDER), "blenderArgs": "-b -y", "blockcast": str(REPO_ROOT),
                 "blockcast_python": str(ENGINE_PYTHON)}
    for task in _in_dependency_order(tasks):
        for command in task["commands"]:
            check(run(_argv(command, variables), env=farm_env))
    assert _exported(output / "chunks" / shot.folder / "3-4") == (SCENE, SHOTS[1])
    assert _prompts(output / "takes" / shot.folder) == [PROMPT]


def test_a_prompt_too_long_for_an_openjd_parameter_is_refused_in_one_line(nasty_blend, tmp_path):
    result = make_openjd(nasty_blend, tmp_path / "job", "--prompt", "x" * 1025)
    assert result.returncode == 1 and result.stderr.count("error:") == 1
    assert "the prompt has 1025 characters; an OpenJD job parameter holds at most 1024" in result.stderr
    assert not (tmp_path / "job").exists()


def test_model_overrides_with_the_separator_are_refused():
    with pytest.raises(ValueError, match="contains ';'"):
        FarmJob(name="d", scene="S", shots=[FarmShot("a", 1, 2)], models=["unet=/models/a;b"])



def test_farm_scripts_refuse_a_shot_folder_outside_the_output_and_a_prompt_that_is_not_json(venvs, tmp_path):
    result = run([BLENDER_PYTHON, REPO_ROOT / "scripts" / "farm_assemble.py", "--output-dir", tmp_path, "--shots=sh010,.."])
    assert result.returncode == 2 and "--shots '..' is not a shot folder name" in result.stderr.splitlines()[-1]
    result = run([ENGINE_PYTHON, REPO_ROOT / "scripts" / "farm_generate.py", tmp_path, "--out", tmp_path,
                  "--first-take", "1", "--takes-per-task", "1", "--takes", "1", "--prompt-json", "a cat"])
    assert result.returncode == 2 and "is not a JSON string" in result.stderr.splitlines()[-1]
