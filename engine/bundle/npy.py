"""Reading the bundle's .npy arrays safely: numbers only, never pickle, sizes checked first.

A header that promises more (or less) data than the file holds, or Python objects, is a
ValueError before any data is read, so a damaged file can neither allocate a huge array
nor run code.
"""

import math
from tokenize import TokenError

import numpy as np


def npy_header(handle):
    """(shape, dtype) of an open .npy file, ValueError unless the data that follows is exactly
    the header's numbers (no Python objects, nothing missing): so the check reads no data."""
    version = np.lib.format.read_magic(handle)
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f"it is .npy version {version[0]}.{version[1]}; Blockcast writes 1.0")
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    try:
        shape, _, dtype = read_header(handle)
    except (SyntaxError, TokenError, TypeError, KeyError, RecursionError, MemoryError) as exc:
        raise ValueError(f"its header is damaged ({type(exc).__name__})") from None
    if dtype.hasobject:
        raise ValueError("it holds Python objects, not numbers")
    if dtype.kind not in "biuf":
        raise ValueError(f"its dtype {dtype} is not numbers")
    expected = math.prod(shape) * dtype.itemsize
    start = handle.tell()
    available = handle.seek(0, 2) - start
    handle.seek(start)
    if available != expected:
        raise ValueError(f"it holds {available} data bytes, its header says {expected}")
    return shape, dtype


def read_npy(path):
    """A .npy array of numbers, read without pickle; ValueError for anything else."""
    with open(path, "rb") as handle:
        npy_header(handle)
        handle.seek(0)
        return np.lib.format.read_array(handle, allow_pickle=False)
