"""Check a scene's coverage, headless: the line of action, each shot's camera side, eyelines, cut-off actors.

    python scripts/coverage_report.py shot.blend [--scene NAME] [--json] [--diagram FILE.svg]
    blender -b shot.blend -P scripts/coverage_report.py -- [--json] [--diagram FILE.svg]
    python scripts/coverage_report.py --bundle A_DIR --bundle B_DIR [--json] [--diagram FILE.svg]

Reads the scene itself (no export needed): every shot (camera-bound timeline markers, else the scene
camera) at a few of its frames; or, with --bundle, exported bundles (pose and camera passes) in cut order,
with each actor's lighting ratio where a bundle also holds the shading (clay) and mask passes. Prints a summary, or with --json one document; --diagram also writes
the top-down diagram as SVG. Exit code 0 on success, 1 with one line saying why otherwise.
"""

import argparse
import json
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
    parser.add_argument("--bundle", action="append", type=Path, default=[],
                        help="an exported shot's bundle instead of a .blend; repeat it for each shot, in cut order")
    parser.add_argument("--samples", type=int, default=5, help="frames sampled per shot (default: %(default)s)")
    return parser


def bundles_coverage(folders, samples):
    """The CoverageReport of exported shots, one bundle each, in the order given, and {shot:
    [ActorLighting]} for the bundles that also hold the shading (clay), mask and pose passes."""
    from blockcast.addon.coverage import analyse
    from blockcast.addon.coverage_bundle import shot_from_bundle
    from blockcast.addon.lighting import bundle_lighting
    from blockcast.engine.bundle import read_bundle

    bundles = [read_bundle(folder) for folder in folders]
    scene = bundles[0].record.source.scene or bundles[0].name
    report = analyse(scene, [shot_from_bundle(bundle, samples) for bundle in bundles])
    lighting = {bundle.name: bundle_lighting(bundle) for bundle in bundles
                if all(bundle.has(name) for name in ("shading", "mask", "pose"))}
    return report, lighting


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(script_args(sys.argv if argv is None else argv))
    if args.samples < 1:
        parser.error("--samples must be at least 1")
    if args.diagram and args.diagram.suffix.lower() != ".svg":
        parser.error(f"--diagram {args.diagram} must end in .svg")
    if args.bundle and (args.blend or args.scene):
        parser.error("give either a .blend (and --scene) or --bundle folders, not both")
    import bpy

    if not args.bundle and not args.blend and not bpy.data.filepath:
        parser.error("no .blend given: pass the .blend to check (coverage_report.py shot.blend), or --bundle DIR")
    import_blockcast()
    from blockcast.addon.blender import errors
    from blockcast.addon.blender.blend_files import open_scene
    from blockcast.addon.blender.coverage import scene_coverage
    from blockcast.addon.coverage_bundle import CoverageBundleError
    from blockcast.addon.coverage_diagram import DiagramPathError, write_coverage_svg
    from blockcast.addon.lighting import lighting_line

    try:
        lighting = {}
        if args.bundle:
            report, lighting = bundles_coverage(args.bundle, args.samples)
        else:
            report = scene_coverage(open_scene(args.blend, args.scene), args.samples)
        if args.diagram:
            write_coverage_svg(args.diagram, report)
    except (*errors.USER_ERRORS, DiagramPathError, CoverageBundleError) as exc:
        print(f"coverage_report: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        document = json.loads(report.to_json())
        if lighting:
            document["lighting"] = {shot: [a.to_json() for a in actors] for shot, actors in lighting.items()}
        print(json.dumps(document, indent=2))
    else:
        print("\n".join([report.summary()] + [lighting_line(shot, actors) for shot, actors in lighting.items()]))
    if args.diagram and not args.json:
        print(f"coverage_report: wrote {args.diagram}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
