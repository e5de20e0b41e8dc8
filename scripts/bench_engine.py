"""Benchmark the engine's backends against the bare diffusers pipeline call.

    .venv-engine/bin/python scripts/bench_engine.py [--backend all] [--preset tiny] [--steps 10] [--rounds 5]
        [--size 64x36] [--bundle DIR | --frames 17 --shot-size 128x72]

For each backend, the same random-weight components (engine.random_models: "tiny", or
"full" real-size shapes for a GPU) and the same control frames go through (a) our
backend's `generate`, with its progress events and cancel checks, and (b) the plain
pipeline call built with plain diffusers calls. Prints median seconds per denoising step,
the ratio ours/bare (goal <= 1.05), seconds per frame, and each variant's peak memory (max
RSS on CPU, max allocated on CUDA). Timing alternates both variants, loaded side by side
in one fresh process, so drift on a shared machine hits both alike; it runs twice, loading
ours first and then bare first, since the first-loaded models can run faster. Each memory
peak is measured in its own process. With no --bundle, the demo shot is exported with the Blender
venv (.venv) at --frames and --shot-size.
"""

import argparse
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def prepare(variant, backend_name, bundle_path, models, steps, size):
    """A zero-argument callable running one generation, and the list it stamps step ends into."""
    import torch

    from engine import backends, controls
    from engine.backends.base import Hooks, Request
    from engine.backends.device import pick_device
    from engine.backends.models import resolve_model
    from engine.bundle import read_bundle
    from engine.bundle.events import StepEvent
    from engine.progress import CancelToken, Progress

    bundle = read_bundle(bundle_path)
    backend = backends.create(backend_name)
    kinds = list(backend.default_weights)
    width, height = backend.model_size(bundle.width, bundle.height, size)
    built = controls.build_controls(bundle, kinds, width, height)
    device = pick_device("auto")
    prompt, frames, stamps = "a woman in a red coat walks", len(bundle.frames), []
    info = {"device": device.name, "device_kind": device.kind, "frames": frames, "size": [width, height]}
    if variant == "ours":
        resolved = {role.name: resolve_model(role.name, str(models[role.name]))
                    for role in backend.required_roles(kinds)}
        backend.load(resolved, kinds, device)
        progress, cancel = Progress(io.StringIO(), io.StringIO(), show_bar=False), CancelToken()

        def on_step(step, total):
            stamps.append(time.perf_counter())
            progress.emit(StepEvent(take="bench", step=step, total=total))

        request = Request(prompt, "", 0, steps, backend.default_guidance, backend.default_weights, built, frames,
                          width, height)
        return (lambda: backend.generate(request, Hooks(on_step=on_step, check_cancel=cancel.check))), stamps, info
    pipe, arguments = bare_pipeline(backend_name, models, device, built, frames, steps, backend.default_guidance)
    arguments.update(prompt=prompt, width=width, height=height, output_type="np",
                     callback_on_step_end=lambda *_: stamps.append(time.perf_counter()) or {})
    return (lambda: pipe(generator=torch.Generator("cpu").manual_seed(0), **arguments)), stamps, info


def timed(run, stamps):
    """(median seconds per step, seconds for the whole call); steps are timed from the end
    of step 1, so prompt encoding and warm-up stay out."""
    stamps.clear()
    start = time.perf_counter()
    run()
    total = time.perf_counter() - start
    return statistics.median(b - a for a, b in zip(stamps, stamps[1:])), total


def measure(mode, backend_name, bundle_path, models, steps, size, rounds):
    """`ours-first`/`bare-first`: both variants loaded side by side in this process in that
    order, then run alternately; `ours`/`bare`: one run of one variant, for its peak memory."""
    import torch

    variants = {"ours-first": ("ours", "bare"), "bare-first": ("bare", "ours")}.get(mode, (mode,))
    prepared = {v: prepare(v, backend_name, bundle_path, models, steps, size) for v in variants}
    info = prepared[variants[0]][2]
    if len(variants) == 2:
        runs = {v: [] for v in variants}
        for _ in range(rounds):
            for v in variants:
                runs[v].append(timed(*prepared[v][:2]))
        return {**info, **{v: {"step_s": [r[0] for r in runs[v]], "call_s": [r[1] for r in runs[v]]} for v in variants}}
    if info["device_kind"] == "cuda":
        torch.cuda.reset_peak_memory_stats()
    timed(*prepared[mode][:2])
    peak = (torch.cuda.max_memory_allocated() if info["device_kind"] == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {**info, "peak_bytes": peak}


def bare_pipeline(backend_name, models, device, built, frames, steps, guidance):
    """The plain diffusers pipeline and call arguments, without any engine code in the loop."""
    import torch
    from diffusers import (AnimateDiffControlNetPipeline, AutoencoderKLWan, ControlNetModel, DDIMScheduler,
                           MotionAdapter, WanVACEPipeline)
    from diffusers.models.controlnets import MultiControlNetModel

    def dtype(half):
        return torch.float32 if device.kind == "cpu" else half

    if backend_name == "animatediff":
        dtype = dtype(torch.float16)
        adapter = MotionAdapter.from_pretrained(models["motion_adapter"], dtype=dtype)
        nets = [ControlNetModel.from_pretrained(models[f"controlnet_{k}"], dtype=dtype) for k in ("depth", "pose")]
        pipe = AnimateDiffControlNetPipeline.from_pretrained(models["base"], motion_adapter=adapter,
                                                             controlnet=MultiControlNetModel(nets), dtype=dtype)
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config, clip_sample=False,
                                                   timestep_spacing="linspace", beta_schedule="linear", steps_offset=1)
        if frames > 16:
            pipe.enable_free_noise(context_length=16, context_stride=4)
        arguments = {"conditioning_frames": [built["depth"], built["pose"]], "num_frames": frames,
                     "controlnet_conditioning_scale": [1.0, 1.0]}
    else:
        vae = AutoencoderKLWan.from_pretrained(models["pipeline"], subfolder="vae", dtype=torch.float32)
        pipe = WanVACEPipeline.from_pretrained(models["pipeline"], vae=vae, dtype=dtype(torch.bfloat16))
        padded = (frames - 1 + 3) // 4 * 4 + 1
        arguments = {"video": built["depth"] + [built["depth"][-1]] * (padded - frames), "num_frames": padded}
    pipe.to(device.kind)
    pipe.set_progress_bar_config(disable=True)
    arguments.update(num_inference_steps=steps, guidance_scale=guidance)
    return pipe, arguments


def export_demo_bundle(folder, frames, size):
    blender = ROOT / ".venv" / "bin" / "python"
    blend, bundle = folder / "demo.blend", folder / "bundle"
    for command in ([blender, "scripts/make_demo_scene.py", "--save", blend, "--frames", frames, "--size", size],
                    [blender, "scripts/export_passes.py", blend, "--out", bundle, "--quiet"]):
        subprocess.run([str(c) for c in command], cwd=ROOT, check=True, capture_output=True)
    return bundle


def run_measure(mode, name, bundle, models, args):
    out = subprocess.run(
        [sys.executable, __file__, "--measure", mode, name, "--bundle", str(bundle), "--steps", str(args.steps),
         "--size", args.size, "--rounds", str(args.rounds),
         "--model-paths", json.dumps({k: str(v) for k, v in models.items()})],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="bundle to generate from (default: export the demo shot)")
    parser.add_argument("--backend", choices=("animatediff", "wan-vace", "all"), default="all")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5, help="timed runs per variant, alternating (default: 5)")
    parser.add_argument("--size", help="generation size WxH (default: 64x36)", default="64x36")
    parser.add_argument("--preset", choices=("tiny", "full"), default="tiny", help="model shapes (default: tiny)")
    parser.add_argument("--frames", default="17", help="frames of the exported demo shot (default: 17)")
    parser.add_argument("--shot-size", default="128x72", help="size of the exported demo shot (default: 128x72)")
    parser.add_argument("--measure", nargs=2, metavar=("MODE", "BACKEND"), help=argparse.SUPPRESS)
    parser.add_argument("--model-paths", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    if args.measure:
        models = {k: Path(v) for k, v in json.loads(args.model_paths).items()}
        print(json.dumps(measure(*args.measure, args.bundle, models, args.steps, size, args.rounds)))
        return 0

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        bundle = args.bundle or export_demo_bundle(scratch, args.frames, args.shot_size)
        from engine.random_models import save_animatediff_models, save_wan_vace_models

        names = ["animatediff", "wan-vace"] if args.backend == "all" else [args.backend]
        models = {}
        if "animatediff" in names:
            models.update(save_animatediff_models(scratch / "models", args.preset))
        if "wan-vace" in names:
            models.update(save_wan_vace_models(scratch / "models", args.preset))
        for name in names:
            orders = [run_measure(order, name, bundle, models, args) for order in ("ours-first", "bare-first")]
            timing = {**orders[0], **{v: {key: orders[0][v][key] + orders[1][v][key] for key in ("step_s", "call_s")}
                                      for v in ("ours", "bare")}}
            peaks = {v: run_measure(v, name, bundle, models, args)["peak_bytes"] / 2**20 for v in ("ours", "bare")}
            step = {v: statistics.median(timing[v]["step_s"]) for v in ("ours", "bare")}
            call = {v: statistics.median(timing[v]["call_s"]) / timing["frames"] for v in ("ours", "bare")}
            print(f"{name} ({args.preset} models): {timing['frames']} frames at {timing['size'][0]}x"
                  f"{timing['size'][1]}, {args.steps} steps, {timing['device']}, 2 x {args.rounds} alternating rounds")
            print(f"  per step: ours {step['ours'] * 1000:.1f} ms, bare {step['bare'] * 1000:.1f} ms, "
                  f"ratio {step['ours'] / step['bare']:.3f} (goal <= 1.05)")
            print(f"  seconds per frame (whole call): ours {call['ours']:.3f}, bare {call['bare']:.3f}")
            print(f"  peak memory (separate processes): ours {peaks['ours']:.0f} MiB, bare {peaks['bare']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
