"""`python -m engine check|backends|generate|serve|variations|models`: what the add-on, batch scripts and farms call.

Exit codes: 0 done, 1 a clear error (one line on stderr saying what to do, and an `error`
JSON event for generate), 2 bad arguments, 130 cancelled (finished takes kept).
"""

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

# The engine never reaches a model hub at run time; set before huggingface_hub is imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from . import __version__, backends  # noqa: E402
from .backends.models import ModelError, cached_snapshot, download_hint, looks_like_path  # noqa: E402
from .bundle import BundleError, read_bundle, validate_bundle  # noqa: E402
from .bundle.request import GenerateRequest, RequestUsageError, add_arguments  # noqa: E402
from .controls import CONTROL_KINDS, needed_passes  # noqa: E402  (numpy and PIL only, which previz loads anyway)


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m engine", description="Blockcast engine: pass bundles to takes.")
    parser.add_argument("--version", action="version", version=f"blockcast engine {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="validate a bundle and print what is wrong")
    check.add_argument("bundle", type=Path)

    listing = commands.add_parser("backends", help="list backends, their rules and whether their models are here")
    listing.add_argument("--json", action="store_true", help="one JSON document instead of text")

    gen = commands.add_parser("generate", help="generate takes from a bundle")
    gen.add_argument("bundle", type=Path)
    gen.add_argument("--out", type=Path, required=True, help="the takes folder (created if missing)")
    add_arguments(gen, backends=backends.names(), controls=CONTROL_KINDS)
    add_cancel_file_argument(gen)

    from .serve.server import add_arguments as add_serve_arguments

    serve = commands.add_parser("serve", help="a warm engine: an HTTP service keeping models loaded between takes")
    add_serve_arguments(serve)

    from .variations.command import add_variation_arguments  # argparse only; its run imports the rest
    looks = commands.add_parser("variations", help="many looks of a shot as a contact sheet (previz only)")
    looks.add_argument("bundle", type=Path)
    looks.add_argument("--out", type=Path, required=True, help="where the variations folder goes (created if missing)")
    add_arguments(looks, backends=backends.names(), controls=CONTROL_KINDS)
    add_variation_arguments(looks)
    add_cancel_file_argument(looks)

    from .models_cli import add_models_parser
    add_models_parser(commands)
    return parser


def add_cancel_file_argument(parser):
    parser.add_argument("--cancel-file", type=Path, default=None,
                        help="stop at the next step once this file exists (a cancel that needs no signal, "
                             "e.g. on Windows); SIGINT/SIGTERM work too")


def run_check(args):
    problems = validate_bundle(args.bundle)
    if problems:
        print(f"{args.bundle}: {len(problems)} problem(s)")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    bundle = read_bundle(args.bundle)
    print(f"{args.bundle}: ok — shot {bundle.name!r}, {len(bundle.frames)} frames "
          f"({bundle.frames[0]}-{bundle.frames[-1]}) at {bundle.width}x{bundle.height}, "
          f"passes {', '.join(bundle.passes)}, {len(bundle.actors)} actor(s)")
    return 0


def model_presence(role, backend=None):
    """(present, how to get it): a local folder must exist; a hub id must be in the local cache."""
    if looks_like_path(role.default_id):
        present = Path(role.default_id).is_dir()
        fetch = (f"it ships with Blockcast: restore {role.default_id} from the Blockcast repository, "
                 f"or pass --model {role.name}=FOLDER")
    else:
        present = cached_snapshot(role.default_id) is not None
        fetch = download_hint(role.default_id, backend)
    return present, None if present else fetch


def backend_report():
    """What `backends` prints: per backend its rules, the bundle passes it cannot do without
    (callers such as the add-on export them), how many frames of a --continue-from take it keeps
    (carry_frames, 0: it cannot continue a take) and whether its models are here."""
    report = []
    for name in backends.names():
        backend = backends.create(name)
        models = []
        for role in backend.roles:
            present, download = model_presence(role, name)
            models.append({"role": role.name, "default": role.default_id, "description": role.description,
                           "for_control": role.control, "present": present, "download": download})
        passes = list(dict.fromkeys(name for kind in backend.required_controls for name in needed_passes(kind)))
        reference_passes = list(dict.fromkeys(name for kind in backend.reference_controls
                                              for name in needed_passes(kind)))
        report.append({"name": name, "default": name == backends.DEFAULT_BACKEND, "description": backend.description,
                       "controls": list(backend.controls), "passes": passes,
                       "reference_passes": reference_passes,
                       "control_passes": {kind: list(needed_passes(kind)) for kind in backend.controls},
                       "composite_passes": list(backend.composite_passes),
                       "default_weights": backend.default_weights, "max_controls": backend.max_controls,
                       "frames": backend.frame_rule, "size": backend.size_rule(),
                       "init_video": backend.supports_init_video, "ignores": list(backend.ignores),
                       "lens_controls": list(backend.lens_controls), "carry_frames": backend.carry_frames,
                       "models": models})
    return report


def run_backends(args):
    report = backend_report()
    if args.json:
        print(json.dumps({"backends": report}, indent=1))
        return 0
    for entry in report:
        print(f"{entry['name']}{' (default)' if entry['default'] else ''}: {entry['description']}")
        print(f"  controls: {', '.join(entry['controls'])}"
              + (f" (at most {entry['max_controls']} per take)" if entry["max_controls"] else ""))
        if entry["passes"]:
            print(f"  needs:    the bundle's {', '.join(entry['passes'])} passes")
        print(f"  frames:   {entry['frames']}")
        print(f"  size:     {entry['size']}")
        if entry["lens_controls"]:
            print(f"  lens:     applies {', '.join(entry['lens_controls'])} itself (no post-process)")
        if entry["carry_frames"]:
            print(f"  continues: a --continue-from take's last {entry['carry_frames']} frames lead into the shot")
        for model in entry["models"]:
            state = "present" if model["present"] else f"missing — {model['download']}"
            print(f"  model {model['role']}: {model['default']} ({state})")
    return 0


def run_generate(args):
    from .backends.device import DeviceError
    from .generate import Generation, RequestError
    from .bundle import events
    from .progress import CancelToken, Cancelled, Progress
    from .takes import TakeError

    progress, cancel, generation = Progress(), CancelToken(args.cancel_file).install(), None
    request = GenerateRequest.from_arguments(args)
    try:
        generation = Generation(request, args.bundle, args.out, progress, cancel)
        takes = generation.run()
    except Cancelled as exc:
        progress.emit(events.CancelledEvent(take=generation and generation.current_take,
                                            message="unfinished take removed; finished takes kept"))
        print(f"engine: {exc}; the unfinished take was removed, finished takes are kept", file=sys.stderr)
        return 130
    except RequestUsageError as exc:  # an option wrong whatever the bundle: a bad argument, as argparse's own
        progress.emit(events.ErrorEvent(take=None, message=str(exc)))
        print(f"engine: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # every failure becomes an `error` event the caller can show
        expected = (BundleError, ModelError, RequestError, TakeError, DeviceError, ValueError, OSError)
        message = str(exc)
        progress.emit(events.ErrorEvent(take=generation and generation.current_take, message=message))
        if not isinstance(exc, expected):
            traceback.print_exc()
        print(f"engine: error: {message}", file=sys.stderr)
        return 1
    finally:
        cancel.uninstall()
    progress.emit(events.FinishedEvent(takes=[str(path) for path in takes]))
    return 0


def run_serve(args):
    from .serve.server import run_serve as serve

    return serve(args)


def main(argv=None):
    args = build_parser().parse_args(argv)
    from .variations.command import run_variations

    from .models_cli import run_models

    handlers = {"check": run_check, "backends": run_backends, "generate": run_generate, "serve": run_serve,
                "variations": run_variations, "models": run_models}
    return handlers[args.command](args)
