"""Preferences ▸ Models: each backend's model roles with their size, licence and where they are,
a Download button for those missing and the download's progress (addon/model_downloads.py runs
the engine's `models list` and `models fetch`). Downloads start only with online access on."""

import bpy
from bpy.props import StringProperty

from ..engine_process import EngineError
from .. import model_downloads
from . import preferences as prefs_ui

MODELS = {"entries": None, "error": "", "fetch": None, "line": "", "alert": False}
POLL_S = 0.5


def _setup(context):
    prefs = prefs_ui.preferences(context)
    return prefs_ui.engine_setup(prefs), prefs_ui.model_folder(prefs)


def _redraw():
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "PREFERENCES":
                area.tag_redraw()


class BLOCKCAST_OT_list_models(bpy.types.Operator):
    """Ask the engine for every model role, its size and licence, and whether it is here"""

    bl_idname = "blockcast.list_models"
    bl_label = "List Models"

    def execute(self, context):
        try:
            setup, folder = _setup(context)
            MODELS.update(entries=model_downloads.list_models(setup, folder), error="")
        except EngineError as exc:
            MODELS.update(entries=None, error=str(exc))
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class BLOCKCAST_OT_download_model(bpy.types.Operator):
    """Download this model from the Hugging Face hub (needs Allow Online Access)"""

    bl_idname = "blockcast.download_model"
    bl_label = "Download"

    backend: StringProperty()
    role: StringProperty()

    def execute(self, context):
        if MODELS["fetch"] is not None and not MODELS["fetch"].poll()["done"]:
            self.report({"WARNING"}, "A download is running: wait for it to finish")
            return {"CANCELLED"}
        if not bpy.app.online_access:
            MODELS.update(alert=True, line="Online access is off (Preferences ▸ System ▸ Network): nothing "
                                           f"downloaded. Or run: blockcast-engine models fetch {self.backend} "
                                           f"--role {self.role} --allow-network")
            self.report({"WARNING"}, "Online access is off: turn on Allow Online Access to download")
            return {"CANCELLED"}
        try:
            setup, folder = _setup(context)
            MODELS["fetch"] = model_downloads.ModelFetch(setup, self.backend, self.role, folder)
        except (EngineError, OSError) as exc:
            MODELS.update(alert=True, line=str(exc))
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        MODELS.update(alert=False, line=MODELS["fetch"].state["line"])
        bpy.app.timers.register(_watch, first_interval=POLL_S)
        return {"FINISHED"}


def _watch():
    """Timer: fold the download's progress into the panel; list the models again when it ends."""
    fetch = MODELS["fetch"]
    state = fetch.poll()
    MODELS.update(line=state["line"], alert=state["failed"])
    _redraw()
    if not state["done"]:
        return POLL_S
    try:
        bpy.ops.blockcast.list_models()
    except RuntimeError:
        pass  # the engine's error is already on the panel
    return None


def draw_models(layout):
    """The Models box of the preferences."""
    box = layout.box()
    box.label(text="Models", icon="FILE_3D")
    box.operator("blockcast.list_models", icon="FILE_REFRESH")
    if MODELS["error"]:
        row = box.row()
        row.alert = True
        row.label(text=MODELS["error"], icon="ERROR")
    if MODELS["line"]:
        row = box.row()
        row.alert = MODELS["alert"]
        row.label(text=MODELS["line"], icon="ERROR" if MODELS["alert"] else "IMPORT")
    for entry in MODELS["entries"] or ():   # engine.bundle.models_record.ModelEntry
        row = box.row()
        size = f"{entry.size_bytes / 1e9:.2f} GB" if entry.size_bytes else "ships with Blockcast"
        licence = f", {entry.licence}{' (gated)' if entry.gated else ''}" if entry.licence else ""
        where = entry.found_in or "missing"
        row.label(text=f"{entry.backend} {entry.role}: {entry.hub_id} ({size}{licence}) — {where}",
                  icon="CHECKMARK" if entry.folder else "ERROR")
        if not entry.folder:
            button = row.operator("blockcast.download_model", icon="IMPORT")
            button.backend, button.role = entry.backend, entry.role


_CLASSES = (BLOCKCAST_OT_list_models, BLOCKCAST_OT_download_model)


def register():
    for cls in _CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    if bpy.app.timers.is_registered(_watch):
        bpy.app.timers.unregister(_watch)
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
