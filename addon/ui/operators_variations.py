"""Operators of the Variations row: Make Variations, Make Takes of the picked tiles, Lock Look
from a variation, Show Sheet. The first two run their jobs with Generate's modal machinery
(progress bar, status line, Esc and Cancel)."""

import bpy
from bpy.props import IntProperty

from . import preferences as prefs_module
from ..blender import errors
from ..blender.cast_edit import CastEditError
from ..blender.variations import lock_variation_look, shot_sheet
from ..blender.variations_jobs import VariationsJob, picked_takes_job, variations_job
from .operators_generate import _RunsJob, _selected_shot


def _advance_seed(job):
    """Move the shot's seed past the seeds the job used, so the next run shows new looks."""
    scene = bpy.data.scenes.get(job.scene_name) if job.scene_name else None
    settings = scene.blockcast.shot_generation_settings(job.shot_name) if scene is not None else None
    if settings is None:
        return
    if isinstance(job, VariationsJob):
        used = job.count if job.progress.phase == "finished" else 0
    else:
        used = len(job.progress.takes_done)
    if used:
        settings.seed = max(settings.seed, job.request.seed + used)


class BLOCKCAST_OT_make_variations(_RunsJob, bpy.types.Operator):
    """Export the selected shot's passes and sample Count looks of it at once, shown as a contact sheet and as
    tiles to pick from (on a diffusion backend: a few full takes with distinct seeds). Esc cancels"""

    bl_idname = "blockcast.make_variations"
    bl_label = "Make Variations"

    def make_job(self, context):
        settings = context.scene.blockcast
        size = (settings.width, settings.height) if settings.use_custom_size else None
        job, note = variations_job(context.scene, _selected_shot(context), prefs_module.preferences(context),
                                   settings.passes(), size, context.scene.blockcast_variations.count)
        if note:
            self.report({"INFO"}, note)
        return job

    def job_over(self, context, job):
        _advance_seed(job)


class BLOCKCAST_OT_make_variation_takes(_RunsJob, bpy.types.Operator):
    """Make a full take of each picked variation (same passes, prompt and settings, the variation's seed): they
    land in the sequencer like every take. Esc cancels"""

    bl_idname = "blockcast.make_variation_takes"
    bl_label = "Make Takes"

    def make_job(self, context):
        return picked_takes_job(context.scene, _selected_shot(context).name, prefs_module.preferences(context))


class BLOCKCAST_OT_lock_look_from_variation(bpy.types.Operator):
    """Keep this variation's look in every later take: lock each object's colour in the cast to the
    variation's"""

    bl_idname = "blockcast.lock_look_from_variation"
    bl_label = "Lock Look"
    bl_options = {"REGISTER", "UNDO"}

    seed: IntProperty(name="Seed", min=0, description="The variation's seed")

    def execute(self, context):
        try:
            shot = _selected_shot(context)
            locked = lock_variation_look(context.scene, shot.name, self.seed)
        except (*errors.USER_ERRORS, CastEditError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Locked {locked} colour(s) from variation s{self.seed} of {shot.name} (reference "
                              "crops come from a full take: Make Takes, accept it, Lock Look from Take)")
        return {"FINISHED"}


class BLOCKCAST_OT_show_variations_sheet(bpy.types.Operator):
    """Show the shot's contact sheet in an Image Editor of this window"""

    bl_idname = "blockcast.show_variations_sheet"
    bl_label = "Show Sheet"

    def execute(self, context):
        try:
            entry, _ = shot_sheet(context.scene, _selected_shot(context).name)
        except errors.USER_ERRORS as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        image = bpy.data.images.get(entry.image)
        if image is None:
            self.report({"ERROR"}, f"the sheet image {entry.image!r} is gone from this file: Make Variations again")
            return {"CANCELLED"}
        screen = context.screen
        editors = [area for area in screen.areas if area.type == "IMAGE_EDITOR"] if screen is not None else []
        if not editors:
            self.report({"INFO"}, f"Open an Image Editor and pick the image {image.name!r}")
            return {"FINISHED"}
        editors[0].spaces.active.image = image
        editors[0].tag_redraw()
        return {"FINISHED"}


_CLASSES = (BLOCKCAST_OT_make_variations, BLOCKCAST_OT_make_variation_takes, BLOCKCAST_OT_lock_look_from_variation,
            BLOCKCAST_OT_show_variations_sheet)

register, unregister = bpy.utils.register_classes_factory(_CLASSES)
