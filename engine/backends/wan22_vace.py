"""`wan22-vace`: Wan 2.2 VACE-Fun A14B, VACE control weights on Wan 2.2's two experts.

Wan 2.2 A14B denoises with two transformers of the same shape: `transformer` (the
high-noise expert: layout and motion) while the timestep is at or above
boundary_ratio x 1000, then `transformer_2` (the low-noise expert: detail) below it
(diffusers' WanVACEPipeline.__call__). The boundary comes from the checkpoint's
model_index.json (0.875 in diffusers' conversion of this model, as in Wan 2.2 T2V-A14B's own
config); a folder without both experts and a boundary is refused. Each expert has its own
guidance: Wan 2.2 T2V-A14B samples with 4.0 (high noise) and 3.0 (low noise), so --guidance
sets the first and the second keeps that ratio (guidance_scale_2 = 0.75 x --guidance).

Everything else (one control video or the depth+pose composite, 4k+1 frames, 16-pixel
sizes, cast references, carried-over frames) is VaceBackend's, shared with wan-vace.
"""

from .base import ModelRole
from .wan_vace import VaceBackend

# Wan 2.2 T2V-A14B's sample_guide_scale = (3.0, 4.0): (low noise, high noise).
HIGH_NOISE_GUIDANCE, LOW_NOISE_GUIDANCE = 4.0, 3.0
EXPERTS = ("transformer", "transformer_2")


class Wan22VaceBackend(VaceBackend):
    name = "wan22-vace"
    description = ("Wan 2.2 VACE-Fun A14B: two experts (high noise, then low noise) with one control video "
                   "(depth, pose, or both composited)")
    roles = (
        ModelRole("pipeline", "linoyts/Wan2.2-VACE-Fun-14B-diffusers",
                  "Wan 2.2 VACE-Fun A14B in diffusers' layout: transformer (high noise), transformer_2 (low "
                  "noise), VAE, UMT5 text encoder, tokenizer, scheduler"),
    )
    default_steps = 40   # Wan 2.2 T2V-A14B's sample_steps
    default_guidance = HIGH_NOISE_GUIDANCE

    def check_pipeline(self, pipe, path):
        missing = [name for name in EXPERTS if getattr(pipe, name, None) is None]
        if pipe.config.boundary_ratio is None:
            missing.append("boundary_ratio")
        if missing:
            raise ValueError(f"{path} is not a two-expert Wan 2.2 VACE pipeline: its model_index.json needs "
                             f"transformer, transformer_2 and boundary_ratio (missing: {', '.join(missing)})")

    def expert_settings(self, pipe):
        return {"boundary_ratio": float(pipe.config.boundary_ratio),
                "boundary_timestep": float(pipe.config.boundary_ratio) * pipe.scheduler.config.num_train_timesteps}

    def pipeline_arguments(self, request):
        return {"guidance_scale_2": request.guidance * LOW_NOISE_GUIDANCE / HIGH_NOISE_GUIDANCE}

    def run_settings(self, request, timesteps):
        """How many steps each expert ran, by the pipeline's own rule (t >= boundary: high noise), and
        the low-noise guidance used."""
        boundary = self.settings["boundary_timestep"]
        high = sum(1 for t in timesteps if t >= boundary)
        return {"expert_steps": {"transformer": high, "transformer_2": len(timesteps) - high},
                **self.pipeline_arguments(request)}
