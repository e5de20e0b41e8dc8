"""Operators that run the engine: Generate (a shot), Regenerate (a take), Cancel, Check Engine.

From the UI a job runs modally: a timer ticks it, the artist keeps working while the
engine generates, progress shows in the panels and the status bar, and Esc or Cancel stops
it. The passes are exported by a background Blender from a saved copy (one state of the
scene), so input passes through then too; only where no Blender can run in the background
is input held while this Blender renders them (blender/background_export.py). Run from a
script (`execute`), the same job runs to the end.
"""

import bpy
from bpy.props import StringProperty

from . import preferences as prefs_module
from ..blender import errors
from ..blender.generation import JOB_ERRORS, running_job
from ..blender.shot_jobs import advance_seed, regenerate_job, shot_job
from ..blender.sequencer import find_take
from ..blender.shots import resolve_shot

PROGRESS_STEPS = 1000
TICK_S = 0.05
STOP_WAIT_S = 5.0


def tag_redraw(window_manager):
    for window in window_manager.windows:
        for area in window.screen.areas:
            if area.type in ("VIEW_3D", "SEQUENCE_EDITOR", "PREFERENCES"):
                area.tag_redraw()


class _RunsJob:
    """Runs a GenerationJob made by `make_job`: modally from the UI, to the end from scripts."""

    bl_options = {"REGISTER", "UNDO"}
    _job = None
    _timer = None

    @classmethod
    def poll(cls, context):
        return running_job() is None

    def make_job(self, context):
        raise NotImplementedError

    def job_over(self, context, job):
        """Called once the job has ended, before its reports are shown."""

    def execute(self, context):
        try:
            job = self.make_job(context)
        except JOB_ERRORS as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        job.wait(TICK_S)
        return self._finish(context, job)

    def invoke(self, context, event):
        if context.window is None:  # no window to run modally in (a script): run to the end
            return self.execute(context)
        try:
            self._job = self.make_job(context)
        except JOB_ERRORS as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        wm = context.window_manager
        wm.progress_begin(0, PROGRESS_STEPS)
        self._timer = wm.event_timer_add(TICK_S, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        job = self._job
        if event.type == "ESC" and event.value == "PRESS":
            job.cancel()
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"RUNNING_MODAL"} if job.holds_input else {"PASS_THROUGH"}
        strips = len(job.strip_names)
        if not job.tick():
            return self._finish(context, job)
        if len(job.strip_names) > strips:  # a take arrived: Undo must not silently take it back out
            bpy.ops.ed.undo_push(message="Blockcast: add take")
        context.window_manager.progress_update(int(job.progress.fraction * PROGRESS_STEPS))
        if context.workspace is not None:
            context.workspace.status_text_set(f"Blockcast: {job.progress.status_line()} (Esc to cancel)")
        tag_redraw(context.window_manager)
        return {"PASS_THROUGH"}

    def cancel(self, context):
        """Blender ends the operator (a file is loaded, the window closes): stop the engine now."""
        self._job.stop(STOP_WAIT_S)
        self._finish(context, self._job)

    def _finish(self, context, job):
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            wm.progress_end()
            if context.workspace is not None:
                context.workspace.status_text_set(None)
            self._timer = None
        self.job_over(context, job)
        for level, message in job.reports:
            self.report({level}, message)
        tag_redraw(wm)
        return {"FINISHED"} if job.progress.phase == "finished" else {"CANCELLED"}


def _selected_shot(context):
    settings = context.scene.blockcast
    frames = (settings.frame_start, settings.frame_end) if settings.use_custom_range else None
    return resolve_shot(context.scene, settings.shot or None, frames)


class BLOCKCAST_OT_generate(_RunsJob, bpy.types.Operator):
    """Export the selected shot's passes and generate takes from them; each finished take becomes a strip in the
    sequencer (Esc cancels)"""

    bl_idname = "blockcast.generate"
    bl_label = "Generate"

    def make_job(self, context):
        settings = context.scene.blockcast
        size = (settings.width, settings.height) if settings.use_custom_size else None
        return shot_job(context.scene, _selected_shot(context), prefs_module.preferences(context), settings.passes(),
                        size)

    def job_over(self, context, job):
        """Move the shot's seed past every seed used, so Generate again makes new takes."""
        advance_seed(job)


class BLOCKCAST_OT_regenerate_take(_RunsJob, bpy.types.Operator):
    """One more take like this one (same passes, prompt, backend and settings) with a new seed"""

    bl_idname = "blockcast.regenerate_take"
    bl_label = "Regenerate"

    strip: StringProperty(name="Take", description="The take strip's name")

    def make_job(self, context):
        strip = find_take(context.scene, self.strip)
        if strip is None:
            raise errors.UserError(f"no take strip named {self.strip!r} in scene {context.scene.name!r}")
        return regenerate_job(context.scene, strip, prefs_module.preferences(context))

    def job_over(self, context, job):
        """Move the shot's seed past the new take's, so the next Generate does not repeat it."""
        advance_seed(job)


class BLOCKCAST_OT_cancel_generation(bpy.types.Operator):
    """Stop the running generation: the take being made is dropped, finished takes stay"""

    bl_idname = "blockcast.cancel_generation"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context):
        return running_job() is not None

    def execute(self, context):
        running_job().cancel()
        return {"FINISHED"}


class BLOCKCAST_OT_check_engine(bpy.types.Operator):
    """Ask the engine which backends it has and which of their models are missing"""

    bl_idname = "blockcast.check_engine"
    bl_label = "Check Engine"

    def execute(self, context):
        result = prefs_module.check(prefs_module.preferences(context))
        tag_redraw(context.window_manager)
        if result["error"]:
            self.report({"ERROR"}, result["error"])
            return {"CANCELLED"}
        names = prefs_module.known_backends()
        self.report({"INFO"}, f"Engine ready: backends {', '.join(names)}")
        return {"FINISHED"}


class BLOCKCAST_OT_add_shot_generation(bpy.types.Operator):
    """Give the selected shot its own prompt, seed and generation settings"""

    bl_idname = "blockcast.add_shot_generation"
    bl_label = "Set Up Shot"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            shot = _selected_shot(context)
        except errors.USER_ERRORS as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        context.scene.blockcast.shot_generation_settings(shot.name, create=True)
        return {"FINISHED"}


_CLASSES = (
    BLOCKCAST_OT_generate,
    BLOCKCAST_OT_regenerate_take,
    BLOCKCAST_OT_cancel_generation,
    BLOCKCAST_OT_check_engine,
    BLOCKCAST_OT_add_shot_generation,
)

register, unregister = bpy.utils.register_classes_factory(_CLASSES)
