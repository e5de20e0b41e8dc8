"""wan22-vace against Wan 2.2 VACE-Fun A14B's configuration at its real size, on the meta device.

The method of test_real_configs.py (real_checkpoints.write_hub_folder: the repository's
non-weight files with sparse weight files of the real names and shapes, loaded by the
backend's own `load` inside accelerate's init_empty_weights onto a meta Device). The configs
in real_configs/Wan2.2-VACE-Fun-14B-diffusers are rebuilt from diffusers' conversion script
(its SOURCES.md): this checks that the backend loads that layout, two 17.3 B experts and a
0.875 boundary, and that the tiny fixture is it scaled down.
"""

import json
import math
import warnings

import pytest
import torch
from accelerate import init_empty_weights

from engine.backends.models import ResolvedModel
from engine.backends.wan22_vace import Wan22VaceBackend
from engine.memory import needs_of
from real_checkpoints import (REAL_CONFIGS, SAFETENSORS_DTYPES, WEIGHT_FILES, empty_model, meta_device,
                              write_hub_folder, write_sparse_safetensors)

pytestmark = pytest.mark.slow  # a real-size meta-device load: the slow step (.ci/run-slow)

WAN22 = "Wan2.2-VACE-Fun-14B-diffusers"
EXPERT_PARAMETERS = 17_337_592_896   # each expert: Wan 2.2 A14B's 40 blocks + 8 VACE blocks
UMT5_XXL, WAN_VAE = 5_680_910_336, 126_892_531


SHARD_BYTES = 5 * 10**9   # the conversion's save_pretrained(max_shard_size="5GB")


def write_sharded_weights(library, class_name, folder, dtype):
    """The model's weights as the conversion saved them: sparse shards of at most 5 GB and their
    index (diffusion_pytorch_model-00001-of-0000N.safetensors, model-....safetensors); one 35 GB
    file would also be more than this machine lets one map. Returns the parameter count."""
    model = empty_model(library, class_name, folder)
    tied = getattr(model, "_tied_weights_keys", None) or {}
    shapes = {name: tuple(t.shape) for name, t in model.state_dict().items() if name not in tied}
    width = SAFETENSORS_DTYPES[dtype][1]
    shards, size = [{}], 0
    for name in sorted(shapes):
        nbytes = math.prod(shapes[name]) * width
        if shards[-1] and size + nbytes > SHARD_BYTES:
            shards, size = shards + [{}], 0
        shards[-1][name], size = shapes[name], size + nbytes
    stem, extension = WEIGHT_FILES[library].rsplit(".", 1)
    weight_map = {}
    for index, shard in enumerate(shards, 1):
        name = f"{stem}-{index:05d}-of-{len(shards):05d}.{extension}"
        write_sparse_safetensors(folder / name, shard, dtype)
        weight_map.update(dict.fromkeys(shard, name))
    total = sum(math.prod(shape) for shape in shapes.values())
    (folder / f"{WEIGHT_FILES[library]}.index.json").write_text(json.dumps(
        {"metadata": {"total_size": total * width}, "weight_map": weight_map}))
    return total


def millions(module):
    return sum(p.numel() for p in module.parameters()) / 1e6


@pytest.fixture(scope="module")
def wan22_meta(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hub-wan22") / WAN22
    counts = write_hub_folder(WAN22, folder, {"vae": "float32"})
    for name, (library, class_name) in (("transformer", ("diffusers", "WanVACETransformer3DModel")),
                                        ("transformer_2", ("diffusers", "WanVACETransformer3DModel")),
                                        ("text_encoder", ("transformers", "UMT5EncoderModel"))):
        counts[name] = write_sharded_weights(library, class_name, folder / name, "bfloat16")
    backend = Wan22VaceBackend()
    with warnings.catch_warnings(), init_empty_weights():
        warnings.simplefilter("ignore")
        backend.load({"pipeline": ResolvedModel("pipeline", str(folder), folder)}, ["depth", "pose"], meta_device())
    return backend, counts


def test_wan22_vace_loads_two_experts_at_their_real_size(wan22_meta):
    backend, counts = wan22_meta
    pipe = backend.pipe
    assert counts == {"transformer": EXPERT_PARAMETERS, "transformer_2": EXPERT_PARAMETERS,
                      "vae": WAN_VAE, "text_encoder": UMT5_XXL}
    for expert in (pipe.transformer, pipe.transformer_2):
        assert millions(expert) == pytest.approx(EXPERT_PARAMETERS / 1e6, rel=1e-6)
        assert expert.dtype == torch.bfloat16 and expert.config.vace_layers == list(range(0, 40, 5))
    assert pipe.transformer is not pipe.transformer_2
    assert {p.dtype for p in pipe.vae.parameters()} == {torch.float32}
    assert pipe.config.boundary_ratio == 0.875 and backend.settings["boundary_timestep"] == 875.0
    assert backend.settings["control"] == "composite" and pipe.scheduler.config.flow_shift == 3.0
    assert pipe.tokenizer("a red car").input_ids[-1] == pipe.tokenizer.eos_token_id == 1


def test_the_memory_needs_are_these_parameter_counts():
    needs = needs_of("wan22-vace")
    assert needs.parameters() == 2 * EXPERT_PARAMETERS + UMT5_XXL + WAN_VAE


def test_the_tiny_fixture_is_the_published_config_scaled_down(wan22_models):
    sizes = {"num_attention_heads", "attention_head_dim", "text_dim", "ffn_dim", "num_layers", "rope_max_seq_len",
             "vace_layers", "_diffusers_version"}
    for part in ("transformer", "transformer_2"):
        ours = json.loads((wan22_models / part / "config.json").read_text())
        theirs = json.loads((REAL_CONFIGS / WAN22 / part / "config.json").read_text())
        assert {k: (ours.get(k), v) for k, v in theirs.items() if k not in sizes and ours.get(k) != v} == {}
    ours, theirs = (json.loads((folder / "model_index.json").read_text()) for folder in (wan22_models,
                                                                                          REAL_CONFIGS / WAN22))
    for key in ("boundary_ratio", "transformer", "transformer_2", "vae", "text_encoder", "scheduler"):
        assert ours[key] == theirs[key], key
