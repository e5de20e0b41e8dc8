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
from dataclasses import dataclass, field
from pathlib import Path

from .typed_record import (TypedRecord, colours, key, nested, nested_list, number, objects, optional, pair,
                           read_json_file, refuse_other_schema, text, whole, wholes)

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


class _Record(TypedRecord):
    record_error = VariationsRecordError
    record_advice = "the variations record was edited or damaged; make the variations again"
    record_file = VARIATIONS_RECORD


@dataclass
class VariationsBundle(_Record):
    """The pass bundle the variations were made from, and its content hash."""
    path: str = key(text, "")
    hash: str | None = key(optional(text), None)
    shot: str = key(text, "")
    extra: dict = field(default_factory=dict)


@dataclass
class Variation(_Record):
    """One variation: its seed, its tile (relative to the variations folder) and its look."""
    seed: int = key(whole, 0)
    tile: str = key(text, "")
    look: dict = key(colours, factory=dict)  # object name -> "#rrggbb", as the full take's look.objects
    extra: dict = field(default_factory=dict)


@dataclass
class VariationsTimings(_Record):
    """Seconds each stage took: loading the model, sampling the looks, composing tiles and sheet
    (looks and tiles summed over the `workers` that made them side by side), and the whole run."""
    load_s: float = key(number, 0.0)
    sample_s: float = key(number, 0.0)
    compose_s: float = key(number, 0.0)
    total_s: float = key(number, 0.0)
    workers: int = key(whole, 1)
    extra: dict = field(default_factory=dict)


@dataclass
class VariationsRecord(_Record):
    """One Variations run: what was asked, the key frames shown, and every variation made."""
    schema: str = key(text, VARIATIONS_SCHEMA)
    schema_version: str = key(text, VARIATIONS_SCHEMA_VERSION)
    created: str | None = key(optional(text), None)  # ISO 8601, UTC
    backend: str = key(text, "")
    bundle: VariationsBundle = key(nested(VariationsBundle), factory=VariationsBundle)
    prompt: str = key(text, "")
    key_frames: list = key(wholes, factory=list)      # Blender frame numbers, left to right in each tile
    tile_size: list = key(pair, factory=lambda: [0, 0])  # [W, H] of one key frame in a tile
    sheet: str = key(text, SHEET_FILE)
    variations: list = key(nested_list(Variation), factory=list)
    timings: VariationsTimings = key(nested(VariationsTimings), factory=VariationsTimings)
    sampler: dict | None = key(optional(objects), None)  # each take's look.sampler (take_record.LookSampler)
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, document, where=VARIATIONS_RECORD, name=None):
        """The record of a parsed variations.json; VariationsRecordError naming `where` and the key."""
        refuse_other_schema(document, where, VARIATIONS_SCHEMA, VARIATIONS_SCHEMA_VERSION, VariationsRecordError,
                            "variations record")
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
    document = read_json_file(path, VariationsRecordError, "the variations folder is damaged or was moved; make the "
                              "variations again")
    return VariationsRecord.from_json(document, where=str(path))
