"""Reads the blocking's lens and shutter into the plain per-frame lens record.

The layout and its reading are the bpy-free `engine/lens/record.py`; this module only
gathers Blender's values (Camera ▸ Depth of Field, Render ▸ Motion Blur) at a frame.
"""

import bpy

from ...engine.bundle.manifest import MotionBlur
from .camera import depth_of_field_record  # the camera record's own, so the two never differ


def lens_frame_record(scene, camera_object, depsgraph=None):
    """JSON-ready lens record at the scene's current frame (the caller runs frame_set)."""
    depsgraph = depsgraph or bpy.context.evaluated_depsgraph_get()
    cam_eval = camera_object.evaluated_get(depsgraph)
    data = cam_eval.data
    dof = depth_of_field_record(cam_eval, depsgraph)
    motion = motion_blur_record(scene)
    blur = None if motion is None else motion.to_json()
    return {"frame": int(scene.frame_current), "lens_mm": float(data.lens),
            "sensor_width_mm": float(data.sensor_width), "sensor_height_mm": float(data.sensor_height),
            "sensor_fit": data.sensor_fit, "depth_of_field": dof, "motion_blur": blur}


def camera_has_dof(camera_name):
    """Whether the named camera has Depth of Field on (what a take's lens follows by default)."""
    camera = bpy.data.objects.get(camera_name) if camera_name else None
    return camera is not None and camera.type == "CAMERA" and camera.data.dof.use_dof


def motion_blur_record(scene):
    """The manifest's shot.motion_blur: None when Render ▸ Motion Blur is off."""
    render = scene.render
    if not render.use_motion_blur:
        return None
    return MotionBlur(shutter=float(render.motion_blur_shutter), position=render.motion_blur_position)


def lens_records(scene, camera_object, frames):
    """One lens record per frame, the scene's current frame restored afterwards."""
    current = scene.frame_current, scene.frame_subframe
    try:
        records = []
        for frame in frames:
            scene.frame_set(frame)
            records.append(lens_frame_record(scene, camera_object))
        return records
    finally:
        scene.frame_set(current[0], subframe=current[1])
