"""The controlled two-light scene of tests/test_lighting.py as a builder: an actor facing the camera
(-Y), a key point light on her left (+X, screen-right) and a fill on her right, at head height;
the ratio their power and distance give is (key W / key d²) ÷ (fill W / fill d²)."""

import math

KEY_DISTANCE, FILL_DISTANCE = 2.0, 2.0 * math.sqrt(2)
HEAD = 1.65


def point_light(scene, name, power, location):
    import bpy
    light = bpy.data.lights.new(name, "POINT")
    light.energy, light.shadow_soft_size = power, 0.02
    obj = bpy.data.objects.new(name, light)
    obj.location = location
    scene.collection.objects.link(obj)
    return obj


def expected_ratio(key_power, fill_power):
    return (key_power / KEY_DISTANCE ** 2) / (fill_power / FILL_DISTANCE ** 2)


def two_light_scene(glue, scene, key_power=200.0, fill_power=100.0, frames=(1, 1)):
    """Ana lit by 'Key' and 'Fill' in a 96×128 shot; returns (key object, fill object)."""
    import bpy
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 96, 128, 100
    scene.frame_start, scene.frame_end = frames
    glue.actors.add_proxy_actor(scene, "Ana", "", (0, 0, 0))
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    camera.data.lens = 50
    camera.location, camera.rotation_euler = (0, -1.8, 1.35), (math.pi / 2, 0, 0)
    scene.collection.objects.link(camera)
    scene.camera = camera
    return (point_light(scene, "Key", key_power, (KEY_DISTANCE, 0, HEAD)),
            point_light(scene, "Fill", fill_power, (-FILL_DISTANCE, 0, HEAD)))
