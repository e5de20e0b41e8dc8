"""Gathering the scene's cast for export: this module only reads the scene; `addon/cast.py`
builds the bundle's record from what it reads.

The Cast panel's data (`scene.blockcast_cast`) is read as the scene's raw ID properties, not
through the registered property group, so a .blend exports headless without the add-on
registered (farm tasks, scripts/export_passes.py) exactly as from the UI. Blender 5 keeps
add-on-defined properties apart from custom ones (`bl_system_properties_get`); 4.2 keeps them
with them.
"""

import os

import bpy

from ..cast import ActorValues, build_cast, check_reference_image
from . import actors as actor_rigs

CAST_PROPERTY = "blockcast_cast"


def stored_properties(id_data):
    """The ID's add-on-defined properties (registered or not), or None when it has none."""
    if hasattr(id_data, "bl_system_properties_get"):
        return id_data.bl_system_properties_get()
    return id_data


def _plain(value, scene):
    """ID property values as plain ones: an object pointer becomes its name (None for an object
    that is gone from the scene), a file path an absolute one."""
    if isinstance(value, dict):
        plain = {key: _plain(item, scene) for key, item in value.items()}
        if isinstance(plain.get("filepath"), str) and plain["filepath"]:
            plain["filepath"] = os.path.normpath(bpy.path.abspath(plain["filepath"]))
        return plain
    if isinstance(value, list):
        return [_plain(item, scene) for item in value]
    if isinstance(value, bpy.types.ID):
        return value.name if scene.objects.get(value.name) == value else None
    return value


def stored_cast(scene):
    """The Cast panel's values as plain dicts (see addon/cast.py), or None when never set."""
    holder = stored_properties(scene)
    group = holder.get(CAST_PROPERTY) if holder is not None else None
    return _plain(group.to_dict(), scene) if group is not None else None


def scene_actor_values(scene):
    """The scene's actors as their armatures' custom properties describe them."""
    return [ActorValues(armature=actor.name, name=str(actor.get(actor_rigs.NAME, actor.name)),
                        description=str(actor.get(actor_rigs.DESCRIPTION, "")),
                        meshes=tuple(mesh.name for mesh in actor_rigs.actor_meshes(actor, scene)))
            for actor in actor_rigs.scene_actors(scene)]


def scene_cast(scene):
    """(Cast, [ReferenceCopy]) of the scene: the same for every shot. Raises CastInputError."""
    return build_cast(stored_cast(scene), scene_actor_values(scene))


def shot_reference_file(path):
    """The shot's Reference Image as a checked absolute path, or "" when none is set."""
    if not path:
        return ""
    path = os.path.normpath(bpy.path.abspath(path))
    check_reference_image(path, "Generate panel: Reference Image")
    return path
