"""The Generate panel's Variations sub-panel: Count and Make Variations for the selected shot,
then its contact sheet as a grid of thumbnails with their seeds, a checkbox per tile for Make
Takes and a Lock Look button per tile."""

import bpy

from ..blender.generation import running_job
from ..blender.variations import release_thumbnails, thumbnail_icon
from ..variations import DIFFUSION_TAKES_CAP, THUMBNAIL_PX, grid_columns, makes_sheet, tile_rows
from .panels import _BlockcastPanel, _shot_backend

ICON_PX = 20  # template_icon's scale unit


def draw_tiles(layout, entry, columns):
    """The tiles in rows of `columns`: thumbnail, then the seed's pick checkbox and Lock Look."""
    for tiles in tile_rows(entry.tiles, columns):
        row = layout.row(align=True)
        for tile in tiles:
            column = row.column(align=True)
            column.template_icon(icon_value=thumbnail_icon(tile.tile), scale=THUMBNAIL_PX / ICON_PX)
            cell = column.row(align=True)
            cell.prop(tile, "picked", text=f"s{tile.seed}")
            cell.operator("blockcast.lock_look_from_variation", text="", icon="LOCKED").seed = tile.seed
        for _ in range(columns - len(tiles)):
            row.column()  # keeps the last row's tiles as wide as the others


class BLOCKCAST_PT_variations(_BlockcastPanel, bpy.types.Panel):
    bl_label = "Variations"
    bl_parent_id = "BLOCKCAST_PT_generate"

    def draw(self, context):
        layout = self.layout
        scene = context.scene
        state = scene.blockcast_variations
        shot = scene.blockcast.shot_generation_settings(scene.blockcast.shot) if scene.blockcast.shot else None
        idle = running_job() is None
        row = layout.row(align=True)
        row.prop(state, "count")
        button = row.row(align=True)
        button.enabled = idle
        button.operator("blockcast.make_variations", icon="IMGDISPLAY")
        if shot is not None:
            _, backend = _shot_backend(context, shot)
            if not makes_sheet(backend):
                layout.label(text=f"{backend}: full takes instead (at most {DIFFUSION_TAKES_CAP})", icon="INFO")
        entry = state.sheet(scene.blockcast.shot)
        if entry is None or not entry.tiles:
            return
        row = layout.row(align=True)
        row.label(text=entry.image, icon="IMAGE_DATA")
        row.operator("blockcast.show_variations_sheet", icon="IMAGE")
        width = context.region.width if context.region is not None else 300
        draw_tiles(layout, entry, grid_columns(width, context.preferences.system.ui_scale))
        picked = len(entry.picked_seeds())
        row = layout.row()
        row.scale_y = 1.3
        row.enabled = idle and picked > 0
        row.operator("blockcast.make_variation_takes", text=f"Make Takes ({picked} picked)", icon="SEQUENCE")


def register():
    bpy.utils.register_class(BLOCKCAST_PT_variations)


def unregister():
    bpy.utils.unregister_class(BLOCKCAST_PT_variations)
    release_thumbnails()
