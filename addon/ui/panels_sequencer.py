"""The Sequencer sidebar's "Blockcast" tab: the selected shot's takes, to review and pick from."""

import bpy

from ..blender.sequencer import sequence_editor, shot_takes
from .panels import draw_job_status
from ..strip_layout import PREFIX


def selected_shot(context):
    """The shot of the active strip when it is a Blockcast strip, else the shot picked in the 3D View."""
    editor = sequence_editor(context.scene)
    active = editor.active_strip if editor is not None else None
    if active is not None and active.get(PREFIX + "shot"):
        return active[PREFIX + "shot"]
    return context.scene.blockcast.shot or None


def _draw_take(layout, strip):
    box = layout.box()
    accepted = bool(strip.get(PREFIX + "accepted"))
    row = box.row()
    row.label(text=strip[PREFIX + "take"], icon="PLAY" if accepted else "HIDE_ON")
    if not accepted:
        row.operator("blockcast.accept_take", text="Accept", icon="CHECKMARK").strip = strip.name
    else:
        row.operator("blockcast.lock_look_from_take", text="Lock Look", icon="LOCKED").strip = strip.name
    box.label(text=f"Seed {strip.get(PREFIX + 'seed')} · {strip.get(PREFIX + 'backend')} · channel {strip.channel}")
    prompt = strip.get(PREFIX + "prompt")
    if prompt:
        box.label(text=prompt, icon="TEXT")
    row = box.row(align=True)
    row.operator("blockcast.regenerate_take", text="New Seed", icon="FILE_REFRESH").strip = strip.name
    row.operator("blockcast.reveal_take", text="Files", icon="FILEBROWSER").strip = strip.name
    row.operator("blockcast.load_control_strips", text="Controls", icon="IMAGE_DATA").strip = strip.name


class BLOCKCAST_PT_takes(bpy.types.Panel):
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "Blockcast"
    bl_label = "Takes"

    def draw(self, context):
        layout = self.layout
        draw_job_status(layout)
        shot = selected_shot(context)
        if shot is None:
            layout.label(text="Select a take, or pick a shot in the 3D View's Blockcast tab")
            return
        takes = shot_takes(context.scene, shot)
        layout.label(text=f"{shot}: {len(takes)} take{'s' if len(takes) != 1 else ''}", icon="SEQUENCE")
        for strip in takes:
            _draw_take(layout, strip)


_CLASSES = (BLOCKCAST_PT_takes,)

register, unregister = bpy.utils.register_classes_factory(_CLASSES)
