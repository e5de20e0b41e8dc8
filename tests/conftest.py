import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts"))
sys.path.insert(0, str(REPO_ROOT))

from blockcast_import import import_blockcast  # noqa: E402


@pytest.fixture(scope="session")
def blockcast():
    """The add-on package (repo root) imported as `blockcast`; needs the bpy module."""
    pytest.importorskip("bpy")
    return import_blockcast()


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory):
    """The extension zip, built once per run as an artist gets it (scripts/build_extension.py)."""
    import subprocess

    out = tmp_path_factory.mktemp("ext")
    result = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "build_extension.py"), "--out-dir", str(out)],
                            capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def glue(blockcast):
    """The add-on's Blender-side modules the export and cast tests drive, as attributes."""
    from types import SimpleNamespace

    import blockcast.addon.blender.actors as actors
    import blockcast.addon.blender.cast as cast
    import blockcast.addon.blender.export as export
    import blockcast.addon.blender.shots as shots
    import blockcast.addon.cast as core
    import blockcast.addon.engine_report as engine_report
    import blockcast.addon.engine_request as engine_request

    return SimpleNamespace(actors=actors, cast=cast, export=export, shots=shots, core=core,
                           engine_report=engine_report, engine_request=engine_request)


@pytest.fixture
def empty_scene():
    """A factory-fresh, empty Blender file for each test that builds a scene."""
    bpy = pytest.importorskip("bpy")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene
