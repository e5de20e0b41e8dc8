"""Pass conversions from Blender's render conventions to the bundle's (no rendering needed)."""

import numpy as np
import pytest


@pytest.fixture
def passes(blockcast):
    import blockcast.addon.passes as passes
    return passes


def test_srgb_encoding_matches_the_standard_curve(passes):
    linear = np.array([[[0.0, 0.0031308, 0.18], [0.5, 1.0, 4.0]]])
    encoded = passes.linear_to_srgb8(linear)
    assert encoded.dtype == np.uint8
    assert encoded.tolist() == [[[0, 10, 118], [188, 255, 255]]]


def test_forward_flow_flips_blender_vectors_into_image_axes(passes):
    vector = np.zeros((1, 1, 4), np.float32)
    vector[0, 0] = (9, 9, -3.0, 2.0)  # X, Y: to the previous frame (ignored); Z, W: to the next
    assert passes.forward_flow(vector)[0, 0].tolist() == [3.0, 2.0]


def test_normals_rotate_into_opencv_camera_axes_and_preview(passes):
    # Camera at the origin looking down world -Z (Blender's default): OpenCV w2c flips y and z.
    w2c = np.diag([1.0, -1.0, -1.0, 1.0])
    world = np.array([[[0, 0, 1.0], [0, 1.0, 0], [0, 0, 0]]], np.float32)  # facing camera, up, background
    camera = passes.camera_space_normals(world, w2c)
    assert camera[0, 0].tolist() == [0, 0, -1] and camera[0, 1].tolist() == [0, -1, 0]
    preview = passes.normal_preview(camera)
    assert preview[0, 0].tolist() == [128, 128, 255]  # towards the viewer = blue
    assert preview[0, 1].tolist() == [128, 255, 128]  # up = green
    assert preview[0, 2].tolist() == [0, 0, 0]  # background stays black
