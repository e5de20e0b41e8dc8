"""Generate All Shots scenarios, run inside a fresh bpy with the built extension installed
(tests/test_generate_all.py starts one process per scenario and checks its report).

    python tests/generate_all_scenarios.py SCENARIO ZIP REPO BLEND TAKES_DIR

The scene is the demo with its reverse shot (shots A and B); the engine runs the default
previz backend. BLOCKCAST_BLENDER (set by the test) makes the exports background ones.
Prints one `REPORT {json}` line.
"""

import importlib
import json
import sys
import time
from pathlib import Path

import bpy

PACKAGE = "bl_ext.user_default.blockcast"
SHOTS = ("A", "B")


def module(name):
    return importlib.import_module(f"{PACKAGE}.addon.{name}")


def setup(zip_path, repo, blend, takes_dir, takes_of_a):
    """Install the extension, open the two-shot demo, give each shot its own settings."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.engine_python = str(Path(repo) / ".venv-engine" / "bin" / "python")
    prefs.engine_dir, prefs.takes_folder = repo, takes_dir
    prefs.default_backend, prefs.device = "previz", "cpu"
    bpy.ops.wm.open_mainfile(filepath=blend)
    for name, takes, seed in (("A", takes_of_a, 10), ("B", 1, 20)):
        settings = bpy.context.scene.blockcast.shot_generation_settings(name, create=True)
        settings.prompt, settings.takes, settings.seed = f"shot {name}", takes, seed


def takes():
    """Per shot: (seed, created) of its take strips."""
    found = {}
    for shot in SHOTS:
        found[shot] = []
        for strip in module("blender.sequencer").shot_takes(bpy.context.scene, shot):
            record = json.loads((Path(strip[module("strip_layout").PREFIX + "take_json"])).read_text())
            found[shot].append([record["seed"], record["created"]])
    return found


def generate_all():
    """The operator, as a script runs it (to the end), then the shots' takes and seeds."""
    try:
        result = sorted(bpy.ops.blockcast.generate_all())
    except RuntimeError as exc:
        result = str(exc)
    seeds = {name: bpy.context.scene.blockcast.shot_generation_settings(name).seed for name in SHOTS}
    return {"result": result, "takes": takes(), "seeds_after": seeds}


def cancel():
    """The queue as the modal runs it; Cancel (the panel's button) once shot A's first take is in."""
    queue_module, generation = module("shot_queue"), module("blender.generation")
    scene = bpy.context.scene
    names = [shot.name for shot in module("blender.shots").scene_shots(scene)]
    queue = queue_module.ShotQueue(names, module("ui.operators_generate_all").shot_job_maker(scene.name),
                                   generation.JOB_ERRORS)
    lines, fractions, deadline = [], [], time.monotonic() + 840
    while queue.tick() and not queue.jobs and len(queue.job.progress.takes_done) < 1:
        assert time.monotonic() < deadline, "shot A made no take"
        lines.append(queue.progress.status_line())
        fractions.append(queue.progress.fraction)
        time.sleep(0.02)
    report = {"index_when_cancelled": queue.index, "lines": sorted(set(lines)),
              "fractions_rise": fractions == sorted(fractions), "last_fraction": fractions[-1]}
    report["cancel"] = sorted(bpy.ops.blockcast.cancel_generation())
    report.update(phase=queue.wait(), index=queue.index, finished=queue.finished, takes=takes(),
                  running=queue_module.running_queue() is not None or generation.running_job() is not None,
                  reports=queue.reports, final_line=queue.progress.status_line())
    return report


def main():
    scenario, zip_path, repo, blend, takes_dir = sys.argv[1:6]
    setup(zip_path, repo, blend, takes_dir, takes_of_a=2 if scenario == "cancel" else 1)
    report = {"generate_all": generate_all, "cancel": cancel}[scenario]()
    print("REPORT " + json.dumps(report, default=str), flush=True)


if __name__ == "__main__":
    main()
