"""Gathers what the coverage check needs straight from a scene (no export): every shot's camera
record and every actor's world joints at a few frames of the shot. The judging is bpy-free
(`addon.coverage`), the drawing too (`addon.coverage_diagram`)."""

import bpy
import numpy as np

from ...engine.bundle import camera as camera_math
from ..coverage import ShotInput, analyse, sample_frames
from .actors import actor_joints_world, actor_name, scene_actors
from .camera import CameraError, camera_frame_record
from .shots import scene_shots

SAMPLES_PER_SHOT = 5


def actor_labels(actors):
    """The actor's name; with two of one name, the armature's name too, so each reads apart."""
    names = [actor_name(actor) for actor in actors]
    return [f"{name} ({actor.name})" if names.count(name) > 1 else name for name, actor in zip(names, actors)]


def gather_shots(scene, samples=SAMPLES_PER_SHOT):
    """One ShotInput per shot of the scene (camera-bound markers, else the scene camera), in cut
    order; the scene's current frame is restored afterwards."""
    actors = scene_actors(scene)
    labels = actor_labels(actors)
    width, height = camera_math.render_size(
        scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage)
    view_layer = scene.view_layers[0]
    shots, current = [], scene.frame_current
    try:
        with bpy.context.temp_override(scene=scene, view_layer=view_layer):
            for shot in scene_shots(scene):
                camera = bpy.data.objects.get(shot.camera_name) if shot.camera_name else None
                if camera is None:
                    raise CameraError(f"Shot {shot.name!r} has no camera: bind a camera to its marker "
                                      "(Marker ▸ Bind Camera to Markers) or set the scene camera")
                frames = sample_frames(shot.frame_start, shot.frame_end, samples)
                records, joints = [], {label: [] for label in labels}
                for frame in frames:
                    scene.frame_set(frame)
                    depsgraph = bpy.context.evaluated_depsgraph_get()
                    records.append(camera_frame_record(scene, camera, depsgraph))
                    for label, actor in zip(labels, actors):
                        joints[label].append(actor_joints_world(actor, depsgraph))
                shots.append(ShotInput(shot.name, shot.camera_name, width, height, frames, records,
                                       {label: np.stack(j) for label, j in joints.items()}))
    finally:
        scene.frame_set(current)
    return shots


def scene_coverage(scene, samples=SAMPLES_PER_SHOT):
    """The scene's CoverageReport: its line of action and how each shot keeps it."""
    return analyse(scene.name, gather_shots(scene, samples))
