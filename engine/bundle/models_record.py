"""What `python -m engine models` prints, as records both sides import (stdlib only): the entries
of `models list --json` and the JSON lines of `models fetch` and `models verify`, which the
add-on's Preferences ▸ Models reads. Attribute names are the JSON keys; unknown keys are kept.
"""

from dataclasses import dataclass, field

from .typed_record import TypedRecord, flag, if_none, key, number, optional, text, texts, whole

MODELS_LIST_KEY = "models"   # `models list --json` prints {MODELS_LIST_KEY: [ModelEntry, ...]}


class ModelsRecordError(ValueError):
    """A line of `python -m engine models` whose field has the wrong type; the message names it."""


class _Record(TypedRecord):
    record_error = ModelsRecordError
    record_advice = "the add-on and the engine may be from different versions; update both"
    record_file = "python -m engine models"


@dataclass
class ModelEntry(_Record):
    """One model role of a backend: its hub id, size and licence, and where it is found here
    (folder and found_in "model folder", "cache" or "shipped"; None when missing)."""

    backend: str = key(text, "")
    role: str = key(text, "")
    hub_id: str = key(text, "")
    description: str = key(text, "")
    for_control: str | None = key(optional(text), None)
    size_bytes: int | None = key(optional(number), None)  # parameters x stored bytes; None: ships with Blockcast
    licence: str | None = key(optional(text), None)
    gated: bool = key(flag, False)
    folder: str | None = key(optional(text), None)
    found_in: str | None = key(optional(text), None)
    revision: str | None = key(optional(text), None)     # the cache snapshot's commit
    extra: dict = field(default_factory=dict)


@dataclass
class ModelProgress(_Record):
    """One JSON line of `models fetch` or `models verify`: event "fetch" (a role starts; hub_id,
    size_bytes), "download" (done, total bytes), "fetched" or "verified" (folder, ok, hashed,
    problems), "error" (message). Only the keys an event has are written."""

    event: str = key(text, "")
    backend: str | None = key(optional(text), None, omit=if_none)
    role: str | None = key(optional(text), None, omit=if_none)
    hub_id: str | None = key(optional(text), None, omit=if_none)
    size_bytes: int | None = key(optional(number), None, omit=if_none)
    done: int | None = key(optional(number), None, omit=if_none)
    total: int | None = key(optional(number), None, omit=if_none)
    folder: str | None = key(optional(text), None, omit=if_none)
    ok: bool | None = key(optional(flag), None, omit=if_none)
    hashed: int | None = key(optional(whole), None, omit=if_none)
    problems: list | None = key(optional(texts), None, omit=if_none)
    message: str | None = key(optional(text), None, omit=if_none)
    extra: dict = field(default_factory=dict)
