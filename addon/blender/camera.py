"""Reads the scene camera into the bundle's per-frame camera record.

The conventions themselves live in the bpy-free `engine.bundle.camera`.
"""

import bpy

from ...engine.bundle import camera as camera_math


class CameraError(Exception):
    """The scene camera cannot be exported; the message says how to fix it."""


_LENS_TYPES = {"ORTHO": "orthographic", "PANO": "panoramic"}


def check_camera(camera_object):
    if camera_object is None:
        raise CameraError(
            "The scene has no camera: add one (Add ▸ Camera) and set it as the scene camera")
    if camera_object.type != "CAMERA":
        raise CameraError(
            f"'{camera_object.name}' is not a camera ({camera_object.type.lower()} object): "
            "set a camera object as the scene camera (Scene Properties ▸ Camera)")
    lens_type = _LENS_TYPES.get(camera_object.data.type)
    if lens_type:
        raise CameraError(
            f"Camera '{camera_object.name}' is {lens_type}: Blockcast exports perspective cameras "
            "only; set Lens ▸ Type to Perspective")


def _matrix_list(matrix):
    return [list(map(float, row)) for row in matrix]


def _focus_distance(cam_eval, dof, depsgraph):
    """Blender's own rule: the focus target's distance along the camera's view axis."""
    if dof.focus_object is None:
        return float(dof.focus_distance)
    focus = dof.focus_object.evaluated_get(depsgraph)
    target = focus.matrix_world.translation
    bone = focus.pose.bones.get(dof.focus_subtarget) if focus.pose else None
    if bone is not None:
        target = focus.matrix_world @ bone.head
    view_axis = cam_eval.matrix_world.col[2].xyz.normalized()
    return abs(view_axis.dot(cam_eval.matrix_world.translation - target))


def depth_of_field_record(cam_eval, depsgraph):
    """cameras.json's `depth_of_field` at this frame: None when Camera ▸ Depth of Field is off,
    else the resolved focus distance, f-stop and aperture shape (blades, rotation, ratio: 1.3)."""
    dof = cam_eval.data.dof
    if not dof.use_dof:
        return None
    return {"focus_distance": float(_focus_distance(cam_eval, dof, depsgraph)), "fstop": float(dof.aperture_fstop),
            "blades": int(dof.aperture_blades), "rotation": float(dof.aperture_rotation),
            "ratio": float(dof.aperture_ratio)}


def camera_frame_record(scene, camera_object, depsgraph=None):
    """JSON-ready camera record at the scene's current frame (the caller runs frame_set).

    Pass the depsgraph of the scene being rendered when it is not the context's scene.
    """
    check_camera(camera_object)
    depsgraph = depsgraph or bpy.context.evaluated_depsgraph_get()
    cam_eval = camera_object.evaluated_get(depsgraph)
    data = cam_eval.data
    render = scene.render
    width, height = camera_math.render_size(
        render.resolution_x, render.resolution_y, render.resolution_percentage)
    fx, fy, cx, cy = camera_math.intrinsics(
        data.lens, data.sensor_width, data.sensor_height, data.sensor_fit, data.shift_x,
        data.shift_y, width, height, render.pixel_aspect_x, render.pixel_aspect_y)
    matrix_world = _matrix_list(cam_eval.matrix_world)
    return {
        "frame": int(scene.frame_current),
        "fx": float(fx), "fy": float(fy), "cx": float(cx), "cy": float(cy),
        "w2c_opencv": camera_math.world_to_opencv_camera(matrix_world).tolist(),
        "matrix_world": matrix_world,
        "lens_mm": float(data.lens),
        "sensor_width_mm": float(data.sensor_width),
        "sensor_height_mm": float(data.sensor_height),
        "sensor_fit": data.sensor_fit,
        "shift_x": float(data.shift_x),
        "shift_y": float(data.shift_y),
        "clip_start": float(data.clip_start),
        "clip_end": float(data.clip_end),
        "depth_of_field": depth_of_field_record(cam_eval, depsgraph),
    }
