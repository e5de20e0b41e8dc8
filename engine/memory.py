"""--memory auto|high|balanced|low: which of diffusers' memory switches a take runs under.

    high      everything on the device, nothing traded
    balanced  model CPU offload (one model on the GPU at a time), VAE tiling and slicing
    low       group offloading by blocks with a CUDA stream prefetching the next, the denoiser's
              weights stored in float8 (e4m3fn) and computed in the backend's precision, VAE tiling
              and slicing
    auto      the first of high, balanced, low whose need fits the free memory of the device

The needs come from each backend's parameter counts (scripts/count_parameters.py, from the
published configs on the meta device) and an estimate of the activations at its default size;
no GPU was lent to measure them. Offloading and float8 storage exist on CUDA only: on MPS and
the CPU the presets differ by VAE tiling and slicing. Torch is imported only in `apply_plan`.
"""

import importlib.util
import json
import struct
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .bundle.request import MEMORY_PRESETS as PRESETS

GB = 1e9
BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float8_e4m3fn": 1}
DENOISERS = ("unet", "transformer", "transformer_2", "controlnet")   # attributes whose weights float8 storage takes
HEADROOM = 0.9   # of the free memory a plan may count on (the CUDA context, fragmentation)


@dataclass(frozen=True)
class Component:
    """One model of a backend's pipeline: its attribute, parameters, the stage it runs in
    (text, denoise, decode), its fixed dtype (None: the backend's) and its offload groups."""

    name: str
    parameters: int
    stage: str
    dtype: str | None = None
    blocks: int = 1


@dataclass(frozen=True)
class BackendNeeds:
    """What a backend's models take: components, half type, MPS type, activations (bytes)
    while denoising and while decoding (whole and in tiles/slices) at `default_size`."""

    backend: str
    components: tuple
    half: str
    mps_dtype: str
    default_size: str
    denoise_bytes: float
    decode_bytes: float
    decode_tiled_bytes: float
    attention_dispatch: bool = False   # its attention goes through diffusers' attention backends

    def parameters(self):
        return sum(part.parameters for part in self.components)

    def scaled(self, parameters):
        """These needs for weights of `parameters` in all (the models actually resolved, e.g. a smaller
        fine-tune or a test's tiny ones), each component scaled alike; activations stay the default size's."""
        if not parameters:
            return self
        ratio = parameters / self.parameters()
        return replace(self, components=tuple(replace(part, parameters=int(part.parameters * ratio))
                                              for part in self.components))

    def weight_bytes(self, dtype, stage=None, fp8=False):
        total = 0
        for part in self.components:
            if stage is not None and part.stage != stage:
                continue
            kind = "float8_e4m3fn" if fp8 and part.name in DENOISERS else part.dtype or dtype
            total += part.parameters * BYTES[kind]
        return total

    def vram(self, preset, dtype):
        """Bytes the device needs under `preset` (high, balanced, low) with weights in `dtype`."""
        if preset == "high":
            return self.weight_bytes(dtype) + max(self.denoise_bytes, self.decode_bytes)
        if preset == "balanced":
            stages = [self.weight_bytes(dtype, "text"), self.weight_bytes(dtype, "denoise") + self.denoise_bytes,
                      self.weight_bytes(dtype, "decode") + self.decode_tiled_bytes]
            return max(stages)
        # low: two groups of the largest offloaded model resident (one computing, one arriving on the stream);
        # the VAE is not group-offloaded (apply_plan excludes it) and counts whole below
        group = max(part.parameters * BYTES[part.dtype or ("float8_e4m3fn" if part.name in DENOISERS else dtype)]
                    / part.blocks for part in self.components if part.stage != "decode")
        return 2 * group + self.weight_bytes(dtype, "decode") + max(self.denoise_bytes, self.decode_tiled_bytes)


# Parameter counts: scripts/count_parameters.py over ../shared/reference/real-size (the published configs).
# Activations: estimated from the largest tensors alive at the default size, not measured.
NEEDS = {
    "animatediff": BackendNeeds(
        "animatediff",
        (Component("text_encoder", 123_060_480, "text"),
         Component("unet", 859_520_964 + 417_137_600, "denoise", blocks=9),   # UNet + its motion modules
         Component("controlnet", 2 * 361_279_120, "denoise", blocks=12),      # depth and pose
         Component("vae", 83_653_863, "decode")),
        half="float16", mps_dtype="float16", default_size="512x288, 16 frames",
        # 2 (guidance) x 16 frames through the UNet at 64x36 latents; the VAE decodes 16 frames at once, each
        # ~0.23 GB of 128-channel 512x288 float16 activations, one frame at a time when sliced.
        denoise_bytes=1.5 * GB, decode_bytes=3.7 * GB, decode_tiled_bytes=0.4 * GB),
    "wan-vace": BackendNeeds(
        "wan-vace",
        (Component("text_encoder", 5_680_910_336, "text", blocks=24),
         Component("transformer", 2_153_972_032, "denoise", blocks=30),
         Component("vae", 126_892_531, "decode", dtype="float32")),
        # float16 overflows in Wan's transformer; MPS runs it in float32.
        half="bfloat16", mps_dtype="float32", default_size="832x464, 81 frames",
        # 32,760 tokens x 1536 wide, feed-forward 8960 wide, one pass per guidance branch; the float32 VAE
        # decodes 81 frames four at a time with its causal cache.
        denoise_bytes=2.0 * GB, decode_bytes=6.0 * GB, decode_tiled_bytes=1.5 * GB, attention_dispatch=True),
    "wan22-vace": BackendNeeds(
        "wan22-vace",
        # tests/engine/real_configs/Wan2.2-VACE-Fun-14B-diffusers on the meta device (test_real_configs_wan22).
        # Both experts are stored; one runs at a time (high noise, then low noise). high keeps both on the
        # device; balanced's model offload holds one (the low-noise expert's own stage is never counted beside
        # the high-noise one, the same size); low streams blocks of whichever runs (both in DENOISERS: float8).
        (Component("text_encoder", 5_680_910_336, "text", blocks=24),
         Component("transformer", 17_337_592_896, "denoise", blocks=40),
         Component("transformer_2", 17_337_592_896, "denoise_low_noise", blocks=40),
         Component("vae", 126_892_531, "decode", dtype="float32")),
        half="bfloat16", mps_dtype="float32", default_size="832x464, 81 frames",
        # wan-vace's estimate scaled to a 5120-wide model (feed-forward 13824): 32,760 tokens; the same VAE.
        denoise_bytes=7.0 * GB, decode_bytes=6.0 * GB, decode_tiled_bytes=1.5 * GB, attention_dispatch=True),
    "sana-wm": BackendNeeds(
        "sana-wm",
        # scripts/count_parameters.py over the SANA-WM configs reconstructed in tests/engine/real_configs/
        # (Gemma-2-2B, the 2.66 B DiT, the LTX-2 VAE): the published files could not be read here.
        (Component("text_encoder", 2_614_341_888, "text", blocks=26),
         Component("transformer", 2_661_800_448, "denoise", blocks=20),
         Component("vae", 1_222_479_601, "decode")),
        # Trained in bfloat16; untried on Apple GPUs, where float32 is the safe choice.
        half="bfloat16", mps_dtype="float32", default_size="1280x704, 161 frames",
        # 21 latent frames x 40x22 = 18,480 tokens x 2240 wide, attention in float32, GLU feed-forward 6720
        # wide, two guidance branches; the LTX-2 VAE's last level is 128 channels at 1280x704 for 161 frames
        # (~37 GB in bfloat16 at once), a few GB in its spatial and temporal tiles. Estimates, not measured.
        denoise_bytes=3.0 * GB, decode_bytes=30.0 * GB, decode_tiled_bytes=2.5 * GB),
    "ltx2-ic": BackendNeeds(
        "ltx2-ic",
        # Counted on the meta device from the LTX-2.3 configs reconstructed in tests/engine/real_configs/
        # (diffusers' conversion script, version 2.3): Gemma 3 12B (lm_head tied), the 19.0 B transformer, its
        # 3.2 B text connectors (22.2 B together: the "22b"), the rank-64 IC-LoRA on its 48 video blocks.
        # The audio VAE and vocoder are loaded but never run (the soundtrack is not decoded).
        (Component("text_encoder", 12_187_325_040, "text", blocks=48),
         Component("connectors", 3_172_227_584, "text", blocks=8),
         Component("transformer", 18_988_838_144 + 327_155_712, "denoise", blocks=48),
         Component("vae", 726_105_969, "decode"),
         Component("audio_vae", 53_248_146, "audio"),
         Component("vocoder", 128_537_448, "audio")),
        # Published in bfloat16; untried on Apple GPUs (float32 would need 140 GB), so bfloat16 there too.
        half="bfloat16", mps_dtype="bfloat16", default_size="768x448, 121 frames",
        # 16 latent frames x 14x24 = 5,376 tokens plus the half-size control's 1,344, 4096 wide, feed-forward
        # 16,384 wide, two guidance branches and the STG and modality passes in turn; the VAE decodes 121
        # frames at 768x448 with 256 channels at a quarter of that size (~1.3 GB a tensor in bfloat16), a
        # few hundred MB in tiles. Estimates, not measured.
        denoise_bytes=3.0 * GB, decode_bytes=8.0 * GB, decode_tiled_bytes=1.5 * GB, attention_dispatch=True),
}


def needs_of(backend, models=None):
    """The BackendNeeds of a backend name, or None (previz, plug-ins: nothing recorded); with its
    resolved `models` (role -> ResolvedModel) scaled to the parameters their files hold."""
    needs = NEEDS.get(backend)
    if needs is None or not models:
        return needs
    return needs.scaled(sum(safetensors_parameters(model.path) for model in models.values()))


def safetensors_parameters(folder):
    """Parameters in the .safetensors files under `folder`, from their headers alone (no weights read)."""
    total = 0
    for path in sorted(Path(folder).rglob("*.safetensors")):
        try:
            with open(path, "rb") as handle:
                header = json.loads(handle.read(struct.unpack("<Q", handle.read(8))[0]))
        except (OSError, ValueError, struct.error):
            continue
        for name, entry in header.items():
            if name != "__metadata__":
                count = 1
                for size in entry.get("shape", ()):
                    count *= size
                total += count
    return total


WHY = ("reason", "free_gb", "needs_gb")


@dataclass
class MemoryPlan:
    """The switches a take runs under, with the preset asked, the one chosen and why."""

    asked: str = "auto"
    preset: str = "high"
    reason: str = ""
    model_offload: bool = False
    group_offload: bool = False
    vae_tiling: bool = False
    vae_slicing: bool = False
    layerwise_fp8: bool = False
    attention: str = "native"
    free_gb: float | None = None
    needs_gb: float | None = None

    def to_json(self):
        """What take.json's parameters keep: the preset and the switches (the same request on the same
        kind of machine gives the same ones)."""
        return {k: v for k, v in asdict(self).items() if k not in WHY}

    def why_json(self):
        """What take.json's device keeps: the free memory found, the need reckoned and the reason."""
        return {k: v for k, v in asdict(self).items() if k in WHY}


def best_attention():
    """The fastest attention backend installed (never one diffusers would download a kernel for)."""
    for package, name in (("flash_attn", "flash"), ("sageattention", "sage")):
        if importlib.util.find_spec(package) is not None:
            return name
    return "native"


def plan_memory(asked, kind, probe, needs, offload=False, vae_tiling=False, vae_slicing=False, dtype=None):
    """The MemoryPlan for --memory `asked` on device `kind` (probe: engine.backends.device.DeviceProbe,
    needs: BackendNeeds or None); --offload, --vae-tiling and --vae-slicing add their switch."""
    if asked not in PRESETS:
        raise ValueError(f"unknown --memory {asked!r}: use {', '.join(PRESETS)}")
    free = probe.free_bytes(kind)
    plan = MemoryPlan(asked=asked, free_gb=round(free / GB, 2) if free else None)
    if dtype is None and needs is not None:
        from .backends.device import choose_dtype

        dtype = choose_dtype(kind, needs.half, probe, needs)[0]
    if asked != "auto":
        plan.preset, plan.reason = asked, "as asked"
    elif needs is None:
        plan.preset, plan.reason = "high", "no recorded needs for this backend"
    elif not free:
        plan.preset, plan.reason = "high", f"the free memory of {kind} is unknown"
    else:
        fitting = [p for p in ("high", "balanced", "low") if needs.vram(p, dtype) <= free * HEADROOM]
        plan.preset = fitting[0] if fitting else "low"
        plan.reason = (f"needs {needs.vram(plan.preset, dtype) / GB:.1f} GB, {free / GB:.1f} GB free"
                       + ("" if fitting else ": less than even low needs, it may run out of memory"))
    if needs is not None and dtype is not None:
        plan.needs_gb = round(needs.vram(plan.preset, dtype) / GB, 2)
    lower = plan.preset != "high"
    plan.vae_tiling, plan.vae_slicing = lower or vae_tiling, lower or vae_slicing
    if kind == "cuda":
        plan.model_offload = plan.preset == "balanced" or (offload and plan.preset == "high")
        plan.group_offload = plan.layerwise_fp8 = plan.preset == "low"
        if needs is not None and needs.attention_dispatch:
            plan.attention = best_attention()
    return plan


def apply_plan(pipe, device):
    """Place `pipe` on `device` (engine.backends.device.Device) under its memory plan."""
    import torch

    plan, kind = device.plan or MemoryPlan(), device.kind
    if plan.layerwise_fp8:
        compute = getattr(torch, device.chosen_dtype) if device.chosen_dtype else None
        for name in DENOISERS:
            model = getattr(pipe, name, None)
            if hasattr(model, "enable_layerwise_casting"):
                model.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=compute)
    if plan.group_offload:
        pipe.enable_group_offload(onload_device=torch.device(kind), offload_type="block_level",
                                  num_blocks_per_group=1, use_stream=True, exclude_modules=["vae"])
    elif plan.model_offload:
        pipe.enable_model_cpu_offload(device=kind)
    else:
        pipe.to(kind)
    vae = getattr(pipe, "vae", None)
    if plan.vae_tiling and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    if plan.vae_slicing and hasattr(vae, "enable_slicing"):
        vae.enable_slicing()
    if plan.attention != "native":
        for name in DENOISERS:
            model = getattr(pipe, name, None)
            if hasattr(model, "set_attention_backend"):
                model.set_attention_backend(plan.attention)
    return pipe
