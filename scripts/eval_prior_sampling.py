"""Compare samplers of the previz colour prior against its 20-step DDIM (the looks before #14's speed-up).

    .venv-engine/bin/python scripts/eval_prior_sampling.py [--seeds 8] [--candidates ddim:20:leading:1,...]

The same items for every sampler: the demo scene's 9 objects (its 2 actors, each held beside the
other's colour word, and its 7 props beside both, as `./scripts/demo.sh` casts them) x --seeds look
seeds, the first draw only (no redraw), each item's noise its own seed's. Per sampler it prints:
ΔE76 to the 20-step DDIM colour of the same item (mean, median, 90th percentile, max), the
distribution of the colours (mean L*, mean chroma C*, spread of a* and b*), how distinct a seed's
colours are from each other (mean over seeds of the smallest ΔE76 between two of its objects),
how often a draw lands within MIN_DELTA_E of a known colour (it would be drawn again), and the
seconds one UNet call of a 9-item batch takes here. A candidate is scheduler:steps:spacing:downscale.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REFERENCE = "ddim:20:leading:1"
DEFAULT_CANDIDATES = ("ddim:6:trailing:1,dpm++2m:4:trailing:1,dpm++2m:6:trailing:1,"
                      "dpm++2m:8:trailing:1,dpm++2m:6:trailing:2,dpm++2m:8:trailing:2")
ACTORS = {"Ana_body": "#e50000", "Ben_body": "#15b01a"}  # the demo cast's colour words (red, green)
PROPS = ("Back wall", "Crate", "Floor", "Front wall", "Pillar", "Suitcase", "Table")


def items_for(prior, seeds):
    """[(shot, known mask, known encoded, seed)], [(object name, known Labs)] for every object and look seed."""
    from engine.looks.colour_space import hex_to_srgb8, srgb8_to_lab
    from engine.looks.plan import object_seed

    items, meta = [], []
    for look_seed in seeds:
        for name, role in [(n, "actor") for n in ACTORS] + [(n, "prop") for n in PROPS]:
            known = [(other, "actor", colour) for other, colour in sorted(ACTORS.items()) if other != name]
            shot = prior.shots[role]
            items.append((shot, *shot.known_image(known), object_seed(look_seed, name, "prior-0")))
            meta.append((name, [srgb8_to_lab(hex_to_srgb8(colour)) for _, _, colour in known]))
    return items, meta


def run(sampler, candidate, seeds):
    """(Lab (N, 3) of each item's albedo, known Labs per item, seconds per 9-item UNet call)."""
    from engine.looks.colour_space import hex_to_srgb8, linear_to_srgb, srgb8_to_hex, srgb8_to_lab
    from engine.looks.measure import CLAY_ALBEDO
    from engine.previz.prior import ColourPrior, PriorSampling, one_thread

    scheduler, steps, spacing, downscale = candidate.split(":")
    prior = ColourPrior(sampler, sampler.folder, PriorSampling(scheduler, spacing, int(downscale)))
    items, meta = items_for(prior, seeds)
    started = time.perf_counter()
    with one_thread():  # as every look samples (prior.choose)
        encoded = prior._sample(items, int(steps), lambda: None, chunk=len(ACTORS) + len(PROPS))
    call_s = (time.perf_counter() - started) / (int(steps) * len(seeds))
    labs = []
    for (shot, *_), sample in zip(items, encoded):
        albedo = np.clip(prior._ratio(shot, sample) * CLAY_ALBEDO, 0, 1)
        labs.append(srgb8_to_lab(hex_to_srgb8(srgb8_to_hex(linear_to_srgb(albedo) * 255))))  # as the look stores it
    return np.array(labs), [known for _, known in meta], call_s


def summary(labs, known, reference, per_seed):
    distance = np.linalg.norm(labs - reference, axis=1)
    chroma = np.hypot(labs[:, 1], labs[:, 2])
    redraw = np.mean([min(np.linalg.norm(lab - k) for k in ks) < 20.0 for lab, ks in zip(labs, known)])
    groups = labs.reshape(-1, per_seed, 3)
    distinct = np.mean([min(np.linalg.norm(g[i] - g[j]) for i in range(per_seed) for j in range(i + 1, per_seed))
                        for g in groups])
    return (f"{distance.mean():.1f} | {np.median(distance):.1f} | {np.percentile(distance, 90):.1f} | "
            f"{distance.max():.1f} | {labs[:, 0].mean():.1f} | {chroma.mean():.1f} | {labs[:, 1].std():.1f} / "
            f"{labs[:, 2].std():.1f} | {distinct:.1f} | {100 * redraw:.0f} %")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="look seeds 1..N (default: 8)")
    parser.add_argument("--candidates", default=DEFAULT_CANDIDATES, help="comma-separated scheduler:steps:spacing:"
                        "downscale, each compared with ddim:20:leading:1")
    args = parser.parse_args()

    from engine.previz.model import WEIGHTS_DIR, PrevizSampler

    sampler = PrevizSampler(WEIGHTS_DIR)
    sampler.folder = WEIGHTS_DIR
    seeds = list(range(1, args.seeds + 1))
    reference, known, reference_s = run(sampler, REFERENCE, seeds)
    print(f"{len(reference)} items ({len(ACTORS) + len(PROPS)} objects x {len(seeds)} look seeds), first draws")
    print("| sampler | ΔE76 to 20-step DDIM: mean | median | p90 | max | mean L* | mean C* | sd a* / b* | "
          "closest pair in a seed (mean ΔE) | within 20 of a known colour | s per UNet call (9 items) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {REFERENCE} (before) | {summary(reference, known, reference, len(ACTORS) + len(PROPS))} | "
          f"{reference_s:.2f} |", flush=True)
    for candidate in args.candidates.split(","):
        labs, _, call_s = run(sampler, candidate, seeds)
        print(f"| {candidate} | {summary(labs, known, reference, len(ACTORS) + len(PROPS))} | {call_s:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
