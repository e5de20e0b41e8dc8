"""The pass bundle: the versioned folder format shared by the add-on, the engine and farms.

bpy-free and torch-free, so Blender, the engine and farm tasks all import the same code.
See docs/bundle.md.
"""

from .reader import Bundle, read_bundle, validate_bundle
from .schema import DEFAULT_PASSES, MANIFEST_NAME, PASSES, SCHEMA_NAME, SCHEMA_VERSION, parse_passes
from .storage import BundleError, BundleWriter, check_output_dir

__all__ = [
    "Bundle", "BundleError", "BundleWriter", "DEFAULT_PASSES", "MANIFEST_NAME", "PASSES", "SCHEMA_NAME",
    "SCHEMA_VERSION", "check_output_dir", "parse_passes", "read_bundle", "validate_bundle",
]
