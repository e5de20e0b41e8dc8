"""Export a shot's passes as a pass bundle, headless.

    blender -b shot.blend -P scripts/export_passes.py -- --out DIR [options]
    python scripts/export_passes.py shot.blend --out DIR [options]     (bpy module)

With no --shot and no --frames it exports the scene camera over the scene's frame range.
Exit code 0 only on success; on failure one line says why.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blockcast_import import import_blockcast  # noqa: E402


def script_args(argv):
    """Arguments meant for this script: after `--` under Blender, else all but the program name."""
    return argv[argv.index("--") + 1:] if "--" in argv else argv[1:]


def parse_size(text):
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"size {text!r} is not of the form WxH (e.g. 512x288)")
    return int(width), int(height)


def build_parser():
    parser = argparse.ArgumentParser(prog="export_passes", description=__doc__.splitlines()[0])
    parser.add_argument("blend", nargs="?", help="the .blend to read (omit under `blender -b FILE -P ...`)")
    parser.add_argument("--out", required=True, type=Path, help="the bundle folder to write")
    parser.add_argument("--shot", help="shot name (a camera-bound timeline marker); default: the scene camera")
    parser.add_argument("--scene", help="scene name; default: the file's active scene")
    parser.add_argument("--frames", help="frame range A-B; default: the shot's range")
    parser.add_argument("--passes", default="depth,pose,camera",
                        help="comma-separated: depth,pose,camera,shading,normal,flow,mask,objects,tracking (default: %(default)s)")
    parser.add_argument("--size", type=parse_size, help="render size WxH; default: the scene's output size")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundle at --out")
    parser.add_argument("--skip-done", action="store_true",
                        help="do nothing if --out already holds this very export (same saved .blend, shot, "
                             "frames, passes, size): for farm retries")
    parser.add_argument("--quiet", action="store_true", help="no per-frame progress on stderr")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(script_args(sys.argv if argv is None else argv))
    import bpy

    if not args.blend and not bpy.data.filepath:  # under `blender -b FILE -P ...` FILE is already open
        parser.error("no .blend given: pass the .blend to export (export_passes.py shot.blend --out DIR), or run "
                     "blender -b shot.blend -P scripts/export_passes.py -- --out DIR")

    blockcast = import_blockcast()
    from blockcast.addon.blender import errors
    from blockcast.addon.blender.blend_files import open_scene
    from blockcast.addon.blender.export import bundle_is_current, export_shot
    from blockcast.addon.blender.shots import parse_frame_range, resolve_shot

    def progress(done, total):
        if args.quiet:
            return
        if sys.stderr.isatty():  # one self-updating bar for people, one line per frame for logs
            bar = "#" * (30 * done // total)
            print(f"\r[export] [{bar:<30}] frame {done}/{total}", end="\n" if done == total else "",
                  file=sys.stderr, flush=True)
        else:
            print(f"[export] frame {done}/{total}", file=sys.stderr, flush=True)

    try:
        scene = open_scene(args.blend, args.scene)
        frames = parse_frame_range(args.frames) if args.frames is not None else None
        shot = resolve_shot(scene, args.shot, frames)
        if args.skip_done and bundle_is_current(args.out, scene, shot, args.passes, args.size):
            print(f"export_passes: {args.out} is already this export; nothing to do")
            return 0
        path = export_shot(scene, shot, args.out, args.passes, args.size, args.overwrite, progress)
    except errors.USER_ERRORS as exc:
        print(f"export_passes: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("export_passes: cancelled; no bundle was written", file=sys.stderr)
        return 130
    print(f"export_passes: wrote {path} ({len(shot.frames)} frames, shot {shot.name!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
