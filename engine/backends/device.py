"""Where and in what precision a backend runs, and the memory plan it runs under.

The choices are pure functions of a DeviceProbe (what this machine has), so they are tested
without the hardware; `probe_torch` fills one in from torch on the real machine.
"""

import os
from dataclasses import dataclass, field

from ..bundle.request import DEVICES as DEVICE_CHOICES


class DeviceError(Exception):
    """The requested device cannot be used; the message says what to do."""


@dataclass(frozen=True)
class DeviceProbe:
    """What the machine offers: CUDA (name, compute capability, bf16, free/total bytes), Apple's
    MPS (recommended bytes), the CPU (threads, available RAM bytes)."""

    cuda: bool = False
    cuda_name: str = ""
    cuda_capability: tuple = (0, 0)
    cuda_bf16: bool = False
    cuda_free: int = 0
    cuda_total: int = 0
    mps: bool = False
    mps_bytes: int = 0
    cpu_threads: int = 1
    ram_available: int = 0

    def free_bytes(self, kind):
        """Memory a model on `kind` can use now."""
        return {"cuda": self.cuda_free, "mps": self.mps_bytes}.get(kind, self.ram_available)


def _available_ram():
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return 0


def probe_torch():
    """The DeviceProbe of this machine, from torch."""
    import torch

    values = {"cpu_threads": torch.get_num_threads(), "ram_available": _available_ram()}
    if torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        values.update(cuda=True, cuda_name=torch.cuda.get_device_name(0),
                      cuda_capability=tuple(torch.cuda.get_device_capability(0)),
                      cuda_bf16=torch.cuda.is_bf16_supported(), cuda_free=int(free), cuda_total=int(total))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        values.update(mps=True, mps_bytes=int(torch.mps.recommended_max_memory()
                                              - torch.mps.current_allocated_memory()))
    return DeviceProbe(**values)


def choose_kind(choice, probe):
    """cuda, mps or cpu for --device `choice`: auto takes CUDA, then MPS, then the CPU."""
    if choice not in DEVICE_CHOICES:
        raise DeviceError(f"unknown device {choice!r}: use {', '.join(DEVICE_CHOICES)}")
    if choice == "cuda" and not probe.cuda:
        raise DeviceError("--device cuda was asked for but torch sees no CUDA GPU: use --device auto or cpu")
    if choice == "mps" and not probe.mps:
        raise DeviceError("--device mps was asked for but torch sees no Apple GPU (MPS needs Apple silicon and "
                          "macOS 12.3+): use --device auto or cpu")
    if choice != "auto":
        return choice
    return "cuda" if probe.cuda else "mps" if probe.mps else "cpu"


def device_name(kind, probe):
    if kind == "cuda":
        return f"{probe.cuda_name} (sm_{probe.cuda_capability[0]}{probe.cuda_capability[1]})"
    return "Apple GPU (mps)" if kind == "mps" else f"cpu ({probe.cpu_threads} threads)"


def choose_dtype(kind, half, probe, needs=None):
    """(dtype name, why) a backend runs in. half: the backend's half type ("float16" or
    "bfloat16"); needs: its engine.memory.BackendNeeds (None: unknown, e.g. a plug-in).
    CUDA: bfloat16 only where the GPU has it (Ampere and later), else float16. MPS: the
    backend's MPS type (float16, or float32 where float16 overflows). CPU: float32, or
    bfloat16 when the weights in float32 do not fit the available RAM."""
    if kind == "cuda":
        if half == "bfloat16" and not probe.cuda_bf16:
            return "float16", f"this GPU (sm_{probe.cuda_capability[0]}{probe.cuda_capability[1]}) has no bfloat16"
        return half, "the backend's half precision"
    if kind == "mps":
        dtype = needs.mps_dtype if needs is not None else "float16"
        return dtype, "the backend's type on Apple GPUs"
    if needs is not None and probe.ram_available and needs.weight_bytes("float32") > probe.ram_available:
        gb = needs.weight_bytes("float32") / 1e9
        return "bfloat16", (f"its weights need {gb:.1f} GB in float32, more than the "
                            f"{probe.ram_available / 1e9:.1f} GB of RAM available")
    return "float32", "half precision on a CPU is slow and lossy"


@dataclass
class Device:
    """The device a backend loads onto, the precision chosen there and the memory plan
    (engine.memory.MemoryPlan) its `place` applies."""

    kind: str                 # "cpu", "cuda" or "mps"
    name: str                 # human-readable, recorded in take.json
    probe: DeviceProbe = field(default_factory=DeviceProbe)
    needs: object = None      # engine.memory.BackendNeeds of the backend, or None
    plan: object = None       # engine.memory.MemoryPlan
    dtype_reason: str = ""
    chosen_dtype: str = ""

    @property
    def offload(self):
        return bool(self.plan and self.plan.model_offload)

    @property
    def vae_tiling(self):
        return bool(self.plan and self.plan.vae_tiling)

    @property
    def vae_slicing(self):
        return bool(self.plan and self.plan.vae_slicing)

    def dtype(self, half):
        """The torch dtype to load in, for a backend whose half precision is `half` ("float16"
        or "bfloat16"); the choice and its reason are kept for take.json."""
        import torch

        self.chosen_dtype, self.dtype_reason = choose_dtype(self.kind, half, self.probe, self.needs)
        return getattr(torch, self.chosen_dtype)

    def place(self, pipe):
        """Move a pipeline onto the device under the memory plan."""
        from ..memory import apply_plan

        apply_plan(pipe, self)
        pipe.set_progress_bar_config(disable=True)
        return pipe


def quiet_libraries():
    """Our own progress events replace diffusers/transformers loading bars and chatter."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    for logging in (diffusers_logging, transformers_logging):
        logging.set_verbosity_error()
        logging.disable_progress_bar()


def pick_device(choice="auto", offload=False, vae_tiling=False, vae_slicing=False, memory="auto", backend=None,
                probe=None, models=None):
    """The Device to run `backend` (a name) with its resolved `models` on under --memory `memory`
    (the old --offload and --vae-* switches are added to the plan); also quiets the libraries."""
    from ..memory import needs_of, plan_memory

    if probe is None:
        quiet_libraries()
        probe = probe_torch()
    kind = choose_kind(choice, probe)
    needs = needs_of(backend, models)
    plan = plan_memory(memory, kind, probe, needs, offload=offload, vae_tiling=vae_tiling, vae_slicing=vae_slicing)
    return Device(kind, device_name(kind, probe), probe, needs, plan)
