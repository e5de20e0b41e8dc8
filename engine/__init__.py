"""Blockcast engine: turns a pass bundle into generated takes.

Kept import-light on purpose: the Blender add-on ships `engine.bundle` (the
bundle format) inside the extension, and importing this package must never pull
in torch or diffusers.
"""

__version__ = "0.1.0"
