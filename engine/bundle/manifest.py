"""bundle.json as typed records: the one place its field names are spelled (docs/bundle.md).

Stdlib only, so the add-on, the engine, farm tasks and scripts all import it. The add-on
gathers values from the scene into these records (as glTF-Blender-IO's blender/exp/ gathers
into the format objects of io/com/gltf2_io.py); readers use the typed attributes.

Attribute names are the JSON keys and `to_json()` writes them in the order below. Keys a
newer writer added are kept in `extra`, and the fields an older writer (1.0-1.5) never
wrote are remembered in `absent`, so a manifest read and written back is the same document.
`from_json` refuses a malformed document with a ManifestError naming the field.
"""

import math
from dataclasses import MISSING, dataclass, field, fields

from .cast import Cast, CastError
from .schema import BLOCKCAST_VERSION, PASS_FILES, SCHEMA_NAME, SCHEMA_VERSION, schema_compatible
from .typed_record import json_copy

GENERATOR_NAME = "blockcast"
REEXPORT = "re-export the shot's passes"
DEPTH_UNITS = "metres"
DEPTH_CONTROL = "disparity: 1/depth linear, near=65535, far=1, no hit=0 (16-bit PNG)"
POSE_KEYPOINTS = "coco18"
MASK_ENCODING = "uint8 index: 0 = background, k = actors[k-1]"
OBJECTS_ENCODING = "uint16 index: 0 = background, k = objects[k-1]"
TRACKING_CONTROL = ("each surface point at its place in reference_frame: R = x / width, G = y / height (pixel "
                    "edges, y down), B = 1/depth from inverse_depth_low (0) to inverse_depth_high (1), clipped; "
                    "no hit = 0 (16-bit RGB PNG)")
_BOOKKEEPING = ("extra", "absent")


class ManifestError(ValueError):
    """bundle.json is malformed; the message names the field and says what to do."""


def _shown(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _refuse(where, value, wanted):
    raise ManifestError(f"{where} is {_shown(value)}, not {wanted}: {REEXPORT}")


# Kinds: (value, where) -> the value as the record holds it, or ManifestError naming `where`.

def _text(value, where):
    if not isinstance(value, str):
        _refuse(where, value, "text")
    return value


def _text_or_null(value, where):
    return None if value is None else _text(value, where)


def _whole(value, where):
    if isinstance(value, bool) or not isinstance(value, int):
        _refuse(where, value, "a whole number")
    return value


def _number(value, where):
    try:
        finite = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    except OverflowError:  # an integer too big for a float
        finite = False
    if not finite:
        _refuse(where, value, "a number")
    return value


def _positive(value, where):
    if _number(value, where) <= 0:
        _refuse(where, value, "a number above 0")
    return value


def _list_of(kind, wanted):
    def check(value, where):
        if not isinstance(value, list):
            _refuse(where, value, wanted)
        return [kind(item, f"{where}[{index}]") for index, item in enumerate(value)]
    return check


def _object(value, where):
    """A JSON object kept as it is (a bone map, the confidence table, a pass's files)."""
    if not isinstance(value, dict):
        _refuse(where, value, "a JSON object")
    return json_copy(value)


def _cast(value, where):
    if value is None:
        return None
    try:
        return Cast.from_json(value)
    except CastError as exc:
        raise ManifestError(f"{exc}: {REEXPORT}") from None


def _field(kind, default=MISSING, *, factory=MISSING, required=False):
    """A record field read with `kind`; `required` on read even where writers get a default."""
    required = required or (default is MISSING and factory is MISSING)
    return field(default=default, default_factory=factory, metadata={"kind": kind, "required": required})


def _at(where, key):
    return f"{where}.{key}" if where else key


@dataclass(kw_only=True)
class _Record:
    """to_json / from_json over the dataclass fields, in their order."""
    extra: dict = field(default_factory=dict, repr=False)                    # keys of newer writers
    absent: frozenset = field(default=frozenset(), repr=False, compare=False)  # fields older writers lacked

    @classmethod
    def from_json(cls, document, where=""):
        if not isinstance(document, dict):
            _refuse(where or "the manifest", document, "a JSON object")
        known = [f for f in fields(cls) if f.name not in _BOOKKEEPING]
        missing = [f.name for f in known if f.metadata["required"] and f.name not in document]
        if missing:
            raise ManifestError(f"{where or 'the manifest'} lacks {', '.join(missing)}: {REEXPORT}")
        values = {f.name: f.metadata["kind"](document[f.name], _at(where, f.name)) for f in known
                  if f.name in document}
        names = {f.name for f in known}
        return cls(**values, extra={key: json_copy(value) for key, value in document.items() if key not in names},
                   absent=frozenset(names - set(document)))

    def to_json(self):
        document = {f.name: json_copy(getattr(self, f.name)) for f in fields(self)
                    if f.name not in _BOOKKEEPING and not self._left_out(f)}
        document.update(json_copy(self.extra))
        return document

    def _left_out(self, f):
        """A field the document it was read from lacked, still at its default (not set since)."""
        if f.name not in self.absent:
            return False
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        return getattr(self, f.name) == default


SHUTTER_POSITIONS = ("CENTER", "START", "END")  # Render ▸ Motion Blur ▸ Position, as Blender spells them


def _shutter_position(value, where):
    if _text(value, where) not in SHUTTER_POSITIONS:
        _refuse(where, value, f"one of {', '.join(SHUTTER_POSITIONS)}")
    return value


@dataclass(kw_only=True)
class MotionBlur(_Record):
    """Render ▸ Motion Blur when it is on: the shutter in frames and where it opens (1.3)."""
    shutter: float = _field(_positive)
    position: str = _field(_shutter_position, "CENTER")


def _motion_blur(value, where):
    return None if value is None else MotionBlur.from_json(value, where)


@dataclass(kw_only=True)
class Shot(_Record):
    name: str = _field(_text)
    camera: str | None = _field(_text, None)
    frame_start: int | None = _field(_whole, None)
    frame_end: int | None = _field(_whole, None)
    frames: list = _field(_list_of(_whole, "a list of whole frame numbers"))  # Blender frame numbers
    fps: float = _field(_positive)
    motion_blur: MotionBlur | None = _field(_motion_blur, None)  # 1.3; None: off, or a 1.0-1.2 bundle


@dataclass(kw_only=True)
class Resolution(_Record):
    width: int = _field(_whole)
    height: int = _field(_whole)
    pixel_aspect: list | None = _field(_list_of(_number, "a list of numbers"), None)  # [x, y], as Blender's


@dataclass(kw_only=True)
class PassEntry(_Record):
    """One pass: its files ({key: path or {frame} pattern}; patterns.py checks each path)."""
    files: dict = _field(_object)


@dataclass(kw_only=True)
class DepthPass(PassEntry):
    near: float | None = _field(_number, None)  # the shot-wide depth range the control images use
    far: float | None = _field(_number, None)
    units: str = _field(_text, DEPTH_UNITS)
    control: str = _field(_text, DEPTH_CONTROL)


@dataclass(kw_only=True)
class PosePass(PassEntry):
    keypoints: str = _field(_text, POSE_KEYPOINTS)
    occlusion_margin_m: float | None = _field(_number, None)
    confidence: dict | None = _field(_object, None)  # joint state -> OpenPose confidence


@dataclass(kw_only=True)
class MaskPass(PassEntry):
    encoding: str = _field(_text, MASK_ENCODING)


@dataclass(kw_only=True)
class ObjectsPass(PassEntry):
    encoding: str = _field(_text, OBJECTS_ENCODING)
    objects: list = _field(_list_of(_text, "a list of object names"), factory=list)  # index k = objects[k-1]


@dataclass(kw_only=True)
class TrackingPass(PassEntry):
    """The 3D tracking pass (1.5): where each visible surface point was at the reference frame."""
    reference_frame: int = _field(_whole)         # the frame the colours are fixed at: the shot's first
    inverse_depth_low: float = _field(_positive)  # 1/metres at B = 0 and B = 1: the reference frame's
    inverse_depth_high: float = _field(_positive)  # 2nd and 98th percentiles of 1/depth over its hits
    control: str = _field(_text, TRACKING_CONTROL)
    untracked: list = _field(_list_of(_text, "a list of object names"), factory=list)  # topology changed: 0


PASS_TYPES = {"depth": DepthPass, "pose": PosePass, "mask": MaskPass, "objects": ObjectsPass,
              "tracking": TrackingPass}


def pass_entry(name, **values):
    """A new pass entry of `name` with the format's file layout and the given fields."""
    return PASS_TYPES.get(name, PassEntry)(files=dict(PASS_FILES[name]), **values)


def _passes(value, where):
    if not isinstance(value, dict):
        _refuse(where, value, "a JSON object of passes")
    return {name: PASS_TYPES.get(name, PassEntry).from_json(entry, _at(where, name)) for name, entry in value.items()}


KEY_SIDES = ("screen-left", "screen-right")  # which half of a head or torso the key light is on


def _number_or_null(value, where):
    return None if value is None else _number(value, where)


def _key_side(value, where):
    if _text(value, where) not in KEY_SIDES + ("",):
        _refuse(where, value, f"one of {', '.join(KEY_SIDES)} (or \"\" when not measured)")
    return value


@dataclass(kw_only=True)
class RegionLighting(_Record):
    """Key-side ÷ fill-side luminance of a head or torso on the clay pass (2.0 reads 2:1), and
    the key's side on screen; ratio None (and key_side "") when it could not be measured."""
    ratio: float | None = _field(_number_or_null, None)
    key_side: str = _field(_key_side, "")


@dataclass(kw_only=True)
class ActorLighting(_Record):
    """An actor's lighting ratios over the shot (1.4; addon/lighting.py measures them at export)."""
    head: RegionLighting = _field(RegionLighting.from_json, factory=RegionLighting)
    torso: RegionLighting = _field(RegionLighting.from_json, factory=RegionLighting)


def _lighting(value, where):
    return None if value is None else ActorLighting.from_json(value, where)


@dataclass(kw_only=True)
class ActorRecord(_Record):
    name: str = _field(_text)
    description: str = _field(_text, "")
    object: str | None = _field(_text, None)      # the armature's object name
    bone_map: dict | None = _field(_object, None)
    mask_index: int | None = _field(_whole, None)  # the actor's value in the mask pass
    lighting: ActorLighting | None = _field(_lighting, None)  # 1.4; None: not measured (no clay, mask or pose)

    def to_json(self):
        """Without `lighting` when it was not measured, as exporters before 1.4 wrote it."""
        document = super().to_json()
        if document.get("lighting", ...) is None:
            del document["lighting"]
        return document


@dataclass(kw_only=True)
class Source(_Record):
    blend: str | None = _field(_text, None)
    blend_sha256: str | None = _field(_text_or_null, None)  # None: unsaved edits, no file to hash
    scene: str | None = _field(_text, None)
    blender_version: str | None = _field(_text, None)


@dataclass(kw_only=True)
class Generator(_Record):
    name: str = _field(_text, GENERATOR_NAME)
    version: str = _field(_text, BLOCKCAST_VERSION)


@dataclass(kw_only=True)
class BundleManifest(_Record):
    schema: str = _field(_text, SCHEMA_NAME, required=True)
    schema_version: str = _field(_text, SCHEMA_VERSION, required=True)
    shot: Shot = _field(Shot.from_json)
    resolution: Resolution = _field(Resolution.from_json)
    # 1.6: Scene ▸ Units ▸ Unit Scale, the metres in one Blender unit (every length in the bundle is in
    # Blender units); 1.0 for a 1.0-1.5 bundle, which did not record it (and writes back without it).
    metres_per_unit: float = _field(_positive, 1.0)
    passes: dict = _field(_passes)                                # pass name -> PassEntry, in PASSES order
    actors: list = _field(_list_of(ActorRecord.from_json, "a list of actor records"), factory=list, required=True)
    cast: Cast | None = _field(_cast, None)                       # 1.2; None: a 1.0/1.1 bundle, no cast
    source: Source = _field(Source.from_json)
    generator: Generator = _field(Generator.from_json, factory=Generator)

    @classmethod
    def from_json(cls, document, where=""):
        """The manifest, refused first when it is another format or another major version."""
        if isinstance(document, dict) and "schema" in document and "schema_version" in document:
            schema, version = document["schema"], document["schema_version"]
            if schema != SCHEMA_NAME or not schema_compatible(version):
                major = SCHEMA_VERSION.split(".")[0]
                raise ManifestError(f"the manifest is schema {str(schema)[:40]} {str(version)[:40]}; this reader "
                                    f"takes {SCHEMA_NAME} {major}.x: re-export with this version")
        return super().from_json(document, where)

    def shot_wide(self):
        """What every chunk of one shot shares ({field path: value}): merge refuses chunks that differ."""
        return {"shot.name": self.shot.name, "shot.camera": self.shot.camera, "shot.fps": self.shot.fps,
                "resolution": self.resolution, "metres_per_unit": self.metres_per_unit, "actors": self.actors,
                "source": self.source, "schema_version": self.schema_version, "generator": self.generator,
                "cast": self.cast}


def named_patterns(document):
    """The file patterns a Blockcast bundle.json document names, read leniently (a damaged
    bundle is still Blockcast's own, which --overwrite may replace); None for any other document."""
    if not isinstance(document, dict) or document.get("schema") != SCHEMA_NAME:
        return None
    try:
        return [pattern for entry in (document.get("passes") or {}).values() for pattern in entry["files"].values()]
    except (AttributeError, KeyError, TypeError):
        return None
