"""Operators of the Cast panel: actors and props joining the cast, reference slots, and Lock
Look from Take (an accepted take's colours and a reference crop per actor, for later shots)."""

from pathlib import Path

import bpy
from bpy.props import IntProperty, StringProperty

from ...engine.bundle.take_record import TakeRecordError, read_take
from ..blender import errors
from ..blender.cast_edit import CastEditError, add_actors, add_prop, lock_look
from ..blender.sequencer import find_take, shot_takes
from ..blender.shots import scene_camera_shot
from ..strip_layout import PREFIX


class BLOCKCAST_OT_cast_add_actors(bpy.types.Operator):
    """Give every actor of the scene a place in the cast, for its look (locked colours, references, seed)"""

    bl_idname = "blockcast.cast_add_actors"
    bl_label = "Add Actors"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        added = add_actors(context.scene)
        self.report({"INFO"}, f"{added} actor(s) joined the cast" if added else "Every actor is in the cast")
        return {"FINISHED"}


class BLOCKCAST_OT_cast_add_prop(bpy.types.Operator):
    """Make the selected objects one prop of the cast (named after the active object), with one look"""

    bl_idname = "blockcast.cast_add_prop"
    bl_label = "Add Prop from Selected"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        selected = list(context.selected_objects)
        active = context.active_object if context.active_object in selected else (selected[0] if selected else None)
        try:
            member = add_prop(context.scene, selected, active.name if active is not None else "Prop")
        except CastEditError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Prop {member.name!r}: {', '.join(e.object.name for e in member.objects)}")
        return {"FINISHED"}


class BLOCKCAST_OT_cast_remove_member(bpy.types.Operator):
    """Take the selected actor or prop out of the cast (an actor keeps its name and description; its look
    is forgotten)"""

    bl_idname = "blockcast.cast_remove_member"
    bl_label = "Remove from Cast"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return context.scene.blockcast_cast.active() is not None

    def execute(self, context):
        cast = context.scene.blockcast_cast
        cast.members.remove(cast.active_member)
        cast.active_member = max(0, min(cast.active_member, len(cast.members) - 1))
        return {"FINISHED"}


class BLOCKCAST_OT_cast_add_reference(bpy.types.Operator):
    """Add a reference image slot to the selected actor or prop (pick the file in the slot)"""

    bl_idname = "blockcast.cast_add_reference"
    bl_label = "Add Reference"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return context.scene.blockcast_cast.active() is not None

    def execute(self, context):
        context.scene.blockcast_cast.active().references.add()
        return {"FINISHED"}


class BLOCKCAST_OT_cast_remove_reference(bpy.types.Operator):
    """Remove this reference image from the actor or prop (the file stays)"""

    bl_idname = "blockcast.cast_remove_reference"
    bl_label = "Remove Reference"
    bl_options = {"REGISTER", "UNDO"}

    index: IntProperty(name="Reference", min=0)

    def execute(self, context):
        member = context.scene.blockcast_cast.active()
        if member is None or self.index >= len(member.references):
            return {"CANCELLED"}
        member.references.remove(self.index)
        return {"FINISHED"}


def accepted_take(scene):
    """The accepted take strip of the shot picked in the Blockcast tab (else the scene camera's), or None."""
    shot = scene.blockcast.shot or scene_camera_shot(scene).name
    return next((strip for strip in shot_takes(scene, shot) if strip.get(PREFIX + "accepted")), None)


class BLOCKCAST_OT_lock_look_from_take(bpy.types.Operator):
    """Keep the look of the accepted take in every later shot: lock each object's colour and save a reference
    crop of each actor from the take's frames"""

    bl_idname = "blockcast.lock_look_from_take"
    bl_label = "Lock Look from Take"
    bl_options = {"REGISTER", "UNDO"}

    strip: StringProperty(name="Take", description="The take strip's name; empty: the shot's accepted take")

    def execute(self, context):
        scene = context.scene
        strip = find_take(scene, self.strip) if self.strip else accepted_take(scene)
        try:
            if strip is None:
                raise errors.UserError("no accepted take to lock: generate the shot and accept a take in the "
                                       "Sequencer's Blockcast tab")
            take_dir = Path(strip[PREFIX + "take_json"]).parent
            locked, crops, notes = lock_look(scene, take_dir, read_take(take_dir))
        except (errors.UserError, TakeRecordError, CastEditError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        for note in notes:
            self.report({"WARNING"}, note)
        self.report({"INFO"}, f"Locked {locked} colour(s) and {len(crops)} reference crop(s) from "
                              f"{strip[PREFIX + 'take']}")
        return {"FINISHED"}


_CLASSES = (BLOCKCAST_OT_cast_add_actors, BLOCKCAST_OT_cast_add_prop, BLOCKCAST_OT_cast_remove_member,
            BLOCKCAST_OT_cast_add_reference, BLOCKCAST_OT_cast_remove_reference, BLOCKCAST_OT_lock_look_from_take)

register, unregister = bpy.utils.register_classes_factory(_CLASSES)
