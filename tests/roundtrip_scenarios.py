"""Round-trip scenarios run inside a fresh bpy with the built extension installed, as users
get it (tests/test_roundtrip.py starts one process per scenario and checks its report).

    python tests/roundtrip_scenarios.py SCENARIO ZIP REPO BLEND MODEL_FOLDER TAKES_DIR OUT_BLEND

Prints one `REPORT {json}` line. The add-on is registered by installing the extension, as
in tests/test_extension.py, never by calling register() in the pytest process: bpy 4.2 as a
module crashes on exit after that.
"""

import importlib
import json
import os
import sys
import time
from pathlib import Path

import bpy

PACKAGE = "bl_ext.user_default.blockcast"
SHOT = "Scene"  # the demo scene's camera shot is named after its scene


def module(name):
    return importlib.import_module(f"{PACKAGE}.addon.{name}")


def setup(zip_path, repo, blend, model_folder, takes_dir):
    """Install the extension, open the demo shot, point the preferences at the tiny models."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    report = {"idname": type(prefs).bl_idname, "default_takes_root": str(module("ui.preferences").takes_root(prefs)),
              "user_dir": bpy.utils.extension_path_user(PACKAGE)}
    try:
        module("ui.preferences").engine_setup(prefs)
    except Exception as exc:  # the extension ships no engine: it must be pointed at one
        report["without_engine"] = str(exc)
    prefs.engine_python = str(Path(repo) / ".venv-engine" / "bin" / "python")
    prefs.engine_dir, prefs.model_folder, prefs.takes_folder = repo, model_folder, takes_dir
    prefs.default_backend, prefs.device = "wan-vace", "cpu"
    bpy.ops.wm.open_mainfile(filepath=blend)
    settings = bpy.context.scene.blockcast.shot_generation_settings(SHOT, create=True)
    settings.prompt, settings.steps, settings.long_side = "a red kite", 2, 64
    return settings, report


def call(operator, **kwargs):
    """An operator's result, or the text of the error it reported."""
    try:
        return sorted(operator(**kwargs))
    except RuntimeError as exc:
        return str(exc)


def takes():
    return module("blender.sequencer").shot_takes(bpy.context.scene, SHOT)


def generate(settings, out_blend):
    """Generate 2 takes, accept the second, regenerate the first, load its controls, save."""
    settings.takes = 2
    report = {"generate": call(bpy.ops.blockcast.generate), "seed_after": settings.seed}
    first, second = takes()
    report["accept"] = call(bpy.ops.blockcast.accept_take, strip=second.name)
    report["mutes_after_accept"] = [s.mute for s in takes()]
    report["regenerate"] = call(bpy.ops.blockcast.regenerate_take, strip=first.name)
    report["controls"] = call(bpy.ops.blockcast.load_control_strips, strip=first.name)
    bpy.ops.wm.save_as_mainfile(filepath=out_blend)
    return report


def cancel(settings, _out_blend):
    """Start a long generation, cancel it with the Cancel operator at the first step."""
    settings.takes, settings.steps = 2, 400
    generation = module("blender.generation")
    scene = bpy.context.scene
    job = module("blender.shot_jobs").shot_job(scene, module("blender.shots").resolve_shot(scene),
                                              module("ui.preferences").preferences(), ["depth", "pose", "camera"])
    deadline = time.monotonic() + 120
    while job.tick() and job.progress.step < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    report = {"step_when_cancelled": job.progress.step, "takes_when_cancelled": len(job.progress.takes_done)}
    report["cancel"] = call(bpy.ops.blockcast.cancel_generation)
    report["phase"] = job.wait()
    try:
        os.kill(job.engine_pid, 0)
        report["engine_alive"] = True
    except ProcessLookupError:
        report["engine_alive"] = False
    report.update(running_job=generation.running_job() is not None, strips=len(takes()),
                  bundle_left=job.bundle_dir.exists(), reports=job.reports)
    return report


def failure(settings, _out_blend):
    """Generate with a model folder whose model has no weights."""
    broken = Path(bpy.context.preferences.addons[PACKAGE].preferences.model_folder).parent / "broken"
    bpy.context.preferences.addons[PACKAGE].preferences.model_folder = str(broken)
    report = {"generate": call(bpy.ops.blockcast.generate)}
    editor = bpy.context.scene.sequence_editor
    report["strips"] = len(module("blender.sequencer").all_strips(editor)) if editor else 0
    report["running_job"] = module("blender.generation").running_job() is not None
    return report


def previz(settings, _out_blend):
    """Generate with no backend named anywhere and no Check Engine done: the add-on asks the
    engine for its default (previz) and exports the passes it needs beside the chosen ones."""
    bpy.context.preferences.addons[PACKAGE].preferences.default_backend = ""
    preferences = module("ui.preferences")
    report = {"report_before": preferences.ENGINE_CHECK["report"] is not None,
              "chosen": bpy.context.scene.blockcast.passes(), "generate": call(bpy.ops.blockcast.generate),
              "known_backends": preferences.known_backends()}
    strips = takes()
    report["strips"] = len(strips)
    if not strips:
        return report  # the test shows the generate error
    take = Path(strips[0][module("strip_layout").PREFIX + "take_json"]).parent
    record = json.loads((take / "take.json").read_text())
    bundle = json.loads((Path(record["bundle"]["path"]) / "bundle.json").read_text())
    report.update(take=take.name, backend=record["backend"], controls=sorted(record["parameters"]["controls"]),
                  size=record["parameters"]["generation_size"], bundle_passes=sorted(bundle["passes"]),
                  frames=sorted(p.name for p in (take / "frames").iterdir()))
    return report


def main():
    scenario, zip_path, repo, blend, model_folder, takes_dir, out_blend = sys.argv[1:8]
    settings, report = setup(zip_path, repo, blend, model_folder, takes_dir)
    scenarios = {"generate": generate, "cancel": cancel, "failure": failure, "previz": previz}
    report.update(scenarios[scenario](settings, out_blend))
    print("REPORT " + json.dumps(report, default=str), flush=True)


if __name__ == "__main__":
    main()
