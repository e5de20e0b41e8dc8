"""Procedurally blocked shots for training and evaluating the previz model (bpy).

Each seed gives one shot: a floor and walls, a few props, one to three proxy actors in
random poses that move, one to three lights of random kind and colour, a moving camera, and
random real materials (plain colours and procedural textures) that the beauty render shows
and the clay pass hides.
"""

import math
import random

import bpy
from mathutils import Vector

# Local X rotation ranges (degrees) per mannequin bone; +X swings a hanging limb forward.
POSE_RANGES = {
    "upper_arm": (-40, 110), "forearm": (0, 100), "thigh": (-30, 60), "shin": (-90, 0),
    "spine": (-10, 20), "chest": (-10, 15), "neck": (-15, 15), "head": (-20, 20),
}
HEAD_TURN = (-50, 50)  # degrees about the head bone's own axis (the eyeline)


def _material(rng, name):
    material = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    nodes, links = material.node_tree.nodes, material.node_tree.links
    bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    hue, saturation, value = rng.random(), rng.uniform(0.1, 0.9), rng.uniform(0.15, 0.95)
    colour = _hsv(hue, saturation, value)
    bsdf.inputs["Roughness"].default_value = rng.uniform(0.2, 0.9)
    if rng.random() < 0.4:  # a procedural texture between two related colours
        texture = nodes.new("ShaderNodeTexChecker" if rng.random() < 0.5 else "ShaderNodeTexNoise")
        texture.inputs["Scale"].default_value = rng.uniform(2, 12)
        ramp = nodes.new("ShaderNodeValToRGB")
        ramp.color_ramp.elements[0].color = colour
        ramp.color_ramp.elements[1].color = _hsv(hue + rng.uniform(-0.1, 0.1), saturation, value * rng.uniform(0.4, 0.9))
        links.new(texture.outputs["Fac"], ramp.inputs["Fac"])
        links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    else:
        bsdf.inputs["Base Color"].default_value = colour
    return material


def _hsv(h, s, v):
    import colorsys
    return (*colorsys.hsv_to_rgb(h % 1.0, s, v), 1.0)


def _box(scene, rng, name, size, location, rotation_z=0.0):
    mesh = bpy.data.meshes.new(name)
    sx, sy, sz = (s / 2 for s in size)
    verts = [(x, y, z) for x in (-sx, sx) for y in (-sy, sy) for z in (0.0, 2 * sz)]
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    mesh.from_pydata(verts, [], faces)
    mesh.materials.append(_material(rng, name))
    obj = bpy.data.objects.new(name, mesh)
    obj.location, obj.rotation_euler.z = location, rotation_z
    scene.collection.objects.link(obj)
    return obj


def _random_pose(rng, actor, frame):
    for bone in actor.pose.bones:
        base = bone.name.split(".")[0]
        if base not in POSE_RANGES:
            continue
        bone.rotation_mode = "XYZ"
        low, high = POSE_RANGES[base]
        twist = math.radians(rng.uniform(*HEAD_TURN)) if base == "head" else 0.0
        bone.rotation_euler = (math.radians(rng.uniform(low, high)), twist, math.radians(rng.uniform(-15, 15)))
        bone.keyframe_insert("rotation_euler", frame=frame)


def build_random_shot(scene, seed, frame_count, width, height):
    """Fill the (empty) scene with the blocking of shot `seed`; returns the camera."""
    from blockcast.addon.blender.actors import actor_meshes, add_proxy_actor

    rng = random.Random(seed)
    scene.frame_start, scene.frame_end = 1, frame_count
    scene.render.fps, scene.render.fps_base = 24, 1.0
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = width, height, 100
    world = bpy.data.worlds.new("World")
    world.color = _hsv(rng.random(), rng.uniform(0, 0.4), rng.uniform(0.02, 0.3))[:3]
    scene.world = world

    _box(scene, rng, "Floor", (30, 30, 0.02), (0, 0, -0.02))
    depth = rng.uniform(3, 8)
    _box(scene, rng, "Back wall", (30, 0.2, 5), (0, depth, 0))
    if rng.random() < 0.5:
        _box(scene, rng, "Side wall", (0.2, 30, 5), (rng.choice((-1, 1)) * rng.uniform(3, 6), 0, 0))
    for index in range(rng.randint(1, 5)):
        size = (rng.uniform(0.2, 1.8), rng.uniform(0.2, 1.2), rng.uniform(0.2, 2.2))
        _box(scene, rng, f"Prop {index}", size, (rng.uniform(-3, 3), rng.uniform(-1, depth - 0.5), 0),
             rng.uniform(0, math.pi))

    for index in range(rng.randint(1, 3)):
        start = Vector((rng.uniform(-2, 2), rng.uniform(-1, 2), 0))
        actor = add_proxy_actor(scene, f"Actor {index}", location=start, height=rng.uniform(1.5, 1.95))
        actor.rotation_euler.z = rng.uniform(-math.pi, math.pi)
        actor.keyframe_insert("location", frame=1)
        actor.location = start + Vector((rng.uniform(-1, 1), rng.uniform(-1, 1), 0))
        actor.keyframe_insert("location", frame=frame_count)
        _random_pose(rng, actor, 1)
        _random_pose(rng, actor, frame_count)
        for mesh in actor_meshes(actor, scene):
            mesh.data.materials.clear()
            mesh.data.materials.append(_material(rng, f"{actor.name} clothes"))

    for index in range(rng.randint(1, 3)):
        kind = rng.choice(("AREA", "SPOT", "SUN", "POINT"))
        data = bpy.data.lights.new(f"Light {index}", kind)
        data.color = _hsv(rng.random(), rng.uniform(0, 0.5), 1.0)[:3]
        data.energy = rng.uniform(2, 5) if kind == "SUN" else rng.uniform(80, 500)
        light = bpy.data.objects.new(data.name, data)
        light.location = (rng.uniform(-5, 5), rng.uniform(-5, depth), rng.uniform(1.5, 5))
        light.rotation_euler = (Vector((0, 1, 1)) - light.location).to_track_quat("-Z", "Y").to_euler()
        scene.collection.objects.link(light)

    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    camera.data.lens = rng.uniform(20, 60)
    scene.collection.objects.link(camera)
    target = Vector((rng.uniform(-1, 1), rng.uniform(0, 2), rng.uniform(0.8, 1.5)))
    distance, angle, height = rng.uniform(3.5, 8), rng.uniform(-0.6, 0.6), rng.uniform(-0.5, 1.2)
    for frame in (1, frame_count):  # a dolly/arc/crane move of modest size between the two keys
        camera.location = target + Vector((math.sin(angle) * distance, -math.cos(angle) * distance, height))
        camera.rotation_euler = (target - camera.location).to_track_quat("-Z", "Y").to_euler()
        camera.keyframe_insert("location", frame=frame)
        camera.keyframe_insert("rotation_euler", frame=frame)
        distance, angle, height = distance + rng.uniform(-1, 1), angle + rng.uniform(-0.25, 0.25), height + rng.uniform(-0.3, 0.3)
    scene.camera = camera
    scene.frame_set(1)
    return camera
