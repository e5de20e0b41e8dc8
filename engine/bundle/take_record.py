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
from dataclasses import dataclass, field
from pathlib import Path

from .request import GenerateRequest
from .schema import CONTROLS_DIR
from .typed_record import (TypedRecord, check, colours, flag, is_int, is_number, key, nested, nested_map, number,
                           objects, if_empty, if_none, optional, pair, read_json_file, refuse_other_schema, text,
                           texts, whole)

TAKE_RECORD = "take.json"
TAKE_SCHEMA = "blockcast.take"
TAKE_SCHEMA_VERSION = "1.1"  # major.minor: readers accept any minor of their major; 1.1 added continued_from
SHOT_REFERENCE_FILE = "reference.png"  # the shot's --reference image, copied into the take folder


class TakeRecordError(ValueError):
    """A take folder without a readable take record; the message names the file and the field."""


class _Record(TypedRecord):
    record_error = TakeRecordError
    record_advice = "the take record was edited or damaged; generate the take again"
    record_file = TAKE_RECORD


_file_lists = check(lambda v: isinstance(v, dict) and all(isinstance(f, list) and all(isinstance(i, str) for i in f)
                                                        for f in v.values()), "member: [file, ...] pairs")
_pairs = check(lambda v: isinstance(v, list) and all(isinstance(i, list) and len(i) == 2 and all(map(is_int, i))
                                                     for i in v), "a list of [start, end]")
_weights = check(lambda v: isinstance(v, dict) and all(map(is_number, v.values())), "kind: weight pairs")


@dataclass
class ModelRecord(_Record):
    """The weights one role loaded: enough to find exactly them again."""
    source: str = key(text, "", required=True)      # what the user or the default named: hub id or path
    path: str = key(text, "")                       # the local folder loaded from
    revision: str | None = key(optional(text), None, omit=if_empty)  # hub commit hash, for cached hub models
    file_hashes: dict = key(objects, factory=dict, omit=if_empty)    # relative path -> sha256, for local folders
    extra: dict = field(default_factory=dict)


@dataclass
class TakeParameters(_Record):
    """How the model was run: the engine's choices where the request left them open."""
    steps: int | None = key(optional(whole), None)
    guidance: float | None = key(optional(number), None)
    controls: dict = key(_weights, factory=dict)             # control kind -> weight, as used
    requested_size: list | None = key(optional(pair), None)  # --size [W, H]; None: the backend's default
    generation_size: list | None = key(optional(pair), None)
    model_frames: int | None = key(optional(whole), None)
    windows: list = key(_pairs, factory=list)                # [start, end) frame windows the model ran
    init_video: str | None = key(optional(text), None)
    strength: float | None = key(optional(number), None)   # only with an init video
    device: str = key(text, "auto")                         # as asked (auto, cpu, cuda)
    offload: bool = key(flag, False)
    vae_tiling: bool = key(flag, False)
    vae_slicing: bool = key(flag, False)
    backend_settings: dict = key(objects, factory=dict)      # what the backend's load chose
    # The request's lens switches and --memory as asked, and the memory plan's switches (engine/memory.py
    # MemoryPlan): None, and left out as before, in a take made before them.
    depth_of_field: str | None = key(optional(text), None, omit=if_none)
    motion_blur: str | None = key(optional(text), None, omit=if_none)
    memory: str | None = key(optional(text), None, omit=if_none)  # auto, high, balanced, low
    memory_plan: dict | None = key(optional(objects), None, omit=if_none)
    extra: dict = field(default_factory=dict)


@dataclass
class TakeBundle(_Record):
    """The pass bundle the take was made from, and its content hash."""
    path: str = key(text, "", required=True)
    hash: str | None = key(optional(text), None)
    shot: str = key(text, "")
    frames: list = key(pair, factory=lambda: [1, 1], required=True)  # [first, last] Blender frame
    frame_count: int | None = key(optional(whole), None)
    resolution: list | None = key(optional(pair), None)
    fps: float | None = key(optional(number), None)
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
    kind: str = key(text, "")
    name: str = key(text, "")   # human-readable, e.g. "cpu (2 threads)"
    precision: str | None = key(optional(text), None, omit=if_none)         # the dtype chosen there, e.g. "bfloat16"
    precision_reason: str | None = key(optional(text), None, omit=if_none)  # why; both None in takes made before them
    memory: dict | None = key(optional(objects), None, omit=if_none)  # why the memory plan: reason, free_gb, needs_gb
    extra: dict = field(default_factory=dict)


@dataclass
class TakeTimings(_Record):
    """Seconds each stage took (to 0.1 ms), and the denoising steps run."""
    load_s: float = key(number, 0.0)
    controls_s: float = key(number, 0.0)
    generate_s: float = key(number, 0.0)
    write_s: float = key(number, 0.0)
    steps: int = key(whole, 0)
    per_step_s: float = key(number, 0.0)
    extra: dict = field(default_factory=dict)

    @classmethod
    def measured(cls, load_s, controls_s, generate_s, write_s, step_times):
        """The timings of a take from the stages' seconds and each denoising step's."""
        return cls(*(round(float(s), 4) for s in (load_s, controls_s, generate_s, write_s)), steps=len(step_times),
                   per_step_s=round(sum(step_times) / max(len(step_times), 1), 4))


@dataclass
class LookSampler(_Record):
    """How the previz prior sampled the colours nobody set (engine.previz.prior.PriorSampling)."""
    solver: str = key(text, "")        # "ddim" or "dpm++2m" (DPM-Solver++ multistep, second order)
    spacing: str = key(text, "")       # the timestep spacing: "leading" or "trailing"
    steps: int = key(whole, 0)
    canonical_size: list = key(pair, factory=lambda: [0, 0])  # [W, H] of the canonical shot sampled
    extra: dict = field(default_factory=dict)


@dataclass
class TakeLook(_Record):
    """What every object looked like, and the look seed that chose the colours nobody set."""
    look_seed: int | None = key(optional(whole), None)
    objects: dict = key(colours, factory=dict, required=True)  # object name -> "#rrggbb"
    # Absent in takes made before it was recorded: those were DDIM, "leading" spacing,
    # parameters.steps steps (20 when unset), on the canonical shot at 112x64.
    sampler: LookSampler | None = key(optional(nested(LookSampler)), None, omit=if_none)
    extra: dict = field(default_factory=dict)


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
    file: str = key(text, SHOT_REFERENCE_FILE)
    source: str | None = key(optional(text), None)
    extra: dict = field(default_factory=dict)


@dataclass
class LensShutter(_Record):
    """The shutter the take's motion blur used (the bundle's shot.motion_blur)."""
    shutter: float = key(number, 0.5)
    position: str = key(text, "CENTER")
    extra: dict = field(default_factory=dict)


@dataclass
class TakeLens(_Record):
    """The blocking's lens applied to the take's frames (engine/lens): the sharp frames are kept
    as `unblurred` (a {frame} pattern; None when the backend applied every effect itself, so no
    sharp frame exists); `lens_s` is the seconds the engine's post-process added to the take;
    `applied_by` says per effect who applied it, "engine" or "backend" (the backend's
    lens_controls), None in takes made before backends could."""
    depth_of_field: bool = key(flag, False)
    motion_blur: LensShutter | None = key(optional(nested(LensShutter)), None)
    unblurred: str | None = key(optional(text), "unblurred/{frame:04d}.png")
    lens_s: float = key(number, 0.0)
    applied_by: dict | None = key(optional(objects), None, omit=if_none)   # effect -> "engine" | "backend"
    extra: dict = field(default_factory=dict)

    def unblurred_frame(self, frame):
        """The sharp frame's path in the take folder, or None when the take has none."""
        return None if self.unblurred is None else self.unblurred.format(frame=frame)


@dataclass
class ContinuedFrom(_Record):
    """The take this one continued from (--continue-from, Continue From Previous Shot): its folder as
    the request gave it and how many of its last frames led into the shot, so Regenerate continues
    from the same take again."""
    take: str = key(text, "", required=True)
    frames: int = key(whole, 0)
    extra: dict = field(default_factory=dict)


@dataclass
class TakeRecord(_Record):
    """One take: what was asked, what the engine chose and made, and from which bundle."""
    schema: str = key(text, TAKE_SCHEMA, required=True)
    schema_version: str = key(text, TAKE_SCHEMA_VERSION)
    take: str = key(text, "", required=True)                # the folder name, e.g. take-003-previz-s2
    status: str = key(text, "complete")
    created: str | None = key(optional(text), None)        # ISO 8601, UTC
    backend: str = key(text, "", required=True)
    models: dict = key(nested_map(ModelRecord), factory=dict)  # role -> ModelRecord
    prompt: str = key(text, "")
    composed_prompt: str | None = key(optional(text), None)  # the prompt and the actors' descriptions
    negative_prompt: str = key(text, "")
    seed: int = key(whole, 0, required=True)
    parameters: TakeParameters = key(nested(TakeParameters), factory=TakeParameters)
    bundle: TakeBundle = key(nested(TakeBundle), factory=TakeBundle, required=True)
    frames: list = key(texts, factory=list, required=True)  # the frames' paths in the take folder
    preview: str | None = key(optional(text), None)
    engine: dict = key(objects, factory=dict)                # package -> version
    device: DeviceRecord = key(nested(DeviceRecord), factory=DeviceRecord)
    timings: TakeTimings = key(nested(TakeTimings), factory=TakeTimings)
    look: TakeLook | None = key(optional(nested(TakeLook)), None)
    understood: list = key(texts, factory=list)             # what the engine followed, as short lines
    ignored: list = key(texts, factory=list)                # and what it left out
    grade: str | None = key(optional(text), None)          # the mood grade applied, if any
    references: dict = key(_file_lists, factory=dict)        # cast member -> bundle-relative images
    shot_reference: ShotReference | None = key(optional(nested(ShotReference)), None)
    # None (and left out, as before): no lens applied, or an older take.
    lens: TakeLens | None = key(optional(nested(TakeLens)), None, omit=if_none)
    # None (and left out): the take continued from no other take, or was made before 1.1 recorded it.
    continued_from: ContinuedFrom | None = key(optional(nested(ContinuedFrom)), None, omit=if_none)
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, document, where=TAKE_RECORD, name=None):
        """The take record of a parsed take.json; TakeRecordError naming `where` and the field."""
        refuse_other_schema(document, where, TAKE_SCHEMA, TAKE_SCHEMA_VERSION, TakeRecordError, "take record")
        if not document.get("frames"):
            raise TakeRecordError(f"{where} is not a Blockcast take record (it lists no frames)")
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
    document = read_json_file(path, TakeRecordError, "the take folder is damaged or was moved")
    return TakeRecord.from_json(document, where=str(path))
