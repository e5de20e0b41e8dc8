"""--continue-from TAKE: the last frames of an earlier take (the previous shot's accepted one),
which a backend keeps in front of the new shot so that it continues the old one.

The path is only looked at, never evaluated: it must be an existing take folder with a
take.json the engine wrote, and only the frame files that record lists, inside that folder,
are read (PNG or JPEG, as the engine writes them). Numpy and PIL only.
"""

from pathlib import Path, PurePosixPath

from PIL import Image, UnidentifiedImageError

from .bundle.take_record import TAKE_RECORD, TakeRecordError, read_take
from .imaging import resize_cover

FLAG = "--continue-from"


class CarryOverError(ValueError):
    """The take to continue from cannot be used; the message says what to do."""


def _inside(take_dir, relative):
    """The frame file `relative` of the take's record, or CarryOverError when it would lead outside."""
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or "\\" in relative or not relative:
        raise CarryOverError(f"{FLAG} {take_dir}: its take.json names the frame {relative!r}, which is not a file "
                             "inside the take folder")
    resolved = (take_dir / path).resolve()
    if take_dir.resolve() not in resolved.parents:
        raise CarryOverError(f"{FLAG} {take_dir}: its frame {relative} leads outside the take folder")
    return resolved


def carry_over_files(take, count):
    """The take folder's last `count` frame files (fewer when the take is shorter), checked."""
    take_dir = Path(take)
    if not take_dir.is_dir() or not (take_dir / TAKE_RECORD).is_file():
        raise CarryOverError(f"{FLAG} {take}: not a take folder (no {TAKE_RECORD}): give the folder of the "
                             "previous shot's take")
    try:
        record = read_take(take_dir)
    except TakeRecordError as exc:
        raise CarryOverError(f"{FLAG} {take}: {exc}") from None
    files = [_inside(take_dir, relative) for relative in record.frames[-count:]]
    missing = [str(path.name) for path in files if not path.is_file()]
    if missing:
        raise CarryOverError(f"{FLAG} {take}: frame file(s) {', '.join(missing)} are missing: the take was moved "
                             "or damaged")
    return files


def read_carry_over(files, width, height):
    """The frames as PIL RGB images at (width, height), covered and centre-cropped like every control."""
    frames = []
    for path in files:
        try:
            with Image.open(path) as image:
                frames.append(resize_cover(image.convert("RGB"), width, height))
        except (OSError, UnidentifiedImageError) as exc:
            raise CarryOverError(f"{FLAG}: {path} cannot be read as an image ({exc})") from None
    return frames
