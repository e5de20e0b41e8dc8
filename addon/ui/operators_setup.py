"""Preferences ▸ Set Up Engine: make the engine's own environment from Blender, with progress
and Cancel; with online access off, the commands to run by hand instead.

The plan and the runner are addon/engine_install.py's (bpy-free); this module gathers the
preferences, ticks the runner from a timer and switches Engine Python only once the new engine
has answered `blockcast-engine backends`. Pressed in the UI it runs modal; called from a script
(bpy.ops.blockcast.set_up_engine()) it runs to the end before returning.
"""

import shutil
import time
from pathlib import Path

import bpy

from .. import engine_install as install
from . import preferences as prefs_ui

SETUP = {"run": None, "line": "", "alert": False, "commands": [], "cancel": False}


def _redraw():
    for window in getattr(bpy.context.window_manager, "windows", []):
        for area in window.screen.areas:
            area.tag_redraw()


def _plan(prefs, machine):
    """The plan for this machine from the preferences; SetupError when it cannot be made."""
    try:
        parent = Path(bpy.utils.extension_path_user(prefs_ui.ROOT_PACKAGE, path="engines", create=True))
    except ValueError as exc:  # loaded as a plain package: no extension user folder
        raise install.SetupError("Set Up Engine works in the installed extension (Get Extensions ▸ Install from "
                                 "Disk); from a checkout use scripts/setup_env.sh engine") from exc
    folder = bpy.path.abspath(prefs.engine_wheel_folder) if prefs.engine_wheel_folder else None
    if folder and not Path(folder).is_dir():
        raise install.SetupError(f"the Local Wheel Folder {folder} does not exist: choose a folder of wheels or "
                                 "clear it")
    wheel = install.shipped_wheel()
    if wheel is None and not folder:
        raise install.SetupError("this Blockcast carries no engine wheel: set a Local Wheel Folder holding "
                                 "blockcast_engine-*.whl, or pip install the engine (docs/engine.md ▸ Install)")
    return install.plan_install(parent, machine, install.find_python(machine), wheel, folder)


def _finish(prefs, run):
    """Point Engine Python at the new engine, forget the old check, remove older set-ups."""
    prefs.engine_python, prefs.engine_dir = str(run.plan.python), ""
    prefs_ui.ENGINE_CHECK["report"] = prefs_ui.ENGINE_CHECK["error"] = None
    for old in install.old_environments(run.plan.venv.parent, run.plan.venv):
        shutil.rmtree(old, ignore_errors=True)
    SETUP.update(line=f"Engine set up ({run.plan.build}) in {run.plan.venv}", alert=False)


class BLOCKCAST_OT_set_up_engine(bpy.types.Operator):
    """Install the engine (torch for this machine and the engine this extension carries) into a new
    environment in the extension's user folder, and use it once it answers"""

    bl_idname = "blockcast.set_up_engine"
    bl_label = "Set Up Engine"

    _timer = None

    def _start(self, context):
        prefs = prefs_ui.preferences(context)
        machine = install.Machine.current()
        SETUP.update(run=None, commands=[], cancel=False, alert=False, line="")
        try:
            plan = _plan(prefs, machine)
            if not bpy.app.online_access:
                SETUP.update(commands=plan.commands(machine), alert=True,
                             line="Online access is off (Preferences ▸ System ▸ Network): nothing installed. "
                                  "Run these commands, then set Engine Python to " + str(plan.python))
                self.report({"WARNING"}, "Online access is off: the commands to run are in Preferences")
                return None
            SETUP["run"] = install.InstallRun(plan)
        except (install.SetupError, OSError) as exc:
            SETUP.update(line=str(exc), alert=True)
            self.report({"ERROR"}, str(exc))
            return None
        SETUP["line"] = SETUP["run"].label
        return prefs

    def _tick(self, prefs):
        run = SETUP["run"]
        if SETUP["cancel"]:
            run.cancel()
        state = run.poll()
        done, total = run.progress()
        SETUP["line"] = f"{run.label} ({done + 1}/{total})" if state == "running" else run.error
        if state == "finished":
            _finish(prefs, run)
        elif state != "running":
            SETUP["alert"] = True
        return state

    def execute(self, context):
        prefs = self._start(context)
        if prefs is None:
            return {"CANCELLED"}
        while self._tick(prefs) == "running":
            time.sleep(0.2)
        return self._end(SETUP["run"].state)

    def invoke(self, context, _event):
        prefs = self._start(context)
        if prefs is None:
            return {"CANCELLED"}
        self._prefs = prefs
        self._timer = context.window_manager.event_timer_add(0.5, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC":
            SETUP["cancel"] = True
        if event.type != "TIMER" and event.type != "ESC":
            return {"PASS_THROUGH"}
        state = self._tick(self._prefs)
        _redraw()
        if state == "running":
            return {"RUNNING_MODAL"}
        context.window_manager.event_timer_remove(self._timer)
        return self._end(state)

    def _end(self, state):
        if state == "finished":
            self.report({"INFO"}, SETUP["line"])
            return {"FINISHED"}
        self.report({"WARNING"} if state == "cancelled" else {"ERROR"}, SETUP["line"])
        return {"CANCELLED"}


class BLOCKCAST_OT_cancel_engine_setup(bpy.types.Operator):
    """Stop Set Up Engine; the half-made environment is removed and the previous engine kept"""

    bl_idname = "blockcast.cancel_engine_setup"
    bl_label = "Cancel"

    def execute(self, _context):
        SETUP["cancel"] = True
        return {"FINISHED"}


def draw_engine_setup(layout, prefs):
    """The Set Up Engine row, its progress, and the commands to run by hand when online access is off."""
    box = layout.box()
    box.label(text="Set Up Engine", icon="CONSOLE")
    box.prop(prefs, "engine_wheel_folder")
    run = SETUP["run"]
    if run is not None and run.state == "running":
        done, total = run.progress()
        row = box.row()
        row.label(text=SETUP["line"], icon="SORTTIME")
        row.operator("blockcast.cancel_engine_setup", icon="CANCEL")
        box.progress(factor=done / total, type="BAR", text=f"{done}/{total} steps")
    else:
        box.operator("blockcast.set_up_engine", icon="IMPORT")
        if SETUP["line"]:
            row = box.row()
            row.alert = SETUP["alert"]
            row.label(text=SETUP["line"], icon="ERROR" if SETUP["alert"] else "CHECKMARK")
    for line in SETUP["commands"]:
        box.label(text=line)


CLASSES = (BLOCKCAST_OT_set_up_engine, BLOCKCAST_OT_cancel_engine_setup)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
