"""Random-weight LTX-2.3 pipeline and IC-LoRA, saved like the hub repositories.

`save_ltx2_models` writes a folder laid out as diffusers/LTX-2.3-Diffusers (model_index.json
naming LTX2Pipeline, one subfolder per component) and one laid out as
Lightricks/LTX-2.3-22b-IC-LoRA-Union-Control (one LoRA safetensors named with its reference
scale, in the original LTX trainer's key layout: `diffusion_model.transformer_blocks.N.
{attn1,attn2}.{to_q,to_k,to_v,to_out.0}` and `ff.net.{0.proj,2}`, `lora_A`/`lora_B`), so the
backend loads them through `from_pretrained` and `load_lora_weights` exactly as the real ones.

The configurations are LTX-2.3's as diffusers' conversion script (scripts/convert_ltx2_to_
diffusers.py, version "2.3") writes them, with the widths and depths cut down and nothing else
changed: the same classes and flags (gated attention, cross-attention modulation, per-modality
connector projections, split RoPE, the 32x spatial / 8x temporal video VAE with patch size 4,
the BWE vocoder), the scheduler with the script's non-distilled settings, and a Gemma 3 text
encoder (hidden states of every layer feed the connectors) with a Gemma-style BPE tokenizer
(<pad> 0, <eos> 1, <bos> 2, left padding) built offline from a character vocabulary.
"""

import json
from pathlib import Path

from .backends.device import quiet_libraries
from .random_models import gemma_style_tokenizer

LORA_FILE = "ltx-2.3-22b-ic-lora-union-control-ref0.5.safetensors"
LORA_RANK = {"tiny": 4}
LORA_TARGETS = ("attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0",
                "attn2.to_q", "attn2.to_k", "attn2.to_v", "attn2.to_out.0", "ff.net.0.proj", "ff.net.2")

# LTX-2.3's flags (convert_ltx2_to_diffusers.py, get_*_config("2.3")); the sizes are TINY's below.
TRANSFORMER_FLAGS = dict(patch_size=1, patch_size_t=1, vae_scale_factors=(8, 32, 32), pos_embed_max_pos=20,
                         base_height=2048, base_width=2048, gated_attn=True, cross_attn_mod=True,
                         audio_patch_size=1, audio_patch_size_t=1, audio_scale_factor=4, audio_pos_embed_max_pos=20,
                         audio_sampling_rate=16000, audio_hop_length=160, audio_gated_attn=True,
                         audio_cross_attn_mod=True, activation_fn="gelu-approximate", qk_norm="rms_norm_across_heads",
                         norm_elementwise_affine=False, norm_eps=1e-6, attention_bias=True, attention_out_bias=True,
                         rope_theta=10000.0, rope_double_precision=True, causal_offset=1,
                         timestep_scale_multiplier=1000, cross_attn_timestep_scale_multiplier=1000,
                         rope_type="split", use_prompt_embeddings=False, perturbed_attn=True)
CONNECTOR_FLAGS = dict(video_gated_attn=True, audio_gated_attn=True, connector_rope_base_seq_len=4096,
                       rope_theta=10000.0, rope_double_precision=True, causal_temporal_positioning=False,
                       rope_type="split", per_modality_projections=True, proj_bias=True)
VAE_FLAGS = dict(in_channels=3, out_channels=3, down_block_types=("LTX2VideoDownBlock3D",) * 4,
                 spatio_temporal_scaling=(True,) * 4, decoder_spatio_temporal_scaling=(True,) * 4,
                 decoder_inject_noise=(False,) * 5,
                 downsample_type=("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
                 upsample_type=("spatiotemporal", "spatiotemporal", "temporal", "spatial"),
                 upsample_residual=(False,) * 4, upsample_factor=(2, 2, 1, 2), timestep_conditioning=False,
                 patch_size=4, patch_size_t=1, resnet_norm_eps=1e-6, encoder_causal=True, decoder_causal=False,
                 encoder_spatial_padding_mode="zeros", decoder_spatial_padding_mode="zeros",
                 spatial_compression_ratio=32, temporal_compression_ratio=8)
AUDIO_VAE_FLAGS = dict(output_channels=2, ch_mult=(1, 2, 4), attn_resolutions=None, in_channels=2, resolution=256,
                       norm_type="pixel", causality_axis="height", dropout=0.0, mid_block_add_attention=False,
                       sample_rate=16000, mel_hop_length=160, is_causal=True, mel_bins=64, double_z=True)
VOCODER_FLAGS = dict(out_channels=2, upsample_kernel_sizes=[11, 4, 4, 4, 4, 4], upsample_factors=[5, 2, 2, 2, 2, 2],
                     resnet_kernel_sizes=[3, 7, 11], resnet_dilations=[[1, 3, 5]] * 3, act_fn="snakebeta",
                     leaky_relu_negative_slope=0.1, antialias=True, antialias_ratio=2, antialias_kernel_size=12,
                     final_act_fn=None, final_bias=False, bwe_out_channels=2,
                     bwe_upsample_kernel_sizes=[12, 11, 4, 4, 4], bwe_upsample_factors=[6, 5, 2, 2, 2],
                     bwe_resnet_kernel_sizes=[3, 7, 11], bwe_resnet_dilations=[[1, 3, 5]] * 3, bwe_act_fn="snakebeta",
                     bwe_leaky_relu_negative_slope=0.1, bwe_antialias=True, bwe_antialias_ratio=2,
                     bwe_antialias_kernel_size=12, bwe_final_act_fn=None, bwe_final_bias=False, filter_length=512,
                     hop_length=80, window_length=512, num_mel_channels=64, input_sampling_rate=16000,
                     output_sampling_rate=48000)
# The scheduler the conversion script writes for the non-distilled (dev) checkpoint.
SCHEDULER = dict(use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05, base_image_seq_len=1024,
                 max_image_seq_len=4096, shift_terminal=0.1)
# Sizes: the published ones scaled down (tests/engine/real_configs/LTX-2.3-Diffusers holds the real ones).
TINY = {
    "text": dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                 num_key_value_heads=1, head_dim=8, sliding_window=16),
    "vision": dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                   image_size=28, patch_size=14),
    "transformer": dict(num_attention_heads=2, attention_head_dim=8, cross_attention_dim=16,
                        audio_num_attention_heads=2, audio_attention_head_dim=4, audio_cross_attention_dim=8,
                        num_layers=2),
    "connectors": dict(video_connector_num_attention_heads=2, video_connector_attention_head_dim=8,
                       video_connector_num_layers=1, video_connector_num_learnable_registers=4,
                       audio_connector_num_attention_heads=2, audio_connector_attention_head_dim=4,
                       audio_connector_num_layers=1, audio_connector_num_learnable_registers=4),
    "vae": dict(latent_channels=8, block_out_channels=(8, 16, 32, 32), decoder_block_out_channels=(8, 16, 16, 32),
                layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1)),
    # base_channels = latent_channels x mel_bins / 4 (its latent statistics' size), as the real 128 = 8 x 64 / 4
    "audio_vae": dict(base_channels=32, num_res_blocks=1, latent_channels=2),
    "vocoder": dict(hidden_channels=64, bwe_hidden_channels=32),
}


def gemma3_text_encoder(vocab_size, size):
    """A Gemma3ForConditionalGeneration with gemma-3-12b's flags at `size`'s widths; its image tokens
    sit at the top of the small vocabulary (the real one puts them past 262,144)."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    sizes = TINY if size == "tiny" else size
    config = Gemma3Config(
        text_config=dict(vocab_size=vocab_size + 3, rope_theta=1_000_000.0, query_pre_attn_scalar=256,
                         max_position_embeddings=131072, **sizes["text"]),
        vision_config=dict(vision_use_head=False, **sizes["vision"]),
        mm_tokens_per_image=4, boi_token_index=vocab_size, eoi_token_index=vocab_size + 1,
        image_token_index=vocab_size + 2)
    return Gemma3ForConditionalGeneration(config)


def save_ic_lora(folder, transformer, rank, seed=0):
    """The IC-LoRA file in LTX's own key layout (as Lightricks publishes it), random non-zero A and B."""
    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for index, block in enumerate(transformer.transformer_blocks):
        for target in LORA_TARGETS:
            linear = block.get_submodule(target)
            key = f"diffusion_model.transformer_blocks.{index}.{target}"
            tensors[f"{key}.lora_A.weight"] = torch.randn(rank, linear.in_features, generator=generator) * 0.1
            tensors[f"{key}.lora_B.weight"] = torch.randn(linear.out_features, rank, generator=generator) * 0.1
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.to(torch.bfloat16).contiguous() for k, v in tensors.items()}, folder / LORA_FILE)
    return folder


def save_ltx2_models(root, seed=0):
    """Tiny LTX-2.3 pipeline and IC-LoRA folders; returns {"pipeline": folder, "ic_lora": folder}."""
    import torch
    from diffusers import (AutoencoderKLLTX2Audio, AutoencoderKLLTX2Video, FlowMatchEulerDiscreteScheduler,
                           LTX2Pipeline, LTX2VideoTransformer3DModel)
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2VocoderWithBWE

    quiet_libraries()
    torch.manual_seed(seed)
    tokenizer = gemma_style_tokenizer()
    text_encoder = gemma3_text_encoder(len(tokenizer), "tiny")
    text = text_encoder.config.text_config
    audio_vae = AutoencoderKLLTX2Audio(**AUDIO_VAE_FLAGS, **TINY["audio_vae"])
    audio_channels = audio_vae.config.latent_channels * audio_vae.config.mel_bins // audio_vae.mel_compression_ratio
    transformer = LTX2VideoTransformer3DModel(
        in_channels=TINY["vae"]["latent_channels"], out_channels=TINY["vae"]["latent_channels"],
        audio_in_channels=audio_channels, audio_out_channels=audio_channels, caption_channels=text.hidden_size,
        **TRANSFORMER_FLAGS, **TINY["transformer"])
    connectors = LTX2TextConnectors(
        caption_channels=text.hidden_size, text_proj_in_factor=text.num_hidden_layers + 1,
        video_hidden_dim=transformer.config.cross_attention_dim,
        audio_hidden_dim=transformer.config.audio_cross_attention_dim, **CONNECTOR_FLAGS, **TINY["connectors"])
    vocoder = LTX2VocoderWithBWE(in_channels=audio_vae.config.output_channels * audio_vae.config.mel_bins,
                                 bwe_in_channels=audio_vae.config.output_channels * audio_vae.config.mel_bins,
                                 **VOCODER_FLAGS, **TINY["vocoder"])
    pipe = LTX2Pipeline(scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER),
                        vae=AutoencoderKLLTX2Video(**VAE_FLAGS, **TINY["vae"]), audio_vae=audio_vae,
                        text_encoder=text_encoder, tokenizer=tokenizer, connectors=connectors,
                        transformer=transformer, vocoder=vocoder)
    folder = Path(root) / "ltx-2.3"
    pipe.save_pretrained(folder)
    index = folder / "model_index.json"  # optional components left unset are not part of the published index
    entries = json.loads(index.read_text())
    entries = {k: v for k, v in entries.items() if v != [None, None]}
    entries["tokenizer"] = ["transformers", "GemmaTokenizerFast"]  # the published name of the same class
    index.write_text(json.dumps(entries, indent=2))
    lora = save_ic_lora(Path(root) / "ltx-2.3-ic-lora-union", transformer, LORA_RANK["tiny"], seed)
    return {"pipeline": folder, "ic_lora": lora}
