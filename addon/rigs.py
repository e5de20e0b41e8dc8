"""Bone maps: where each OpenPose COCO-18 keypoint comes from on a rig (bpy-free).

A bone map is a plain JSON-able dict so it can live on the armature object and in bundle.json:
`{"preset": name or "custom", "keypoints": {keypoint: [bone, "head" | "tail"]}, "head_bone": bone}`,
plus `"eye_bones": {"left_eye": bone, "right_eye": bone}` where the rig has eye bones.
Body keypoints sit on a bone end; the face keypoints follow the head bone's orientation (the
actor's eyeline). With eye bones (Mixamo's LeftEye/RightEye, Rigify's eye bones) the eyes sit
on them and nose and ears follow at EYE_RELATIVE_OFFSETS, in units of the distance between
the eyes; without, the whole face sits at FACE_OFFSETS, in units of the head bone's length.
"""

import copy

from ..engine.bundle.pose import COCO18_KEYPOINTS

FACE_KEYPOINTS = ("nose", "right_eye", "left_eye", "right_ear", "left_ear")
BODY_KEYPOINTS = tuple(kp for kp in COCO18_KEYPOINTS if kp not in FACE_KEYPOINTS)

# (forward, left, up) in head-bone lengths from the head bone's head (the top of the neck).
FACE_OFFSETS = {
    "nose": (0.6, 0.0, 0.45),
    "right_eye": (0.45, -0.16, 0.6),
    "left_eye": (0.45, 0.16, 0.6),
    "right_ear": (0.0, -0.4, 0.5),
    "left_ear": (0.0, 0.4, 0.5),
}


EYE_KEYPOINTS = ("left_eye", "right_eye")


def _eye_relative(offset):
    """A FACE_OFFSETS entry re-expressed from the eyes' midpoint in inter-eye distances, so a
    rig with eye bones gets the mannequin's face proportions around its own eyes."""
    left, right = FACE_OFFSETS["left_eye"], FACE_OFFSETS["right_eye"]
    spacing = left[1] - right[1]
    return tuple((o - (a + b) / 2) / spacing for o, a, b in zip(offset, left, right))


EYE_RELATIVE_OFFSETS = {kp: _eye_relative(FACE_OFFSETS[kp]) for kp in ("nose", "right_ear", "left_ear")}

# Rigs' own eye bones (left, right), most specific first: generated Rigify (deform, original),
# Mixamo (any namespace, see `resolve_bone`), then the Rigify metarig and many hand-made rigs.
EYE_BONE_CONVENTIONS = (
    ("DEF-eye.L", "DEF-eye.R"),
    ("ORG-eye.L", "ORG-eye.R"),
    ("mixamorig:LeftEye", "mixamorig:RightEye"),
    ("eye.L", "eye.R"),
)


class BoneMapError(ValueError):
    """A bone map does not fit a rig; the message names every keypoint at fault and the fix."""


def _limbs(side_names, neck, head_bone):
    """Bone map from {"L"/"R": (upper_arm, forearm, hand, thigh, shin, foot)} names."""
    keypoints = {"neck": [neck, "head"]}
    for side, prefix in (("R", "right"), ("L", "left")):
        upper_arm, forearm, hand, thigh, shin, foot = side_names[side]
        keypoints.update({
            f"{prefix}_shoulder": [upper_arm, "head"], f"{prefix}_elbow": [forearm, "head"],
            f"{prefix}_wrist": [hand, "head"], f"{prefix}_hip": [thigh, "head"],
            f"{prefix}_knee": [shin, "head"], f"{prefix}_ankle": [foot, "head"],
        })
    return {"keypoints": keypoints, "head_bone": head_bone}


def _suffixed(fmt, names):
    return {side: tuple(fmt.format(name=n, side=side) for n in names) for side in "LR"}


_PART_NAMES = ("upper_arm", "forearm", "hand", "thigh", "shin", "foot")
_MIXAMO_PARTS = ("Arm", "ForeArm", "Hand", "UpLeg", "Leg", "Foot")
_SIDE_WORD = {"L": "Left", "R": "Right"}

_PRESETS = {
    # Our own proxy mannequin (see addon/blender/actors.py).
    "mannequin": _limbs(_suffixed("{name}.{side}", _PART_NAMES), "neck", "head"),
    # A generated Rigify human: deform bones; spine.004/.005 are the neck, spine.006 the head.
    "rigify": _limbs(_suffixed("DEF-{name}.{side}", _PART_NAMES), "DEF-spine.004", "DEF-spine.006"),
    # Mixamo; other namespaces (mixamorig1:, none) resolve through `resolve_bone`.
    "mixamo": _limbs(
        {s: tuple(f"mixamorig:{_SIDE_WORD[s]}{p}" for p in _MIXAMO_PARTS) for s in "LR"},
        "mixamorig:Neck", "mixamorig:Head"),
}
PRESETS = tuple(_PRESETS)


def bone_map_preset(name):
    """A fresh copy of a preset bone map (callers may edit and store it)."""
    if name not in _PRESETS:
        raise BoneMapError(f"Unknown bone map preset '{name}': pick one of {', '.join(PRESETS)}")
    return {"preset": name, **copy.deepcopy(_PRESETS[name])}


def check_bone_map(bone_map):
    """Raise BoneMapError if the map is malformed (a hand-edited map may be)."""
    keypoints = bone_map.get("keypoints", {}) if isinstance(bone_map, dict) else {}
    problems = [kp for kp in BODY_KEYPOINTS
                if not (isinstance(keypoints.get(kp), (list, tuple)) and len(keypoints[kp]) == 2
                        and isinstance(keypoints[kp][0], str) and keypoints[kp][1] in ("head", "tail"))]
    if not isinstance(bone_map, dict) or not isinstance(bone_map.get("head_bone"), str):
        problems.append("head_bone")
    if problems:
        raise BoneMapError(
            f"Bone map entries are missing or malformed for: {', '.join(problems)}; each body keypoint "
            "needs [bone name, \"head\" or \"tail\"] and the map needs a \"head_bone\" name")


def _base_name(bone):
    """The name without an FBX namespace such as `mixamorig:` or `mixamorig1:`."""
    return bone.rsplit(":", 1)[-1]


def resolve_bone(bone, bone_names):
    """The rig's bone for a mapped name: exact match, else the one bone with the same base name."""
    bone_names = list(bone_names)
    if bone in bone_names:
        return bone
    matches = [b for b in bone_names if _base_name(b) == _base_name(bone)]
    return matches[0] if len(matches) == 1 else None


def _wanted(bone_map):
    """(keypoint, mapped bone) for all 18 keypoints, in COCO-18 order."""
    keypoints = bone_map["keypoints"]
    return [(kp, bone_map["head_bone"] if kp in FACE_KEYPOINTS else keypoints[kp][0])
            for kp in COCO18_KEYPOINTS]


def missing_bones(bone_map, bone_names):
    """(keypoint, bone) for every keypoint whose bone the rig lacks, in COCO-18 order."""
    check_bone_map(bone_map)
    bone_names = list(bone_names)
    return [(kp, bone) for kp, bone in _wanted(bone_map) if resolve_bone(bone, bone_names) is None]


def resolved_bone_map(bone_map, bone_names):
    """The map with every bone renamed to the rig's own name; BoneMapError if any is missing."""
    bone_names = list(bone_names)
    missing = missing_bones(bone_map, bone_names)
    if missing:
        listed = "; ".join(f"{kp} (bone '{bone}')" for kp, bone in missing)
        raise BoneMapError(
            f"The rig has no bones for {len(missing)} keypoint(s) of the "
            f"'{bone_map.get('preset', 'custom')}' bone map: {listed}. Pick another preset "
            f"({', '.join(PRESETS)}) or edit the bone map so each keypoint names a bone of this rig")
    keypoints = bone_map["keypoints"]
    resolved = {
        "preset": bone_map.get("preset", "custom"),
        "keypoints": {kp: [resolve_bone(keypoints[kp][0], bone_names), keypoints[kp][1]]
                      for kp in BODY_KEYPOINTS},
        "head_bone": resolve_bone(bone_map["head_bone"], bone_names),
    }
    eyes = _resolved_eye_bones(bone_map.get("eye_bones"), bone_names)
    if eyes:
        resolved["eye_bones"] = eyes
    return resolved


def _resolved_eye_bones(eye_bones, bone_names):
    """The map's own eye bones (which must exist), else the first convention the rig has."""
    if eye_bones is not None:
        if not (isinstance(eye_bones, dict) and all(isinstance(eye_bones.get(kp), str) for kp in EYE_KEYPOINTS)):
            raise BoneMapError('The bone map\'s "eye_bones" must be {"left_eye": bone, "right_eye": bone}')
        found = {kp: resolve_bone(eye_bones[kp], bone_names) for kp in EYE_KEYPOINTS}
        missing = [f"{kp} (bone '{eye_bones[kp]}')" for kp, bone in found.items() if bone is None]
        if missing:
            raise BoneMapError(f"The rig has no eye bones for {'; '.join(missing)}: edit \"eye_bones\" in the "
                               "bone map so each names a bone of this rig, or remove it to place the eyes "
                               "from the head bone")
        return found
    for left, right in EYE_BONE_CONVENTIONS:
        found = {"left_eye": resolve_bone(left, bone_names), "right_eye": resolve_bone(right, bone_names)}
        if None not in found.values():
            return found
    return None
