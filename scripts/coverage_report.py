"""Check a scene's coverage, headless: the line of action, each shot's camera side, eyelines, cut-off actors.

    python scripts/coverage_report.py shot.blend [--scene NAME] [--json] [--diagram FILE.svg]
    blender -b shot.blend -P scripts/coverage_report.py -- [--json] [--diagram FILE.svg]

Reads the scene itself (no export needed): every shot (camera-bound timeline markers, else the scene
camera) at a few of its frames. Prints a summary, or with --json one document; --diagram also writes
the top-down diagram as SVG. Exit code 0 on success, 1 with one line saying why otherwise.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blockcast_import import import_blockcast  # noqa: E402
from export_passes import script_args  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(prog="coverage_report", description=__doc__.splitlines()[0])
    parser.add_argument("blend", nargs="?", help="the .blend to read (omit under `blender -b FILE -P ...`)")
    parser.add_argument("--scene", help="scene name; default: the file's active scene")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the summary")
    parser.add_argument("--diagram", type=Path, help="also write the top-down diagram to this .svg file")
    parser.add_argument("--samples", type=int, default=5, help="frames sampled per shot (default: %(default)s)")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(script_args(sys.argv if argv is None else argv))
    if args.samples < 1:
        parser.error("--samples must be at least 1")
    if args.diagram and args.diagram.suffix.lower() != ".svg":
        parser.error(f"--diagram {args.diagram} must end in .svg")
    import bpy

    if not args.blend and not bpy.data.filepath:
        parser.error("no .blend given: pass the .blend to check (coverage_report.py shot.blend)")
    import_blockcast()
    from blockcast.addon.blender import errors
    from blockcast.addon.blender.blend_files import open_scene
    from blockcast.addon.blender.coverage import scene_coverage
    from blockcast.addon.coverage_diagram import DiagramPathError, write_coverage_svg

    try:
        report = scene_coverage(open_scene(args.blend, args.scene), args.samples)
        if args.diagram:
            write_coverage_svg(args.diagram, report)
    except (*errors.USER_ERRORS, DiagramPathError) as exc:
        print(f"coverage_report: error: {exc}", file=sys.stderr)
        return 1
    print(report.to_json() if args.json else report.summary())
    if args.diagram and not args.json:
        print(f"coverage_report: wrote {args.diagram}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
