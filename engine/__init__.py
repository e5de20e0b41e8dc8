"""Blockcast engine: turns a pass bundle into generated takes.

Kept import-light on purpose: the Blender add-on ships `engine.bundle` (the
bundle format) inside the extension, and importing this package must never pull
in torch or diffusers.
"""

from .bundle.schema import BLOCKCAST_VERSION as __version__  # the version lives in the bundle format

__all__ = ["__version__"]
