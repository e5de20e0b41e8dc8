"""Add-on modules imported without bpy and without the add-on's package (whose __init__ registers
the UI): only the bpy-free modules and engine.bundle contracts they import load with them, as
`bpy_free.addon.NAME` / `bpy_free.engine.bundle.NAME`. Shared by the tests that check them."""

import importlib
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_bpy_free(name):
    """The add-on's bpy-free module `name` (e.g. "engine_process")."""
    for dotted, folder in (("bpy_free", REPO), ("bpy_free.addon", REPO / "addon")):
        if dotted not in sys.modules:
            package = types.ModuleType(dotted)
            package.__path__ = [str(folder)]
            sys.modules[dotted] = package
    return importlib.import_module(f"bpy_free.addon.{name}")
