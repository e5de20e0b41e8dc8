"""The 3D View sidebar's "Blockcast" tab: actors, shots, pass export and generation."""

from pathlib import Path

import bpy

from ...engine.bundle.request import DEFAULT_BACKEND
from ...engine.bundle.schema import PASSES
from ..blender.actors import NAME, actor_name, owning_actor, scene_actors
from ..blender.generation import running_job
from ..shot_queue import running_queue
from ..blender.sequencer import shot_takes
from ..blender.lens import camera_has_dof
from ..blender.shots import ShotError, resolve_shot
from ..engine_report import (added_passes, continue_problem, continuing_backends, control_weights, generation_backend,
                             ignored_fields, no_weights_note, weighted_controls)
from .preferences import ENGINE_CHECK, preferences
from .properties import CONTROL_KINDS, pass_property_name, weight_property_name
from ..strip_layout import PREFIX
from ..take_folders import cached_take_notes, take_number


class _BlockcastPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Blockcast"


class BLOCKCAST_PT_actors(_BlockcastPanel, bpy.types.Panel):
    bl_label = "Actors"

    def draw(self, context):
        layout = self.layout
        layout.operator("blockcast.add_proxy_actor", icon="ARMATURE_DATA")
        row = layout.row(align=True)
        row.prop(context.scene.blockcast, "rig_preset", text="")
        row.operator("blockcast.make_actor_from_rig", text="Use Rig")
        actor = owning_actor(context.active_object)
        if actor is not None:
            box = layout.box()
            if NAME in actor:  # a name of its own, apart from the armature object's
                box.prop(actor, f'["{NAME}"]', text="Name")
            else:
                box.prop(actor, "name", text="Name")
            box.prop(actor, '["blockcast_description"]', text="Description")
        layout.operator("blockcast.add_demo_scene", icon="SCENE_DATA")


def _toggled_row(layout, settings, toggle, *props):
    """A checkbox followed by the values it enables (greyed out while off)."""
    row = layout.row(align=True)
    row.prop(settings, toggle)
    sub = row.row(align=True)
    sub.active = getattr(settings, toggle)
    for prop in props:
        sub.prop(settings, prop)


class BLOCKCAST_PT_shots(_BlockcastPanel, bpy.types.Panel):
    bl_label = "Shot Export"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.blockcast
        layout.prop(settings, "shot")
        layout.prop(settings, "output_dir")
        _toggled_row(layout, settings, "use_custom_range", "frame_start", "frame_end")
        _toggled_row(layout, settings, "use_custom_size", "width", "height")
        grid = layout.grid_flow(columns=2, align=True)
        for name in PASSES:
            grid.prop(settings, pass_property_name(name), toggle=True)
        layout.prop(settings, "overwrite")
        layout.operator("blockcast.export_passes", icon="RENDER_ANIMATION")


def _shot_backend(context, shot):
    """(the engine report, the shot's backend), from a report already fetched (Check Engine or a
    Generate): drawing never starts the engine."""
    report = ENGINE_CHECK["report"]
    return report, generation_backend(shot.backend, preferences(context).default_backend, report)


def draw_backend(layout, context, shot, backend):
    """The shot's backend; when it is left empty, which one that means, and Check Engine here
    rather than only in Preferences, so the field is never a blank the artist must guess at."""
    row = layout.row(align=True)
    row.prop(shot, "backend", icon="RENDER_ANIMATION",
             text="Backend" if shot.backend else f"Backend (default: {backend or DEFAULT_BACKEND})")
    if ENGINE_CHECK["report"] is None:
        row.operator("blockcast.check_engine", text="", icon="FILE_REFRESH")


def draw_added_passes(layout, context, shot):
    """Which passes Generate exports beyond the chosen ones because the backend needs them."""
    report, backend = _shot_backend(context, shot)
    weights = control_weights(shot.weights(), report, backend)
    added = added_passes(context.scene.blockcast.passes(), report, backend, weights=weights)
    if added:
        layout.label(text=f"Also exports {', '.join(added)} ({backend} needs them)", icon="INFO")


def draw_control_weights(layout, context, shot):
    """Weights for the controls the backend lets the artist set, or a note on why there are none
    (previz needs every control it takes)."""
    report, backend = _shot_backend(context, shot)
    weighted = weighted_controls(CONTROL_KINDS, report, backend)
    if len(weighted) > 2:  # edges, tracking, camera...: a grid under the checkbox, not one crowded row
        layout.prop(shot, "use_custom_weights")
        grid = layout.grid_flow(columns=2, align=True)
        grid.active = shot.use_custom_weights
        for kind in weighted:
            grid.prop(shot, weight_property_name(kind))
    elif weighted:
        _toggled_row(layout, shot, "use_custom_weights", *map(weight_property_name, weighted))
    else:
        layout.label(text=no_weights_note(report, backend), icon="INFO")


def draw_lens_switches(layout, scene, shot):
    """Depth of Field and Motion Blur, each greyed out with the reason when the shot's camera has
    no depth of field or the scene no motion blur (the take then has none either way)."""
    try:
        camera_dof = camera_has_dof(resolve_shot(scene, shot.name).camera_name)
    except ShotError:
        camera_dof = False
    row = layout.row(align=True)
    cell = row.row()
    cell.enabled = camera_dof
    cell.prop(shot, "depth_of_field")
    cell = row.row()
    cell.enabled = scene.render.use_motion_blur
    cell.prop(shot, "motion_blur")
    if not camera_dof:
        layout.label(text="Depth of Field: the shot's camera has it off (Camera ▸ Depth of Field)", icon="INFO")
    if not scene.render.use_motion_blur:
        layout.label(text="Motion Blur: off in Render ▸ Motion Blur", icon="INFO")


def draw_continue_previous(layout, shot, backend):
    """The Continue From Previous Shot checkbox; ticked for a backend the engine's report says
    cannot continue a take, a red line naming the backends that can (Generate refuses it)."""
    layout.prop(shot, "continue_previous")
    report = ENGINE_CHECK["report"]
    if shot.continue_previous and continue_problem(report, backend):
        able = continuing_backends(report)
        row = layout.row()
        row.alert = True
        row.label(text=f"{backend} cannot continue a take" + (f"; {', '.join(able)} can" if able else ""),
                  icon="ERROR")


def draw_field(layout, data, prop, ignored, field, backend):
    """A request field, with a note beside it when the shot's backend does not use it."""
    row = layout.row()
    row.prop(data, prop)
    if field in ignored:
        row.label(text=f"{backend} ignores this", icon="INFO")


def draw_last_take_notes(layout, scene, shot_name):
    """What the shot's latest take followed and left out (its take.json understood/ignored)."""
    takes = shot_takes(scene, shot_name)
    if not takes:
        return
    latest = max(takes, key=lambda strip: take_number(strip.get(PREFIX + "take")))
    notes = cached_take_notes(Path(latest[PREFIX + "take_json"]).parent)
    if not notes or not any(notes):
        return
    box = layout.box()
    box.label(text=f"Last take ({latest[PREFIX + 'take']})", icon="SEQUENCE")
    for heading, lines, icon in (("Understood", notes[0], "CHECKMARK"), ("Ignored", notes[1], "CANCEL")):
        for line in lines:
            box.label(text=f"{heading}: {line}", icon=icon)


def draw_job_status(layout):
    """The running generation's progress and a Cancel button (also used by the sequencer panel)."""
    job = running_queue() or running_job()  # Generate All Shots: the whole queue's progress
    if job is None:
        return False
    box = layout.box()
    box.progress(factor=job.progress.fraction, type="BAR", text=job.progress.status_line())
    box.operator("blockcast.cancel_generation", icon="CANCEL")
    return True


class BLOCKCAST_PT_generate(_BlockcastPanel, bpy.types.Panel):
    bl_label = "Generate"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.blockcast
        layout.prop(settings, "shot")
        shot = settings.shot_generation_settings(settings.shot) if settings.shot else None
        if shot is None:
            layout.operator("blockcast.add_shot_generation", icon="ADD")
        else:
            _, backend = _shot_backend(context, shot)
            ignored = ignored_fields(ENGINE_CHECK["report"], backend)
            draw_field(layout, shot, "prompt", ignored, "prompt", backend)
            draw_field(layout, shot, "negative_prompt", ignored, "negative_prompt", backend)
            draw_field(layout, shot, "reference_image", ignored, "shot_reference", backend)
            row = layout.row(align=True)
            row.prop(shot, "seed")
            row.prop(shot, "takes")
            draw_backend(layout, context, shot, backend)
            draw_added_passes(layout, context, shot)
            row = layout.row(align=True)
            row.prop(shot, "steps", text="Steps" if shot.steps else "Steps (default)")
            row.prop(shot, "long_side", text="Long Side" if shot.long_side else "Long Side (default)")
            draw_lens_switches(layout, context.scene, shot)
            draw_continue_previous(layout, shot, backend)
            draw_control_weights(layout, context, shot)
            draw_last_take_notes(layout, context.scene, shot.name)
        actors = scene_actors(context.scene)
        if actors:
            column = layout.column(align=True)
            row = column.row()
            row.label(text="Actors")
            if shot is not None and "descriptions" in ignored:
                row.label(text=f"{backend} ignores descriptions", icon="INFO")
            for actor in actors:
                column.prop(actor, '["blockcast_description"]', text=actor_name(actor))
        if not draw_job_status(layout):
            row = layout.row(align=True)
            row.scale_y = 1.4
            row.operator("blockcast.generate", icon="PLAY")
            row.operator("blockcast.export_passes", text="Export Passes", icon="RENDER_ANIMATION")
            layout.operator("blockcast.generate_all", icon="SEQ_STRIP_DUPLICATE")


_CLASSES = (BLOCKCAST_PT_actors, BLOCKCAST_PT_shots, BLOCKCAST_PT_generate)


register, unregister = bpy.utils.register_classes_factory(_CLASSES)
