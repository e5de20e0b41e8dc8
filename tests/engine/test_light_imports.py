"""Light imports: the contract modules of engine/bundle/ load with the standard library alone.

farm/ (stdlib only) and the add-on's bpy-free core import the shared records and defaults
from these modules; a numpy import sneaking in (through engine/bundle/__init__.py or a
submodule) would break the farm's Python. Each import runs in a fresh interpreter, so
modules loaded by other tests cannot hide one.
"""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STDLIB_ONLY = ("engine.bundle", "engine.bundle.schema", "engine.bundle.cast", "engine.bundle.output_lock",
               "engine.bundle.events", "engine.bundle.request", "engine.bundle.manifest",
               "engine.bundle.take_record", "engine.bundle.typed_record", "engine.bundle.variations_record",
               "engine.bundle.backend_passes")
HEAVY = ("numpy", "PIL", "torch", "diffusers", "bpy")


@pytest.mark.parametrize("name", STDLIB_ONLY)
def test_contract_module_imports_no_numpy(name):
    probe = f"import sys, {name}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"importing {name} loaded {result.stdout.strip()}"


def test_package_names_still_load_on_first_use():
    import engine.bundle as bundle
    from engine.bundle import png  # a submodule, found by the import system, not __getattr__

    assert bundle.DEFAULT_PASSES == ("depth", "pose", "camera") and callable(bundle.read_bundle)
    assert png.write_png and set(bundle.__all__) <= set(dir(bundle))
    with pytest.raises(AttributeError, match="no_such_name"):
        bundle.no_such_name
