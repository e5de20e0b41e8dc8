"""The add-on's Farm section: Write Farm Job turns the chosen shots into an Open Job Description
job and a Flamenco job submission, with the same tasks make_openjd.py writes (real Blender, the
extension built and installed as users get it, in a fresh process)."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

WRITE_JOB = r"""
import json, sys, bpy
zip_path, blend, job_dir = sys.argv[2:5]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
bpy.ops.blockcast.add_demo_scene()
scene = bpy.context.scene
for name, frame in (("sh010", 1), ("sh 020", 30)):
    scene.timeline_markers.new(name, frame=frame).camera = scene.camera
settings = scene.blockcast_farm
report = {"panel": hasattr(bpy.types, "BLOCKCAST_PT_farm"), "all_shots": json.loads(settings.shots_json),
          "defaults": [settings.backend, settings.passes]}
try:
    bpy.ops.blockcast.write_farm_job()
except RuntimeError as exc:  # operators that report ERROR raise in background mode
    report["unsaved"] = str(exc)
bpy.ops.wm.save_as_mainfile(filepath=blend)
settings.shots, settings.takes, settings.takes_per_task, settings.chunk_size = "sh 020", 3, 2, 10
report["defaults"].append(settings.memory)
settings.memory = "balanced"
settings.job_dir, settings.blockcast_dir = job_dir, sys.argv[1]
report["shots"] = json.loads(settings.shots_json)
report["write"] = sorted(bpy.ops.blockcast.write_farm_job())
own = scene.blockcast.shot_generation_settings("sh010", create=True)
own.prompt, own.seed = "dusk, rain", 7
settings.shots = ""
report["own_settings"] = json.loads(settings.shots_json)
settings.shots = "nope"
try:
    bpy.ops.blockcast.write_farm_job()
except RuntimeError as exc:
    report["unknown_shot"] = str(exc)
print("REPORT " + json.dumps(report))
"""


def test_write_farm_job_writes_openjd_and_flamenco_jobs_for_the_chosen_shots(tmp_path):
    build = subprocess.run([sys.executable, str(REPO / "scripts" / "build_extension.py"), "--out-dir", str(tmp_path)],
                           capture_output=True, text=True, cwd=REPO)
    assert build.returncode == 0, build.stdout + build.stderr
    script = tmp_path / "write_job.py"
    script.write_text(WRITE_JOB)
    job_dir = tmp_path / "job"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"))
    result = subprocess.run([sys.executable, str(script), str(REPO), build.stdout.strip().splitlines()[-1],
                             str(tmp_path / "shots.blend"), str(job_dir)], capture_output=True, text=True, env=env,
                            timeout=300)
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stdout + result.stderr
    report = json.loads(lines[0][len("REPORT "):])
    assert report["panel"]
    assert report["defaults"] == ["previz", "depth,pose,camera", "auto"]  # the job adds the passes previz needs
    assert report["all_shots"] == [["sh010", 1, 29], ["sh 020", 30, 48]]
    assert "save the .blend first" in report["unsaved"]
    assert report["shots"] == [["sh 020", 30, 48]] and report["write"] == ["FINISHED"]
    assert "no shot named 'nope'" in report["unknown_shot"]
    # A shot set up in the Generate panel takes its own prompt and seed to the farm.
    assert report["own_settings"] == [["sh010", 1, 29, "dusk, rain", 7], ["sh 020", 30, 48]]

    template = json.loads((job_dir / "template.json").read_text())
    steps = {step["name"]: step for step in template["steps"]}
    export_space = steps["ExportPasses"]["parameterSpace"]["taskParameterDefinitions"]
    assert [p["range"] for p in export_space] == [['"sh 020"'] * 2, ["sh_020"] * 2, ["30-39", "40-48"]]  # JSON
    assert "hostRequirements" not in steps["GenerateTakes"]  # previz runs on any worker
    defaults = {p["name"]: p.get("default") for p in template["parameterDefinitions"]}
    assert (defaults["Takes"], defaults["TakesPerTask"], defaults["Device"], defaults["Memory"]) == (3, 2, "auto",
                                                                                                   "balanced")
    assert (defaults["Backend"], defaults["Passes"]) == ("previz", "depth,pose,camera,shading,normal,objects")
    values = json.loads((job_dir / "parameters.json").read_text())
    assert (job_dir / values["BlendFile"]).resolve() == (tmp_path / "shots.blend").resolve()
    assert (job_dir / values["OutputDir"]).resolve() == (job_dir / "output").resolve()

    flamenco = json.loads((job_dir / "flamenco_job.json").read_text())
    assert flamenco["type"] == "blockcast" and flamenco["settings"]["blendfile"] == str(tmp_path / "shots.blend")
    assert json.loads(flamenco["settings"]["shots"]) == [["sh 020", 30, 48]]
    assert (flamenco["settings"]["takes"], flamenco["settings"]["gpu_task_type"]) == (3, "misc")
    assert flamenco["settings"]["memory"] == "balanced"
    assert flamenco["settings"]["passes"] == "depth,pose,camera,shading,normal,objects"
