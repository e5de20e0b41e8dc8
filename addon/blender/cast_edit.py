"""Editing the scene's cast (`scene.blockcast_cast`): actors and props joining it, and Lock Look
from Take writing a take's colours and a reference crop per actor into it."""

from pathlib import Path

import bpy

from ...engine.bundle import BundleError, read_bundle
from ...engine.bundle.cast import CastError, parse_hex
from ..look_capture import reference_crop, save_crop
from ..take_folders import project_cast_dir, safe_name
from . import actors as actor_rigs
from .export import GEOMETRY_TYPES


class CastEditError(ValueError):
    """The cast cannot be changed as asked; the message says what to do."""


def _entry(member, obj):
    """The member's entry for `obj`, added when missing."""
    entry = next((e for e in member.objects if e.object == obj), None)
    if entry is None:
        entry = member.objects.add()
        entry.object = obj
    return entry


def actor_member(cast, armature, scene):
    """The actor's cast member (made when missing), with an entry for each of its meshes."""
    member = cast.member_of_actor(armature)
    if member is None:
        member = cast.members.add()
        member.name, member.role, member.actor = armature.name, "actor", armature
    for mesh in actor_rigs.actor_meshes(armature, scene):
        _entry(member, mesh)
    return member


def add_actors(scene):
    """Every actor of the scene without a cast member gets one; returns how many joined."""
    cast = scene.blockcast_cast
    before = len(cast.members)
    for armature in actor_rigs.scene_actors(scene):
        actor_member(cast, armature, scene)
    return len(cast.members) - before


def _unique_name(cast, name):
    taken = {member.display_name() for member in cast.members}
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name} {number}"
    return candidate


def add_prop(scene, objects, name):
    """A prop made of `objects` (the rendered ones); refused when none is left or one already
    belongs to another member (an object has one look)."""
    cast = scene.blockcast_cast
    objects = [obj for obj in objects if obj.type in GEOMETRY_TYPES]
    if not objects:
        raise CastEditError("select the objects that make up the prop (meshes, curves, text...) first")
    actor_of_mesh = {mesh: armature for armature in actor_rigs.scene_actors(scene)
                     for mesh in actor_rigs.actor_meshes(armature, scene)}
    for obj in objects:
        armature, owner = actor_of_mesh.get(obj), cast.member_of_object(obj)
        owner_name = (str(armature.get(actor_rigs.NAME, armature.name)) if armature is not None
                      else owner.display_name() if owner is not None else None)
        if owner_name is not None:
            raise CastEditError(f"{obj.name} is already part of {owner_name}: an object has one look")
    member = cast.members.add()
    member.name, member.role = _unique_name(cast, name), "prop"
    for obj in objects:
        _entry(member, obj)
    cast.active_member = len(cast.members) - 1
    return member


def _srgb(colour):
    return [channel / 255 for channel in parse_hex(colour)]


def _lock_colours(scene, cast, colours):
    """Lock each object's colour in its member; an object nobody named becomes a prop of its name."""
    locked = 0
    for name, colour in sorted(colours.items()):
        obj = scene.objects.get(name)
        if obj is None or obj.type not in GEOMETRY_TYPES:
            continue  # gone from the scene since the take was made
        member = cast.member_of_object(obj)
        if member is None:
            member = cast.members.add()
            member.name, member.role = _unique_name(cast, name), "prop"
        entry = _entry(member, obj)
        try:
            entry.color = _srgb(colour)
        except CastError as exc:
            raise CastEditError(f"the take's look is damaged ({exc}): generate a new take") from None
        entry.use_color = True
        locked += 1
    return locked


def _set_reference(member, crop_path, cast_dir):
    """The crop becomes the member's first reference, replacing earlier locked crops; the
    artist's own references stay."""
    for index in reversed(range(len(member.references))):
        path = Path(bpy.path.abspath(member.references[index].filepath)).resolve()
        if path.parent == cast_dir:
            member.references.remove(index)
    slot = member.references.add()
    slot.filepath = str(crop_path)
    member.references.move(len(member.references) - 1, 0)


def lock_colours(scene, colours, look_seed):
    """Lock each object's colour of a look ({object name: "#rrggbb"}: a take's or a variation's)
    in the cast, every actor having its member, and keep `look_seed` when the cast has none.
    Returns how many colours were locked."""
    cast = scene.blockcast_cast
    for armature in actor_rigs.scene_actors(scene):
        actor_member(cast, armature, scene)
    locked = _lock_colours(scene, cast, colours)
    if not cast.use_look_seed and isinstance(look_seed, int) and look_seed >= 0:
        cast.use_look_seed, cast.look_seed = True, look_seed
    return locked


def lock_look(scene, take_dir, record):
    """Write an accepted take's look into the cast: every object's colour locked, the look seed
    kept (when the cast has none), and per actor a reference crop from the take's frames.
    Returns (colours locked, crop paths, notes on what could not be done)."""
    look = record.recorded_look()
    locked = lock_colours(scene, look.objects, look.look_seed)
    cast = scene.blockcast_cast
    actors = actor_rigs.scene_actors(scene)
    notes, crops = [], []
    try:
        bundle = read_bundle(record.bundle.path)
    except BundleError as exc:
        return locked, crops, [f"no reference crops: the take's bundle cannot be read ({exc})"]
    if not bundle.has("objects"):
        return locked, crops, ["no reference crops: the take's bundle has no objects pass"]
    cast_dir = project_cast_dir(take_dir)
    for armature in actors:
        member = actor_member(cast, armature, scene)
        meshes = {mesh.name for mesh in actor_rigs.actor_meshes(armature, scene)}
        pixels = reference_crop(take_dir, record, bundle, meshes)
        if pixels is None:
            notes.append(f"{member.display_name()} does not show in the take: no reference crop")
            continue
        name = f"{safe_name(member.display_name())}-{safe_name(record.bundle.shot)}-{record.take}.png"
        crop = save_crop(pixels, cast_dir / name)
        _set_reference(member, crop, cast_dir)
        crops.append(crop)
    return locked, crops, notes
