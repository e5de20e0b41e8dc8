"""Coverage of a scene's shots (bpy-free): the line of action, each camera's side of it, screen
direction, eyelines across cuts, and actors cut off by the frame edge.

Input is per shot: the camera record of each sampled frame (the bundle's cameras.json records:
`w2c_opencv`, `fx, fy, cx, cy`) and each actor's 18 world joints at those frames (COCO-18, as in
joints.json). Ground plane: Blender's world XY, Z up. The line of action runs from actor A to
actor B; a camera's side is the side of that line it stands on seen from above ("left" of A→B
is counter-clockwise). The scene's first shot off the line sets the side every other shot should keep.
"""

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from ..engine.bundle.camera import intrinsics_matrix, project_points
from ..engine.bundle.pose import COCO18_KEYPOINTS, VISIBLE, joint_states
from .coverage_text import summary_lines

_K = {name: index for index, name in enumerate(COCO18_KEYPOINTS)}
HEAD_KEYPOINTS = ("nose", "neck", "right_eye", "left_eye", "right_ear", "left_ear")
ON_THE_LINE_M = 0.05          # a camera this close to the line stands on it: no side
FACE_EACH_OTHER = 0.5         # summed cosines of both eyelines toward the other actor
AT_CAMERA_DEGREES = 15.0      # a gaze this close to the lens looks into it, neither left nor right


@dataclass
class ShotInput:
    """What coverage needs of one shot: its sampled frames, camera records and actors' joints."""
    name: str
    camera_name: str
    width: int
    height: int
    frames: list
    cameras: list                      # one camera record per sampled frame
    actors: dict                       # actor name -> (frames, 18, 3) world joints


@dataclass
class LineOfAction:
    actor_a: str
    actor_b: str
    reason: str                        # "they face each other" or why this pair was taken


@dataclass
class ActorPlacement:
    """An actor seen from above at the scene's first sampled frame, and its path over all samples."""
    name: str
    position: list                     # [x, y]
    facing: list                       # unit [x, y] of the eyeline
    path: list


@dataclass
class ActorInShot:
    name: str
    framing: str                       # "in frame", "cut off" or "out of frame"
    joints_outside: list               # keypoints outside the frame at some sampled frame
    head_cut: bool                     # a head keypoint is outside while the actor is in the shot
    frames_cut: list
    gaze: str                          # "screen-left", "screen-right", "at camera" or "unseen"
    faces_camera: float                # mean cosine between the eyeline and the way to the lens


@dataclass
class Eyeline:
    previous_shot: str
    match: object                      # True, False, or None when it cannot be told
    note: str


@dataclass
class ShotCoverage:
    name: str
    camera_name: str
    frames: list
    side: str                          # "left", "right" or "on the line" (of A→B, from above)
    side_changes: bool                 # the camera crosses the line during the shot
    crosses_line: bool                 # its side differs from the scene's first shot
    screen_order: list                 # the line's actors in front of the lens, left to right
    screen_flipped: bool               # that order differs from the first shot's
    subject: object                    # the line's actor most facing the lens (None: neither)
    eyeline: object                    # Eyeline against the previous shot, or None
    actors: list
    camera_position: list              # [x, y] at the middle sampled frame
    camera_path: list
    frustum: list                      # unit [x, y] of the frame's left and right edges


@dataclass
class CoverageReport:
    scene: str
    line: object                       # LineOfAction, or None with fewer than two actors
    shots: list
    actors: list = field(default_factory=list)

    def to_json(self):
        return json.dumps(asdict(self), indent=2)

    def summary(self):
        """A few lines a director reads in the panel or on the terminal."""
        return "\n".join(summary_lines(self))


def _unit(vector):
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 1e-9 else np.zeros_like(vector)


def ground_position(joints):
    """Where the actor stands, seen from above: the middle of the neck and the hips."""
    hips = (joints[_K["left_hip"]] + joints[_K["right_hip"]]) / 2
    return ((joints[_K["neck"]] + hips) / 2)[:2]


def eye_point(joints):
    return (joints[_K["left_eye"]] + joints[_K["right_eye"]]) / 2


def gaze_direction(joints):
    """Unit 3D eyeline: from between the ears through the nose; the shoulders' normal if the
    face is degenerate."""
    ears = (joints[_K["left_ear"]] + joints[_K["right_ear"]]) / 2
    gaze = _unit(joints[_K["nose"]] - ears)
    if np.any(gaze):
        return gaze
    across = (joints[_K["left_shoulder"]] - joints[_K["right_shoulder"]]
              + joints[_K["left_hip"]] - joints[_K["right_hip"]])
    return _unit(np.array([across[1], -across[0], 0.0]))  # across × up: the body's forward


def _ground_facing(joints):
    return _unit(gaze_direction(joints)[:2])


def choose_line(shots, names):
    """The pair that faces each other most over every sample; else the first two actors."""
    if len(names) < 2:
        return None
    best, best_score = None, -np.inf
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            scores = []
            for shot in shots:
                if a in shot.actors and b in shot.actors:
                    for ja, jb in zip(shot.actors[a], shot.actors[b]):
                        towards = _unit(ground_position(jb) - ground_position(ja))
                        scores.append(_ground_facing(ja) @ towards - _ground_facing(jb) @ towards)
            score = float(np.mean(scores)) if scores else -np.inf
            if score > best_score:
                best, best_score = (a, b), score
    if best_score >= FACE_EACH_OTHER:
        return LineOfAction(*best, "they face each other")
    return LineOfAction(names[0], names[1], "the first two actors: no two actors face each other")


def _camera(record):
    """(K, w2c, lens position) of one camera record."""
    w2c = np.asarray(record["w2c_opencv"], float)
    K = intrinsics_matrix(record["fx"], record["fy"], record["cx"], record["cy"])
    return K, w2c, -w2c[:3, :3].T @ w2c[:3, 3]


def side_of_line(a_xy, b_xy, point_xy):
    """+1 left of A→B seen from above, -1 right, 0 within ON_THE_LINE_M of the line."""
    along = b_xy - a_xy
    length = np.linalg.norm(along)
    if length < 1e-9:
        return 0
    offset = (along[0] * (point_xy[1] - a_xy[1]) - along[1] * (point_xy[0] - a_xy[0])) / length
    return 0 if abs(offset) < ON_THE_LINE_M else int(np.sign(offset))


_SIDE_NAMES = {1: "left", -1: "right", 0: "on the line"}


def _shot_side(shot, line):
    """The side the camera holds (the majority of samples off the line) and whether it changes."""
    signs = []
    for record, ja, jb in zip(shot.cameras, shot.actors[line.actor_a], shot.actors[line.actor_b]):
        signs.append(side_of_line(ground_position(ja), ground_position(jb), _camera(record)[2][:2]))
    off = [s for s in signs if s]
    side = int(np.sign(sum(off))) if off else 0
    if off and side == 0:
        side = off[0]
    return side, len(set(off)) > 1


def _screen_order(shot, line):
    """The line's actors in front of the lens, left to right on screen (by their necks)."""
    u = {}
    for name in (line.actor_a, line.actor_b):
        xs = []
        for record, joints in zip(shot.cameras, shot.actors[name]):
            K, w2c, _ = _camera(record)
            pixels, depth = project_points(joints[[_K["neck"]]], K, w2c)
            if depth[0] > 0:
                xs.append(pixels[0, 0])
        if xs:
            u[name] = float(np.mean(xs))
    return sorted(u, key=u.get)


def _gaze_on_screen(record, joints):
    """("screen-left" | "screen-right" | "at camera" | None, cosine of the eyeline to the lens)."""
    K, w2c, lens = _camera(record)
    eye, gaze = eye_point(joints), gaze_direction(joints)
    to_lens = _unit(lens - eye)
    facing = float(gaze @ to_lens)
    pixels, depth = project_points(np.stack([eye, eye + 0.25 * gaze]), K, w2c)
    if not np.all(depth > 0):
        return None, facing
    if facing > np.cos(np.radians(AT_CAMERA_DEGREES)):
        return "at camera", facing
    return ("screen-right" if pixels[1, 0] > pixels[0, 0] else "screen-left"), facing


def _actor_in_shot(shot, name):
    outside, frames_cut, gazes, facings, seen = set(), [], [], [], False
    for frame, record, joints in zip(shot.frames, shot.cameras, shot.actors[name]):
        K, w2c, _ = _camera(record)
        pixels, depth = project_points(joints, K, w2c)
        states = joint_states(pixels, depth, shot.width, shot.height)
        inside = [s == VISIBLE for s in states]
        if not any(inside):
            continue
        seen = True
        missing = [kp for kp, s in zip(COCO18_KEYPOINTS, states) if s != VISIBLE]
        if missing:
            outside.update(missing)
            frames_cut.append(int(frame))
        gaze, facing = _gaze_on_screen(record, joints)
        gazes.append(gaze)
        facings.append(facing)
    if not seen:
        return ActorInShot(name, "out of frame", [], False, [], "unseen", 0.0)
    known = [g for g in gazes if g]
    gaze = max(set(known), key=known.count) if known else "unseen"
    return ActorInShot(name, "cut off" if outside else "in frame",
                       [kp for kp in COCO18_KEYPOINTS if kp in outside],
                       any(kp in outside for kp in HEAD_KEYPOINTS), frames_cut, gaze, float(np.mean(facings)))


def _eyeline(previous, shot):
    """Across a cut the subjects should look opposite ways on screen (shot / reverse shot), or the
    same way when the cut stays on one actor."""
    if previous.subject is None or shot.subject is None:
        return Eyeline(previous.name, None, "a shot shows neither actor of the line")
    before = next(a for a in previous.actors if a.name == previous.subject)
    after = next(a for a in shot.actors if a.name == shot.subject)
    note = f"{before.name} looks {before.gaze} in {previous.name}, {after.name} {after.gaze} in {shot.name}"
    sides = ("screen-left", "screen-right")
    if before.gaze not in sides or after.gaze not in sides:
        return Eyeline(previous.name, None, note)
    same_way = before.gaze == after.gaze
    return Eyeline(previous.name, same_way if before.name == after.name else not same_way, note)


def _edges(record, width):
    """Unit ground directions of the frame's left and right edges."""
    K, w2c, _ = _camera(record)
    edges = []
    for u in (-0.5, width - 0.5):
        ray = w2c[:3, :3].T @ np.array([(u - K[0, 2]) / K[0, 0], 0.0, 1.0])
        edges.append(_unit(ray[:2]).tolist())
    return edges


def analyse(scene_name, shots):
    """The CoverageReport of `shots` (ShotInput, in cut order); shots' actor names must agree."""
    names = list(dict.fromkeys(name for shot in shots for name in shot.actors))
    line = choose_line(shots, names)
    first = next((s for s in shots if s.frames), None)
    placements = []
    if first is not None:
        for name in names:
            path = [ground_position(j).tolist() for s in shots if name in s.actors for j in s.actors[name]]
            if name in first.actors:
                joints = first.actors[name][0]
                placements.append(ActorPlacement(name, ground_position(joints).tolist(),
                                                 _ground_facing(joints).tolist(), path))
    results, reference_side, reference_order = [], 0, []
    for shot in shots:
        middle = len(shot.frames) // 2
        actors = [_actor_in_shot(shot, name) for name in shot.actors]
        side, changes, order, subject = 0, False, [], None
        if line is not None and line.actor_a in shot.actors and line.actor_b in shot.actors:
            side, changes = _shot_side(shot, line)
            order = _screen_order(shot, line)
            seen = [a for a in actors if a.name in (line.actor_a, line.actor_b) and a.framing != "out of frame"]
            subject = max(seen, key=lambda a: a.faces_camera).name if seen else None
        reference_side = reference_side or side  # the first shot off the line sets the side
        reference_order = reference_order if len(reference_order) == 2 else order
        result = ShotCoverage(
            shot.name, shot.camera_name, [int(f) for f in shot.frames], _SIDE_NAMES[side], changes,
            bool(side and side != reference_side), order,
            bool(len(order) == len(reference_order) == 2 and order != reference_order), subject, None, actors,
            _camera(shot.cameras[middle])[2][:2].tolist(),
            [_camera(r)[2][:2].tolist() for r in shot.cameras], _edges(shot.cameras[middle], shot.width))
        if results and line is not None:
            result.eyeline = _eyeline(results[-1], result)
        results.append(result)
    return CoverageReport(scene_name, line, results, placements)


def sample_frames(frame_start, frame_end, count=5):
    """Up to `count` frames spread evenly over a shot, its first and last included (one: its middle)."""
    span = frame_end - frame_start
    count = min(count, span + 1)
    if count <= 1:
        return [frame_start + max(span, 0) // 2]
    return sorted({int(round(frame_start + span * i / (count - 1))) for i in range(count)})
