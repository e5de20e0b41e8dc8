"""Measure the cast on the default backend: continuity across a shot and its reverse shot,
colour words, mood grades and a reference image (docs/cast.md records the figures).

    .venv/bin/python scripts/eval_cast.py [--seeds 5] [--colour-seeds 4] [--frames 2] [--size 128x72]
        [--parts continuity,colours,mood,reference] [--json out/eval_cast.json] [--work DIR]
        [--engine-python .venv-engine/bin/python]

Runs with Blender's Python (bpy) for the scene: the demo scene with its reverse shot (two
described actors, props, cameras on opposite sides of the line), fixed real materials for
Blender's own reference render; every take comes from the engine's own command line
(`python -m engine generate`) in the engine's environment, in a process of its own. Shot A
and shot B are generated in separate engine processes with the same seeds, so nothing but
the bundles' cast and the look seed can carry a look across.
Albedo = median of take ÷ clay over an object's pixels, in CIELAB (engine/looks/measure.py).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))
from engine.bundle import read_bundle  # noqa: E402
from engine.bundle.take_record import TAKE_RECORD, read_take  # noqa: E402
from engine.looks.colour_space import delta_e76, hex_to_srgb8, srgb8_to_lab, srgb_to_linear  # noqa: E402
from engine.looks.colours import vocabulary  # noqa: E402
from engine.looks.measure import object_albedos  # noqa: E402
from eval_cast_report import mood_figures, reference_figures, reference_sheet, tables  # noqa: E402

PASSES = "depth,shading,normal,objects"           # what previz needs
COLOURS = ("red", "orange", "yellow", "green", "teal", "blue", "purple", "pink")
MOODS = ("night, blue moonlight", "sunny afternoon")
ACTOR = "Ana"                                      # the described actor the colour words go on
# Blender's reference: every object a fixed material colour (sRGB), the same in both shots.
MATERIALS = {"Floor": "#7a6a58", "Back wall": "#c8c0a8", "Front wall": "#9fb3c8", "Table": "#8b5a2b",
             "Crate": "#c89b3c", "Pillar": "#d8d8d0", "Suitcase": "#2a4d8f", "Ana_body": "#b3261e",
             "Ben_body": "#2e7d32"}
# The shot's reference image: a dusk palette unlike the scene's (violet, orange, deep blue).
REFERENCE_PALETTE = ("#2b1b5a", "#7b2d8e", "#f28c28", "#ffd27f", "#1b3a6b")
GOALS = {"delta_e": 5.0, "colour_words": 0.9, "reference_ratio": 2.0}
PARTS = ("continuity", "colours", "mood", "reference")      # --parts: the measures, in the order they run
MEASURES = ("continuity", "colour_words", "mood", "reference")  # their keys in the figures


# ---- Blender side (bpy): the scene, its bundles and Blender's own render --------------------------

def _material(name, colour_hex):
    import bpy

    material = bpy.data.materials.new(f"{name} (eval)")
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    bsdf = next(n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Base Color"].default_value = (*srgb_to_linear(hex_to_srgb8(colour_hex) / 255.0), 1.0)
    bsdf.inputs["Roughness"].default_value = 0.7       # as the clay material, so only the colour differs
    return material


def build_scene(frames, size):
    import bpy

    from blockcast.addon.blender.demo_scene import build_demo_scene

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    build_demo_scene(scene, frames, *size, reverse_shot=True)
    for name, colour in MATERIALS.items():
        mesh = bpy.data.objects[name].data
        mesh.materials.clear()
        mesh.materials.append(_material(name, colour))
    return scene


def export(scene, shot_name, out, size, frames=None):
    from blockcast.addon.blender.export import export_shot
    from blockcast.addon.blender.shots import resolve_shot

    return Path(export_shot(scene, resolve_shot(scene, shot_name, frames), out, PASSES, size))


def blender_render(scene, bundle, size, samples):
    """(F, H, W, 3) uint8: Cycles with the scene's own materials, the bundle's camera and frames."""
    import bpy

    from blockcast.addon.blender.render import pass_renderer
    from blockcast.addon.passes import linear_to_srgb8

    frames = []
    camera = bpy.data.objects[bundle.record.shot.camera]
    with pass_renderer(scene, camera, *size) as renderer:
        for frame in bundle.frames:
            renderer.set_frame(frame)
            frames.append(linear_to_srgb8(renderer.render_beauty(samples))[..., :3])
    return np.stack(frames)


def set_description(scene, name, text):
    """The actor's description as today's add-on stores it (the armature's custom property),
    which the export reads into the cast when the Cast panel holds nothing else."""
    from blockcast.addon.blender.actors import DESCRIPTION, actor_name, scene_actors

    next(a for a in scene_actors(scene) if actor_name(a) == name)[DESCRIPTION] = text


def reference_image(path, size):
    """A deterministic 'photo' with REFERENCE_PALETTE: soft horizontal bands with some noise."""
    width, height = size
    rows = np.linspace(0, len(REFERENCE_PALETTE) - 1, height)
    palette = np.array([hex_to_srgb8(c) for c in REFERENCE_PALETTE], np.float64)
    low = np.floor(rows).astype(int)
    high = np.minimum(low + 1, len(palette) - 1)
    band = palette[low] + (rows - low)[:, None] * (palette[high] - palette[low])
    noise = np.random.default_rng(0).normal(0, 6, (height, width, 3))
    Image.fromarray(np.clip(band[:, None, :] + noise, 0, 255).astype(np.uint8)).save(path)
    return path


# ---- The engine, as its own process ---------------------------------------------------------------

def run_engine(engine_python, jobs, log):
    """Run `python -m engine generate` argument lists in one engine process (the CLI's own
    entry point per job); raises with the log's tail if any fails."""
    batch = log.with_suffix(".json")
    batch.write_text(json.dumps([[str(a) for a in job] for job in jobs]), encoding="utf-8")
    with open(log, "w", encoding="utf-8") as out:
        result = subprocess.run([str(engine_python), str(Path(__file__).resolve()), "--engine-batch", str(batch)],
                                cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise SystemExit(f"eval_cast: the engine failed ({result.returncode}); its log {log} ends:\n"
                         + log.read_text(encoding="utf-8")[-3000:])


def engine_batch(path):
    """In the engine's environment: each job is one `python -m engine generate ...`."""
    from engine.cli import main as engine_main

    for argv in json.loads(Path(path).read_text(encoding="utf-8")):
        code = engine_main(argv)
        if code:
            return code
    return 0


def generate_job(bundle, takes, seed, count, steps, *extra):
    job = ["generate", bundle, "--out", takes, "--seed", seed, "--takes", count, "--device", "cpu", *extra]
    return job + (["--steps", steps] if steps else [])


def takes_by_seed(takes_dir):
    """{seed: (take record, (F, H, W, 3) uint8 frames)} of a takes folder."""
    found = {}
    for take in sorted(p for p in Path(takes_dir).iterdir() if (p / TAKE_RECORD).is_file()):
        record = read_take(take)
        frames = sorted((take / "frames").glob("*.png"))
        found[record.seed] = (record, np.stack([np.asarray(Image.open(f).convert("RGB")) for f in frames]))
    return found


# ---- Measures (numpy only) ------------------------------------------------------------------------

def bundle_arrays(bundle):
    clay = np.stack([bundle.shading(f)[..., :3] for f in bundle.frames])
    ids = np.stack([bundle.object_index(f) for f in bundle.frames])
    return clay, ids, bundle.object_names()


def albedos(frames, bundle):
    clay, ids, names = bundle_arrays(bundle)
    return object_albedos(frames, clay, ids, names)


def shot_delta_e(albedos_a, albedos_b):
    """{object: ΔE76} over the objects read in both shots."""
    return {name: float(delta_e76(albedos_a[name], albedos_b[name])) for name in albedos_a if name in albedos_b}


def actor_objects(bundle, actor):
    member = bundle.cast.member(actor)
    return list(member.objects) if member is not None and member.objects else [f"{actor}_body"]


def nearest_colour(lab, names):
    targets = {name: srgb8_to_lab(hex_to_srgb8(vocabulary()[name])) for name in names}
    return min(targets, key=lambda name: float(delta_e76(lab, targets[name])))


# ---- The run --------------------------------------------------------------------------------------

def continuity(scene, work, args, timings):
    """Shot A and shot B, each generated in its own engine process at the same seeds."""
    started = time.perf_counter()
    bundles = {shot: read_bundle(export(scene, shot, work / f"bundle_{shot}", args.size))
               for shot in ("A", "B")}
    timings["export_s"] = time.perf_counter() - started
    started = time.perf_counter()
    blender = {shot: albedos(blender_render(scene, bundle, args.size, args.samples), bundle)
               for shot, bundle in bundles.items()}
    timings["blender_render_s"] = time.perf_counter() - started
    started = time.perf_counter()
    for shot, bundle in bundles.items():
        run_engine(args.engine_python, [generate_job(bundle.root, work / f"takes_{shot}", args.first_seed,
                                                     args.seeds, args.steps)], work / f"engine_{shot}.log")
    timings["engine_shots_s"] = time.perf_counter() - started
    takes = {shot: takes_by_seed(work / f"takes_{shot}") for shot in bundles}
    per_seed = {}
    for seed in sorted(takes["A"]):
        per_seed[seed] = shot_delta_e(*(albedos(takes[shot][seed][1], bundles[shot]) for shot in ("A", "B")))
    objects = sorted(set.intersection(*(set(d) for d in per_seed.values())) & set(shot_delta_e(*blender.values())))
    reference = shot_delta_e(blender["A"], blender["B"])
    rows = {name: {"previz_mean": float(np.mean([d[name] for d in per_seed.values()])),
                   "previz_max": float(np.max([d[name] for d in per_seed.values()])),
                   "blender": reference[name]} for name in objects}
    looks = {shot: {seed: None if record.look is None else record.look.look_seed
                    for seed, (record, _) in takes[shot].items()} for shot in takes}
    return bundles, {"objects": rows, "seeds": sorted(per_seed), "look_seeds": looks,
                     "passes": all(row["previz_max"] <= GOALS["delta_e"] for row in rows.values())}


def colour_words(scene, work, args, timings):
    started = time.perf_counter()
    frames = (1, 1)
    jobs, bundles = [], {}
    for name in args.colours:
        set_description(scene, ACTOR, f"a woman in a long {name} coat")
        bundles[name] = read_bundle(export(scene, "A", work / f"bundle_{name}", args.size, frames))
        jobs.append(generate_job(bundles[name].root, work / f"takes_{name}", args.first_seed, args.colour_seeds,
                                 args.steps))
    timings["export_colours_s"] = time.perf_counter() - started
    started = time.perf_counter()
    run_engine(args.engine_python, jobs, work / "engine_colours.log")
    timings["engine_colours_s"] = time.perf_counter() - started
    cases = []
    for name, bundle in bundles.items():
        for seed, (_, take) in sorted(takes_by_seed(work / f"takes_{name}").items()):
            measured = albedos(take, bundle)
            labs = [measured[o] for o in actor_objects(bundle, ACTOR) if o in measured]
            found = nearest_colour(np.mean(labs, axis=0), args.colours) if labs else None
            cases.append({"asked": name, "seed": seed, "nearest": found})
    hits = sum(case["asked"] == case["nearest"] for case in cases)
    fraction = hits / max(len(cases), 1)
    return {"cases": cases, "hits": hits, "total": len(cases), "fraction": fraction,
            "chance": 1 / len(args.colours), "passes": fraction >= GOALS["colour_words"]}


def moods_and_reference(bundle, work, args, timings):
    """(mood figures or None, reference figures or None), as --parts asks; one engine batch."""
    started = time.perf_counter()
    reference = reference_image(work / "reference.png", args.size)
    runs = {"no prompt": []}
    if "mood" in args.parts:
        runs.update({mood: ["--prompt", mood] for mood in MOODS})
    if "reference" in args.parts:
        runs["reference"] = ["--reference", reference]
    run_engine(args.engine_python, [generate_job(bundle.root, work / f"takes_{index}", args.first_seed, args.seeds,
                                                 args.steps, *extra) for index, extra in enumerate(runs.values())],
               work / "engine_moods.log")
    timings["engine_moods_s"] = time.perf_counter() - started
    takes = {label: takes_by_seed(work / f"takes_{index}") for index, label in enumerate(runs)}
    picture = np.asarray(Image.open(reference).convert("RGB"))
    if "reference" in args.parts and args.reference_sheet:
        reference_sheet(takes, picture, args.reference_sheet)
    return (mood_figures(takes, MOODS) if "mood" in args.parts else None,
            reference_figures(takes, picture, GOALS["reference_ratio"]) if "reference" in args.parts else None)


def parse_parts(text):
    """'reference,mood' -> ('mood', 'reference'): known parts, in the order they run."""
    parts = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [p for p in parts if p not in PARTS]
    if not parts or unknown:
        raise argparse.ArgumentTypeError(f"give some of {','.join(PARTS)}" + (f"; not a part: {', '.join(unknown)}"
                                                                                 if unknown else ""))
    return tuple(p for p in PARTS if p in parts)


def build_parser():
    from export_passes import parse_size

    parser = argparse.ArgumentParser(prog="eval_cast", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the shot/reverse-shot, mood and reference runs")
    parser.add_argument("--colour-seeds", type=int, default=4, help="seeds per colour word")
    parser.add_argument("--colours", type=lambda t: tuple(w.strip() for w in t.split(",") if w.strip()),
                        default=COLOURS, help=f"colour names, comma-separated (default: {','.join(COLOURS)})")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--frames", dest="shot_frames", type=int, default=2,
                        help="frames per shot (the colour words use the first frame of shot A)")
    parser.add_argument("--size", type=parse_size, default=(128, 72), help="render size WxH (default: 128x72)")
    parser.add_argument("--steps", type=int, help="denoising steps (default: the backend's)")
    parser.add_argument("--samples", type=int, default=16, help="Cycles samples of Blender's reference render")
    parser.add_argument("--parts", type=parse_parts, default=PARTS,
                        help=f"measures to run, comma-separated (default: all: {','.join(PARTS)})")
    parser.add_argument("--engine-python", type=Path, default=REPO / ".venv-engine" / "bin" / "python")
    parser.add_argument("--work", type=Path, help="keep bundles and takes here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--reference-sheet", type=Path,
                        help="write a picture of the reference part here: each seed's take without and with it")
    parser.add_argument("--engine-batch", type=Path, help=argparse.SUPPRESS)  # internal: the engine process
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.engine_batch:
        return engine_batch(args.engine_batch)
    unknown = [name for name in args.colours if name not in vocabulary()]
    if len(args.colours) < 2 or unknown:
        raise SystemExit(f"eval_cast: --colours needs at least two colour names of the vocabulary"
                         + (f"; not colour names: {', '.join(unknown)}" if unknown else ""))
    if args.reference_sheet and "reference" not in args.parts:
        raise SystemExit("eval_cast: --reference-sheet draws the reference part: add reference to --parts")
    if min(args.seeds, args.colour_seeds, args.shot_frames) < 1:
        raise SystemExit("eval_cast: --seeds, --colour-seeds and --frames must be at least 1")
    if not args.engine_python.exists():
        raise SystemExit(f"eval_cast: no engine python at {args.engine_python}: run scripts/setup_env.sh engine "
                         "or pass --engine-python")
    from blockcast_import import import_blockcast

    import_blockcast()
    if args.work is not None and args.work.exists() and any(args.work.iterdir()):
        raise SystemExit(f"eval_cast: --work {args.work} is not empty: give an empty or new folder")
    with nullcontext(args.work) if args.work else tempfile.TemporaryDirectory(prefix="blockcast-eval-cast-") as work:
        work = Path(work)
        work.mkdir(parents=True, exist_ok=True)
        started, timings = time.perf_counter(), {}
        scene = build_scene(args.shot_frames, args.size)
        measured, bundles = {}, {}
        if "continuity" in args.parts:
            bundles, measured["continuity"] = continuity(scene, work, args, timings)
            print(f"[eval_cast] shot and reverse shot done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        if "colours" in args.parts:
            measured["colour_words"] = colour_words(scene, work, args, timings)
            print(f"[eval_cast] colour words done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        if {"mood", "reference"} & set(args.parts):
            bundle_a = bundles.get("A") or read_bundle(export(scene, "A", work / "bundle_A", args.size))
            measured["mood"], measured["reference"] = moods_and_reference(bundle_a, work, args, timings)
        timings["total_s"] = time.perf_counter() - started
    result = {**{k: v for k, v in measured.items() if v is not None}, "actor": ACTOR, "timings": timings,
              "goals": GOALS,
              "args": {"seeds": args.seeds, "colour_seeds": args.colour_seeds, "colours": list(args.colours),
                       "first_seed": args.first_seed, "frames": args.shot_frames, "size": list(args.size),
                       "steps": args.steps, "samples": args.samples, "parts": list(args.parts)}}
    print(f"eval_cast: demo scene shot A / reverse shot B, {args.shot_frames} frames each at "
          f"{args.size[0]}x{args.size[1]}, previz, {timings['total_s']:.0f} s"
          + ("" if args.parts == PARTS else f" (parts: {', '.join(args.parts)})"))
    print(tables(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        partial = args.json.with_name(f".{args.json.name}.partial")
        partial.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        partial.replace(args.json)
    return 0 if all(result[k]["passes"] for k in MEASURES if k in result) else 1


if __name__ == "__main__":
    sys.exit(main())
