"""The add-on's core and the bundle format import without Blender.

Every top-level module of addon/ (the UI lives in addon/ui/, the scene glue in addon/blender/)
and every module of engine/bundle/ is imported as the add-on imports it (`blockcast.addon.X`,
`blockcast.engine.bundle.X`, without the packages' __init__ that registers the UI), each in a
fresh interpreter of the engine's environment, which has no bpy. A module that needs bpy fails
to import; one that pulls in torch, diffusers or the engine outside engine/bundle/ (which the
extension does not ship) is named.
"""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ADDON_CORE = sorted(path.stem for path in (REPO / "addon").glob("*.py") if path.stem != "__init__")
BUNDLE = sorted(path.stem for path in (REPO / "engine" / "bundle").glob("*.py") if path.stem != "__init__")

PROBE = """
import importlib, importlib.util, sys, types
assert importlib.util.find_spec("bpy") is None, "this interpreter has bpy: the guard would prove nothing"
for name, folder in (("blockcast", sys.argv[1]), ("blockcast.addon", sys.argv[1] + "/addon")):
    package = types.ModuleType(name)
    package.__path__ = [folder]
    sys.modules[name] = package
importlib.import_module(sys.argv[2])
heavy = [name for name in ("bpy", "mathutils", "torch", "diffusers") if name in sys.modules]
engine = [name for name in sys.modules if name.startswith("blockcast.engine.")
          and not name.startswith("blockcast.engine.bundle")]
print(" ".join(heavy + engine))
"""


def _imports_alone(dotted):
    result = subprocess.run([sys.executable, "-c", PROBE, str(REPO), dotted], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, f"{dotted} does not import without Blender:\n{result.stderr[-2000:]}"
    return result.stdout.split()


@pytest.mark.parametrize("name", ADDON_CORE)
def test_addon_core_module_imports_without_blender_or_the_engine(name):
    assert _imports_alone(f"blockcast.addon.{name}") == []


@pytest.mark.parametrize("name", BUNDLE)
def test_bundle_module_imports_without_blender_or_torch(name):
    assert _imports_alone(f"blockcast.engine.bundle.{name}") == []


def test_the_ui_lives_in_addon_ui():
    """The add-on's package registers UI modules from addon/ui/ only; its top level is the core."""
    assert {"engine_process", "generation_progress", "take_folders"} <= set(ADDON_CORE)
    assert not {"operators", "panels", "properties", "preferences"} & set(ADDON_CORE)
    assert all((REPO / "addon" / "ui" / f"{name}.py").is_file() for name in ("operators", "panels", "properties",
                                                                             "preferences"))
