"""Minimal, deterministic PNG encode/decode with zlib and numpy.

Blender's Python has no Pillow, and the bundle must be byte-identical when exported
twice, so the add-on and the engine share this small encoder (8-bit gray/RGB/RGBA, 16-bit
gray and 16-bit RGB: what the bundle's control images use). Reading uses Pillow where it is
importable (the engine: about 1000x faster on PNGs other tools filtered) and the pure
decoder below otherwise (Blender); both accept the same files and return the same arrays,
and every malformed file is a ValueError naming it.
"""

import io
import struct
import zlib

import numpy as np

try:
    from PIL import Image as _Image
except ImportError:  # Blender's Python: decode with numpy and zlib alone
    _Image = None

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (gray, RGB, RGBA)
_CHANNELS = {v: k for k, v in _COLOR_TYPES.items()}


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(pixels):
    """PNG bytes for an (H, W) or (H, W, C) uint8 array, or an (H, W) or (H, W, 3) uint16 array."""
    array = np.asarray(pixels)
    if array.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"PNG pixels must be uint8 or uint16, not {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    height, width, channels = array.shape
    if channels not in _COLOR_TYPES or (array.dtype == np.uint16 and channels not in (1, 3)):
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
        elif kind > 4:
            raise ValueError(f"row {y} has unknown filter type {kind}")
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


def _chunks(data):
    """(kind, body) of each chunk up to IEND, CRCs checked."""
    pos, chunks = len(_SIGNATURE), []
    while True:
        if pos + 12 > len(data):
            raise ValueError("the file ends before its IEND chunk (truncated)")
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            raise ValueError(f"chunk {kind!r} is cut short (truncated)")
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if crc != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise ValueError(f"chunk {kind!r} is damaged (CRC mismatch)")
        chunks.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            return chunks


def _header(chunks):
    """(width, height, bit depth, channels) from IHDR, refusing what this codec does not read."""
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise ValueError("PNG has no IHDR chunk first")
    width, height, bit_depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if color_type not in _CHANNELS or bit_depth not in (8, 16) or interlace or not width or not height:
        raise ValueError(f"unsupported PNG (colour type {color_type}, {bit_depth}-bit, interlace {interlace}, "
                         f"{width}x{height})")
    return width, height, bit_depth, _CHANNELS[color_type]


def _decode_pure(chunks, width, height, bit_depth, channels):
    bpp = channels * bit_depth // 8
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    if len(raw) != height * (1 + width * bpp):
        raise ValueError(f"image data holds {len(raw)} bytes, its {width}x{height} header needs "
                         f"{height * (1 + width * bpp)} (truncated or damaged)")
    pixels = _unfilter(np.frombuffer(raw, np.uint8).reshape(height, 1 + width * bpp), height, width * bpp, bpp)
    if bit_depth == 16:
        pixels = pixels.view(">u2").astype(np.uint16)
    return pixels.reshape(height, width, channels)


def _decode_pillow(data, width, height, bit_depth, channels):
    try:
        with _Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            image.load()
            pixels = np.asarray(image)
    except _Image.DecompressionBombError as exc:
        raise ValueError(str(exc)) from None
    if pixels.shape[:2] != (height, width):
        raise ValueError(f"decoded {pixels.shape} from a {width}x{height} header")
    pixels = pixels.astype(np.uint16 if bit_depth == 16 else np.uint8)
    return pixels.reshape(height, width, channels)


def _read_signed(path):
    """The file's bytes, refused unless they start with the PNG signature."""
    with open(path, "rb") as handle:
        data = handle.read()
    if not data.startswith(_SIGNATURE):
        raise ValueError(f"{path}: not a PNG file")
    return data


def check_png(path):
    """(width, height, bit depth, channels) of a PNG that read_png decodes, proven without
    building the image (every chunk's CRC, the whole image stream inflated to exactly its
    size, each row's filter type): several times faster than decoding, so `check` can
    afford every frame. ValueError "PATH: reason" otherwise."""
    data = _read_signed(path)
    try:
        chunks = _chunks(data)
        width, height, bit_depth, channels = _header(chunks)
        stride = 1 + width * channels * bit_depth // 8
        inflater = zlib.decompressobj()
        raw = inflater.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"), height * stride + 1)
        if not inflater.eof or len(raw) != height * stride:
            raise ValueError(f"image data is not {height * stride} bytes, as its {width}x{height} header needs "
                             "(truncated or damaged)")
        if max(raw[::stride]) > 4:
            raise ValueError("a row has an unknown filter type")
    except (ValueError, zlib.error, struct.error, MemoryError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    return width, height, bit_depth, channels


def read_png(path):
    """Decode a non-interlaced 8-bit gray, RGB or RGBA, or 16-bit PNG into a numpy array
    ((H, W) for one channel); ValueError "PATH: reason" for anything else or anything damaged."""
    data = _read_signed(path)
    try:
        chunks = _chunks(data)
        width, height, bit_depth, channels = _header(chunks)
        # Pillow reads 16-bit colour as 8-bit: those (the tracking pass) are decoded here.
        if _Image is not None and (bit_depth == 8 or channels == 1):
            pixels = _decode_pillow(data, width, height, bit_depth, channels)
        else:
            pixels = _decode_pure(chunks, width, height, bit_depth, channels)
    except (ValueError, OSError, SyntaxError, EOFError, zlib.error, struct.error, MemoryError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    return pixels[:, :, 0] if channels == 1 else pixels
