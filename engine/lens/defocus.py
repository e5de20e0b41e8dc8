"""Depth of field from metric depth: the blocking camera's thin lens applied to an image.

Why layers: a per-pixel gather with each pixel's own blur lets a sharp subject bleed into the
blurred background behind it (a halo) and stops a blurred foreground from spreading over the
sharp subject. So the image is cut into layers by signed circle of confusion; each layer's
colour and coverage are blurred with that layer's aperture shape, and the layers are
composited back to front. What a blurred layer's soft edge uncovers behind it was hidden in
the all-in-focus image; it is guessed from its surroundings within that blur.

Blur sizes follow Cycles' camera (kernel/camera/camera.h): the aperture of diameter f/N sits at
the pinhole and the field of view stays that of the lens at infinity (no focus breathing), so
the image of a point at depth z is the aperture shape scaled by

    c = (f/N) · f · (z − s) / (z · s)   on the sensor (mm),

the thin-lens circle of confusion A·f·|z − s| / (z·(s − f)) with the sensor at the focal
length instead of at the image distance (they differ by s/(s − f), under 2 % at s > 50 f).
The sign of c says which way the aperture is flipped (odd blade counts show it).
"""

import numpy as np

# Layer spacing in circle-of-confusion radius: half a pixel while small, then 10 % steps, so
# each pixel's blur (that of its nearest layer) is within a quarter pixel or 5 % of its own.
LINEAR_STEP_PX = 0.5
LINEAR_UP_TO_PX = 2.0
GEOMETRIC_RATIO = 1.1
# Blurs wider than this are computed at half, quarter... size (variance-matched), which keeps
# the cost of a layer about the same whatever its blur.
FULL_SIZE_UP_TO_PX = 2.5
LEVEL_KERNEL_PX = 3.0
SUPERSAMPLE = 8
# A blur of at most a pixel across (radius 0.5) is no blur at pixel-centre sampling: such pixels
# are copied exactly.
IN_FOCUS_PX = 0.5


def coc_radius_px(depth, lens, px_per_mm):
    """Signed circle-of-confusion radius in pixels (> 0 behind focus); no hit (0, inf) = infinity."""
    depth = np.asarray(depth, np.float32)
    focal_m = lens.focal_mm / 1000.0
    scale = np.float32(0.5 * (lens.focal_mm / lens.fstop) * focal_m / lens.focus_m * px_per_mm)  # px per (z-s)/z
    hit = np.isfinite(depth) & (depth > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        radius = scale * (np.float32(1.0) - np.float32(lens.focus_m) / depth)
    return np.where(hit, radius, scale).astype(np.float32)


def _layer_coordinate(radius):
    size = np.abs(radius)
    coordinate = size * np.float32(1.0 / LINEAR_STEP_PX)
    wide = np.flatnonzero(size > LINEAR_UP_TO_PX)
    if wide.size:
        coordinate.ravel()[wide] = (LINEAR_UP_TO_PX / LINEAR_STEP_PX + np.log(size.ravel()[wide] / LINEAR_UP_TO_PX)
                                    / np.float32(np.log(GEOMETRIC_RATIO)))
    return np.copysign(coordinate, radius)


def _layer_radius(index):
    size = abs(index) * LINEAR_STEP_PX
    if size > LINEAR_UP_TO_PX:
        size = LINEAR_UP_TO_PX * GEOMETRIC_RATIO ** (abs(index) - LINEAR_UP_TO_PX / LINEAR_STEP_PX)
    return float(np.sign(index) * size)


def _level(size):
    """Downscale factor for a blur of radius `size` px."""
    if size < FULL_SIZE_UP_TO_PX:
        return 1
    if size < 2 * LEVEL_KERNEL_PX:
        return 2
    return 2 ** int(np.floor(np.log2(size / LEVEL_KERNEL_PX)))


def aperture_mask(x, y, lens):
    """Inside test of Cycles' aperture of radius 1 (camera axes: x right, y up)."""
    x = x * lens.ratio  # Cycles scales the sample's x by 1 / ratio
    if lens.blades < 3:
        return x * x + y * y <= 1.0
    n = int(lens.blades)
    inside = np.ones(np.shape(x), bool)
    # Vertices at rotation + (2j ± 1)π/n on the unit circle; edge j's normal at rotation + 2πj/n.
    for j in range(n):
        angle = lens.rotation + 2 * np.pi * j / n
        inside &= x * np.cos(angle) + y * np.sin(angle) <= np.cos(np.pi / n)
    return inside


def aperture_kernel(radius, lens):
    """Normalised point-spread function of a point with signed blur radius `radius` (pixels,
    row 0 = top): the aperture scaled by |radius|, flipped when the point is before focus."""
    size = abs(radius)
    half = int(np.ceil(size)) + 1
    steps = (np.arange(SUPERSAMPLE * (2 * half + 1)) + 0.5) / SUPERSAMPLE - half - 0.5
    dy, dx = np.meshgrid(steps, steps, indexing="ij")
    sign = 1.0 if radius >= 0 else -1.0
    # Image offset = radius · (bokeh.x, -bokeh.y): y flips from camera-up to image-down.
    inside = aperture_mask(sign * dx / size, -sign * dy / size, lens)
    kernel = inside.reshape(2 * half + 1, SUPERSAMPLE, 2 * half + 1, SUPERSAMPLE).mean(axis=(1, 3))
    if kernel.sum() == 0:  # narrower than a pixel: a point
        kernel[half, half] = 1.0
    return (kernel / kernel.sum()).astype(np.float32)


def _disk_marginal(size):
    """1D kernel whose step response is a disk's of radius `size` (used for blurs of a few px,
    where the aperture's shape cannot show)."""
    half = int(np.ceil(size))
    x = np.arange(-half, half + 1, dtype=np.float64)
    fine = (np.arange(SUPERSAMPLE) + 0.5) / SUPERSAMPLE - 0.5
    samples = x[:, None] + fine[None, :]
    weights = np.sqrt(np.clip(size * size - samples * samples, 0.0, None)).mean(axis=1)
    return (weights / weights.sum()).astype(np.float32)


def _separable_blur(stack, taps):
    half = len(taps) // 2
    c, h, w = stack.shape
    rows = np.zeros((c, h + 2 * half, w), np.float32)
    rows[:, half:half + h] = stack
    stack = sum(weight * rows[:, i:i + h] for i, weight in enumerate(taps))
    cols = np.zeros((c, h, w + 2 * half), np.float32)
    cols[:, :, half:half + w] = stack
    return sum(weight * cols[:, :, i:i + w] for i, weight in enumerate(taps))


def _fast_length(n):
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _fft_blur(stack, kernel):
    half = kernel.shape[0] // 2
    h, w = stack.shape[1:]
    shape = (_fast_length(h + 2 * half), _fast_length(w + 2 * half))
    spectrum = np.fft.rfft2(stack, s=shape) * np.fft.rfft2(kernel, s=shape)
    blurred = np.fft.irfft2(spectrum, s=shape)[:, half:half + h, half:half + w]
    return np.where(blurred > 1e-6, blurred, 0.0).astype(np.float32)  # FFT ringing is noise, not light


def _downsample(stack, factor):
    """Box average by `factor` of a (C, h, w) stack whose h, w are multiples of it."""
    c, h, w = stack.shape
    rows = stack.reshape(c, h // factor, factor, w).sum(axis=2)
    return rows.reshape(c, h // factor, w // factor, factor).sum(axis=3) * np.float32(1.0 / (factor * factor))


def _upsample(stack, factor, axis):
    """Linear interpolation by `factor` along `axis` (pixel centres kept, edges clamped)."""
    n = stack.shape[axis]
    edges = [np.take(stack, [0], axis=axis), stack, np.take(stack, [n - 1], axis=axis)]
    padded = np.concatenate(edges, axis=axis)
    shape = list(stack.shape)
    shape[axis] = n * factor
    out = np.empty(shape, np.float32)

    def along(part):
        index = [slice(None)] * stack.ndim
        index[axis] = part
        return tuple(index)

    for phase in range(factor):
        offset = (phase + 0.5) / factor - 0.5   # position within the low pixel, in low pixels
        step = -1 if offset < 0 else 0
        t = np.float32(offset - step)
        low, high = padded[along(slice(1 + step, 1 + step + n))], padded[along(slice(2 + step, 2 + step + n))]
        out[along(slice(phase, None, factor))] = low + t * (high - low)
    return out


def _window(rows, cols, margin, factor):
    """Rows and columns around a layer's pixels, grown by its blur, aligned to its level."""
    y0 = max(0, (int(rows[0]) - margin) // factor * factor)
    x0 = max(0, (int(cols[0]) - margin) // factor * factor)
    y1 = y0 + -(-(int(rows[-1]) + 1 + margin - y0) // factor) * factor
    x1 = x0 + -(-(int(cols[-1]) + 1 + margin - x0) // factor) * factor
    return y0, y1, x0, x1


def _blur_layer(premultiplied, radius, lens):
    """Blur a (C, h, w) stack (h, w multiples of the level) by the aperture of `radius` px."""
    size = abs(radius)
    factor = _level(size)
    if factor == 1:
        return _separable_blur(premultiplied, _disk_marginal(size))
    low = _downsample(premultiplied, factor)
    # Box down + linear up add a variance of factor²/4; the disk's is radius²/4.
    level_radius = np.sqrt(max(size * size - factor * factor, 0.0)) / factor
    blurred = _fft_blur(low, aperture_kernel(np.copysign(max(level_radius, 1e-3), radius), lens))
    return _upsample(_upsample(blurred, factor, 1), factor, 2)


def _fill_behind(accumulated, window, radius):
    """Where what is behind a blurred layer was hidden in the all-in-focus image, guess it
    from its surroundings (box averages about the blur's size), so the layer's soft edge shows
    it through, as Cycles sees around a blurred foreground, instead of turning opaque."""
    behind = accumulated[window]
    coverage = behind[-1]
    if coverage.min() >= 0.999 or coverage.max() <= 0:  # nothing hidden, or nothing behind at all
        return
    factor = 2 ** int(np.ceil(np.log2(max(2.0, abs(radius)))))
    c, h, w = behind.shape
    crop = np.zeros((c, -(-h // factor) * factor, -(-w // factor) * factor), np.float32)
    crop[:, :h, :w] = behind
    estimate = _upsample(_upsample(_downsample(crop, factor), factor, 1), factor, 2)[:, :h, :w]
    known = estimate[-1] > 1e-4
    missing = np.where(known, 1.0 - coverage, 0.0)
    behind[:-1] += missing * estimate[:-1] / np.maximum(estimate[-1], 1e-4)
    behind[-1] += missing


def defocus(image, depth, lens, px_per_mm):
    """`image` (H, W, C) float, ideally scene-linear, as seen through `lens`; depth in metres.

    Pixels whose blur is at most a pixel across (and that no blurred foreground covers) come
    back unchanged, bit for bit.
    """
    image = np.asarray(image, np.float32)
    height, width, channels = image.shape
    layers = np.rint(_layer_coordinate(coc_radius_px(depth, lens, px_per_mm))).astype(np.int32)
    lowest = int(layers.min())
    present = np.flatnonzero(np.bincount((layers - lowest).ravel())) + lowest
    if all(abs(_layer_radius(index)) <= IN_FOCUS_PX for index in present):
        return image.copy()  # nothing blurs by a pixel or more: the whole frame is in focus
    colour = np.empty((channels + 1, height, width), np.float32)
    colour[:channels] = np.moveaxis(image, -1, 0)
    colour[channels] = 1.0
    accumulated = np.zeros_like(colour)
    for index in present[::-1]:  # farthest (largest signed blur) first
        mask = layers == index
        radius = _layer_radius(index)
        if abs(radius) <= IN_FOCUS_PX:  # exactly the image, fully covering what is behind
            np.copyto(accumulated, colour, where=mask)
            continue
        factor = _level(abs(radius))
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        y0, y1, x0, x1 = _window(rows, cols, int(np.ceil(abs(radius))) + 2, factor)
        inside_h, inside_w = min(y1, height) - y0, min(x1, width) - x0
        window = (slice(None), slice(y0, y0 + inside_h), slice(x0, x0 + inside_w))
        crop = np.zeros((channels + 1, y1 - y0, x1 - x0), np.float32)
        crop[:, :inside_h, :inside_w] = colour[window] * mask[window[1:]]
        layer = _blur_layer(crop, radius, lens)[:, :inside_h, :inside_w]
        _fill_behind(accumulated, window, radius)
        accumulated[window] = layer + (1 - layer[channels]) * accumulated[window]
    coverage, out = accumulated[channels], accumulated[:channels]
    empty = coverage <= 1e-6  # nothing reached these pixels: keep them as they were
    np.divide(out, coverage, out=out, where=(coverage != 1) & ~empty)
    if empty.any():
        np.copyto(out, colour[:channels], where=empty)
    return np.moveaxis(out, 0, -1)
