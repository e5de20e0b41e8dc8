"""Where a shot's takes and the bundles they were made from live (bpy-free). A take's record
itself is engine.bundle.take_record's TakeRecord, read with its `read_take`.

    TAKES_ROOT/<blend name>-<hash of its path>/<shot>/
        take-001-animatediff-s0/ ...   written by the engine (see docs/engine.md)
        bundles/001/                   the pass bundle each Generate exported

Every Generate exports a new bundle and keeps it: each take.json points at the bundle it
was made from, so its control passes can be reviewed and the take regenerated later.
"""

import hashlib
import re
import tempfile
from pathlib import Path

from ..engine.bundle import take_record

BUNDLES = "bundles"
_NUMBERED = re.compile(r"^\.?(\d+)(?:$|\.)")


def safe_name(text):
    """A file-name-safe version of a shot or file name (letters, digits, - and _)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")
    return cleaned or "untitled"


def project_folder_name(blend_path):
    """One folder per .blend: its name plus a short hash of its full path, so two files
    called shot.blend in different folders keep their takes apart."""
    if not blend_path:
        return "untitled"
    path = str(Path(blend_path).resolve())
    return f"{safe_name(Path(path).stem)}-{hashlib.sha1(path.encode()).hexdigest()[:8]}"


def fallback_takes_root(blend_path):
    """Takes root when there is no extension user folder: next to the .blend, else in temp."""
    if blend_path:
        return Path(blend_path).resolve().parent / "blockcast" / "takes"
    return Path(tempfile.gettempdir()) / "blockcast" / "takes"


def shot_takes_dir(takes_root, blend_path, shot_name):
    return Path(takes_root) / project_folder_name(blend_path) / safe_name(shot_name)


def new_bundle_dir(shot_dir):
    """The next numbered bundle folder under SHOT_DIR/bundles (not created: the exporter does)."""
    bundles = Path(shot_dir) / BUNDLES
    names = [p.name for p in bundles.iterdir()] if bundles.is_dir() else []
    numbers = [int(m.group(1)) for m in map(_NUMBERED.match, names) if m]  # partial exports count too
    return bundles / f"{max(numbers, default=0) + 1:03d}"


def project_cast_dir(take_dir):
    """Blockcast's folder for reference crops locked from a project's takes: beside its shots'
    folders (TAKES_ROOT/<project>/cast/), as looks belong to the scene, not to one shot."""
    return Path(take_dir).resolve().parent.parent / "cast"


def take_number(take_id):
    """3 for "take-003-previz-s2": takes are numbered in the order they were made; 0 if unnumbered."""
    found = re.match(r"^take-(\d+)", str(take_id))
    return int(found.group(1)) if found else 0


_NOTES_CACHE = {}  # take.json path -> (modification time, notes): panels redraw often


def cached_take_notes(take_dir):
    """(understood, ignored) of a take folder: what its engine followed and left out, as short
    lines; read once per change of its take record, None when unreadable."""
    path = Path(take_dir) / take_record.TAKE_RECORD
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    cached = _NOTES_CACHE.get(str(path))
    if cached is None or cached[0] != stamp:
        try:
            record = take_record.read_take(take_dir)
            cached = (stamp, (record.understood, record.ignored))
        except take_record.TakeRecordError:
            cached = (stamp, None)
        _NOTES_CACHE[str(path)] = cached
    return cached[1]
