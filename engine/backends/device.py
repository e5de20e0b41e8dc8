"""Where and in what precision a backend runs, plus the memory switches for small GPUs."""

from dataclasses import dataclass


class DeviceError(Exception):
    """The requested device cannot be used; the message says what to do."""


@dataclass
class Device:
    kind: str                 # "cpu" or "cuda"
    name: str                 # human-readable, recorded in take.json
    offload: bool = False     # diffusers model CPU offload (CUDA only)
    vae_tiling: bool = False
    vae_slicing: bool = False

    def dtype(self, half):
        """float32 on CPU (half precision there is slow and lossy); `half` on CUDA, given as
        a torch dtype name like "float16" or "bfloat16"."""
        import torch

        return torch.float32 if self.kind == "cpu" else getattr(torch, half)

    def place(self, pipe):
        """Move a pipeline onto the device and apply the memory switches."""
        if self.offload and self.kind == "cuda":
            pipe.enable_model_cpu_offload()
        else:
            pipe.to(self.kind)
        vae = getattr(pipe, "vae", None)
        if self.vae_tiling and hasattr(vae, "enable_tiling"):
            vae.enable_tiling()
        if self.vae_slicing and hasattr(vae, "enable_slicing"):
            vae.enable_slicing()
        pipe.set_progress_bar_config(disable=True)
        return pipe


def quiet_libraries():
    """Our own progress events replace diffusers/transformers loading bars and chatter."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    for logging in (diffusers_logging, transformers_logging):
        logging.set_verbosity_error()
        logging.disable_progress_bar()


def pick_device(choice="auto", offload=False, vae_tiling=False, vae_slicing=False):
    """The Device to run on; also quiets the libraries that are about to load."""
    import torch

    quiet_libraries()

    if choice not in ("auto", "cpu", "cuda"):
        raise DeviceError(f"unknown device {choice!r}: use auto, cpu or cuda")
    has_cuda = torch.cuda.is_available()
    if choice == "cuda" and not has_cuda:
        raise DeviceError("--device cuda was asked for but torch sees no CUDA GPU: use --device cpu or auto")
    kind = "cuda" if choice == "cuda" or (choice == "auto" and has_cuda) else "cpu"
    name = torch.cuda.get_device_name(0) if kind == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    return Device(kind, name, offload, vae_tiling, vae_slicing)
