"""Measure Lighting and Set Lighting Ratio: each actor's key ÷ fill ratio on the head and torso in
a shot (measured on a small clay render, see docs/coverage.md), and the one light change that sets
it. The last measurement of each shot is kept on the window manager as JSON (not saved in the .blend,
not written into any bundle), with the light energies it was measured under, so the Lighting panel
can say when the lights have changed since."""

import json

import bpy
from bpy.props import EnumProperty, FloatProperty, StringProperty

from ..blender import errors
from ..blender.actors import NAME, is_actor
from ..blender.lighting import lighting_shot, measure_shot, set_lighting_ratio
from ..lighting import format_ratio

REGIONS = (("head", "Head", "The head, split by the neck-to-eyes axis"),
           ("torso", "Torso", "The torso, split by the neck-to-hips axis"))
ADJUSTS = (("FILL", "Fill", "Scale the fill light's Power (the key stays as lit)"),
           ("KEY", "Key", "Scale the key light's Power (the fill stays as lit)"))


def measurements(wm):
    """{scene name: {shot name: record}} from the window manager."""
    return json.loads(wm.blockcast_lighting or "{}")


def remember(wm, scene, measurement):
    """Keep `measurement` (a ShotLighting) as the shot's last, with the light energies it was taken under."""
    actors = []
    for actor in measurement.actors:
        record = actor.to_json()
        for region in ("head", "torso"):
            measured = getattr(actor, region)
            lights = (measurement.key_and_fill(actor.name, region)
                      if measured.ratio is not None and actor.name in measurement.joints else (None, None))
            record[region]["key"], record[region]["fill"] = lights
        actors.append(record)
    stored = measurements(wm)
    stored.setdefault(scene.name, {})[measurement.shot] = {
        "frames": measurement.frames, "actors": actors, "energies": light_energies(scene)}
    wm.blockcast_lighting = json.dumps(stored)


def light_energies(scene):
    return {obj.name: round(float(obj.data.energy), 4) for obj in scene.objects if obj.type == "LIGHT"}


def active_actor_name(context):
    """The active object's actor (the armature, or a mesh it carries or deforms); '' when none."""
    obj = context.active_object
    while obj is not None and not is_actor(obj):
        rig = next((m.object for m in getattr(obj, "modifiers", ()) if m.type == "ARMATURE" and m.object), None)
        obj = rig if rig is not None and is_actor(rig) else obj.parent
    return obj.get(NAME, obj.name) if obj is not None else ""


def _shot_name(context, given):
    return given or getattr(context.scene.blockcast, "shot", "") or ""


class BLOCKCAST_OT_measure_lighting(bpy.types.Operator):
    """Measure every actor's lighting ratio (key ÷ fill, head and torso) in the shot on a small clay render"""

    bl_idname = "blockcast.measure_lighting"
    bl_label = "Measure Lighting"

    shot: StringProperty(name="Shot", description="The shot to measure; empty: the panel's shot")

    def execute(self, context):
        scene = context.scene
        try:
            measurement = measure_shot(scene, lighting_shot(scene, _shot_name(context, self.shot)))
        except errors.USER_ERRORS as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        remember(context.window_manager, scene, measurement)
        ratios = ", ".join(f"{a.name} head {format_ratio(a.head.ratio)}, torso {format_ratio(a.torso.ratio)}"
                           for a in measurement.actors)
        self.report({"INFO"}, f"Lighting in {measurement.shot}: {ratios or 'no actors'}")
        return {"FINISHED"}


class BLOCKCAST_OT_set_lighting_ratio(bpy.types.Operator):
    """Scale the actor's fill (or key) light's Power until the measured key ÷ fill ratio is the target"""

    bl_idname = "blockcast.set_lighting_ratio"
    bl_label = "Set Lighting Ratio"
    bl_options = {"REGISTER", "UNDO"}

    ratio: FloatProperty(name="Ratio", default=4.0, min=1.0, soft_max=16.0,
                         description="Key ÷ fill luminance to reach: 2 is 2:1, 4 is 4:1")
    actor: StringProperty(name="Actor", description="The actor's name; empty: the active object's actor")
    shot: StringProperty(name="Shot", description="The shot to light; empty: the panel's shot")
    region: EnumProperty(name="Region", items=REGIONS, default="head")
    adjust: EnumProperty(name="Adjust", items=ADJUSTS, default="FILL")

    def execute(self, context):
        scene = context.scene
        actor = self.actor or active_actor_name(context)
        try:
            shot = lighting_shot(scene, _shot_name(context, self.shot))
            if not actor:
                raise errors.UserError("Select an actor (its armature or body) to light")
            change = set_lighting_ratio(scene, shot, actor, self.ratio, self.region, self.adjust)
        except errors.USER_ERRORS as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        remember(context.window_manager, scene, change.measurement)
        if change.energy_after == change.energy_before:
            self.report({"INFO"}, f"{actor} {self.region} is already {format_ratio(change.ratio_before)} in shot "
                                  f"{shot.name} (target {format_ratio(self.ratio)}): nothing changed")
            return {"FINISHED"}
        self.report({"INFO"}, f"{change.summary(actor, self.region)} (target {format_ratio(self.ratio)}, "
                              f"shot {shot.name})")
        return {"FINISHED"}


_CLASSES = (BLOCKCAST_OT_measure_lighting, BLOCKCAST_OT_set_lighting_ratio)
_PROPERTIES = {
    "blockcast_lighting": lambda: StringProperty(options={"SKIP_SAVE"}),
    "blockcast_lighting_ratio": lambda: FloatProperty(name="Ratio", default=4.0, min=1.0, soft_max=16.0,
                                                      description="Key ÷ fill ratio for Set Lighting Ratio"),
    "blockcast_lighting_region": lambda: EnumProperty(name="Region", items=REGIONS, default="head"),
    "blockcast_lighting_adjust": lambda: EnumProperty(name="Adjust", items=ADJUSTS, default="FILL"),
}


def register():
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    for name, make in _PROPERTIES.items():
        setattr(bpy.types.WindowManager, name, make())


def unregister():
    for name in reversed(list(_PROPERTIES)):
        delattr(bpy.types.WindowManager, name)
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
