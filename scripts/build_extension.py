"""Validate and build the Blockcast extension zip with Blender's own extension tool, and the
engine wheel it carries.

    python scripts/build_extension.py [--out-dir build]

Uses `blender_ext.py` from the installed bpy wheel (the same tool as `blender --command
extension build`), so what we test is what Blender's extension platform accepts. The engine
wheel (pyproject.toml) is written beside the zip and added to it as plain data under
`engine_wheel/`: not in the manifest's `wheels`, which Blender would install into its own
Python, where torch must never load; Preferences ▸ Set Up Engine installs it into the engine's
own environment instead. The zip is validated again with the wheel inside.
"""

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
WHEEL_FOLDER = "engine_wheel"  # inside the extension zip; addon/engine_install.py looks there
WHEEL_SOURCES = ("pyproject.toml", "LICENSE", "engine")


def blender_ext_tool():
    spec = importlib.util.find_spec("bpy")
    if spec is None or spec.origin is None:
        raise SystemExit("build_extension: error: the bpy module is not installed: run ./scripts/setup_env.sh")
    tools = sorted(Path(spec.origin).parent.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not tools:
        raise SystemExit("build_extension: error: blender_ext.py not found inside the bpy package")
    return tools[-1]


def builds_wheels_offline():
    """Whether this Python's own setuptools can write wheels (setuptools 70.1+, or older with `wheel`)."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    return importlib.util.find_spec("wheel") is not None or \
        importlib.util.find_spec("setuptools.command.bdist_wheel") is not None


def engine_wheel(out_dir):
    """Build the engine wheel into out_dir from a copy of its sources (so the checkout gets no
    build/ or egg-info); offline with this Python's setuptools when it has one. Its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    isolation = ["--no-build-isolation"] if builds_wheels_offline() else []  # else pip fetches setuptools
    with tempfile.TemporaryDirectory(prefix="blockcast-wheel-") as work:
        source = Path(work) / "src"
        source.mkdir()
        for name in WHEEL_SOURCES:
            if (REPO_ROOT / name).is_dir():
                shutil.copytree(REPO_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(REPO_ROOT / name, source / name)
        built = Path(work) / "wheel"
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
                        *isolation, "--wheel-dir", str(built), str(source)], check=True)
        (wheel,) = built.glob("blockcast_engine-*.whl")
        target = out_dir / wheel.name
        shutil.move(str(wheel), str(target))
    return target


def build(out_dir):
    tool = blender_ext_tool()
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(tool), "validate", str(REPO_ROOT)], check=True)
    wheel = engine_wheel(out_dir)
    subprocess.run([sys.executable, str(tool), "build", "--source-dir", str(REPO_ROOT), "--output-dir", str(out_dir)],
                   check=True)
    (zip_path,) = sorted(out_dir.glob("blockcast-*.zip"), key=lambda p: p.stat().st_mtime)[-1:]
    with zipfile.ZipFile(zip_path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(wheel, f"{WHEEL_FOLDER}/{wheel.name}", compress_type=zipfile.ZIP_STORED)  # a zip already
    subprocess.run([sys.executable, str(tool), "validate", str(zip_path)], check=True, stdout=subprocess.DEVNULL)
    return zip_path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="build_extension", description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "build")
    args = parser.parse_args(argv)
    zip_path = build(args.out_dir)
    print(f"{zip_path.stat().st_size / 1e6:.1f} MB", file=sys.stderr)
    print(zip_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
