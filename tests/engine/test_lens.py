"""engine/lens on analytic images: blur widths are the thin lens's, focus is untouched, no halos,
a blurred foreground covers what is behind it, and motion smears along the flow by the shutter."""

import numpy as np
import pytest

from engine.lens import Lens, Shutter, coc_radius_px, defocus, motion_blur, pixels_per_mm
from engine.lens.defocus import aperture_kernel
from engine.lens.measure import disk_edge_rise, edge_rise, ssim

WIDTH, HEIGHT = 256, 64
PX_PER_MM = pixels_per_mm(36.0, 24.0, "AUTO", WIDTH, HEIGHT)
LENS = Lens(focal_mm=85.0, fstop=1.4, focus_m=3.0)
SHARP_RISE = 0.8  # 10-90 % rise of an unblurred step sampled at pixel centres


def test_coc_is_the_thin_lens_with_blenders_fixed_field_of_view():
    radius = coc_radius_px(np.array([1.5, 3.0, 6.0, np.inf, 0.0]), LENS, PX_PER_MM)
    aperture_mm, focal_m = 85.0 / 1.4, 0.085
    expected = [0.5 * aperture_mm * focal_m * (z - 3.0) / (z * 3.0) * PX_PER_MM for z in (1.5, 3.0, 6.0)]
    assert radius[:3] == pytest.approx(expected, rel=1e-5)
    assert radius[1] == 0 and radius[0] < 0 < radius[2]
    assert radius[3] == radius[4] == pytest.approx(0.5 * aperture_mm * focal_m / 3.0 * PX_PER_MM, rel=1e-5)


def test_sensor_fit_follows_blender():
    assert pixels_per_mm(36, 24, "AUTO", 512, 288) == 512 / 36
    assert pixels_per_mm(36, 24, "AUTO", 288, 512) == 512 / 36  # the longer side spans the width
    assert pixels_per_mm(36, 24, "VERTICAL", 512, 288) == 288 / 24


@pytest.mark.parametrize("depth_m", [1.2, 2.0, 5.0, 20.0])
def test_step_edge_blurs_by_the_circle_of_confusion(depth_m):
    image = np.zeros((HEIGHT, WIDTH, 1), np.float32)
    image[:, WIDTH // 2:] = 1.0
    depth = np.full((HEIGHT, WIDTH), depth_m, np.float32)
    radius = abs(float(coc_radius_px(np.array([depth_m]), LENS, PX_PER_MM)[0]))
    assert radius > 2  # a real blur
    out = defocus(image, depth, LENS, PX_PER_MM)
    expected = np.hypot(disk_edge_rise(radius), SHARP_RISE)
    assert abs(edge_rise(out[HEIGHT // 2, :, 0]) - expected) <= 1.0


def test_in_focus_pixels_are_unchanged_exactly():
    rng = np.random.default_rng(0)
    image = rng.random((HEIGHT, WIDTH, 3), np.float32)
    depth = np.full((HEIGHT, WIDTH), 3.0, np.float32)
    depth[:, :60] = 8.0     # blurred background on the left
    depth[:, -40:] = np.inf  # sky on the right
    out = defocus(image, depth, LENS, PX_PER_MM)
    reach = int(np.ceil(abs(coc_radius_px(np.array([np.inf]), LENS, PX_PER_MM)[0]))) + 2
    assert np.array_equal(out[:, 60:-40 - reach], image[:, 60:-40 - reach])
    assert not np.allclose(out[:, :40], image[:, :40])


def test_sharp_foreground_does_not_bleed_into_the_blurred_background():
    image = np.zeros((HEIGHT, WIDTH, 1), np.float32)
    depth = np.full((HEIGHT, WIDTH), 12.0, np.float32)  # dark, blurred wall
    image[:, 100:160], depth[:, 100:160] = 1.0, 3.0      # bright subject in focus
    out = defocus(image, depth, LENS, PX_PER_MM)[..., 0]
    assert np.array_equal(out[:, 100:160], image[:, 100:160, 0])
    assert out[:, :100].max() < 1e-5 and out[:, 160:].max() < 1e-5  # no halo around the subject


def test_blurred_foreground_spreads_over_the_sharp_subject():
    image = np.zeros((HEIGHT, WIDTH, 1), np.float32)
    depth = np.full((HEIGHT, WIDTH), 3.0, np.float32)  # dark subject in focus
    image[:, :100], depth[:, :100] = 1.0, 1.5          # bright foreground, blurred
    radius = abs(float(coc_radius_px(np.array([1.5]), LENS, PX_PER_MM)[0]))
    out = defocus(image, depth, LENS, PX_PER_MM)[HEIGHT // 2, :, 0]
    assert out[100 + int(radius / 2)] > 0.05       # the blur covers the subject's edge
    assert out[100 + int(radius) + 2:].max() < 1e-5  # and no farther than its circle of confusion


def test_odd_blade_aperture_flips_with_the_side_of_focus():
    lens = Lens(50.0, 2.0, 3.0, blades=5, rotation=0.3)
    behind, before = aperture_kernel(6.0, lens), aperture_kernel(-6.0, lens)
    assert np.allclose(before, behind[::-1, ::-1], atol=1e-6)
    assert not np.allclose(before, behind, atol=1e-3)
    squeezed = aperture_kernel(6.0, Lens(50.0, 2.0, 3.0, ratio=2.0))
    assert (squeezed.sum(axis=0) > 0).sum() < (squeezed.sum(axis=1) > 0).sum()  # narrower than tall


def moving_dot(flow_x=12.0):
    image = np.zeros((HEIGHT, WIDTH, 1), np.float32)
    flow = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    depth = np.full((HEIGHT, WIDTH), 10.0, np.float32)
    image[30:33, 100:103], flow[30:33, 100:103, 0], depth[30:33, 100:103] = 1.0, flow_x, 2.0
    return image, flow, depth


@pytest.mark.parametrize("position, span", [("CENTER", (-3, 3)), ("START", (0, 6)), ("END", (-6, 0))])
def test_moving_dot_spreads_along_its_flow_by_the_shutter(position, span):
    image, flow, depth = moving_dot()
    out = motion_blur(image, flow, depth, Shutter(0.5, position))[31, :, 0]  # 0.5 frame of 12 px: 6 px
    lit = np.flatnonzero(out > 0.02)
    assert abs(lit[0] - (100 + span[0])) <= 1 and abs(lit[-1] - (102 + span[1])) <= 1
    assert out.sum() == pytest.approx(3.0, rel=0.2)  # the dot's light is spread, not lost
    assert motion_blur(image, flow, depth, Shutter(0.5, position))[:29].max() == 0  # along x only


def test_still_image_and_closed_shutter_are_unchanged():
    image, flow, depth = moving_dot()
    assert np.array_equal(motion_blur(image, np.zeros_like(flow), depth, Shutter(0.5)), image)
    assert np.array_equal(motion_blur(image, flow, depth, Shutter(0.0)), image)


def test_ssim_is_one_for_equal_images_and_drops_with_noise():
    rng = np.random.default_rng(1)
    image = rng.random((40, 50))
    assert ssim(image, image) == pytest.approx(1.0)
    assert ssim(image, np.clip(image + rng.normal(0, 0.2, image.shape), 0, 1)) < 0.9


def test_a_bundles_camera_record_reads_as_a_round_aperture_lens():
    from engine.lens import frame_lens, frame_px_per_mm, frame_shutter

    record = {"frame": 3, "lens_mm": 50.0, "sensor_width_mm": 36.0, "sensor_height_mm": 24.0, "sensor_fit": "AUTO",
              "depth_of_field": {"focus_distance": 2.5, "fstop": 4.0}}  # as cameras.json writes it today
    assert frame_lens(record) == Lens(50.0, 4.0, 2.5)
    assert frame_px_per_mm(record, 512, 288) == 512 / 36
    assert frame_shutter(record) is None
    assert frame_lens(dict(record, depth_of_field=None)) is None
    with pytest.raises(ValueError, match="CENTER, START, END"):
        Shutter(0.5, "MIDDLE").interval()


def test_apply_lens_on_a_take_frame_at_its_own_size():
    from engine.lens import apply_lens
    from engine.lens.take import flow_at_size, linear_to_srgb8, resize_nearest, srgb8_to_linear

    levels = np.arange(256, dtype=np.uint8)
    assert np.array_equal(linear_to_srgb8(srgb8_to_linear(levels)), levels)  # 8-bit round trip is exact
    rng = np.random.default_rng(2)
    frame = rng.integers(0, 256, (32, 128, 3), dtype=np.uint8)  # the take at half the bundle's size
    depth = np.full((HEIGHT, WIDTH), 3.0, np.float32)
    depth[:, :100] = 10.0
    flow = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    flow[:, :, 0] = 8.0
    record = {"lens_mm": 85.0, "sensor_width_mm": 36.0, "sensor_height_mm": 24.0, "sensor_fit": "AUTO",
              "depth_of_field": {"focus_distance": 3.0, "fstop": 1.4}, "motion_blur": None}
    assert resize_nearest(depth, 32, 128).shape == (32, 128) and flow_at_size(flow, 32, 128)[0, 0, 0] == 4.0
    expected = linear_to_srgb8(defocus(srgb8_to_linear(frame), resize_nearest(depth, 32, 128), LENS,
                                       pixels_per_mm(36, 24, "AUTO", 128, 32)))
    assert np.array_equal(apply_lens(frame, depth, flow, record), expected)
    centimetres = dict(record, depth_of_field={"focus_distance": 300.0, "fstop": 1.4})  # Unit Scale 0.01
    assert np.array_equal(apply_lens(frame, depth * 100, flow, centimetres, 0.01), expected)  # the same blur
    assert np.array_equal(apply_lens(frame, depth, flow, dict(record, depth_of_field=None)), frame)
    blurred = apply_lens(frame, depth, flow, dict(record, depth_of_field=None,
                                                  motion_blur={"shutter": 0.5, "position": "CENTER"}))
    assert not np.array_equal(blurred, frame)
    assert np.array_equal(apply_lens(frame, depth, None, dict(record, depth_of_field=None,
                                                              motion_blur={"shutter": 0.5, "position": "CENTER"})),
                          frame)  # no flow pass: no motion blur


def test_motion_blur_of_a_panning_frame_is_the_same_with_still_tiles_beside_it():
    """Every tile moving (no mask searched) and some tiles still (masked) are one computation:
    a panning frame, and the same frame with a still strip to its right, agree away from it."""
    rng = np.random.default_rng(3)
    height, width, strip = 48, 64, 32
    image = rng.random((height, width + strip, 3), dtype=np.float32)
    depth = np.full((height, width + strip), 5.0, np.float32)
    depth[10:30, 20:40] = 2.0  # a nearer square moving faster than the pan
    flow = np.zeros((height, width + strip, 2), np.float32)
    flow[:, :width] = (3.0, 1.0)
    flow[10:30, 20:40] = (9.0, -2.0)
    shutter = Shutter(0.5)
    panning = motion_blur(image[:, :width], flow[:, :width], depth[:, :width], shutter)
    beside = motion_blur(image, flow, depth, shutter)
    assert not np.array_equal(panning, image[:, :width])
    assert np.allclose(panning[:, :width - 16], beside[:, :width - 16], atol=1e-6)
    assert np.array_equal(beside[:, -8:], image[:, -8:])  # far from any motion: untouched


def test_the_tabled_srgb_conversions_equal_the_formula():
    """engine/lens/take.py converts by lookup table; it must give what the sRGB formula gives."""
    from engine.lens.take import _linear_to_srgb8, _srgb_to_linear, linear_to_srgb8, srgb8_to_linear
    levels = np.arange(256, dtype=np.uint8)
    assert np.array_equal(srgb8_to_linear(levels), _srgb_to_linear(levels.astype(np.float32) / np.float32(255.0)))
    values = np.random.default_rng(0).random(200_000, dtype=np.float32) * 1.2 - 0.1
    edges = srgb8_to_linear(levels)[1:]  # and a few float steps either side of each code's own value
    near = (edges.view(np.int32)[:, None] + np.arange(-4, 5)[None, :]).astype(np.int32).view(np.float32).ravel()
    values = np.concatenate([values, near, np.array([-np.inf, 0, 1, np.inf], np.float32)])
    assert np.array_equal(linear_to_srgb8(values), _linear_to_srgb8(values))
