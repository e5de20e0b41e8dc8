"""Generate All Shots: every shot of the scene generated in turn, each with its own settings,
under one progress bar (shot_queue). From the UI it runs modally like Generate (Esc or
Cancel stops the queue; finished takes stay); from a script it runs to the end."""

import bpy

from . import preferences as prefs_module
from ..blender import errors
from ..blender.generation import JOB_ERRORS, running_job
from ..blender.shot_jobs import shot_job
from ..blender.shots import resolve_shot, scene_shots
from ..shot_queue import ShotQueue, running_queue
from .operators_generate import BLOCKCAST_OT_generate, _RunsJob


def shot_job_maker(scene_name):
    """Makes a shot's job when its turn comes, from the scene as it is then (the artist may
    have edited, or undone, since the queue started), with the Generate panel's pass and size
    choices and the shot's own generation settings."""

    def make_job(shot_name):
        scene = bpy.data.scenes.get(scene_name)
        if scene is None:
            raise errors.UserError(f"scene {scene_name!r} is gone")
        settings = scene.blockcast
        size = (settings.width, settings.height) if settings.use_custom_size else None
        return shot_job(scene, resolve_shot(scene, shot_name), prefs_module.preferences(), settings.passes(), size)

    return make_job


class BLOCKCAST_OT_generate_all(_RunsJob, bpy.types.Operator):
    """Generate every shot of the scene in turn (markers bound to cameras, else the scene camera), each with its own
    prompt, seed and settings; a failing shot is reported and the next one goes on (Esc cancels the rest)"""

    bl_idname = "blockcast.generate_all"
    bl_label = "Generate All Shots"

    @classmethod
    def poll(cls, context):
        return running_job() is None and running_queue() is None

    def make_job(self, context):
        names = [shot.name for shot in scene_shots(context.scene)]
        return ShotQueue(names, shot_job_maker(context.scene.name), JOB_ERRORS)

    def job_over(self, context, job):
        """Each shot's seed moves past the seeds it used, as after Generate."""
        for shot_job_done in job.jobs:
            BLOCKCAST_OT_generate.job_over(self, context, shot_job_done)


register, unregister = bpy.utils.register_classes_factory((BLOCKCAST_OT_generate_all,))
