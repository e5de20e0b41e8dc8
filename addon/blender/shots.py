"""Shots: the scene camera over the scene's range, or one shot per camera-bound timeline marker."""

from dataclasses import dataclass


class ShotError(ValueError):
    """A shot cannot be exported as asked; the message says what to do."""


@dataclass(frozen=True)
class Shot:
    name: str
    camera_name: str
    frame_start: int
    frame_end: int

    @property
    def frames(self):
        return list(range(self.frame_start, self.frame_end + 1))


def scene_camera_shot(scene):
    camera = scene.camera
    return Shot(scene.name, camera.name if camera else "", scene.frame_start, scene.frame_end)


def scene_shots(scene):
    """Marker segments bound to cameras (Blender's own camera switching), else the scene camera."""
    markers = sorted((m for m in scene.timeline_markers if m.camera is not None), key=lambda m: m.frame)
    if not markers:
        return [scene_camera_shot(scene)]
    shots = []
    for index, marker in enumerate(markers):
        start = max(marker.frame, scene.frame_start)
        end = markers[index + 1].frame - 1 if index + 1 < len(markers) else scene.frame_end
        end = min(end, scene.frame_end)
        if start <= end:
            shots.append(Shot(marker.name, marker.camera.name, start, end))
    return shots


def parse_frame_range(text):
    """'10-57' -> (10, 57), '12' -> (12, 12); a clear error otherwise."""
    start, sep, end = text.strip().partition("-")
    try:
        return int(start), int(end if sep else start)
    except ValueError:
        raise ShotError(f"frame range {text!r} is not of the form A-B (e.g. 1-48)") from None


def resolve_shot(scene, shot_name=None, frames=None):
    """The named shot, or the scene camera over the scene's range; `frames` overrides its range."""
    if shot_name:
        shots = scene_shots(scene)
        matches = [shot for shot in shots if shot.name == shot_name]
        if not matches:
            raise ShotError(f"no shot named {shot_name!r}: the scene has {', '.join(s.name for s in shots)}")
        shot = matches[0]
    else:
        shot = scene_camera_shot(scene)
    if frames is not None:
        shot = Shot(shot.name, shot.camera_name, frames[0], frames[1])
    if shot.frame_end < shot.frame_start:
        raise ShotError(
            f"shot {shot.name!r} has an empty or inverted frame range {shot.frame_start}-{shot.frame_end}: "
            "set an end frame at or after the start frame"
        )
    return shot
