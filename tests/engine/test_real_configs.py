"""The diffusion backends against the published checkpoints' exact configurations.

Method (no download, no memory): tests/engine/real_configs/ holds the hub repositories'
non-weight files as the repositories lay them out; real_checkpoints.write_hub_folder adds
weight files with the real file names, tensor names and shapes, written sparse (a real
header, a hole for the data) in the dtype the backend loads, so safetensors maps them and
nothing is read. The backend's own `load` then runs, unchanged, over those folders (the
same `from_pretrained` calls a real download meets) inside accelerate's
`init_empty_weights()` and onto a meta Device: the modules diffusers builds while loading
(AnimateDiff's UNetMotionModel) are created empty, and placement moves everything to meta.
What that proves: the folder layout, file names, every tensor name and shape and the
config classes the engine asks for match the published repositories, at their real
sizes (AnimateDiff's 2.2 B parameters, Wan's 8 B) in well under a gigabyte.

The tiny fixtures (engine/random_models.py) are checked to be these configs scaled down, and
the AnimateDiff fixes (FreeNoise with the v1-5-3 adapter, ControlNet offloading, no second
copy of the adapter) are exercised on them. The real-size CPU smoke lives in
test_real_size_smoke.py.
"""

import json
import resource
import warnings

import pytest
import torch
from accelerate import init_empty_weights

from engine.backends.animatediff import AdapterSettings, AnimateDiffBackend, disable_free_noise
from engine.backends.base import Hooks, Request
from engine.backends.models import ResolvedModel
from engine.backends.wan_vace import WanVaceBackend
from real_checkpoints import REAL_CONFIGS, meta_device, write_hub_folder

# Real-size checks (minutes of meta-device loads): the slow step runs them (scripts/test.sh, .ci/run-slow).
pytestmark = pytest.mark.slow

SD15, ADAPTER = "stable-diffusion-v1-5", "animatediff-motion-adapter-v1-5-3"
DEPTH, POSE, WAN = "control_v11f1p_sd15_depth", "control_v11p_sd15_openpose", "Wan2.1-VACE-1.3B-diffusers"
# Published parameter counts, in millions (shared/reference/real-size/README.md).
PUBLISHED_M = {"unet": 859.5, "vae": 83.7, "text_encoder": 123.1, "controlnet": 361.3, "motion_adapter": 417.1,
               "wan_transformer": 2154.0, "wan_vae": 126.9, "umt5_xxl": 5680.9}


def millions(module):
    return sum(parameter.numel() for parameter in module.parameters()) / 1e6


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def load_on_meta(backend, models, controls):
    device = meta_device()
    with warnings.catch_warnings(), init_empty_weights():
        warnings.simplefilter("ignore")  # torch's "copying into a meta parameter is a no-op", once per tensor
        backend.load({role: ResolvedModel(role, str(path), path) for role, path in models.items()}, controls, device)
    return backend.pipe


@pytest.fixture(scope="module")
def animatediff_meta(tmp_path_factory):
    root, half = tmp_path_factory.mktemp("hub-animatediff"), "float16"
    before = peak_rss_gb()
    models = {"base": root / SD15, "motion_adapter": root / ADAPTER,
              "controlnet_depth": root / DEPTH, "controlnet_pose": root / POSE}
    write_hub_folder(SD15, models["base"], {"unet": half, "vae": half, "text_encoder": half})
    for repo, role in ((ADAPTER, "motion_adapter"), (DEPTH, "controlnet_depth"), (POSE, "controlnet_pose")):
        write_hub_folder(repo, models[role], {"": half})
    backend = AnimateDiffBackend()
    pipe = load_on_meta(backend, models, ["depth", "pose"])
    return backend, pipe, peak_rss_gb() - before


def test_animatediff_loads_the_published_checkpoints_at_their_real_sizes(animatediff_meta):
    backend, pipe, rss_growth = animatediff_meta
    assert type(pipe.unet).__name__ == "UNetMotionModel" and len(pipe.controlnet.nets) == 2
    assert millions(pipe.unet) == pytest.approx(PUBLISHED_M["unet"] + PUBLISHED_M["motion_adapter"], rel=2e-3)
    for net in pipe.controlnet.nets:
        assert millions(net) == pytest.approx(PUBLISHED_M["controlnet"], rel=1e-3)
    assert millions(pipe.vae) == pytest.approx(PUBLISHED_M["vae"], rel=1e-3)
    assert millions(pipe.text_encoder) == pytest.approx(PUBLISHED_M["text_encoder"], rel=1e-3)
    assert {p.device.type for p in pipe.unet.parameters()} == {"meta"}
    assert rss_growth < 1.5, f"loading on meta grew the peak RSS by {rss_growth:.1f} GB"
    # The scheduler comes from SD 1.5's PNDM config, switched to DDIM with AnimateDiff's settings.
    sd_scheduler = json.loads((REAL_CONFIGS / SD15 / "scheduler" / "scheduler_config.json").read_text())
    config = pipe.scheduler.config
    assert backend.settings["scheduler"] == "DDIMScheduler" and config.beta_schedule == "linear"
    assert (config.beta_start, config.beta_end) == (sd_scheduler["beta_start"], sd_scheduler["beta_end"])
    assert config.clip_sample is False and config.steps_offset == 1 and config.timestep_spacing == "linspace"
    tokens = pipe.tokenizer("a red car").input_ids
    assert (tokens[0], tokens[-1], pipe.text_encoder.config.vocab_size) == (49406, 49407, 49408)


def test_animatediff_holds_one_copy_of_the_motion_modules(animatediff_meta):
    _backend, pipe, _rss = animatediff_meta
    assert isinstance(pipe.motion_adapter, AdapterSettings)  # config only: nothing to move or offload
    assert pipe.motion_adapter.config.motion_max_seq_length == 32
    modules = [m for m in pipe.components.values() if isinstance(m, torch.nn.Module)]
    assert sum(millions(m) for m in modules) == pytest.approx(sum(
        PUBLISHED_M[k] for k in ("unet", "motion_adapter", "vae", "text_encoder")) + 2 * PUBLISHED_M["controlnet"],
        rel=2e-3)


def test_freenoise_switches_off_again_with_the_v1_5_3_adapter(animatediff_meta):
    """v1-5-3 has no mid-block motion module: diffusers 0.42.1's own disable_free_noise()
    fails on it, so every shot of 16 frames or fewer failed; ours restores the blocks."""
    from diffusers.models.attention import BasicTransformerBlock

    _backend, pipe, _rss = animatediff_meta
    assert getattr(pipe.unet.mid_block, "motion_modules", None) is None
    disable_free_noise(pipe)  # never enabled: nothing to do
    pipe.enable_free_noise(context_length=16, context_stride=4)
    disable_free_noise(pipe)
    assert not pipe.free_noise_enabled
    blocks = [b for block in (*pipe.unet.down_blocks, *pipe.unet.up_blocks) for m in block.motion_modules
              for b in m.transformer_blocks]
    assert blocks and all(type(b) is BasicTransformerBlock for b in blocks)


def test_wan_vace_loads_the_published_checkpoint_at_its_real_size(tmp_path):
    folder = tmp_path / WAN
    before = peak_rss_gb()
    counts = write_hub_folder(WAN, folder, {"transformer": "bfloat16", "vae": "float32", "text_encoder": "bfloat16"})
    backend = WanVaceBackend()
    pipe = load_on_meta(backend, {"pipeline": folder}, ["depth"])
    assert peak_rss_gb() - before < 1.5
    assert counts["text_encoder"] / 1e6 == pytest.approx(PUBLISHED_M["umt5_xxl"], rel=1e-3)
    assert millions(pipe.transformer) == pytest.approx(PUBLISHED_M["wan_transformer"], rel=1e-3)
    assert millions(pipe.vae) == pytest.approx(PUBLISHED_M["wan_vae"], rel=1e-3)
    assert {p.dtype for p in pipe.vae.parameters()} == {torch.float32}
    assert pipe.text_encoder.dtype == torch.bfloat16
    assert backend.settings["scheduler"] == "UniPCMultistepScheduler" and pipe.scheduler.config.flow_shift == 3.0
    assert pipe.tokenizer("a red car").input_ids[-1] == pipe.tokenizer.eos_token_id == 1  # T5 ends prompts with </s>


def _config(folder, name="config.json"):
    return json.loads((folder / name).read_text())


def test_tiny_fixtures_are_the_published_configs_scaled_down(tiny_models):
    """Same classes, scheduler settings, token ids and flags; only the sizes differ."""
    sizes = ("block_out_channels", "cross_attention_dim", "attention_head_dim", "norm_num_groups", "sample_size",
             "conditioning_embedding_out_channels", "motion_norm_num_groups", "motion_num_attention_heads",
             "hidden_size", "intermediate_size", "num_attention_heads", "num_hidden_layers", "projection_dim",
             "d_model", "d_kv", "d_ff", "num_heads", "num_layers", "num_decoder_layers", "vocab_size",
             "base_dim", "dim_mult", "num_res_blocks", "ffn_dim", "text_dim", "rope_max_seq_len", "vace_layers",
             "layers_per_block", "_diffusers_version", "transformers_version", "_name_or_path", "dtype",
             "architectures", "use_cache", "is_encoder_decoder", "num_image_text_embeds", "latents_mean",
             "latents_std", "boundary_ratio", "down_block_types", "up_block_types",  # levels: sizes too
             "tie_word_embeddings", "scale_decoder_outputs")  # transformers 5 rewrites these for every T5 on load
    pairs = [(tiny_models["base"], REAL_CONFIGS / SD15, part) for part in ("unet", "vae", "text_encoder")]
    pairs += [(tiny_models["pipeline"], REAL_CONFIGS / WAN, part) for part in ("transformer", "vae", "text_encoder")]
    pairs += [(tiny_models["motion_adapter"], REAL_CONFIGS / ADAPTER, ""),
              (tiny_models["controlnet_depth"], REAL_CONFIGS / DEPTH, "")]
    for tiny, real, part in pairs:
        mine, theirs = _config(tiny / part), _config(real / part)
        differ = {k: (mine.get(k), theirs[k]) for k in theirs if k not in sizes and mine.get(k, theirs[k]) != theirs[k]}
        assert not differ, f"{tiny / part} differs from {real / part}: {differ}"
    for tiny, real in ((tiny_models["base"], REAL_CONFIGS / SD15), (tiny_models["pipeline"], REAL_CONFIGS / WAN)):
        ours, published = _config(tiny / "scheduler", "scheduler_config.json"), \
            _config(real / "scheduler", "scheduler_config.json")
        assert ours["_class_name"] == published["_class_name"]
        assert {k: v for k, v in ours.items() if not k.startswith("_") and published.get(k, v) != v} == {}
        index, real_index = _config(tiny, "model_index.json"), _config(real, "model_index.json")
        for name in ("scheduler", "text_encoder", "unet", "vae", "transformer"):
            assert index.get(name) == real_index.get(name), name


def _request(num_frames, size=64):
    from PIL import Image

    frame = Image.new("RGB", (size, size), (90, 90, 90))
    return Request(prompt="a red car", negative_prompt="", seed=1, steps=1, guidance=1.0,
                   weights={"depth": 1.0}, controls={"depth": [frame] * num_frames}, num_frames=num_frames,
                   width=size, height=size)


@pytest.fixture(scope="module")
def tiny_animatediff(tiny_models):
    from engine.backends.device import Device

    backend = AnimateDiffBackend()
    models = {role: ResolvedModel(role, str(tiny_models[role]), tiny_models[role])
              for role in ("base", "motion_adapter", "controlnet_depth")}
    backend.load(models, ["depth"], Device("cpu", "cpu"))
    return backend


def test_short_shots_after_a_long_one_with_the_v1_5_3_layout(tiny_animatediff):
    for frames in (8, 17, 8):
        assert tiny_animatediff.generate(_request(frames), Hooks()).shape == (frames, 64, 64, 3)


def test_offload_swaps_the_controlnets_and_the_unet(tiny_animatediff):
    """Under model CPU offload the ControlNets are in the chain before the UNet (whose hook
    sends them back), and they send the UNet back before they run. Checked on a CPU, where
    the hooks are placed as on a GPU; a take still runs through them."""
    from engine.backends.animatediff import swap_controlnet_with_unet

    pipe = tiny_animatediff.pipe
    pipe.enable_model_cpu_offload(device="cpu")
    swap_controlnet_with_unet(pipe)
    hooks = {type(hook.model).__name__: hook for hook in pipe._all_hooks}
    assert set(hooks) == {"CLIPTextModel", "MultiControlNetModel", "UNetMotionModel", "AutoencoderKL"}
    assert hooks["UNetMotionModel"].hook.prev_module_hook is hooks["MultiControlNetModel"]
    assert hooks["MultiControlNetModel"].hook.prev_module_hook is hooks["CLIPTextModel"]
    assert len(pipe.controlnet._forward_pre_hooks) == 1
    assert tiny_animatediff.generate(_request(4), Hooks()).shape == (4, 64, 64, 3)
