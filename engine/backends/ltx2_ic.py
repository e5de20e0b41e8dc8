"""`ltx2-ic`: LTX-2.3 with the IC-LoRA union control, one control video (depth, pose or edges).

diffusers' LTX2InContextPipeline encodes the control video as extra "reference" tokens the
IC-LoRA attends to. The union LoRA was trained on references at half the generation size
(its file name says `ref0.5`), so the control goes in at that downscale (factor 2) and the
pipeline scales its positions back up. LTX-2's VAE compresses time by 8 and space by 32, so
it makes 8k+1 frames at sides that are multiples of 32; the half-size reference must be
too, so sides here are multiples of 64. The control is padded with its last frame to the
next 8k+1 length and the frames past the shot's end are dropped, as wan-vace does for 4k+1.

The shot's reference image (--reference, e.g. a frame of an accepted take), or failing that
the first reference of a cast member seen in the shot, is the condition at latent index 0:
the first frame starts from it (SHOT_REFERENCE_STRENGTH / CAST_REFERENCE_STRENGTH say how
much). The shot's own frame rate goes in as `frame_rate` (LTX-2's positions are in seconds).
LTX-2 denoises a soundtrack with the video; it is never decoded: the pipeline returns
latents and the video VAE alone decodes them, so the audio VAE and vocoder never run.
"""

import importlib.util
import re
from pathlib import Path

from ..bundle.take_record import TakeNotes
from ..imaging import to_uint8_frames
from .base import Backend, ModelRole
from .references import as_rgb, member_masks

TEMPORAL_FACTOR = 8
SPATIAL_FACTOR = 32
DEFAULT_DOWNSCALE = 2       # the union control LoRA's `ref0.5`
LORA_FILE = "ltx-2.3-22b-ic-lora-union-control-ref0.5.safetensors"
ADAPTER = "ic_lora"
DEFAULT_FPS = 24.0          # only for callers that give no frame rate (the engine always gives the shot's)
# Index-0 strengths (1.0 pins the first latent frame to the image, 0.0 ignores it; in between it is
# noised less and blended back each step). The shot reference is meant as a frame of this shot's
# look (an accepted take), so it is kept whole, as LTX's image-to-video does with its first frame.
# A cast reference is a picture of an actor or prop, not a frame of the shot: kept weak, it lends
# its colours and identity to the opening frame without pasting the picture over the blocking.
SHOT_REFERENCE_STRENGTH = 1.0
CAST_REFERENCE_STRENGTH = 0.25
AUDIO_NOTE = "the soundtrack LTX-2 makes with the video (denoised but never decoded: a take keeps frames only)"


def reference_downscale(lora_path):
    """The factor the IC-LoRA's reference video is smaller by: from its file name (`ref0.5` -> 2), else the
    `reference_downscale_factor` its safetensors metadata may carry, else 1 (the reference at full size)."""
    match = re.search(r"ref(\d+(?:\.\d+)?)", Path(lora_path).name)
    if match and float(match.group(1)) > 0:
        return max(1, round(1 / float(match.group(1))))
    from safetensors import safe_open

    with safe_open(str(lora_path), framework="pt") as handle:
        value = (handle.metadata() or {}).get("reference_downscale_factor")
    return int(float(value)) if value else 1


def lora_file(folder):
    """The IC-LoRA weights in a folder laid out like Lightricks/LTX-2.3-22b-IC-LoRA-Union-Control."""
    folder = Path(folder)
    if (folder / LORA_FILE).is_file():
        return folder / LORA_FILE
    found = sorted(folder.glob("*.safetensors"))
    if len(found) != 1:
        raise ValueError(f"{folder} should hold {LORA_FILE} (or one IC-LoRA .safetensors), "
                         f"not {len(found)} safetensors files: pass --model ic_lora=FOLDER with one")
    return found[0]


class Ltx2IcBackend(Backend):
    name = "ltx2-ic"
    description = ("LTX-2.3 22B with the IC-LoRA union control: one control video (depth, pose or edges); "
                   "the shot or cast reference conditions the first frame; audio is dropped")
    controls = ("depth", "pose", "edges")
    default_weights = {"depth": 1.0}
    max_controls = 1
    roles = (
        ModelRole("pipeline", "diffusers/LTX-2.3-Diffusers",
                  "LTX-2.3: transformer, video and audio VAEs, vocoder, Gemma 3 text encoder, connectors, scheduler"),
        ModelRole("ic_lora", "Lightricks/LTX-2.3-22b-IC-LoRA-Union-Control",
                  f"IC-LoRA union control (depth, pose, edges): {LORA_FILE}"),
    )
    default_steps = 30
    default_guidance = 3.0
    size_multiple = SPATIAL_FACTOR * DEFAULT_DOWNSCALE
    default_long_side = 768
    frame_rule = (f"{TEMPORAL_FACTOR}k+1 frames: the control video is padded with its last frame to the next "
                  f"{TEMPORAL_FACTOR}k+1 length and the extra frames are dropped")
    ignores = ()  # prompt, negative prompt, guidance and the references all reach the model
    # Built, with no weight, for takes with cast references: only a member seen in the shot conditions frame 0.
    reference_controls = ("objects",)

    def size_rule(self):
        return (f"width and height multiples of {self.size_multiple} ({SPATIAL_FACTOR} for LTX-2's VAE, at the "
                f"control's half size too); default long side {self.default_long_side}")

    def model_frames(self, shot_frames):
        return (shot_frames - 1 + TEMPORAL_FACTOR - 1) // TEMPORAL_FACTOR * TEMPORAL_FACTOR + 1

    def load(self, models, controls, device):
        if len(controls) != 1:
            raise ValueError(f"{self.name} takes exactly one control video (depth, pose or edges), not {len(controls)}")
        lora = lora_file(models["ic_lora"].path)
        self.downscale = reference_downscale(lora)
        if self.size_multiple % (SPATIAL_FACTOR * self.downscale):
            raise ValueError(f"{lora.name} wants its control at 1/{self.downscale} size, which needs sides in "
                             f"multiples of {SPATIAL_FACTOR * self.downscale}; {self.name} snaps to "
                             f"{self.size_multiple}: use an IC-LoRA with ref0.5 or ref1")
        if importlib.util.find_spec("peft") is None:
            raise ValueError(f"{self.name} loads its IC-LoRA through peft, which the engine's environment lacks: "
                             "reinstall the engine from requirements-engine.txt (it pins peft)")
        from diffusers import LTX2InContextPipeline

        self.control = controls[0]
        dtype = device.dtype("bfloat16")
        pipe = LTX2InContextPipeline.from_pretrained(models["pipeline"].path, dtype=dtype, use_safetensors=True)
        spatial = pipe.vae_spatial_compression_ratio * pipe.transformer_spatial_patch_size
        if pipe.vae_temporal_compression_ratio != TEMPORAL_FACTOR or spatial != SPATIAL_FACTOR:
            raise ValueError(f"{models['pipeline'].path} compresses time by {pipe.vae_temporal_compression_ratio} "
                             f"and space by {spatial}; {self.name} expects {TEMPORAL_FACTOR} and {SPATIAL_FACTOR}")
        pipe.load_lora_weights(str(lora.parent), weight_name=lora.name, adapter_name=ADAPTER, local_files_only=True)
        self.pipe = device.place(pipe)
        self.crf = None if importlib.util.find_spec("av") else 0   # the model's H.264 re-compression needs PyAV
        self.settings = {"dtype": str(dtype).replace("torch.", ""), "scheduler": type(pipe.scheduler).__name__,
                         "control": self.control, "ic_lora": lora.name, "reference_downscale_factor": self.downscale,
                         "audio": "not decoded (dropped)",
                         "first_frame_crf": "model default (33)" if self.crf is None else "0 (PyAV not installed)"}

    notes = TakeNotes(ignored=[AUDIO_NOTE])

    def take_notes(self):
        return self.notes

    def first_frame(self, request):
        """(image, strength, source) for latent index 0: the shot reference, else the first reference of
        a cast member the objects pass shows in the shot (any member without that pass); (None, 0, None)."""
        if request.shot_reference is not None:
            return as_rgb(request.shot_reference), SHOT_REFERENCE_STRENGTH, "shot reference"
        masks = member_masks(request, request.controls.get("objects"))
        for name, images in request.references.items():
            if images and (masks is None or masks[name].any()):
                return as_rgb(images[0]), CAST_REFERENCE_STRENGTH, f"{name}'s reference"
        return None, 0.0, None

    def unused_references(self, request, source):
        """Notes for the cast references that did not become the first frame."""
        used = source[: -len("'s reference")] if source and source.endswith("'s reference") else None
        skipped = [name for name, images in request.references.items() if images and name != used]
        return [f"{name}'s reference (only one image conditions the first frame)" for name in skipped]

    def generate(self, request, hooks):
        import torch
        from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition
        from diffusers.pipelines.ltx2.pipeline_ltx2_ic_lora import LTX2ReferenceCondition
        from diffusers.pipelines.ltx2.utils import DEFAULT_NEGATIVE_PROMPT

        frames = list(request.controls[self.control])
        model_frames = self.model_frames(request.num_frames)
        video = frames + [frames[-1]] * (model_frames - len(frames))
        if (request.width // self.downscale) % SPATIAL_FACTOR or (request.height // self.downscale) % SPATIAL_FACTOR:
            raise ValueError(f"{self.name} needs --size sides in multiples of {SPATIAL_FACTOR * self.downscale}, "
                             f"not {request.width}x{request.height}")
        image, strength, source = self.first_frame(request)
        conditions = [LTX2VideoCondition(frames=image, index=0, strength=strength, crf=self.crf)] if image else None
        attention = min(1.0, float(request.weights[self.control]))
        fps = float(request.fps or DEFAULT_FPS)
        self.settings = {**self.settings, "frame_rate": fps, "conditioning_attention_strength": attention,
                         "first_frame": source, "first_frame_strength": strength if image else None,
                         "default_negative_prompt": not request.negative_prompt}
        self.notes = TakeNotes(ignored=[AUDIO_NOTE] + self.unused_references(request, source))

        hooks.check_cancel()
        result = self.pipe(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or DEFAULT_NEGATIVE_PROMPT,
            reference_conditions=[LTX2ReferenceCondition(frames=video, strength=1.0)],
            conditions=conditions,
            reference_downscale_factor=self.downscale,
            conditioning_attention_strength=attention,
            height=request.height,
            width=request.width,
            num_frames=model_frames,
            frame_rate=fps,
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
            generator=torch.Generator("cpu").manual_seed(request.seed),
            output_type="latent",   # the video latents only: the soundtrack is left undecoded
            callback_on_step_end=hooks.step_end_callback(),
        )
        made = self.decode(result.frames)
        if len(made) != model_frames:
            raise RuntimeError(f"{self.name} made {len(made)} frames for {model_frames} control frames")
        return to_uint8_frames(made[: request.num_frames])

    def decode(self, latents):
        """The video VAE's frames (F, H, W, 3) in [0, 1] from the pipeline's denormalised latents, as its own
        decode step does them at decode_timestep 0 (no noise added)."""
        import torch

        vae = self.pipe.vae
        with torch.inference_mode():
            latents = latents.to(vae.dtype)
            timestep = (torch.zeros(latents.shape[0], device=latents.device, dtype=latents.dtype)
                        if vae.config.timestep_conditioning else None)
            video = vae.decode(latents, timestep, return_dict=False)[0]
            return self.pipe.video_processor.postprocess_video(video, output_type="np")[0]
