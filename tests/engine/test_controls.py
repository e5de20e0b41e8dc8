"""Controls match what the models were trained on, checked against independent computations."""

import shutil

import numpy as np
import pytest
import torch

from engine import controls
from engine.backends.animatediff import plan_windows
from engine.bundle import png, read_bundle
from engine.bundle.depth import CONTROL_MAX


def test_depth_controls_are_the_bundles_disparity_as_8_bit_rgb(bundle17):
    bundle = read_bundle(bundle17)
    frames = controls.depth_frames(bundle, bundle.width, bundle.height)
    assert len(frames) == len(bundle.frames)
    for frame, image in zip(bundle.frames[::8], frames[::8]):
        rgb = np.asarray(image)
        expected = np.rint(bundle.depth_control(frame).astype(np.float64) * 255 / CONTROL_MAX).astype(np.uint8)
        assert rgb.shape == (bundle.height, bundle.width, 3)
        assert np.array_equal(rgb[:, :, 0], expected) and np.array_equal(rgb[:, :, 0], rgb[:, :, 2])
    assert max(np.asarray(image).max() for image in frames) == 255  # the shot's nearest hit is white


def _controlnet_aux_drawing(document, width, height):
    """controlnet_aux's own drawing of the JSON keypoints, built here independently."""
    from controlnet_aux.open_pose import BodyResult, PoseResult, draw_poses
    from controlnet_aux.open_pose.body import Keypoint

    poses = []
    for person in document["people"]:
        flat = person["pose_keypoints_2d"]
        points = [Keypoint(flat[i] / document["canvas_width"], flat[i + 1] / document["canvas_height"], flat[i + 2])
                  if flat[i + 2] > 0 else None for i in range(0, len(flat), 3)]
        poses.append(PoseResult(BodyResult(points, 0.0, 0), None, None, None))
    return draw_poses(poses, height, width, draw_body=True, draw_hand=False, draw_face=False)


@pytest.mark.parametrize("scale", [1, 2])
def test_pose_controls_equal_controlnet_aux_drawing_of_the_same_keypoints(bundle17, scale):
    bundle = read_bundle(bundle17)
    width, height = bundle.width * scale, bundle.height * scale
    frames = controls.pose_frames(bundle, width, height)
    for index in (0, 8, 16):
        document = bundle.openpose(bundle.frames[index])
        assert len(document["people"]) == 2
        expected = _controlnet_aux_drawing(document, width, height)
        assert expected.any()
        assert np.array_equal(np.asarray(frames[index]), expected)


def _cameractrl_plucker(re10k_frames, width, height, shot_w, shot_h):
    """CameraCtrl's ray_condition in torch, from the RealEstate10K text (normalised,
    pixel-edge intrinsics) rather than cameras.json: an independent path to the same rays."""
    w2cs = [torch.tensor(f["w2c"], dtype=torch.float64) for f in re10k_frames]
    out = []
    for f, w2c in zip(re10k_frames, w2cs):
        fx, fy = f["fx"] / shot_w * width, f["fy"] / shot_h * height
        cx, cy = (f["cx"] + 0.5) / shot_w * width, (f["cy"] + 0.5) / shot_h * height
        c2w = w2cs[0] @ torch.linalg.inv(w2c)
        j, i = torch.meshgrid(torch.linspace(0, height - 1, height, dtype=torch.float64),
                              torch.linspace(0, width - 1, width, dtype=torch.float64), indexing="ij")
        xs, ys = (i + 0.5 - cx) / fx, (j + 0.5 - cy) / fy
        directions = torch.stack([xs, ys, torch.ones_like(xs)], -1)
        directions = directions / directions.norm(dim=-1, keepdim=True)
        rays_d = directions @ c2w[:3, :3].T
        rays_o = c2w[:3, 3].expand_as(rays_d)
        out.append(torch.cat([torch.linalg.cross(rays_o, rays_d, dim=-1), rays_d], -1).permute(2, 0, 1))
    return torch.stack(out).numpy()


@pytest.mark.parametrize("size", [(128, 72), (64, 36)])
def test_plucker_embeddings_match_an_independent_computation(bundle17, size):
    bundle = read_bundle(bundle17)
    ours = controls.plucker_embeddings(bundle, *size)
    theirs = _cameractrl_plucker(bundle.re10k(), *size, bundle.width, bundle.height)
    assert ours.shape == (len(bundle.frames), 6, size[1], size[0]) and ours.dtype == np.float32
    assert np.allclose(ours, theirs, atol=1e-5)
    assert np.allclose(ours[0, :3], 0, atol=1e-6)  # relative to the first frame: its centre is the origin
    assert np.abs(ours[-1, :3]).max() > 1e-3       # the demo camera moves


def test_controls_are_written_back_for_review(bundle10, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle10, copy)
    bundle = read_bundle(copy)
    built = controls.build_controls(bundle, ["depth", "pose", "camera"], 64, 36)
    root = controls.write_review(bundle, built)
    for kind in ("depth", "pose"):
        written = sorted(p.name for p in (root / kind).iterdir())
        assert written == [f"{frame:04d}.png" for frame in bundle.frames]
        assert np.array_equal(png.read_png(root / kind / "0003.png"), np.asarray(built[kind][0]))
    assert np.load(root / "camera" / "plucker.npy").shape == (10, 6, 36, 64)
    assert (root / "camera" / "camera_re10k.txt").read_text() == (copy / "camera_re10k.txt").read_text()


def _diffusers_free_noise_windows(num_frames):
    """The windows diffusers' FreeNoise block really processes, observed by tagging each
    frame with its index and recording what reaches the block's first norm."""
    from diffusers.models.attention import FreeNoiseTransformerBlock

    block = FreeNoiseTransformerBlock(dim=4, num_attention_heads=1, attention_head_dim=4,
                                      context_length=16, context_stride=4, double_self_attention=True)
    seen = []
    block.norm1.register_forward_pre_hook(lambda _module, args: seen.append(args[0][0, :, 0].round().long().tolist()))
    tagged = torch.arange(num_frames, dtype=torch.float32).view(1, num_frames, 1).expand(1, num_frames, 4).contiguous()
    with torch.no_grad():
        block(tagged)
    return [(chunk[0], chunk[-1] + 1) for chunk in seen]


@pytest.mark.parametrize("num_frames", [16, 17, 20, 23, 24, 25, 33, 48])
def test_windows_are_the_ones_free_noise_runs_and_cover_every_frame(num_frames):
    windows = plan_windows(num_frames)
    if num_frames > 16:
        assert windows == _diffusers_free_noise_windows(num_frames)
    covered = np.zeros(num_frames, int)
    for start, end in windows:
        assert end - start == min(16, num_frames)
        covered[start:end] += 1
    assert covered.min() >= 1
