"""Read the uncompressed multilayer EXR files Blender writes for render passes (bpy-free).

Blender has no Python API that hands back a render pass's pixels headless, but it
writes every pass into one multilayer EXR. With compression off that file is a simple
layout (single- or multi-part scanline images), so a short numpy reader gets the
exact float values without OpenEXR bindings.
"""

import struct

import numpy as np

_MAGIC = 20000630
_MULTIPART = 0x1000
_PIXEL_TYPES = {0: np.dtype("<u4"), 1: np.dtype("<f2"), 2: np.dtype("<f4")}


def _cstring(data, pos):
    end = data.index(b"\0", pos)
    return data[pos:end].decode("utf-8"), end + 1


def _read_header(data, pos):
    header = {}
    while True:
        name, pos = _cstring(data, pos)
        if not name:
            return header, pos
        kind, pos = _cstring(data, pos)
        (size,) = struct.unpack_from("<i", data, pos)
        header[name] = (kind, data[pos + 4:pos + 4 + size])
        pos += 4 + size


def _channels(raw):
    channels, pos = [], 0
    while raw[pos] != 0:
        name, pos = _cstring(raw, pos)
        pixel_type, _linear, x_sampling, y_sampling = struct.unpack_from("<iB3xii", raw, pos)
        if (x_sampling, y_sampling) != (1, 1):
            raise ValueError(f"EXR channel {name} is subsampled")
        channels.append((name, _PIXEL_TYPES[pixel_type]))
        pos += 16
    return sorted(channels)  # pixel data is stored in channel-name order


def read_exr_channels(path):
    """All channels of an uncompressed scanline EXR as {"Layer.Pass.X": (H, W) float32}."""
    with open(path, "rb") as handle:
        data = handle.read()
    magic, version = struct.unpack_from("<ii", data, 0)
    if magic != _MAGIC:
        raise ValueError(f"{path} is not an OpenEXR file")
    multipart = bool(version & _MULTIPART)
    headers, pos = [], 8
    while True:
        header, pos = _read_header(data, pos)
        headers.append(header)
        if not multipart or data[pos] == 0:
            pos += 1 if multipart else 0
            break
    for header in headers:
        if header["compression"][1] != b"\0":
            raise ValueError(f"{path}: compressed EXR; the exporter writes them with codec NONE")
    # Offset tables follow the headers; chunks are self-describing, so read them in order.
    tables = []
    for header in headers:
        xmin, ymin, xmax, ymax = struct.unpack("<iiii", header["dataWindow"][1])
        count = struct.unpack("<i", header["chunkCount"][1])[0] if "chunkCount" in header else ymax - ymin + 1
        tables.append(np.frombuffer(data, "<u8", count, pos))
        pos += 8 * count
    result = {}
    for index, (header, offsets) in enumerate(zip(headers, tables)):
        xmin, ymin, xmax, ymax = struct.unpack("<iiii", header["dataWindow"][1])
        width, height = xmax - xmin + 1, ymax - ymin + 1
        channels = _channels(header["channels"][1])
        row_bytes = sum(dtype.itemsize for _, dtype in channels) * width
        planes = {name: np.empty((height, width), np.float32) for name, _ in channels}
        for offset in offsets:
            chunk = int(offset) + (4 if multipart else 0)
            y, size = struct.unpack_from("<ii", data, chunk)
            lines = size // row_bytes
            block = memoryview(data)[chunk + 8:chunk + 8 + size]
            for line in range(lines):
                pos_in = line * row_bytes
                for name, dtype in channels:
                    n = dtype.itemsize * width
                    planes[name][y - ymin + line] = np.frombuffer(block[pos_in:pos_in + n], dtype)
                    pos_in += n
        result.update(planes)
    return result


def read_pass(channels, pass_names, components):
    """Stack one pass's components, e.g. read_pass(ch, "Normal", "XYZ") -> (H, W, 3); top row first.

    `pass_names` may be a tuple of the names different Blender versions give the same pass."""
    names = (pass_names,) if isinstance(pass_names, str) else tuple(pass_names)
    prefix = next((key.rsplit(".", 1)[0] for key in channels if key.rsplit(".", 2)[-2] in names), None)
    if prefix is None:
        raise KeyError(f"render pass {names[0]!r} is not in the EXR (has {sorted(channels)})")
    planes = [channels[f"{prefix}.{c}"] for c in components]
    return planes[0] if len(planes) == 1 else np.stack(planes, axis=-1)
