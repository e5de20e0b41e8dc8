"""Resizing between the shot's size and a model's size without distorting the picture.

Models want sizes in multiples of 8 or 16, so the generation size rarely has exactly the
shot's aspect. Both directions scale to cover the target and crop the centre, so
controls, generated frames and the shot stay aligned pixel for pixel.
"""

import numpy as np
from PIL import Image


def cover_fit(src_w, src_h, dst_w, dst_h):
    """(scale, crop_x, crop_y): scale the source to cover dst, then crop this much off the
    left/top (in destination pixels) to centre it."""
    scale = max(dst_w / src_w, dst_h / src_h)
    return scale, (src_w * scale - dst_w) / 2, (src_h * scale - dst_h) / 2


def resize_cover(image, width, height, resample=Image.BICUBIC):
    """A PIL image scaled to cover (width, height) and centre-cropped to it."""
    if image.size == (width, height):
        return image
    scale, crop_x, crop_y = cover_fit(image.width, image.height, width, height)
    box = (crop_x / scale, crop_y / scale, (crop_x + width) / scale, (crop_y + height) / scale)
    return image.resize((width, height), resample=resample, box=box)


def to_uint8_frames(video):
    """Float frames in [0, 1] (F, H, W, 3) from a pipeline to uint8, rounding, not truncating."""
    return np.clip(np.rint(np.asarray(video, np.float32) * 255.0), 0, 255).astype(np.uint8)
