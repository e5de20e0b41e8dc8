"""Per-scene Blockcast settings (`scene.blockcast`): what to export, where, at what size, and how
each shot is generated (prompt, seed, takes, backend, control weights)."""

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty,
                       StringProperty)

from ..engine.bundle.schema import DEFAULT_PASSES, PASSES
from .preferences import known_backends
from .rigs import PRESETS

_PASS_HELP = {
    "depth": "Metric planar depth and a shot-normalised 16-bit disparity control image",
    "pose": "OpenPose JSON per frame (one person per actor) and 3D joints",
    "camera": "Per-frame intrinsics and extrinsics, plus a RealEstate10K trajectory",
    "shading": "The blocking lit by its own lights with a clay material (Cycles, CPU)",
    "normal": "Camera-space normals (Cycles)",
    "flow": "Forward optical flow in pixels from the vector pass (Cycles)",
    "mask": "Per-actor index mask (Cycles)",
    "objects": "Per-object index: which object each pixel shows (Cycles)",
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


# The controls a shot can weigh: the optional ones of the diffusion backends. Generate sends only
# those the shot's backend accepts (engine_process.control_weights); previz, which needs all of
# its controls, gets none.
CONTROL_KINDS = ("depth", "pose")


def weight_property_name(kind):
    return f"weight_{kind}"


def _backend_search(_settings, _context, _text):
    return known_backends()


class BlockcastShotGeneration(bpy.types.PropertyGroup):
    """How one shot is generated; `name` is the shot's name."""

    __annotations__ = {
        "prompt": StringProperty(name="Prompt", description="What the shot shows: look, setting, light, style"),
        "negative_prompt": StringProperty(name="Negative", description="What the takes should avoid"),
        "seed": IntProperty(name="Seed", min=0, description="The first take's seed; take k uses seed+k. Advances "
                            "past the seeds used after each Generate, so generating again makes new takes"),
        "takes": IntProperty(name="Takes", default=1, min=1, max=16,
                             description="How many variations to make, one seed each"),
        "backend": StringProperty(name="Backend", search=_backend_search,
                                  description="Generation backend; empty: the default from the add-on preferences"),
        "steps": IntProperty(name="Steps", min=0, description="Denoising steps; 0: the backend's default"),
        "long_side": IntProperty(name="Long Side", min=0, subtype="PIXEL",
                                 description="Generation size's long side (the shot's aspect is kept); "
                                             "0: the backend's default"),
        "use_custom_weights": BoolProperty(
            name="Control Weights", description="Set how strongly each control steers the takes (for the "
                                                "controls the backend takes); off: the backend's default controls"),
        **{
            weight_property_name(kind): FloatProperty(
                name=kind.title(), default=1.0, min=0.0, soft_max=2.0,
                description=f"Weight of the {kind} control; 0 leaves it out")
            for kind in CONTROL_KINDS
        },
    }

    def weights(self):
        """{control: weight} the artist set, or None for the backend's defaults (Generate keeps
        those the backend takes: engine_process.control_weights)."""
        if not self.use_custom_weights:
            return None
        return {kind: getattr(self, weight_property_name(kind)) for kind in CONTROL_KINDS}


def _ensure_shot_generation(settings, _context):
    if settings.shot:
        settings.shot_generation_settings(settings.shot, create=True)


class BlockcastSceneSettings(bpy.types.PropertyGroup):
    __annotations__ = {
        "output_dir": StringProperty(
            name="Output Folder", subtype="DIR_PATH", default="//blockcast/",
            description="Where shot bundles are written (one folder per shot); // is the .blend's folder"),
        "shot": EnumProperty(name="Shot", items=_shot_items, update=_ensure_shot_generation,
                             description="Camera-bound timeline markers, or the scene camera"),
        "shot_generation": CollectionProperty(type=BlockcastShotGeneration),
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

    def shot_generation_settings(self, shot_name, create=False):
        """The shot's generation settings; None (or new ones, with create) when it has none."""
        found = self.shot_generation.get(shot_name)
        if found is None and create:
            found = self.shot_generation.add()
            found.name = shot_name
        return found


def register():
    bpy.utils.register_class(BlockcastShotGeneration)
    bpy.utils.register_class(BlockcastSceneSettings)
    bpy.types.Scene.blockcast = PointerProperty(type=BlockcastSceneSettings)


def unregister():
    del bpy.types.Scene.blockcast
    bpy.utils.unregister_class(BlockcastSceneSettings)
    bpy.utils.unregister_class(BlockcastShotGeneration)
