"""Writing a bundle safely: into a temporary sibling folder, renamed into place at the end.

A failed, cancelled or killed export never leaves a half bundle that looks whole, and an
existing bundle is only replaced when asked, after the new one is complete.
"""

import errno
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from . import png
from .schema import MANIFEST_NAME


_LOW_SPACE = 16 * 1024 * 1024  # below this, a failed write is taken as a full disk (numpy omits errno)


class BundleError(Exception):
    """A bundle cannot be read or written; the message says what to do."""


def remove_leftovers(folder, name="*"):
    """Hidden `.NAME.partial-*` / `.NAME.replaced-*` folders that killed writers left in `folder`."""
    for pattern in (f".{name}.partial-*", f".{name}.replaced-*"):
        for leftover in Path(folder).glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True)


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


def check_output_dir(final_dir, overwrite=False):
    """Refuse early (before any rendering) when the bundle could not be written there."""
    final_dir = Path(final_dir)
    if final_dir.exists() and not overwrite:
        raise BundleError(f"Output folder {final_dir} already exists: choose another folder or pass --overwrite")
    if final_dir.exists() and not final_dir.is_dir():
        raise BundleError(f"Output path {final_dir} is a file, not a folder: choose another output folder")
    parent = final_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BundleError(f"Cannot create {parent} ({exc.strerror}): choose an output folder you can write to") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BundleError(f"Cannot write to {parent}: choose an output folder you can write to")


class BundleWriter:
    """Collects a bundle's files in a temporary folder; `commit` renames it into place."""

    def __init__(self, final_dir, overwrite=False):
        self.final_dir = Path(final_dir).absolute()
        self.overwrite = overwrite
        check_output_dir(self.final_dir, overwrite)
        self.temp_dir = partial_dir(self.final_dir)

    def __enter__(self):
        # A killed earlier run leaves its hidden partial (or swapped-out) folder; one writer per
        # bundle path at a time, so whatever is left there is garbage.
        remove_leftovers(self.final_dir.parent, self.final_dir.name)
        self.temp_dir.mkdir()
        return self

    def __exit__(self, exc_type, exc, tb):
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
        return False

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
        """Write the manifest last, then swap the finished folder into place."""
        self.write_json(MANIFEST_NAME, manifest)
        return swap_into_place(self.temp_dir, self.final_dir)
