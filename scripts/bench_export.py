"""Benchmark the pass export against Blender's own render of the same frames.

    python scripts/bench_export.py [--frames 48] [--long-frames 480] [--size 512x288]

Prints ratios (goals in brackets):
  export time / the faster of Blender's Workbench or Cycles 1-sample render with a depth pass  [<= 1.3]
  peak memory exporting --long-frames / exporting --frames                                      [<= 1.2]
Each measurement runs in a fresh process so peak memory (max RSS) is its own.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blockcast_import import import_blockcast  # noqa: E402
from export_passes import parse_size  # noqa: E402


def _scene(frames, width, height):
    import bpy

    import_blockcast()
    from blockcast.addon.blender.demo_scene import build_demo_scene

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    build_demo_scene(scene, frames, width, height)
    return scene


def _blender_render(scene, engine, out_dir):
    """Blender's own animation render with a depth pass, to multilayer EXR (its default codec)."""
    import bpy

    scene.render.engine = engine
    scene.view_layers[0].use_pass_z = True
    if engine == "CYCLES":
        scene.cycles.samples, scene.cycles.use_denoising, scene.cycles.device = 1, False, "CPU"
    settings = scene.render.image_settings
    if hasattr(settings, "media_type"):
        settings.media_type = "MULTI_LAYER_IMAGE"
    settings.file_format = "OPEN_EXR_MULTILAYER"
    scene.render.filepath = str(Path(out_dir) / f"{engine.lower()}_")
    bpy.ops.render.render(animation=True)


def child(task, frames, width, height):
    """One measurement in this process; prints a JSON line with seconds and max RSS."""
    scene = _scene(frames, width, height)
    with tempfile.TemporaryDirectory() as out_dir:
        start = time.perf_counter()
        if task == "export":
            from blockcast.addon.blender.export import export_shot
            from blockcast.addon.blender.shots import resolve_shot

            export_shot(scene, resolve_shot(scene), Path(out_dir) / "bundle", "depth,pose,camera")
        else:
            _blender_render(scene, task, out_dir)
        seconds = time.perf_counter() - start
    print("RESULT " + json.dumps({"task": task, "frames": frames, "seconds": seconds,
                                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure(task, frames, size):
    command = [sys.executable, __file__, "--child", task, "--frames", str(frames), "--size", f"{size[0]}x{size[1]}"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench_export", description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--long-frames", type=int, default=480)
    parser.add_argument("--size", type=parse_size, default=(512, 288))
    parser.add_argument("--child", choices=("export", "BLENDER_WORKBENCH", "CYCLES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.frames, *args.size)
        return 0
    export = measure("export", args.frames, args.size)
    workbench = measure("BLENDER_WORKBENCH", args.frames, args.size)
    cycles = measure("CYCLES", args.frames, args.size)
    long_export = measure("export", args.long_frames, args.size)
    baseline = min(workbench["seconds"], cycles["seconds"])
    w, h = args.size
    print(f"shot: demo scene, 2 actors, moving camera, {args.frames} frames at {w}x{h}, depth+pose+camera")
    print(f"export                      {export['seconds']:8.2f} s  ({export['seconds'] / args.frames * 1000:.1f} ms/frame)")
    print(f"Blender Workbench + depth   {workbench['seconds']:8.2f} s")
    print(f"Blender Cycles 1 spp + depth{cycles['seconds']:8.2f} s")
    print(f"time ratio export / fastest Blender render: {export['seconds'] / baseline:.2f}  (goal <= 1.3)")
    print(f"peak memory {args.long_frames} frames {long_export['max_rss_mb']:.0f} MB / {args.frames} frames "
          f"{export['max_rss_mb']:.0f} MB = {long_export['max_rss_mb'] / export['max_rss_mb']:.2f}  (goal <= 1.2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
