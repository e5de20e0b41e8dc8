"""Validate and build the Blockcast extension zip with Blender's own extension tool.

    python scripts/build_extension.py [--out-dir build]

Uses `blender_ext.py` from the installed bpy wheel (the same tool as `blender --command
extension build`), so what we test is what Blender's extension platform accepts.
"""

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def blender_ext_tool():
    spec = importlib.util.find_spec("bpy")
    if spec is None or spec.origin is None:
        raise SystemExit("build_extension: error: the bpy module is not installed: run ./scripts/setup_env.sh")
    tools = sorted(Path(spec.origin).parent.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not tools:
        raise SystemExit("build_extension: error: blender_ext.py not found inside the bpy package")
    return tools[-1]


def build(out_dir):
    tool = blender_ext_tool()
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(tool), "validate", str(REPO_ROOT)], check=True)
    subprocess.run([sys.executable, str(tool), "build", "--source-dir", str(REPO_ROOT), "--output-dir", str(out_dir)],
                   check=True)
    (zip_path,) = sorted(out_dir.glob("blockcast-*.zip"), key=lambda p: p.stat().st_mtime)[-1:]
    return zip_path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="build_extension", description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "build")
    args = parser.parse_args(argv)
    print(build(args.out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
