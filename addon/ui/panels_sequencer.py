"""The Sequencer sidebar's "Blockcast" tab: every shot's takes, to review and pick from.

One collapsible section per shot (the selected shot's open), each take with its first
frame as a thumbnail, seed, backend, channel, frame range and length, date and what the
engine understood, and its buttons: Accept, New Seed, Files, Controls.
"""

import bpy

from ..blender.review_scene import review_scene, reviewed_scene
from ..blender.sequencer import sequence_editor, shot_takes, shots_with_takes
from ..blender.thumbnails import free as free_thumbnails
from ..blender.thumbnails import thumbnail_icon
from ..strip_layout import PREFIX
from ..take_summary import cached_summary
from .panels import draw_job_status


def selected_shot(context):
    """The shot of the active strip when it is a Blockcast strip, else the shot picked in the 3D View."""
    editor = sequence_editor(context.scene)
    active = editor.active_strip if editor is not None else None
    if active is not None and active.get(PREFIX + "shot"):
        return active[PREFIX + "shot"]
    return context.scene.blockcast.shot or None


def _draw_take(layout, strip, channel_name):
    box = layout.box()
    summary = cached_summary(strip[PREFIX + "take_json"])
    row = box.row()
    if summary is not None and summary.thumbnail:  # its icon id is 0 until Blender has drawn it (and headless)
        row.template_icon(icon_value=thumbnail_icon(summary.thumbnail), scale=4.0)
    column = row.column(align=True)
    accepted = bool(strip.get(PREFIX + "accepted"))
    title = column.row()
    title.label(text=strip[PREFIX + "take"], icon="PLAY" if accepted else "HIDE_ON")
    if not accepted:
        title.operator("blockcast.accept_take", text="Accept", icon="CHECKMARK").strip = strip.name
    else:
        title.operator("blockcast.lock_look_from_take", text="Lock Look", icon="LOCKED").strip = strip.name
    column.label(text=f"Seed {strip.get(PREFIX + 'seed')} · {strip.get(PREFIX + 'backend')} · {channel_name}")
    if summary is None:
        column.label(text="take.json is gone or damaged", icon="ERROR")
    else:
        column.label(text=" · ".join(part for part in (summary.frames, summary.date) if part), icon="TIME")
        if summary.understood:
            column.label(text=summary.understood, icon="INFO")
    prompt = strip.get(PREFIX + "prompt")
    if prompt:
        column.label(text=prompt, icon="TEXT")
    buttons = box.row(align=True)
    buttons.operator("blockcast.regenerate_take", text="New Seed", icon="FILE_REFRESH").strip = strip.name
    buttons.operator("blockcast.reveal_take", text="Files", icon="FILEBROWSER").strip = strip.name
    buttons.operator("blockcast.load_control_strips", text="Controls", icon="IMAGE_DATA").strip = strip.name


def _draw_shot(layout, scene, shot, open_by_default):
    takes = shot_takes(scene, shot)
    header, body = layout.panel(f"blockcast_takes_{shot}", default_closed=not open_by_default)
    header.label(text=f"{shot}: {len(takes)} take{'s' if len(takes) != 1 else ''}", icon="SEQUENCE")
    if body is None:
        return
    channels = sequence_editor(scene).channels
    for strip in takes:
        _draw_take(body, strip, channels[strip.channel].name)


class BLOCKCAST_PT_takes(bpy.types.Panel):
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "Blockcast"
    bl_label = "Takes"

    def draw(self, context):
        layout = self.layout
        draw_job_status(layout)
        scene = context.scene
        edit = reviewed_scene(scene)
        if edit is not None:
            layout.label(text=f"Takes beside their controls, from {edit.name}", icon="SEQ_SPLITVIEW")
            layout.operator("blockcast.show_review", text=f"Back to {edit.name}", icon="LOOP_BACK")
            return
        if review_scene(scene) is not None:
            layout.operator("blockcast.show_review", text="Review", icon="SEQ_SPLITVIEW")
        shots = shots_with_takes(scene)
        selected = selected_shot(context)
        if not shots:
            layout.label(text="No takes yet: Generate in the 3D View's Blockcast tab")
            return
        if selected is not None and selected not in shots:
            layout.label(text=f"{selected}: no takes yet", icon="SEQUENCE")
        for shot in shots:
            _draw_shot(layout, scene, shot, shot == selected or len(shots) == 1)


_CLASSES = (BLOCKCAST_PT_takes,)

_register, _unregister = bpy.utils.register_classes_factory(_CLASSES)


def register():
    _register()


def unregister():
    _unregister()
    free_thumbnails()
