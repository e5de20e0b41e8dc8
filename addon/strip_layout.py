"""Where takes land in the Video Sequence Editor and what their strips remember (bpy-free).

A shot's takes start at its first frame on the channel named after the shot; variations
go on the free channels above. Existing strips are never moved: a channel is used only
where it is empty over the shot's frames, and channels named after other shots are left
to them. Each take strip carries its take's record (take.json path, seed, prompt, backend,
models) as custom properties, so any take can be found, reproduced or regenerated.
"""

import re
from pathlib import Path

from ..engine.bundle.take_record import TAKE_RECORD

MAX_CHANNEL = 128
PREFIX = "blockcast_"
INSET_SCALE = 1 / 3  # control strips review as insets along the bottom of the frame
_DEFAULT_CHANNEL_NAME = re.compile(r"^(Channel \d+)?$")
_INT32_MAX = 2**31 - 1


class LayoutError(ValueError):
    """The takes do not fit in the sequencer; the message says what to do."""


def is_default_channel_name(name):
    return bool(_DEFAULT_CHANNEL_NAME.match(name or ""))


def _overlaps(start, end, other_start, other_end):
    return start < other_end and other_start < end


def pick_channels(count, start, end, occupied, names, shot, lowest=1):
    """(home, channels): the shot's channel and one channel per new strip over frames
    [start, end). `occupied` lists (channel, start, end) of existing strips (end exclusive);
    `names` maps channel -> name. `home` is None when the shot already has its channel.
    """
    taken = list(occupied)
    named_home = next((channel for channel in sorted(names) if names[channel] == shot), None)

    def usable(channel):
        if channel < lowest or not (channel == named_home or is_default_channel_name(names.get(channel, ""))):
            return False
        return not any(c == channel and _overlaps(start, end, s, e) for c, s, e in taken)

    picked = []
    channel = max(named_home or lowest, lowest)
    while len(picked) < count:
        if channel > MAX_CHANNEL:
            raise LayoutError(f"no free channel for shot {shot!r} over frames {start}-{end - 1}: every channel up to "
                              f"{MAX_CHANNEL} is used or named after another shot; free or rename a channel")
        if usable(channel):
            picked.append(channel)
            taken.append((channel, start, end))
        channel += 1
    return (None if named_home is not None else (picked[0] if picked else None)), picked


def channels_above(occupied_channels, lowest=1):
    """The first channel above every listed one (for review strips stacked over the takes)."""
    return max([lowest - 1, *occupied_channels]) + 1


def take_strip_name(shot, take_id):
    return f"{shot} {take_id}"


def _id_property_int(value):
    """Blender's integer custom properties are 32-bit; larger seeds are kept as text."""
    value = int(value)
    return value if -_INT32_MAX - 1 <= value <= _INT32_MAX else str(value)


def take_properties(record, take_dir, shot):
    """The custom properties a take's strip carries (everything needed to find and redo it), from
    its TakeRecord. Their keys name Blender custom properties saved in .blend files, not take.json
    fields, and stay as they are whatever take.json becomes."""
    return {
        PREFIX + "shot": shot,
        PREFIX + "take": record.take,
        PREFIX + "take_json": str(Path(take_dir) / TAKE_RECORD),
        PREFIX + "seed": _id_property_int(record.seed),
        PREFIX + "prompt": record.prompt,
        PREFIX + "negative_prompt": record.negative_prompt,
        PREFIX + "backend": record.backend,
        PREFIX + "models": {role: model.source for role, model in record.models.items()},
        PREFIX + "bundle": record.bundle.path,
    }


def next_seed(used_seeds):
    """A seed no take of the shot has used yet: one past the largest."""
    return max((int(seed) for seed in used_seeds), default=-1) + 1


def inset_transform(index, width, height, scale=INSET_SCALE):
    """(scale, offset_x, offset_y) placing review inset `index` along the bottom edge, left
    to right, over a frame of width x height (offsets from the frame's centre, in pixels)."""
    per_row = int(1 / scale)
    column, row = index % per_row, index // per_row
    offset_x = -width / 2 + width * scale * (column + 0.5)
    offset_y = -height / 2 + height * scale * (row + 0.5)
    return scale, offset_x, offset_y
