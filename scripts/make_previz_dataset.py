"""Render a training set for the previz model: procedurally blocked shots exported through
our own pass exporter, each with Blender's beauty render (real materials) as the target.

    python scripts/make_previz_dataset.py --out data/previz --clips 200 [--frames 16] [--size 128x72]

Each clip is DIR/clip_SEED/ with `bundle/` (a pass bundle: depth, pose, camera, clay shading,
normals, flow, actor masks, object index) and `beauty/NNNN.png` (8-bit sRGB). Clips are written whole or not at all (temp folder, then rename), so a killed run
resumes where it stopped; seeds are fixed, so the same command gives the same data.
"""

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blockcast_import import import_blockcast  # noqa: E402
from export_passes import parse_size  # noqa: E402

PASSES = "depth,pose,camera,shading,normal,flow,mask,objects"


def make_clip(clip_dir, seed, frames, size, beauty_samples):
    import bpy

    from blockcast.addon.blender.export import export_shot
    from blockcast.addon.blender.render import pass_renderer
    from blockcast.addon.blender.shots import resolve_shot
    from blockcast.addon.passes import linear_to_srgb8
    from blockcast.engine.bundle.png import write_png
    from previz_scenes import build_random_shot

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    build_random_shot(scene, seed, frames, *size)
    partial = clip_dir.with_name(f".{clip_dir.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    export_shot(scene, resolve_shot(scene), partial / "bundle", PASSES)
    (partial / "beauty").mkdir()
    with pass_renderer(scene, scene.camera, *size) as renderer:
        for frame in range(1, frames + 1):
            renderer.set_frame(frame)
            write_png(partial / "beauty" / f"{frame:04d}.png", linear_to_srgb8(renderer.render_beauty(beauty_samples)))
    partial.rename(clip_dir)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="make_previz_dataset", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=parse_size, default=(128, 72))
    parser.add_argument("--beauty-samples", type=int, default=16)
    args = parser.parse_args(argv)
    import_blockcast()
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for number, seed in enumerate(range(args.first_seed, args.first_seed + args.clips), start=1):
        clip_dir = args.out / f"clip_{seed:06d}"
        if not clip_dir.exists():
            make_clip(clip_dir, seed, args.frames, args.size, args.beauty_samples)
        elapsed = time.perf_counter() - start
        print(f"[dataset] clip {number}/{args.clips} ({elapsed:.0f} s)", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
