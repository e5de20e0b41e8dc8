"""Where a shot's takes and the bundles they were made from live (bpy-free). A take's record
itself is engine.bundle.take_record's TakeRecord, read with its `read_take`.

    TAKES_ROOT/<project>/<shot>/
        take-001-previz-s0/ ...        written by the engine (see docs/engine.md)
        bundles/001/                   the pass bundle a Generate exported
            .blockcast-fingerprint     what it was exported from (addon/scene_fingerprint.py)
    TAKES_ROOT/<project>/cast/         reference crops locked from the project's takes

<project> is the scene's project id, stored in the .blend (the scene's `blockcast_project`
property) at its first Generate: "<file name>-<8 random hex digits>". The takes follow the
scene wherever the .blend is saved, so Save As keeps numbering a shot's takes in one folder.
Scenes from before the id adopt the folder named after their .blend's path hash when it exists.

A Generate whose scene and settings are those of one of the shot's bundles reuses it; any other
exports a new bundle and keeps it: each take.json points at the bundle it was made from, so
its control passes can be reviewed and the take regenerated later.
"""

import hashlib
import re
import secrets
import tempfile
from pathlib import Path

from ..engine.bundle import take_record

BUNDLES = "bundles"
_NUMBERED = re.compile(r"^\.?(\d+)(?:$|\.)")


def safe_name(text):
    """A file-name-safe version of a shot or file name (letters, digits, - and _)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")
    return cleaned or "untitled"


def legacy_project_id(blend_path):
    """The project folder Blockcast named before project ids: the .blend's name plus a short
    hash of its full path (so Save As moved the takes to a new folder)."""
    if not blend_path:
        return "untitled"
    path = str(Path(blend_path).resolve())
    return f"{safe_name(Path(path).stem)}-{hashlib.sha1(path.encode()).hexdigest()[:8]}"


def is_project_id(text):
    return isinstance(text, str) and bool(text) and safe_name(text) == text


def project_id(takes_root, stored, blend_path, strip_take_paths=()):
    """The scene's project id: the one stored in it; else the project folder its take strips
    are in (an id lost to Undo); else the legacy folder of this .blend when it exists under
    `takes_root`; else a new one, "<file name>-<8 random hex digits>"."""
    if is_project_id(stored):
        return stored
    root = Path(takes_root).resolve()
    for path in strip_take_paths:
        project = Path(path).resolve().parent.parent.parent  # <project>/<shot>/<take>/take.json
        if project.parent == root and is_project_id(project.name) and project.is_dir():
            return project.name
    legacy = legacy_project_id(blend_path)
    if blend_path and (root / legacy).is_dir():
        return legacy
    stem = safe_name(Path(blend_path).stem) if blend_path else "untitled"
    return f"{stem}-{secrets.token_hex(4)}"


def _relative_problem(field, where, blend_path):
    if not blend_path:
        return (f"{field} in {where} is relative to the .blend (//), which is not saved: Save the .blend first, "
                f"or set an absolute {field}")
    return f"{field} in {where} is a relative path: start it with // (the .blend's folder) or pick a folder"


def unsaved_problem(blend_path, takes_folder_preference, takes_root):
    """Why Generate cannot write takes for this file, in the panel's words; None when it can.
    An unsaved file's takes would land in a folder nobody named (or, for a // path, relative
    to Blender's working folder), so it needs saving or an explicit Takes Folder."""
    if not blend_path and not takes_folder_preference:
        return "the .blend is not saved: Save the .blend first, or set Takes Folder in Blockcast's Preferences"
    if not Path(takes_root).is_absolute():
        return _relative_problem("Takes Folder", "Blockcast's Preferences", blend_path)
    return None


def output_folder_problem(output_folder, blend_path):
    """Export Passes' check of its Output Folder as resolved (bpy.path.abspath): it must be
    absolute, as an unsaved file turns "//x" into "x", relative to Blender's working folder."""
    if not output_folder or not Path(output_folder).is_absolute():
        return _relative_problem("Output Folder", "Shot Export", blend_path)
    return None


def fallback_takes_root(blend_path):
    """Takes root when there is no extension user folder: next to the .blend, else in temp."""
    if blend_path:
        return Path(blend_path).resolve().parent / "blockcast" / "takes"
    return Path(tempfile.gettempdir()) / "blockcast" / "takes"


def shot_takes_dir(takes_root, project, shot_name):
    """TAKES_ROOT/<project id>/<shot>: every take of the shot, numbered in one sequence."""
    return Path(takes_root) / project / safe_name(shot_name)


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


def take_folder_seeds(shot_dir):
    """The seeds of the finished takes in a shot's folder (their take.json), strips or not."""
    seeds = set()
    folder = Path(shot_dir)
    for take in folder.iterdir() if folder.is_dir() else ():
        if take.name.startswith("take-") and (take / take_record.TAKE_RECORD).is_file():
            try:
                seeds.add(int(take_record.read_take(take).seed))
            except (take_record.TakeRecordError, OSError, TypeError, ValueError):
                continue
    return seeds


def seed_past(current, used):
    """The shot's Seed field after a Generate or Regenerate: past every seed used (never back
    down: a seed typed beyond them all stays)."""
    seeds = [int(seed) for seed in used]
    return max([int(current)] + [seed + 1 for seed in seeds])


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
