"""Operators on takes in the sequencer: accept one, reveal its files, load its control passes."""

from pathlib import Path

import bpy
from bpy.props import StringProperty

from ...engine.bundle.take_record import TakeRecordError
from ..blender import errors
from ..blender.sequencer import accept_take, add_control_strips, find_take
from ..strip_layout import PREFIX


class _OnTake:
    strip: StringProperty(name="Take", description="The take strip's name")

    def take(self, context):
        strip = find_take(context.scene, self.strip)
        if strip is None:
            raise errors.UserError(f"no take strip named {self.strip!r} in scene {context.scene.name!r}")
        return strip


class BLOCKCAST_OT_accept_take(_OnTake, bpy.types.Operator):
    """Play this take; the shot's other takes are kept, muted"""

    bl_idname = "blockcast.accept_take"
    bl_label = "Accept Take"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            strip = self.take(context)
        except errors.UserError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        accept_take(context.scene, strip)
        return {"FINISHED"}


class BLOCKCAST_OT_reveal_take(_OnTake, bpy.types.Operator):
    """Open the take's folder (frames, preview.mp4, take.json) in the file browser"""

    bl_idname = "blockcast.reveal_take"
    bl_label = "Reveal Files"

    def execute(self, context):
        try:
            folder = Path(self.take(context)[PREFIX + "take_json"]).parent
        except errors.UserError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if not folder.is_dir():
            self.report({"ERROR"}, f"{folder} is gone: the take's files were moved or deleted")
            return {"CANCELLED"}
        bpy.ops.wm.path_open(filepath=str(folder))
        return {"FINISHED"}


class BLOCKCAST_OT_load_control_strips(_OnTake, bpy.types.Operator):
    """Add the control images this take's model saw (depth, pose...) as insets above the shot's takes, for
    side-by-side review"""

    bl_idname = "blockcast.load_control_strips"
    bl_label = "Load Control Passes"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            added = add_control_strips(context.scene, self.take(context))
        except (errors.UserError, TakeRecordError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if not added:
            self.report({"INFO"}, "No control passes to add: they are loaded already, or the take's bundle is gone")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Added {', '.join(strip.name for strip in added)}")
        return {"FINISHED"}


_CLASSES = (BLOCKCAST_OT_accept_take, BLOCKCAST_OT_reveal_take, BLOCKCAST_OT_load_control_strips)

register, unregister = bpy.utils.register_classes_factory(_CLASSES)
