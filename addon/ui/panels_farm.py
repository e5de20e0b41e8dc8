"""The sidebar's Farm section: which shots go to the farm, how, and where the job is written."""

import bpy

from ...farm.job import added_passes
from ...farm.layout import LayoutError
from .properties_farm import chosen_shots


class BLOCKCAST_PT_farm(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Blockcast"
    bl_label = "Farm"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        settings = context.scene.blockcast_farm
        layout.prop(settings, "shots")
        try:
            shots = chosen_shots(context.scene, settings.shots)
            column = layout.column(align=True)
            for shot in shots:
                own = f", its own seed {shot.seed} and prompt" if shot.has_own_settings else ""
                column.label(text=f"{shot.name}: frames {shot.frame_start}-{shot.frame_end}{own}", icon="SEQUENCE")
        except LayoutError as exc:
            layout.label(text=str(exc), icon="ERROR")
        column = layout.column(align=True)
        for name in ("chunk_size", "takes", "takes_per_task", "seed", "backend", "passes", "prompt", "memory"):
            column.prop(settings, name)
        added = added_passes(settings.passes, settings.backend)
        if added:
            layout.label(text=f"Also exports {', '.join(added)} ({settings.backend} needs them)", icon="INFO")
        layout.prop(settings, "allow_cpu_generation")
        column = layout.column(align=True)
        for name in ("blockcast_dir", "engine_python", "blender", "output_dir", "job_dir"):
            column.prop(settings, name)
        layout.operator("blockcast.write_farm_job", icon="NETWORK_DRIVE")


register, unregister = bpy.utils.register_classes_factory((BLOCKCAST_PT_farm,))
