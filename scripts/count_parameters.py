"""Parameter counts of each backend's models from the published configs, on the meta device
(accelerate's init_empty_weights: no weights, no memory, no download). The figures feed
engine/memory.py's NEEDS table and docs/engine.md's VRAM table.

    .venv-engine/bin/python scripts/count_parameters.py [REAL_SIZE_DIR]
"""

import json
import sys
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference" / "real-size" / "hub-layout"


def count(model):
    return sum(p.numel() for p in model.parameters())


def count_umt5(model):
    """The checkpoint holds one token embedding (22.7 GB in float32 = 5.68 B parameters); built on the meta
    device the encoder's copy is a second module, so it is counted once."""
    separate = model.encoder.embed_tokens is not model.shared
    return count(model) - (model.encoder.embed_tokens.weight.numel() if separate else 0)


SANA_WM = Path(__file__).resolve().parents[1] / "tests" / "engine" / "real_configs" / "SANA-WM_bidirectional-diffusers"


def count_sana_wm(folder=SANA_WM):
    """SANA-WM's models from the configs reconstructed in the repository (their SOURCES.md: the hub's
    files could not be read), on the meta device."""
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKLLTX2Video, SanaWMTransformer3DModel
    from transformers import Gemma2Config, Gemma2Model

    with init_empty_weights():
        return {"transformer": count(SanaWMTransformer3DModel.from_config(
                    SanaWMTransformer3DModel.load_config(folder / "transformer"))),
                "vae": count(AutoencoderKLLTX2Video.from_config(AutoencoderKLLTX2Video.load_config(folder / "vae"))),
                "text_encoder": count(Gemma2Model(Gemma2Config.from_pretrained(folder / "text_encoder")))}


LTX2 = Path(__file__).resolve().parents[1] / "tests" / "engine" / "real_configs" / "LTX-2.3-Diffusers"
IC_LORA_RANK = 64   # the union control LoRA's, inferred from its file size (tests/engine/test_real_configs_ltx2.py)


def count_ltx2_ic(folder=LTX2):
    """LTX-2.3's models from the configs reconstructed in the repository (diffusers' conversion script, version
    2.3), on the meta device; Gemma 3 without its lm_head (tied to the embedding) and the IC-LoRA at rank 64."""
    import diffusers
    from accelerate import init_empty_weights
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2VocoderWithBWE
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from engine.random_models_ltx2 import LORA_TARGETS   # the layers the LoRA adapts, as the fixture writes them

    classes = {"transformer": diffusers.LTX2VideoTransformer3DModel, "connectors": LTX2TextConnectors,
               "vae": diffusers.AutoencoderKLLTX2Video, "audio_vae": diffusers.AutoencoderKLLTX2Audio,
               "vocoder": LTX2VocoderWithBWE}
    with init_empty_weights():
        models = {name: cls.from_config(cls.load_config(folder / name)) for name, cls in classes.items()}
        gemma = Gemma3ForConditionalGeneration(Gemma3Config.from_pretrained(folder / "text_encoder"))
    counts = {name: count(model) for name, model in models.items()}
    counts["text_encoder"] = count(gemma.model)
    linears = [block.get_submodule(target) for block in models["transformer"].transformer_blocks
               for target in LORA_TARGETS]
    counts["ic_lora"] = sum(IC_LORA_RANK * (linear.in_features + linear.out_features) for linear in linears)
    return counts


WAN22 = Path(__file__).resolve().parents[1] / "tests" / "engine" / "real_configs" / "Wan2.2-VACE-Fun-14B-diffusers"


def count_wan22_vace(folder=WAN22):
    """Wan 2.2 VACE-Fun A14B's two experts from the configs rebuilt from diffusers' conversion script (its
    SOURCES.md); its VAE and UMT5-XXL are Wan 2.1's, counted under wan-vace."""
    from accelerate import init_empty_weights
    from diffusers import WanVACETransformer3DModel

    with init_empty_weights():
        return {name: count(WanVACETransformer3DModel.from_config(WanVACETransformer3DModel.load_config(folder / name)))
                for name in ("transformer", "transformer_2")}


def main(argv=None):
    from accelerate import init_empty_weights
    from diffusers import (AutoencoderKL, AutoencoderKLWan, ControlNetModel, MotionAdapter, UNet2DConditionModel,
                           WanVACETransformer3DModel)
    from transformers import CLIPTextConfig, CLIPTextModel, UMT5EncoderModel, UMT5Config

    root = Path((argv or sys.argv[1:] or [DEFAULT_DIR])[0])
    sd, wan = root / "stable-diffusion-v1-5", root / "Wan2.1-VACE-1.3B-diffusers"
    counts = {}
    # The hub layout's text encoder config is cut to 2 layers for tests; the real UMT5-XXL is recorded beside it.
    umt5 = json.loads((root.parent / "wan-configs.json").read_text())["text_encoder_real"]
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(sd / "unet"))
        adapter = MotionAdapter.from_config(MotionAdapter.load_config(root / "animatediff-motion-adapter-v1-5-3"))
        counts["animatediff"] = {
            "unet": count(unet), "vae": count(AutoencoderKL.from_config(AutoencoderKL.load_config(sd / "vae"))),
            "text_encoder": count(CLIPTextModel(CLIPTextConfig.from_pretrained(sd / "text_encoder"))),
            "motion_adapter": count(adapter),
            "controlnet": count(ControlNetModel.from_config(
                ControlNetModel.load_config(root / "control_v11f1p_sd15_depth"))),
        }
        counts["wan-vace"] = {
            "transformer": count(WanVACETransformer3DModel.from_config(
                WanVACETransformer3DModel.load_config(wan / "transformer"))),
            "vae": count(AutoencoderKLWan.from_config(AutoencoderKLWan.load_config(wan / "vae"))),
            "text_encoder": count_umt5(UMT5EncoderModel(UMT5Config(**umt5))),
        }
    counts["sana-wm"] = count_sana_wm()
    counts["ltx2-ic"] = count_ltx2_ic()
    counts["wan22-vace"] = {**count_wan22_vace(), "vae": counts["wan-vace"]["vae"],
                            "text_encoder": counts["wan-vace"]["text_encoder"]}
    print(json.dumps(counts, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
