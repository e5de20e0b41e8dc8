"""Operators: add proxy actors, turn rigs into actors, export shot passes, add a demo shot."""

from pathlib import Path

import bpy
from bpy.props import StringProperty

from ...engine.bundle.storage import OutputFolderError
from ..blender import errors
from ..blender.actors import add_proxy_actor, make_actor_from_rig
from ..blender.background_export import export_steps
from ..blender.export import export_shot
from ..blender.shots import resolve_shot
from ..take_folders import output_folder_problem

BACKGROUND_TICK_S = 0.05  # a background export is polled; one in this process renders a frame per tick
IN_PROCESS_TICK_S = 0.01


def _export_request(context):
    """(shot, bundle folder, passes, size, overwrite) from the scene's Blockcast settings."""
    settings = context.scene.blockcast
    frames = (settings.frame_start, settings.frame_end) if settings.use_custom_range else None
    shot = resolve_shot(context.scene, settings.shot or None, frames)
    output = bpy.path.abspath(settings.output_dir)
    problem = output_folder_problem(output, bpy.data.filepath)  # unsaved, "//x" resolves to a relative "x"
    if problem:
        raise errors.UserError(problem)
    size = (settings.width, settings.height) if settings.use_custom_size else None
    return shot, Path(output) / bpy.path.clean_name(shot.name), settings.passes(), size, settings.overwrite


def _panel_message(exc):
    """The error in the panel's words: its Replace Existing checkbox, not the CLI's --overwrite."""
    if isinstance(exc, OutputFolderError):
        return exc.in_words("Replace Existing", "tick Replace Existing")
    return str(exc)


class BLOCKCAST_OT_add_proxy_actor(bpy.types.Operator):
    """Add a posable mannequin whose bones give the 18 OpenPose keypoints"""

    bl_idname = "blockcast.add_proxy_actor"
    bl_label = "Add Proxy Actor"
    bl_options = {"REGISTER", "UNDO"}

    name: StringProperty(name="Name", default="Actor")
    description: StringProperty(name="Description", description="Who this is; used as the actor's prompt")

    def execute(self, context):
        actor = add_proxy_actor(context.scene, self.name, self.description, tuple(context.scene.cursor.location))
        for obj in context.selected_objects:
            obj.select_set(False)
        actor.select_set(True)
        context.view_layer.objects.active = actor
        return {"FINISHED"}


class BLOCKCAST_OT_make_actor_from_rig(bpy.types.Operator):
    """Use the active armature as a proxy actor, with the chosen bone map"""

    bl_idname = "blockcast.make_actor_from_rig"
    bl_label = "Use Rig as Actor"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return context.active_object is not None and context.active_object.type == "ARMATURE"

    def execute(self, context):
        rig = context.active_object
        try:
            make_actor_from_rig(rig, rig.name, rig.get("blockcast_description", ""), context.scene.blockcast.rig_preset)
        except errors.BoneMapError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"{rig.name} is now a proxy actor")
        return {"FINISHED"}


class BLOCKCAST_OT_export_passes(bpy.types.Operator):
    """Export the chosen shot's passes as a pass bundle, in a background Blender while you keep working (Esc
    cancels; nothing half-written stays)"""

    bl_idname = "blockcast.export_passes"
    bl_label = "Export Passes"

    _steps = None
    _timer = None

    def execute(self, context):
        """From a script: the export in this process, to the end."""
        try:
            shot, out_dir, passes, size, overwrite = _export_request(context)
            path = export_shot(context.scene, shot, out_dir, passes, size, overwrite)
        except errors.USER_ERRORS as exc:
            self.report({"ERROR"}, _panel_message(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Wrote {path}")
        return {"FINISHED"}

    def invoke(self, context, event):
        """From the panel: Generate's export (a background Blender where one can run, else here with
        input held, as its note says), a step per timer tick, with progress and Esc."""
        if context.window is None:
            return self.execute(context)
        try:
            shot, out_dir, passes, size, overwrite = _export_request(context)
            self._steps = export_steps(context.scene, shot, out_dir, passes, size, overwrite)
        except errors.USER_ERRORS as exc:
            self.report({"ERROR"}, _panel_message(exc))
            return {"CANCELLED"}
        self._shot = shot
        context.window_manager.progress_begin(0, len(shot.frames))
        tick_s = BACKGROUND_TICK_S if self._steps.in_background else IN_PROCESS_TICK_S
        self._timer = context.window_manager.event_timer_add(tick_s, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _finish(self, context):
        context.window_manager.event_timer_remove(self._timer)
        context.window_manager.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)

    def cancel(self, context):
        """Blender ends the operator (a file is loaded, the window closes): stop the export now."""
        self._steps.close()
        self._finish(context)

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            self.cancel(context)
            self.report({"WARNING"}, f"Export of {self._shot.name} cancelled; nothing was written")
            return {"CANCELLED"}
        if event.type != "TIMER":  # the artist keeps working unless this Blender renders the passes itself
            return {"PASS_THROUGH"} if self._steps.in_background else {"RUNNING_MODAL"}
        try:
            done, total = next(self._steps)
        except StopIteration as finished:
            self._finish(context)
            self.report({"INFO"}, f"Wrote {finished.value} ({self._steps.note})")
            return {"FINISHED"}
        except errors.USER_ERRORS as exc:
            self._finish(context)
            self.report({"ERROR"}, _panel_message(exc))
            return {"CANCELLED"}
        context.window_manager.progress_update(done)
        if context.workspace is not None:
            context.workspace.status_text_set(f"Blockcast: exporting {self._shot.name}, frame {done}/{total} "
                                              f"({self._steps.note}) (Esc to cancel)")
        return {"PASS_THROUGH"}


class BLOCKCAST_OT_add_demo_scene(bpy.types.Operator):
    """Add a new scene with a ready-made blocked shot: two actors, a dolly camera, three-point lights"""

    bl_idname = "blockcast.add_demo_scene"
    bl_label = "Add Demo Shot"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        from ..blender.demo_scene import build_demo_scene

        scene = bpy.data.scenes.new("Blockcast demo")
        build_demo_scene(scene)
        if context.window is not None:
            context.window.scene = scene
        return {"FINISHED"}


_CLASSES = (
    BLOCKCAST_OT_add_proxy_actor,
    BLOCKCAST_OT_make_actor_from_rig,
    BLOCKCAST_OT_export_passes,
    BLOCKCAST_OT_add_demo_scene,
)


register, unregister = bpy.utils.register_classes_factory(_CLASSES)
