"""Random-weight SANA-WM pipelines with the real architecture, saved like the hub repository.

Same classes and flags as Efficient-Large-Model/SANA-WM_bidirectional-diffusers (a Gemma-2
text encoder and Gemma tokenizer, the LTX-2 video VAE, SanaWMTransformer3DModel and a
flow-matching Euler scheduler), the sizes scaled down. The "tiny" one keeps what the camera
path depends on: the VAE's 32x spatial and 8x temporal compression (LTX-2's block layout:
patch 4, then spatial, temporal, spatiotemporal, spatiotemporal down blocks), 6 x 8 = 48
chunk-Plücker channels, softmax attention every 4th block. Where each real value comes
from: tests/engine/real_configs/sana_wm/SOURCES.md. Seeded, so the same call writes the same weights.
"""

from pathlib import Path

from .backends.device import quiet_libraries
from .random_models import gemma_style_tokenizer

# gemma-2-2b-it's flags (Sana's text encoder); sizes come from SANA_WM below.
GEMMA2_FLAGS = dict(hidden_activation="gelu_pytorch_tanh", final_logit_softcapping=30.0, attn_logit_softcapping=50.0,
                    rms_norm_eps=1e-6, pad_token_id=0, eos_token_id=1, bos_token_id=2)
SANA_WM = {
    "tiny": {"text": dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                          num_key_value_heads=2, head_dim=8, query_pre_attn_scalar=8, sliding_window=4096,
                          max_position_embeddings=4096),
             "vae": dict(latent_channels=8, block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8),
                         layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1),
                         upsample_factor=(1, 1, 1)),
             "transformer": dict(in_channels=8, num_layers=4, hidden_size=32, num_attention_heads=2,
                                 linear_head_dim=16, caption_channels=32, chunk_plucker_post_attn_blocks=4)},
}
# The LTX-2 VAE's layout flags (its class defaults; the ratios are set as LTX-2's vae config sets them: the
# class would otherwise derive 64 and 16 from the four scaling blocks, whose spatial/temporal split it ignores).
LTX2_VAE_FLAGS = dict(down_block_types=("LTX2VideoDownBlock3D",) * 4,
                      downsample_type=("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
                      spatio_temporal_scaling=(True, True, True, True),
                      decoder_spatio_temporal_scaling=(True, True, True),
                      upsample_type=("spatiotemporal", "spatiotemporal", "spatiotemporal"),
                      patch_size=4, patch_size_t=1, encoder_causal=True, decoder_causal=False,
                      spatial_compression_ratio=32, temporal_compression_ratio=8)
# SanaWMTransformer3DModel's class defaults are the public release's (its docstring); kept as flags here.
SANA_WM_FLAGS = dict(patch_size=(1, 1, 1), softmax_every_n=4, ffn_type="GLUMBConvTemp", t_kernel_size=3,
                     conv_kernel_size=4, k_conv_only=True, pos_embed_type="wan_rope", qk_norm=True, cross_norm=True,
                     y_norm=True, use_chunk_plucker_post_attn=True, chunk_plucker_channels=48)


def save_sana_wm_models(root, size="tiny", seed=0):
    """A SANA-WM-layout pipeline folder; returns {"pipeline": folder}."""
    import torch
    from diffusers import (AutoencoderKLLTX2Video, FlowMatchEulerDiscreteScheduler, SanaWMPipeline,
                           SanaWMTransformer3DModel)
    from transformers import Gemma2Config, Gemma2Model

    quiet_libraries()
    config = SANA_WM[size]
    torch.manual_seed(seed)
    tokenizer = gemma_style_tokenizer()
    text_encoder = Gemma2Model(Gemma2Config(vocab_size=len(tokenizer), **GEMMA2_FLAGS, **config["text"]))
    vae = AutoencoderKLLTX2Video(**LTX2_VAE_FLAGS, **config["vae"])
    transformer = SanaWMTransformer3DModel(**SANA_WM_FLAGS, **config["transformer"])
    pipe = SanaWMPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer,
                          scheduler=FlowMatchEulerDiscreteScheduler())
    folder = Path(root) / "sana-wm"
    pipe.save_pretrained(folder)
    return {"pipeline": folder}
