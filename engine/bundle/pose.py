"""OpenPose (COCO-18 body) conventions shared by the exporter and the engine."""

# Keypoint order as OpenPose and controlnet_aux use it; right = the subject's anatomical right.
COCO18_KEYPOINTS = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)

import numpy as np

VISIBLE, OCCLUDED, OUTSIDE, BEHIND = "visible", "occluded", "outside", "behind"
# OpenPose confidence per joint state: hidden-behind-geometry joints stay drawable but weaker;
# joints the camera cannot see at all are "missing" (0, 0, 0) as OpenPose itself writes them.
CONFIDENCE = {VISIBLE: 1.0, OCCLUDED: 0.5, OUTSIDE: 0.0, BEHIND: 0.0}
# A joint sits inside its own body mesh; geometry nearer than this in front of it counts as occluding.
DEFAULT_OCCLUSION_MARGIN_M = 0.2
OPENPOSE_VERSION = 1.3


def joint_states(pixels, depth, width, height, depth_map=None, margin=DEFAULT_OCCLUSION_MARGIN_M):
    """Classify each joint as visible / occluded / outside the frame / behind the camera.

    `pixels` are OpenCV pixel-centre coordinates, so the image spans [-0.5, W - 0.5).
    Occlusion is a depth test against the rendered planar depth at the joint's pixel.
    """
    states = []
    for (u, v), z in zip(np.asarray(pixels, float), np.asarray(depth, float)):
        if not z > 0:
            states.append(BEHIND)
        elif not (-0.5 <= u < width - 0.5 and -0.5 <= v < height - 0.5):
            states.append(OUTSIDE)
        elif depth_map is not None and depth_map[int(np.floor(v + 0.5)), int(np.floor(u + 0.5))] < z - margin:
            states.append(OCCLUDED)
        else:
            states.append(VISIBLE)
    return states


def openpose_person(pixels, states):
    """One OpenPose `people` entry (body only) from pixel coordinates and joint states."""
    flat = []
    for (u, v), state in zip(pixels, states):
        confidence = CONFIDENCE[state]
        flat.extend((float(u), float(v), confidence) if confidence > 0 else (0.0, 0.0, 0.0))
    return {
        "person_id": [-1],
        "pose_keypoints_2d": flat,
        "face_keypoints_2d": [],
        "hand_left_keypoints_2d": [],
        "hand_right_keypoints_2d": [],
        "pose_keypoints_3d": [],
        "face_keypoints_3d": [],
        "hand_left_keypoints_3d": [],
        "hand_right_keypoints_3d": [],
    }


def openpose_frame(people, width, height):
    """OpenPose JSON document for one frame, with the canvas size pose editors expect."""
    return {"version": OPENPOSE_VERSION, "people": list(people), "canvas_width": int(width), "canvas_height": int(height)}


def people_keypoints(document):
    """(18, 3) arrays of x, y, confidence per person from an OpenPose JSON document."""
    return [np.asarray(p["pose_keypoints_2d"], float).reshape(-1, 3) for p in document.get("people", [])]
