"""Which scene lights key and fill an actor, and the energy that brings a lighting ratio to a target
(bpy-free; the Blender glue is addon/blender/lighting.py, the measurement addon/lighting.py).

Key and fill are told apart by geometry, not by rendering each light alone: each light's irradiance
at the head (or torso) times how squarely it faces that region's screen-right or screen-left half.
That costs no render, however many lights the set has; shadows are not seen (a flagged light behind
a wall still counts), which the measure-and-adjust loop below makes up for: the ratio it stops at is
always a measured one. Everything is in the bundle's OpenCV camera space (x right, y down, z forward).
"""

import math
from dataclasses import dataclass

import numpy as np

from ..engine.bundle.pose import COCO18_KEYPOINTS

SIDES = ("screen-right", "screen-left")
TOLERANCE = 0.03      # stop adjusting once the measured ratio is this close to the target
ADJUST_TRIES = 3      # scalings at most: the key's spill on the fill side bends 1/fill, so one is rarely exact
MAX_STEP = 16.0       # one scaling changes a light's energy by at most this factor either way
_K = {name: index for index, name in enumerate(COCO18_KEYPOINTS)}


@dataclass(frozen=True)
class SceneLight:
    """A light as the weighing needs it: kind is Blender's (POINT, SPOT, AREA, SUN), energy its Power
    (Strength for a sun), position and direction (where it points) in camera space, cone its full
    spot angle in radians (spots only)."""
    name: str
    kind: str
    energy: float
    position: tuple
    direction: tuple
    cone: float = math.pi


def irradiance(light, point):
    """The light's irradiance at `point` facing it, in Cycles' units (measured: a sun of Strength 1
    lights a plane as a point light of 4π·d² W at distance d does, or an area light of π·d² W)."""
    if light.kind == "SUN":
        return light.energy
    offset = np.asarray(point, float) - np.asarray(light.position, float)
    distance = max(float(np.linalg.norm(offset)), 1e-6)
    facing = float(np.dot(offset / distance, _unit(light.direction)))
    if light.kind == "AREA":
        return light.energy * max(facing, 0.0) / (math.pi * distance ** 2)
    if light.kind == "SPOT" and facing < math.cos(light.cone / 2):
        return 0.0
    return light.energy / (4 * math.pi * distance ** 2)


def _unit(vector):
    vector = np.asarray(vector, float)
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def region_axis(camera_joints, region):
    """(centre, axis) of the actor's "head" (eyes' middle; neck→eyes) or "torso" (shoulders' and hips'
    middle; neck→hips) from its (18, 3) camera-space joints: the axis addon/lighting.py splits by."""
    joints = np.asarray(camera_joints, float)
    neck = joints[_K["neck"]]
    if region == "head":
        eyes = (joints[_K["left_eye"]] + joints[_K["right_eye"]]) / 2
        return eyes, eyes - neck
    corners = [joints[_K[name]] for name in ("right_shoulder", "left_shoulder", "left_hip", "right_hip")]
    hips = (joints[_K["left_hip"]] + joints[_K["right_hip"]]) / 2
    return np.mean(corners, axis=0), hips - neck


def side_normals(centre, axis):
    """The mean surface normal of each visible half of a round region: halfway between the screen
    side (across the axis and the line of sight, pointing screen-right or screen-left) and the camera."""
    axis = _unit(axis)
    toward_camera = _unit(-np.asarray(centre, float))
    across = _unit(np.cross(toward_camera, axis))
    if across[0] < 0:
        across = -across
    facing = _unit(toward_camera - np.dot(toward_camera, axis) * axis)
    return {"screen-right": _unit(across + facing), "screen-left": _unit(facing - across)}


def side_weights(lights, centre, axis):
    """{light name: {side: irradiance × cosine to that half's normal}}: how much each light lights each half."""
    normals = side_normals(centre, axis)
    weights = {}
    for light in lights:
        toward = -_unit(light.direction) if light.kind == "SUN" else _unit(np.asarray(light.position) - centre)
        power = irradiance(light, centre)
        weights[light.name] = {side: power * max(float(np.dot(toward, n)), 0.0) for side, n in normals.items()}
    return weights


def key_and_fill(weights, key_side):
    """(key light, fill light) names for a region whose measured brighter half is `key_side`: the light
    weighing most on each half among those that weigh more on it than on the other; None where none does."""
    fill_side = SIDES[1 - SIDES.index(key_side)]

    def strongest(side, other):
        leaning = {name: w[side] for name, w in weights.items() if w[side] > w[other]}
        return max(leaning, key=leaning.get) if leaning else None
    return strongest(key_side, fill_side), strongest(fill_side, key_side)


def reach_target(measure, apply, energy, ratio, target, adjust, tries=ADJUST_TRIES, tolerance=TOLERANCE):
    """Scale one light until the measured ratio is within `tolerance` of `target`; [(energy, ratio)]
    from the start to the last measurement. The first step takes the ratio as 1/fill (or ∝ key);
    later ones take the slope the last two measurements show, which the key's spill on the fill
    side (and light from the world) makes shallower. It stops early where a step brought the ratio
    no closer (the light alone cannot get there, or the clay pass clips). apply(energy) sets the
    light, measure() gives the new ratio (None: no longer measurable, which also ends the loop)."""
    steps = [(energy, ratio)]
    exponent = -1.0 if adjust == "FILL" else 1.0
    for _ in range(tries):
        if abs(ratio / target - 1) <= tolerance:
            break
        if len(steps) >= 2:
            exponent = _slope(steps[-2], steps[-1], exponent)
        energy = energy * min(max((target / ratio) ** (1 / exponent), 1 / MAX_STEP), MAX_STEP)
        apply(energy)
        measured = measure()
        if measured is None:
            break
        steps.append((energy, measured))
        if _distance(measured, target) >= _distance(ratio, target):
            break
        ratio = measured
    return steps


def closest(steps, target):
    """The (energy, ratio) step whose ratio is nearest the target (in log terms: 2:1 is as far from 4:1 as 8:1)."""
    return min(steps, key=lambda step: _distance(step[1], target))


def _distance(ratio, target):
    return abs(math.log(ratio / target))


def _slope(before, after, fallback):
    """d log(ratio) / d log(energy) between two measurements; `fallback` where it is flat or turned."""
    (e0, r0), (e1, r1) = before, after
    if e0 <= 0 or e1 <= 0 or abs(math.log(e1 / e0)) < 1e-6:
        return fallback
    slope = math.log(r1 / r0) / math.log(e1 / e0)
    return slope if slope * fallback > 0.05 else fallback
