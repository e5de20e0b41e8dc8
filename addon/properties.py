"""Per-scene Blockcast settings (`scene.blockcast`): what to export, where, at what size."""

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, PointerProperty, StringProperty

from ..engine.bundle.schema import DEFAULT_PASSES, PASSES
from .rigs import PRESETS

_PASS_HELP = {
    "depth": "Metric planar depth and a shot-normalised 16-bit disparity control image",
    "pose": "OpenPose JSON per frame (one person per actor) and 3D joints",
    "camera": "Per-frame intrinsics and extrinsics, plus a RealEstate10K trajectory",
    "shading": "The blocking lit by its own lights with a clay material (Cycles, CPU)",
    "normal": "Camera-space normals (Cycles)",
    "flow": "Forward optical flow in pixels from the vector pass (Cycles)",
    "mask": "Per-actor index mask (Cycles)",
}

_shot_items_cache = []  # Blender needs the enum items kept alive while they are shown


def _shot_items(settings, context):
    from .blender.shots import scene_shots

    _shot_items_cache[:] = [
        (shot.name, shot.name, f"{shot.camera_name or 'no camera'}, frames {shot.frame_start}-{shot.frame_end}")
        for shot in scene_shots(context.scene)
    ]
    return _shot_items_cache


def pass_property_name(pass_name):
    return f"pass_{pass_name}"


class BlockcastSceneSettings(bpy.types.PropertyGroup):
    __annotations__ = {
        "output_dir": StringProperty(
            name="Output Folder", subtype="DIR_PATH", default="//blockcast/",
            description="Where shot bundles are written (one folder per shot); // is the .blend's folder"),
        "shot": EnumProperty(name="Shot", items=_shot_items,
                             description="Camera-bound timeline markers, or the scene camera"),
        "use_custom_range": BoolProperty(name="Custom Range", description="Export other frames than the shot's"),
        "frame_start": IntProperty(name="Start", default=1),
        "frame_end": IntProperty(name="End", default=48),
        "use_custom_size": BoolProperty(name="Custom Size", description="Export at another size than the scene's"),
        "width": IntProperty(name="Width", default=512, min=1, subtype="PIXEL"),
        "height": IntProperty(name="Height", default=288, min=1, subtype="PIXEL"),
        "overwrite": BoolProperty(name="Replace Existing", description="Replace a shot bundle that already exists"),
        "rig_preset": EnumProperty(
            name="Bone Map", items=[(p, p.title(), f"{p.title()} bone names") for p in PRESETS],
            description="Naming of the rig to use as a proxy actor"),
        **{
            pass_property_name(name): BoolProperty(name=name.title(), default=name in DEFAULT_PASSES,
                                                   description=_PASS_HELP[name])
            for name in PASSES
        },
    }

    def passes(self):
        return [name for name in PASSES if getattr(self, pass_property_name(name))]


def register():
    bpy.utils.register_class(BlockcastSceneSettings)
    bpy.types.Scene.blockcast = PointerProperty(type=BlockcastSceneSettings)


def unregister():
    del bpy.types.Scene.blockcast
    bpy.utils.unregister_class(BlockcastSceneSettings)
