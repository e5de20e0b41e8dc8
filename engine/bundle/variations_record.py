"""variations.json, the record of one Variations run, as one typed record both sides import (stdlib only).

    DIR/variations-NNN-s<S>/variations.json   written by `python -m engine variations`
    DIR/variations-NNN-s<S>/sheet.png         the contact sheet: every tile, labelled with its seed
    DIR/variations-NNN-s<S>/tiles/s<seed>.png one tile: the shot's key frames side by side

A variation is a look (one colour per object) the default backend would give a full take at its
seed; `generate --seed <seed>` with the same bundle and flags makes that take. Attribute names
are the JSON keys; `from_json` checks each known key's type and names the file and the key when
one is wrong; keys a newer engine added are kept in `extra`, keys an older one lacked take their
defaults.
"""

import json
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

VARIATIONS_RECORD = "variations.json"
VARIATIONS_SCHEMA = "blockcast.variations"
VARIATIONS_SCHEMA_VERSION = "1.1"  # major.minor: readers accept any minor of their major (1.1: timings.workers)
SHEET_FILE = "sheet.png"
TILES_DIR = "tiles"
# `python -m engine variations` defaults, shared with the add-on's Variations panel
DEFAULT_COUNT = 24
DEFAULT_KEY_FRAMES = 3
DEFAULT_TILE_WIDTH = 160


class VariationsRecordError(ValueError):
    """A variations folder without a readable record; the message names the file and the key."""


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_CHECKS = {  # a field's `kind` -> (test, how the message spells what it should be)
    "text": (lambda v: isinstance(v, str), "text"),
    "optional text": (lambda v: v is None or isinstance(v, str), "text or null"),
    "int": (_is_int, "a whole number"),
    "number": (_is_number, "a number"),
    "ints": (lambda v: isinstance(v, list) and all(map(_is_int, v)), "a list of whole numbers"),
    "pair": (lambda v: isinstance(v, list) and len(v) == 2 and all(map(_is_int, v)), "two whole numbers"),
    "colours": (lambda v: isinstance(v, dict) and all(isinstance(c, str) for c in v.values()),
                "object: \"#rrggbb\" pairs"),
    "optional object": (lambda v: v is None or isinstance(v, dict), "an object or null"),
}


def _key(kind, default=MISSING, factory=MISSING, record=None):
    """A JSON key: how to check it (`kind`, or `record` for a nested record / a list of them)."""
    return field(default=default, default_factory=factory, metadata={"kind": kind, "record": record})


class _Record:
    """to_json/from_json over a dataclass whose fields are JSON keys, plus `extra` (unknown keys)."""

    def to_json(self):
        document = {}
        for item in fields(self):
            if item.name != "extra":
                value = getattr(self, item.name)
                if item.metadata["kind"] == "records":
                    value = [entry.to_json() for entry in value]
                elif item.metadata["kind"] == "record":
                    value = value.to_json()
                document[item.name] = json.loads(json.dumps(value))  # a copy, plain JSON types
        return {**document, **self.extra}

    @classmethod
    def from_json(cls, document, where=VARIATIONS_RECORD, name=None):
        """The record of a JSON object; VariationsRecordError naming `where` (the file) and the key."""
        if not isinstance(document, dict):
            raise _damaged(where, name or "the record", "an object", document)
        values, known = {}, set()
        for item in fields(cls):
            if item.name == "extra":
                continue
            known.add(item.name)
            if item.name not in document:
                continue
            value, spelled = document[item.name], f"{name}.{item.name}" if name else item.name
            kind, record = item.metadata["kind"], item.metadata["record"]
            if kind == "record":
                value = record.from_json(value, where, spelled)
            elif kind == "records":
                if not isinstance(value, list):
                    raise _damaged(where, spelled, "a list", value)
                value = [record.from_json(entry, where, f"{spelled}[{index}]") for index, entry in enumerate(value)]
            elif not _CHECKS[kind][0](value):
                raise _damaged(where, spelled, _CHECKS[kind][1], value)
            values[item.name] = value
        return cls(**values, extra={key: value for key, value in document.items() if key not in known})


def _damaged(where, name, wanted, value):
    return VariationsRecordError(f"{where}: {name} should be {wanted}, not {value!r}: the variations record was "
                                 "edited or damaged; make the variations again")


@dataclass
class VariationsBundle(_Record):
    """The pass bundle the variations were made from, and its content hash."""
    path: str = _key("text", "")
    hash: str | None = _key("optional text", None)
    shot: str = _key("text", "")
    extra: dict = field(default_factory=dict)


@dataclass
class Variation(_Record):
    """One variation: its seed, its tile (relative to the variations folder) and its look."""
    seed: int = _key("int", 0)
    tile: str = _key("text", "")
    look: dict = _key("colours", factory=dict)  # object name -> "#rrggbb", as the full take's look.objects
    extra: dict = field(default_factory=dict)


@dataclass
class VariationsTimings(_Record):
    """Seconds each stage took: loading the model, sampling the looks, composing tiles and sheet
    (looks and tiles summed over the `workers` that made them side by side), and the whole run."""
    load_s: float = _key("number", 0.0)
    sample_s: float = _key("number", 0.0)
    compose_s: float = _key("number", 0.0)
    total_s: float = _key("number", 0.0)
    workers: int = _key("int", 1)
    extra: dict = field(default_factory=dict)


@dataclass
class VariationsRecord(_Record):
    """One Variations run: what was asked, the key frames shown, and every variation made."""
    schema: str = _key("text", VARIATIONS_SCHEMA)
    schema_version: str = _key("text", VARIATIONS_SCHEMA_VERSION)
    created: str | None = _key("optional text", None)  # ISO 8601, UTC
    backend: str = _key("text", "")
    bundle: VariationsBundle = _key("record", factory=VariationsBundle, record=VariationsBundle)
    prompt: str = _key("text", "")
    key_frames: list = _key("ints", factory=list)      # Blender frame numbers, left to right in each tile
    tile_size: list = _key("pair", factory=lambda: [0, 0])  # [W, H] of one key frame in a tile
    sheet: str = _key("text", SHEET_FILE)
    variations: list = _key("records", factory=list, record=Variation)
    timings: VariationsTimings = _key("record", factory=VariationsTimings, record=VariationsTimings)
    sampler: dict | None = _key("optional object", None)  # each take's look.sampler (take_record.LookSampler)
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, document, where=VARIATIONS_RECORD, name=None):
        """The record of a parsed variations.json; VariationsRecordError naming `where` and the key."""
        schema = document.get("schema") if isinstance(document, dict) else None
        if schema != VARIATIONS_SCHEMA:
            raise VariationsRecordError(f"{where} is not a Blockcast variations record (schema {schema!r})")
        version = document.get("schema_version", VARIATIONS_SCHEMA_VERSION)
        if not isinstance(version, str) or version.split(".")[0] != VARIATIONS_SCHEMA_VERSION.split(".")[0]:
            raise VariationsRecordError(f"{where} is a variations record version {version!r}, and this Blockcast "
                                        f"reads {VARIATIONS_SCHEMA_VERSION.split('.')[0]}.x: update Blockcast")
        return super().from_json(document, where, name)

    def variation(self, seed):
        """The variation made at `seed`; VariationsRecordError if this run has none."""
        for entry in self.variations:
            if entry.seed == seed:
                return entry
        raise VariationsRecordError(f"these variations have no seed {seed}; pick one of the sheet's seeds")

    def dumps(self):
        """variations.json's text, as the engine writes it."""
        return json.dumps(self.to_json(), indent=1) + "\n"


def tile_name(seed):
    """A variation's tile path inside its variations folder."""
    return f"{TILES_DIR}/s{seed}.png"


def read_variations(folder):
    """The VariationsRecord in FOLDER/variations.json; VariationsRecordError if missing or damaged."""
    path = Path(folder) / VARIATIONS_RECORD
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VariationsRecordError(f"{path} cannot be read ({exc}): the variations folder is damaged or was "
                                    "moved; make the variations again") from exc
    return VariationsRecord.from_json(document, where=str(path))
