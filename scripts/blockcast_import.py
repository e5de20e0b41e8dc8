"""Import this checkout as the `blockcast` package, whatever its folder is called.

Blender loads the extension as `bl_ext.<repo>.blockcast`; headless scripts and tests
load the same files as `blockcast`, so the add-on's relative imports work in both.
"""

import importlib.util
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def import_blockcast():
    if "blockcast" in sys.modules:
        return sys.modules["blockcast"]
    spec = importlib.util.spec_from_file_location(
        "blockcast", REPO_ROOT / "__init__.py", submodule_search_locations=[str(REPO_ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["blockcast"] = module
    spec.loader.exec_module(module)
    return module
