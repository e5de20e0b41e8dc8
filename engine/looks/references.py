"""Reference images, opened and checked before any model loads: a PNG or JPEG file, not
larger than MAX_BYTES on disk or MAX_PIXELS decoded, that decodes whole. Pillow reads
the size from the header first, so a huge image is refused without decoding it.
"""

from pathlib import Path

MAX_BYTES = 64 * 2 ** 20
MAX_PIXELS = 50_000_000
FORMATS = ("PNG", "JPEG")


class ReferenceImageError(ValueError):
    """A reference image cannot be used; the message names it and what to do."""


def load_reference(path, what):
    """The image at `path` as a PIL RGB image; `what` names it for the user, e.g.
    '--reference FILE' or "cast member 'Anna''s reference cast/anna.png"."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ReferenceImageError(f"{what}: {path} does not exist: give the path of a PNG or JPEG image")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ReferenceImageError(f"{what}: {path} is {size / 2 ** 20:.0f} MB, more than {MAX_BYTES // 2 ** 20} MB: "
                             "use a smaller PNG or JPEG")
    try:
        with Image.open(path) as image:
            if image.format not in FORMATS:
                raise ReferenceImageError(f"{what}: {path} is {image.format or 'not an image'}, not PNG or JPEG: "
                                     "save it as PNG or JPEG")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ReferenceImageError(f"{what}: {path} is {width}x{height} ({width * height / 1e6:.0f} MP), more "
                                     f"than {MAX_PIXELS // 1_000_000} MP: use a smaller image")
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ReferenceImageError(f"{what}: {path} is not a readable PNG or JPEG image ({exc}): "
                             "export it again or pick another file") from None
