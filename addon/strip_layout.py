"""Where takes land in the Video Sequence Editor and what their strips remember (bpy-free).

Each shot owns a block of channels whose names say the shot, so the channel list reads as
the shot list:

    "A"                 the accepted take (it plays)
    "A alt 1", "A alt 2" ...  the shot's other takes, muted
    "A depth control" ...     the control images its model saw, one channel per kind, muted

A block starts on the lowest empty, unnamed channels and takes two spare alternate channels
with it, so the next New Seed stays inside the block; later takes fill the shot's
own alternate channels first and only then claim the next empty unnamed channel above.
A channel is claimed only when it is unnamed and holds no strip at all, so nothing already
in the sequencer is moved or relabelled, and a channel named for another shot is never used.
Each take strip carries its take's record (take.json path, seed, prompt, backend, models)
as custom properties, so any take can be found, reproduced or regenerated.
"""

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..engine.bundle.take_record import TAKE_RECORD

MAX_CHANNEL = 128
PREFIX = "blockcast_"
SPARE_ALTERNATES = 2  # alternate channels a new block reserves beyond the takes it gets now
_DEFAULT_CHANNEL_NAME = re.compile(r"^(Channel \d+)?$")
_INT32_MAX = 2**31 - 1


class LayoutError(ValueError):
    """The takes do not fit in the sequencer; the message says what to do."""


def is_default_channel_name(name):
    return bool(_DEFAULT_CHANNEL_NAME.match(name or ""))


def alternate_name(shot, number):
    return f"{shot} alt {number}"


def control_name(shot, kind):
    return f"{shot} {kind} control"


@dataclass
class ShotBlock:
    """The channels named for one shot: its home (accepted take), alternates and controls."""
    shot: str
    home: int | None = None
    alternates: dict = field(default_factory=dict)  # number -> channel
    controls: dict = field(default_factory=dict)    # control kind -> channel

    @classmethod
    def read(cls, names, shot):
        """The shot's block from `names` (channel -> name)."""
        block = cls(shot)
        alternate = re.compile(re.escape(shot) + r" alt (\d+)")
        control = re.compile(re.escape(shot) + r" (\w+) control")
        for channel in sorted(names):
            name = names[channel]
            if name == shot and block.home is None:
                block.home = channel
            elif found := alternate.fullmatch(name):
                block.alternates.setdefault(int(found.group(1)), channel)
            elif found := control.fullmatch(name):
                block.controls.setdefault(found.group(1), channel)
        return block

    def channels(self):
        return [c for c in (self.home, *self.alternates.values(), *self.controls.values()) if c is not None]


def _overlaps(start, end, other_start, other_end):
    return start < other_end and other_start < end


def _free_over(channel, start, end, occupied):
    return not any(c == channel and _overlaps(start, end, s, e) for c, s, e in occupied)


class _Claims:
    """Hands out empty, unnamed channels, lowest first, above `floor` where it can."""

    def __init__(self, occupied, names, shot):
        used = {c for c, _, _ in occupied}
        self.free = [c for c in range(1, MAX_CHANNEL + 1)
                     if c not in used and is_default_channel_name(names.get(c, ""))]
        self.shot = shot

    def take(self, count, floor=0, what="take"):
        above = [c for c in self.free if c > floor]
        picked = (above + [c for c in self.free if c <= floor])[:count]
        if len(picked) < count:
            raise LayoutError(f"no free channel for shot {self.shot!r}'s {what}: every channel up to {MAX_CHANNEL} "
                              f"holds strips or is named for a shot; free or rename a channel")
        self.free = [c for c in self.free if c not in picked]
        return picked


@dataclass
class TakesPlan:
    """Where new takes go: one (channel, accepted) per take, and the channels to (re)name."""
    slots: list
    names: dict


def plan_takes(count, start, end, occupied, names, shot, has_accepted):
    """Channels for `count` new takes of `shot` over frames [start, end) (end exclusive).
    `occupied` lists (channel, start, end) of existing strips; `names` maps channel -> name.
    Without an accepted take the first new one is accepted and goes on the shot's home
    channel; the rest fill the shot's free alternate channels, then new ones above."""
    block = ShotBlock.read(names, shot)
    claims = _Claims(occupied, names, shot)
    new_names, slots = {}, []
    fresh = not block.channels()
    if fresh:  # a new block: the lowest empty channels, with spare alternates where there are more
        needed = count + (1 if has_accepted else 0)
        run = claims.take(min(needed + SPARE_ALTERNATES, max(needed, len(claims.free))), what="takes")
        block.home = run[0]
        new_names[run[0]] = shot
        for number, channel in enumerate(run[1:], 1):
            block.alternates[number] = channel
            new_names[channel] = alternate_name(shot, number)
    taken = list(occupied)
    if not has_accepted and count:
        if block.home is None:
            block.home = claims.take(1, what="accepted take")[0]
            new_names[block.home] = shot
        if _free_over(block.home, start, end, taken):
            slots.append((block.home, True))
            taken.append((block.home, start, end))
    for number in sorted(block.alternates):
        channel = block.alternates[number]
        if len(slots) < count and _free_over(channel, start, end, taken):
            slots.append((channel, not has_accepted and not slots))
            taken.append((channel, start, end))
    missing = count - len(slots)
    if missing:
        first_number = max(block.alternates, default=0) + 1
        for number, channel in enumerate(claims.take(missing, max(block.channels(), default=0), "alternates"),
                                         first_number):
            new_names[channel] = alternate_name(shot, number)
            slots.append((channel, not has_accepted and not slots))
    return TakesPlan(slots, new_names)


def plan_controls(kinds, start, end, occupied, names, shot):
    """{kind: channel} for control strips of `shot`, on its "<shot> <kind> control" channels,
    claiming new ones above the block; and the channels to name."""
    block = ShotBlock.read(names, shot)
    claims = _Claims(occupied, names, shot)
    channels, new_names = {}, {}
    for kind in kinds:
        channel = block.controls.get(kind)
        if channel is None or not _free_over(channel, start, end, occupied):
            channel = claims.take(1, max(block.channels() + list(channels.values()), default=0), f"{kind} control")[0]
            new_names[channel] = control_name(shot, kind)
        channels[kind] = channel
    return channels, new_names


def grid_shape(count):
    """(columns, rows) of the most square grid holding `count` tiles, wider than tall."""
    columns = max(1, math.ceil(math.sqrt(count)))
    return columns, max(1, math.ceil(count / columns))


def grid_transform(index, count, width, height):
    """(scale, offset_x, offset_y) placing tile `index` of `count` in a grid over a frame of
    width x height, left to right from the top row, the grid centred (offsets from the frame's
    centre in pixels, y up, as strip transforms use)."""
    columns, rows = grid_shape(count)
    scale = 1 / columns
    column, row = index % columns, index // columns
    offset_x = -width / 2 + width * scale * (column + 0.5)
    offset_y = height * scale * (rows / 2 - row - 0.5)
    return scale, offset_x, offset_y


def free_channel(start, end, occupied, avoid=()):
    """The highest channel with no strip over [start, end) (a parking place while swapping)."""
    for channel in range(MAX_CHANNEL, 0, -1):
        if channel not in avoid and _free_over(channel, start, end, occupied):
            return channel
    raise LayoutError(f"no channel is free over frames {start}-{end - 1}: free one to swap takes")


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
