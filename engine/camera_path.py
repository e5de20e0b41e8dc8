"""The shot's exact camera path in the form diffusers' SanaWMPipeline reads it (bpy-free, torch-free).

The bundle's cameras.json holds, per frame, a world-to-camera matrix in OpenCV axes and
pixel-centre intrinsics at the export size (engine.bundle.camera). SanaWMPipeline
(diffusers 0.42.1, pipelines/sana_wm) takes `c2w` (F, 4, 4) and `intrinsics` (F, 4) =
[fx, fy, cx, cy] in pixels. Its conventions, each read in its code:

- Axes: OpenCV, x right, y down, z forward (cam_utils.py: `action_string_to_c2w`'s and
  `compute_raymap`'s docstrings; `compute_raymap` builds camera rays as
  ((x - cx) / fx, (y - cy) / fy, 1), +z forward, +y down). Ours are the same axes: no flip.
- Relative poses: cam_utils.py `prepare_camera` replaces every pose by
  inverse(c2w[0]) @ c2w[i] (frame 0 = identity) before anything reads them, so the world
  frame is irrelevant. We pass poses already relative to the first frame: the pipeline's
  step then leaves them unchanged (inverse(identity) = identity).
- `action` is an alternative to `c2w` (pipeline_sana_wm.py `check_inputs`: exactly one of
  them); `action_string_to_c2w` only rolls a WASD/IJKL string into such a c2w path, so the
  exact path goes in `c2w` and `action` stays None.
- Translation: used as given, no normalisation anywhere (`prepare_camera` puts the raw
  relative poses into the raymap and `compute_raymap` the raw camera centres into the
  Plücker moments). The model card says it was trained on metric-scale poses, so
  translations must be in metres: cameras.json holds Blender units, and `metres_per_unit`
  (bundle.json's, the scene's Unit Scale; 1.0 for bundles before 1.6) converts them.
- Intrinsics: "in original-image pixel coordinates" (`__call__`'s docstring); the pipeline
  resizes the first frame to (height, width) with `cam_utils.resize_and_center_crop` and
  rescales the intrinsics with `transform_intrinsics_for_crop`. We hand it a first frame
  already cover-fitted to (width, height) by engine.imaging, like every other control, and
  intrinsics at that size: its resize is then the identity (scale 1, crop 0) and its
  rescale leaves them unchanged.
- Pixel centres: `compute_raymap` samples pixel x at `arange(W)` with no +0.5, i.e. pixel
  (0, 0)'s centre is at (0, 0): OpenCV's pixel-centre convention, the bundle's own. A
  pixel-centre cx maps through the cover-and-crop as (cx + 0.5) * scale - 0.5 - crop_x.
  (At the latent grid `prepare_camera` scales cx by latent_w / W without the half-pixel
  terms; that is the pipeline's own training-time rounding and is not ours to correct.)

Frames past the shot's end (the model makes 8k+1) hold the last pose: the camera stops.
"""

import numpy as np

from .imaging import cover_fit


def generation_intrinsics(record, src_w, src_h, width, height):
    """[fx, fy, cx, cy] in pixel-centre pixels at (width, height), after the cover-and-crop
    (engine.imaging.cover_fit) that maps the (src_w, src_h) export onto it."""
    scale, crop_x, crop_y = cover_fit(src_w, src_h, width, height)
    return [record["fx"] * scale, record["fy"] * scale,
            (record["cx"] + 0.5) * scale - 0.5 - crop_x, (record["cy"] + 0.5) * scale - 0.5 - crop_y]


def rigid_inverse(matrix):
    """The inverse of a 4x4 rotation + translation (as cam_utils.py `_pose_inverse` computes it)."""
    matrix = np.asarray(matrix, np.float64)
    inverse = np.eye(4)
    inverse[:3, :3] = matrix[:3, :3].T
    inverse[:3, 3] = -matrix[:3, :3].T @ matrix[:3, 3]
    return inverse


def relative_c2w(records, metres_per_unit=1.0):
    """(F, 4, 4) camera-to-first-camera poses in OpenCV axes, translations in metres:
    c2w_rel[i] = w2c[0] @ inverse(w2c[i]), what `prepare_camera` makes of world poses."""
    w2c_first = np.asarray(records[0]["w2c_opencv"], np.float64)
    poses = np.stack([w2c_first @ rigid_inverse(record["w2c_opencv"]) for record in records])
    poses[:, :3, 3] *= metres_per_unit
    return poses


def sana_camera_path(records, src_w, src_h, width, height, model_frames, metres_per_unit=1.0):
    """{"c2w": (model_frames, 4, 4), "intrinsics": (model_frames, 4)} float64 for SanaWMPipeline at
    (width, height), the shot's poses relative to its first frame, the last one held past its end."""
    if not records:
        raise ValueError("the bundle's camera pass has no frames")
    poses = relative_c2w(records, metres_per_unit)
    intrinsics = np.array([generation_intrinsics(record, src_w, src_h, width, height) for record in records])
    extra = model_frames - len(records)
    if extra < 0:
        raise ValueError(f"{model_frames} model frames cannot hold a {len(records)}-frame camera path")
    return {"c2w": np.concatenate([poses, np.repeat(poses[-1:], extra, axis=0)]),
            "intrinsics": np.concatenate([intrinsics, np.repeat(intrinsics[-1:], extra, axis=0)])}


def project(points_world, record_first, c2w_rel, intrinsics, metres_per_unit=1.0):
    """Pixels (N, 2) of world points in the frame whose relative pose is `c2w_rel`, the way the
    pipeline's rays see them: into the first camera's frame (in metres), then through
    inverse(c2w_rel) and the pinhole [fx, fy, cx, cy] (the inverse of `compute_raymap`'s ray per pixel)."""
    first = np.asarray(record_first["w2c_opencv"], np.float64)
    in_first = (np.asarray(points_world, np.float64) @ first[:3, :3].T + first[:3, 3]) * metres_per_unit
    camera = rigid_inverse(c2w_rel)
    local = in_first @ camera[:3, :3].T + camera[:3, 3]
    fx, fy, cx, cy = intrinsics
    return np.stack([fx * local[:, 0] / local[:, 2] + cx, fy * local[:, 1] / local[:, 2] + cy], axis=1)
