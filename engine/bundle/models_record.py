"""What `python -m engine models` prints, as records both sides import (stdlib only): the entries
of `models list --json` and the JSON lines of `models fetch` and `models verify`, which the
add-on's Preferences ▸ Models reads. Attribute names are the JSON keys; unknown keys are kept.
"""

from dataclasses import dataclass, field, fields

MODELS_LIST_KEY = "models"   # `models list --json` prints {MODELS_LIST_KEY: [ModelEntry, ...]}


class _Record:
    def to_json(self):
        document = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**{k: v for k, v in document.items() if v is not None or k in self.keep_none}, **self.extra}

    keep_none = ()

    @classmethod
    def from_json(cls, document):
        if not isinstance(document, dict):
            raise ValueError(f"a {cls.__name__} is a JSON object, not {type(document).__name__}")
        known = {f.name for f in fields(cls) if f.name != "extra"}
        return cls(**{k: v for k, v in document.items() if k in known},
                   extra={k: v for k, v in document.items() if k not in known})


@dataclass
class ModelEntry(_Record):
    """One model role of a backend: its hub id, size and licence, and where it is found here
    (folder and found_in "model folder", "cache" or "shipped"; None when missing)."""

    backend: str = ""
    role: str = ""
    hub_id: str = ""
    description: str = ""
    for_control: str | None = None
    size_bytes: int | None = None      # parameters x stored bytes; None: ships with Blockcast
    licence: str | None = None
    gated: bool = False
    folder: str | None = None
    found_in: str | None = None
    revision: str | None = None        # the cache snapshot's commit
    extra: dict = field(default_factory=dict)
    keep_none = ("for_control", "size_bytes", "licence", "folder", "found_in", "revision")


@dataclass
class ModelProgress(_Record):
    """One JSON line of `models fetch` or `models verify`: event "fetch" (a role starts; hub_id,
    size_bytes), "download" (done, total bytes), "fetched" or "verified" (folder, ok, hashed,
    problems), "error" (message)."""

    event: str = ""
    backend: str | None = None
    role: str | None = None
    hub_id: str | None = None
    size_bytes: int | None = None
    done: int | None = None
    total: int | None = None
    folder: str | None = None
    ok: bool | None = None
    hashed: int | None = None
    problems: list | None = None
    message: str | None = None
    extra: dict = field(default_factory=dict)
