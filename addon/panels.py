"""The 3D View sidebar's "Blockcast" tab: actors, shots and pass export."""

import bpy

from ..engine.bundle.schema import PASSES
from .properties import pass_property_name


class _BlockcastPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Blockcast"


class BLOCKCAST_PT_actors(_BlockcastPanel, bpy.types.Panel):
    bl_label = "Actors"

    def draw(self, context):
        layout = self.layout
        layout.operator("blockcast.add_proxy_actor", icon="ARMATURE_DATA")
        row = layout.row(align=True)
        row.prop(context.scene.blockcast, "rig_preset", text="")
        row.operator("blockcast.make_actor_from_rig", text="Use Rig")
        actor = context.active_object
        if actor is not None and actor.get("blockcast_actor"):
            box = layout.box()
            box.prop(actor, '["blockcast_name"]', text="Name")
            box.prop(actor, '["blockcast_description"]', text="Description")


def _toggled_row(layout, settings, toggle, *props):
    """A checkbox followed by the values it enables (greyed out while off)."""
    row = layout.row(align=True)
    row.prop(settings, toggle)
    sub = row.row(align=True)
    sub.active = getattr(settings, toggle)
    for prop in props:
        sub.prop(settings, prop)


class BLOCKCAST_PT_shots(_BlockcastPanel, bpy.types.Panel):
    bl_label = "Shot Export"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.blockcast
        layout.prop(settings, "shot")
        layout.prop(settings, "output_dir")
        _toggled_row(layout, settings, "use_custom_range", "frame_start", "frame_end")
        _toggled_row(layout, settings, "use_custom_size", "width", "height")
        grid = layout.grid_flow(columns=2, align=True)
        for name in PASSES:
            grid.prop(settings, pass_property_name(name), toggle=True)
        layout.prop(settings, "overwrite")
        layout.operator("blockcast.export_passes", icon="RENDER_ANIMATION")
        layout.operator("blockcast.add_demo_scene", icon="SCENE_DATA")


_CLASSES = (BLOCKCAST_PT_actors, BLOCKCAST_PT_shots)


register, unregister = bpy.utils.register_classes_factory(_CLASSES)
