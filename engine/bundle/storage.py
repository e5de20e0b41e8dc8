"""Writing a bundle safely: into a temporary sibling folder, renamed into place at the end.

A failed, cancelled or killed export never leaves a half bundle that looks whole. What is at
the output path is only ever replaced when asked, after the new bundle is complete, and only
when it is a Blockcast bundle holding nothing but its own files (or an empty folder): never a
folder of someone else's files. One writer per output path at a time (output_lock).
"""

import errno
import json
import os
import re
import shutil
import string
import uuid
from glob import escape as glob_escape
from pathlib import Path

import numpy as np

from . import png
from .cast import CAST_DIR
from .output_lock import LockHeld, OutputLock
from .manifest import named_patterns
from .schema import CONTROLS_DIR, MANIFEST_NAME


_LOW_SPACE = 16 * 1024 * 1024  # below this, a failed write is taken as a full disk (numpy omits errno)
_HEX8 = "[0-9a-f]" * 8
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?:(?:partial|replaced)-[0-9a-f]{8}|lock)$")
_SYSTEM_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}  # file browsers' own, in any folder they showed
_OWN_FOLDERS = (CONTROLS_DIR + "/", CAST_DIR + "/")  # the engine's review controls, the exporter's references


class BundleError(Exception):
    """A bundle cannot be read or written; the message says what to do."""


class OutputFolderError(BundleError):
    """What is at the output path may not be replaced. The message names the option that
    replaces a bundle in the words of the UI at hand: the CLI flag by default, `in_words`
    for another UI (the panel's checkbox)."""

    def __init__(self, template, folder, names=""):
        self.template, self.folder, self.names = template, folder, names
        super().__init__(self.in_words("--overwrite", "pass --overwrite"))

    def in_words(self, option, use):
        """The message with `option` (e.g. "Replace Existing") and `use` ("tick Replace Existing")."""
        return self.template.format(folder=self.folder, names=self.names, option=option, use=use)


_EXISTS = "Output folder {folder} already holds a bundle: choose another folder, or {use} to replace it"
_NOT_A_BUNDLE = ("Output folder {folder} is not empty and is not a Blockcast bundle (it has no bundle.json of "
                 "schema blockcast.bundle): choose an empty or new folder ({option} only ever replaces a bundle)")
_FOREIGN_FILES = ("Output folder {folder} holds files that are not part of its bundle ({names}): move them out "
                  "or choose an empty or new folder ({option} only ever replaces Blockcast's own files)")


def _pattern_regex(pattern):
    """A bundle.json file pattern as a regex over relative paths ({frame...} = an integer);
    None for anything but plain text and {frame} fields (never formatted, so never evaluated)."""
    parts = []
    for literal, field, spec, conversion in string.Formatter().parse(pattern):
        parts.append(re.escape(literal))
        if field is None:
            continue
        if field != "frame" or conversion or not re.fullmatch(r"0?\d*d?", spec or ""):
            return None
        parts.append(r"-?\d+")
    return re.compile("".join(parts))


def _raise(error):
    raise error


def foreign_files(folder):
    """Relative paths in `folder` that its bundle does not account for (bundle.json, the pass
    files its patterns name, cast/ and the engine's controls/, file browsers' own files); None when
    `folder` holds no Blockcast bundle. Reads only `folder`'s bundle.json and its listing."""
    folder = Path(folder)
    try:
        named = named_patterns(json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8")))
        patterns = None if named is None else [_pattern_regex(pattern) for pattern in named]
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    if patterns is None or None in patterns:
        return None
    strangers = []
    for root, dirs, files in os.walk(folder, onerror=_raise):
        for name in dirs + files:
            path = Path(root, name)
            relative = path.relative_to(folder).as_posix()
            if name in dirs and not path.is_symlink():
                continue
            if relative == MANIFEST_NAME or name in _SYSTEM_FILES or relative.startswith(_OWN_FOLDERS):
                continue
            if not any(pattern.fullmatch(relative) for pattern in patterns):
                strangers.append(relative)
    return sorted(strangers)


def _sweep(folder, name):
    """Remove the hidden `.NAME.partial-*` / `.NAME.replaced-*` folders killed writers left;
    only call it holding NAME's lock, when no writer can still be filling them."""
    for kind in ("partial", "replaced"):
        for leftover in Path(folder).glob(f".{glob_escape(name)}.{kind}-{_HEX8}"):
            shutil.rmtree(leftover, ignore_errors=True)


def remove_leftovers(folder, name="*"):
    """Sweep what killed writers left in `folder` for bundle `name` (every name by default):
    partial and swapped-out folders and stale lock files; a name whose lock a live writer
    holds is left alone."""
    try:
        listing = os.listdir(folder) if name == "*" else []
    except OSError:
        return
    names = {name} if name != "*" else {m.group("name") for m in map(_LEFTOVER.match, listing) if m}
    for each in sorted(names):
        lock = OutputLock(Path(folder) / each)
        try:
            lock.acquire(wait=0)
        except (LockHeld, OSError):
            continue
        try:
            _sweep(folder, each)
        finally:
            lock.release()


def partial_dir(final_dir):
    """A fresh hidden `.NAME.partial-*` folder path beside `final_dir`, for a writer to fill."""
    final_dir = Path(final_dir)
    return final_dir.parent / f".{final_dir.name}.partial-{uuid.uuid4().hex[:8]}"


def swap_into_place(temp_dir, final_dir):
    """Rename the finished `temp_dir` to `final_dir`; a folder already there is moved aside
    first and removed after, so `final_dir` is always either the old or the new whole folder."""
    final_dir = Path(final_dir)
    previous = None
    if final_dir.exists():
        previous = final_dir.parent / f".{final_dir.name}.replaced-{uuid.uuid4().hex[:8]}"
        os.rename(final_dir, previous)
    os.rename(temp_dir, final_dir)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
    return final_dir


def _check_existing(final_dir, overwrite):
    if final_dir.is_symlink():
        raise BundleError(f"Output folder {final_dir} is a symbolic link: choose the folder it points to "
                          f"({final_dir.resolve()}) or another folder")
    if not final_dir.is_dir():
        raise BundleError(f"Output path {final_dir} is a file, not a folder: choose another output folder")
    try:
        if not any(final_dir.iterdir()):
            return  # an empty folder: nothing to lose
        strangers = foreign_files(final_dir)
    except OSError as exc:
        raise BundleError(f"Cannot read {final_dir} ({exc.strerror}): choose another output folder") from None
    if strangers is None:
        raise OutputFolderError(_NOT_A_BUNDLE, final_dir)
    if strangers:
        shown = ", ".join(strangers[:3]) + (f" and {len(strangers) - 3} more" if len(strangers) > 3 else "")
        raise OutputFolderError(_FOREIGN_FILES, final_dir, shown)
    if not overwrite:
        raise OutputFolderError(_EXISTS, final_dir)


def check_output_dir(final_dir, overwrite=False):
    """Refuse early (before any rendering) when the bundle could not be written there, or
    what is there may not be replaced."""
    final_dir = Path(final_dir)
    if final_dir.exists() or final_dir.is_symlink():
        _check_existing(final_dir, overwrite)
    parent = final_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BundleError(f"Cannot create {parent} ({exc.strerror}): choose an output folder you can write to") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BundleError(f"Cannot write to {parent}: choose an output folder you can write to")


class BundleWriter:
    """Collects a bundle's files in a temporary folder; `commit` renames it into place.
    Holds the output path's lock from `with` to the end, so no other writer touches it."""

    def __init__(self, final_dir, overwrite=False):
        self.final_dir = Path(final_dir).absolute()
        self.overwrite = overwrite
        check_output_dir(self.final_dir, overwrite)
        self.temp_dir = partial_dir(self.final_dir)
        self._lock = OutputLock(self.final_dir)

    def __enter__(self):
        try:
            self._lock.acquire()
        except LockHeld as held:
            raise BundleError(f"Output folder {self.final_dir} is being written by {held}: wait for it to "
                              f"finish or choose another folder (lock file {self._lock.path})") from None
        except OSError as exc:
            raise BundleError(f"Cannot write to {self.final_dir.parent} ({exc.strerror}): choose an output "
                              "folder you can write to") from None
        try:
            check_output_dir(self.final_dir, self.overwrite)  # again: it may have changed before we held the lock
            # A killed earlier run leaves its hidden partial (or swapped-out) folder: garbage, as we hold the lock.
            _sweep(self.final_dir.parent, self.final_dir.name)
            self.temp_dir.mkdir()
        except OSError as exc:
            self._lock.release()
            raise BundleError(f"Cannot write to {self.final_dir.parent} ({exc.strerror}): choose an output "
                              "folder you can write to") from None
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self._clean_up(exc)
        finally:
            self._lock.release()
        return False

    def _clean_up(self, exc):
        disk_full = isinstance(exc, OSError) and (
            exc.errno in (errno.ENOSPC, errno.EDQUOT) or shutil.disk_usage(self.temp_dir.parent).free < _LOW_SPACE)
        if self.temp_dir.exists():
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        if disk_full:
            raise BundleError(
                f"Ran out of disk space while writing {self.final_dir}: free some space or choose another "
                "output folder (nothing was written there)"
            ) from exc
        if isinstance(exc, OSError):
            raise BundleError(f"Could not write {self.final_dir} ({exc}); nothing was written there") from exc

    def path(self, relative):
        target = self.temp_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_json(self, relative, document):
        self.path(relative).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")

    def write_text(self, relative, text):
        self.path(relative).write_text(text, encoding="utf-8")

    def write_npy(self, relative, array):
        np.save(self.path(relative), np.ascontiguousarray(array), allow_pickle=False)

    def write_png(self, relative, pixels):
        png.write_png(self.path(relative), pixels)

    def commit(self, manifest):
        """Write the manifest last, check once more what is at the output path (someone may
        have put files there during the export), then swap the finished folder into place."""
        self.write_json(MANIFEST_NAME, manifest)
        check_output_dir(self.final_dir, self.overwrite)
        return swap_into_place(self.temp_dir, self.final_dir)
