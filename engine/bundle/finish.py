"""The end of a shot's bundle, shared by the exporter and the chunk merge.

Once every frame's files are written: the depth control images with the shot-wide near/far
range (known only now), cameras.json and the RealEstate10K trajectory, joints.json, and the
manifest, written last by the commit. One code path, so a merged bundle is byte-identical to
the same shot exported in one go.
"""

from . import depth as depth_math
from .camera import re10k_from_records
from .pose import COCO18_KEYPOINTS
from .schema import PASS_FILES


def finish_shot(writer, manifest, metric_depth, cameras, joint_frames):
    """Write the shot-wide files of `manifest` (a BundleManifest, near/far final) into `writer`
    and commit; returns the bundle's path. metric_depth(frame) gives a frame's metric depth,
    cameras the per-frame camera records, joint_frames the per-frame joints.json entries."""
    shot, passes = manifest.shot, manifest.passes
    if "depth" in passes:
        near, far = passes["depth"].near, passes["depth"].far
        for frame in shot.frames:
            writer.write_png(PASS_FILES["depth"]["control"].format(frame=frame),
                             depth_math.disparity_control(metric_depth(frame), near, far))
    if "camera" in passes:
        writer.write_json(PASS_FILES["camera"]["cameras"], {"convention": "opencv", "frames": list(cameras)})
        writer.write_text(PASS_FILES["camera"]["re10k"], re10k_from_records(
            cameras, shot.name, shot.frame_start, shot.fps, manifest.resolution.width, manifest.resolution.height))
    if "pose" in passes:
        writer.write_json(PASS_FILES["pose"]["joints"], {"keypoints": list(COCO18_KEYPOINTS),
                                                         "frames": list(joint_frames)})
    return writer.commit(manifest.to_json())
