"""Rigs built the way other packages deliver them (real bpy), for the export-fidelity tests.

`mixamo_rig` is a Mixamo character as Blender's FBX importer leaves it: bones named
`mixamorig:*` in centimetres in a Y-up armature space, the object rotated 90° about X and
scaled 0.01, the head bone's tail short of the head top (the importer sizes bones from
their children), LeftEye/RightEye and HeadTop_End bones, and a skinned box per body bone.
"""

import math

# Z-up world metres of a 1.8 m Y-Bot-like character in T-pose, facing -Y, its left at +X:
# name: (head, tail). "Left*" bones mirror to "Right*" across x = 0.
_MIXAMO_BONES = {
    "Hips": ((0, 0, 1.00), (0, 0, 1.10)),
    "Spine": ((0, 0, 1.10), (0, 0, 1.22)),
    "Spine1": ((0, 0, 1.22), (0, 0, 1.34)),
    "Spine2": ((0, 0, 1.34), (0, 0, 1.46)),
    "Neck": ((0, 0, 1.50), (0, -0.01, 1.58)),
    "Head": ((0, -0.01, 1.58), (0, -0.01, 1.68)),
    "HeadTop_End": ((0, -0.01, 1.78), (0, -0.01, 1.88)),
    "LeftEye": ((0.032, -0.085, 1.665), (0.032, -0.105, 1.665)),
    "LeftShoulder": ((0.05, 0, 1.45), (0.17, 0, 1.45)),
    "LeftArm": ((0.17, 0, 1.45), (0.43, 0, 1.45)),
    "LeftForeArm": ((0.43, 0, 1.45), (0.68, 0, 1.45)),
    "LeftHand": ((0.68, 0, 1.45), (0.76, 0, 1.45)),
    "LeftUpLeg": ((0.09, 0, 0.98), (0.09, 0, 0.55)),
    "LeftLeg": ((0.09, 0, 0.55), (0.09, 0, 0.10)),
    "LeftFoot": ((0.09, 0, 0.10), (0.09, -0.12, 0.02)),
}
_PARENTS = {
    "Spine": "Hips", "Spine1": "Spine", "Spine2": "Spine1", "Neck": "Spine2", "Head": "Neck",
    "HeadTop_End": "Head", "LeftEye": "Head", "LeftShoulder": "Spine2", "LeftArm": "LeftShoulder",
    "LeftForeArm": "LeftArm", "LeftHand": "LeftForeArm", "LeftUpLeg": "Hips", "LeftLeg": "LeftUpLeg",
    "LeftFoot": "LeftLeg",
}
_SKINNED = ("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "LeftArm", "LeftForeArm", "LeftUpLeg", "LeftLeg")


def _mirrored(table):
    out = dict(table)
    for name, value in table.items():
        if name.startswith("Left"):
            out["Right" + name[4:]] = value
    return out


def mixamo_bones_world():
    """{bone base name: (head, tail)} in Z-up world metres, both sides."""
    bones = {}
    for name, (head, tail) in _mirrored(_MIXAMO_BONES).items():
        if name.startswith("Right"):
            head, tail = (-head[0], head[1], head[2]), (-tail[0], tail[1], tail[2])
        bones[name] = (head, tail)
    return bones


def build_armature(scene, name, bones, parents=None, collection=None, roll=0.0):
    """An armature object with {bone: (head, tail)} rest bones in armature space."""
    import bpy
    obj = bpy.data.objects.new(name, bpy.data.armatures.new(name))
    (collection or scene.collection).objects.link(obj)
    view_layer = bpy.context.view_layer
    view_layer.objects.active = obj
    with bpy.context.temp_override(active_object=obj, object=obj):
        bpy.ops.object.mode_set(mode="EDIT")
        for bone_name, (head, tail) in bones.items():
            bone = obj.data.edit_bones.new(bone_name)
            bone.head, bone.tail, bone.roll = head, tail, roll
        for bone_name, parent in (parents or {}).items():
            obj.data.edit_bones[bone_name].parent = obj.data.edit_bones[parent]
        bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def _skin_boxes(scene, rig, bone_names, size, collection=None):
    """One box per bone, weighted to it, deformed by the rig's Armature modifier."""
    import bpy
    verts, faces, groups = [], [], []
    for bone_name in bone_names:
        bone = rig.data.bones[bone_name]
        centre = (bone.head_local + bone.tail_local) / 2
        base = len(verts)
        for dx in (-size, size):
            for dy in (-size, size):
                for dz in (-size, size):
                    verts.append((centre.x + dx, centre.y + dy, centre.z + dz))
        faces += [[base + i for i in face] for face in
                  ((0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3))]
        groups.append((bone_name, range(base, base + 8)))
    mesh = bpy.data.meshes.new(f"{rig.name}_body")
    mesh.from_pydata(verts, [], faces)
    body = bpy.data.objects.new(f"{rig.name}_body", mesh)
    (collection or scene.collection).objects.link(body)
    body.parent = rig
    for bone_name, indices in groups:
        body.vertex_groups.new(name=bone_name).add(list(indices), 1.0, "REPLACE")
    body.modifiers.new("Armature", "ARMATURE").object = rig
    return body


def mixamo_rig(scene, name="Mixamo", namespace="mixamorig:", collection=None, with_mesh=True):
    """A Mixamo rig as FBX import leaves it (see the module docstring); returns the armature."""
    def to_armature(point):  # Z-up metres to Y-up centimetres (undone by the object's rotation and scale)
        x, y, z = point
        return (100 * x, 100 * z, -100 * y)

    bones = {namespace + n: tuple(to_armature(p) for p in ends) for n, ends in mixamo_bones_world().items()}
    parents = {}
    for child, parent in _PARENTS.items():
        parents[namespace + child] = namespace + parent
        if child.startswith("Left"):
            mirrored_parent = "Right" + parent[4:] if parent.startswith("Left") else parent
            parents[namespace + "Right" + child[4:]] = namespace + mirrored_parent
    rig = build_armature(scene, name, bones, parents, collection)
    rig.rotation_euler = (math.pi / 2, 0, 0)
    rig.scale = (0.01, 0.01, 0.01)
    if with_mesh:
        skinned = [namespace + n for n in _mirrored({n: None for n in _SKINNED})]
        _skin_boxes(scene, rig, skinned, 6.0, collection)
    return rig
