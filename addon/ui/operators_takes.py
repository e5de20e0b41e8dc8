"""Operators on takes in the sequencer: accept one, reveal its files, review its control passes."""

from pathlib import Path

import bpy
from bpy.props import StringProperty

from ...engine.bundle.take_record import TakeRecordError
from ..blender import errors
from ..blender.review_scene import review_scene, reviewed_scene, show_take
from ..blender.sequencer import accept_take, add_control_strips, control_files, find_take
from ..strip_layout import PREFIX, LayoutError


class _OnTake:
    strip: StringProperty(name="Take", description="The take strip's name")

    def take(self, context):
        strip = find_take(context.scene, self.strip)
        if strip is None:
            raise errors.UserError(f"no take strip named {self.strip!r} in scene {context.scene.name!r}")
        return strip


class BLOCKCAST_OT_accept_take(_OnTake, bpy.types.Operator):
    """Play this take: it moves onto the shot's first channel, the take there onto its channel; the shot's other
    takes are kept, muted"""

    bl_idname = "blockcast.accept_take"
    bl_label = "Accept Take"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            accept_take(context.scene, self.take(context))
        except (errors.UserError, LayoutError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
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
    """Review the control images this take's model saw (depth, pose, objects in colour...): tiled beside the
    take in the Review scene, and muted on the shot's control channels (unmute one to see it full frame)"""

    bl_idname = "blockcast.load_control_strips"
    bl_label = "Load Control Passes"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            strip = self.take(context)
            record, files = control_files(strip)
        except (errors.UserError, TakeRecordError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        except (OSError, ValueError) as exc:
            self.report({"ERROR"}, f"Could not colour the objects control for review ({exc}): check the take's "
                                   "bundle folder can be written")
            return {"CANCELLED"}
        if not files:
            self.report({"INFO"}, "No control images to review: the take's bundle is gone or kept none")
            return {"CANCELLED"}
        try:
            added = add_control_strips(context.scene, strip, record, files)
            review = show_take(context.scene, strip, record, files)
        except LayoutError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        where = f"on {strip[PREFIX + 'shot']}'s control channels (muted)" if added else "already loaded"
        self.report({"INFO"}, f"{', '.join(files)} of {record.take}: {where}; side by side in scene "
                              f"{review.name!r} (Takes panel: Review)")
        return {"FINISHED"}


class BLOCKCAST_OT_show_review(bpy.types.Operator):
    """Switch this window between the edit and its Review scene, where takes play beside their controls"""

    bl_idname = "blockcast.show_review"
    bl_label = "Review Scene"

    def execute(self, context):
        scene = context.scene
        target = reviewed_scene(scene) or review_scene(scene)
        if target is None:
            self.report({"ERROR"}, "No Review scene yet: press Controls on a take first")
            return {"CANCELLED"}
        if context.window is None:
            self.report({"ERROR"}, "Switch scenes in the top bar: this has no window")
            return {"CANCELLED"}
        context.window.scene = target
        return {"FINISHED"}


_CLASSES = (BLOCKCAST_OT_accept_take, BLOCKCAST_OT_reveal_take, BLOCKCAST_OT_load_control_strips,
            BLOCKCAST_OT_show_review)

register, unregister = bpy.utils.register_classes_factory(_CLASSES)
