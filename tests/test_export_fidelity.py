"""The export writes what Blender renders, and nothing else (real bpy, nothing mocked):
Ctrl-C during Cycles passes, actors hidden from viewports or from the render, non-square
pixels, leftover render folders, bone-map errors that name the actor, faces on real rigs."""

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from engine.bundle import read_bundle, validate_bundle
from engine.bundle.pose import COCO18_KEYPOINTS, VISIBLE
from rig_builders import build_armature, mixamo_rig

REPO = Path(__file__).resolve().parents[1]
KP = {name: index for index, name in enumerate(COCO18_KEYPOINTS)}
BODY = [i for name, i in KP.items() if name not in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]



@pytest.fixture
def scratch_dir(tmp_path, monkeypatch):
    """The temp folder the renderer puts its scratch folders in, private to the test."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _stage(scene, size=(96, 54), frames=(1, 1)):
    """A camera 5 m in front of the origin looking along +Y, and a floor."""
    import bpy
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    camera.location, camera.rotation_euler = (0, -5, 1), (math.radians(90), 0, 0)
    scene.collection.objects.link(camera)
    scene.camera = camera
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.frame_start, scene.frame_end = frames
    floor = bpy.data.meshes.new("Floor")
    floor.from_pydata([(-50, -50, 0), (50, -50, 0), (50, 50, 0), (-50, 50, 0)], [], [(0, 1, 2, 3)])
    scene.collection.objects.link(bpy.data.objects.new("Floor", floor))
    return camera


def _export(glue, scene, out, passes="depth,pose,camera", frames=None):
    return glue.export.export_shot(scene, glue.shots.resolve_shot(scene, frames=frames), out, passes)


def _animate(rig, arm_bone):
    """Moves across and raises an arm between frames 1 and 3."""
    bone = rig.pose.bones[arm_bone]
    bone.rotation_mode = "XYZ"
    for frame, x, angle in ((1, -0.5, 0), (3, 0.5, 70)):
        rig.location.x = x
        rig.keyframe_insert("location", frame=frame)
        bone.rotation_euler = (0, 0, math.radians(angle))
        bone.keyframe_insert("rotation_euler", frame=frame)


def _reopen(tmp_path):
    """Save and reopen, as a user's file is: nothing evaluated since."""
    import bpy
    path = str(tmp_path / "scene.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)
    return bpy.context.scene


# 5. Ctrl-C during Cycles passes -------------------------------------------------------------

SIGINT_IN_CYCLES = """
import os, signal, bpy
# Ctrl-C as a terminal delivers it, even where the tests were started as a background job (which
# starts with SIGINT ignored, and Python then installs no KeyboardInterrupt handler).
signal.signal(signal.SIGINT, signal.default_int_handler)
@bpy.app.handlers.persistent
def ctrl_c_in_cycles(scene, *_):
    # Python code Blender calls during a Cycles render, as Cycles' own render callback is:
    # a KeyboardInterrupt raised there is printed and dropped by Blender.
    if scene.render.engine == "CYCLES" and scene.frame_current == 2:
        os.kill(os.getpid(), signal.SIGINT)
bpy.app.handlers.render_pre.append(ctrl_c_in_cycles)
"""


def _cycles_scene(glue, scene):
    _stage(scene, size=(32, 18), frames=(1, 4))
    glue.actors.add_proxy_actor(scene, "Ana")


def test_ctrl_c_during_a_cycles_render_cancels_at_that_frame(glue, empty_scene, tmp_path, scratch_dir):
    import bpy
    _cycles_scene(glue, empty_scene)
    cycles_frames = []

    def count(scene, *_):
        if scene.render.engine == "CYCLES":
            cycles_frames.append(scene.frame_current)

    handlers = {}
    exec(SIGINT_IN_CYCLES, handlers)
    bpy.app.handlers.render_pre.append(count)
    try:
        with pytest.raises(KeyboardInterrupt):
            _export(glue, empty_scene, tmp_path / "shot", "depth,pose,camera,shading,normal,flow,objects")
    finally:
        for handler in (count, handlers["ctrl_c_in_cycles"]):
            bpy.app.handlers.render_pre.remove(handler)
    assert cycles_frames == [1, 2]  # stopped at the frame Ctrl-C came in, not at the end
    assert sorted(os.listdir(tmp_path)) == ["tmp"]  # no bundle, no partial folder
    assert os.listdir(scratch_dir) == []  # no render folder
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_export_script_exits_130_on_ctrl_c_during_cycles(glue, empty_scene, tmp_path):
    import bpy
    _cycles_scene(glue, empty_scene)
    blend = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    runner = (SIGINT_IN_CYCLES + "import sys; sys.path.insert(0, sys.argv[1]); import export_passes\n"
              "code = export_passes.main(sys.argv[1:])\n"
              "bpy.app.handlers.render_pre.clear()  # bpy 4.2 crashes at exit with a Python handler left\n"
              "sys.exit(code)\n")
    out, scratch = tmp_path / "out", tmp_path / "tmp"
    scratch.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", runner, str(REPO / "scripts"), str(blend), "--out", str(out),
         "--passes", "depth,shading,normal,flow,objects", "--quiet"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "TMPDIR": str(scratch)})
    assert result.returncode == 130, result.stderr
    assert "cancelled; no bundle was written" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["shot.blend", "tmp"] and os.listdir(scratch) == []


# 7. Actors disabled in viewports, or not rendered at all ------------------------------------

def _true_joints(glue, scene, frame):
    """Joints with everything enabled in viewports: what the render shows."""
    import bpy
    for obj in bpy.data.objects:
        obj.hide_viewport = False
    for collection in bpy.data.collections:
        collection.hide_viewport = False
    scene.frame_set(frame)
    (actor,) = glue.actors.scene_actors(scene)
    return glue.actors.actor_joints_world(actor, bpy.context.evaluated_depsgraph_get())


@pytest.mark.parametrize("rig, hidden", [
    ("mannequin", "object"), ("mannequin", "collection"), ("mixamo", "collection"), ("mixamo", "object")])
def test_actor_disabled_in_viewports_gets_the_rendered_joints(glue, empty_scene, tmp_path, rig, hidden):
    import bpy
    _stage(empty_scene, frames=(1, 3))
    cast = bpy.data.collections.new("Cast")
    empty_scene.collection.children.link(cast)
    if rig == "mixamo":  # FBX-style: centimetres, Y-up, object rotated and scaled 0.01
        armature = glue.actors.make_actor_from_rig(mixamo_rig(empty_scene, collection=cast), "Mia", "", "mixamo")
        _animate(armature, "mixamorig:LeftArm")
    else:
        armature = glue.actors.add_proxy_actor(empty_scene, "Ana", collection=cast)
        _animate(armature, "upper_arm.L")
    if hidden == "object":
        for obj in [armature, *armature.children]:
            obj.hide_viewport = True
    else:
        cast.hide_viewport = True
    body = f"{armature.name}_body"
    scene = _reopen(tmp_path)
    bundle = read_bundle(_export(glue, scene, tmp_path / "shot", "depth,pose,camera,objects"))
    assert validate_bundle(bundle.root) == []
    frames = bundle.joints()["frames"]
    assert (bundle.object_index(3) == bundle.passes["objects"].objects.index(body) + 1).sum() > 20  # rendered
    for frame in frames:
        (joints,) = frame["actors"]
        truth = _true_joints(glue, scene, frame["frame"])
        assert np.linalg.norm(np.array(joints["world"]) - truth, axis=1).max() < 1e-4, frame["frame"]
        assert joints["state"].count(VISIBLE) >= 15


@pytest.mark.parametrize("how", ["object hide_render", "collection hide_render", "collection excluded"])
def test_actor_not_rendered_is_not_in_the_export(glue, empty_scene, tmp_path, how):
    import bpy
    _stage(empty_scene)
    glue.actors.add_proxy_actor(empty_scene, "Ana", location=(-0.8, 0, 0))
    off = bpy.data.collections.new("Off stage")
    empty_scene.collection.children.link(off)
    ghost = glue.actors.add_proxy_actor(empty_scene, "Ghost", location=(0.8, 0, 0), collection=off)
    if how == "object hide_render":
        for obj in (ghost, *ghost.children):
            obj.hide_render = True
    elif how == "collection hide_render":
        off.hide_render = True
    else:
        empty_scene.view_layers[0].layer_collection.children[off.name].exclude = True
    assert [a.name for a in glue.actors.scene_actors(empty_scene)] == ["Ana"]
    bundle = read_bundle(_export(glue, empty_scene, tmp_path / "shot", "depth,pose,camera,mask"))
    assert [a.name for a in bundle.actors] == ["Ana"]
    assert [a["name"] for a in bundle.joints()["frames"][0]["actors"]] == ["Ana"]
    assert len(bundle.openpose(1)["people"]) == 1
    assert set(np.unique(bundle.actor_mask(1))) == {0, 1}
    assert validate_bundle(bundle.root) == []


# 8. Non-square pixels ------------------------------------------------------------------------

@pytest.mark.parametrize("aspect", [(1.25, 1.0), (1.0, 1.6)])
def test_non_square_pixels_export_and_reproject(glue, empty_scene, tmp_path, aspect):
    import bpy
    camera = _stage(empty_scene, size=(96, 54))
    camera.rotation_euler = (math.radians(80), 0, math.radians(5))  # looking down at the floor
    camera.data.shift_x, camera.data.shift_y = 0.05, -0.03
    empty_scene.render.pixel_aspect_x, empty_scene.render.pixel_aspect_y = aspect
    card_centre = np.array([0.4, -1.0, 0.3])
    s = 0.2
    card = bpy.data.meshes.new("Card")  # a square facing the camera's general direction
    card.from_pydata([tuple(card_centre + d) for d in ((-s, 0, -s), (s, 0, -s), (s, 0, s), (-s, 0, s))],
                     [], [(0, 1, 2, 3)])
    empty_scene.collection.objects.link(bpy.data.objects.new("Card", card))
    bundle = read_bundle(_export(glue, empty_scene, tmp_path / "shot", "depth,camera,objects"))
    assert bundle.record.resolution.pixel_aspect == pytest.approx(aspect)
    record = bundle.cameras()[0]
    assert record["fy"] / record["fx"] == pytest.approx(aspect[0] / aspect[1])
    K = np.array([[record["fx"], 0, record["cx"]], [0, record["fy"], record["cy"]], [0, 0, 1]])
    w2c = np.array(record["w2c_opencv"])
    # Every floor pixel: the depth the bundle's intrinsics predict for that pixel's ray.
    v, u = np.mgrid[0:54, 0:96]
    rays = np.stack([u, v, np.ones_like(u)], -1).reshape(-1, 3) @ np.linalg.inv(K).T
    c2w = np.linalg.inv(w2c)
    world_dirs, origin = rays @ c2w[:3, :3].T, c2w[:3, 3]
    expected = (-origin[2] / world_dirs[:, 2]).reshape(54, 96)
    depth, objects = bundle.depth(1), bundle.object_index(1)
    floor = objects == bundle.passes["objects"].objects.index("Floor") + 1
    assert floor.mean() > 0.5
    assert (np.abs(depth[floor] - expected[floor]) / expected[floor]).max() < 1e-3
    # The card's centre projects onto the middle of its pixels in the depth and objects passes.
    cam = w2c[:3, :3] @ card_centre + w2c[:3, 3]
    projected = (K @ cam)[:2] / cam[2]
    card_pixels = objects == bundle.passes["objects"].objects.index("Card") + 1
    assert card_pixels.sum() > 30
    for silhouette in (card_pixels, depth < expected - 0.05):
        rows, cols = np.nonzero(silhouette)
        assert np.hypot(cols.mean() - projected[0], rows.mean() - projected[1]) < 1.0
    assert validate_bundle(bundle.root) == []


# 11. Leftover render folders; a bone-map error names the actor -------------------------------

def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _owned_folder(parent, name, owner):
    folder = parent / name
    folder.mkdir()
    (folder / "depth.exr").write_bytes(b"\0" * 64)
    if owner is not None:
        (folder / "blockcast-owner.json").write_text(json.dumps(owner))
    return folder


def test_render_folders_of_dead_exports_are_swept_and_no_other(glue, empty_scene, tmp_path, scratch_dir):
    import socket
    host = socket.gethostname()
    dead = _owned_folder(scratch_dir, "blockcast-render-dead", {"pid": _dead_pid(), "host": host})
    kept = [
        _owned_folder(scratch_dir, "blockcast-render-live", {"pid": os.getppid(), "host": host}),
        _owned_folder(scratch_dir, "blockcast-render-old", None),  # no owner record: not provably ours
        _owned_folder(scratch_dir, "blockcast-render-elsewhere", {"pid": _dead_pid(), "host": host + "-other"}),
        _owned_folder(scratch_dir, "someone-else", {"pid": _dead_pid(), "host": host}),
    ]
    target = _owned_folder(tmp_path, "target", {"pid": _dead_pid(), "host": host})
    (scratch_dir / "blockcast-render-link").symlink_to(target)
    _stage(empty_scene)
    _export(glue, empty_scene, tmp_path / "shot", "depth")
    assert not dead.exists()
    assert all(folder.exists() for folder in kept) and (target / "depth.exr").exists()
    assert sorted(os.listdir(scratch_dir)) == sorted([f.name for f in kept] + ["blockcast-render-link"])


def test_killed_export_leaves_a_render_folder_the_next_export_removes(glue, empty_scene, tmp_path, scratch_dir):
    import bpy
    _stage(empty_scene)
    blend = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    killer = ("import os, signal, sys, bpy\n"
              "@bpy.app.handlers.persistent\n"
              "def die(*_): os.kill(os.getpid(), signal.SIGKILL)\n"
              "bpy.app.handlers.render_post.append(die)\n"
              "sys.path.insert(0, sys.argv[1]); import export_passes; export_passes.main(sys.argv[1:])\n")
    result = subprocess.run([sys.executable, "-c", killer, str(REPO / "scripts"), str(blend), "--out",
                             str(tmp_path / "killed"), "--passes", "depth", "--quiet"],
                            capture_output=True, timeout=300, env={**os.environ, "TMPDIR": str(scratch_dir)})
    assert result.returncode == -signal.SIGKILL
    ours = [name for name in os.listdir(scratch_dir) if name.startswith("blockcast-render-")]
    assert len(ours) == 1  # besides Blender's own temp folder
    others = sorted(set(os.listdir(scratch_dir)) - set(ours))
    _export(glue, empty_scene, tmp_path / "shot", "depth")
    assert sorted(os.listdir(scratch_dir)) == others


def test_bone_map_errors_name_the_actor(glue, empty_scene, tmp_path):
    _stage(empty_scene)
    glue.actors.add_proxy_actor(empty_scene, "Ana")
    guest = build_armature(empty_scene, "Rig.001", {"Bone": ((0, 0, 0), (0, 0, 1))})
    guest["blockcast_actor"], guest["blockcast_name"] = True, "Guest"
    guest["blockcast_bone_map"] = json.dumps(glue.actors.bone_map_preset("mixamo"))
    with pytest.raises(glue.actors.BoneMapError) as error:
        _export(glue, empty_scene, tmp_path / "a")
    assert "Actor 'Guest' (armature 'Rig.001')" in str(error.value) and "mixamorig:LeftHand" in str(error.value)
    guest["blockcast_bone_map"] = "{not json"
    with pytest.raises(glue.actors.BoneMapError, match="Actor 'Guest'.*no readable bone map"):
        _export(glue, empty_scene, tmp_path / "b")
    assert sorted(os.listdir(tmp_path)) == []
