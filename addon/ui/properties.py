"""Per-scene Blockcast settings (`scene.blockcast`): what to export, where, at what size, and how
each shot is generated (prompt, seed, takes, backend, control weights, reference image); and the
scene's cast (`scene.blockcast_cast`): every actor's and prop's look, shared by all its shots.

The cast is read back for export as raw ID properties (addon/blender/cast.py), so its layout
here is the stored format addon/cast.py documents: keep names, and the Role enum's numbers."""

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, FloatVectorProperty,
                       IntProperty, PointerProperty, StringProperty)
from bpy.types import PropertyGroup

from ...engine.bundle.camera import render_size
from ...engine.bundle.schema import CONTROL_KINDS as ENGINE_CONTROL_KINDS
from ...engine.bundle.schema import DEFAULT_PASSES, PASSES
from ..blender.actors import actor_name, is_actor
from ..blender.export import GEOMETRY_TYPES
from ..blender.shots import ShotError, resolve_shot
from ..cast import ROLE_NUMBERS
from .preferences import known_backends
from ..rigs import PRESETS

_PASS_HELP = {
    "depth": "Metric planar depth and a shot-normalised 16-bit disparity control image",
    "pose": "OpenPose JSON per frame (one person per actor) and 3D joints",
    "camera": "Per-frame intrinsics and extrinsics, plus a RealEstate10K trajectory",
    "shading": "The blocking lit by its own lights with a clay material (Cycles, CPU)",
    "normal": "Camera-space normals (Cycles)",
    "flow": "Forward optical flow in pixels from the vector pass (Cycles)",
    "mask": "Per-actor index mask (Cycles)",
    "objects": "Per-object index: which object each pixel shows (Cycles)",
    "tracking": "3D tracking: each surface point coloured by where it was at the shot's first frame (screen x, y, "
                "inverse depth), exact from the scene",
}

_shot_items_cache = []  # Blender needs the enum items kept alive while they are shown


def _shot_items(settings, context):
    from ..blender.shots import scene_shots

    _shot_items_cache[:] = [
        (shot.name, shot.name, f"{shot.camera_name or 'no camera'}, frames {shot.frame_start}-{shot.frame_end}")
        for shot in scene_shots(context.scene)
    ]
    return _shot_items_cache


def pass_property_name(pass_name):
    return f"pass_{pass_name}"


# The controls a shot can weigh: every kind the engine makes (edges, tracking, camera for the
# camera-path backend...). The Generate panel shows and Generate sends only those the shot's
# backend accepts (engine_report.weighted_controls / control_weights); previz, which needs all
# of its controls, gets none.
CONTROL_KINDS = ENGINE_CONTROL_KINDS


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
        "reference_image": StringProperty(
            name="Reference Image", subtype="FILE_PATH",
            description="A PNG or JPEG whose palette and light the shot's takes follow (sent as --reference)"),
        "long_side": IntProperty(name="Long Side", min=0, subtype="PIXEL",
                                 description="Generation size's long side (the shot's aspect is kept); "
                                             "0: the backend's default"),
        "depth_of_field": BoolProperty(
            name="Depth of Field", default=True,
            description="Defocus the takes as the shot camera's Depth of Field sets it (sharp frames kept)"),
        "motion_blur": BoolProperty(
            name="Motion Blur", default=True,
            description="Blur the takes along the flow pass as Render ▸ Motion Blur sets it (sharp frames kept)"),
        "continue_previous": BoolProperty(
            name="Continue From Previous Shot",
            description="Start from the last frames of the previous shot's accepted take, kept as they are, so "
                        "this shot continues it (the panel says in red when the chosen backend cannot)"),
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
        those the backend takes: engine_report.control_weights)."""
        if not self.use_custom_weights:
            return None
        return {kind: getattr(self, weight_property_name(kind)) for kind in CONTROL_KINDS}


def _start_from_shot_range(settings, _context):
    """Custom Range starts from the selected shot's own frames, not an arbitrary 1-48."""
    if not settings.use_custom_range:
        return
    try:
        shot = resolve_shot(settings.id_data, settings.shot or None)
    except ShotError:
        return
    settings.frame_start, settings.frame_end = shot.frame_start, shot.frame_end


def _start_from_scene_size(settings, _context):
    """Custom Size starts from the scene's render size (with its percentage), not 512x288."""
    if settings.use_custom_size:
        render = settings.id_data.render
        settings.width, settings.height = render_size(render.resolution_x, render.resolution_y,
                                                      render.resolution_percentage)


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
        "use_custom_range": BoolProperty(name="Custom Range", description="Export other frames than the shot's",
                                         update=_start_from_shot_range),
        "frame_start": IntProperty(name="Start", default=1),
        "frame_end": IntProperty(name="End", default=48),
        "use_custom_size": BoolProperty(name="Custom Size", description="Export at another size than the scene's",
                                        update=_start_from_scene_size),
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


_LOOK_SEED_HELP = "Seed of the look (colours the model picks); off: "


def _is_geometry(_owner, obj):
    return obj.type in GEOMETRY_TYPES


def _is_actor(_owner, obj):
    return is_actor(obj)


class BlockcastCastObject(PropertyGroup):
    """One object of a cast member, and its locked colour."""

    __annotations__ = {
        "object": PointerProperty(name="Object", type=bpy.types.Object, poll=_is_geometry,
                                  description="A rendered object that is part of this actor or prop"),
        "use_color": BoolProperty(name="Lock Colour", description="Every shot gives this object this colour"),
        "color": FloatVectorProperty(name="Colour", subtype="COLOR_GAMMA", size=3, min=0.0, max=1.0,
                                     default=(0.8, 0.8, 0.8), description="The object's albedo (sRGB)"),
    }


class BlockcastCastReference(PropertyGroup):
    __annotations__ = {
        "filepath": StringProperty(name="Reference", subtype="FILE_PATH",
                                   description="A PNG or JPEG of how this actor or prop looks; copied into "
                                               "every shot's bundle"),
    }


class BlockcastCastMember(PropertyGroup):
    """An actor (its armature; name and description live on it) or a prop (named objects)."""

    __annotations__ = {
        "role": EnumProperty(name="Role", default="prop", items=[
            ("actor", "Actor", "A proxy actor: its armature's meshes", "ARMATURE_DATA", ROLE_NUMBERS["actor"]),
            ("prop", "Prop", "Named objects", "OBJECT_DATA", ROLE_NUMBERS["prop"])]),
        "actor": PointerProperty(name="Actor", type=bpy.types.Object, poll=_is_actor,
                                 description="The actor's armature"),
        "description": StringProperty(name="Description", description="How the prop looks (colour words work)"),
        "objects": CollectionProperty(type=BlockcastCastObject),
        "references": CollectionProperty(type=BlockcastCastReference),
        "use_look_seed": BoolProperty(name="Own Look Seed", description=_LOOK_SEED_HELP + "the cast's"),
        "look_seed": IntProperty(name="Look Seed", min=0),
    }

    def display_name(self):
        if self.role == "actor" and self.actor is not None:
            return actor_name(self.actor)
        return self.name


class BlockcastCast(PropertyGroup):
    """The scene's cast: one look per actor and prop, the same in every shot."""

    __annotations__ = {
        "use_look_seed": BoolProperty(name="Look Seed", description=_LOOK_SEED_HELP + "each take's seed"),
        "look_seed": IntProperty(name="Seed", min=0, description="The same look seed gives the same looks in "
                                                                 "every shot"),
        "members": CollectionProperty(type=BlockcastCastMember),
        "active_member": IntProperty(name="Active Cast Member", min=0),
    }

    def member_of_actor(self, armature):
        return next((m for m in self.members if m.role == "actor" and m.actor == armature), None)

    def member_of_object(self, obj):
        """The member `obj` belongs to (props: listed; actors: its meshes' entries), or None."""
        return next((m for m in self.members if any(entry.object == obj for entry in m.objects)), None)

    def active(self):
        index = self.active_member
        return self.members[index] if 0 <= index < len(self.members) else None


_CLASSES = (BlockcastShotGeneration, BlockcastSceneSettings, BlockcastCastObject, BlockcastCastReference,
            BlockcastCastMember, BlockcastCast)


def register():
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.blockcast = PointerProperty(type=BlockcastSceneSettings)
    bpy.types.Scene.blockcast_cast = PointerProperty(type=BlockcastCast)


def unregister():
    del bpy.types.Scene.blockcast_cast
    del bpy.types.Scene.blockcast
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
