"""sana-wm against SANA-WM's real-size configuration, on the meta device (no download, no memory).

tests/engine/real_configs/SANA-WM_bidirectional-diffusers/ holds the configs reconstructed as
its SOURCES.md says (the hub repository could not be read from here); real_checkpoints writes
sparse weight files with the tensor names and shapes those configs build, and the backend's
own `load` runs over the folder inside accelerate's init_empty_weights. The tiny fixture
(engine/random_models_sana.py) is checked to be the same configuration scaled down.
"""

import json
import warnings

import pytest
from accelerate import init_empty_weights

from engine.backends.models import ResolvedModel
from engine.backends.sana_wm import SanaWMBackend
from engine.random_models import gemma_style_tokenizer
from engine.random_models_sana import save_sana_wm_models
from real_checkpoints import REAL_CONFIGS, meta_device, write_hub_folder

pytestmark = pytest.mark.slow

REPO = "SANA-WM_bidirectional-diffusers"
# Sizes the tiny fixture scales down; every other key must be the real value.
SCALED = {"transformer": {"in_channels", "num_layers", "hidden_size", "num_attention_heads", "linear_head_dim",
                          "caption_channels", "chunk_plucker_post_attn_blocks"},
          "vae": {"latent_channels", "block_out_channels", "decoder_block_out_channels", "layers_per_block",
                  "decoder_layers_per_block", "upsample_factor"},
          "text_encoder": {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                           "num_key_value_heads", "head_dim", "query_pre_attn_scalar", "vocab_size",
                           "max_position_embeddings", "layer_types", "dtype", "transformers_version"}}


def _config(folder, component):
    name = "scheduler_config.json" if component == "scheduler" else "config.json"
    return json.loads((folder / component / name).read_text())


def test_the_tiny_fixture_is_the_real_configuration_scaled_down(tmp_path):
    tiny = save_sana_wm_models(tmp_path)["pipeline"]
    real = REAL_CONFIGS / REPO
    assert json.loads((tiny / "model_index.json").read_text()) == json.loads((real / "model_index.json").read_text())
    for component in ("transformer", "vae", "text_encoder", "scheduler"):
        small, full = _config(tiny, component), _config(real, component)
        keep = set(full) - SCALED.get(component, set()) - {"_diffusers_version"}
        assert {key: small.get(key) for key in keep} == {key: full[key] for key in keep}, component


def test_the_backend_loads_the_real_size_pipeline(tmp_path):
    folder = tmp_path / REPO
    counts = write_hub_folder(REPO, folder, {"transformer": "bfloat16", "vae": "bfloat16",
                                             "text_encoder": "bfloat16"})
    gemma_style_tokenizer().save_pretrained(folder / "tokenizer")  # the real one is Gemma's 256k vocabulary
    backend = SanaWMBackend()
    with warnings.catch_warnings(), init_empty_weights():
        warnings.simplefilter("ignore")
        backend.load({"pipeline": ResolvedModel("pipeline", REPO, folder)}, ["camera"], meta_device())
    pipe = backend.pipe
    millions = {name: round(count / 1e6, 1) for name, count in counts.items()}
    # The model card's "2.6B-parameter" DiT (dit/sana_wm_1600m_720p.safetensors, 10 GB in float32).
    assert millions["transformer"] == pytest.approx(2661.8, abs=0.1)
    assert millions["text_encoder"] == pytest.approx(2614.3, abs=0.1)   # gemma-2-2b
    assert (pipe.vae_spatial_compression_ratio, pipe.vae_temporal_compression_ratio) == (32, 8)
    assert pipe.transformer.config.chunk_plucker_channels == 6 * pipe.vae_temporal_compression_ratio
    assert pipe.transformer.config.caption_channels == pipe.text_encoder.config.hidden_size
    assert pipe.transformer.config.in_channels == pipe.vae.config.latent_channels
