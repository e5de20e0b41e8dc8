"""Minimal, deterministic PNG encode/decode with zlib and numpy.

Blender's Python has no Pillow, and the bundle must be byte-identical when exported
twice, so the add-on and the engine share this small codec (8-bit gray/RGB/RGBA and
16-bit gray: what the bundle's control images use).
"""

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (gray, RGB, RGBA)
_CHANNELS = {v: k for k, v in _COLOR_TYPES.items()}


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(pixels):
    """PNG bytes for an (H, W) or (H, W, C) uint8 array, or an (H, W) uint16 array."""
    array = np.asarray(pixels)
    if array.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"PNG pixels must be uint8 or uint16, not {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    height, width, channels = array.shape
    if channels not in _COLOR_TYPES or (array.dtype == np.uint16 and channels != 1):
        raise ValueError(f"unsupported PNG layout {array.shape} {array.dtype}")
    bit_depth = 16 if array.dtype == np.uint16 else 8
    rows = array.astype(">u2" if bit_depth == 16 else np.uint8).reshape(height, -1).view(np.uint8)
    raw = np.hstack([np.zeros((height, 1), np.uint8), rows]).tobytes()  # filter type 0 per row
    header = struct.pack(">IIBBBBB", width, height, bit_depth, _COLOR_TYPES[channels], 0, 0, 0)
    return b"".join(
        (_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", zlib.compress(raw, 6)), _chunk(b"IEND", b""))
    )


def write_png(path, pixels):
    with open(path, "wb") as handle:
        handle.write(encode_png(pixels))


def _unfilter(filtered, height, stride, bpp):
    out = np.zeros((height, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for y in range(height):
        kind, line = filtered[y, 0], filtered[y, 1:].astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + prev) & 0xFF
        else:  # Sub, Average and Paeth depend on the pixel to the left: decode byte by byte
            row = np.zeros(stride, np.int32)
            for x in range(stride):
                left = row[x - bpp] if x >= bpp else 0
                up, up_left = prev[x], (prev[x - bpp] if x >= bpp else 0)
                if kind == 1:
                    pred = left
                elif kind == 3:
                    pred = (left + up) // 2
                else:
                    p = left + up - up_left
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                    pred = left if pa <= pb and pa <= pc else (up if pb <= pc else up_left)
                row[x] = (line[x] + pred) & 0xFF
        out[y] = prev = row
    return out.astype(np.uint8)


def read_png(path):
    """Decode a non-interlaced 8/16-bit gray, RGB or RGBA PNG into a numpy array."""
    with open(path, "rb") as handle:
        data = handle.read()
    if not data.startswith(_SIGNATURE):
        raise ValueError(f"{path} is not a PNG file")
    pos, idat, header = len(_SIGNATURE), [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError(f"{path}: PNG has no IHDR chunk")
    width, height, bit_depth, color_type, _, _, interlace = header
    if color_type not in _CHANNELS or bit_depth not in (8, 16) or interlace:
        raise ValueError(f"{path}: unsupported PNG (colour type {color_type}, {bit_depth}-bit, interlace {interlace})")
    channels = _CHANNELS[color_type]
    bpp = channels * bit_depth // 8
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(height, 1 + width * bpp)
    pixels = _unfilter(raw, height, width * bpp, bpp)
    if bit_depth == 16:
        pixels = pixels.view(">u2").astype(np.uint16)
    pixels = pixels.reshape(height, width, channels)
    return pixels[:, :, 0] if channels == 1 else pixels
