"""The Variations row's state (scene.blockcast_variations): how many to make, and per shot the
last contact sheet made, its tiles and which of them the artist picked.

The tiles' looks stay in the variations folder's variations.json (the engine's record); the
.blend keeps where that folder is, the request it was made with (so Make Takes asks for the
same) and the picks.
"""

import bpy
from bpy.props import BoolProperty, CollectionProperty, IntProperty, PointerProperty, StringProperty
from bpy.types import PropertyGroup

from ..variations import DEFAULT_COUNT, MAX_COUNT


class BlockcastVariationTile(PropertyGroup):
    seed: IntProperty(name="Seed", min=0)
    tile: StringProperty(name="Tile", subtype="FILE_PATH", description="The tile image: the key frames")
    picked: BoolProperty(name="Pick", description="Make a full take of this variation with Make Takes")


class BlockcastVariationSheet(PropertyGroup):
    """One shot's latest variations (named after the shot)."""

    folder: StringProperty(name="Folder", subtype="DIR_PATH", description="The variations folder")
    takes_dir: StringProperty(name="Takes Folder", subtype="DIR_PATH",
                              description="Where Make Takes puts the picked variations' takes")
    request: StringProperty(name="Request", description="The variations' generate request (JSON)")
    image: StringProperty(name="Sheet", description="The contact sheet's image in this file")
    tiles: CollectionProperty(type=BlockcastVariationTile)

    def picked_seeds(self):
        return [tile.seed for tile in self.tiles if tile.picked]


class BlockcastVariations(PropertyGroup):
    count: IntProperty(name="Count", default=DEFAULT_COUNT, min=1, max=MAX_COUNT, soft_max=300,
                       description="How many variations Make Variations samples, seeds from the shot's Seed on "
                                   "(on a diffusion backend: how many full takes, capped)")
    sheets: CollectionProperty(type=BlockcastVariationSheet)

    def sheet(self, shot_name):
        """The shot's latest variations, or None."""
        return self.sheets.get(shot_name) if shot_name else None


_CLASSES = (BlockcastVariationTile, BlockcastVariationSheet, BlockcastVariations)


def register():
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.blockcast_variations = PointerProperty(type=BlockcastVariations)


def unregister():
    del bpy.types.Scene.blockcast_variations
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
