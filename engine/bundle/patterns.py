"""The file patterns of a bundle.json pass: literal text and {frame} fields, nothing else.

A pattern is formatted with str.format, so it is parsed first and refused unless every
field is exactly `frame` with an integer format: no other names, attributes, indexes or
conversions ever reach format (a bundle.json never makes the engine evaluate anything).
"""

import string

from .schema import PASS_FILES
from .storage import BundleError

REEXPORT = "re-export the shot's passes"
_FRAME_SPECS = ("", "d") + tuple(f"{zero}{width}d" for zero in ("", "0") for width in range(1, 10))


def pattern_fields(pattern):
    """The {frame} fields of a file pattern; ValueError for any other field or a malformed one."""
    fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(pattern)
              if name is not None]
    for name, spec, conversion in fields:
        if name != "frame" or conversion or spec not in _FRAME_SPECS:
            raise ValueError(f"field {{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                             "is not {frame} or {frame:04d}")
    return fields


def pass_patterns(name, files, manifest_path):
    """{key: (pattern, per_frame)} of one pass's files (a dict, as its PassEntry holds them),
    refused unless every pattern is plain."""
    patterns = {}
    for key, pattern in files.items():
        if not isinstance(pattern, str) or not pattern:
            raise BundleError(f"{manifest_path}: the {name} pass's {key} file is {pattern!r}, not a path: "
                              f"{REEXPORT}")
        try:
            patterns[key] = (pattern, bool(pattern_fields(pattern)))
        except ValueError as exc:
            raise BundleError(f"{manifest_path}: the {name} pass's {key} pattern {pattern!r} is refused "
                              f"({exc}): {REEXPORT}") from None
        canonical = PASS_FILES.get(name, {}).get(key)
        if canonical is not None and patterns[key][1] != bool(pattern_fields(canonical)):
            raise BundleError(f"{manifest_path}: the {name} pass's {key} file {pattern!r} must be "
                              f"{'one file per frame ({frame})' if patterns[key][1] is False else 'one file'}: "
                              f"{REEXPORT}")
    return patterns
