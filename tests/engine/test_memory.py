"""--memory auto|high|balanced|low: the plan per preset and device from DeviceProbe records, the
needs computed from the parameter counts, and the switches applied to a real (tiny) pipeline."""

import pytest

from engine.backends.device import DeviceProbe, pick_device
from engine.backends.models import resolve_model
from engine.memory import GB, NEEDS, MemoryPlan, apply_plan, needs_of, plan_memory


def gpu(free_gb):
    return DeviceProbe(cuda=True, cuda_name="GPU", cuda_capability=(8, 9), cuda_bf16=True, cuda_free=int(free_gb * GB),
                       cuda_total=int(free_gb * GB), ram_available=64 * 10**9)


def test_needs_fall_from_high_to_low_for_every_backend():
    for needs in NEEDS.values():
        high, balanced, low = (needs.vram(p, needs.half) for p in ("high", "balanced", "low"))
        assert high > balanced > low > 0, needs.backend


def test_wan_vace_needs_at_its_default_size():
    wan = needs_of("wan-vace")
    assert wan.weight_bytes("float32", "text") == pytest.approx(22.7 * GB, rel=0.01)   # UMT5-XXL
    assert wan.vram("high", "bfloat16") / GB == pytest.approx(22.2, abs=0.1)
    assert wan.vram("balanced", "bfloat16") / GB == pytest.approx(11.4, abs=0.1)


@pytest.mark.parametrize("free_gb, preset", [(40, "high"), (16, "balanced"), (8, "low"), (2, "low")])
def test_auto_picks_the_first_preset_the_free_vram_holds(free_gb, preset):
    plan = plan_memory("auto", "cuda", gpu(free_gb), needs_of("wan-vace"))
    assert plan.preset == preset and plan.free_gb == free_gb and plan.needs_gb
    assert ("may run out of memory" in plan.reason) == (free_gb == 2)


def test_each_preset_maps_to_diffusers_switches_on_cuda():
    wan = needs_of("wan-vace")
    high, balanced, low = (plan_memory(p, "cuda", gpu(80), wan) for p in ("high", "balanced", "low"))
    assert not (high.model_offload or high.group_offload or high.vae_tiling or high.layerwise_fp8)
    assert balanced.model_offload and balanced.vae_tiling and balanced.vae_slicing and not balanced.group_offload
    assert low.group_offload and low.layerwise_fp8 and low.vae_tiling and not low.model_offload
    assert high.attention == "native" and high.reason == "as asked"   # no flash-attn or sageattention here


def test_the_old_switches_still_add_their_part():
    plan = plan_memory("high", "cuda", gpu(80), needs_of("animatediff"), offload=True, vae_tiling=True)
    assert plan.model_offload and plan.vae_tiling and not plan.vae_slicing


def test_off_cuda_only_vae_tiling_and_slicing_change():
    for kind, probe in (("mps", DeviceProbe(mps=True, mps_bytes=2 * GB)), ("cpu", DeviceProbe(ram_available=2 * GB))):
        plan = plan_memory("auto", kind, probe, needs_of("animatediff"))
        assert plan.preset == "low" and plan.vae_tiling and plan.vae_slicing
        assert not (plan.model_offload or plan.group_offload or plan.layerwise_fp8)


def test_unknown_backend_and_unknown_memory_run_high():
    assert plan_memory("auto", "cpu", DeviceProbe(ram_available=1), None).reason == "no recorded needs for this backend"
    assert plan_memory("auto", "cuda", DeviceProbe(cuda=True), needs_of("wan-vace")).preset == "high"
    with pytest.raises(ValueError, match="unknown --memory 'tiny'"):
        plan_memory("tiny", "cpu", DeviceProbe(), None)


def test_plans_apply_to_a_real_pipeline(tiny_models):
    """On this CPU: the low preset tiles and slices Wan's VAE; float8 storage (CUDA's low) on the
    transformer keeps its weights in float8_e4m3fn and computes in the load dtype."""
    import torch

    from engine.backends.wan_vace import WanVaceBackend

    backend = WanVaceBackend()
    models = {"pipeline": resolve_model("pipeline", str(tiny_models["pipeline"]))}
    device = pick_device("cpu", memory="low", backend="wan-vace", models=models)
    assert device.needs.parameters() < 10**7   # the tiny weights' own count, not the real model's
    backend.load(models, ["depth"], device)
    assert backend.pipe.vae.use_tiling and backend.pipe.vae.use_slicing and device.chosen_dtype == "float32"
    device.plan = MemoryPlan(preset="low", layerwise_fp8=True)
    apply_plan(backend.pipe, device)
    transformer = backend.pipe.transformer
    assert transformer.blocks[0].attn1.to_q.weight.dtype == torch.float8_e4m3fn
    tokens = torch.zeros(1, 4, transformer.config.text_dim)
    latents = torch.zeros(1, transformer.config.in_channels, 1, 4, 4)
    control = torch.zeros(1, transformer.config.vace_in_channels, 1, 4, 4)
    with torch.no_grad():
        out = transformer(latents, torch.tensor([500]), tokens, control_hidden_states=control, return_dict=False)[0]
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
