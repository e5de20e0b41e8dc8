"""Train the embedded `previz` model on clips from scripts/make_previz_dataset.py.

    .venv-engine/bin/python scripts/train_previz.py --data out/previz_data/train \\
        --work out/previz_train [--steps 3000] [--minutes 50] [--out engine/previz/weights]

Fixed seeds. Resumable: the state (weights, EMA, optimiser, random generators, step) is
checkpointed into --work every --save-every steps and on Ctrl-C, and the same command
continues from it; with no checkpoint, --init FOLDER starts from existing weights (the
shipped ones, to fine-tune) instead of from scratch. Every checkpoint also writes the EMA
weights to --out (swapped in whole), so an interrupted run still leaves a usable model.
When the last step is done, a colour calibration is fitted on training clips (the
sampler's pull towards grey, measured and undone; --calibrate-only refits it).
"""

import argparse
import json
import math
import os
import platform
import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine import controls as control_frames  # noqa: E402
from engine.bundle import read_bundle  # noqa: E402
from engine.bundle.png import read_png  # noqa: E402
from engine.bundle.storage import partial_dir, remove_leftovers, swap_into_place  # noqa: E402
from engine.previz import appearance, model  # noqa: E402


def load_clip(clip_dir):
    """(conditions (F, C, H, W), object ids (F, H, W), {object id: colour ratio}) for one
    clip, through the same control code the engine uses at generation time."""
    bundle = read_bundle(clip_dir / "bundle")
    width, height = model.native_size(bundle.width, bundle.height)
    built = control_frames.build_controls(bundle, list(model.CONTROL_KINDS), width, height)
    beauty = np.stack([read_png(clip_dir / "beauty" / f"{frame:04d}.png") for frame in bundle.frames])
    clay = np.stack([np.asarray(image) for image in built["shading"]])
    ids = np.stack([np.asarray(image, np.int64) for image in built["objects"]])
    if beauty.shape[1:3] != clay.shape[1:3]:
        raise ValueError(f"{clip_dir}: beauty is {beauty.shape[2]}x{beauty.shape[1]}, the native size is "
                         f"{width}x{height}: render the dataset at the native size")
    return model.conditions(built), ids, appearance.object_ratios(beauty, clay, ids)


def clip_folders(folder):
    clips = sorted(p for p in Path(folder).glob("clip_*") if p.is_dir())
    if not clips:
        raise SystemExit(f"no clips in {folder}: make them with scripts/make_previz_dataset.py --out {folder}")
    return clips


def load_dataset(folder):
    """All frames' conditions and targets (each object's colour ratio, encoded), as float16."""
    clips = clip_folders(folder)
    conditions, targets = [], []
    for number, clip in enumerate(clips, 1):
        condition, ids, ratios = load_clip(clip)
        conditions.append(condition.astype(np.float16))
        targets.append(appearance.encode_ratio(appearance.paint(ids, ratios)).transpose(0, 3, 1, 2).astype(np.float16))
        if number % 50 == 0 or number == len(clips):
            print(f"[train] loaded {number}/{len(clips)} clips", file=sys.stderr, flush=True)
    return np.concatenate(conditions), np.concatenate(targets), len(clips)


def fit_calibration(weights, folder, clip_count, steps=20):
    """Gains that give the sampled colours the training data's spread: chroma (distance from
    grey) and luminance, each the ratio of the data's mean to the samples' mean over objects."""
    sampler = model.PrevizSampler(weights)
    chroma, grey = {"data": [], "sampled": []}, {"data": [], "sampled": []}
    clips = clip_folders(folder)
    for number, clip in enumerate(clips[:: max(1, len(clips) // clip_count)][:clip_count], 1):
        condition, ids, truth = load_clip(clip)
        for seed in (0, 1):
            sampled = appearance.pool_by_object(sampler.sample(condition, seed, steps), ids)
            for object_id, ratio in sampled.items():
                for key, value in (("data", truth[object_id]), ("sampled", ratio)):
                    luma = float(np.dot(value, appearance.LUMA))
                    chroma[key].append(float(np.linalg.norm(value - luma)))
                    grey[key].append(luma)
        print(f"[train] calibration {number}/{clip_count}", file=sys.stderr, flush=True)
    return {"chroma_gain": round(float(np.mean(chroma["data"]) / np.mean(chroma["sampled"])), 3),
            "luminance_gain": round(float(np.mean(grey["data"]) / np.mean(grey["sampled"])), 3),
            "luminance_spread": model.LUMINANCE_SPREAD,
            "fitted_on": f"{clip_count} training clips x 2 seeds, {steps} steps"}


def calibrate(weights, folder, clip_count):
    info = json.loads((Path(weights) / "previz.json").read_text(encoding="utf-8"))
    calibration = fit_calibration(weights, folder, clip_count)
    model.write_info(weights, info["training"], calibration)
    print(f"[train] calibration {calibration}", file=sys.stderr)


def augment(torch, condition, target, generator):
    """Mirror left-right (normals' x flips sign where something was hit) and permute colour
    channels of light and material together: new scenes with the same physics."""
    if torch.rand((), generator=generator) < 0.5:
        condition, target = condition.flip(-1), target.flip(-1)
        normal_x = condition[:, 4]
        hit = (condition[:, 4:7] > -0.99).any(dim=1)
        condition = condition.clone()
        condition[:, 4] = torch.where(hit, -normal_x, normal_x)
    order = torch.randperm(3, generator=generator)
    condition = torch.cat([condition[:, order], condition[:, 3:]], dim=1)
    return condition, target[:, order]


def atomic_save_weights(folder, unet, scheduler, training):
    """Write the weights folder whole or not at all, clearing what a killed run left beside it."""
    folder = Path(folder)
    remove_leftovers(folder.parent, folder.name)
    temp = partial_dir(folder)
    model.save(temp, unet, scheduler, training)
    swap_into_place(temp, folder)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="train_previz", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="clips from make_previz_dataset.py")
    parser.add_argument("--work", required=True, type=Path, help="checkpoint folder (resumes from it)")
    parser.add_argument("--out", type=Path, default=model.WEIGHTS_DIR, help="weights folder (default: the shipped one)")
    parser.add_argument("--init", type=Path, help="start from these weights when --work has no checkpoint")
    parser.add_argument("--steps", type=int, default=3000, help="total optimiser steps (default: %(default)s)")
    parser.add_argument("--minutes", type=float, help="stop this run after this much wall time (resume later)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--save-every", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calibration-clips", type=int, default=32,
                        help="training clips to fit the colour calibration on once training ends (0: skip)")
    parser.add_argument("--calibrate-only", action="store_true", help="only refit the calibration of --out")
    args = parser.parse_args(argv)
    if args.calibrate_only:
        calibrate(args.out, args.data, args.calibration_clips)
        return 0

    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    conditions, targets, clip_count = load_dataset(args.data)
    conditions, targets = torch.from_numpy(conditions), torch.from_numpy(targets)
    unet, scheduler = model.new_model()
    if args.init and not (args.work / "checkpoint.pt").exists():
        from diffusers import UNet2DModel
        unet = UNet2DModel.from_pretrained(args.init / "unet", use_safetensors=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    unet.to(device)
    ema = {name: value.detach().clone() for name, value in unet.state_dict().items()}
    optimiser = torch.optim.AdamW(unet.parameters(), lr=args.lr, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(args.seed)
    step, seconds = 0, 0.0
    checkpoint_path = args.work / "checkpoint.pt"
    if checkpoint_path.exists():
        state = torch.load(checkpoint_path, weights_only=True, map_location=device)
        unet.load_state_dict(state["unet"])
        ema = state["ema"]
        optimiser.load_state_dict(state["optimiser"])
        generator.set_state(state["generator"].cpu())
        step, seconds = state["step"], state["seconds"]
        print(f"[train] resuming at step {step} ({seconds / 60:.1f} min trained)", file=sys.stderr)
    args.work.mkdir(parents=True, exist_ok=True)

    def training_record():
        return {"steps": step, "batch": args.batch, "frames": len(conditions), "clips": clip_count,
                "data": str(args.data), "train_minutes": round(seconds / 60, 1), "seed": args.seed,
                "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
                            f"{'cuda' if torch.cuda.is_available() else 'cpu'}",
                "parameters": sum(p.numel() for p in unet.parameters())}

    def checkpoint():
        temp = checkpoint_path.with_name(f".checkpoint.{uuid.uuid4().hex[:8]}.pt")
        torch.save({"unet": unet.state_dict(), "ema": ema, "optimiser": optimiser.state_dict(),
                    "generator": generator.get_state(), "step": step, "seconds": seconds}, temp)
        os.replace(temp, checkpoint_path)
        ema_unet, _ = model.new_model()
        ema_unet.load_state_dict(ema)
        atomic_save_weights(args.out, ema_unet, scheduler, training_record())

    unet.train()
    run_started, last_report, losses = time.perf_counter(), time.perf_counter(), []
    log = open(args.work / "loss.jsonl", "a", encoding="utf-8")
    try:
        while step < args.steps:
            if args.minutes is not None and time.perf_counter() - run_started > args.minutes * 60:
                print(f"[train] --minutes {args.minutes} reached; run again to continue", file=sys.stderr)
                break
            started = time.perf_counter()
            lr = args.lr * min(1.0, (step + 1) / 100) * (0.55 + 0.45 * math.cos(math.pi * step / args.steps))
            for group in optimiser.param_groups:
                group["lr"] = lr
            index = torch.randint(len(conditions), (args.batch,), generator=generator)
            condition, target = augment(torch, conditions[index].float(), targets[index].float(), generator)
            noise = torch.randn(target.shape, generator=generator)
            timesteps = torch.randint(scheduler.config.num_train_timesteps, (args.batch,), generator=generator)
            condition, target, noise, timesteps = (t.to(device) for t in (condition, target, noise, timesteps))
            noisy = scheduler.add_noise(target, noise, timesteps)
            velocity = scheduler.get_velocity(target, noise, timesteps)
            prediction = unet(torch.cat([noisy, condition], dim=1), timesteps).sample
            loss = torch.nn.functional.mse_loss(prediction, velocity)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
            optimiser.step()
            step += 1
            decay = min(0.999, (1 + step) / (10 + step))
            with torch.no_grad():
                for name, value in unet.state_dict().items():
                    ema[name].mul_(decay).add_(value.detach(), alpha=1 - decay) if value.is_floating_point() \
                        else ema[name].copy_(value)
            seconds += time.perf_counter() - started
            losses.append(loss.item())
            if time.perf_counter() - last_report > 30 or step == args.steps:
                rate = step / max(seconds, 1e-9)
                print(f"[train] step {step}/{args.steps} loss {np.mean(losses):.4f} lr {lr:.2e} "
                      f"{rate:.2f} steps/s, {(args.steps - step) / rate / 60:.1f} min left",
                      file=sys.stderr, flush=True)
                log.write(json.dumps({"step": step, "loss": float(np.mean(losses)), "minutes": seconds / 60}) + "\n")
                log.flush()
                losses, last_report = [], time.perf_counter()
            if step % args.save_every == 0:
                checkpoint()
    except KeyboardInterrupt:
        print(f"[train] interrupted at step {step}; saving", file=sys.stderr)
    finally:
        log.close()
    checkpoint()
    print(f"[train] step {step}, {seconds / 60:.1f} min trained; weights in {args.out}", file=sys.stderr)
    if step >= args.steps and args.calibration_clips:
        calibrate(args.out, args.data, args.calibration_clips)
    return 0


if __name__ == "__main__":
    sys.exit(main())
