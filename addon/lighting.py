"""Lighting ratio per actor (bpy-free): key-side ÷ fill-side luminance of the head and the torso,
measured on the clay render (the bundle's shading pass) where the actor mask says the actor is.

Each region is split by its own screen axis: the head's runs from the neck through the middle
of the eyes, the torso's from the neck to the middle of the hips. The brighter half is the key
side; the ratio is its mean linear luminance over the darker half's (2.0 reads "2:1"). The clay
pass is plain-sRGB 8-bit, so it is decoded to scene-linear first; the clay's grey albedo is the
same on both sides and cancels out.
"""

from dataclasses import asdict, dataclass

import numpy as np

from ..engine.bundle.manifest import ActorLighting as LightingRecord
from ..engine.bundle.manifest import RegionLighting
from ..engine.bundle.pose import COCO18_KEYPOINTS, VISIBLE

_K = {name: index for index, name in enumerate(COCO18_KEYPOINTS)}
MIN_PIXELS = 4            # fewer pixels on a side and that side's luminance is not measured
BLACK = 1e-4              # a darker side than this has no fill at all: the ratio is unbounded
AXIS_BAND_PX = 1.0        # pixels this close to the axis mix both sides: left out
HEAD_RADIUS = 0.55        # of the neck-to-eyes distance: the disc that holds a mannequin's head
_REC709 = np.array([0.2126, 0.7152, 0.0722])


@dataclass
class RegionRatio:
    ratio: object             # key ÷ fill luminance, or None when it cannot be measured
    key_side: str             # "screen-left" or "screen-right" (the brighter half), or "" if unmeasured
    pixels: int


@dataclass
class ActorLighting:
    name: str
    head: RegionRatio
    torso: RegionRatio

    def to_json(self):
        return asdict(self)


def srgb_to_linear(image):
    """Scene-linear RGB in 0..1 from an 8-bit (or 0..1 float) plain-sRGB image."""
    values = np.asarray(image, dtype=np.float64)
    if np.issubdtype(np.asarray(image).dtype, np.integer):
        values = values / 255.0
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def luminance(linear_rgb):
    return np.asarray(linear_rgb, dtype=np.float64)[..., :3] @ _REC709


def format_ratio(ratio):
    """2.0 -> "2:1", 3.46 -> "3.5:1"; None -> "—"."""
    if ratio is None:
        return "—"
    return f"{ratio:.0f}:1" if abs(ratio - round(ratio)) < 0.05 else f"{ratio:.1f}:1"


def _screen_side(shape, top, bottom):
    """+1 for pixels right of the axis through `top` and `bottom` on screen, -1 left, per pixel
    (image y down; the axis is taken pointing down the screen whichever way it is given)."""
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    direction = np.asarray(bottom, float) - np.asarray(top, float)
    if direction[1] < 0 or (direction[1] == 0 and direction[0] < 0):
        direction = -direction
    across = (cols - top[0]) * direction[1] - (rows - top[1]) * direction[0]
    distance = across / max(np.linalg.norm(direction), 1e-9)
    return np.where(np.abs(distance) < AXIS_BAND_PX, 0, np.sign(distance))


def split_ratio(lum, region, top, bottom):
    """The RegionRatio of `region` (a boolean mask) split by the screen axis top→bottom (pixels)."""
    side = _screen_side(lum.shape, top, bottom)
    right, left = region & (side > 0), region & (side < 0)
    if right.sum() < MIN_PIXELS or left.sum() < MIN_PIXELS:
        return RegionRatio(None, "", int(region.sum()))
    means = {"screen-right": float(lum[right].mean()), "screen-left": float(lum[left].mean())}
    key = max(means, key=means.get)
    fill = min(means.values())
    return RegionRatio(means[key] / fill if fill > BLACK else None, key, int(region.sum()))


def _inner(mask):
    """The mask without its outline: edge pixels blend the actor with what is behind it."""
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return inner


def _disc(shape, centre, radius):
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    return (cols - centre[0]) ** 2 + (rows - centre[1]) ** 2 <= radius ** 2


def _convex_quad(shape, corners):
    """Pixels inside the quadrilateral `corners` (in order, either winding)."""
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    signs = []
    for (x0, y0), (x1, y1) in zip(corners, np.roll(corners, -1, axis=0)):
        signs.append(np.sign((x1 - x0) * (rows - y0) - (y1 - y0) * (cols - x0)))
    signs = np.stack(signs)
    return np.all(signs >= 0, axis=0) | np.all(signs <= 0, axis=0)


def actor_lighting(name, shading, actor_mask, mask_index, pixels, states=None):
    """ActorLighting of one actor in one frame.

    shading: (H, W, 3) clay render, 8-bit plain sRGB; actor_mask: (H, W) actor index (the bundle's
    mask pass); pixels: (18, 2) the actor's COCO-18 joints in pixels; states: their joint states
    (None: all visible). A region whose joints are not all visible is not measured."""
    pixels = np.asarray(pixels, dtype=np.float64)
    visible = [True] * len(pixels) if states is None else [s == VISIBLE for s in states]
    lum = luminance(srgb_to_linear(shading))
    body = _inner(np.asarray(actor_mask) == mask_index)

    def seen(*keypoints):
        return all(visible[_K[kp]] for kp in keypoints)

    neck = pixels[_K["neck"]]
    head = RegionRatio(None, "", 0)
    if seen("neck", "left_eye", "right_eye"):
        eyes = (pixels[_K["left_eye"]] + pixels[_K["right_eye"]]) / 2
        region = body & _disc(lum.shape, eyes, HEAD_RADIUS * np.linalg.norm(eyes - neck))
        head = split_ratio(lum, region, neck, eyes + (eyes - neck))
    torso = RegionRatio(None, "", 0)
    corners = ("right_shoulder", "left_shoulder", "left_hip", "right_hip")
    if seen("neck", *corners):
        quad = np.array([pixels[_K[kp]] for kp in corners])
        hips = (pixels[_K["left_hip"]] + pixels[_K["right_hip"]]) / 2
        torso = split_ratio(lum, body & _convex_quad(lum.shape, quad), neck, hips)
    return ActorLighting(name, head, torso)


def lighting_line(shot_name, measured):
    """One summary line for a shot: "Lighting in A: Ana head 4:1 (key screen-right), torso 3.8:1 ..."."""
    def region(label, ratio):
        side = f" (key {ratio.key_side})" if ratio.ratio is not None else ""
        return f"{label} {format_ratio(ratio.ratio)}{side}"
    actors = "; ".join(f"{a.name} {region('head', a.head)}, {region('torso', a.torso)}" for a in measured)
    return f"Lighting in {shot_name} (clay pass, key ÷ fill): {actors or 'no actors'}"


def _median(values):
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def _combined(ratios):
    """One RegionRatio over a shot's frames: the median ratio, the key side most frames agree on."""
    sides = [r.key_side for r in ratios if r.ratio is not None]
    return RegionRatio(_median([r.ratio for r in ratios]), max(set(sides), key=sides.count) if sides else "",
                       int(sum(r.pixels for r in ratios)))


def bundle_lighting(bundle, frames=None):
    """[ActorLighting] per actor over `frames` (default: all) of a bundle with the shading, mask and
    pose passes (an engine.bundle reader's Bundle: shading, actor_mask, joints, actors)."""
    return shot_lighting(bundle.actors, frames or bundle.frames, bundle.shading, bundle.actor_mask,
                         bundle.joints()["frames"])


def shot_lighting(actors, frames, shading_of, mask_of, joint_frames):
    """[ActorLighting] per actor (manifest ActorRecords) over `frames`: shading_of(frame) the clay
    pass, mask_of(frame) the actor mask, joint_frames joints.json's "frames" entries. The exporter
    measures with it before the bundle exists; bundle_lighting reads the same from a bundle."""
    joints = {entry["frame"]: {a["name"]: a for a in entry["actors"]} for entry in joint_frames}
    measured = {actor.name: [] for actor in actors}
    for frame in frames:
        shading, mask = shading_of(frame), mask_of(frame)
        for position, actor in enumerate(actors):
            record = joints.get(frame, {}).get(actor.name)
            index = actor.mask_index if actor.mask_index is not None else position + 1
            if record is not None:
                measured[actor.name].append(actor_lighting(actor.name, shading, mask, index,
                                                           record["pixel"], record["state"]))
    return [ActorLighting(name, _combined([m.head for m in ms]), _combined([m.torso for m in ms]))
            for name, ms in measured.items()]


def lighting_record(measured):
    """The bundle's record (engine/bundle/manifest.py) of one ActorLighting, ratios to 3 decimals."""
    def region(ratio):
        return RegionLighting(ratio=None if ratio.ratio is None else round(ratio.ratio, 3), key_side=ratio.key_side)
    return LightingRecord(head=region(measured.head), torso=region(measured.torso))
