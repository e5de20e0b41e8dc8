"""The bpy-free bundle format pieces: PNG codec, depth control, pose JSON, safe writing."""

import json
import os

import numpy as np
import pytest

from engine.bundle import SCHEMA_NAME, BundleError, BundleWriter, parse_passes
from engine.bundle import depth as depth_math
from engine.bundle import png
from engine.bundle import pose as pose_math

PIL = pytest.importorskip("PIL.Image")


@pytest.mark.parametrize("shape,dtype", [((5, 7), np.uint8), ((5, 7, 3), np.uint8), ((4, 6, 4), np.uint8),
                                         ((9, 3), np.uint16)])
def test_png_round_trip_and_pillow_agrees(tmp_path, shape, dtype):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype)
    path = tmp_path / "a.png"
    png.write_png(path, pixels)
    assert np.array_equal(png.read_png(path), pixels)
    assert np.array_equal(np.asarray(PIL.open(path)), pixels)


def test_png_reader_handles_filtered_rows_from_pillow(tmp_path):
    pixels = np.tile(np.arange(32, dtype=np.uint8), (16, 1))[:, :, None].repeat(3, axis=2)
    PIL.fromarray(pixels).save(tmp_path / "p.png", optimize=True)
    assert np.array_equal(png.read_png(tmp_path / "p.png"), pixels)


def test_png_is_deterministic():
    pixels = np.arange(200, dtype=np.uint16).reshape(10, 20)
    assert png.encode_png(pixels) == png.encode_png(pixels.copy())


def test_disparity_control_uses_one_range_near_white_no_hit_black():
    depth = np.array([[2.0, 4.0, np.inf], [8.0, 3.0, 2.0]], np.float32)
    control = depth_math.disparity_control(depth, near=2.0, far=8.0)
    assert control[0, 0] == 65535 and control[1, 2] == 65535
    assert control[1, 0] == depth_math.CONTROL_FAR
    assert control[0, 2] == 0
    assert control[0, 0] > control[1, 1] > control[0, 1] > control[1, 0]
    back = depth_math.control_to_depth(control, 2.0, 8.0)
    finite = np.isfinite(depth)
    assert np.allclose(back[finite], depth[finite], rtol=1e-3) and np.isinf(back[0, 2])


def test_update_range_folds_frames_and_ignores_background():
    rng = None
    for frame in (np.array([[3.0, np.inf]]), np.array([[5.0, 1.5]]), np.full((1, 2), np.inf)):
        rng = depth_math.update_range(rng, frame)
    assert rng == (1.5, 5.0)


def test_joint_states_and_openpose_document():
    pixels = np.array([[10.0, 10.0], [10.0, 10.0], [-3.0, 5.0], [5.0, 5.0]])
    z = np.array([2.0, 5.0, 2.0, -1.0])
    depth_map = np.full((20, 30), 4.0)
    states = pose_math.joint_states(pixels, z, 30, 20, depth_map, margin=0.2)
    assert states == [pose_math.VISIBLE, pose_math.OCCLUDED, pose_math.OUTSIDE, pose_math.BEHIND]
    person = pose_math.openpose_person(pixels, states)
    assert person["pose_keypoints_2d"][:6] == [10.0, 10.0, 1.0, 10.0, 10.0, 0.5]
    assert person["pose_keypoints_2d"][6:] == [0.0] * 6
    document = json.loads(json.dumps(pose_math.openpose_frame([person], 30, 20)))
    assert document["canvas_width"] == 30 and len(document["people"]) == 1
    assert pose_math.people_keypoints(document)[0].shape == (4, 3)


def test_parse_passes_orders_and_rejects_unknown():
    assert parse_passes("pose, depth") == ("depth", "pose")
    with pytest.raises(ValueError, match="unknown pass"):
        parse_passes("depth,beauty")


def test_writer_renames_into_place_and_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "shot"
    with pytest.raises(RuntimeError):
        with BundleWriter(target) as writer:
            writer.write_text("a.txt", "x")
            raise RuntimeError("killed mid-export")
    assert os.listdir(tmp_path) == []
    with BundleWriter(target) as writer:
        writer.write_npy("depth/0001.npy", np.zeros((2, 2), np.float32))
        writer.commit({"schema": "x"})
    assert sorted(os.listdir(target)) == ["bundle.json", "depth"]
    assert os.listdir(tmp_path) == ["shot"]


def test_writer_refuses_existing_folder_unless_overwrite(tmp_path):
    target = tmp_path / "shot"
    target.mkdir()
    (target / "keep.txt").write_text("user data")
    with pytest.raises(BundleError, match="--overwrite"):
        BundleWriter(target)
    with pytest.raises(BundleError, match="not a Blockcast bundle"):  # --overwrite only ever replaces a bundle
        BundleWriter(target, overwrite=True)
    (target / "keep.txt").unlink()
    with BundleWriter(target) as writer:  # an empty folder is written into
        writer.commit({"schema": SCHEMA_NAME})
    with pytest.raises(BundleError, match="already holds a bundle"):
        BundleWriter(target)
    with BundleWriter(target, overwrite=True) as writer:
        writer.commit({"schema": "x"})
    assert os.listdir(target) == ["bundle.json"]
    assert os.listdir(tmp_path) == ["shot"]


def test_writer_refuses_unwritable_location(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(BundleError, match="choose an output folder"):
        BundleWriter(blocker / "shot")
