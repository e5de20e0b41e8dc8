"""A fingerprint of everything a pass export reads (bpy-free; addon/blender/scene_fingerprint.py
gathers the values), so Generate can tell that exporting the shot again would write a bundle
the shot already has, and reuse that bundle instead of writing an identical one.

The fingerprint is a hash, fed in order with labelled values: plain JSON-able values (floats
keep every bit: JSON writes a float's shortest exact repr) and numpy arrays (dtype, shape and
raw bytes). It is written as a hidden file inside the bundle once the export has finished, so
only complete bundles carry one, and a bundle that is removed takes its fingerprint with it.
Hidden files are not part of a bundle (engine.bundle.transfer.bundle_digest leaves them out).
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..engine.bundle import BundleError, read_bundle

FINGERPRINT_FILE = ".blockcast-fingerprint"
SCHEME = "blockcast.export-fingerprint/1"  # bump when what is hashed changes: old bundles then re-export
_SOURCE_SUFFIXES = (".py", ".toml", ".npz", ".json")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set, frozenset)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    if isinstance(value, Path):
        return str(value)
    return repr(value)  # anything else by its exact text, never silently skipped


class Fingerprint:
    """An incremental hash of labelled values; `hexdigest()` names the whole."""

    def __init__(self):
        self._hash = hashlib.blake2b(digest_size=20)
        self.add("scheme", SCHEME)

    def _record(self, kind, label, payload):
        header = f"{kind}:{len(label)}:{label}:{len(payload)}:".encode()
        self._hash.update(header)
        self._hash.update(payload)

    def add(self, label, value):
        """A JSON-able value (dicts are hashed with sorted keys)."""
        text = json.dumps(value, sort_keys=True, default=_json_default, separators=(",", ":"))
        self._record("v", label, text.encode())

    def add_array(self, label, array):
        array = np.ascontiguousarray(array)
        self._record("a", label, f"{array.dtype.str}{array.shape}".encode())
        self._hash.update(memoryview(array).cast("B"))

    def add_file(self, label, path):
        """A file by its contents (e.g. a reference image the export copies into the bundle)."""
        self.add(label, file_sha256(path))

    def hexdigest(self):
        return self._hash.hexdigest()


def file_sha256(path):
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    return digest.hexdigest()


_CODE_DIGESTS = {}


def code_digest(*roots):
    """A digest of Blockcast's own source files under `roots` (the add-on and the bundle format):
    a changed exporter, even unreleased, never reuses a bundle the old one wrote. Read once per
    session."""
    key = tuple(str(root) for root in roots)
    if key not in _CODE_DIGESTS:
        digest = hashlib.sha256()
        for root in roots:
            for path in sorted(Path(root).rglob("*")):
                if path.suffix in _SOURCE_SUFFIXES and "__pycache__" not in path.parts and path.is_file():
                    digest.update(f"{path.relative_to(root)}:{file_sha256(path)}\n".encode())
        _CODE_DIGESTS[key] = digest.hexdigest()
    return _CODE_DIGESTS[key]


def write_fingerprint(bundle_dir, fingerprint):
    """Store the fingerprint in the finished bundle (temp file, then rename)."""
    final = Path(bundle_dir) / FINGERPRINT_FILE
    temp = final.with_name(f"{FINGERPRINT_FILE}.{os.getpid()}.partial")
    temp.write_text(fingerprint + "\n", encoding="utf-8")
    os.replace(temp, final)


def read_fingerprint(bundle_dir):
    try:
        return (Path(bundle_dir) / FINGERPRINT_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _numbered_bundles(bundles_dir):
    """The complete bundle folders (named by number only), newest first."""
    if not Path(bundles_dir).is_dir():
        return []
    folders = [p for p in Path(bundles_dir).iterdir() if p.name.isdigit() and p.is_dir() and not p.is_symlink()]
    return sorted(folders, key=lambda p: int(p.name), reverse=True)


def matching_bundle(bundles_dir, fingerprint):
    """The newest bundle under `bundles_dir` exported from this very fingerprint whose manifest
    still reads; None when there is none (then the shot is exported again)."""
    for folder in _numbered_bundles(bundles_dir):
        if read_fingerprint(folder) != fingerprint:
            continue
        try:
            read_bundle(folder)
        except (BundleError, OSError, ValueError):
            continue
        return folder
    return None
