"""Benchmark Variations (#14): N looks of the demo shot against one full previz take per seed.

    .venv-engine/bin/python scripts/bench_variations.py [--bundle DIR] [--count 100] [--full-takes 2]
        [--steps N] [--docs-sheet docs/images/variations_sheet.png]

Runs `python -m engine variations` once for --count seeds (one process: the model loads once, as
the add-on runs it), then `python -m engine generate --seed s` for the first --full-takes seeds,
one process each (what picking a variation or making one take per seed costs), and prints the
seconds: total, per variation, per full take, and the ratio of the variations to --count full
takes (the measured takes' mean times --count; nobody runs 100 full takes to measure this). It
also checks what a pick promises: each full take's take.json look is its variation's look, and its
key frames resized like the tiles are the tile's pixels (the largest difference is printed).

Without --bundle it exports the demo shot once (scripts/make_demo_scene.py: 48 frames at 512x288;
scripts/export_passes.py with previz's passes) into out/bench_variations/bundle and reuses it.
--docs-sheet writes a contact sheet of the first 24 variations (tiles already made) for the docs.
--warm also runs them as jobs of a warm engine service (`python -m engine serve` on 127.0.0.1, as
Keep Engine Warm starts it): the same seeds twice, timed from submit to finished, the second
with the model already loaded; both must give the command's looks.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "engine")]  # tests/engine: serve_client's Service

from engine.bundle.variations_record import read_variations  # noqa: E402
BENCH_DIR = ROOT / "out" / "bench_variations"
PASSES = "depth,pose,camera,shading,normal,objects"
DOCS_SHEET_COUNT = 24


def export_demo_bundle(folder):
    """The demo's 48-frame 512x288 shot with previz's passes, exported once (temp folder, then renamed)."""
    bundle = folder / "bundle"
    if (bundle / "bundle.json").is_file():
        return bundle
    folder.mkdir(parents=True, exist_ok=True)
    blender, blend, partial = ROOT / ".venv" / "bin" / "python", folder / "demo.blend", folder / ".bundle.partial"
    shutil.rmtree(partial, ignore_errors=True)
    for command in ([blender, "scripts/make_demo_scene.py", "--save", blend, "--overwrite"],
                    [blender, "scripts/export_passes.py", blend, "--out", partial, "--passes", PASSES, "--quiet"]):
        subprocess.run([str(c) for c in command], cwd=ROOT, check=True, capture_output=True)
    partial.rename(bundle)
    return bundle


def _children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def engine(*args):
    """Run `python -m engine ARGS`; (wall seconds, CPU seconds, its events). The CPU seconds (user +
    system, every thread) say more than the wall clock on a CPU other jobs share."""
    started, cpu_before = time.perf_counter(), _children_cpu_s()
    result = subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds, cpu_s = time.perf_counter() - started, _children_cpu_s() - cpu_before
    if result.returncode != 0:
        raise SystemExit(f"python -m engine {' '.join(map(str, args))} failed:\n{result.stderr[-2000:]}")
    return seconds, cpu_s, [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"event"')]


def tile_difference(record, folder, variation, take_dir):
    """The largest pixel difference between a tile and its full take's key frames resized the same way."""
    from engine.imaging import resize_cover
    from engine.variations.tiles import KEY_GAP

    width, height = record.tile_size
    tile = np.asarray(Image.open(folder / variation.tile).convert("RGB")).astype(int)
    worst = 0
    for index, frame in enumerate(record.key_frames):
        full = Image.open(take_dir / "frames" / f"{frame:04d}.png").convert("RGB")
        expected = np.asarray(resize_cover(full, width, height)).astype(int)
        left = index * (width + KEY_GAP)
        worst = max(worst, int(np.abs(tile[:, left:left + width] - expected).max()))
    return worst


def warm_service(bundle, count, seed, steps, record, scratch):
    """Seconds of the same Variations job on a warm service, the first and the second time (model loaded)."""
    from serve_client import Service

    from engine.bundle.request import GenerateRequest
    from engine.bundle.service_record import FINISHED, BundleSource, JobRecord, JobSubmission, VariationsSettings

    bundle = Path(bundle).resolve()
    submission = JobSubmission(request=GenerateRequest(seed=seed, steps=steps).to_json(),  # the command's flags
                               bundle=BundleSource(path=str(bundle)), variations=VariationsSettings(count=count))
    scratch.mkdir(parents=True, exist_ok=True)
    service = Service(scratch / "work", scratch / "token", "--shared-root", bundle.parent)
    seconds = []
    try:
        for _ in range(2):
            started = time.perf_counter()
            status, answer = service.call("POST", "/jobs", submission.to_json())
            if status != 202:
                raise SystemExit(f"the service refused the variations job: {answer}")
            job = JobRecord.from_json(service.wait(answer["job"], timeout=1200))
            seconds.append(time.perf_counter() - started)
            if job.state != FINISHED:
                raise SystemExit(f"the service's variations job did not finish: {job.error or job.state}")
            made = read_variations(scratch / "work" / "jobs" / job.id / "takes" / job.takes[0])
            if [v.look for v in made.variations] != [v.look for v in record.variations]:
                raise SystemExit("the service's variations differ from the command's")
    finally:
        service.stop()
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="bundle to use (default: export the demo shot once)")
    parser.add_argument("--count", type=int, default=100, help="variations to make (default: 100)")
    parser.add_argument("--full-takes", type=int, default=2, help="full takes to measure (default: 2)")
    parser.add_argument("--seed", type=int, default=1, help="first seed (default: 1)")
    parser.add_argument("--steps", type=int, help="denoising steps of the looks and the takes (default: previz's, "
                        "engine.previz.prior.DEFAULT_STEPS)")
    parser.add_argument("--docs-sheet", type=Path, help="write a 24-variation contact sheet here")
    parser.add_argument("--warm", action="store_true", help="also time them as jobs of a warm engine service")
    args = parser.parse_args()

    from engine.bundle.take_record import read_take
    from engine.variations.tiles import contact_sheet

    bundle = args.bundle or export_demo_bundle(BENCH_DIR)
    with tempfile.TemporaryDirectory(prefix="bench-variations-") as scratch:
        scratch = Path(scratch)
        steps = ["--steps", args.steps] if args.steps else []
        total_s, total_cpu_s, events = engine("variations", bundle, "--out", scratch / "variations",
                                              "--count", args.count, "--seed", args.seed, *steps)
        folder = Path(events[-1]["takes"][0])
        record = read_variations(folder)
        timings = record.timings
        print(f"variations: {args.count} of {record.bundle.shot or bundle} in {total_s:.1f} s wall, "
              f"{total_cpu_s:.1f} CPU s ({total_s / args.count:.2f} s, {total_cpu_s / args.count:.2f} CPU s each; "
              f"engine: {timings.total_s:.1f} s from model load to sheet; load {timings.load_s:.1f} s, "
              f"looks {timings.sample_s:.1f} s and tiles and sheet {timings.compose_s:.1f} s summed over "
              f"{timings.workers} worker(s); {len(record.variations[0].look)} objects a look)")
        take_seconds, take_cpu = [], []
        for seed in range(args.seed, args.seed + min(args.full_takes, args.count)):
            seconds, cpu_s, take_events = engine("generate", bundle, "--out", scratch / "takes", "--seed", seed,
                                                 *steps)
            take_seconds.append(seconds)
            take_cpu.append(cpu_s)
            take_dir = Path(take_events[-1]["takes"][0])
            variation, take = record.variation(seed), read_take(take_dir)
            same = take.look.objects == variation.look
            print(f"full take seed {seed}: {seconds:.1f} s wall, {cpu_s:.1f} CPU s "
                  f"(generate {take.timings.generate_s:.1f} s, {take.bundle.frame_count} frames); "
                  f"look equals the variation's: {same}; "
                  f"tile vs its frames: max difference {tile_difference(record, folder, variation, take_dir)}")
            if not same:
                raise SystemExit(f"seed {seed}: the full take's look differs from the variation's")
        for name, measured, total in (("wall", take_seconds, total_s), ("CPU", take_cpu, total_cpu_s)):
            if measured:
                per_take = sum(measured) / len(measured)
                print(f"one full take per seed ({name}): {per_take:.1f} s x {args.count} = "
                      f"{per_take * args.count:.0f} s; variations / full takes = {total / (per_take * args.count):.3f} "
                      f"({per_take * args.count / total:.1f}x faster)")
        if args.warm:
            first, second = warm_service(bundle, args.count, args.seed, args.steps, record, scratch / "service")
            print(f"warm service: {args.count} variations in {second:.1f} s from submit to finished with the model "
                  f"loaded ({first:.1f} s the first time), the command's looks; "
                  f"{second / total_s:.2f} of the command's {total_s:.1f} s")
        if args.docs_sheet:
            chosen = record.variations[:DOCS_SHEET_COUNT]
            tiles = [Image.open(folder / variation.tile).convert("RGB") for variation in chosen]
            sheet = contact_sheet(tiles, [variation.seed for variation in chosen])
            args.docs_sheet.parent.mkdir(parents=True, exist_ok=True)
            partial = args.docs_sheet.with_name(f".{args.docs_sheet.name}.partial")
            sheet.save(partial, format="PNG")
            partial.replace(args.docs_sheet)
            print(f"wrote {args.docs_sheet} ({len(chosen)} variations)")


if __name__ == "__main__":
    main()
