"""Numbered output folders — take-NNN-<label>, variations-NNN-s<seed> — and how the next number is
reserved: by making the name's hidden `.NAME.partial` folder, so two writers in one folder never
pick the same number. Stdlib only: the engine writes these folders, and the add-on numbers the
ones an engine service sends back the same way."""

import os
import re
from pathlib import Path

TAKE_NUMBERED = re.compile(r"^\.?take-(\d+)-")
VARIATIONS_NUMBERED = re.compile(r"^\.?variations-(\d+)-")


def take_name(number, label):
    return f"take-{number:03d}-{label}"


def variations_name(number, first_seed):
    return f"variations-{number:03d}-s{first_seed}"


def reserve_numbered(folder, numbered, name_for, unwritable=None):
    """(name, hidden partial folder) for the next free number in `folder`: `numbered` matches the
    names already there (partial ones too) with the number as group 1, `name_for(number)` names the
    next one. Making the partial folder reserves the number (another writer may take it between
    tries); `unwritable(exc)`, when given, is raised instead of the OSError when it cannot be made."""
    while True:
        numbers = [int(m.group(1)) for m in map(numbered.match, os.listdir(folder)) if m]
        name = name_for(max(numbers, default=0) + 1)
        partial = Path(folder) / f".{name}.partial"
        try:
            partial.mkdir()
            return name, partial
        except FileExistsError:
            continue
        except OSError as exc:
            if unwritable is None:
                raise
            raise unwritable(exc) from exc
