"""The engine's progress events: one JSON object per stdout line, as typed records.

`python -m engine generate` writes them (engine/progress.py stamps `time` and writes the
line); the add-on reads them back with `parse_event` (farm tasks pass them through). Each record's
attribute names are its JSON keys, after `event` (the kind) and `time` (seconds since the
epoch, when it was written). Stdlib only: the add-on imports this inside Blender.

Readers are tolerant, so an add-on can drive a newer or older engine: an unknown kind becomes
an `OtherEvent` (kept, ignored by whoever does not know it), unknown keys are kept in `extra`
and written back, missing keys take their defaults. A known key of the wrong type is an
`EventError` naming it.
"""

import json
import types
from dataclasses import dataclass, field, fields
from typing import ClassVar, get_args, get_origin, get_type_hints

_ENVELOPE = {"envelope": True}  # field metadata: not one of the event's own JSON keys


class EventError(ValueError):
    """An event whose known field has the wrong type."""


@dataclass(kw_only=True)
class Event:
    """Fields every event carries; subclasses add their own and name their kind in KIND."""

    KIND: ClassVar[str] = ""
    time: float | None = field(default=None, metadata=_ENVELOPE)
    extra: dict = field(default_factory=dict, metadata=_ENVELOPE)

    @property
    def event(self):
        return self.KIND

    def to_json(self):
        """The event as today's JSON object: `event`, `time`, the kind's fields, then `extra`."""
        document = {"event": self.event, "time": self.time}
        document.update((item.name, getattr(self, item.name)) for item in fields(self) if not item.metadata)
        document.update((key, value) for key, value in self.extra.items() if key not in document)
        return document

    def to_line(self):
        """One line of JSON (without the newline), as the engine writes it on stdout."""
        return json.dumps(self.to_json(), default=str)  # a stray Path is written as text, as before

    @classmethod
    def from_json(cls, document):
        """The typed event of a JSON object; `Event.from_json` picks the class from `event`."""
        if not isinstance(document, dict) or not isinstance(document.get("event"), str):
            raise EventError("an event is a JSON object whose `event` key names its kind")
        kind = document["event"]
        event_class = EVENTS.get(kind, OtherEvent) if cls is Event else cls
        if event_class is not OtherEvent and event_class.KIND != kind:
            raise EventError(f"a {kind!r} event was given where a {event_class.KIND!r} event was expected")
        hints = get_type_hints(event_class)
        known = {item.name for item in fields(event_class) if not item.metadata} | {"time"}
        values = {}
        for name in known & set(document):
            if not _accepts(hints[name], document[name]):
                raise EventError(f"the {kind!r} event's {name!r} is {document[name]!r}, not {_spelled(hints[name])}: "
                                 "the add-on and the engine may be from different versions; update both")
            values[name] = document[name]
        extra = {key: value for key, value in document.items() if key not in known and key != "event"}
        if event_class is OtherEvent:
            return OtherEvent(kind=kind, time=values.get("time"), extra=extra)
        return event_class(**values, extra=extra)


@dataclass(kw_only=True)
class OtherEvent(Event):
    """An event of a kind this reader does not know (a newer engine's): kept, not understood."""

    kind: str = field(default="", metadata=_ENVELOPE)

    @property
    def event(self):
        return self.kind


@dataclass(kw_only=True)
class LoadEvent(Event):
    """Models are loading for `backend` on `device`; `models` is role → where it came from."""

    KIND: ClassVar[str] = "load"
    backend: str = ""
    device: str = ""
    models: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class ControlsEvent(Event):
    """The control images were written for review into `path`."""

    KIND: ClassVar[str] = "controls"
    path: str = ""
    kinds: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class WarningEvent(Event):
    """Something went wrong that does not stop the generation."""

    KIND: ClassVar[str] = "warning"
    message: str = ""


@dataclass(kw_only=True)
class StartEvent(Event):
    """A take begins: `frames` shot frames, `steps` denoising steps, `size` [W, H], `windows` chunks."""

    KIND: ClassVar[str] = "start"
    take: str | None = None
    backend: str = ""
    seed: int = 0
    frames: int = 0
    steps: int = 0
    size: list[int] = field(default_factory=list)
    windows: int = 0


@dataclass(kw_only=True)
class WindowEvent(Event):
    """Window `index` of `count` covers shot frames `start`..`end` (Blender frame numbers)."""

    KIND: ClassVar[str] = "window"
    take: str | None = None
    index: int = 0
    count: int = 0
    start: int = 0
    end: int = 0


@dataclass(kw_only=True)
class StepEvent(Event):
    """Denoising step `step` of `total` finished."""

    KIND: ClassVar[str] = "step"
    take: str | None = None
    step: int = 0
    total: int = 0


@dataclass(kw_only=True)
class FrameEvent(Event):
    """Frame `index` of the take (shot frame `frame`) was written at `path`, relative to the take."""

    KIND: ClassVar[str] = "frame"
    take: str | None = None
    index: int = 0
    frame: int = 0
    path: str = ""


@dataclass(kw_only=True)
class LensEvent(Event):
    """The blocking's lens (depth of field, motion blur) was applied to frame `index` of `count`
    (shot frame `frame`); the sharp frame is kept at `unblurred`, relative to the take."""

    KIND: ClassVar[str] = "lens"
    take: str | None = None
    index: int = 0
    count: int = 0
    frame: int = 0
    unblurred: str = ""


@dataclass(kw_only=True)
class VariationEvent(Event):
    """Variation `index` of `count` (look seed `seed`) is ready: its tile is at `tile`, relative to
    the variations folder (`python -m engine variations`; the folder is named by FinishedEvent)."""

    KIND: ClassVar[str] = "variation"
    index: int = 0
    count: int = 0
    seed: int = 0
    tile: str = ""


@dataclass(kw_only=True)
class DoneEvent(Event):
    """A take is complete: its folder `path` now holds every frame and its take.json."""

    KIND: ClassVar[str] = "done"
    take: str | None = None
    path: str = ""
    frames: int = 0
    seconds: float = 0.0


@dataclass(kw_only=True)
class CancelledEvent(Event):
    """The run stopped on request; the unfinished take `take` (if any) was removed."""

    KIND: ClassVar[str] = "cancelled"
    take: str | None = None
    message: str = ""


@dataclass(kw_only=True)
class ErrorEvent(Event):
    """The run failed; `message` says what to do about it."""

    KIND: ClassVar[str] = "error"
    take: str | None = None
    message: str = ""


@dataclass(kw_only=True)
class FinishedEvent(Event):
    """The run succeeded: `takes` are the folders made, in order."""

    KIND: ClassVar[str] = "finished"
    takes: list[str] = field(default_factory=list)


EVENTS = {event_class.KIND: event_class
          for event_class in (LoadEvent, ControlsEvent, WarningEvent, StartEvent, WindowEvent, StepEvent, FrameEvent,
                               LensEvent, VariationEvent, DoneEvent, CancelledEvent, ErrorEvent, FinishedEvent)}


def parse_event(line):
    """The typed event on one stdout line, else None (the engine's chatter, or a malformed event)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        return Event.from_json(json.loads(line))
    except ValueError:  # not JSON, not an event, or a known field of the wrong type: kept as chatter
        return None


def _accepts(hint, value):
    options = get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return any(_is(option, value) for option in options)


def _is(option, value):
    if option is type(None):
        return value is None
    if isinstance(value, bool):
        return option is bool
    if option is float:
        return isinstance(value, (int, float))
    return isinstance(value, get_origin(option) or option)


def _spelled(hint):
    options = get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    names = {type(None): "null", int: "an integer", float: "a number", str: "a string", list: "a list",
             dict: "an object"}
    return " or ".join(names.get(get_origin(option) or option, str(option)) for option in options)
