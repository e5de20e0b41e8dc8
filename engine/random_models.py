"""Random-weight models with the real architectures, saved like hub repositories.

Tests load the "tiny" ones (diffusers' own fast-test sizes: block widths of 8) through the
same `from_pretrained` path real weights take, on a CPU, in seconds, with no network. The
"full" ones have SD 1.5 / AnimateDiff / ControlNet 1.1 and Wan-VACE 1.3B shapes, for timing
real-size generation on a GPU (time does not depend on the weights' values); their text
encoders keep the real width but few layers and a tiny vocabulary, which only changes
prompt encoding, done once per take. Both sizes are the published configurations scaled
down, nothing else changed: the same classes and flags, schedulers with the published
settings (PNDM for SD 1.5, UniPC flow with shift 3 for Wan), the AnimateDiff v1-5-3 motion
adapter layout (no mid-block motion module), CLIP's special token ids (49406/49407, in a
49408-token vocabulary) and a T5-style Unigram tokenizer that ends prompts with </s>.
Tokenizers are built offline from a character vocabulary. Seeded, so the same call writes
the same weights.
"""

import json
import string
import tempfile
from pathlib import Path

from .backends.device import quiet_libraries

SD_BLOCKS = {
    "tiny": dict(block_out_channels=(8, 8), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                 up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=8),
    "full": dict(block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
                 down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                 up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3),
}
SD_PARTS = {
    "tiny": {"unet_groups": 2, "controlnet_groups": 1, "embedding": (8, 8), "vae_blocks": (8, 8), "vae_groups": 2,
             "clip": dict(hidden_size=8, intermediate_size=37, num_attention_heads=4, num_hidden_layers=5),
             "motion": dict(motion_norm_num_groups=2, motion_num_attention_heads=4),
             "image_encoder": dict(hidden_size=8, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
                                   image_size=32, patch_size=8, projection_dim=8)},
    "full": {"unet_groups": 32, "controlnet_groups": 32, "embedding": (16, 32, 96, 256),
             "vae_blocks": (128, 256, 512, 512), "vae_groups": 32,
             "clip": dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12),
             "motion": dict(motion_norm_num_groups=32, motion_num_attention_heads=8),
             "image_encoder": dict(hidden_size=1280, intermediate_size=5120, num_attention_heads=16,
                                   num_hidden_layers=2, image_size=224, patch_size=14, projection_dim=1024)},
}
# The published schedulers (stable-diffusion-v1-5's and Wan2.1-VACE-1.3B-diffusers' scheduler_config.json).
SD15_SCHEDULER = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
                      prediction_type="epsilon", set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1,
                      timestep_spacing="leading")
WAN_SCHEDULER = dict(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0, num_train_timesteps=1000,
                     solver_order=2, solver_type="bh2", predict_x0=True, lower_order_final=True,
                     final_sigmas_type="zero", timestep_spacing="linspace")
# CLIP ViT-L/14's text vocabulary size and special tokens, as SD 1.5's text_encoder config gives them
# (eos_token_id 2 is CLIP's legacy value: transformers then pools at the highest token id, <|endoftext|>).
CLIP_VOCAB_SIZE, CLIP_START, CLIP_END = 49408, 49406, 49407
CLIP_TEXT = dict(vocab_size=CLIP_VOCAB_SIZE, bos_token_id=0, eos_token_id=2, pad_token_id=1, hidden_act="quick_gelu",
                 max_position_embeddings=77, layer_norm_eps=1e-5, projection_dim=768)
# UMT5-XXL's flags (google/umt5-xxl, Wan's text_encoder config); sizes come from WAN below.
UMT5_FLAGS = dict(feed_forward_proj="gated-gelu", dense_act_fn="gelu_new", is_gated_act=True, scalable_attention=True,
                  tie_word_embeddings=False, relative_attention_num_buckets=32, relative_attention_max_distance=128,
                  layer_norm_epsilon=1e-6, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
WAN = {
    "tiny": {"vae": dict(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1),
             "text": dict(d_model=32, d_kv=8, d_ff=37, num_heads=4),
             "transformer": dict(num_attention_heads=2, attention_head_dim=12, text_dim=32, ffn_dim=32, num_layers=3,
                                 rope_max_seq_len=32, vace_layers=[0, 2])},
    "full": {"vae": dict(base_dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2),
             "text": dict(d_model=4096, d_kv=64, d_ff=10240, num_heads=64),
             "transformer": dict(num_attention_heads=12, attention_head_dim=128, text_dim=4096, ffn_dim=8960,
                                 num_layers=30, rope_max_seq_len=1024, vace_layers=list(range(0, 30, 2)))},
}


CHARACTERS = string.ascii_lowercase + string.digits + string.punctuation


def write_clip_vocabulary(folder):
    """vocab.json and merges.txt of a CLIP BPE vocabulary with characters only (every word
    splits into characters) and CLIP's own special token ids at the top of its 49408 tokens."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {character: index for index, character in enumerate(CHARACTERS)}
    vocab.update({f"{character}</w>": len(CHARACTERS) + i for i, character in enumerate(CHARACTERS)})
    vocab.update({"<|startoftext|>": CLIP_START, "<|endoftext|>": CLIP_END})
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return folder / "vocab.json", folder / "merges.txt"


def clip_tokenizer(folder):
    """CLIP's tokenizer over write_clip_vocabulary's files (SD 1.5's tokenizer_config settings)."""
    from transformers import CLIPTokenizer

    vocab, merges = write_clip_vocabulary(folder)
    return CLIPTokenizer(str(vocab), str(merges), model_max_length=77, pad_token="<|endoftext|>")


def gemma_style_tokenizer():
    """Gemma's tokenizer class (BPE, spaces as '\u2581', <bos> first; Gemma's ids: pad 0, eos 1, bos 2,
    unk 3) over one token per character, upper case too (SANA's instruction prefix is prose), built
    offline; the LTX-2 and SANA-WM fixtures' Gemma text encoders read it."""
    from transformers import GemmaTokenizerFast

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
    characters = CHARACTERS + string.ascii_uppercase
    vocab = {token: index for index, token in enumerate(specials + ["\u2581"] + list(characters))}
    return GemmaTokenizerFast(vocab=vocab, merges=[], model_max_length=8192)


def t5_style_tokenizer():
    """A T5 fast tokenizer as T5's is built (Unigram pieces, Metaspace, </s> appended to every
    prompt), with T5's special token ids and one piece per character."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import T5TokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [(character, -5.0) for character in CHARACTERS]
    pieces += [(f"\u2581{character}", -4.0) for character in CHARACTERS]
    tokenizer = Tokenizer(models.Unigram(pieces, unk_id=2))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace()])
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                             special_tokens=[("</s>", 1)])
    return T5TokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                           model_max_length=512, extra_ids=0)


def save_animatediff_models(root, size="tiny", seed=0):
    """SD-1.5-layout base, motion adapter, two ControlNets and an IP-Adapter; returns {role: folder}."""
    import torch
    from diffusers import (AutoencoderKL, ControlNetModel, MotionAdapter, PNDMScheduler, StableDiffusionPipeline,
                           UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel

    quiet_libraries()
    root, blocks, parts = Path(root), SD_BLOCKS[size], SD_PARTS[size]
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**blocks, layers_per_block=2, sample_size=64, in_channels=4, out_channels=4,
                                norm_num_groups=parts["unet_groups"])
    vae = AutoencoderKL(block_out_channels=parts["vae_blocks"], layers_per_block=2 if size == "full" else 1,
                        latent_channels=4, norm_num_groups=parts["vae_groups"],
                        down_block_types=["DownEncoderBlock2D"] * len(parts["vae_blocks"]),
                        up_block_types=["UpDecoderBlock2D"] * len(parts["vae_blocks"]))
    text_encoder = CLIPTextModel(CLIPTextConfig(**{**CLIP_TEXT, **parts["clip"]}))
    scheduler = PNDMScheduler(**SD15_SCHEDULER)
    with tempfile.TemporaryDirectory() as source:
        tokenizer = clip_tokenizer(source)
    base = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    paths = {"base": root / "sd15", "motion_adapter": root / "motion-adapter"}
    base.save_pretrained(paths["base"])
    # AnimateDiff v1-5-3's layout: no mid-block motion module, 32 positions.
    MotionAdapter(block_out_channels=blocks["block_out_channels"], motion_layers_per_block=2, use_motion_mid_block=False,
                  motion_max_seq_length=32, **parts["motion"]).save_pretrained(paths["motion_adapter"])
    for kind in ("depth", "pose"):
        paths[f"controlnet_{kind}"] = root / f"controlnet-{kind}"
        ControlNetModel(
            **{k: v for k, v in blocks.items() if k != "up_block_types"}, layers_per_block=2, in_channels=4,
            conditioning_embedding_out_channels=parts["embedding"], norm_num_groups=parts["controlnet_groups"],
        ).save_pretrained(paths[f"controlnet_{kind}"])
    paths["ip_adapter"] = save_ip_adapter(root / "ip-adapter", unet, parts["image_encoder"])
    return paths


def save_ip_adapter(folder, unet, encoder_config):
    """An h94/IP-Adapter-layout folder for `unet`: models/ip-adapter_sd15.safetensors (the
    image projection and each cross-attention layer's to_k_ip/to_v_ip, keyed as
    diffusers' load_ip_adapter reads them) and a CLIP vision encoder in models/image_encoder."""
    import torch
    from diffusers.models.embeddings import ImageProjection
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from .backends.animatediff import IP_ADAPTER_ENCODER, IP_ADAPTER_SUBFOLDER, IP_ADAPTER_WEIGHTS

    models = Path(folder) / IP_ADAPTER_SUBFOLDER
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**encoder_config))
    encoder.save_pretrained(models / IP_ADAPTER_ENCODER)
    cross_dim = unet.config.cross_attention_dim
    projection = ImageProjection(cross_attention_dim=cross_dim, image_embed_dim=encoder_config["projection_dim"],
                                 num_image_text_embeds=4)
    # diffusers renames the original "proj" to "image_embeds" when loading; write the original names.
    tensors = {f"image_proj.{key.replace('image_embeds', 'proj')}": value
               for key, value in projection.state_dict().items()}
    # The original numbering: every attention layer counts, only cross-attention (odd) ones are kept.
    cross_attentions = [name[: -len(".processor")] for name in unet.attn_processors
                        if name.endswith("attn2.processor")]
    for index, name in enumerate(cross_attentions):
        width = unet.get_submodule(name).to_k.out_features
        for kind in ("to_k_ip", "to_v_ip"):
            tensors[f"ip_adapter.{2 * index + 1}.{kind}.weight"] = torch.nn.Linear(cross_dim, width, bias=False).weight
    save_file({key: value.detach().contiguous() for key, value in tensors.items()}, models / IP_ADAPTER_WEIGHTS)
    return Path(folder)


def wan_parts(size, seed):
    """The parts every Wan VACE pipeline shares (Wan 2.1 VAE, UMT5 text encoder, tokenizer, UniPC flow
    scheduler), seeded, and a maker of VACE transformers with `transformer` config overrides."""
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanVACETransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    quiet_libraries()
    config = WAN[size]
    torch.manual_seed(seed)
    vae = AutoencoderKLWan(**config["vae"], temperal_downsample=[False, True, True])
    tokenizer = t5_style_tokenizer()
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=len(tokenizer), num_layers=2, **UMT5_FLAGS,
                                               **config["text"]))

    def transformer(**shape):
        return WanVACETransformer3DModel(
            patch_size=(1, 2, 2), in_channels=16, out_channels=16, freq_dim=256, cross_attn_norm=True,
            qk_norm="rms_norm_across_heads", vace_in_channels=96, **shape)

    parts = dict(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae,
                 scheduler=UniPCMultistepScheduler(**WAN_SCHEDULER))
    return parts, transformer


def save_wan_vace_models(root, size="tiny", seed=0):
    """A Wan-VACE-layout pipeline folder (UMT5 text encoder); returns {"pipeline": folder}."""
    from diffusers import WanVACEPipeline

    parts, transformer = wan_parts(size, seed)
    pipe = WanVACEPipeline(**parts, transformer=transformer(**WAN[size]["transformer"]))
    folder = Path(root) / "wan-vace"
    pipe.save_pretrained(folder)
    return {"pipeline": folder}
