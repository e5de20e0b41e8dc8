"""Generate a shot's takes and save a .blend with them in the sequencer, headless.

    blender -b shot.blend -P scripts/shot_to_sequencer.py -- --save OUT.blend [options]
    python scripts/shot_to_sequencer.py shot.blend --save OUT.blend [options]     (bpy module)

The whole chain without a UI: export the shot's passes, run the engine, add each finished
take as a strip. Defaults: the scene camera over the scene's range, the shot's settings
stored in the .blend (else the add-on's defaults), one take. The input .blend is never
written: the result goes to --save, which is checked before any work (a folder, the input
file, a read-only file or folder, a folder that cannot be made are refused), and written
under a temporary name renamed into place. Exit code 0 on success, 2 on a bad command line
(an unknown option, a missing --save), 1 on any other error, a --save path that cannot be
written included (one line says why), 130 when interrupted (finished takes are kept and saved).
"""

import argparse
import os
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blockcast_import import import_blockcast  # noqa: E402
from export_passes import script_args  # noqa: E402

PREFERENCE_OPTIONS = ("engine_python", "engine_dir", "model_folder", "takes_folder", "device", "memory")
_REGISTERED = []  # the settings classes this script registered


def build_parser():
    parser = argparse.ArgumentParser(prog="shot_to_sequencer", description=__doc__.splitlines()[0])
    parser.add_argument("blend", nargs="?", help="the .blend to read (omit under `blender -b FILE -P ...`)")
    parser.add_argument("--save", required=True, help="the .blend to write, with the takes as strips")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file at --save")
    parser.add_argument("--scene", help="scene name; default: the file's active scene")
    parser.add_argument("--shot", help="a camera-bound marker's shot; default: the scene camera")
    parser.add_argument("--backend", help="default: the shot's, else the add-on's default backend")
    parser.add_argument("--takes", type=int, help="how many takes (default: the shot's setting, else 1)")
    parser.add_argument("--prompt", help="default: the shot's prompt")
    parser.add_argument("--negative-prompt", dest="negative_prompt", help="negative prompt; default: the shot's")
    parser.add_argument("--negative", dest="negative_prompt", help=argparse.SUPPRESS)  # the old spelling, still read
    parser.add_argument("--seed", type=int, help="first take's seed; default: the shot's")
    parser.add_argument("--steps", type=int, help="denoising steps; default: the backend's")
    parser.add_argument("--long-side", type=int, help="generation size's long side; default: the backend's")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="default: the add-on's preference (auto)")
    parser.add_argument("--memory", choices=("auto", "high", "balanced", "low"),
                        help="GPU memory preset; default: the add-on's preference (auto)")
    parser.add_argument("--engine-python", dest="engine_python", help="the engine environment's python")
    parser.add_argument("--engine-dir", dest="engine_dir", help="the checkout holding the engine package")
    parser.add_argument("--model-folder", dest="model_folder", help="local models: FOLDER/<backend>/<role>/")
    parser.add_argument("--takes-dir", dest="takes_folder", help="where takes are written")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def _preferences(args, installed):
    """The add-on's preferences (an installed, enabled extension's, else its defaults) with
    this command's options on top."""
    values = {name: getattr(installed, name) for name in ("default_backend", *PREFERENCE_OPTIONS)}
    values.update({name: str(getattr(args, name)) for name in PREFERENCE_OPTIONS if getattr(args, name) is not None})
    return SimpleNamespace(**values)


def _apply_shot_options(settings, args):
    """The options given, onto the shot's Generate settings (each option is named as its setting)."""
    for name in ("backend", "takes", "prompt", "negative_prompt", "seed", "steps", "long_side"):
        if getattr(args, name) is not None:
            setattr(settings, name, getattr(args, name))


def _reporter(quiet):
    last = [None]

    def report(progress):
        line = progress.status_line()
        if quiet or line == last[0]:
            return
        last[0] = line
        print(f"[generate] {line}", file=sys.stderr, flush=True)

    return report


def main(argv=None):
    args = build_parser().parse_args(script_args(sys.argv if argv is None else argv))
    import bpy

    import_blockcast()
    from blockcast.addon.ui import preferences, properties
    from blockcast.addon.blender import errors
    from blockcast.addon.blender.blend_files import check_save_path, open_scene, save_blend
    from blockcast.addon.blender.generation import JOB_ERRORS
    from blockcast.addon.blender.shot_jobs import shot_job
    from blockcast.addon.blender.shots import resolve_shot

    try:
        scene = open_scene(args.blend, args.scene)
        check_save_path(args.save, bpy.data.filepath or None, args.overwrite)
        save = Path(args.save).resolve()
        if not hasattr(bpy.types.Scene, "blockcast"):  # no installed Blockcast extension: use this checkout's
            properties.register()
            _REGISTERED.append(properties)
        shot = resolve_shot(scene, args.shot)
        _apply_shot_options(scene.blockcast.shot_generation_settings(shot.name, create=True), args)
        settings = scene.blockcast
        size = (settings.width, settings.height) if settings.use_custom_size else None
        job = shot_job(scene, shot, _preferences(args, preferences.preferences()), settings.passes(), size)
    except JOB_ERRORS as exc:
        print(f"shot_to_sequencer: error: {exc}", file=sys.stderr)
        return 1

    report = _reporter(args.quiet)
    try:
        job.wait(on_tick=report)
    except KeyboardInterrupt:
        job.stop(30.0)
    report(job.progress)
    if job.progress.phase == "failed":
        print(f"shot_to_sequencer: error: {job.progress.error}", file=sys.stderr)
        return 1
    if job.progress.takes_done:
        try:
            save_blend(save)
        except errors.UserError as exc:
            print(f"shot_to_sequencer: error: {exc}; the {len(job.progress.takes_done)} finished take(s) are kept "
                  "in the takes folder", file=sys.stderr)
            return 1
    made = len(job.progress.takes_done)
    if job.progress.phase == "cancelled":
        print(f"shot_to_sequencer: cancelled; {made} finished take(s) kept"
              + (f" and saved in {save}" if made else ""), file=sys.stderr)
        return 130
    print(f"shot_to_sequencer: wrote {save} with {made} take(s) of shot {shot.name!r} in the sequencer")
    return 0


def exit_process(code):
    """Exit with `code`. bpy 4.2 as a Python module segfaults while exiting once a property with a
    Python callback was registered outside an installed extension, as the scene settings are
    here: by now everything is saved and flushed, so that broken exit is skipped."""
    import bpy

    if _REGISTERED and not bpy.app.binary_path and bpy.app.version < (5, 0, 0):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    exit_process(main())
