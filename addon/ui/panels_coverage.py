"""3D View ▸ sidebar ▸ Blockcast ▸ Coverage: Check Coverage and its last result for this scene
(the line of action, each shot's side, eyelines, cut-off actors; see docs/coverage.md)."""

import bpy


class BLOCKCAST_PT_coverage(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Blockcast"
    bl_label = "Coverage"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        wm = context.window_manager
        row = layout.row(align=True)
        row.operator("blockcast.check_coverage", icon="VIEW_CAMERA")
        row.operator("blockcast.open_coverage_diagram", text="", icon="IMAGE_DATA")
        if not wm.blockcast_coverage or wm.blockcast_coverage_scene != context.scene.name:
            layout.label(text="Not checked yet for this scene")
            return
        column = layout.column(align=True)
        for line in wm.blockcast_coverage.splitlines():
            alert = "CROSSES" in line or "MISMATCH" in line or "head cut" in line
            row = column.row()
            row.alert = alert
            row.label(text=line.strip(), icon="ERROR" if alert else "NONE")


_CLASSES = (BLOCKCAST_PT_coverage,)
register, unregister = bpy.utils.register_classes_factory(_CLASSES)
