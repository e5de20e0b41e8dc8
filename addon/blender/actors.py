"""Proxy actors: posable armatures whose joints become the OpenPose pass.

Actor data lives in ID custom properties on the armature object, so a .blend exports
headless without the add-on registered. The bone-map conventions live in the bpy-free `rigs`.
"""

import json
import math
from contextlib import contextmanager

import bmesh
import bpy
import numpy as np
from mathutils import Matrix, Vector

from ...engine.bundle.pose import COCO18_KEYPOINTS
from ..rigs import (EYE_RELATIVE_OFFSETS, FACE_KEYPOINTS, FACE_OFFSETS, BoneMapError, bone_map_preset,
                    resolved_bone_map)

__all__ = [
    "BoneMapError", "add_proxy_actor", "make_actor_from_rig", "is_actor", "actor_name", "unique_actor_name",
    "owning_actor", "actor_bone_map", "actor_resolved_bone_map", "scene_actors", "actor_meshes", "actor_joints_world",
]

ACTOR, NAME, DESCRIPTION, BONE_MAP = (
    "blockcast_actor", "blockcast_name", "blockcast_description", "blockcast_bone_map")

MANNEQUIN_HEIGHT = 1.75
# Left-side and centre bones of a 1.75 m mannequin facing -Y, its left at +X:
# name: (head, tail, parent). ".R" bones mirror the ".L" ones across x = 0.
_BONES = {
    "pelvis": ((0, 0, 0.92), (0, 0, 1.02), None),
    "spine": ((0, 0, 1.02), (0, 0, 1.22), "pelvis"),
    "chest": ((0, 0, 1.22), (0, 0, 1.45), "spine"),
    "neck": ((0, 0, 1.45), (0, 0, 1.55), "chest"),
    "head": ((0, 0, 1.55), (0, 0, 1.75), "neck"),
    "shoulder.L": ((0.02, 0, 1.42), (0.19, 0.01, 1.43), "chest"),
    "upper_arm.L": ((0.19, 0.01, 1.43), (0.23, 0.03, 1.14), "shoulder.L"),
    "forearm.L": ((0.23, 0.03, 1.14), (0.25, 0.0, 0.89), "upper_arm.L"),
    "hand.L": ((0.25, 0.0, 0.89), (0.26, -0.01, 0.72), "forearm.L"),
    "thigh.L": ((0.09, 0, 0.92), (0.09, -0.01, 0.5), "pelvis"),
    "shin.L": ((0.09, -0.01, 0.5), (0.09, 0.01, 0.08), "thigh.L"),
    "foot.L": ((0.09, 0.01, 0.08), (0.09, -0.16, 0.03), "shin.L"),
}
# Body mesh per bone: (radius at head, radius at tail, depth / width, segments); the head is special.
_LIMBS = {
    "pelvis": (0.15, 0.14, 0.65, 8), "spine": (0.13, 0.14, 0.65, 8),
    "chest": (0.15, 0.17, 0.6, 8), "neck": (0.05, 0.045, 1.0, 6),
    "shoulder.L": (0.05, 0.05, 1.0, 6), "upper_arm.L": (0.05, 0.04, 1.0, 8),
    "forearm.L": (0.04, 0.032, 1.0, 8), "hand.L": (0.04, 0.035, 0.5, 4),
    "thigh.L": (0.075, 0.055, 1.0, 8), "shin.L": (0.05, 0.04, 1.0, 8),
    "foot.L": (0.045, 0.035, 0.8, 4),
}
_HEAD_CENTRE, _HEAD_RADII = (0, 0, 1.655), (0.075, 0.095, 0.11)
_NOSE_CENTRE, _NOSE_SIZE = (0, -0.115, 1.64), (0.025, 0.06)  # wedge base radius, length


def _mirror_bone(spec):
    (x, y, z), (tx, ty, tz), parent = spec
    return (-x, y, z), (-tx, ty, tz), parent and parent.replace(".L", ".R")


def _mirrored(table, mirror=lambda spec: spec):
    """The table plus a ".R" entry mirroring every ".L" one."""
    out = dict(table)
    out.update({name[:-2] + ".R": mirror(spec) for name, spec in table.items() if name.endswith(".L")})
    return out


@contextmanager
def _edit_bones(obj, scene):
    """Bones can only be added in edit mode: enter it on this object alone, headless-safe."""
    view_layer = bpy.context.view_layer if scene == bpy.context.scene else scene.view_layers[0]
    previous = view_layer.objects.active
    view_layer.objects.active = obj
    try:
        with bpy.context.temp_override(scene=scene, view_layer=view_layer, active_object=obj, object=obj):
            bpy.ops.object.mode_set(mode="EDIT")
            try:
                yield obj.data.edit_bones
            finally:
                bpy.ops.object.mode_set(mode="OBJECT")
    finally:
        view_layer.objects.active = previous


def _build_bones(edit_bones, scale):
    for name, (head, tail, parent) in _mirrored(_BONES, _mirror_bone).items():
        bone = edit_bones.new(name)
        bone.head, bone.tail = Vector(head) * scale, Vector(tail) * scale
        # Bone Z points forward (up for the foot) so both sides bend alike about X.
        bone.align_roll((0, 0, 1) if name.startswith("foot") else (0, -1, 0))
        if parent:
            bone.parent = edit_bones[parent]
            bone.use_connect = (bone.parent.tail - bone.head).length < 1e-6


def _add_shape(bm, deform, group, verts):
    for vert in verts:
        vert[deform][group] = 1.0


def _build_body(mesh_obj, armature, scale):
    """Low-poly body: one tapered prism per bone, an ellipsoid head and a nose wedge."""
    bm = bmesh.new()
    deform = bm.verts.layers.deform.verify()
    to_y = Matrix.Rotation(-math.pi / 2, 4, "X")  # primitives are built along Z; bones point along Y
    for name, (r_head, r_tail, depth, segments) in _mirrored(_LIMBS).items():
        bone = armature.bones[name]
        matrix = (bone.matrix_local @ Matrix.Translation((0, bone.length / 2, 0)) @ to_y
                  @ Matrix.Diagonal((1, depth, 1, 1)))
        shape = bmesh.ops.create_cone(bm, cap_ends=True, segments=segments, radius1=r_head * scale,
                                      radius2=r_tail * scale, depth=bone.length, matrix=matrix)
        _add_shape(bm, deform, mesh_obj.vertex_groups.new(name=name).index, shape["verts"])
    head = mesh_obj.vertex_groups.new(name="head").index
    ellipsoid = Matrix.Translation(Vector(_HEAD_CENTRE) * scale) @ Matrix.Diagonal(
        (*(r * scale for r in _HEAD_RADII), 1))
    shape = bmesh.ops.create_uvsphere(bm, u_segments=10, v_segments=6, radius=1.0, matrix=ellipsoid)
    _add_shape(bm, deform, head, shape["verts"])
    forward = Matrix.Translation(Vector(_NOSE_CENTRE) * scale) @ Matrix.Rotation(math.pi / 2, 4, "X")
    shape = bmesh.ops.create_cone(bm, cap_ends=True, segments=4, radius1=_NOSE_SIZE[0] * scale,
                                  radius2=0.0, depth=_NOSE_SIZE[1] * scale, matrix=forward)
    _add_shape(bm, deform, head, shape["verts"])
    bm.to_mesh(mesh_obj.data)
    bm.free()


def add_proxy_actor(scene, name, description="", location=(0, 0, 0), height=MANNEQUIN_HEIGHT,
                    collection=None):
    """A posable low-poly mannequin standing at `location`, facing -Y; returns its armature.

    It is linked to `collection` (default: the scene's own), which must be in the scene.
    """
    collection = collection or scene.collection
    name = unique_actor_name(scene, name)
    scale = height / MANNEQUIN_HEIGHT
    armature = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, armature)
    obj.location = location
    obj.show_in_front = True
    collection.objects.link(obj)
    with _edit_bones(obj, scene) as edit_bones:
        _build_bones(edit_bones, scale)
    body = bpy.data.objects.new(f"{obj.name}_body", bpy.data.meshes.new(f"{obj.name}_body"))
    collection.objects.link(body)
    body.parent = obj
    body.modifiers.new("Armature", "ARMATURE").object = obj
    _build_body(body, armature, scale)
    return make_actor_from_rig(obj, name, description, "mannequin")


def make_actor_from_rig(armature_obj, name, description, preset_or_map):
    """Mark any armature as an actor, with a preset name or a bone-map dict.

    Raises BoneMapError listing every keypoint whose bone the rig lacks.
    """
    if armature_obj is None or armature_obj.type != "ARMATURE":
        raise BoneMapError(f"'{getattr(armature_obj, 'name', None)}' is not an armature: "
                           "select the rig's armature object")
    bone_map = bone_map_preset(preset_or_map) if isinstance(preset_or_map, str) else preset_or_map
    bone_map = resolved_bone_map(bone_map, armature_obj.data.bones.keys())
    armature_obj[ACTOR] = True
    if name and name != armature_obj.name:
        armature_obj[NAME] = name
    elif NAME in armature_obj:
        del armature_obj[NAME]  # the actor is called as its object: renaming the object renames it
    armature_obj[DESCRIPTION] = description
    armature_obj[BONE_MAP] = json.dumps(bone_map)
    return armature_obj


def is_actor(obj):
    return obj.type == "ARMATURE" and bool(obj.get(ACTOR))


def actor_name(armature_obj):
    """The actor's name: the one the artist gave it apart from its object's, else the object's own,
    so renaming the armature in the Outliner renames the actor."""
    return str(armature_obj.get(NAME) or armature_obj.name)


def unique_actor_name(scene, name):
    """`name`, or "name 2", "name 3"... when an actor or object already has it: two actors never
    share a name (their looks and prompts are keyed by it)."""
    taken = {actor_name(obj) for obj in scene.objects if is_actor(obj)} | set(bpy.data.objects.keys())
    if name not in taken:
        return name
    number = 2
    while f"{name} {number}" in taken:
        number += 1
    return f"{name} {number}"


def owning_actor(obj):
    """The actor `obj` is part of (itself, an armature it is parented under, or the one its Armature
    modifier follows), or None: selecting the body mesh still shows its actor."""
    if obj is None:
        return None
    candidates = [obj, *_ancestors(obj)] + [m.object for m in getattr(obj, "modifiers", ())
                                              if m.type == "ARMATURE" and m.object is not None]
    return next((candidate for candidate in candidates if is_actor(candidate)), None)


def _actor_label(armature_obj):
    name = actor_name(armature_obj)
    return f"Actor '{name}'" + (f" (armature '{armature_obj.name}')" if name != armature_obj.name else "")


def actor_bone_map(armature_obj):
    try:
        bone_map = json.loads(armature_obj[BONE_MAP])
    except (KeyError, TypeError, ValueError):
        raise BoneMapError(f"{_actor_label(armature_obj)} has no readable bone map: set one again in the "
                           "Blockcast actor panel (Make Actor from Rig)") from None
    if not isinstance(bone_map, dict):
        raise BoneMapError(f"{_actor_label(armature_obj)}: its bone map is not a mapping; set one again in the "
                           "Blockcast actor panel (Make Actor from Rig)")
    return bone_map


def actor_resolved_bone_map(armature_obj):
    """The actor's bone map on its rig; a BoneMapError names the actor, so a scene with
    several actors says which one to fix."""
    try:
        return resolved_bone_map(actor_bone_map(armature_obj), armature_obj.data.bones.keys())
    except BoneMapError as exc:
        label = _actor_label(armature_obj)
        raise BoneMapError(str(exc) if str(exc).startswith(label) else f"{label}: {exc}") from None


def _render_collections(layer_collection):
    """Collections a view layer renders: not excluded from it, not disabled in renders."""
    yield layer_collection.collection
    for child in layer_collection.children:
        if not child.exclude and not child.collection.hide_render:
            yield from _render_collections(child)


def scene_actors(scene, view_layer=None):
    """The scene's actors that render in `view_layer` (default: the first, which exports
    render), sorted by object name so exports are reproducible.

    An actor that does not render (its armature or a collection holding it disabled in
    renders, or excluded from the view layer) is not in the export at all: no joints, no
    mask. Disabled in viewports only, it renders, so it is in (its joints come from the
    render's depsgraph, see `render.PassRenderer.evaluate`)."""
    layer = view_layer or scene.view_layers[0]
    rendered = list(_render_collections(layer.layer_collection))
    return sorted((obj for obj in scene.objects
                   if is_actor(obj) and not obj.hide_render
                   and any(c in rendered for c in obj.users_collection)),
                  key=lambda obj: obj.name)


def actor_meshes(armature_obj, scene):
    """Meshes that belong to the actor: its descendants, or meshes its Armature modifier deforms."""
    def belongs(obj):
        return (armature_obj in _ancestors(obj)
                or any(m.type == "ARMATURE" and m.object == armature_obj for m in obj.modifiers))
    return sorted((obj for obj in scene.objects if obj.type == "MESH" and belongs(obj)),
                  key=lambda obj: obj.name)


def _ancestors(obj):
    while obj.parent is not None:
        obj = obj.parent
        yield obj


def _rest_facing(bones, keypoints):
    """(forward, left, up) of the rig's rest pose in armature space, from its own body.

    Up runs hips to neck, left runs right to left across shoulders and hips; so imported rigs
    whose armature space is not Z-up (FBX) still get the right eyeline.
    """
    def rest(kp):
        bone, end = keypoints[kp]
        return bones[bone].head_local if end == "head" else bones[bone].tail_local
    up = (rest("neck") - (rest("left_hip") + rest("right_hip")) / 2).normalized()
    across = rest("left_shoulder") - rest("right_shoulder") + rest("left_hip") - rest("right_hip")
    left = (across - up * across.dot(up)).normalized()
    return left.cross(up), left, up


def _face_points(obj, bone_map):
    """{face keypoint: world point}: on the rig's eye bones where it has them (nose and ears
    then scale with the distance between the eyes), else offsets in head-bone lengths."""
    bones, pose = obj.data.bones, obj.pose.bones
    head_bone = bones[bone_map["head_bone"]]
    # The rest facing, carried into the head bone's own frame so its pose turns the face.
    to_bone = head_bone.matrix_local.to_3x3().transposed()
    axes = [to_bone @ axis for axis in _rest_facing(bones, bone_map["keypoints"])]
    head_matrix = obj.matrix_world @ pose[head_bone.name].matrix
    eye_bones = bone_map.get("eye_bones")
    if eye_bones:
        eyes = {kp: obj.matrix_world @ pose[bone].head for kp, bone in eye_bones.items()}
        spacing = (eyes["left_eye"] - eyes["right_eye"]).length
        if spacing > 1e-6:
            centre = (eyes["left_eye"] + eyes["right_eye"]) / 2
            forward, left, up = ((head_matrix.to_3x3() @ axis).normalized() * spacing for axis in axes)
            for kp, (f, l, u) in EYE_RELATIVE_OFFSETS.items():
                eyes[kp] = centre + forward * f + left * l + up * u
            return eyes
    forward, left, up = (axis * head_bone.length for axis in axes)
    return {kp: head_matrix @ (forward * f + left * l + up * u) for kp, (f, l, u) in FACE_OFFSETS.items()}


def actor_joints_world(armature_obj, depsgraph):
    """(18, 3) world positions in COCO-18 order for the current frame's evaluated pose.

    The depsgraph must have evaluated the armature: an export passes the render's own."""
    obj = armature_obj.evaluated_get(depsgraph)
    bone_map = actor_resolved_bone_map(armature_obj)
    keypoints, pose = bone_map["keypoints"], obj.pose.bones
    face = _face_points(obj, bone_map)
    joints = np.empty((len(COCO18_KEYPOINTS), 3))
    for index, kp in enumerate(COCO18_KEYPOINTS):
        if kp in FACE_KEYPOINTS:
            point = face[kp]
        else:
            bone, end = keypoints[kp]
            point = obj.matrix_world @ (pose[bone].head if end == "head" else pose[bone].tail)
        joints[index] = point
    return joints
