"""Typed JSON records (stdlib only): take.json, variations.json, the engine service's documents and
the models listing are each one family of them.

A record is a dataclass whose attributes are its JSON keys, each declared with `key(read, ...)`:
`read(value, where, name)` returns the value or raises WrongValue saying what it should be, and
the record turns that into its own error naming the file (`where`) and the field (`name`) with
what to do (`record_advice`). Keys a newer writer added ride in `extra` and are written back; keys an
older writer lacked take their defaults, and `omit` fields it never wrote stay out when written.
"""

import json
from dataclasses import MISSING, field, fields
from pathlib import Path


class WrongValue(Exception):
    """A reader's refusal: what the value should have been (the record adds the file and the field)."""

    def __init__(self, wanted):
        super().__init__(wanted)
        self.wanted = wanted


def check(test, wanted):
    """A reader for one JSON value: the value itself when `test` accepts it."""
    def read(value, where, name):
        if not test(value):
            raise WrongValue(wanted)
        return value
    return read


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def optional(read):
    """`read`, or None for null."""
    return lambda value, where, name: None if value is None else read(value, where, name)


def nested(record_type):
    return lambda value, where, name: record_type.from_json(value, where, name)


def nested_map(record_type):
    """An object of records: key -> record_type."""
    def read(value, where, name):
        objects(value, where, name)
        return {member: record_type.from_json(item, where, f"{name}.{member}") for member, item in value.items()}
    return read


def nested_list(record_type):
    """A list of records."""
    def read(value, where, name):
        lists(value, where, name)
        return [record_type.from_json(item, where, f"{name}[{index}]") for index, item in enumerate(value)]
    return read


text = check(lambda v: isinstance(v, str), "text")
whole = check(is_int, "a whole number")
number = check(is_number, "a number")
flag = check(lambda v: isinstance(v, bool), "true or false")
objects = check(lambda v: isinstance(v, dict), "an object")
lists = check(lambda v: isinstance(v, list), "a list")
texts = check(lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v), "a list of text")
wholes = check(lambda v: isinstance(v, list) and all(map(is_int, v)), "a list of whole numbers")
pair = check(lambda v: isinstance(v, list) and len(v) == 2 and all(map(is_int, v)), "two whole numbers")
colours = check(lambda v: isinstance(v, dict) and all(isinstance(c, str) for c in v.values()),
                "object: \"#rrggbb\" pairs")


def if_none(value):
    return value is None


def if_empty(value):
    return not value


def key(read, default=MISSING, factory=MISSING, required=False, omit=None):
    """A JSON key: how to read it, its default for records that lack it, whether it must be there,
    and `omit(value)` true where it is left out when written (a key older writers never wrote)."""
    return field(default=default, default_factory=factory, metadata={"read": read, "required": required,
                                                                     "omit": omit})


def json_copy(value):
    """A record or JSON value as a fresh JSON value (records by their to_json): changing the
    document leaves the record as it was."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, dict):
        return {member: json_copy(item) for member, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_copy(item) for item in value]
    return value


class TypedRecord:
    """to_json/from_json over a dataclass whose fields are JSON keys, plus `extra` (unknown keys).
    A record family sets `record_error` (its exception class) and `record_advice` (what to do about a
    damaged file); these names are no field's."""

    record_error = ValueError
    record_advice = "the record was edited or damaged"
    record_file = "the record"  # the file named when the caller names none

    def to_json(self):
        document = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name != "extra" and not (item.metadata["omit"] and item.metadata["omit"](value)):
                document[item.name] = json_copy(value)
        return {**document, **json_copy(self.extra)}

    @classmethod
    def damaged(cls, where, name, wanted, value):
        return cls.record_error(f"{where}: {name} should be {wanted}, not {value!r}: {cls.record_advice}")

    @classmethod
    def from_json(cls, document, where=None, name=None):
        """The record of a JSON object; `record_error` naming `where` (the file) and the field."""
        where = where or cls.record_file
        prefix = f"{name}." if name else ""
        if not isinstance(document, dict):
            raise cls.damaged(where, name or "the record", "an object", document)
        values, keys = {}, [item for item in fields(cls) if item.name != "extra"]
        for item in keys:
            spelled = prefix + item.name
            if item.name in document:
                try:
                    values[item.name] = item.metadata["read"](document[item.name], where, spelled)
                except WrongValue as wrong:
                    raise cls.damaged(where, spelled, wrong.wanted, document[item.name]) from None
            elif item.metadata["required"]:
                raise cls.record_error(f"{where}: {spelled} is missing: {cls.record_advice}")
        known = {item.name for item in keys}
        return cls(**values, extra={unknown: value for unknown, value in document.items() if unknown not in known})


def read_json_file(path, error, advice):
    """The JSON document in `path`; `error` saying it cannot be read and `advice` (what to do)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path} cannot be read ({exc}): {advice}") from exc


def refuse_other_schema(document, where, schema, version, error, what):
    """`error` unless `document` is a `what` ("take record") of `schema` in `version`'s major version."""
    found = document.get("schema") if isinstance(document, dict) else None
    if found != schema:
        raise error(f"{where} is not a Blockcast {what} (schema {found!r})")
    found_version, major = document.get("schema_version", version), version.split(".")[0]
    if not isinstance(found_version, str) or found_version.split(".")[0] != major:
        raise error(f"{where} is a {what} version {found_version!r}, and this Blockcast reads {major}.x: "
                    "update Blockcast to read it")
