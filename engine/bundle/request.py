"""The generate request: what to generate, one vocabulary from the Generate panel through
`python -m engine generate` to take.json and back (stdlib only).

A field is named once, here: the add-on builds a GenerateRequest from its panel and turns it
into a command line with `to_arguments`; the engine's parser declares its generate flags from
FLAGS and reads them back with `from_arguments`; take.json's mapping to a request lives in
engine.bundle.take_record (TakeRecord.request). Empty values (None, "", the defaults) leave
the choice to the engine or the backend.
"""

import argparse
import math
from dataclasses import MISSING, dataclass, field, fields

DEFAULT_BACKEND = "previz"  # the embedded model: no download, runs on a CPU
DEVICES = ("auto", "cpu", "cuda", "mps")  # auto: CUDA, then Apple's MPS, then the CPU
MEMORY_PRESETS = ("auto", "high", "balanced", "low")  # engine/memory.py: which memory switches a take runs under
INIT_VIDEOS = ("shading",)  # the bundle pass an init video starts from
DEPTH_OF_FIELD = ("camera", "off")  # camera: as the shot camera's Depth of Field checkbox says
MOTION_BLUR = ("scene", "off")      # scene: as Render ▸ Motion Blur says
MAX_SEED = 2**63 - 1  # the largest seed every backend's generator and a cast's look seed take


# What a backend may say it does not use (`ignores` in `backends --json`, shown beside the field in
# the Generate panel and listed in take.json's `ignored`): the request's words and the cast's inputs,
# each with how the notes call it.
IGNORABLE_INPUTS = {
    "prompt": "prompt", "negative_prompt": "negative prompt", "guidance": "guidance",
    "references": "cast reference images", "shot_reference": "--reference image",
    "descriptions": "cast descriptions",
}


class RequestUsageError(ValueError):
    """A request value wrong on its own, whatever the bundle; the message names the CLI flag."""


@dataclass
class GenerateRequest:
    """What to generate from one bundle."""

    backend: str = ""                  # "": DEFAULT_BACKEND
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0                      # take k uses seed + k
    takes: int = 1
    steps: int | None = None           # None: the backend's
    guidance: float | None = None      # None: the backend's
    controls: dict | None = None       # control kind -> weight (0 drops it); None: the backend's defaults
    size: tuple | None = None          # generation size (W, H) with the shot's aspect; None: the backend's
    device: str = "auto"
    models: dict = field(default_factory=dict)  # role -> hub id or local folder
    reference: str | None = None       # the shot's reference image (PNG or JPEG): its palette and grade
    init_video: str | None = None      # "shading": start from the bundle's clay render
    strength: float = 0.6              # how far to move from the init video
    offload: bool = False
    vae_tiling: bool = False
    vae_slicing: bool = False
    memory: str = "auto"               # MEMORY_PRESETS; auto: from the device's free memory
    actor_prompts: bool = True         # append each actor's description from the bundle to the prompt
    depth_of_field: str = "camera"     # "off": no defocus even when the camera has Depth of Field on
    motion_blur: str = "scene"         # "off": no motion blur even when Render ▸ Motion Blur is on
    continue_from: str | None = None   # a take folder (the previous shot's): its last frames lead into this shot

    @property
    def backend_name(self):
        return self.backend or DEFAULT_BACKEND

    def given_inputs(self, cast_references=False, descriptions=False):
        """The IGNORABLE_INPUTS this request gives (with the cast's references and descriptions, which
        travel in the bundle): what a take notes as ignored when its backend does not use them."""
        given = {"prompt": bool(self.prompt.strip()), "negative_prompt": bool(self.negative_prompt.strip()),
                 "guidance": self.guidance is not None, "references": cast_references,
                 "shot_reference": bool(self.reference), "descriptions": descriptions}
        return {name for name in IGNORABLE_INPUTS if given[name]}

    def check(self):
        """Refuse values that are wrong whatever the bundle, before anything is read."""
        if self.takes < 1 or (self.steps is not None and self.steps < 1):
            raise RequestUsageError("--takes and --steps must be at least 1")
        if not 0 <= self.seed <= MAX_SEED - (self.takes - 1):
            raise RequestUsageError(f"--seed {self.seed} is out of range: seeds (take k uses --seed + k) run from 0 "
                                    f"to {MAX_SEED}")
        if not 0 < self.strength <= 1:
            raise RequestUsageError(f"--strength {self.strength} is outside (0, 1]: 1 ignores the init video "
                                    "entirely")
        if self.guidance is not None and not 0 <= self.guidance < math.inf:
            raise RequestUsageError(f"--guidance {self.guidance} must be a number from 0 up")
        if self.memory not in MEMORY_PRESETS or self.device not in DEVICES:
            raise RequestUsageError(f"--memory takes {', '.join(MEMORY_PRESETS)} and --device {', '.join(DEVICES)}")
        if self.depth_of_field not in DEPTH_OF_FIELD or self.motion_blur not in MOTION_BLUR:
            raise RequestUsageError(f"--depth-of-field takes {' or '.join(DEPTH_OF_FIELD)} and --motion-blur "
                                    f"{' or '.join(MOTION_BLUR)}")
        return self

    def to_arguments(self, bundle, out):
        """The `generate` command line (after `python -m engine`); each value as `--flag=VALUE`, so
        a prompt starting with '-' stays the prompt. Fields at their default, or empty, are left out."""
        args = ["generate", str(bundle), f"--out={out}"]
        defaults = _defaults()
        for flag in FLAGS:
            value = getattr(self, flag.field)
            if value == defaults[flag.field] or value in (None, "", {}):
                continue
            if flag.switch:
                args.append(flag.flag)
            elif flag.each:
                args += [f"{flag.flag}={key}={item}" for key, item in sorted(value.items())]
            else:
                args.append(f"{flag.flag}={flag.text(value)}")
        return args

    def to_json(self):
        """The request as a JSON object (what a service or a queue stores), every field by name."""
        document = {f.name: getattr(self, f.name) for f in fields(self)}
        document["size"] = list(self.size) if self.size else None
        document["controls"] = dict(self.controls) if self.controls is not None else None
        document["models"] = dict(self.models)
        return document

    @classmethod
    def from_json(cls, document):
        """The request a JSON object describes, type-checked field by field (RequestUsageError
        naming the field); unknown fields are refused rather than guessed at."""
        if not isinstance(document, dict):
            raise RequestUsageError(f"a generate request is a JSON object, not {type(document).__name__}")
        unknown = sorted(set(document) - set(_JSON_TYPES))
        if unknown:
            raise RequestUsageError(f"unknown generate request field(s) {', '.join(unknown)}: "
                                    f"the fields are {', '.join(_JSON_TYPES)}")
        values = {}
        for name, value in document.items():
            kinds = _JSON_TYPES[name]
            number = float in kinds and isinstance(value, int) and not isinstance(value, bool)
            if not (number or (isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds))):
                raise RequestUsageError(f"generate request field {name} is {value!r}, not "
                                        + " or ".join("null" if k is type(None) else k.__name__ for k in kinds))
            values[name] = float(value) if number else value
        if values.get("size") is not None:
            size = values["size"]
            if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
                raise RequestUsageError(f"generate request field size is {size!r}, not [width, height] in pixels")
            values["size"] = tuple(size)
        for name in ("controls", "models"):
            mapping = values.get(name) or {}
            wanted = (int, float) if name == "controls" else str
            if not all(isinstance(k, str) and isinstance(v, wanted) and not isinstance(v, bool)
                       for k, v in mapping.items()):
                raise RequestUsageError(f"generate request field {name} must map names to "
                                        + ("weights" if name == "controls" else "hub ids or folders"))
        return cls(**values).check()

    @classmethod
    def from_arguments(cls, namespace):
        """The request a parsed command line asks for (a parser given the flags by add_arguments)."""
        values = {flag.field: getattr(namespace, flag.field) for flag in FLAGS}
        values.update({flag.field: dict(values[flag.field] or ()) for flag in FLAGS if flag.each})
        return cls(**values)


def parse_size(text):
    """'512x288' -> (512, 288)."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or int(width) < 1 or int(height) < 1:
        raise argparse.ArgumentTypeError(f"size {text!r} is not of the form WxH (e.g. 512x288)")
    return int(width), int(height)


def controls_parser(kinds):
    """An argparse type for --control, refusing kinds not in `kinds` (the engine's controls)."""

    def parse_controls(text):
        """'depth=1.0,pose=0.8' -> {'depth': 1.0, 'pose': 0.8}; a bare name means weight 1."""
        weights = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, value = item.partition("=")
            try:
                weight = float(value) if sep else 1.0
            except ValueError:
                message = f"control weight {item!r} is not NAME=NUMBER (e.g. depth=1.0)"
                raise argparse.ArgumentTypeError(message) from None
            if name.strip() not in kinds:
                raise argparse.ArgumentTypeError(f"{name.strip()!r} is not a control: choose from {', '.join(kinds)}")
            if not math.isfinite(weight) or weight < 0:
                raise argparse.ArgumentTypeError(f"control weight {item!r} must be a number from 0 up "
                                                 "(0 drops the control)")
            weights[name.strip()] = weight
        if not weights:
            raise argparse.ArgumentTypeError("--control needs at least one NAME=WEIGHT")
        return weights

    return parse_controls


def parse_model(text):
    """'base=/models/sd15' -> ('base', '/models/sd15')."""
    role, sep, spec = text.partition("=")
    if not sep or not role.strip() or not spec.strip():
        raise argparse.ArgumentTypeError(f"--model {text!r} is not ROLE=ID_OR_PATH (e.g. base=/models/sd15)")
    return role.strip(), spec.strip()


def _weights_text(weights):
    return ",".join(f"{kind}={float(weight)!r}" for kind, weight in weights.items())


@dataclass(frozen=True)
class Flag:
    """How one request field is spelled on the command line. A switch takes no value: given, the
    field is the opposite of its default. A dict field with `each` takes one flag per item
    (KEY=VALUE, parsed into a pair). `deprecated` spellings are still read, never shown."""

    field: str
    flag: str
    help: str
    parse: object = str            # text -> value (an argparse type)
    text: object = str             # value -> text
    metavar: str | None = None
    choices: tuple | None = None
    switch: bool = False
    each: bool = False
    deprecated: tuple = ()


FLAGS = (
    Flag("backend", "--backend", f"default: {DEFAULT_BACKEND}"),
    Flag("prompt", "--prompt", "the shot's prompt; each actor's description is appended", metavar="TEXT"),
    Flag("actor_prompts", "--no-actor-prompts", "do not append the actors' descriptions from the bundle to the prompt",
         switch=True),
    Flag("negative_prompt", "--negative-prompt", "what the takes should not show", metavar="TEXT",
         deprecated=("--negative",)),
    Flag("reference", "--reference", "the shot's reference image (PNG or JPEG): its palette and grade steer the look",
         metavar="FILE"),
    Flag("seed", "--seed", "first take's seed; take k uses seed+k (default: 0)", parse=int),
    Flag("takes", "--takes", "how many takes, one seed each (default: 1)", parse=int),
    Flag("steps", "--steps", "denoising steps (default: the backend's)", parse=int),
    Flag("guidance", "--guidance", "classifier-free guidance scale (default: the backend's)", parse=float, text=repr),
    Flag("controls", "--control", "weights per control, e.g. depth=1.0,pose=0.8 (default: the backend's)",
         parse=controls_parser, text=_weights_text, metavar="KIND=WEIGHT,..."),
    Flag("size", "--size", "generation size WxH with the shot's aspect (default: the backend's)", parse=parse_size,
         text=lambda size: f"{size[0]}x{size[1]}", metavar="WxH"),
    Flag("device", "--device", "default: auto", choices=DEVICES),
    Flag("models", "--model", "use this hub id or local folder for a model role (see `backends`); repeatable",
         parse=parse_model, metavar="ROLE=ID_OR_PATH", each=True),
    Flag("init_video", "--init-video", "start from the bundle's shading pass", choices=INIT_VIDEOS),
    Flag("strength", "--strength", "how far to move from the init video (0..1, default: 0.6)", parse=float, text=repr),
    Flag("offload", "--offload", "model CPU offload, for small GPUs", switch=True),
    Flag("vae_tiling", "--vae-tiling", "decode in tiles, for small GPUs", switch=True),
    Flag("vae_slicing", "--vae-slicing", "decode frame by frame, for small GPUs", switch=True),
    Flag("memory", "--memory", "high: all on the device; balanced: model offload, VAE tiling; low: group offload, "
         "float8 weights; auto (default): what the free memory allows", choices=MEMORY_PRESETS),
    Flag("depth_of_field", "--depth-of-field", "camera: defocus as the shot camera's Depth of Field sets it "
         "(default); off: keep the takes sharp", choices=DEPTH_OF_FIELD),
    Flag("motion_blur", "--motion-blur", "scene: blur along the flow pass as Render ▸ Motion Blur sets it "
         "(default); off: no motion blur", choices=MOTION_BLUR),
    Flag("continue_from", "--continue-from", "a take folder of the previous shot: its last frames come first, "
         "kept, so this shot continues it (backends that take them, e.g. wan-vace)", metavar="TAKE"),
)


_NONE = type(None)
_JSON_TYPES = {
    "backend": (str,), "prompt": (str,), "negative_prompt": (str,), "seed": (int,), "takes": (int,),
    "steps": (int, _NONE), "guidance": (float, _NONE), "controls": (dict, _NONE), "size": (list, _NONE),
    "device": (str,), "models": (dict,), "reference": (str, _NONE), "init_video": (str, _NONE),
    "strength": (float,), "offload": (bool,), "vae_tiling": (bool,), "vae_slicing": (bool,),
    "memory": (str,), "actor_prompts": (bool,), "depth_of_field": (str,), "motion_blur": (str,),
    "continue_from": (str, _NONE),
}


def _defaults():
    return {f.name: f.default if f.default is not MISSING else f.default_factory() for f in fields(GenerateRequest)}


def add_arguments(parser, backends=None, controls=()):
    """Declare every request field's flag on `parser` (the engine's `generate`). The engine knows
    its backends and control kinds (this module does not): they become --backend's choices and
    the kinds --control accepts."""
    defaults = _defaults()
    for flag in FLAGS:
        options = {"dest": flag.field, "help": flag.help}
        if flag.switch:
            options.update(action="store_const", const=not defaults[flag.field], default=defaults[flag.field])
        else:
            parse = controls_parser(tuple(controls)) if flag.parse is controls_parser else flag.parse
            choices = tuple(backends) if flag.field == "backend" and backends is not None else flag.choices
            options.update(type=parse, choices=choices, metavar=flag.metavar)
            if flag.each:
                options.update(action="append", default=None)
            else:
                options["default"] = defaults[flag.field]
        parser.add_argument(flag.flag, **options)
        for old in flag.deprecated:
            parser.add_argument(old, **{**options, "help": argparse.SUPPRESS})
    return parser
