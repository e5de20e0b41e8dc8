"""Build the demo blocking scene and save it as a .blend.

    python scripts/make_demo_scene.py --save OUT.blend [--frames 48] [--size 512x288] [--reverse-shot] [--overwrite]
    blender -b -P scripts/make_demo_scene.py -- --save OUT.blend

With --reverse-shot the scene holds two shots, timeline markers "A" (the dolly camera) and
"B" (a camera across the line looking back), each --frames long: export or generate them
with --shot A / --shot B.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blockcast_import import import_blockcast  # noqa: E402
from export_passes import parse_size, script_args  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(prog="make_demo_scene", description=__doc__.splitlines()[0])
    parser.add_argument("--save", required=True, type=Path, help="the .blend to write")
    parser.add_argument("--frames", type=int, default=48,
                        help="shot length in frames, per shot (default: %(default)s)")
    parser.add_argument("--size", type=parse_size, default=(512, 288), help="render size WxH (default: 512x288)")
    parser.add_argument("--reverse-shot", action="store_true",
                        help="add the reverse shot: a second camera and markers A and B bound to the two cameras")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file at --save")
    args = parser.parse_args(script_args(sys.argv if argv is None else argv))
    if args.save.exists() and not args.overwrite:
        print(f"make_demo_scene: error: {args.save} exists: choose another path or pass --overwrite", file=sys.stderr)
        return 1
    if args.frames < 1:
        print("make_demo_scene: error: --frames must be at least 1", file=sys.stderr)
        return 1
    import bpy

    import_blockcast()
    from blockcast.addon.blender.blend_files import save_blend
    from blockcast.addon.blender.demo_scene import build_demo_scene

    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_demo_scene(bpy.context.scene, args.frames, *args.size, reverse_shot=args.reverse_shot)
    save_blend(args.save)
    print(f"make_demo_scene: wrote {args.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
