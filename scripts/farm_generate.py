"""One farm generation task: takes F..L of a shot, making only those not made yet.

    python scripts/farm_generate.py BUNDLE --out OUTPUT/takes/SHOT --first-take F --takes-per-task N --takes K
        [--seed S] [--backend NAME] [--prompt P | --prompt-json '"P"'] [--steps N] [--size WxH]
        [--models 'ROLE=PATH;...'] [--device D] [--memory auto|high|balanced|low]

Runs in the engine venv and calls the engine's command line in-process. Take t uses seed S+t-1.
A take counts as made when a take under OUTPUT/takes/SHOT (any batch) has that seed and was
made from this very bundle (its content hash) with the same backend, prompt, steps, size and
models: a finished task's re-run does nothing, and a killed one makes only what is missing.
New takes go to OUTPUT/takes/SHOT/batch-F-L/, which only this task writes; hidden partial
takes a hard kill left there are cleared first, so take numbers come out as in an
uninterrupted run. The prompt comes as typed (--prompt, an OpenJD job parameter value) or as a
JSON string literal (--prompt-json, as Flamenco's job type writes it: farm/literal.py), and goes to
the engine unchanged. Exit codes are the engine's (0 done, 1 error, 2 bad arguments, 130 cancelled).
"""

import argparse
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
from engine import backends  # noqa: E402
from engine.bundle import BundleError  # noqa: E402
from engine.bundle.request import DEVICES, MEMORY_PRESETS, GenerateRequest, parse_model, parse_size  # noqa: E402
from engine.bundle.take_record import TAKE_RECORD, TakeRecordError, read_take  # noqa: E402
from engine.cli import main as engine_main  # noqa: E402
from engine.generate import bundle_hash, open_bundle  # noqa: E402
from farm import literal  # noqa: E402
from farm.layout import LayoutError, batch_folder, batch_takes  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(prog="farm_generate", description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--out", required=True, type=Path, help="the shot's takes folder")
    parser.add_argument("--first-take", required=True, type=int, help="first take number of this task (1-based)")
    parser.add_argument("--takes-per-task", required=True, type=int)
    parser.add_argument("--takes", required=True, type=int, help="takes of the shot in all")
    parser.add_argument("--seed", type=int, default=0, help="seed of take 1")
    parser.add_argument("--backend", default=backends.DEFAULT_BACKEND)
    prompt = parser.add_mutually_exclusive_group()
    prompt.add_argument("--prompt", default="")
    prompt.add_argument("--prompt-json", dest="prompt", type=literal.argument_type, help="the prompt as a JSON string")
    parser.add_argument("--steps", type=int, default=0, help="0: the backend's default")
    parser.add_argument("--size", default="", help="generation size WxH; empty: the backend's default")
    parser.add_argument("--models", default="", help="ROLE=ID_OR_PATH overrides separated by ';'")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--memory", default="auto", choices=MEMORY_PRESETS,
                        help="the engine's memory preset; like --device, not part of what makes a take count as made")
    return parser


def wanted_request(args, backend):
    """The request a take must have been made by (its seed aside) to count as made by this task."""
    return GenerateRequest(backend=backend.name, prompt=args.prompt, steps=args.steps or backend.default_steps,
                           size=parse_size(args.size) if args.size else None, models=model_overrides(args.models))


def made_seeds(takes_root, bundle_sha, wanted):
    """Seeds of the complete takes under `takes_root` that match this bundle and request. An
    override for a role the take did not load is no difference: the same bundle and request load
    the same roles again."""
    seeds = set()
    for record_path in takes_root.glob(f"*/take-*/{TAKE_RECORD}"):
        try:
            take = read_take(record_path.parent)
        except TakeRecordError:
            continue
        made = take.request()
        if (take.status == "complete" and take.bundle.hash == bundle_sha and made.backend == wanted.backend
                and made.prompt == wanted.prompt and made.steps == wanted.steps and made.size == wanted.size
                and all(made.models[role] == spec for role, spec in wanted.models.items()
                        if role in made.models)):  # a role the take did not load (no references: no IP-Adapter)
            seeds.add(take.seed)
    return seeds


def runs(numbers):
    """[3, 4, 6] -> [[3, 4], [6]]: consecutive seeds share one engine call (models load once)."""
    groups = []
    for number in numbers:
        if groups and number == groups[-1][-1] + 1:
            groups[-1].append(number)
        else:
            groups.append([number])
    return groups


def model_overrides(text):
    """'base=/m/sd15;vae=x/y' (the farms' one job parameter) -> {'base': '/m/sd15', 'vae': 'x/y'}."""
    return dict(parse_model(item) for item in filter(None, (m.strip() for m in text.split(";"))))


def engine_args(args, out, seeds):
    """The engine's command line for `seeds` (consecutive), written by the request contract."""
    request = GenerateRequest(backend=args.backend, prompt=args.prompt, seed=seeds[0], takes=len(seeds),
                              steps=args.steps or None, size=parse_size(args.size) if args.size else None,
                              device=args.device, memory=args.memory, models=model_overrides(args.models))
    return request.to_arguments(args.bundle.absolute(), out)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        takes = batch_takes(args.first_take, args.takes_per_task, args.takes)
        backend = backends.create(args.backend)
        bundle_sha = bundle_hash(open_bundle(args.bundle))
        wanted = wanted_request(args, backend)
    except (BundleError, LayoutError, ValueError, argparse.ArgumentTypeError) as exc:
        print(f"farm_generate: error: {exc}", file=sys.stderr)
        return 1
    done = made_seeds(args.out, bundle_sha, wanted)
    missing = [args.seed + take - 1 for take in takes if args.seed + take - 1 not in done]
    if not missing:
        print(f"farm_generate: takes {takes[0]}-{takes[-1]} of {args.out} are already made; nothing to do")
        return 0
    batch = args.out / batch_folder(takes)
    for leftover in batch.glob(".take-*.partial"):
        shutil.rmtree(leftover, ignore_errors=True)
    for seeds in runs(missing):
        code = engine_main(engine_args(args, batch, seeds))
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
