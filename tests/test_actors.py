"""Proxy actors and bone maps on real Blender rigs (real bpy, nothing mocked)."""

import importlib
import json
import math

import numpy as np
import pytest

from engine.bundle.pose import COCO18_KEYPOINTS

KP = {name: index for index, name in enumerate(COCO18_KEYPOINTS)}
FACE = ("nose", "right_eye", "left_eye", "right_ear", "left_ear")


@pytest.fixture
def actors(blockcast):
    return importlib.import_module(f"{blockcast.__name__}.addon.blender.actors")


@pytest.fixture
def rigs(blockcast):
    return importlib.import_module(f"{blockcast.__name__}.addon.rigs")


def _joints(actors, obj):
    import bpy
    return actors.actor_joints_world(obj, bpy.context.evaluated_depsgraph_get())


def _pose(obj, bone, euler_degrees):
    pose_bone = obj.pose.bones[bone]
    pose_bone.rotation_mode = "XYZ"
    pose_bone.rotation_euler = [math.radians(a) for a in euler_degrees]


def _build_rig(scene, name, bones, roll=0.0):
    """A bare armature with {bone: (head, tail)} rest bones, built the way a user's rig is."""
    import bpy
    obj = bpy.data.objects.new(name, bpy.data.armatures.new(name))
    scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for bone_name, (head, tail) in bones.items():
        bone = obj.data.edit_bones.new(bone_name)
        bone.head, bone.tail, bone.roll = head, tail, roll
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def _renamed_mannequin_bones(rigs, mannequin, preset, namespace=None, y_up=False):
    """The mannequin's mapped rest bones under another preset's names (optionally FBX-like, Y-up)."""
    ours, theirs = rigs.bone_map_preset("mannequin"), rigs.bone_map_preset(preset)
    pairs = [(ours["head_bone"], theirs["head_bone"])]
    pairs += [(ours["keypoints"][kp][0], theirs["keypoints"][kp][0]) for kp in ours["keypoints"]]
    bones = {}
    for our_name, their_name in pairs:
        if namespace is not None:
            their_name = namespace + their_name.split(":")[-1]
        bone = mannequin.data.bones[our_name]
        head, tail = tuple(bone.head_local), tuple(bone.tail_local)
        if y_up:
            head, tail = ((x, z, -y) for x, y, z in (head, tail))
        bones[their_name] = (head, tail)
    return bones


def test_presets_are_json_and_cover_every_keypoint(rigs):
    for name in rigs.PRESETS:
        bone_map = rigs.bone_map_preset(name)
        assert json.loads(json.dumps(bone_map)) == bone_map
        assert bone_map["preset"] == name
        wanted = set(bone_map["keypoints"]) | set(rigs.FACE_KEYPOINTS)
        assert wanted == set(COCO18_KEYPOINTS)
        assert all(end in ("head", "tail") for _, end in bone_map["keypoints"].values())
    assert rigs.bone_map_preset("mannequin") is not rigs.bone_map_preset("mannequin")
    with pytest.raises(rigs.BoneMapError, match="mixamo"):
        rigs.bone_map_preset("nope")


def test_mixamo_lookup_tolerates_namespaces(rigs):
    assert rigs.resolve_bone("mixamorig:Head", ["mixamorig1:Head", "Neck"]) == "mixamorig1:Head"
    assert rigs.resolve_bone("mixamorig:Neck", ["mixamorig1:Head", "Neck"]) == "Neck"
    assert rigs.resolve_bone("mixamorig:Head", ["a:Head", "b:Head"]) is None  # ambiguous


def test_mannequin_builds_complete_and_low_poly(actors, rigs, empty_scene):
    obj = actors.add_proxy_actor(empty_scene, "Hero", "a tall hero")
    assert obj.type == "ARMATURE" and actors.is_actor(obj)
    assert rigs.missing_bones(actors.actor_bone_map(obj), obj.data.bones.keys()) == []
    (body,) = actors.actor_meshes(obj, empty_scene)
    assert len(body.data.polygons) < 1500
    assert body.parent == obj and body.modifiers["Armature"].object == obj
    assert {g.name for g in body.vertex_groups} <= set(obj.data.bones.keys())
    assert all(len(v.groups) == 1 and v.groups[0].weight == 1.0 for v in body.data.vertices)


def test_rest_joints_are_anatomically_sane(actors, empty_scene):
    joints = _joints(actors, actors.add_proxy_actor(empty_scene, "Hero"))
    assert joints.shape == (18, 3) and joints.dtype == np.float64
    hips = (joints[KP["left_hip"]] + joints[KP["right_hip"]]) / 2
    assert joints[KP["neck"]][2] > hips[2] + 0.3
    for side, sign in (("left", 1), ("right", -1)):  # facing -Y, the left side is at +X
        for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "eye", "ear"):
            assert sign * joints[KP[f"{side}_{part}"]][0] > 0.01
        assert abs(joints[KP[f"{side}_ankle"]][2]) < 0.12
    assert joints[KP["nose"]][1] < joints[KP["neck"]][1] - 0.05
    assert joints[KP["nose"]][2] > joints[KP["neck"]][2]
    assert joints[KP["left_eye"]][1] < joints[KP["left_ear"]][1]
    assert 1.6 < joints[:, 2].max() < 1.75


def test_height_scales_the_mannequin(actors, empty_scene):
    tall = _joints(actors, actors.add_proxy_actor(empty_scene, "Tall", height=2.0))
    short = _joints(actors, actors.add_proxy_actor(empty_scene, "Short", height=1.0))
    np.testing.assert_allclose(tall, short * 2.0, atol=1e-5)


def test_turning_the_head_turns_the_eyeline(actors, empty_scene):
    obj = actors.add_proxy_actor(empty_scene, "Hero")
    rest = _joints(actors, obj)
    _pose(obj, "head", (0, 90, 0))  # about the head bone's own (up) axis
    turned = _joints(actors, obj)
    face = [KP[name] for name in FACE]
    body = [i for i in range(18) if i not in face]
    np.testing.assert_allclose(turned[body], rest[body], atol=1e-6)
    nose = turned[KP["nose"]] - turned[KP["neck"]]
    assert nose[0] > 0.1 and abs(nose[1]) < 0.01  # now looking to its left (+X)
    assert turned[KP["nose"]][2] == pytest.approx(rest[KP["nose"]][2], abs=1e-6)


def test_raising_an_arm_moves_wrist_and_mesh(actors, empty_scene):
    import bpy
    obj = actors.add_proxy_actor(empty_scene, "Hero")
    (body,) = actors.actor_meshes(obj, empty_scene)
    group = body.vertex_groups["hand.L"].index
    hand = [v.index for v in body.data.vertices if v.groups[0].group == group]

    def hand_centre():
        evaluated = body.evaluated_get(bpy.context.evaluated_depsgraph_get())
        mesh = evaluated.to_mesh()
        world = np.array(evaluated.matrix_world)
        local = np.array([tuple(mesh.vertices[i].co) + (1.0,) for i in hand])
        evaluated.to_mesh_clear()
        return (local @ world.T)[:, :3].mean(axis=0)

    rest, rest_hand = _joints(actors, obj), hand_centre()
    _pose(obj, "upper_arm.L", (0, 0, 80))
    raised, raised_hand = _joints(actors, obj), hand_centre()
    wrist = KP["left_wrist"]
    assert raised[wrist][2] > rest[wrist][2] + 0.4 and raised[wrist][0] > rest[wrist][0] + 0.3
    assert raised[KP["left_shoulder"]] == pytest.approx(rest[KP["left_shoulder"]], abs=1e-6)
    np.testing.assert_allclose(np.delete(raised, [KP["left_elbow"], wrist], 0),
                               np.delete(rest, [KP["left_elbow"], wrist], 0), atol=1e-6)
    assert np.linalg.norm(raised_hand - rest_hand) > 0.4  # the mesh follows the pose, rigidly
    assert np.linalg.norm(raised_hand - raised[wrist]) == pytest.approx(
        np.linalg.norm(rest_hand - rest[wrist]), abs=1e-4)


def test_moving_the_actor_translates_every_joint(actors, empty_scene):
    obj = actors.add_proxy_actor(empty_scene, "Hero", location=(1.0, 2.0, 0.0))
    placed = _joints(actors, obj)
    obj.location = (4.0, -1.0, 0.5)
    np.testing.assert_allclose(_joints(actors, obj), placed + (3.0, -3.0, 0.5), atol=1e-6)
    obj.rotation_euler = (0, 0, math.pi)  # turned around: its nose now points +Y
    turned = _joints(actors, obj)
    assert turned[KP["nose"]][1] > turned[KP["neck"]][1] + 0.05
    assert turned[KP["left_shoulder"]][0] < turned[KP["right_shoulder"]][0]


@pytest.mark.parametrize("preset, namespace, y_up", [
    ("rigify", None, False),
    ("mixamo", None, False),
    ("mixamo", "mixamorig1:", True),  # FBX import: Y-up armature space, object rotated 90 degrees
    ("mixamo", "", True),
])
def test_other_rigs_work_with_their_presets(actors, rigs, empty_scene, preset, namespace, y_up):
    mannequin = actors.add_proxy_actor(empty_scene, "Mannequin")
    expected = _joints(actors, mannequin)
    bones = _renamed_mannequin_bones(rigs, mannequin, preset, namespace, y_up)
    rig = _build_rig(empty_scene, "Rig", bones, roll=1.0)  # an unusual roll convention on purpose
    if y_up:
        rig.rotation_euler = (math.pi / 2, 0, 0)
    actor = actors.make_actor_from_rig(rig, "Guest", "from another package", preset)
    assert actors.actor_bone_map(actor)["preset"] == preset
    assert actors.actor_bone_map(actor)["head_bone"] in rig.data.bones
    np.testing.assert_allclose(_joints(actors, actor), expected, atol=1e-5)
    head = rigs.resolve_bone(rigs.bone_map_preset(preset)["head_bone"], rig.data.bones.keys())
    _pose(rig, head, (0, 90, 0))
    _pose(mannequin, "head", (0, 90, 0))
    np.testing.assert_allclose(_joints(actors, actor), _joints(actors, mannequin), atol=1e-5)


def test_missing_bones_are_all_listed(actors, rigs, empty_scene):
    mannequin = actors.add_proxy_actor(empty_scene, "Mannequin")
    bones = _renamed_mannequin_bones(rigs, mannequin, "rigify")
    del bones["DEF-hand.L"], bones["DEF-spine.006"]
    rig = _build_rig(empty_scene, "Rig", bones)
    with pytest.raises(actors.BoneMapError) as error:
        actors.make_actor_from_rig(rig, "Guest", "", "rigify")
    assert isinstance(error.value, ValueError)
    message = str(error.value)
    for keypoint in ("left_wrist",) + FACE:
        assert keypoint in message
    assert "DEF-hand.L" in message and "DEF-spine.006" in message
    assert "preset" in message and "bone map" in message
    assert "blockcast_actor" not in rig
    missing = rigs.missing_bones(rigs.bone_map_preset("rigify"), rig.data.bones.keys())
    assert sorted(missing) == sorted([("left_wrist", "DEF-hand.L")] + [(kp, "DEF-spine.006") for kp in FACE])
    with pytest.raises(actors.BoneMapError) as error:
        actors.make_actor_from_rig(rig, "Guest", "", "mannequin")
    assert all(kp in str(error.value) for kp in COCO18_KEYPOINTS)


def test_custom_bone_map(actors, rigs, empty_scene):
    mannequin = actors.add_proxy_actor(empty_scene, "Mannequin")
    bone_map = rigs.bone_map_preset("mannequin")
    bone_map["preset"] = "custom"
    bone_map["keypoints"]["left_wrist"] = ["forearm.L", "tail"]
    actor = actors.make_actor_from_rig(mannequin, "Hero", "", bone_map)
    joints = _joints(actors, actor)
    assert joints[KP["left_wrist"]] == pytest.approx(
        tuple(mannequin.data.bones["forearm.L"].tail_local), abs=1e-6)
    bone_map["keypoints"]["left_wrist"] = ["forearm.L", "middle"]
    with pytest.raises(actors.BoneMapError, match="left_wrist"):
        actors.make_actor_from_rig(mannequin, "Hero", "", bone_map)


def test_scene_actors_are_sorted_and_skip_hidden_from_render(actors, empty_scene):
    import bpy
    for name in ("Cleo", "Abe", "Bea", "Dot", "Eve"):
        actors.add_proxy_actor(empty_scene, name)
    bpy.data.objects["Dot"].hide_render = True
    hidden = bpy.data.collections.new("Hidden")
    empty_scene.collection.children.link(hidden)
    hidden.hide_render = True
    actors.add_proxy_actor(empty_scene, "Fay", collection=hidden)
    _build_rig(empty_scene, "Aaa_plain_rig", {"bone": ((0, 0, 0), (0, 0, 1))})
    names = [obj.name for obj in actors.scene_actors(empty_scene)]
    assert names == ["Abe", "Bea", "Cleo", "Eve"]


def test_actor_meshes_include_children_and_deformed_meshes(actors, empty_scene):
    import bpy
    obj = actors.add_proxy_actor(empty_scene, "Hero")
    other = actors.add_proxy_actor(empty_scene, "Other")
    prop = bpy.data.objects.new("Prop", bpy.data.meshes.new("Prop"))
    prop.parent = obj.children[0]
    cloak = bpy.data.objects.new("Cloak", bpy.data.meshes.new("Cloak"))
    cloak.modifiers.new("Armature", "ARMATURE").object = obj
    for mesh_obj in (prop, cloak):
        empty_scene.collection.objects.link(mesh_obj)
    assert [m.name for m in actors.actor_meshes(obj, empty_scene)] == ["Cloak", "Hero_body", "Prop"]
    assert [m.name for m in actors.actor_meshes(other, empty_scene)] == ["Other_body"]


def test_actor_properties_survive_save_and_reopen(actors, empty_scene, tmp_path):
    import bpy
    obj = actors.add_proxy_actor(empty_scene, "Hero", "walks in from the left", location=(1, 0, 0))
    _pose(obj, "head", (0, 45, 0))
    before = _joints(actors, obj)
    path = str(tmp_path / "actors.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)
    (obj,) = actors.scene_actors(bpy.context.scene)
    assert obj["blockcast_actor"] is True
    assert actors.actor_name(obj) == "Hero" and obj.name == "Hero"
    assert obj["blockcast_description"] == "walks in from the left"
    assert json.loads(obj["blockcast_bone_map"])["preset"] == "mannequin"
    np.testing.assert_allclose(_joints(actors, obj), before, atol=1e-6)
