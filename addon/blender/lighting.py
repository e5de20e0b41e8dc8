"""Lighting ratios measured straight from a scene, and the one change of a light that sets one
(Blender glue: the measuring is addon/lighting.py, the key/fill weighing and the adjusting
addon/lighting_target.py).

A measurement exports a few frames of the shot as small one-frame bundles (clay shading, actor
mask, pose, camera) into a temporary folder of its own, measures them as one shot and removes the
folder: nothing is written beside the .blend or into the user's bundles.
"""

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from ...engine.bundle import camera as camera_math
from ...engine.bundle import read_bundle
from ..coverage import sample_frames
from ..lighting import bundle_lighting, format_ratio
from ..lighting_target import SIDES, SceneLight, closest, key_and_fill, reach_target, region_axis, side_weights
from .actors import NAME, scene_actors
from .errors import UserError
from .export import export_shot
from .shots import Shot, scene_shots

SAMPLES_PER_SHOT = 3
LONG_SIDES = (192, 384, 768)  # measurement sizes tried in turn until every seen head and torso is big enough
MIN_REGION_PIXELS = 100   # a head or torso smaller than this (per frame) is measured again larger
CLOSE_ENOUGH = 0.10       # Set Lighting Ratio keeps its change only this close to the target
PASSES = "shading,mask,pose,camera"
LIGHT_TYPES = ("POINT", "SPOT", "AREA", "SUN")


@dataclass
class ShotLighting:
    """One measurement of a shot: the per-actor ratios (median over `frames`) and, at the middle
    frame, each actor's camera-space joints and the lights in camera space, to tell key from fill."""
    shot: str
    frames: list
    size: tuple            # the (width, height) it was rendered at
    actors: list           # [addon.lighting.ActorLighting]
    joints: dict           # actor name -> (18, 3) camera-space joints
    lights: list           # [SceneLight]

    def actor(self, name):
        return next((actor for actor in self.actors if actor.name == name), None)

    def key_and_fill(self, name, region):
        """(key light, fill light) object names for the actor's head or torso; None where none leans."""
        ratio = getattr(self.actor(name), region)
        centre, axis = region_axis(self.joints[name], region)
        return key_and_fill(side_weights(self.lights, centre, axis), ratio.key_side)


class _Frames:
    """One-frame bundles of the same shot read as one bundle by addon.lighting.bundle_lighting."""

    def __init__(self, bundles):
        self._by_frame = {bundle.frames[0]: bundle for bundle in bundles}
        self.frames = sorted(self._by_frame)
        self.actors = bundles[0].actors

    def joints(self):
        return {"frames": [entry for frame in self.frames for entry in self._by_frame[frame].joints()["frames"]]}

    def shading(self, frame):
        return self._by_frame[frame].shading(frame)

    def actor_mask(self, frame):
        return self._by_frame[frame].actor_mask(frame)


def measurement_size(scene, long_side):
    """The scene's output size scaled so its long side is at most `long_side` (its aspect kept)."""
    width, height = camera_math.render_size(scene.render.resolution_x, scene.render.resolution_y,
                                            scene.render.resolution_percentage)
    scale = min(1.0, long_side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def lighting_shot(scene, shot_name=""):
    """The named shot, else the one at the current frame (else the first); refuses a file without shots."""
    shots = [shot for shot in scene_shots(scene) if shot.camera_name]
    if not shots:
        raise UserError("No shots in this file: set the scene camera (Scene ▸ Camera) or bind cameras to "
                        "markers (Marker ▸ Bind Camera to Markers)")
    if shot_name:
        match = next((shot for shot in shots if shot.name == shot_name), None)
        if match is None:
            raise UserError(f"No shot named '{shot_name}': choose one of {', '.join(s.name for s in shots)}")
        return match
    frame = scene.frame_current
    return next((shot for shot in shots if shot.frame_start <= frame <= shot.frame_end), shots[0])


def too_small(region, frames):
    """True for a head or torso seen in the shot but over too few pixels to split reliably."""
    return 0 < region.pixels < MIN_REGION_PIXELS * len(frames)


def measure_shot(scene, shot, samples=SAMPLES_PER_SHOT, size=None, actor=None):
    """ShotLighting of `shot` from `samples` frames spread over it (its middle for one), rendered at
    `size`, else at the smallest of LONG_SIDES (up to the scene's own size) where every seen head
    and torso (of `actor` only, when given) covers MIN_REGION_PIXELS: a close-up stays cheap, a
    wide shot's small heads still measure."""
    if size is not None:
        return _measure_at(scene, shot, samples, size)
    sizes = sorted({measurement_size(scene, side) for side in LONG_SIDES})
    for size in sizes:
        measurement = _measure_at(scene, shot, samples, size)
        regions = [region for lighting in measurement.actors if actor in (None, lighting.name)
                   for region in (lighting.head, lighting.torso)]
        if not any(too_small(region, measurement.frames) for region in regions):
            break
    return measurement


def _measure_at(scene, shot, samples, size):
    frames = sample_frames(shot.frame_start, shot.frame_end, samples)
    folder = Path(tempfile.mkdtemp(prefix="blockcast_lighting_"))
    try:
        bundles = [read_bundle(export_shot(scene, Shot(shot.name, shot.camera_name, frame, frame),
                                           folder / f"frame_{frame}", PASSES, size))
                   for frame in frames]
        middle = bundles[len(bundles) // 2]
        (joints,) = middle.joints()["frames"]
        w2c = np.asarray(middle.cameras()[0]["w2c_opencv"], float)
        return ShotLighting(shot.name, frames, size, bundle_lighting(_Frames(bundles)),
                            {actor["name"]: np.asarray(actor["camera"], float) for actor in joints["actors"]},
                            scene_lights(scene, middle.frames[0], w2c))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def scene_lights(scene, frame, w2c):
    """The scene's rendering lights at `frame` as SceneLights in the camera space of `w2c` (OpenCV)."""
    rotation, translation = w2c[:3, :3], w2c[:3, 3]
    current, lights = scene.frame_current, []
    try:
        with bpy.context.temp_override(scene=scene, view_layer=scene.view_layers[0]):
            scene.frame_set(frame)
            for obj in scene.objects:
                if obj.type != "LIGHT" or obj.hide_render or obj.data.type not in LIGHT_TYPES:
                    continue
                matrix = np.array(obj.matrix_world, float)
                lights.append(SceneLight(
                    obj.name, obj.data.type, float(obj.data.energy),
                    tuple(rotation @ matrix[:3, 3] + translation), tuple(rotation @ -matrix[:3, 2]),
                    float(obj.data.spot_size) if obj.data.type == "SPOT" else np.pi))
    finally:
        scene.frame_set(current)
    return lights


@dataclass
class RatioChange:
    """What Set Lighting Ratio changed, for its report and the panel."""
    role: str              # "Key" or "Fill"
    light: str             # the light object's name
    energy_before: float
    energy_after: float
    ratio_before: float
    ratio_after: float
    unit: str              # " W" (a sun's Strength has none)
    measurement: ShotLighting

    def summary(self, actor, region):
        """"Fill 'Light.001' 100 W → 48 W; Ana head 2.1:1 → 4:1"."""
        before, after = _energy(self.energy_before) + self.unit, _energy(self.energy_after) + self.unit
        return (f"{self.role} '{self.light}' {before} → {after}; "
                f"{actor} {region} {format_ratio(self.ratio_before)} → {format_ratio(self.ratio_after)}")


def _energy(value):
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _actor_names(scene):
    return [actor.get(NAME, actor.name) for actor in scene_actors(scene)]


def measured_ratio(measurement, actor, region):
    """The actor's measured head or torso ratio in the shot, refusing what cannot be adjusted."""
    lighting = measurement.actor(actor)
    ratio = getattr(lighting, region) if lighting else None
    if ratio is None or ratio.pixels == 0:
        raise UserError(f"{actor}'s {region} is not seen in shot '{measurement.shot}' (frames "
                        f"{', '.join(map(str, measurement.frames))}): choose a shot that shows {actor}")
    if ratio.ratio is None and too_small(ratio, measurement.frames):
        width, height = measurement.size
        raise UserError(f"{actor}'s {region} is too small to measure in shot '{measurement.shot}' (about "
                        f"{ratio.pixels // len(measurement.frames)} pixels at {width}×{height}): "
                        + ("set the ratio on the torso (Region: Torso)" if region == "head" else "frame them closer"))
    if ratio.ratio is None:
        raise UserError(f"{actor}'s {region} has no light at all on one side in shot '{measurement.shot}': "
                        "add a fill light on the dark side")
    return ratio


def set_lighting_ratio(scene, shot, actor, target, region="head", adjust="FILL"):
    """Scale the actor's fill (or key) light until its measured head or torso ratio in `shot` is
    `target` (measure, scale, re-measure, at most three scalings); returns the RatioChange."""
    if actor not in _actor_names(scene):
        raise UserError(f"No actor named '{actor}' in scene '{scene.name}': select an actor's armature")
    measurement = measure_shot(scene, shot, actor=actor)
    before = measured_ratio(measurement, actor, region)
    key, fill = measurement.key_and_fill(actor, region)
    role, name = ("Fill", fill) if adjust == "FILL" else ("Key", key)
    fill_side = SIDES[1 - SIDES.index(before.key_side)]
    side = before.key_side if role == "Key" else fill_side
    if name is None:
        raise UserError(f"No light on {actor}'s {role.lower()} side ({side} of the {region}) in shot "
                        f"'{shot.name}': add a {role.lower()} light there"
                        + (", or adjust the Key instead" if role == "Fill" and key else ""))
    light = scene.objects[name].data
    _refuse_animated(light, name)
    if light.energy <= 0:
        raise UserError(f"{role} '{name}' has no Power: give it some (Light Properties ▸ Power) first")
    energy_before, measured = light.energy, {light.energy: measurement}

    def apply(energy):
        light.energy = energy

    def measure():
        measured[light.energy] = measure_shot(scene, shot, size=measurement.size)
        ratio = getattr(measured[light.energy].actor(actor), region)
        return ratio.ratio if ratio.pixels else None

    steps = reach_target(measure, apply, energy_before, before.ratio, target, adjust)
    energy, ratio = closest(steps, target)
    unit = "" if light.type == "SUN" else " W"
    if abs(ratio / target - 1) > CLOSE_ENOUGH:
        light.energy = energy_before
        raise UserError(f"Could not reach {format_ratio(target)} on {actor}'s {region} in shot '{shot.name}' with "
                        f"the {role.lower()} alone: the nearest, at {_energy(energy)}{unit}, measured "
                        f"{format_ratio(ratio)}, as other light (the key's spread, the world, bounces) reaches the "
                        f"{fill_side} side; '{name}' is left at {_energy(energy_before)}{unit}")
    light.energy = energy
    return RatioChange(role, name, energy_before, light.energy, before.ratio, ratio, unit,
                       measured[light.energy])


def _refuse_animated(light, name):
    """A keyframed or driven Power would be overwritten on the next frame: refuse rather than lose it."""
    animation = light.animation_data
    paths = [driver.data_path for driver in animation.drivers] if animation else []
    action = animation.action if animation else None
    if action is not None:
        if hasattr(action, "layers") and action.layers:  # Blender 4.4+: layered actions
            paths += [curve.data_path for layer in action.layers for strip in layer.strips
                      for bag in strip.channelbags for curve in bag.fcurves]
        else:
            paths += [curve.data_path for curve in getattr(action, "fcurves", ())]
    if "energy" in paths:
        raise UserError(f"Light '{name}' has its Power keyframed or driven: change those keys instead "
                        "(the new Power would be lost on the next frame)")
