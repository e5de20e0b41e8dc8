"""Control frames from a pass bundle, in the form each model was trained on.

- depth: the bundle's 16-bit shot-normalised disparity (near = white) as 8-bit RGB, the
  MiDaS-style maps depth ControlNets and VACE's depth annotator produce;
- pose: the bundle's OpenPose JSON drawn by controlnet_aux's own drawing code, so limbs,
  colours and widths are exactly what OpenPose ControlNets saw in training;
- camera: Plücker ray embeddings (CameraCtrl's `ray_condition`), relative to the first frame;
- shading: the clay render, as an init video or (previz) the light to put colour on;
- normal: the bundle's camera-space normal preview (x right = R, y up = G, facing = B);
- objects: the bundle's 16-bit object ids, resized nearest-neighbour so ids never blend;
- edges: white 1-pixel lines where the object changes or depth steps (engine.edges), made at
  the generation size from the depth and objects passes, the Canny-style input of LTX-2,
  VACE and Cosmos-Transfer;
- tracking: the bundle's 3D tracking pass (each surface point coloured by where it was at the
  shot's first frame, Diffusion-as-Shader's form) as 8-bit RGB.

Every control is produced at the generation size with the same cover-and-crop mapping
(engine.imaging), and can be written back into BUNDLE/controls/ for the artist to review.
"""

import os
import uuid
import warnings

import numpy as np
from PIL import Image

from .bundle import BundleError
from .bundle import png
from .bundle.depth import CONTROL_MAX
from .bundle.schema import CONTROL_KINDS, CONTROLS_DIR
from .edges import edge_map
from .imaging import cover_fit, resize_cover

_NEEDED_PASSES = {**{kind: (kind,) for kind in CONTROL_KINDS}, "edges": ("depth", "objects")}


def needed_passes(control):
    """The bundle passes a control is made from (most read the pass of their name)."""
    return _NEEDED_PASSES[control]


def missing_passes(bundle, control):
    """The passes `control` needs that `bundle` lacks (empty: the control can be made)."""
    return [name for name in needed_passes(control) if not bundle.has(name)]


def depth_frames(bundle, width, height):
    """RGB depth controls at (width, height): disparity near = 255, far ~ 0, no hit = 0."""
    frames = []
    for frame in bundle.frames:
        disparity = bundle.depth_control(frame).astype(np.float32) * (255.0 / CONTROL_MAX)
        image = resize_cover(Image.fromarray(disparity), width, height)
        gray = np.clip(np.rint(np.asarray(image)), 0, 255).astype(np.uint8)
        frames.append(Image.fromarray(np.repeat(gray[:, :, None], 3, axis=2)))
    return frames


def _openpose_drawing():
    """controlnet_aux's drawing code; its package import is slow and noisy, so load it late."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from controlnet_aux.open_pose import BodyResult, PoseResult, draw_poses
        from controlnet_aux.open_pose.body import Keypoint
    return BodyResult, PoseResult, Keypoint, draw_poses


def pose_results(document, src_w, src_h, width, height):
    """controlnet_aux PoseResults for one OpenPose JSON document, keypoints normalised to
    the (width, height) canvas; confidence 0 means missing, as in OpenPose."""
    BodyResult, PoseResult, Keypoint, _ = _openpose_drawing()
    scale, crop_x, crop_y = cover_fit(src_w, src_h, width, height)
    poses = []
    for person in document.get("people", []):
        values = np.asarray(person.get("pose_keypoints_2d", []), float).reshape(-1, 3)
        keypoints = [
            Keypoint((x * scale - crop_x) / width, (y * scale - crop_y) / height, c, index) if c > 0 else None
            for index, (x, y, c) in enumerate(values)
        ]
        visible = [k for k in keypoints if k is not None]
        body = BodyResult(keypoints, sum(k.score for k in visible), len(visible))
        poses.append(PoseResult(body, None, None, None))
    return poses


def pose_frames(bundle, width, height):
    """RGB pose controls drawn with controlnet_aux (body; the bundle carries no hands/face)."""
    draw_poses = _openpose_drawing()[3]
    frames = []
    for frame in bundle.frames:
        poses = pose_results(bundle.openpose(frame), bundle.width, bundle.height, width, height)
        canvas = draw_poses(poses, height, width, draw_body=True, draw_hand=False, draw_face=False)
        frames.append(Image.fromarray(canvas))
    return frames


def shading_frames(bundle, width, height):
    """The clay render as RGB frames at (width, height), for init-video backends."""
    frames = []
    for frame in bundle.frames:
        pixels = bundle.shading(frame)
        image = Image.fromarray(pixels[:, :, :3] if pixels.ndim == 3 else pixels).convert("RGB")
        frames.append(resize_cover(image, width, height))
    return frames


def normal_frames(bundle, width, height):
    """The normal preview images (8-bit, the usual normal-map convention) at (width, height)."""
    return [resize_cover(Image.fromarray(bundle.normal_preview(frame)).convert("RGB"), width, height)
            for frame in bundle.frames]


def objects_frames(bundle, width, height):
    """16-bit object-id images ("I;16") at (width, height), nearest-neighbour: an id is never averaged."""
    return [resize_cover(Image.fromarray(bundle.object_index(frame).astype(np.uint16)), width, height,
                         resample=Image.NEAREST) for frame in bundle.frames]


def _nearest(array, width, height):
    """A float or id array at (width, height) by cover-and-crop, nearest-neighbour (no blending)."""
    mode = "F" if array.dtype.kind == "f" else None
    image = Image.fromarray(array.astype(np.float32) if mode else array.astype(np.uint16))
    return np.asarray(resize_cover(image, width, height, resample=Image.NEAREST))


def edges_frames(bundle, width, height):
    """RGB edge controls at (width, height): depth and object ids taken to the generation size
    nearest-neighbour, then engine.edges, so lines stay 1 pixel wide at the size the model sees."""
    frames = []
    for frame in bundle.frames:
        edges = edge_map(_nearest(bundle.depth(frame), width, height),
                         _nearest(bundle.object_index(frame), width, height))
        frames.append(Image.fromarray(np.repeat(edges[:, :, None], 3, axis=2)))
    return frames


def tracking_frames(bundle, width, height):
    """RGB tracking controls at (width, height): the 16-bit tracking image as 8-bit per channel."""
    frames = []
    for frame in bundle.frames:
        pixels = bundle.tracking_control(frame).astype(np.float32) * (255.0 / CONTROL_MAX)
        channels = [np.asarray(resize_cover(Image.fromarray(pixels[:, :, c]), width, height)) for c in range(3)]
        frames.append(Image.fromarray(np.clip(np.rint(np.stack(channels, axis=-1)), 0, 255).astype(np.uint8)))
    return frames


def plucker_embeddings(bundle, width, height):
    """(F, 6, height, width) float32 Plücker rays [o x d, d], OpenCV axes, poses relative
    to the first frame (frame 0 = identity), as CameraCtrl's `ray_condition` builds them."""
    records = bundle.cameras()
    scale, crop_x, crop_y = cover_fit(bundle.width, bundle.height, width, height)
    w2c_first = np.asarray(records[0]["w2c_opencv"], np.float64)
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    out = np.empty((len(records), 6, height, width), np.float32)
    for index, record in enumerate(records):
        c2w = w2c_first @ np.linalg.inv(np.asarray(record["w2c_opencv"], np.float64))
        # Pixel-centre cx (bundle) -> pixel-edge cx, scaled and cropped like the images.
        fx, fy = record["fx"] * scale, record["fy"] * scale
        cx, cy = (record["cx"] + 0.5) * scale - crop_x, (record["cy"] + 0.5) * scale - crop_y
        directions = np.stack([(cols - cx) / fx, (rows - cy) / fy, np.ones_like(cols)], axis=-1)
        directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
        rays_d = directions @ c2w[:3, :3].T
        rays_o = np.broadcast_to(c2w[:3, 3], rays_d.shape)
        out[index] = np.concatenate([np.cross(rays_o, rays_d), rays_d], axis=-1).transpose(2, 0, 1)
    return out


def build_controls(bundle, kinds, width, height):
    """{kind: frames} for the requested control kinds; frames are PIL images, except
    camera: {"plucker": array, "re10k": the bundle's RealEstate10K text, passed through, "cameras": the
    cameras.json frame records, "export_size": their (width, height) and "metres_per_unit": the scene's unit
    scale their lengths are in, for backends that take the path itself}."""
    builders = {"depth": depth_frames, "pose": pose_frames, "shading": shading_frames,
                "normal": normal_frames, "objects": objects_frames, "edges": edges_frames,
                "tracking": tracking_frames}
    controls = {}
    for kind in kinds:
        missing = missing_passes(bundle, kind)
        if missing:
            raise BundleError(f"bundle {bundle.root} has no {' or '.join(missing)} pass, which the {kind} control "
                              f"needs: re-export with --passes including {','.join(needed_passes(kind))}")
        if kind == "camera":
            text = bundle.path("camera", "re10k").read_text(encoding="utf-8")
            controls[kind] = {"plucker": plucker_embeddings(bundle, width, height), "re10k": text,
                              "cameras": bundle.cameras(), "export_size": (bundle.width, bundle.height),
                              "metres_per_unit": bundle.record.metres_per_unit}
        else:
            controls[kind] = builders[kind](bundle, width, height)
    return controls


def _replace_file(path, data):
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def write_review(bundle, controls):
    """Write control images into BUNDLE/controls/<kind>/NNNN.png (Plücker rays as one
    float16 .npy) so the artist sees what the model saw. Each file is replaced atomically.
    Returns the folder; raises OSError when the bundle is read-only, BundleError when
    controls/ leads outside the bundle (a symlink): nothing is written outside it."""
    root = bundle.root / CONTROLS_DIR
    for kind, frames in controls.items():
        folder = bundle.inside(f"{CONTROLS_DIR}/{kind}")
        folder.mkdir(parents=True, exist_ok=True)
        if kind == "camera":
            temp = folder / f".plucker.{uuid.uuid4().hex[:8]}.npy"
            np.save(temp, frames["plucker"].astype(np.float16), allow_pickle=False)
            os.replace(temp, folder / "plucker.npy")
            _replace_file(folder / "camera_re10k.txt", frames["re10k"].encode("utf-8"))
            continue
        for frame, image in zip(bundle.frames, frames):
            pixels = np.asarray(image, np.uint16) if kind == "objects" else np.asarray(image.convert("RGB"))
            _replace_file(folder / f"{frame:04d}.png", png.encode_png(pixels))
    return root
