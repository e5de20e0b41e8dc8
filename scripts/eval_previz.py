"""Measure the previz model on held-out clips against Blender's own beauty render.

    .venv-engine/bin/python scripts/eval_previz.py --data out/previz_data/heldout \\
        [--weights engine/previz/weights] [--grid docs/images/previz_grid.png] [--json out/previz_eval.json]

Held-out clips come from scripts/make_previz_dataset.py with seeds the training set never
used (e.g. --first-seed 900000). Every figure is relative to Blender's render of the same
shots, in this one run (engine/previz/metrics.py says how each is measured); the grid shows
controls | generated (two seeds) | Blender for a few clips.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine import backends  # noqa: E402
from engine.backends.base import Hooks, Request  # noqa: E402
from engine.backends.device import pick_device  # noqa: E402
from engine.backends.models import resolve_model  # noqa: E402
from engine.bundle import read_bundle  # noqa: E402
from engine.bundle.png import read_png  # noqa: E402
from engine.controls import build_controls  # noqa: E402
from engine.previz import metrics  # noqa: E402
from engine.previz.model import CONTROL_KINDS, WEIGHTS_DIR  # noqa: E402
from engine.previz.prior import DEFAULT_STEPS  # noqa: E402

GOALS = {"edge_f1_ratio": 0.85, "own_vs_shuffled": 1.8, "colour_variance_ratio": 1.5, "warp_error_ratio": 1.5}


def load_backend(weights):
    backend = backends.create("previz")
    backend.load({"previz": resolve_model("previz", str(weights))}, list(CONTROL_KINDS), pick_device("cpu"))
    return backend


def generate(backend, bundle, built, seed, steps):
    request = Request("", "", seed, steps, 1.0, {kind: 1.0 for kind in CONTROL_KINDS}, built, len(bundle.frames),
                      bundle.width, bundle.height, object_names=bundle.object_names())
    return backend.generate(request, Hooks())


def evaluate_clip(backend, clip, seed, steps):
    bundle = read_bundle(clip / "bundle")
    built = build_controls(bundle, list(CONTROL_KINDS), bundle.width, bundle.height)
    frames = bundle.frames
    return {
        "name": clip.name, "bundle": bundle, "built": built,
        "generated": generate(backend, bundle, built, seed, steps),
        "blender": np.stack([read_png(clip / "beauty" / f"{f:04d}.png")[..., :3] for f in frames]),
        "clay": np.stack([bundle.shading(f)[..., :3] for f in frames]),
        "depth": np.stack([bundle.depth(f) for f in frames]),
        "ids": np.stack([bundle.object_index(f) for f in frames]),
        "flow": np.stack([bundle.flow(f) for f in frames]),
    }


def measure(clips):
    """The table's figures, each a mean over clips; shuffled pairs clip i's edges with clip i+1's frames."""
    def mean(function, key):
        return float(np.mean([function(clip[key], clip) for clip in clips]))

    def shuffled(key):
        return float(np.mean([metrics.edge_f1(clips[(i + 1) % len(clips)][key], clip["depth"])
                              for i, clip in enumerate(clips)]))

    result = {}
    for key in ("generated", "blender", "clay"):
        result[key] = {
            "edge_f1": mean(lambda frames, clip: metrics.edge_f1(frames, clip["depth"]), key),
            "edge_f1_shuffled": shuffled(key),
            "ssim_vs_blender": mean(lambda frames, clip: metrics.ssim(frames, clip["blender"]), key),
            "colour_variance": mean(lambda frames, clip: metrics.object_colour_variance(frames, clip["ids"]), key),
            "warp_error": mean(lambda frames, clip: metrics.warp_error(frames, clip["flow"]), key),
        }
        result[key]["own_vs_shuffled"] = result[key]["edge_f1"] / max(result[key]["edge_f1_shuffled"], 1e-9)
    gen, ref = result["generated"], result["blender"]
    result["ratios"] = {
        "edge_f1_ratio": gen["edge_f1"] / ref["edge_f1"],
        "own_vs_shuffled": gen["own_vs_shuffled"],
        "colour_variance_ratio": gen["colour_variance"] / ref["colour_variance"],
        "warp_error_ratio": gen["warp_error"] / ref["warp_error"],
    }
    result["passes"] = {
        "edge_f1_ratio": result["ratios"]["edge_f1_ratio"] >= GOALS["edge_f1_ratio"],
        "own_vs_shuffled": gen["own_vs_shuffled"] >= GOALS["own_vs_shuffled"],
        "ssim_at_least_clay": gen["ssim_vs_blender"] >= result["clay"]["ssim_vs_blender"],
        "colour_variance_ratio": result["ratios"]["colour_variance_ratio"] <= GOALS["colour_variance_ratio"],
        "warp_error_ratio": result["ratios"]["warp_error_ratio"] <= GOALS["warp_error_ratio"],
    }
    return result


def table(result):
    gen, ref, clay, ratios, ok = (result[k] for k in ("generated", "blender", "clay", "ratios", "passes"))
    mark = lambda passed: "pass" if passed else "FAIL"  # noqa: E731
    rows = [
        ("measure", "generated", "Blender", "clay pass", "gen/Blender", "goal", ""),
        ("edge F1 vs depth edges", f"{gen['edge_f1']:.3f}", f"{ref['edge_f1']:.3f}", f"{clay['edge_f1']:.3f}",
         f"{ratios['edge_f1_ratio']:.2f}", ">= 0.85", mark(ok["edge_f1_ratio"])),
        ("edge F1 own / shuffled control", f"{gen['own_vs_shuffled']:.2f}", f"{ref['own_vs_shuffled']:.2f}",
         f"{clay['own_vs_shuffled']:.2f}", "", ">= 1.8", mark(ok["own_vs_shuffled"])),
        ("luminance SSIM vs Blender", f"{gen['ssim_vs_blender']:.3f}", "1", f"{clay['ssim_vs_blender']:.3f}", "",
         ">= clay's", mark(ok["ssim_at_least_clay"])),
        ("colour variance in objects", f"{gen['colour_variance']:.4f}", f"{ref['colour_variance']:.4f}",
         f"{clay['colour_variance']:.4f}", f"{ratios['colour_variance_ratio']:.2f}", "<= 1.5",
         mark(ok["colour_variance_ratio"])),
        ("warp error, exact flow", f"{gen['warp_error']:.4f}", f"{ref['warp_error']:.4f}",
         f"{clay['warp_error']:.4f}", f"{ratios['warp_error_ratio']:.2f}", "<= 1.5", mark(ok["warp_error_ratio"])),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def _ids_picture(ids):
    palette = np.random.default_rng(7).integers(40, 255, (int(ids.max()) + 1, 3)).astype(np.uint8)
    palette[0] = 0
    return palette[ids]


def grid(clips, second_seed_frames, path, scale=2):
    """One row per clip (middle frame): clay | depth | normals | objects | seed A | seed B | Blender."""
    labels = ["clay shading", "depth", "normals", "object ids", "generated", "other seed", "Blender"]
    rows = []
    for clip, other in zip(clips, second_seed_frames):
        middle = len(clip["generated"]) // 2
        built = clip["built"]
        cells = [np.asarray(built["shading"][middle].convert("RGB")), np.asarray(built["depth"][middle].convert("RGB")),
                 np.asarray(built["normal"][middle].convert("RGB")), _ids_picture(np.asarray(built["objects"][middle], np.int64)),
                 clip["generated"][middle], other[middle], clip["blender"][middle]]
        rows.append(np.concatenate(cells, axis=1))
    picture = Image.fromarray(np.concatenate(rows, axis=0))
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    cell_w, header = picture.width // len(labels), 16
    canvas = Image.new("RGB", (picture.width, picture.height + header), (24, 24, 24))
    canvas.paste(picture, (0, header))
    draw = ImageDraw.Draw(canvas)
    for index, label in enumerate(labels):
        draw.text((index * cell_w + 4, 2), label, fill=(230, 230, 230))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="eval_previz", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="held-out clips from make_previz_dataset.py")
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"the prior's steps (default: {DEFAULT_STEPS})")
    parser.add_argument("--grid", type=Path, help="write the controls | generated | Blender grid here")
    parser.add_argument("--grid-rows", type=int, default=4)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    folders = sorted(p for p in args.data.glob("clip_*") if p.is_dir())
    if len(folders) < 2:
        raise SystemExit(f"{args.data} has {len(folders)} clip(s): the shuffled-control measure needs at least 2")
    started = time.perf_counter()
    backend = load_backend(args.weights)
    clips = []
    for number, folder in enumerate(folders, 1):
        clips.append(evaluate_clip(backend, folder, args.seed, args.steps))
        print(f"[eval] clip {number}/{len(folders)} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    result = measure(clips)
    result["clips"], result["seed"], result["steps"] = len(clips), args.seed, args.steps
    result["weights"] = {"training": backend.sampler.info.get("training", {}), "calibration": backend.sampler.calibration}
    print(f"previz on {len(clips)} held-out clips ({args.data}), seed {args.seed}, {args.steps} steps")
    print(table(result))
    if args.grid:
        shown = clips[: args.grid_rows]
        others = [generate(backend, clip["bundle"], clip["built"], args.seed + 1, args.steps) for clip in shown]
        grid(shown, others, args.grid)
        print(f"grid: {args.grid}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0 if all(result["passes"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
