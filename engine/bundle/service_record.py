"""What the warm engine service (`python -m engine serve`) and its clients exchange as JSON.

Records whose attribute names are the JSON keys (stdlib only, so the add-on imports this
too): a job submission, a job's record (also kept as WORK/jobs/<id>/job.json) and the
health report. A job makes takes, or with `variations` set, one Variations folder (the contact
sheet of `python -m engine variations`), which GET /jobs/{id}/takes/{name} sends like a take.
Typed records (engine/bundle/typed_record.py): a field of the wrong type is refused naming it;
unknown keys are kept in `extra` and written back; missing keys take their defaults, so a newer
service and an older add-on still understand each other.
"""

from dataclasses import dataclass, field

from .typed_record import TypedRecord, if_none, key, lists, nested, objects, optional, text, texts, whole
from .variations_record import DEFAULT_COUNT, DEFAULT_KEY_FRAMES, DEFAULT_TILE_WIDTH

QUEUED, RUNNING, FINISHED, FAILED, CANCELLED, INTERRUPTED = (
    "queued", "running", "finished", "failed", "cancelled", "interrupted")
STATES = (QUEUED, RUNNING, FINISHED, FAILED, CANCELLED, INTERRUPTED)
ENDED = (FINISHED, FAILED, CANCELLED, INTERRUPTED)  # a job in one of these states has its last event
GENERATE_JOB, VARIATIONS_JOB = "generate", "variations"
JOB_KINDS = (GENERATE_JOB, VARIATIONS_JOB)  # what this service's jobs make (HealthReport.job_kinds)


class ServiceRecordError(ValueError):
    """A service document whose field has the wrong type; the message names it."""


class _Record(TypedRecord):
    record_error = ServiceRecordError
    record_advice = "the add-on and the service may be from different versions; update both"
    record_file = "the engine service's JSON"


@dataclass
class BundleSource(_Record):
    """Where a job's bundle is: uploaded (`digest`, see engine/bundle/transfer.py) or a folder the service reads."""

    digest: str | None = key(optional(text), None, omit=if_none)
    path: str | None = key(optional(text), None, omit=if_none)
    extra: dict = field(default_factory=dict)


@dataclass
class VariationsSettings(_Record):
    """A Variations job's own settings (the `variations` command's --count, --key-frames, --tile-width)."""

    count: int = key(whole, DEFAULT_COUNT)
    key_frames: int = key(whole, DEFAULT_KEY_FRAMES)
    tile_width: int = key(whole, DEFAULT_TILE_WIDTH)
    extra: dict = field(default_factory=dict)


@dataclass
class JobSubmission(_Record):
    """POST /jobs: a GenerateRequest's JSON (engine/bundle/request.py) and its bundle; `variations`
    set: the job makes that many looks on one contact sheet instead of takes."""

    request: dict = key(objects, factory=dict)
    bundle: BundleSource = key(nested(BundleSource), factory=BundleSource)
    variations: VariationsSettings | None = key(optional(nested(VariationsSettings)), None)
    extra: dict = field(default_factory=dict)


@dataclass
class JobRecord(_Record):
    """One job: its state (STATES), times (ISO 8601 UTC), request, bundle and the takes it made."""

    id: str = key(text, "")
    state: str = key(text, QUEUED)
    created: str | None = key(optional(text), None)
    started: str | None = key(optional(text), None)
    ended: str | None = key(optional(text), None)
    request: dict = key(objects, factory=dict)
    bundle_digest: str | None = key(optional(text), None)
    bundle_path: str | None = key(optional(text), None)  # the folder the service read the bundle from
    takes: list = key(texts, factory=list)  # take (or variations) folder names, for GET /jobs/{id}/takes/{take}
    error: str | None = key(optional(text), None)
    variations: VariationsSettings | None = key(optional(nested(VariationsSettings)), None)  # a Variations job
    extra: dict = field(default_factory=dict)

    @property
    def ended_state(self):
        return self.state in ENDED


@dataclass
class HealthReport(_Record):
    """GET /health: the engine's version, its backends, the loaded backends' cache keys and jobs per state."""

    engine: str = key(text, "")
    backends: list = key(texts, factory=list)
    loaded: list = key(lists, factory=list)
    jobs: dict = key(objects, factory=dict)
    # JOB_KINDS; an older service makes takes only
    job_kinds: list = key(texts, factory=lambda: [GENERATE_JOB])
    extra: dict = field(default_factory=dict)
