"""A small blocked shot to try Blockcast on: a room, props, two proxy actors, a dolly
camera and three-point lighting; optionally its reverse shot (a second camera across the
line, both bound to timeline markers). Used by the demo, the benchmarks and the tests."""

import math

import bpy
from mathutils import Vector

from .actors import add_proxy_actor

ACTORS = (
    ("Ana", "a woman in a long red coat, dark hair in a bun", (-0.9, 0.4, 0.0)),
    ("Ben", "a tall man in a green jacket", (1.6, 1.2, 0.0)),
)


def _box(scene, name, size, location, rotation_z=0.0):
    mesh = bpy.data.meshes.new(name)
    sx, sy, sz = (s / 2 for s in size)
    verts = [(x, y, z) for x in (-sx, sx) for y in (-sy, sy) for z in (0.0, 2 * sz)]
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    mesh.from_pydata(verts, [], faces)
    obj = bpy.data.objects.new(name, mesh)
    obj.location, obj.rotation_euler.z = location, rotation_z
    scene.collection.objects.link(obj)
    return obj


def _light(scene, name, kind, energy, color, location, target, size=1.0):
    data = bpy.data.lights.new(name, kind)
    data.energy, data.color = energy, color
    if kind == "AREA":
        data.size = size
    obj = bpy.data.objects.new(name, data)
    obj.location = location
    obj.rotation_euler = (Vector(target) - Vector(location)).to_track_quat("-Z", "Y").to_euler()
    scene.collection.objects.link(obj)
    return obj


def _key_pose(armature, frame, rotations):
    """rotations: {bone: (x, y, z) degrees}; keyed at `frame`."""
    for bone_name, degrees in rotations.items():
        bone = armature.pose.bones[bone_name]
        bone.rotation_mode = "XYZ"
        bone.rotation_euler = [math.radians(d) for d in degrees]
        bone.keyframe_insert("rotation_euler", frame=frame)


SHOT, REVERSE_SHOT = "A", "B"  # marker names of the two shots when the reverse shot is built


def _tracking_camera(scene, name, target, keys):
    """A 35 mm camera aimed at `target`, its location keyed at {frame: location}."""
    camera = bpy.data.objects.new(name, bpy.data.cameras.new(name))
    camera.data.lens = 35
    scene.collection.objects.link(camera)
    for frame, location in keys.items():
        camera.location = location
        camera.keyframe_insert("location", frame=frame)
    track = camera.constraints.new("TRACK_TO")
    track.target, track.track_axis, track.up_axis = target, "TRACK_NEGATIVE_Z", "UP_Y"
    return camera


def build_demo_scene(scene, frame_count=48, width=512, height=288, reverse_shot=False):
    """Fill `scene` (expected empty) with the demo blocking; returns the (first) camera object.

    With `reverse_shot`, the action runs twice as long: shot "A" (the dolly camera) covers
    frames 1..frame_count and shot "B" (a camera across the line, looking back at the actors)
    the next frame_count frames, each a timeline marker bound to its camera."""
    end = 2 * frame_count if reverse_shot else frame_count
    scene.frame_start, scene.frame_end = 1, end
    scene.render.fps, scene.render.fps_base = 24, 1.0
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = width, height, 100

    _box(scene, "Floor", (14, 14, 0.02), (0, 2, -0.02))
    _box(scene, "Back wall", (14, 0.2, 4), (0, 5, 0))
    _box(scene, "Table", (1.4, 0.8, 0.75), (0.3, 2.4, 0), rotation_z=0.3)
    _box(scene, "Crate", (0.6, 0.6, 0.6), (-2.4, 2.0, 0), rotation_z=0.7)
    _box(scene, "Pillar", (0.4, 0.4, 3.0), (2.9, 3.2, 0))
    if reverse_shot:  # what the reverse camera sees behind the actors
        _box(scene, "Front wall", (14, 0.2, 4), (0, -5.8, 0))
        _box(scene, "Suitcase", (0.55, 0.22, 0.4), (-1.7, -0.4, 0), rotation_z=-0.4)

    world = bpy.data.worlds.new("Blockcast demo world")
    world.color = (0.05, 0.05, 0.06)
    scene.world = world
    _light(scene, "Key", "AREA", 150, (1.0, 0.9, 0.8), (-3.5, -2.5, 3.5), (0, 1, 1), size=2.0)
    _light(scene, "Fill", "AREA", 30, (0.8, 0.9, 1.0), (3.5, -2.0, 2.0), (0, 1, 1), size=3.0)
    _light(scene, "Rim", "SPOT", 300, (1.0, 1.0, 1.0), (1.0, 4.5, 3.5), (0, 0.8, 1.2))

    ana, ben = (add_proxy_actor(scene, name, description, location) for name, description, location in ACTORS)
    ana.rotation_euler.z = math.radians(-20)
    _key_pose(ana, 1, {"upper_arm.R": (0, 0, 0), "head": (0, 0, 0)})
    _key_pose(ana, end, {"upper_arm.R": (70, 0, 0), "head": (0, 0, 35)})
    ben.rotation_euler.z = math.radians(60)
    ben.keyframe_insert("location", frame=1)
    ben.location = (0.9, 0.2, 0.0)
    ben.keyframe_insert("location", frame=end)
    stride = max(end // 4, 1)
    for index, frame in enumerate(range(1, end + 1, stride)):
        swing = 25 if index % 2 else -25
        _key_pose(ben, frame, {"thigh.L": (swing, 0, 0), "thigh.R": (-swing, 0, 0),
                               "upper_arm.L": (-swing, 0, 0), "upper_arm.R": (swing, 0, 0)})

    target = bpy.data.objects.new("Camera target", None)
    target.location = (0.2, 1.0, 1.1)
    scene.collection.objects.link(target)
    camera = _tracking_camera(scene, "Camera", target, {1: (-1.6, -5.0, 1.55), frame_count: (0.9, -3.6, 1.45)})
    scene.camera = camera
    if reverse_shot:
        reverse = _tracking_camera(scene, "Reverse camera", target,
                                   {frame_count + 1: (2.3, 4.2, 1.7), end: (1.5, 4.3, 1.6)})
        scene.timeline_markers.new(SHOT, frame=1).camera = camera
        scene.timeline_markers.new(REVERSE_SHOT, frame=frame_count + 1).camera = reverse
    scene.frame_set(1)
    return camera
