"""take.json, the record of one generated take, as one typed record both sides import (stdlib only).

    TAKE_DIR/take.json   written by the engine (engine.takes), read by the add-on, the farm
                         scripts and the contact sheet through `read_take`

The attribute names are take.json's keys and `to_json` writes them in the order the engine
always has, so old and new readers agree. `from_json` checks every field's type and names the
file and the field when one is wrong; fields older engines did not write (the look, what was
understood and ignored, the references) get defaults, and keys a newer engine added are kept
(`extra`) so reading and writing a record loses nothing.
"""

import json
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from .request import GenerateRequest
from .schema import CONTROLS_DIR

TAKE_RECORD = "take.json"
TAKE_SCHEMA = "blockcast.take"
TAKE_SCHEMA_VERSION = "1.1"  # major.minor: readers accept any minor of their major; 1.1 added continued_from
SHOT_REFERENCE_FILE = "reference.png"  # the shot's --reference image, copied into the take folder


class TakeRecordError(ValueError):
    """A take folder without a readable take record; the message names the file and the field."""


def _damaged(where, name, wanted, value):
    return TakeRecordError(f"{where}: {name} should be {wanted}, not {value!r}: the take record was edited or "
                           "damaged; generate the take again")


def _check(test, wanted):
    """A reader for one JSON value: the value itself when `test` accepts it."""
    def read(value, where, name):
        if not test(value):
            raise _damaged(where, name, wanted, value)
        return value
    return read


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _optional(read):
    return lambda value, where, name: None if value is None else read(value, where, name)


_text = _check(lambda v: isinstance(v, str), "text")
_int = _check(_is_int, "a whole number")
_number = _check(_is_number, "a number")
_flag = _check(lambda v: isinstance(v, bool), "true or false")
_object = _check(lambda v: isinstance(v, dict), "an object")
_texts = _check(lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v), "a list of text")
_pair = _check(lambda v: isinstance(v, list) and len(v) == 2 and all(map(_is_int, v)), "two whole numbers")
_pairs = _check(lambda v: isinstance(v, list) and all(isinstance(i, list) and len(i) == 2 and all(map(_is_int, i))
                                                      for i in v), "a list of [start, end]")
_weights = _check(lambda v: isinstance(v, dict) and all(map(_is_number, v.values())), "kind: weight pairs")
_file_lists = _check(lambda v: isinstance(v, dict) and all(isinstance(f, list) and all(isinstance(i, str) for i in f)
                                                         for f in v.values()), "member: [file, ...] pairs")
_colours = _check(lambda v: isinstance(v, dict) and all(isinstance(c, str) for c in v.values()),
                  "object: \"#rrggbb\" pairs")


def _nested(record_type):
    return lambda value, where, name: record_type.from_json(value, where, name)


def _nested_map(record_type):
    def read(value, where, name):
        _object(value, where, name)
        return {key: record_type.from_json(item, where, f"{name}.{key}") for key, item in value.items()}
    return read


def _key(read, default=MISSING, factory=MISSING, required=False):
    """A take.json key: how to read it, its default for records that lack it, whether it must be there."""
    return field(default=default, default_factory=factory, metadata={"read": read, "required": required})


def _json(value):
    """A record's value as JSON, copied (changing the document leaves the record as it was)."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json(item) for item in value]
    return value


class _Record:
    """to_json/from_json over a dataclass whose fields are JSON keys, plus `extra` (unknown keys)."""

    def to_json(self):
        document = {f.name: _json(getattr(self, f.name)) for f in fields(self) if f.name != "extra"}
        return {**document, **self.extra}

    @classmethod
    def from_json(cls, document, where=TAKE_RECORD, name=None):
        """The record of a JSON object; TakeRecordError naming `where` (the file) and the field."""
        prefix = f"{name}." if name else ""
        if not isinstance(document, dict):
            raise _damaged(where, name or "the record", "an object", document)
        values, keys = {}, [f for f in fields(cls) if f.name != "extra"]
        for key in keys:
            if key.name in document:
                values[key.name] = key.metadata["read"](document[key.name], where, prefix + key.name)
            elif key.metadata["required"]:
                raise TakeRecordError(f"{where}: {prefix + key.name} is missing: the take record was edited or "
                                      "damaged; generate the take again")
        known = {key.name for key in keys}
        return cls(**values, extra={key: value for key, value in document.items() if key not in known})


@dataclass
class ModelRecord(_Record):
    """The weights one role loaded: enough to find exactly them again."""
    source: str = _key(_text, "", required=True)      # what the user or the default named: hub id or path
    path: str = _key(_text, "")                       # the local folder loaded from
    revision: str | None = _key(_optional(_text), None)  # hub commit hash, for cached hub models
    file_hashes: dict = _key(_object, factory=dict)   # relative path -> sha256, for local folders
    extra: dict = field(default_factory=dict)

    def to_json(self):
        entry = {"source": self.source, "path": self.path}
        if self.revision:
            entry["revision"] = self.revision
        if self.file_hashes:
            entry["file_hashes"] = self.file_hashes
        return {**entry, **self.extra}


@dataclass
class TakeParameters(_Record):
    """How the model was run: the engine's choices where the request left them open."""
    steps: int | None = _key(_optional(_int), None)
    guidance: float | None = _key(_optional(_number), None)
    controls: dict = _key(_weights, factory=dict)             # control kind -> weight, as used
    requested_size: list | None = _key(_optional(_pair), None)  # --size [W, H]; None: the backend's default
    generation_size: list | None = _key(_optional(_pair), None)
    model_frames: int | None = _key(_optional(_int), None)
    windows: list = _key(_pairs, factory=list)                # [start, end) frame windows the model ran
    init_video: str | None = _key(_optional(_text), None)
    strength: float | None = _key(_optional(_number), None)   # only with an init video
    device: str = _key(_text, "auto")                         # as asked (auto, cpu, cuda)
    offload: bool = _key(_flag, False)
    vae_tiling: bool = _key(_flag, False)
    vae_slicing: bool = _key(_flag, False)
    backend_settings: dict = _key(_object, factory=dict)      # what the backend's load chose
    depth_of_field: str | None = _key(_optional(_text), None)  # the request's lens switches, as asked;
    motion_blur: str | None = _key(_optional(_text), None)     # None in takes made before them
    memory: str | None = _key(_optional(_text), None)          # --memory as asked (auto, high, balanced, low)
    memory_plan: dict | None = _key(_optional(_object), None)  # engine/memory.py MemoryPlan: the switches used
    extra: dict = field(default_factory=dict)

    def to_json(self):
        """A take made before the lens switches or the memory plan writes back without them, as it was."""
        document = super().to_json()
        for name in ("depth_of_field", "motion_blur", "memory", "memory_plan"):
            if document[name] is None:
                del document[name]
        return document


@dataclass
class TakeBundle(_Record):
    """The pass bundle the take was made from, and its content hash."""
    path: str = _key(_text, "", required=True)
    hash: str | None = _key(_optional(_text), None)
    shot: str = _key(_text, "")
    frames: list = _key(_pair, factory=lambda: [1, 1], required=True)  # [first, last] Blender frame
    frame_count: int | None = _key(_optional(_int), None)
    resolution: list | None = _key(_optional(_pair), None)
    fps: float | None = _key(_optional(_number), None)
    extra: dict = field(default_factory=dict)

    def frame_range(self):
        """(first, last) Blender frame of the shot."""
        return self.frames[0], self.frames[1]

    def control_frames(self, kind):
        """The control images the model saw for `kind` (BUNDLE/controls/<kind>/NNNN.png), in frame
        order, or [] when the bundle no longer has them."""
        folder = Path(self.path) / CONTROLS_DIR / kind
        first, last = self.frame_range()
        files = [folder / f"{frame:04d}.png" for frame in range(first, last + 1)]
        return files if files and all(f.is_file() for f in files) else []


@dataclass
class DeviceRecord(_Record):
    """The device the take ran on."""
    kind: str = _key(_text, "")
    name: str = _key(_text, "")   # human-readable, e.g. "cpu (2 threads)"
    precision: str | None = _key(_optional(_text), None)         # the dtype chosen there, e.g. "bfloat16"
    precision_reason: str | None = _key(_optional(_text), None)  # why; both None in takes made before them
    memory: dict | None = _key(_optional(_object), None)  # why the memory plan: reason, free_gb, needs_gb
    extra: dict = field(default_factory=dict)

    def to_json(self):
        """A take made before the precision was recorded writes back without it, as it was."""
        document = super().to_json()
        for name in ("precision", "precision_reason", "memory"):
            if document[name] is None:
                del document[name]
        return document


@dataclass
class TakeTimings(_Record):
    """Seconds each stage took (to 0.1 ms), and the denoising steps run."""
    load_s: float = _key(_number, 0.0)
    controls_s: float = _key(_number, 0.0)
    generate_s: float = _key(_number, 0.0)
    write_s: float = _key(_number, 0.0)
    steps: int = _key(_int, 0)
    per_step_s: float = _key(_number, 0.0)
    extra: dict = field(default_factory=dict)

    @classmethod
    def measured(cls, load_s, controls_s, generate_s, write_s, step_times):
        """The timings of a take from the stages' seconds and each denoising step's."""
        return cls(*(round(float(s), 4) for s in (load_s, controls_s, generate_s, write_s)), steps=len(step_times),
                   per_step_s=round(sum(step_times) / max(len(step_times), 1), 4))


@dataclass
class LookSampler(_Record):
    """How the previz prior sampled the colours nobody set (engine.previz.prior.PriorSampling)."""
    solver: str = _key(_text, "")        # "ddim" or "dpm++2m" (DPM-Solver++ multistep, second order)
    spacing: str = _key(_text, "")       # the timestep spacing: "leading" or "trailing"
    steps: int = _key(_int, 0)
    canonical_size: list = _key(_pair, factory=lambda: [0, 0])  # [W, H] of the canonical shot sampled
    extra: dict = field(default_factory=dict)


@dataclass
class TakeLook(_Record):
    """What every object looked like, and the look seed that chose the colours nobody set."""
    look_seed: int | None = _key(_optional(_int), None)
    objects: dict = _key(_colours, factory=dict, required=True)  # object name -> "#rrggbb"
    # Absent in takes made before it was recorded: those were DDIM, "leading" spacing,
    # parameters.steps steps (20 when unset), on the canonical shot at 112x64.
    sampler: LookSampler | None = _key(_optional(_nested(LookSampler)), None)
    extra: dict = field(default_factory=dict)

    def to_json(self):
        document = super().to_json()
        if self.sampler is None:
            del document["sampler"]  # older takes round-trip unchanged
        return document


@dataclass
class TakeNotes:
    """What a backend made of the request, for its take's record (Backend.take_notes): the look it
    gave each object, what it understood and ignored of the words and references, the mood grade."""
    look: TakeLook | None = None
    understood: list = field(default_factory=list)
    ignored: list = field(default_factory=list)
    grade: str | None = None


@dataclass
class ShotReference(_Record):
    """The shot's reference image: the copy in the take folder and where it came from."""
    file: str = _key(_text, SHOT_REFERENCE_FILE)
    source: str | None = _key(_optional(_text), None)
    extra: dict = field(default_factory=dict)


@dataclass
class LensShutter(_Record):
    """The shutter the take's motion blur used (the bundle's shot.motion_blur)."""
    shutter: float = _key(_number, 0.5)
    position: str = _key(_text, "CENTER")
    extra: dict = field(default_factory=dict)


@dataclass
class TakeLens(_Record):
    """The blocking's lens applied to the take's frames (engine/lens): the sharp frames are kept
    as `unblurred` (a {frame} pattern; None when the backend applied every effect itself, so no
    sharp frame exists); `lens_s` is the seconds the engine's post-process added to the take;
    `applied_by` says per effect who applied it, "engine" or "backend" (the backend's
    lens_controls), None in takes made before backends could."""
    depth_of_field: bool = _key(_flag, False)
    motion_blur: LensShutter | None = _key(_optional(_nested(LensShutter)), None)
    unblurred: str | None = _key(_optional(_text), "unblurred/{frame:04d}.png")
    lens_s: float = _key(_number, 0.0)
    applied_by: dict | None = _key(_optional(_object), None)   # effect -> "engine" | "backend"
    extra: dict = field(default_factory=dict)

    def to_json(self):
        """A take made before `applied_by` writes back without it, as it was."""
        document = super().to_json()
        if document["applied_by"] is None:
            del document["applied_by"]
        return document

    def unblurred_frame(self, frame):
        """The sharp frame's path in the take folder, or None when the take has none."""
        return None if self.unblurred is None else self.unblurred.format(frame=frame)


@dataclass
class ContinuedFrom(_Record):
    """The take this one continued from (--continue-from, Continue From Previous Shot): its folder as
    the request gave it and how many of its last frames led into the shot, so Regenerate continues
    from the same take again."""
    take: str = _key(_text, "", required=True)
    frames: int = _key(_int, 0)
    extra: dict = field(default_factory=dict)


@dataclass
class TakeRecord(_Record):
    """One take: what was asked, what the engine chose and made, and from which bundle."""
    schema: str = _key(_text, TAKE_SCHEMA, required=True)
    schema_version: str = _key(_text, TAKE_SCHEMA_VERSION)
    take: str = _key(_text, "", required=True)                # the folder name, e.g. take-003-previz-s2
    status: str = _key(_text, "complete")
    created: str | None = _key(_optional(_text), None)        # ISO 8601, UTC
    backend: str = _key(_text, "", required=True)
    models: dict = _key(_nested_map(ModelRecord), factory=dict)  # role -> ModelRecord
    prompt: str = _key(_text, "")
    composed_prompt: str | None = _key(_optional(_text), None)  # the prompt and the actors' descriptions
    negative_prompt: str = _key(_text, "")
    seed: int = _key(_int, 0, required=True)
    parameters: TakeParameters = _key(_nested(TakeParameters), factory=TakeParameters)
    bundle: TakeBundle = _key(_nested(TakeBundle), factory=TakeBundle, required=True)
    frames: list = _key(_texts, factory=list, required=True)  # the frames' paths in the take folder
    preview: str | None = _key(_optional(_text), None)
    engine: dict = _key(_object, factory=dict)                # package -> version
    device: DeviceRecord = _key(_nested(DeviceRecord), factory=DeviceRecord)
    timings: TakeTimings = _key(_nested(TakeTimings), factory=TakeTimings)
    look: TakeLook | None = _key(_optional(_nested(TakeLook)), None)
    understood: list = _key(_texts, factory=list)             # what the engine followed, as short lines
    ignored: list = _key(_texts, factory=list)                # and what it left out
    grade: str | None = _key(_optional(_text), None)          # the mood grade applied, if any
    references: dict = _key(_file_lists, factory=dict)        # cast member -> bundle-relative images
    shot_reference: ShotReference | None = _key(_optional(_nested(ShotReference)), None)
    lens: TakeLens | None = _key(_optional(_nested(TakeLens)), None)  # None: no lens applied, or an older take
    # None: the take continued from no other take (or was made before 1.1 recorded it).
    continued_from: ContinuedFrom | None = _key(_optional(_nested(ContinuedFrom)), None)
    extra: dict = field(default_factory=dict)

    def to_json(self):
        """take.json's document; a take without a lens applied, or continuing from no take, has no
        `lens` or `continued_from` key, as before."""
        document = super().to_json()
        for name in ("lens", "continued_from"):
            if document.get(name, True) is None:
                del document[name]
        return document

    @classmethod
    def from_json(cls, document, where=TAKE_RECORD, name=None):
        """The take record of a parsed take.json; TakeRecordError naming `where` and the field."""
        if not isinstance(document, dict) or document.get("schema") != TAKE_SCHEMA or not document.get("frames"):
            schema = document.get("schema") if isinstance(document, dict) else None
            raise TakeRecordError(f"{where} is not a Blockcast take record (schema {schema!r})")
        version = document.get("schema_version", TAKE_SCHEMA_VERSION)
        if not isinstance(version, str) or version.split(".")[0] != TAKE_SCHEMA_VERSION.split(".")[0]:
            raise TakeRecordError(f"{where} is a take record version {version!r}, and this Blockcast reads "
                                  f"{TAKE_SCHEMA_VERSION.split('.')[0]}.x: update Blockcast to read it")
        return super().from_json(document, where, name)

    def recorded_look(self):
        """The take's TakeLook; TakeRecordError for a take made before looks were recorded."""
        if self.look is None:
            raise TakeRecordError(f"take {self.take!r} records no look (made by an older engine): "
                                  "generate a new take to lock its look")
        return self.look

    def dumps(self):
        """take.json's text, as the engine writes it."""
        return json.dumps(self.to_json(), indent=1, default=str) + "\n"

    def request(self, seed=None, device=None, take_dir=None):
        """The GenerateRequest that makes one take like this one: the same backend, prompt, models,
        steps, size, controls, init video, lens switches and take it continued from, at `seed`
        (None: this take's) on `device` (None: the one this take asked for). The shot reference is
        the copy kept in `take_dir`, if any.
        Guidance stays the backend's: the record holds the backend's default when none was asked,
        and asking it of a backend that ignores it would note it as ignored in the new take."""
        parameters = self.parameters
        kept = Path(take_dir) / SHOT_REFERENCE_FILE if take_dir is not None else None
        request = GenerateRequest(
            backend=self.backend, prompt=self.prompt, negative_prompt=self.negative_prompt,
            seed=self.seed if seed is None else seed, takes=1, steps=parameters.steps,
            controls=parameters.controls or None,
            size=tuple(parameters.requested_size) if parameters.requested_size else None,
            device=parameters.device if device is None else device,
            models={role: model.source for role, model in self.models.items()},
            reference=str(kept) if kept is not None and kept.is_file() else None,
            init_video=parameters.init_video, depth_of_field=parameters.depth_of_field or "camera",
            motion_blur=parameters.motion_blur or "scene", memory=parameters.memory or "auto",
            continue_from=self.continued_from.take if self.continued_from is not None else None)
        if parameters.strength is not None:  # recorded only with an init video
            request.strength = parameters.strength
        return request


def read_take(take_dir):
    """The TakeRecord in TAKE_DIR/take.json; TakeRecordError if it is missing or not a take record."""
    path = Path(take_dir) / TAKE_RECORD
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TakeRecordError(f"{path} cannot be read ({exc}): the take folder is damaged or was moved") from exc
    return TakeRecord.from_json(document, where=str(path))
