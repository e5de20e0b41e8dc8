"""Set Up Engine inside a fresh bpy with the built extension installed, as users get it
(tests/test_engine_install_blender.py runs it and checks its report).

    python tests/engine_install_scenario.py ZIP WHEEL_FOLDER EMPTY_FOLDER BLEND TAKES_DIR [offline-only]

With online access off it must install nothing and show the commands; from an empty wheel
folder it must fail and keep the previous Engine Python; from the wheel folder it installs,
then Check Engine and a previz Generate run on the engine it installed. Prints `REPORT {json}`.
"""

import importlib
import json
import sys
import time
from pathlib import Path

import bpy

PACKAGE = "bl_ext.user_default.blockcast"


def module(name):
    return importlib.import_module(f"{PACKAGE}.addon.{name}")


def call(operator):
    try:
        return sorted(operator())
    except RuntimeError as exc:  # an operator that reports ERROR raises in background mode
        return str(exc)


def engines(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("engine-") and p.is_dir())


def main():
    zip_path, wheel_folder, empty_folder, blend, takes_dir = sys.argv[1:6]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    setup_ui, preferences = module("ui.operators_setup"), module("ui.preferences")
    parent = Path(bpy.utils.extension_path_user(PACKAGE, path="engines", create=True))
    system = bpy.context.preferences.system
    prefs.engine_python, prefs.takes_folder, prefs.device, prefs.default_backend = "", takes_dir, "cpu", ""
    report = {"engines_folder": str(parent)}

    system.use_online_access = False
    prefs.engine_wheel_folder = wheel_folder
    report["offline"] = {"result": call(bpy.ops.blockcast.set_up_engine), "commands": setup_ui.SETUP["commands"],
                         "line": setup_ui.SETUP["line"], "engines": engines(parent),
                         "engine_python": prefs.engine_python}
    if sys.argv[6:] == ["offline-only"]:
        print("REPORT " + json.dumps(report, default=str), flush=True)
        return

    system.use_online_access = True
    prefs.engine_wheel_folder = empty_folder
    report["failed"] = {"result": call(bpy.ops.blockcast.set_up_engine), "line": setup_ui.SETUP["line"],
                        "engines": engines(parent), "engine_python": prefs.engine_python}

    prefs.engine_wheel_folder = wheel_folder
    started = time.monotonic()
    report["installed"] = {"result": call(bpy.ops.blockcast.set_up_engine), "line": setup_ui.SETUP["line"],
                           "seconds": round(time.monotonic() - started, 1), "engines": engines(parent),
                           "engine_python": prefs.engine_python,
                           "engine_dir": str(preferences.engine_setup(prefs).engine_dir)}

    report["check"] = call(bpy.ops.blockcast.check_engine)
    check = preferences.ENGINE_CHECK
    report["check_error"] = check["error"]
    report["backends"] = [entry["name"] for entry in (check["report"] or {}).get("backends", [])]

    bpy.ops.wm.open_mainfile(filepath=blend)
    settings = bpy.context.scene.blockcast.shot_generation_settings("Scene", create=True)
    settings.steps, settings.long_side = 2, 64
    report["generate"] = call(bpy.ops.blockcast.generate)
    report["takes"] = sorted(str(p.relative_to(takes_dir)) for p in Path(takes_dir).rglob("take.json"))
    print("REPORT " + json.dumps(report, default=str), flush=True)


if __name__ == "__main__":
    main()
