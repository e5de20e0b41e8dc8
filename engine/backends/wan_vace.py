"""`wan-vace`: Wan 2.1 VACE, one control video (depth or pose) steering a video DiT.

Wan's VAE compresses time by 4, so it makes 4k+1 frames, and its patches need sizes in
multiples of 16. The shot's control video is padded with its last frame up to the next
4k+1 length and the frames past the shot's end are dropped, so the take has exactly the
shot's frames, each aligned with its own control frame.

The cast's reference images (and the shot's reference, e.g. a frame of an earlier accepted
take) go to the pipeline's `reference_images`, fitted on white at the generation size;
members the objects pass shows nowhere in the shot are left out. diffusers encodes each
as one extra latent frame in front of the video and drops those latents before decoding,
so the pipeline still returns the 4k+1 video frames, aligned with the control frames.
"""

from ..bundle.take_record import TakeNotes
from ..imaging import to_uint8_frames
from .base import Backend, ModelRole
from .references import reference_notes, vace_reference_images

TEMPORAL_FACTOR = 4


class WanVaceBackend(Backend):
    name = "wan-vace"
    description = "Wan 2.1 VACE 1.3B with one control video (depth or pose)"
    controls = ("depth", "pose")
    default_weights = {"depth": 1.0}
    max_controls = 1
    roles = (
        ModelRole("pipeline", "Wan-AI/Wan2.1-VACE-1.3B-diffusers",
                  "Wan 2.1 VACE: transformer, VAE, UMT5 text encoder, tokenizer, scheduler"),
    )
    default_steps = 30
    default_guidance = 5.0
    size_multiple = 16
    default_long_side = 832
    frame_rule = (f"{TEMPORAL_FACTOR}k+1 frames: the control video is padded with its last frame to the next "
                  f"{TEMPORAL_FACTOR}k+1 length and the extra frames are dropped")
    ignores = ()  # prompt, negative prompt, guidance, descriptions and references all reach the model
    # Built, with no weight, for takes with cast references when the bundle has the pass:
    # members with no pixels in the shot then give VACE no reference.
    reference_controls = ("objects",)

    def model_frames(self, shot_frames):
        return (shot_frames - 1 + TEMPORAL_FACTOR - 1) // TEMPORAL_FACTOR * TEMPORAL_FACTOR + 1

    def load(self, models, controls, device):
        import torch
        from diffusers import AutoencoderKLWan, WanVACEPipeline

        if len(controls) != 1:
            raise ValueError(f"{self.name} takes exactly one control video (depth or pose), not {len(controls)}")
        self.control = controls[0]
        dtype = device.dtype("bfloat16")
        path = models["pipeline"].path
        # Wan's VAE is kept in float32 as its authors recommend; the transformer runs in `dtype`.
        vae = AutoencoderKLWan.from_pretrained(path, subfolder="vae", dtype=torch.float32, use_safetensors=True)
        pipe = WanVACEPipeline.from_pretrained(path, vae=vae, dtype=dtype, use_safetensors=True)
        spatial = pipe.vae_scale_factor_spatial * pipe.transformer.config.patch_size[1]
        if pipe.vae_scale_factor_temporal != TEMPORAL_FACTOR or spatial != self.size_multiple:
            raise ValueError(f"{path} compresses time by {pipe.vae_scale_factor_temporal} and space by {spatial}; "
                             f"{self.name} expects {TEMPORAL_FACTOR} and {self.size_multiple}")
        self.pipe = device.place(pipe)
        self.settings = {"dtype": str(dtype).replace("torch.", ""), "vae_dtype": "float32",
                         "scheduler": type(pipe.scheduler).__name__, "control": self.control}

    notes = TakeNotes()  # what the last take left out of the references

    def take_notes(self):
        return self.notes

    def generate(self, request, hooks):
        import torch

        frames = list(request.controls[self.control])
        model_frames = self.model_frames(request.num_frames)
        video = frames + [frames[-1]] * (model_frames - len(frames))
        references, counts, absent = vace_reference_images(request, request.controls.get("objects"))
        self.settings = {**self.settings, "references": counts, "references_not_in_shot": absent,
                         "shot_reference": request.shot_reference is not None,
                         "reference_latent_frames": len(references)}
        self.notes = reference_notes(absent)

        def on_step_end(pipeline, index, _timestep, _tensors):
            hooks.on_step(index + 1, pipeline.num_timesteps)
            hooks.check_cancel()
            return {}

        hooks.check_cancel()
        result = self.pipe(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or None,
            video=video,
            reference_images=references or None,
            conditioning_scale=float(request.weights[self.control]),
            height=request.height,
            width=request.width,
            num_frames=model_frames,
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
            generator=torch.Generator("cpu").manual_seed(request.seed),
            output_type="np",
            callback_on_step_end=on_step_end,
        )
        made = result.frames[0]
        if len(made) != model_frames:
            raise RuntimeError(f"{self.name} made {len(made)} frames for {model_frames} control frames")
        return to_uint8_frames(made[: request.num_frames])
