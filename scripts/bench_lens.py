"""Time engine/lens on a real bundle: depth of field and motion blur per frame, against a
previz take (the issue's goal: both together add at most 10 % to a 48-frame 512×288 take).

    .venv-engine/bin/python scripts/bench_lens.py [--bundle DIR] [--fstop 2] [--lens-mm MM]
        [--shutter 0.5] [--runs 5] [--previz | --take TAKE_DIR | --take-seconds 6.6 --take-frames 24]

Without --bundle it builds the demo scene and exports 8 frames at 512×288 (depth, camera,
flow, shading, normal, objects) with the Blender venv. The image blurred is the clay pass.
The lens is the camera's own when its depth of field is on; else f/--fstop focused on the
nearest things in view (the 5th percentile of depth: the actors in the demo), and --lens-mm
times it as if the lens were longer. Each of --runs passes times every frame three ways: depth
of field and motion blur alone (linear light in and out), and `apply_lens` on the 8-bit frame
(what a take pays: sRGB decode, both effects, encode). Times are CPU seconds of this process
(the lens is single-threaded numpy; wall time on a CPU shared with other jobs says little); a
run's figure is the mean over the frames, and the bench reports the median run, so a burst of
other jobs on a shared CPU does not decide it. The take's time comes from a take.json: --take
(a take made by `python -m engine generate`, lens_s and its timings; the ratio is then the
take's own), --previz (makes one on the same bundle, lens off), else --take-seconds for
--take-frames (default: docs/benchmarks.md, 2026-12-01: 6.6 s for the demo's 24-frame shot A).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from engine.bundle import read_bundle  # noqa: E402
from engine.bundle.take_record import read_take  # noqa: E402
from engine.lens import Lens, Shutter, apply_lens, defocus, frame_lens, frame_px_per_mm, motion_blur  # noqa: E402
from engine.lens.take import srgb8_to_linear  # noqa: E402

BLENDER_PYTHON = REPO / ".venv" / "bin" / "python"
TAKE_FRAMES_GOAL = 48
PASSES = "depth,camera,flow,shading,normal,objects"


def export_demo(folder, frames):
    blend, bundle = folder / "demo.blend", folder / "bundle"
    for command in ([BLENDER_PYTHON, REPO / "scripts" / "make_demo_scene.py", "--save", blend, "--frames", "48"],
                    [BLENDER_PYTHON, REPO / "scripts" / "export_passes.py", blend, "--out", bundle,
                     "--passes", PASSES, "--frames", f"1-{frames}", "--size", "512x288"]):
        subprocess.run([str(c) for c in command], check=True, capture_output=True, cwd=REPO)
    return bundle


def bench_lens(record, depth, fstop, lens_mm=None):
    """The camera's lens if its depth of field is on (cameras.json record), else f/`fstop`."""
    lens = frame_lens(record)
    focal = lens_mm or record["lens_mm"]
    if lens is not None:
        return Lens(focal, lens.fstop, lens.focus_m, lens.blades, lens.rotation, lens.ratio)
    hits = depth[np.isfinite(depth) & (depth > 0)]
    return Lens(focal, fstop, float(np.percentile(hits, 5)) if hits.size else 5.0)  # the nearest things


def timed(function, *args):
    cpu = time.process_time()
    function(*args)
    return (time.process_time() - cpu) * 1000


def take_times(take_dir):
    """(seconds the take took without its lens, its lens_s, frames) from its take.json."""
    record = read_take(take_dir)
    timings = record.timings
    without = timings.load_s + timings.controls_s + timings.generate_s + timings.write_s
    return without, record.lens.lens_s if record.lens is not None else 0.0, record.bundle.frame_count


def previz_take(bundle, folder):
    out = folder / "takes"
    subprocess.run([sys.executable, "-m", "engine", "generate", str(bundle), "--out", str(out), "--backend", "previz",
                    "--depth-of-field", "off", "--motion-blur", "off"], check=True, capture_output=True, cwd=REPO)
    return next(out.rglob("take.json")).parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, help="a bundle with depth, flow, camera and shading")
    parser.add_argument("--frames", type=int, default=8, help="frames to export without --bundle (default 8)")
    parser.add_argument("--fstop", type=float, default=2.0, help="f-stop when the camera has no depth of field")
    parser.add_argument("--lens-mm", type=float,
                        help="time as if the camera had this focal length (a longer lens blurs more)")
    parser.add_argument("--shutter", type=float, default=0.5, help="shutter in frames, centred (default 0.5)")
    parser.add_argument("--runs", type=int, default=5, help="passes over the frames; the median is reported")
    parser.add_argument("--take", type=Path, help="a take folder whose take.json gives the take's time")
    parser.add_argument("--previz", action="store_true", help="measure a previz take on the same bundle")
    parser.add_argument("--take-seconds", type=float, default=6.6, help="previz take time without --previz")
    parser.add_argument("--take-frames", type=int, default=24, help="frames of that take (default 24)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        bundle = read_bundle(args.bundle or export_demo(folder, args.frames))
        cameras = {record["frame"]: record for record in bundle.cameras()}
        shutter = Shutter(args.shutter, "CENTER")
        frames = []
        for frame in bundle.frames:
            depth, record, clay = bundle.depth(frame), cameras[frame], bundle.shading(frame)[..., :3]
            lens = bench_lens(record, depth, args.fstop, args.lens_mm)
            lens_record = {**record, "lens_mm": lens.focal_mm,
                           "motion_blur": {"shutter": shutter.length, "position": shutter.position},
                           "depth_of_field": {"focus_distance": lens.focus_m, "fstop": lens.fstop,
                                              "blades": lens.blades, "rotation": lens.rotation, "ratio": lens.ratio}}
            frames.append((clay, srgb8_to_linear(clay), depth, bundle.flow(frame), lens,
                           frame_px_per_mm(record, bundle.width, bundle.height), lens_record))
        runs = []  # per run: mean CPU ms per frame of depth of field, motion blur, apply_lens
        for _ in range(args.runs):
            times = [(timed(defocus, linear, depth, lens, px_per_mm), timed(motion_blur, linear, flow, depth, shutter),
                      timed(apply_lens, clay, depth, flow, lens_record))
                     for clay, linear, depth, flow, lens, px_per_mm, lens_record in frames]
            runs.append(np.mean(times, axis=0))
        take_dir, source = args.take, "take.json"
        if args.previz and take_dir is None:
            take_dir, source = previz_take(bundle.root, folder), "previz take, measured"
        if take_dir is not None:
            take_s, take_lens_s, take_frames = take_times(take_dir)
        else:
            take_s, take_lens_s, take_frames, source = args.take_seconds, 0.0, args.take_frames, "docs/benchmarks.md"
    runs = np.array(runs)
    dof, blur, whole = np.median(runs, axis=0)
    lens = frames[0][4]
    print(f"bundle: {len(frames)} frames at {bundle.width}x{bundle.height}; lens {lens.focal_mm:g} mm f/{lens.fstop:g} "
          f"focused at {lens.focus_m:.2f} m; shutter {args.shutter:g} centred; CPU ms per frame, median of "
          f"{args.runs} runs (lowest-highest run); load average {os.getloadavg()[0]:.1f}")
    for label, column in (("depth of field", 0), ("motion blur", 1), ("apply_lens, 8-bit (both)", 2)):
        values = runs[:, column]
        print(f"{label:<26}{np.median(values):>8.1f}   ({values.min():.1f}-{values.max():.1f})")
    per_frame_ms = take_s / take_frames * 1000
    print(f"take ({source}): {take_s:.2f} s for {take_frames} frames without the lens = {per_frame_ms:.0f} ms/frame"
          + (f"; its own lens_s {take_lens_s:.2f} s = {take_lens_s / take_s:.3f} of it" if take_lens_s else ""))
    added = whole * TAKE_FRAMES_GOAL / 1000
    print(f"ratio lens / take: {whole / per_frame_ms:.3f} per frame (goal <= 0.10); {TAKE_FRAMES_GOAL} frames of "
          f"apply_lens add {added:.2f} s = {added / (per_frame_ms * TAKE_FRAMES_GOAL / 1000):.3f} of a "
          f"{TAKE_FRAMES_GOAL}-frame take at that rate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
