"""Coverage from exported bundles (bpy-free): a shot's ShotInput read from its bundle's
cameras.json and joints.json, so shots exported apart (on a farm, from several .blend files) are
checked in cut order just as the scene itself is (`addon.blender.coverage`)."""

import numpy as np

from .coverage import ShotInput, sample_frames


class CoverageBundleError(ValueError):
    """A bundle lacks what the coverage check reads; the message says which export to run."""


def shot_from_bundle(bundle, samples=5):
    """The ShotInput of a bundle (an engine.bundle reader's Bundle) with the pose and camera passes,
    at `samples` of its frames spread evenly (the frames it holds nearest to those)."""
    missing = [name for name in ("pose", "camera") if not bundle.has(name)]
    if missing:
        raise CoverageBundleError(f"{bundle.root} has no {' and no '.join(missing)} pass: export the shot "
                                  "again with --passes pose,camera (or more)")
    records = {record["frame"]: record for record in bundle.cameras()}
    joints = {entry["frame"]: entry["actors"] for entry in bundle.joints()["frames"]}
    held = [frame for frame in bundle.frames if frame in records and frame in joints]
    if not held:
        raise CoverageBundleError(f"{bundle.root} holds no frame with both a camera and joints: export it again")
    wanted = sample_frames(held[0], held[-1], samples)
    frames = list(dict.fromkeys(min(held, key=lambda f: abs(f - w)) for w in wanted))
    names = [actor["name"] for actor in joints[frames[0]]]
    actors = {name: np.array([next(a["world"] for a in joints[f] if a["name"] == name) for f in frames], float)
              for name in names}
    shot = bundle.record.shot
    return ShotInput(bundle.name, shot.camera or "", bundle.width, bundle.height, frames,
                     [records[f] for f in frames], actors)
