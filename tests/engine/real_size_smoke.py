"""One denoising step of a diffusion backend at real size on a CPU, random weights.

    .venv-engine/bin/python tests/engine/real_size_smoke.py animatediff|wan-vace [--dtype bfloat16]

Writes the published checkpoint's folder (real_checkpoints.write_hub_folder: real configs,
file names and tensor shapes, data-free files in the load dtype), runs the backend's own
`load` over it on the CPU, gives every weight random values (so the step computes on real
numbers, in memory the process owns, as loaded weights would be), then one `generate` with
one step at the smallest size the backend accepts. Prints one JSON line: load_s, step_s
(from the first denoiser call to the end of the step, guidance on, so two batch rows),
generate_s (text encoding and VAE decode included) and peak_rss_gb (the process's
high-water mark: loading, the random weights and the step).

Wan's UMT5-XXL text encoder keeps its real width and 256k vocabulary but 2 of its 24
layers: all 24 are 11.4 GB in bfloat16, more than a shared 24 GB machine spares beside
the 4.3 GB transformer; it runs once per take, before the steps measured.
"""

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

SHOTS = {  # backend: (width, height, frames) — the smallest each accepts with its motion model engaged
    "animatediff": (64, 64, 16),   # SD 1.5's UNet downsamples 8x in latents: 64 px; 16 = the adapter's window
    "wan-vace": (64, 64, 5),       # multiples of 16; 4k+1 frames with one step of the VAE's 4x time compression
}


def cpu_device(dtype):
    import torch

    from engine.backends.device import Device

    class CpuIn(Device):
        def dtype(self, half):
            self.chosen_dtype, self.dtype_reason = dtype, "real-size CPU smoke"
            return getattr(torch, dtype)

    return CpuIn("cpu", f"cpu ({torch.get_num_threads()} threads)")


def write_models(name, root, dtype):
    from real_checkpoints import write_hub_folder

    if name == "animatediff":
        repos = {"base": "stable-diffusion-v1-5", "motion_adapter": "animatediff-motion-adapter-v1-5-3",
                 "controlnet_depth": "control_v11f1p_sd15_depth"}
        write_hub_folder(repos["base"], root / "base", {"unet": dtype, "vae": dtype, "text_encoder": dtype})
        for role in ("motion_adapter", "controlnet_depth"):
            write_hub_folder(repos[role], root / role, {"": dtype})
        return {role: root / role for role in repos}
    folder = root / "pipeline"
    write_hub_folder("Wan2.1-VACE-1.3B-diffusers", folder, {"transformer": dtype, "vae": "float32", "text_encoder": dtype},
                     overrides={"text_encoder": {"num_layers": 2, "num_decoder_layers": 2}})
    return {"pipeline": folder}


def randomize(pipe, seed=0):
    """Random values for every weight, in new memory (the loaded tensors map data-free files)."""
    import torch

    torch.manual_seed(seed)
    with torch.no_grad():
        for module in pipe.components.values():
            if isinstance(module, torch.nn.Module):
                for parameter in module.parameters():
                    parameter.data = torch.randn_like(parameter) * 0.02


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("backend", choices=sorted(SHOTS))
    parser.add_argument("--dtype", default="bfloat16")
    args = parser.parse_args()

    import torch
    from PIL import Image

    from engine.backends import create
    from engine.backends.base import Hooks, Request
    from engine.backends.device import quiet_libraries
    from engine.backends.models import ResolvedModel

    quiet_libraries()
    backend = create(args.backend)
    width, height, frames = SHOTS[args.backend]
    with tempfile.TemporaryDirectory() as root:
        models = write_models(args.backend, Path(root), args.dtype)
        started = time.perf_counter()
        controls = list(backend.default_weights)[:1]
        backend.load({role: ResolvedModel(role, str(path), path) for role, path in models.items()}, controls,
                     cpu_device(args.dtype))
        randomize(backend.pipe)
        load_s = time.perf_counter() - started
        marks = {}
        first = backend.pipe.controlnet if args.backend == "animatediff" else backend.pipe.transformer

        def note_first_call(_module, _args):
            marks.setdefault("first_call", time.perf_counter())  # returns None: the arguments stay as they are

        first.register_forward_pre_hook(note_first_call)
        control = [Image.new("RGB", (width, height), (120, 120, 120))] * frames
        request = Request(prompt="a red car drives past a house", negative_prompt="", seed=1, steps=1,
                          guidance=backend.default_guidance, weights={controls[0]: 1.0},
                          controls={controls[0]: control}, num_frames=frames, width=width, height=height)
        started = time.perf_counter()
        video = backend.generate(request, Hooks(on_step=lambda *_: marks.setdefault("step", time.perf_counter())))
        generate_s = time.perf_counter() - started
    print(json.dumps({"backend": args.backend, "dtype": args.dtype, "size": [width, height], "frames": frames,
                      "threads": torch.get_num_threads(), "load_s": round(load_s, 1),
                      "step_s": round(marks["step"] - marks["first_call"], 1), "generate_s": round(generate_s, 1),
                      "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
                      "frames_out": list(video.shape), "finite": bool(torch.isfinite(torch.from_numpy(
                          video.astype("float32"))).all())}))


if __name__ == "__main__":
    main()
