"""Write an Open Job Description job for a .blend's shots: export, merge, generate, assemble.

    python scripts/make_openjd.py shot.blend --out JOB_DIR [--shots A,B] [--takes K] [--chunk N] [--backend NAME]
    cd JOB_DIR && openjd run template.json -p file://parameters.json      (runs it locally)

JOB_DIR gets template.json (no machine paths in it), parameters.json (this site's values, paths
relative to JOB_DIR) and parameter_values.json (the same for a Deadline Cloud job bundle).
Exit code 0 only on success; otherwise one line says what to fix.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blockcast_import import REPO_ROOT, import_blockcast  # noqa: E402
from export_passes import script_args  # noqa: E402

sys.path.insert(0, str(REPO_ROOT))
from farm import openjd  # noqa: E402
from farm.job import DEFAULT_BACKEND, DEFAULT_PASSES, MEMORY_PRESETS, FarmJob, FarmShot, select_shots  # noqa: E402
from farm.layout import LayoutError  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(prog="make_openjd", description=__doc__.splitlines()[0])
    parser.add_argument("blend", nargs="?", help="the saved .blend (omit under `blender -b FILE -P ...`)")
    parser.add_argument("--out", required=True, type=Path, help="the job folder to write")
    parser.add_argument("--shots", help="comma-separated shot names (default: every shot of the scene)")
    parser.add_argument("--scene", help="scene name; default: the file's active scene")
    parser.add_argument("--takes", type=int, default=1, help="takes per shot (default: %(default)s)")
    parser.add_argument("--takes-per-task", type=int, default=1,
                        help="takes per generation task (default: %(default)s)")
    parser.add_argument("--chunk", type=int, default=24, help="frames per export task (default: %(default)s)")
    parser.add_argument("--backend", default=DEFAULT_BACKEND, help="engine backend (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="first take's seed (default: %(default)s)")
    parser.add_argument("--passes", default=DEFAULT_PASSES,
                        help="passes to export (default: %(default)s); the passes the backend needs are added "
                             "(previz: shading,normal,objects, rendered with Cycles: a slower export)")
    parser.add_argument("--prompt", default="", help="prompt for every take")
    parser.add_argument("--steps", type=int, default=0, help="denoising steps (default: the backend's)")
    parser.add_argument("--generation-size", default="", help="generation size WxH (default: the backend's)")
    parser.add_argument("--model", action="append", default=[], metavar="ROLE=ID_OR_PATH", help="model override")
    parser.add_argument("--allow-cpu-generation", action="store_true",
                        help="let generation run on workers without a GPU (small tests)")
    parser.add_argument("--memory", default="auto", choices=MEMORY_PRESETS,
                        help="the engine's memory preset on the workers (default: %(default)s, from each one's free "
                             "GPU memory)")
    parser.add_argument("--output-dir", type=Path, help="where the tasks write (default: JOB_DIR/output)")
    parser.add_argument("--blockcast-dir", type=Path, default=REPO_ROOT,
                        help="the Blockcast checkout the workers use (default: this one)")
    parser.add_argument("--engine-python", type=Path,
                        help="the engine's Python on the workers (default: BLOCKCAST/.venv-engine/bin/python)")
    parser.add_argument("--blender", default="blender",
                        help="Blender's executable on the workers, or scripts/bpy-blender (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the job files in an existing job folder (its output is kept)")
    return parser


def farm_job(scene, blend_path, args):
    from blockcast.addon.blender.shots import scene_shots

    shots = [FarmShot(s.name, s.frame_start, s.frame_end) for s in scene_shots(scene)]
    wanted = [name.strip() for name in args.shots.split(",")] if args.shots else None
    return FarmJob(name=Path(blend_path).stem, scene=scene.name, shots=select_shots(shots, wanted),
                   chunk_size=args.chunk, takes=args.takes, takes_per_task=args.takes_per_task, seed=args.seed,
                   backend=args.backend, passes=args.passes, prompt=args.prompt, steps=args.steps,
                   generation_size=args.generation_size, models=args.model,
                   allow_cpu_generation=args.allow_cpu_generation, memory=args.memory)


def main(argv=None):
    args = build_parser().parse_args(script_args(sys.argv if argv is None else argv))
    import bpy

    import_blockcast()
    from blockcast.addon.blender.blend_files import open_scene
    from blockcast.addon.blender.errors import UserError

    try:
        scene = open_scene(args.blend, args.scene)
        if not bpy.data.filepath:
            raise LayoutError("the .blend is not saved: the farm exports from a saved file")
        if (args.out / openjd.TEMPLATE).exists() and not args.overwrite:
            raise LayoutError(f"{args.out} already holds a job: choose another job folder or pass --overwrite")
        job = farm_job(scene, bpy.data.filepath, args)
        template = openjd.build_template(job)
    except (LayoutError, UserError) as exc:
        print(f"make_openjd: error: {exc}", file=sys.stderr)
        return 1
    engine_python = args.engine_python or args.blockcast_dir / ".venv-engine" / "bin" / "python"
    blender = args.blender if "/" not in args.blender else str(Path(args.blender).absolute())
    values = openjd.parameter_values(job, bpy.data.filepath, args.output_dir or args.out / "output", args.blockcast_dir,
                                     engine_python, blender, args.out)
    template = openjd.write_job(args.out, template, values)
    chunks = sum(len(shot.chunks(job.chunk_size)) for shot in job.shots)
    print(f"make_openjd: wrote {template} ({len(job.shots)} shot(s), {chunks} export chunk(s), "
          f"{job.takes} take(s) per shot, backend {job.backend}, passes {job.export_passes})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
