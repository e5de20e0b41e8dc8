"""3D View ▸ sidebar ▸ Blockcast ▸ Cast: the scene's actors and props and their looks, shared by
every shot of the scene (stored in the .blend as `scene.blockcast_cast`)."""

import os

import bpy
import bpy.utils.previews

from ..blender.actors import DESCRIPTION, actor_name, scene_actors
from .operators_cast import accepted_take
from ..strip_layout import PREFIX

_PREVIEWS = {}  # "thumbnails": a bpy.utils.previews collection while registered


class BLOCKCAST_UL_cast(bpy.types.UIList):
    """One row per actor or prop: its name, role and whether its look is locked."""

    def draw_item(self, _context, layout, _data, member, _icon, _active_data, _active_property, _index=0):
        locked = any(entry.use_color for entry in member.objects)
        icon = "ARMATURE_DATA" if member.role == "actor" else "OBJECT_DATA"
        row = layout.row(align=True)
        row.label(text=member.display_name(), icon=icon)
        if member.references:
            row.label(text="", icon="IMAGE_DATA")
        if locked:
            row.label(text="", icon="LOCKED")


def thumbnail(filepath):
    """A preview of an image file (reloaded when the file changes), or None when there is no file.
    Its icon is made by the UI when first drawn (headless Blender makes none: icon_id stays 0)."""
    previews = _PREVIEWS.get("thumbnails")
    path = bpy.path.abspath(filepath) if filepath else ""
    if previews is None or not os.path.isfile(path):
        return None
    key = f"{path}:{os.stat(path).st_mtime_ns}"
    return previews.get(key) or previews.load(key, path, "IMAGE")


def _draw_member(layout, member):
    box = layout.box()
    if member.role == "actor":
        if member.actor is None:
            box.label(text="Its armature is gone: remove it from the cast", icon="ERROR")
            return
        box.prop(member.actor, f'["{DESCRIPTION}"]', text="Description")
    else:
        box.prop(member, "name")
        box.prop(member, "description")
    column = box.column(align=True)
    column.label(text="Objects and locked colours")
    for entry in member.objects:
        row = column.row(align=True)
        row.prop(entry, "object", text="")
        row.prop(entry, "use_color", text="", icon="LOCKED" if entry.use_color else "UNLOCKED")
        sub = row.row(align=True)
        sub.active = entry.use_color
        sub.prop(entry, "color", text="")
    column = box.column(align=True)
    column.label(text="References")
    for index, reference in enumerate(member.references):
        row = column.row(align=True)
        row.prop(reference, "filepath", text="")
        row.operator("blockcast.cast_remove_reference", text="", icon="X").index = index
    column.operator("blockcast.cast_add_reference", icon="ADD")
    preview = thumbnail(member.references[0].filepath) if member.references else None
    if preview is not None:
        box.template_icon(icon_value=preview.icon_id, scale=6.0)
    row = box.row(align=True)
    row.prop(member, "use_look_seed")
    sub = row.row(align=True)
    sub.active = member.use_look_seed
    sub.prop(member, "look_seed", text="Seed")


class BLOCKCAST_PT_cast(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Blockcast"
    bl_label = "Cast"

    def draw(self, context):
        layout = self.layout
        scene = context.scene
        cast = scene.blockcast_cast
        row = layout.row(align=True)
        row.prop(cast, "use_look_seed")
        sub = row.row(align=True)
        sub.active = cast.use_look_seed
        sub.prop(cast, "look_seed")
        layout.template_list("BLOCKCAST_UL_cast", "", cast, "members", cast, "active_member", rows=3)
        row = layout.row(align=True)
        row.operator("blockcast.cast_add_prop", icon="ADD")
        row.operator("blockcast.cast_remove_member", text="", icon="REMOVE")
        outside = [actor for actor in scene_actors(scene) if cast.member_of_actor(actor) is None]
        if outside:
            row = layout.row(align=True)
            row.label(text=f"Not in the cast yet: {', '.join(actor_name(a) for a in outside)}")
            row.operator("blockcast.cast_add_actors", text="", icon="ADD")
        member = cast.active()
        if member is not None:
            _draw_member(layout, member)
        take = accepted_take(scene)
        row = layout.row()
        row.enabled = take is not None
        row.operator("blockcast.lock_look_from_take", icon="LOCKED",
                     text="Lock Look from Take" if take is None else f"Lock Look from {take[PREFIX + 'take']}")


_CLASSES = (BLOCKCAST_UL_cast, BLOCKCAST_PT_cast)


def register():
    _PREVIEWS["thumbnails"] = bpy.utils.previews.new()
    for cls in _CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
    bpy.utils.previews.remove(_PREVIEWS.pop("thumbnails"))
