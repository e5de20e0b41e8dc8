"""Face keypoints on real rigs: on the rig's own eye bones where it has them (real bpy)."""

import importlib
import json
import math

import numpy as np
import pytest

from engine.bundle.pose import COCO18_KEYPOINTS
from rig_builders import build_armature, mixamo_rig

KP = {name: index for index, name in enumerate(COCO18_KEYPOINTS)}


@pytest.fixture
def actors(blockcast):
    return importlib.import_module(f"{blockcast.__name__}.addon.blender.actors")


def _joints(actors, obj):
    import bpy
    return actors.actor_joints_world(obj, bpy.context.evaluated_depsgraph_get())


def _bone_head_world(rig, bone):
    import bpy
    evaluated = rig.evaluated_get(bpy.context.evaluated_depsgraph_get())
    return np.array(evaluated.matrix_world @ evaluated.pose.bones[bone].head)


def _turn(rig, bone, degrees):
    pose_bone = rig.pose.bones[bone]
    pose_bone.rotation_mode = "XYZ"
    pose_bone.rotation_euler = (0, math.radians(degrees), 0)  # about the bone's own axis


def _check_face_around_eyes(joints, forward, up):
    """Nose in front of and below the eyes, ears behind them and wider apart."""
    left, right = joints[KP["left_eye"]], joints[KP["right_eye"]]
    centre, spacing = (left + right) / 2, np.linalg.norm(left - right)
    nose = joints[KP["nose"]] - centre
    assert nose @ forward > 0.3 * spacing and nose @ up < -0.3 * spacing
    for ear in ("left_ear", "right_ear"):
        assert (joints[KP[ear]] - centre) @ forward < -spacing
    assert np.linalg.norm(joints[KP["left_ear"]] - joints[KP["right_ear"]]) > 2 * spacing


@pytest.mark.parametrize("namespace", ["mixamorig:", "mixamorig1:", ""])
def test_eyes_sit_on_a_mixamo_rigs_eye_bones(actors, empty_scene, namespace):
    rig = mixamo_rig(empty_scene, namespace=namespace, with_mesh=False)
    actor = actors.make_actor_from_rig(rig, "Mia", "", "mixamo")
    eyes = {"left_eye": namespace + "LeftEye", "right_eye": namespace + "RightEye"}
    assert actors.actor_bone_map(actor)["eye_bones"] == eyes
    for degrees in (0, 60):  # the head turned: the eyes follow their bones, the face turns with them
        _turn(rig, namespace + "Head", degrees)
        joints = _joints(actors, actor)
        for keypoint, bone in eyes.items():
            np.testing.assert_allclose(joints[KP[keypoint]], _bone_head_world(rig, bone), atol=1e-5)
    turned = np.radians(60)  # about the head's up axis, which points up (+Z); rest forward is -Y
    _check_face_around_eyes(joints, np.array([math.sin(turned), -math.cos(turned), 0]), np.array([0, 0, 1]))


def test_eyes_sit_on_rigify_eye_bones(actors, empty_scene):
    import bpy
    mannequin = actors.add_proxy_actor(empty_scene, "Mannequin")
    ours, theirs = actors.bone_map_preset("mannequin"), actors.bone_map_preset("rigify")
    pairs = [(ours["head_bone"], theirs["head_bone"])]
    pairs += [(ours["keypoints"][kp][0], theirs["keypoints"][kp][0]) for kp in ours["keypoints"]]
    bones = {their: (tuple(mannequin.data.bones[our].head_local), tuple(mannequin.data.bones[our].tail_local))
             for our, their in pairs}
    for side, x in (("L", 0.03), ("R", -0.03)):
        bones[f"ORG-eye.{side}"] = ((x, -0.08, 1.68), (x, -0.1, 1.68))
        bones[f"eye.{side}"] = ((x, -0.5, 1.68), (x, -0.52, 1.68))  # a generated rig's eye target, in front
    bpy.data.objects.remove(mannequin.children[0])
    bpy.data.objects.remove(mannequin)
    rig = build_armature(empty_scene, "Rigify", bones)
    actor = actors.make_actor_from_rig(rig, "Rio", "", "rigify")
    joints = _joints(actors, actor)
    for keypoint, side in (("left_eye", "L"), ("right_eye", "R")):
        np.testing.assert_allclose(joints[KP[keypoint]], _bone_head_world(rig, f"ORG-eye.{side}"), atol=1e-6)
    _check_face_around_eyes(joints, np.array([0, -1, 0]), np.array([0, 0, 1]))


def test_eye_relative_face_keeps_the_mannequins_proportions(actors, empty_scene):
    """Eye bones placed where the mannequin's own eyes are derived give the very same face."""
    import bpy
    from mathutils import Vector
    mannequin = actors.add_proxy_actor(empty_scene, "Hero", location=(0.5, 1.0, 0))
    rest = _joints(actors, mannequin)
    _turn(mannequin, "head", 30)
    turned = _joints(actors, mannequin)
    to_armature = mannequin.matrix_world.inverted()
    bpy.context.view_layer.objects.active = mannequin
    with bpy.context.temp_override(active_object=mannequin, object=mannequin):
        bpy.ops.object.mode_set(mode="EDIT")
        for keypoint, side in (("left_eye", "L"), ("right_eye", "R")):
            bone = mannequin.data.edit_bones.new(f"eye.{side}")
            bone.head = to_armature @ Vector(rest[KP[keypoint]])
            bone.tail = bone.head + Vector((0, -0.02, 0))
            bone.parent = mannequin.data.edit_bones["head"]
        bpy.ops.object.mode_set(mode="OBJECT")
    actors.make_actor_from_rig(mannequin, "Hero", "", "mannequin")
    assert actors.actor_bone_map(mannequin)["eye_bones"] == {"left_eye": "eye.L", "right_eye": "eye.R"}
    np.testing.assert_allclose(_joints(actors, mannequin), turned, atol=1e-6)


def test_a_bone_maps_own_eye_bones_must_exist(actors, empty_scene):
    rig = mixamo_rig(empty_scene, with_mesh=False)
    bone_map = actors.bone_map_preset("mixamo")
    bone_map["eye_bones"] = {"left_eye": "mixamorig:LeftEye", "right_eye": "Eye_R"}
    with pytest.raises(actors.BoneMapError, match="right_eye \\(bone 'Eye_R'\\)"):
        actors.make_actor_from_rig(rig, "Mia", "", bone_map)
    bone_map["eye_bones"] = ["mixamorig:LeftEye"]
    with pytest.raises(actors.BoneMapError, match="eye_bones"):
        actors.make_actor_from_rig(rig, "Mia", "", bone_map)
    bone_map["eye_bones"] = {"left_eye": "mixamorig:RightEye", "right_eye": "mixamorig:LeftEye"}
    actor = actors.make_actor_from_rig(rig, "Mia", "", json.loads(json.dumps(bone_map)))
    joints = _joints(actors, actor)
    np.testing.assert_allclose(joints[KP["left_eye"]], _bone_head_world(rig, "mixamorig:RightEye"), atol=1e-5)
