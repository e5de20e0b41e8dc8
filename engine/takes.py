"""The takes folder: one folder per generated take, written whole or not at all.

    TAKES_DIR/take-003-animatediff-s42/
        frames/0001.png ...   the shot's frames (Blender frame numbers), at the shot's size
        preview.mp4           H.264 preview at the shot's frame rate
        take.json             everything needed to make the same take again

A take is written into a hidden `.take-....partial` folder and renamed into place once
complete, so a cancelled, failed or killed generation never leaves a folder that looks
like a take. The take's number is reserved by creating that partial folder, so parallel
engines never pick the same name, and an existing take is never overwritten.

The engine writing a partial folder holds an exclusive lock on its `.lock` file; a killed
engine's lock is released by the OS, so the next engine removes that folder (only ours,
named `.take-NNN-….partial`, only with a released lock: never a live run's).
"""

import dataclasses
import errno
import os
import re
import shutil
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here, so partial folders are never swept
    fcntl = None

import numpy as np
from PIL import Image

from .bundle.numbered import TAKE_NUMBERED, reserve_numbered, take_name
from .bundle.take_record import TAKE_RECORD
from .imaging import resize_cover
from .progress import Cancelled

_PARTIAL = re.compile(r"^\.take-\d+-.+\.partial$")
_LOCK = ".lock"
_LOW_SPACE = 16 * 1024 * 1024  # below this, a failed write is taken as a full disk (encoders omit errno)


class TakeError(Exception):
    """Takes cannot be written where asked; the message says what to do."""


def _unwritable(path, exc):
    reason = exc.strerror or str(exc)
    return TakeError(f"cannot write takes to {path} ({reason}): choose an output folder you can write to")


def check_takes_dir(path):
    """Create the takes folder if needed and prove it is writable, before any model loads."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        raise _unwritable(path, exc) from exc
    sweep_stale_partials(path)
    return path


def _lock(handle, blocking):
    fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))


def sweep_stale_partials(takes_dir):
    """Remove the partial take folders killed engines left in `takes_dir`; returns them.
    A folder counts only if its lock file exists and nobody holds it (a live engine does
    from the moment the folder is made, until it is renamed or removed)."""
    if fcntl is None:
        return []
    removed = []
    for folder in sorted(Path(takes_dir).iterdir()):
        if not _PARTIAL.match(folder.name) or folder.is_symlink() or not (folder / _LOCK).is_file():
            continue
        try:
            with open(folder / _LOCK, "rb") as handle:
                _lock(handle, blocking=False)
        except OSError:
            continue  # held: a live engine is writing this take
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _disk_full(exc, folder):
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    try:
        return exc is not None and shutil.disk_usage(folder).free < _LOW_SPACE
    except OSError:
        return False


class TakeWriter:
    """Collects one take in a partial folder; `commit` renames it into place."""

    def __init__(self, takes_dir, label):
        self.takes_dir = Path(takes_dir)
        self.take_id, self.partial = reserve_numbered(self.takes_dir, TAKE_NUMBERED, lambda n: take_name(n, label),
                                                      lambda exc: _unwritable(self.takes_dir, exc))
        self._hold_lock()
        self.final = self.takes_dir / self.take_id
        self.frames = []
        self.committed = False

    def _hold_lock(self):
        """Lock `.lock` in the partial folder for as long as this engine writes the take."""
        self.lock = None
        if fcntl is not None:
            try:
                self.lock = open(self.partial / _LOCK, "wb")
                _lock(self.lock, blocking=True)
            except OSError as exc:
                shutil.rmtree(self.partial, ignore_errors=True)
                raise _unwritable(self.takes_dir, exc) from exc

    def _release_lock(self):
        if self.lock is not None:
            self.lock.close()
            self.lock = None

    def __enter__(self):
        (self.partial / "frames").mkdir()
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self.committed:
            shutil.rmtree(self.partial, ignore_errors=True)
        self._release_lock()
        if isinstance(exc, Exception) and not isinstance(exc, (TakeError, Cancelled)) \
                and _disk_full(exc, self.takes_dir):
            raise TakeError(f"ran out of disk space writing {self.take_id} in {self.takes_dir}: free some space "
                            "there or choose another --out (the unfinished take was removed; finished takes "
                            "are kept)") from exc
        return False

    def write_frame(self, frame_number, pixels, width, height):
        """Save one generated frame, resized back to the shot's size; returns its relative path."""
        image = resize_cover(Image.fromarray(pixels), width, height)
        relative = f"frames/{frame_number:04d}.png"
        image.save(self.partial / relative)
        self.frames.append(np.asarray(image))
        return relative

    def write_image(self, name, image):
        """Save a PIL image (e.g. the shot's reference) beside the frames as PNG; returns its name."""
        image.save(self.partial / name, format="PNG")
        return name

    def write_preview(self, fps):
        """H.264 MP4 of the written frames (padded to even sizes, as yuv420p needs)."""
        import imageio_ffmpeg

        height, width = self.frames[0].shape[:2]
        even_w, even_h = width + width % 2, height + height % 2
        writer = imageio_ffmpeg.write_frames(str(self.partial / "preview.mp4"), (even_w, even_h), fps=fps,
                                             codec="libx264", pix_fmt_out="yuv420p", macro_block_size=1,
                                             ffmpeg_log_level="error")
        writer.send(None)
        for frame in self.frames:
            padded = np.zeros((even_h, even_w, 3), np.uint8)
            padded[:height, :width] = frame
            writer.send(np.ascontiguousarray(padded))
        writer.close()
        return "preview.mp4"

    def commit(self, record):
        """Write the TakeRecord (named after this take) as take.json, then rename the finished
        folder into place (never over a take)."""
        record = dataclasses.replace(record, take=self.take_id)
        (self.partial / TAKE_RECORD).write_text(record.dumps(), encoding="utf-8")
        if self.lock is not None:  # the take leaves without its lock; unlocked now, it is renamed at once
            (self.partial / _LOCK).unlink()
        if self.final.exists():
            self.committed = True  # keep the finished take rather than delete it
            raise TakeError(f"{self.final} appeared while this take was generated; the new take is kept at "
                            f"{self.partial}: rename it by hand")
        os.rename(self.partial, self.final)
        self.committed = True
        return self.final
