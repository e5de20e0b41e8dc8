"""ltx2-ic against LTX-2.3's real-size configurations, on the meta device (see test_real_configs.py
for the method: sparse weight files with the real tensor names and shapes, the backend's own
`load` inside accelerate's init_empty_weights, no download, no memory).

tests/engine/real_configs/LTX-2.3-Diffusers was reconstructed, not copied (the hub could not be
reached): every component's config is what diffusers' scripts/convert_ltx2_to_diffusers.py writes
for `--version 2.3` (get_ltx2_transformer_config, get_ltx2_connectors_config,
get_ltx2_video_vae_config, get_ltx2_audio_vae_config, get_ltx2_vocoder_config and its
non-distilled FlowMatchEulerDiscreteScheduler), filled in with the classes' defaults; the model
index names the classes that script's LTX2Pipeline saves; the text encoder is gemma-3-12b's
published config (the script's default text encoder). Its tokenizer folder keeps the settings
only: the tests write a small vocabulary (the real one is 33 MB). The IC-LoRA is written here in
the layout the published file's size implies (rank 64 on the 48 video blocks' attention and
feed-forward layers, bfloat16: 654.3 MB of tensors against the file's 654.5 MB).
"""

import json
import math
import warnings

import pytest
from accelerate import init_empty_weights

from engine.backends.ltx2_ic import LORA_FILE, Ltx2IcBackend
from engine.backends.models import ResolvedModel
from engine.random_models import gemma_style_tokenizer
from engine.random_models_ltx2 import LORA_TARGETS
from real_checkpoints import REAL_CONFIGS, empty_model, meta_device, write_hub_folder, write_sparse_safetensors

pytestmark = pytest.mark.slow

LTX = "LTX-2.3-Diffusers"
PUBLISHED_LORA_BYTES = 654_465_352   # ltx-2.3-22b-ic-lora-union-control-ref0.5.safetensors, as the hub lists it
# Parameter counts (millions) from these configs, checked against the names: "22b" = transformer + connectors.
EXPECTED_M = {"transformer": 18988.8, "connectors": 3172.2, "vae": 726.1, "audio_vae": 53.2, "vocoder": 128.5,
              "text_encoder": 12187.3}


def millions(module):
    return sum(parameter.numel() for parameter in module.parameters()) / 1e6


def module_shapes(module):
    return {name: tuple(tensor.shape) for name, tensor in module.state_dict().items()}


def write_ltx_folder(folder):
    """The hub folder with sparse bfloat16 weights for every component (the `ltx2` library's connectors and
    vocoder built here, since real_checkpoints builds diffusers and transformers classes only)."""
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2VocoderWithBWE

    counts = write_hub_folder(LTX, folder, {name: "bfloat16" for name in ("vae", "audio_vae")})
    for name, cls in (("connectors", LTX2TextConnectors), ("vocoder", LTX2VocoderWithBWE)):
        with init_empty_weights():
            model = cls.from_config(cls.load_config(folder / name))
        write_sparse_safetensors(folder / name / "diffusion_pytorch_model.safetensors", module_shapes(model),
                                 "bfloat16")
    # The two large models in 5 GB shards with an index, as the conversion script saves them (max_shard_size="5GB").
    transformer = empty_model("diffusers", "LTX2VideoTransformer3DModel", folder / "transformer")
    write_shards(folder / "transformer", "diffusion_pytorch_model", module_shapes(transformer))
    gemma = empty_model("transformers", "Gemma3ForConditionalGeneration", folder / "text_encoder")
    tied = getattr(gemma, "_tied_weights_keys", None) or {}
    shapes = {name: shape for name, shape in module_shapes(gemma).items() if name not in tied}
    write_shards(folder / "text_encoder", "model", shapes)
    counts["text_encoder"] = sum(math.prod(shape) for shape in shapes.values())
    gemma_style_tokenizer().backend_tokenizer.save(str(folder / "tokenizer" / "tokenizer.json"))
    return counts


def write_shards(folder, stem, shapes, shard_bytes=5e9):
    """Sparse bfloat16 shards STEM-0000k-of-0000n.safetensors and STEM.safetensors.index.json."""
    shards, size = [{}], 0
    for name, shape in sorted(shapes.items()):
        tensor_bytes = 2 * math.prod(shape)
        if size + tensor_bytes > shard_bytes and shards[-1]:
            shards.append({})
            size = 0
        shards[-1][name] = shape
        size += tensor_bytes
    weight_map = {}
    for number, shard in enumerate(shards, 1):
        file = f"{stem}-{number:05d}-of-{len(shards):05d}.safetensors"
        write_sparse_safetensors(folder / file, shard, "bfloat16")
        weight_map.update(dict.fromkeys(shard, file))
    total = sum(2 * math.prod(shape) for shape in shapes.values())
    (folder / f"{stem}.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=1))


def write_lora(folder, transformer, rank=64):
    """The IC-LoRA in LTX's key layout at the published rank; returns the bytes of its tensors."""
    shapes = {}
    for index, block in enumerate(transformer.transformer_blocks):
        for target in LORA_TARGETS:
            linear = block.get_submodule(target)
            key = f"diffusion_model.transformer_blocks.{index}.{target}"
            shapes[f"{key}.lora_A.weight"] = (rank, linear.in_features)
            shapes[f"{key}.lora_B.weight"] = (linear.out_features, rank)
    folder.mkdir(parents=True, exist_ok=True)
    write_sparse_safetensors(folder / LORA_FILE, shapes, "bfloat16")
    return 2 * sum(a * b for a, b in shapes.values())


@pytest.fixture(scope="module")
def ltx_meta(tmp_path_factory):
    import diffusers

    root = tmp_path_factory.mktemp("hub-ltx2")
    pipeline, lora = root / LTX, root / "LTX-2.3-22b-IC-LoRA-Union-Control"
    counts = write_ltx_folder(pipeline)
    with init_empty_weights():
        cls = diffusers.LTX2VideoTransformer3DModel
        lora_bytes = write_lora(lora, cls.from_config(cls.load_config(pipeline / "transformer")))
    backend = Ltx2IcBackend()
    with warnings.catch_warnings(), init_empty_weights():
        warnings.simplefilter("ignore")
        backend.load({"pipeline": ResolvedModel("pipeline", str(pipeline), pipeline),
                      "ic_lora": ResolvedModel("ic_lora", str(lora), lora)}, ["depth"], meta_device())
    return backend, counts, lora_bytes


def test_ltx2_ic_loads_the_reconstructed_checkpoint_and_lora_at_their_real_sizes(ltx_meta):
    import torch

    backend, counts, lora_bytes = ltx_meta
    pipe = backend.pipe
    base = {name: millions(getattr(pipe, name)) for name in EXPECTED_M if name not in ("transformer", "text_encoder")}
    base["text_encoder"] = millions(pipe.text_encoder.model)  # without lm_head: tied to the embedding once loaded
    lora = sum(p.numel() for name, p in pipe.transformer.named_parameters() if "lora_" in name)
    base["transformer"] = millions(pipe.transformer) - lora / 1e6
    assert base == pytest.approx(EXPECTED_M, rel=1e-3)
    assert counts["text_encoder"] / 1e6 == pytest.approx(EXPECTED_M["text_encoder"], rel=1e-3)  # one embedding
    assert (base["transformer"] + base["connectors"]) / 1e3 == pytest.approx(22.2, abs=0.05)    # the "22b"
    # The LoRA's layout at rank 64 is the published file's size, and every tensor found its layer.
    assert lora == lora_bytes // 2 and abs(PUBLISHED_LORA_BYTES - lora_bytes) < 0.001 * PUBLISHED_LORA_BYTES
    assert backend.downscale == 2 and backend.settings["ic_lora"] == LORA_FILE
    assert pipe.transformer.dtype == torch.bfloat16 and pipe.text_encoder.dtype == torch.bfloat16
    assert (pipe.vae_spatial_compression_ratio, pipe.vae_temporal_compression_ratio) == (32, 8)
    assert pipe.scheduler.config.use_dynamic_shifting and pipe.scheduler.config.shift_terminal == 0.1


def _config(folder, name="config.json"):
    return json.loads((folder / name).read_text())


def test_tiny_fixture_is_the_reconstructed_config_scaled_down(ltx2_models):
    """The same classes and flags; only widths, depths and the channels that follow them differ."""
    sizes = {"num_attention_heads", "attention_head_dim", "cross_attention_dim", "audio_num_attention_heads",
             "audio_attention_head_dim", "audio_cross_attention_dim", "num_layers", "caption_channels", "in_channels",
             "out_channels", "audio_in_channels", "audio_out_channels", "video_connector_num_attention_heads",
             "video_connector_attention_head_dim", "video_connector_num_layers",
             "video_connector_num_learnable_registers",
             "audio_connector_num_attention_heads", "audio_connector_attention_head_dim", "audio_connector_num_layers",
             "audio_connector_num_learnable_registers", "text_proj_in_factor", "video_hidden_dim", "audio_hidden_dim",
             "latent_channels", "block_out_channels", "decoder_block_out_channels", "layers_per_block",
             "decoder_layers_per_block", "base_channels", "num_res_blocks", "hidden_channels", "bwe_in_channels",
             "bwe_hidden_channels", "_diffusers_version"}
    tiny, real = ltx2_models["pipeline"], REAL_CONFIGS / LTX
    for part in ("transformer", "connectors", "vae", "audio_vae", "vocoder"):
        mine, theirs = _config(tiny / part), _config(real / part)
        differ = {k: (mine.get(k), theirs[k]) for k in theirs if k not in sizes and mine.get(k) != theirs[k]}
        assert not differ, f"{part}: {differ}"
    assert _config(tiny / "scheduler", "scheduler_config.json") | {"_diffusers_version": None} == \
        _config(real / "scheduler", "scheduler_config.json") | {"_diffusers_version": None}
    assert {k: v for k, v in _config(tiny, "model_index.json").items() if k != "_diffusers_version"} == \
        {k: v for k, v in _config(real, "model_index.json").items() if k != "_diffusers_version"}
    text, published = _config(tiny / "text_encoder"), _config(real / "text_encoder")
    assert (text["architectures"], text["model_type"]) == (published["architectures"], published["model_type"])
    assert text["text_config"]["model_type"] == published["text_config"]["model_type"] == "gemma3_text"
