"""The take-files scenario for tests/test_take_files.py, in a fresh bpy with the built extension
installed (see tests/roundtrip_scenarios.py for why not in pytest's process):

    python tests/take_files_scenario.py ZIP REPO WORK_DIR

An unsaved demo shot: Generate and Export Passes refuse. Saved: Generate (seed 0) → New Seed →
Generate (nothing changed: the bundle is reused) → an object moved (a new bundle) → Save As into
another folder, a seed typed that was used: Generate. The previz backend (1 step) on a
3-frame 64x36 shot. Prints one `REPORT {json}` line.
"""

import importlib
import json
import os
import sys
from pathlib import Path

import bpy

PACKAGE = "bl_ext.user_default.blockcast"
SHOT = "Scene"  # the demo scene's camera shot is named after its scene


def module(name):
    return importlib.import_module(f"{PACKAGE}.addon.{name}")


def call(operator, **kwargs):
    try:
        return sorted(operator(**kwargs))
    except RuntimeError as exc:
        return str(exc)


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*")) if Path(folder).exists() else []


def takes():
    return module("blender.sequencer").shot_takes(bpy.context.scene, SHOT)


def take_state(settings):
    """The shot's takes (folder, seed, bundle) and its Seed field after a job."""
    rows = []
    for strip in takes():
        record = json.loads(Path(strip["blockcast_take_json"]).read_text())
        rows.append([Path(strip["blockcast_take_json"]).parent.name, record["seed"],
                     Path(record["bundle"]["path"]).name])
    return {"takes": sorted(rows), "seed_field": settings.seed,
            "shot_dir": str(Path(takes()[-1]["blockcast_take_json"]).parent.parent) if takes() else None}


def main():
    zip_path, repo, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.engine_python = str(repo / ".venv-engine" / "bin" / "python")
    prefs.engine_dir, prefs.default_backend, prefs.device = str(repo), "previz", "cpu"
    user_takes = Path(module("ui.preferences").takes_root(prefs))
    scene = bpy.context.scene
    module("blender.demo_scene").build_demo_scene(scene, 3, 64, 36)
    settings = scene.blockcast.shot_generation_settings(SHOT, create=True)
    settings.prompt, settings.long_side, settings.steps = "a red kite", 64, 1
    report = {"unsaved_generate": call(bpy.ops.blockcast.generate),
              "unsaved_export": call(bpy.ops.blockcast.export_passes),
              "unsaved_written": files_under(user_takes) + files_under(os.getcwd()),
              "unsaved_project": scene.get("blockcast_project")}

    (work / "first").mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(work / "first" / "shot.blend"))
    report["generate_1"] = [call(bpy.ops.blockcast.generate), take_state(settings)]
    report["project"] = scene.get("blockcast_project")
    report["new_seed"] = [call(bpy.ops.blockcast.regenerate_take, strip=takes()[0].name), take_state(settings)]
    report["generate_2"] = [call(bpy.ops.blockcast.generate), take_state(settings)]
    reuse = module("blender.shot_jobs").shot_job(scene, module("blender.shots").resolve_shot(scene),
                                                module("ui.preferences").preferences(), scene.blockcast.passes())
    report["reuse_status"] = reuse.progress.status_line()  # what Generate's live status line shows
    reuse.cancel()
    reuse.wait()
    moved = next(obj for obj in scene.objects if obj.type == "MESH")
    moved.location.x += 0.001  # a millimetre: the job exports a new bundle (cancelled before the engine)
    job = module("blender.shot_jobs").shot_job(scene, module("blender.shots").resolve_shot(scene),
                                              module("ui.preferences").preferences(), scene.blockcast.passes())
    report["moved"] = {"object": moved.name, "exporting": job.exporting, "bundle": job.bundle_dir.name}
    job.cancel()
    report["moved"].update(phase=job.wait(), left=job.bundle_dir.exists())

    (work / "second").mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(work / "second" / "renamed.blend"))
    settings.seed = 1  # typed deliberately: a seed a take used
    report["generate_saved_as"] = [call(bpy.ops.blockcast.generate), take_state(settings)]
    report["project_after_save_as"] = bpy.context.scene.get("blockcast_project")
    shot_dir = Path(report["generate_saved_as"][1]["shot_dir"])
    report["shot_folder"] = sorted(p.name for p in shot_dir.iterdir())
    report["bundles"] = {p.name: sorted(q.name for q in p.iterdir() if q.name.startswith("."))
                         for p in (shot_dir / "bundles").iterdir()}
    report["projects"] = sorted(p.name for p in user_takes.iterdir())
    print("REPORT " + json.dumps(report, default=str), flush=True)
    os._exit(0)  # bpy 4.2 as a module may crash on exit once an add-on was registered


if __name__ == "__main__":
    main()
