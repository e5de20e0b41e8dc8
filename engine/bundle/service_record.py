"""What the warm engine service (`python -m engine serve`) and its clients exchange as JSON.

Records whose attribute names are the JSON keys (stdlib only, so the add-on imports this
too): a job submission, a job's record (also kept as WORK/jobs/<id>/job.json) and the
health report. A job makes takes, or with `variations` set, one Variations folder (the contact
sheet of `python -m engine variations`), which GET /jobs/{id}/takes/{name} sends like a take.
Unknown keys are kept in `extra` and written back; missing keys take their
defaults, so a newer service and an older add-on still understand each other.
"""

from dataclasses import dataclass, field, fields
from types import UnionType
from typing import get_args

from .variations_record import DEFAULT_COUNT, DEFAULT_KEY_FRAMES, DEFAULT_TILE_WIDTH

QUEUED, RUNNING, FINISHED, FAILED, CANCELLED, INTERRUPTED = (
    "queued", "running", "finished", "failed", "cancelled", "interrupted")
STATES = (QUEUED, RUNNING, FINISHED, FAILED, CANCELLED, INTERRUPTED)
ENDED = (FINISHED, FAILED, CANCELLED, INTERRUPTED)  # a job in one of these states has its last event
GENERATE_JOB, VARIATIONS_JOB = "generate", "variations"
JOB_KINDS = (GENERATE_JOB, VARIATIONS_JOB)  # what this service's jobs make (HealthReport.job_kinds)


class ServiceRecordError(ValueError):
    """A service document whose field has the wrong type; the message names it."""


def _check(record_class, name, value):
    """The value if it fits the field's declared type (None where it says `X | None`), else ServiceRecordError."""
    declared = next(item for item in fields(record_class) if item.name == name).type
    options = get_args(declared) if isinstance(declared, UnionType) else (declared,)
    wanted = tuple(option for option in options if option is not type(None)) + ((int,) if float in options else ())
    if value is None and type(None) in options or isinstance(value, wanted) and not isinstance(value, bool):
        return value
    raise ServiceRecordError(f"{record_class.__name__} field {name!r} is {value!r}, not {declared}: "
                             "the add-on and the service may be from different versions; update both")


def _nested_record(declared):
    """The record class a field holds (`Record` or `Record | None`), or None for a plain value."""
    options = get_args(declared) if isinstance(declared, UnionType) else (declared,)
    return next((option for option in options if hasattr(option, "from_json")), None)


def _from_json(record_class, document):
    if not isinstance(document, dict):
        raise ServiceRecordError(f"a {record_class.__name__} is a JSON object, not {type(document).__name__}")
    nested = {item.name: _nested_record(item.type) for item in fields(record_class) if _nested_record(item.type)}
    known = {item.name for item in fields(record_class) if item.name != "extra"}
    values = {}
    for name in known & set(document):
        value = document[name]
        if name in nested and value is not None:
            values[name] = nested[name].from_json(value)
        else:
            values[name] = _check(record_class, name, value)
    return record_class(**values, extra={key: value for key, value in document.items() if key not in known})


def _to_json(record):
    document = {}
    for item in fields(record):
        if item.name == "extra":
            continue
        value = getattr(record, item.name)
        document[item.name] = value.to_json() if hasattr(value, "to_json") else value
    document.update((key, value) for key, value in record.extra.items() if key not in document)
    return document


class _Record:
    """A record whose dataclass fields are its JSON keys; unknown keys ride in `extra`."""

    def to_json(self):
        return _to_json(self)

    @classmethod
    def from_json(cls, document):
        return _from_json(cls, document)


@dataclass
class BundleSource(_Record):
    """Where a job's bundle is: uploaded (`digest`, see engine/bundle/transfer.py) or a folder the service reads."""

    digest: str | None = None
    path: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self):
        return {key: value for key, value in _to_json(self).items() if value is not None}


@dataclass
class VariationsSettings(_Record):
    """A Variations job's own settings (the `variations` command's --count, --key-frames, --tile-width)."""

    count: int = DEFAULT_COUNT
    key_frames: int = DEFAULT_KEY_FRAMES
    tile_width: int = DEFAULT_TILE_WIDTH
    extra: dict = field(default_factory=dict)


@dataclass
class JobSubmission(_Record):
    """POST /jobs: a GenerateRequest's JSON (engine/bundle/request.py) and its bundle; `variations`
    set: the job makes that many looks on one contact sheet instead of takes."""

    request: dict = field(default_factory=dict)
    bundle: BundleSource = field(default_factory=BundleSource)
    variations: VariationsSettings | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class JobRecord(_Record):
    """One job: its state (STATES), times (ISO 8601 UTC), request, bundle and the takes it made."""

    id: str = ""
    state: str = QUEUED
    created: str | None = None
    started: str | None = None
    ended: str | None = None
    request: dict = field(default_factory=dict)
    bundle_digest: str | None = None
    bundle_path: str | None = None     # the folder the service read the bundle from
    takes: list = field(default_factory=list)  # take (or variations) folder names, for GET /jobs/{id}/takes/{take}
    error: str | None = None
    variations: VariationsSettings | None = None   # a Variations job (JobSubmission.variations)
    extra: dict = field(default_factory=dict)

    @property
    def ended_state(self):
        return self.state in ENDED


@dataclass
class HealthReport(_Record):
    """GET /health: the engine's version, its backends, the loaded backends' cache keys and jobs per state."""

    engine: str = ""
    backends: list = field(default_factory=list)
    loaded: list = field(default_factory=list)
    jobs: dict = field(default_factory=dict)
    job_kinds: list = field(default_factory=lambda: [GENERATE_JOB])  # JOB_KINDS; an older service makes takes only
    extra: dict = field(default_factory=dict)
