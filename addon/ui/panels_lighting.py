"""3D View ▸ sidebar ▸ Blockcast ▸ Lighting: Measure Lighting for the panel's shot, each measured
shot's ratios per actor (head and torso, key ÷ fill, with the lights found keying and filling), and
Set Lighting Ratio for the active actor (see docs/coverage.md, "Setting the ratio")."""

import bpy

from ..lighting import format_ratio
from .operators_lighting import active_actor_name, light_energies, measurements

PRESETS = (2.0, 4.0, 8.0)


def _region_text(label, region):
    if region["ratio"] is None:
        return f"{label} —"
    lights = ", ".join(f"{role} '{region[role]}'" for role in ("key", "fill") if region.get(role))
    return f"{label} {format_ratio(region['ratio'])}" + (f" ({lights})" if lights else "")


def draw_measurements(layout, scene, shots):
    """One box per measured shot: its actors' ratios, and a note when the lights changed since."""
    energies = light_energies(scene)
    for shot_name, record in shots.items():
        box = layout.box()
        box.label(text=f"{shot_name} (frames {', '.join(map(str, record['frames']))})", icon="LIGHT")
        if record["energies"] != energies:
            row = box.row()
            row.alert = True
            row.label(text="Lights changed since: Measure again", icon="ERROR")
        column = box.column(align=True)
        if not record["actors"]:
            column.label(text="No actors in this shot")
        for actor in record["actors"]:
            column.label(text=f"{actor['name']}: {_region_text('head', actor['head'])}")
            column.label(text=f"    {_region_text('torso', actor['torso'])}")


class BLOCKCAST_PT_lighting(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Blockcast"
    bl_label = "Lighting"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout, wm, scene = self.layout, context.window_manager, context.scene
        layout.prop(scene.blockcast, "shot")
        layout.operator("blockcast.measure_lighting", icon="LIGHT")
        shots = measurements(wm).get(scene.name, {})
        if shots:
            draw_measurements(layout, scene, shots)
        else:
            layout.label(text="Not measured yet for this scene")
        actor = active_actor_name(context)
        column = layout.column(align=True)
        column.label(text=f"Set ratio for {actor}" if actor else "Select an actor to set its ratio",
                     icon="ARMATURE_DATA")
        column.active = bool(actor)
        row = column.row(align=True)
        row.prop(wm, "blockcast_lighting_region", expand=True)
        row = column.row(align=True)
        row.prop(wm, "blockcast_lighting_adjust", expand=True)
        row = column.row(align=True)
        for ratio in PRESETS:
            set_ratio_button(row, wm, ratio, format_ratio(ratio))
        row = column.row(align=True)
        row.prop(wm, "blockcast_lighting_ratio", text="Ratio")
        set_ratio_button(row, wm, wm.blockcast_lighting_ratio, "Set Lighting Ratio")


def set_ratio_button(row, wm, ratio, text):
    """Set Lighting Ratio to `ratio` with the panel's Region and Adjust."""
    op = row.operator("blockcast.set_lighting_ratio", text=text)
    op.ratio, op.region, op.adjust = ratio, wm.blockcast_lighting_region, wm.blockcast_lighting_adjust


_CLASSES = (BLOCKCAST_PT_lighting,)
register, unregister = bpy.utils.register_classes_factory(_CLASSES)
