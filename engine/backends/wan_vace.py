"""`wan-vace`: Wan 2.1 VACE, one control video steering a video DiT; and `VaceBackend`, what
it shares with Wan 2.2's two-expert VACE (wan22_vace.py).

Wan's VAE compresses time by 4, so it makes 4k+1 frames, and its patches need sizes in
multiples of 16. The shot's control video is padded with its last frame up to the next
4k+1 length and the frames past the shot's end are dropped, so the take has exactly the
shot's frames, each aligned with its own control frame.

VACE takes ONE control video: depth, pose, or, with both chosen, the composite of
engine/vace_control.py (each actor's skeleton inside its silhouette, depth around them),
scaled by one conditioning weight (the larger of the two asked).

The cast's reference images (and the shot's reference, e.g. a frame of an earlier accepted
take) go to the pipeline's `reference_images`, fitted on white at the generation size;
members the objects pass shows nowhere in the shot are left out. diffusers encodes each
as one extra latent frame in front of the video and drops those latents before decoding,
so the pipeline still returns the 4k+1 video frames, aligned with the control frames.

With --continue-from, the last CARRY_FRAMES frames of that take go in front of the
shot's control frames, as they are (mask black: keep), the shot's frames after them (mask
white: generate); the model makes 4k+1 >= carried + shot frames, and the take is the
frames after the carried ones, cut to the shot's count: still one per control frame.
"""

from PIL import Image

from ..bundle.take_record import TakeNotes
from ..imaging import to_uint8_frames
from ..vace_control import COMPOSITE, PARTS, composite_frames, missing_masks_message
from .base import Backend, ModelRole
from .references import reference_notes, vace_reference_images

TEMPORAL_FACTOR = 4
# 1 + 4: Wan's VAE encodes the first frame alone and then groups of four, so five kept frames
# fill the first two latent frames exactly; enough for the motion to carry on, one VAE group.
CARRY_FRAMES = 5


class VaceBackend(Backend):
    """A diffusers WanVACEPipeline behind the engine's contract; subclasses name the model."""

    controls = ("depth", "pose")
    default_weights = {"depth": 1.0}
    max_controls = 2   # depth and pose together: one composite control video
    composite_passes = ("mask",)   # where the composite puts pose (the objects pass + cast also serve)
    size_multiple = 16
    default_long_side = 832
    frame_rule = (f"{TEMPORAL_FACTOR}k+1 frames: the control video is padded with its last frame to the next "
                  f"{TEMPORAL_FACTOR}k+1 length and the extra frames are dropped")
    ignores = ()  # prompt, negative prompt, guidance, descriptions and references all reach the model
    # Built, with no weight, for takes with cast references when the bundle has the pass:
    # members with no pixels in the shot then give VACE no reference.
    reference_controls = ("objects",)
    carry_frames = CARRY_FRAMES
    notes = TakeNotes()  # what the last take left out

    def model_frames(self, shot_frames):
        return (shot_frames - 1 + TEMPORAL_FACTOR - 1) // TEMPORAL_FACTOR * TEMPORAL_FACTOR + 1

    def bundle_problem(self, bundle, weights):
        return missing_masks_message(bundle, self.name) if set(PARTS) <= set(weights) else None

    def derived_controls(self, bundle, built, width, height):
        if not set(PARTS) <= set(built):
            return {}
        return {COMPOSITE: composite_frames(bundle, built["depth"], width, height)}

    def check_pipeline(self, pipe, path):
        """ValueError when the loaded pipeline is not the kind this backend runs."""

    def expert_settings(self, pipe):
        """What take.json records of the pipeline's experts; nothing for one transformer."""
        return {}

    def pipeline_arguments(self, request):
        """Extra keyword arguments of the pipeline call (Wan 2.2: the low-noise expert's guidance)."""
        return {}

    def load(self, models, controls, device):
        import torch
        from diffusers import AutoencoderKLWan, WanVACEPipeline

        if not controls or len(controls) > 2 or not set(controls) <= set(self.controls):
            raise ValueError(f"{self.name} takes one control video: depth, pose, or both composited; "
                             f"not {', '.join(controls) or 'none'}")
        self.control = COMPOSITE if len(controls) == 2 else controls[0]
        dtype = device.dtype("bfloat16")
        path = models["pipeline"].path
        # Wan's VAE is kept in float32 as its authors recommend; the transformer(s) run in `dtype`.
        vae = AutoencoderKLWan.from_pretrained(path, subfolder="vae", dtype=torch.float32, use_safetensors=True)
        pipe = WanVACEPipeline.from_pretrained(path, vae=vae, dtype=dtype, use_safetensors=True)
        self.check_pipeline(pipe, path)
        denoiser = pipe.transformer if pipe.transformer is not None else pipe.transformer_2
        spatial = pipe.vae_scale_factor_spatial * denoiser.config.patch_size[1]
        if pipe.vae_scale_factor_temporal != TEMPORAL_FACTOR or spatial != self.size_multiple:
            raise ValueError(f"{path} compresses time by {pipe.vae_scale_factor_temporal} and space by {spatial}; "
                             f"{self.name} expects {TEMPORAL_FACTOR} and {self.size_multiple}")
        self.pipe = device.place(pipe)
        self.settings = {"dtype": str(dtype).replace("torch.", ""), "vae_dtype": "float32",
                         "scheduler": type(pipe.scheduler).__name__, "control": self.control,
                         **self.expert_settings(pipe)}

    def take_notes(self):
        return self.notes

    def conditioning(self, request):
        """(scale, ignored notes): the one conditioning scale VACE has for its one control video."""
        if self.control != COMPOSITE:
            return float(request.weights[self.control]), []
        depth, pose = (float(request.weights[kind]) for kind in PARTS)
        if depth == pose:
            return depth, []
        return max(depth, pose), [f"the separate depth ({depth}) and pose ({pose}) weights: VACE scales its one "
                                  f"composite control video by one weight, the larger ({max(depth, pose)})"]

    def video_and_mask(self, request):
        """(video, mask or None, carried): carried-over frames kept in front, then the controls
        padded with the last one to 4k+1; the mask black on kept frames, white elsewhere."""
        frames, carried = list(request.controls[self.control]), list(request.carry_over)
        model_frames = self.model_frames(len(carried) + request.num_frames)
        video = carried + frames + [frames[-1]] * (model_frames - len(carried) - len(frames))
        if not carried:
            return video, None, 0
        size = (request.width, request.height)
        keep, generate = Image.new("L", size, 0), Image.new("L", size, 255)
        return video, [keep] * len(carried) + [generate] * (model_frames - len(carried)), len(carried)

    def generate(self, request, hooks):
        import torch

        video, mask, carried = self.video_and_mask(request)
        references, counts, absent = vace_reference_images(request, request.controls.get("objects"))
        scale, weight_notes = self.conditioning(request)
        timesteps = []

        hooks.check_cancel()
        result = self.pipe(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or None,
            video=video,
            mask=mask,
            reference_images=references or None,
            conditioning_scale=scale,
            height=request.height,
            width=request.width,
            num_frames=len(video),
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
            generator=torch.Generator("cpu").manual_seed(request.seed),
            output_type="np",
            callback_on_step_end=hooks.step_end_callback(timesteps),
            **self.pipeline_arguments(request),
        )
        made = result.frames[0]
        if len(made) != len(video):
            raise RuntimeError(f"{self.name} made {len(made)} frames for {len(video)} control frames")
        self.settings = {**self.settings, "references": counts, "references_not_in_shot": absent,
                         "shot_reference": request.shot_reference is not None,
                         "reference_latent_frames": len(references), "conditioning_scale": scale,
                         "carried_over_frames": carried, "video_frames": len(video),
                         **self.run_settings(request, timesteps)}
        notes = reference_notes(absent)
        self.notes = TakeNotes(ignored=list(notes.ignored) + weight_notes)
        return to_uint8_frames(made[carried: carried + request.num_frames])

    def run_settings(self, request, timesteps):
        """What take.json records of the denoising steps run at `timesteps` (Wan 2.2: each expert's)."""
        return {}


class WanVaceBackend(VaceBackend):
    name = "wan-vace"
    description = "Wan 2.1 VACE 1.3B with one control video (depth, pose, or both composited)"
    roles = (
        ModelRole("pipeline", "Wan-AI/Wan2.1-VACE-1.3B-diffusers",
                  "Wan 2.1 VACE: transformer, VAE, UMT5 text encoder, tokenizer, scheduler"),
    )
    default_steps = 30
    default_guidance = 5.0
