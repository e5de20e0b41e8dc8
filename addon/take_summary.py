"""What the Takes panel says about one take, from its take.json (bpy-free; read once per change).

The panel redraws many times a second, so a take's lines (thumbnail image, frame range and
length, date, what the engine understood) are read from take.json once and kept until the
file changes. The thumbnail is the take's first frame: a PNG Blender's previews load
directly (preview.mp4 would need a movie decoder per redraw).
"""

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..engine.bundle import take_record

_CACHE = {}  # take.json path -> (modification time, TakeSummary or None)
SUMMARY_LENGTH = 60


@dataclass(frozen=True)
class TakeSummary:
    thumbnail: str | None  # the first frame's path, when it is there
    frames: str            # "frames 11-58 (48)"
    date: str              # "2026-12-01 14:39 UTC", "" when take.json has no date
    understood: str        # the engine's understood notes, joined and shortened


def date_label(created):
    """take.json's ISO 8601 `created` as "YYYY-MM-DD HH:MM UTC"; "" when missing or unreadable."""
    if not created:
        return ""
    try:
        moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def frames_label(first, last):
    return f"frames {first}-{last} ({last - first + 1})"


def shorten(lines, length=SUMMARY_LENGTH):
    """Lines joined with "; ", cut at a word with "..." past `length` characters."""
    text = "; ".join(line.strip() for line in lines if line.strip())
    if len(text) <= length:
        return text
    return text[:length].rsplit(" ", 1)[0].rstrip(";,") + "..."


def summarize(take_dir, record):
    first, last = record.bundle.frame_range()
    thumbnail = Path(take_dir) / record.frames[0] if record.frames else None
    return TakeSummary(thumbnail=str(thumbnail) if thumbnail is not None and thumbnail.is_file() else None,
                       frames=frames_label(first, last), date=date_label(record.created),
                       understood=shorten(record.understood))


def cached_summary(take_json):
    """The TakeSummary of the take whose record is `take_json`; None when it is gone or damaged."""
    path = Path(take_json)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    cached = _CACHE.get(str(path))
    if cached is None or cached[0] != stamp:
        try:
            cached = (stamp, summarize(path.parent, take_record.read_take(path.parent)))
        except take_record.TakeRecordError:
            cached = (stamp, None)
        _CACHE[str(path)] = cached
    return cached[1]
