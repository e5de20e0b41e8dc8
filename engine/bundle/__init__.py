"""The pass bundle: the versioned folder format shared by the add-on, the engine and farms.

bpy-free and torch-free, so Blender, the engine and farm tasks all import the same code.
The public names load lazily (PEP 562): importing a stdlib-only contract module
(`engine.bundle.schema`, `engine.bundle.request`, ...) must not pull in numpy, so
`farm/` and other stdlib-only callers can import the shared defaults. See docs/bundle.md.
"""

import importlib

_SUBMODULE_OF = {
    "Bundle": "reader", "read_bundle": "reader", "validate_bundle": "reader",
    "DEFAULT_PASSES": "schema", "MANIFEST_NAME": "schema", "PASSES": "schema", "SCHEMA_NAME": "schema",
    "SCHEMA_VERSION": "schema", "parse_passes": "schema",
    "BundleError": "storage", "BundleWriter": "storage", "check_output_dir": "storage",
}

__all__ = sorted(_SUBMODULE_OF)


def __getattr__(name):
    """Load a public name from its submodule on first use (submodules themselves import normally)."""
    submodule = _SUBMODULE_OF.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{submodule}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
