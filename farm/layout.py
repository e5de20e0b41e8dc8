"""Where a farm job's tasks read and write, all below the job's output folder.

Every task derives its paths from here, so the job writers, the merge and generation
tasks and the assembly agree without passing lists of paths between tasks:

    OUTPUT/chunks/SHOT/A-B/          pass bundle of frames A-B (one export task each)
    OUTPUT/bundles/SHOT/             the shot's merged bundle
    OUTPUT/takes/SHOT/batch-F-L/     takes F..L of the shot (one generation task each)
    OUTPUT/edit/                     the assembled sequencer .blend and preview MP4s
"""

import re

CHUNKS, BUNDLES, TAKES, EDIT = "chunks", "bundles", "takes", "edit"


class LayoutError(ValueError):
    """A job cannot be laid out as asked; the message says what to change."""


def shot_folder(shot_name):
    """A folder name for a shot that any file system and farm accepts, and no command line takes
    for an option (no leading '-')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", shot_name).strip("._-") or "shot"


def chunk_ranges(frame_start, frame_end, chunk_size):
    """[(A, B), ...]: the shot's frames in chunks of `chunk_size`, the last one shorter."""
    if chunk_size < 1:
        raise LayoutError(f"chunk size {chunk_size} must be at least 1 frame")
    return [(start, min(start + chunk_size - 1, frame_end)) for start in range(frame_start, frame_end + 1, chunk_size)]


def format_range(start, end):
    return f"{start}-{end}"


def parse_ranges(text):
    """'1-8,9-12' -> [(1, 8), (9, 12)]."""
    ranges = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        start, sep, end = item.partition("-")
        if not sep or not start.isdigit() or not end.isdigit():
            raise LayoutError(f"frame range {item!r} is not A-B (e.g. 1-8)")
        ranges.append((int(start), int(end)))
    if not ranges:
        raise LayoutError("no frame ranges given (e.g. 1-8,9-12)")
    return ranges


def batch_takes(first_take, takes_per_task, total_takes):
    """The take numbers (1-based) that the generation task starting at `first_take` makes."""
    if min(first_take, takes_per_task, total_takes) < 1:
        raise LayoutError("take numbers, takes per task and the number of takes must be at least 1")
    return list(range(first_take, min(first_take + takes_per_task - 1, total_takes) + 1))


def batch_folder(takes):
    return f"batch-{takes[0]:03d}-{takes[-1]:03d}"
