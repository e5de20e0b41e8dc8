"""Random-weight Wan 2.2 VACE-Fun A14B pipelines: two experts, saved as the hub repository lays them out.

The published model (tests/engine/real_configs/Wan2.2-VACE-Fun-14B-diffusers, from diffusers'
scripts/convert_wan_to_diffusers.py) is a WanVACEPipeline with `transformer` (high noise) and
`transformer_2` (low noise), two WanVACETransformer3DModel of the same config, the Wan 2.1 VAE,
UMT5-XXL and boundary_ratio 0.875 in model_index.json. "tiny" scales it down like Wan 2.1's
tiny fixture (engine/random_models.py WAN["tiny"]), same classes and flags; the experts get
different random weights, so a take shows which one ran. Seeded: the same call writes the
same weights.
"""

from pathlib import Path

from .random_models import WAN, wan_parts

BOUNDARY_RATIO = 0.875   # diffusers' conversion of Wan2.2-VACE-Fun-14B (and Wan 2.2 T2V-A14B's `boundary`)
WAN22_TRANSFORMER = {
    # The A14B experts: the conversion script's "Wan2.2-VACE-Fun-14B" transformer config.
    "full": dict(num_attention_heads=40, attention_head_dim=128, text_dim=4096, ffn_dim=13824, num_layers=40,
                 rope_max_seq_len=1024, vace_layers=list(range(0, 40, 5))),
    "tiny": WAN["tiny"]["transformer"],
}


def save_wan22_vace_models(root, size="tiny", seed=0):
    """A Wan 2.2 VACE-Fun-layout pipeline folder with two experts; returns {"pipeline": folder}."""
    from diffusers import WanVACEPipeline

    parts, transformer = wan_parts(size, seed)
    experts = [transformer(**WAN22_TRANSFORMER[size]) for _ in range(2)]
    pipe = WanVACEPipeline(**parts, transformer=experts[0], transformer_2=experts[1], boundary_ratio=BOUNDARY_RATIO)
    folder = Path(root) / "wan22-vace"
    pipe.save_pretrained(folder)
    return {"pipeline": folder}
