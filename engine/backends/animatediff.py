"""`animatediff`: SD 1.5 + AnimateDiff motion adapter + MultiControlNet (depth, OpenPose).

The motion adapter was trained on 16-frame clips. Longer shots use FreeNoise (diffusers'
`enable_free_noise`): every denoising step runs the motion modules over overlapping
16-frame windows and blends them, so the shot is one continuous take rather than clips
cut together. With an init video (the bundle's shading pass) the video-to-video ControlNet
pipeline starts from the blocking's own lighting, noised to `strength`.

The cast's reference images steer identity through one SD 1.5 IP-Adapter holding one
image per cast member (all of a member's references share its weight), each masked to the
member's pixels in the objects pass, frame by frame (diffusers' IP-Adapter masking); the
shot's reference covers the pixels no referenced member does. The adapter loads, from a
folder laid out like h94/IP-Adapter, only for takes that carry references.
"""

from ..bundle.take_record import TakeNotes
from ..imaging import to_uint8_frames
from .base import Backend, ModelRole
from .references import ip_adapter_inputs, reference_notes

CONTEXT_LENGTH = 16
CONTEXT_STRIDE = 4
# The SD 1.5 IP-Adapter inside h94/IP-Adapter (or a local folder with the same layout) and
# its ViT-H image encoder in the image_encoder folder next to it.
IP_ADAPTER_SUBFOLDER = "models"
IP_ADAPTER_WEIGHTS = "ip-adapter_sd15.safetensors"
IP_ADAPTER_ENCODER = "image_encoder"
IP_ADAPTER_SCALE = 0.6   # reference against prompt: 1.0 follows the image alone, ~0.5 balances both


def plan_windows(num_frames, context_length=CONTEXT_LENGTH, stride=CONTEXT_STRIDE):
    """The [start, end) windows FreeNoise processes, as diffusers' FreeNoiseTransformerBlock
    forms them: every `stride` frames, plus a last window flush with the end."""
    if num_frames <= context_length:
        return [(0, num_frames)]
    windows = [(start, start + context_length) for start in range(0, num_frames - context_length + 1, stride)]
    if windows[-1][1] != num_frames:
        windows.append((num_frames - context_length, num_frames))
    return windows


# Model CPU offload order: the ControlNets sit in the chain just before the UNet they feed.
OFFLOAD_SEQUENCE = "text_encoder->image_encoder->controlnet->unet->vae"


class AdapterSettings:
    """What the pipelines still read of the motion adapter once the UNetMotionModel holds its
    weights: its config (FreeNoise checks motion_max_seq_length). Kept in the adapter's place,
    it is no torch module, so moving or offloading the pipeline no longer carries the
    adapter's own copy of the motion modules (0.83 GB in float16 for v1-5-3)."""

    def __init__(self, config):
        self.config = config


def disable_free_noise(pipe):
    """diffusers' `disable_free_noise()` for every motion adapter: diffusers 0.42.1's walks the
    UNet's mid block even when it has no motion module (AnimateDiff v1-5-3, our default) and
    fails there, so this restores only the blocks that have motion modules, and does nothing
    when FreeNoise is off (every shot of 16 frames or fewer that follows another such shot)."""
    if not pipe.free_noise_enabled:
        return
    pipe._free_noise_context_length = None
    unet = pipe.unet
    for block in [*unet.down_blocks, unet.mid_block, *unet.up_blocks]:
        if getattr(block, "motion_modules", None) is not None:
            pipe._disable_free_noise_in_block(block)


def swap_controlnet_with_unet(pipe):
    """Under model CPU offload, make the ControlNets and the UNet take turns on the GPU.

    In OFFLOAD_SEQUENCE the UNet's hook sends the ControlNets back to the CPU before the UNet
    runs; this adds the other half (the ControlNets send the UNet back before they run), so
    the GPU holds one of them at a time instead of both, at the cost of moving both every step.
    Does nothing without offload hooks."""
    hooks = {id(hook.model): hook for hook in getattr(pipe, "_all_hooks", None) or ()}
    unet_hook = hooks.get(id(pipe.unet))
    if unet_hook is None or id(pipe.controlnet) not in hooks:
        return

    def send_unet_back(_module, _args):
        if next(pipe.unet.parameters()).device.type != "cpu":
            unet_hook.offload()

    pipe.controlnet.register_forward_pre_hook(send_unet_back)


class AnimateDiffBackend(Backend):
    name = "animatediff"
    description = ("SD 1.5 + AnimateDiff motion adapter + MultiControlNet (depth, OpenPose); "
                   "FreeNoise windows past 16 frames; optional init video from the shading pass")
    controls = ("depth", "pose")
    default_weights = {"depth": 1.0, "pose": 1.0}
    roles = (
        ModelRole("base", "stable-diffusion-v1-5/stable-diffusion-v1-5",
                  "SD 1.5 base: UNet, VAE, CLIP text encoder, tokenizer, scheduler"),
        ModelRole("motion_adapter", "guoyww/animatediff-motion-adapter-v1-5-3", "AnimateDiff motion adapter"),
        ModelRole("controlnet_depth", "lllyasviel/control_v11f1p_sd15_depth", "depth ControlNet 1.1", "depth"),
        ModelRole("controlnet_pose", "lllyasviel/control_v11p_sd15_openpose", "OpenPose ControlNet 1.1", "pose"),
        ModelRole("ip_adapter", "h94/IP-Adapter",
                  f"SD 1.5 IP-Adapter ({IP_ADAPTER_SUBFOLDER}/{IP_ADAPTER_WEIGHTS}) and its image encoder "
                  f"({IP_ADAPTER_SUBFOLDER}/{IP_ADAPTER_ENCODER}), for cast reference images", "references"),
    )
    # Built, with no weight, for takes with cast references when the bundle has the pass:
    # the objects pass gives each member's attention mask (without it, every reference
    # covers the whole frame, and take.json says so).
    reference_controls = ("objects",)
    ignores = ()  # prompt, negative prompt, guidance, descriptions and references all reach the model
    size_multiple = 8
    default_long_side = 512
    frame_rule = (f"any number of frames; past {CONTEXT_LENGTH}, overlapping {CONTEXT_LENGTH}-frame "
                  f"FreeNoise windows every {CONTEXT_STRIDE} frames")
    supports_init_video = True

    def windows(self, num_frames):
        return plan_windows(num_frames)

    def load(self, models, controls, device):
        from diffusers import AnimateDiffControlNetPipeline, ControlNetModel, DDIMScheduler, MotionAdapter
        from diffusers.models.controlnets import MultiControlNetModel

        if not controls:
            raise ValueError(f"{self.name} needs a control ({', '.join(self.controls)}) with a weight above 0")
        common = {"dtype": device.dtype("float16"), "use_safetensors": True}
        adapter = MotionAdapter.from_pretrained(models["motion_adapter"].path, **common)
        self.control_order = list(controls)
        nets = [ControlNetModel.from_pretrained(models[f"controlnet_{kind}"].path, **common) for kind in controls]
        pipe = AnimateDiffControlNetPipeline.from_pretrained(
            models["base"].path, motion_adapter=adapter, controlnet=MultiControlNetModel(nets), **common)
        # The scheduler settings AnimateDiff was trained and documented with.
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config, clip_sample=False, steps_offset=1,
                                                   timestep_spacing="linspace", beta_schedule="linear")
        self.has_ip_adapter = "ip_adapter" in models
        if self.has_ip_adapter:
            # Before placing: the image encoder and the new attention processors move with the pipe.
            pipe.load_ip_adapter(str(models["ip_adapter"].path), subfolder=IP_ADAPTER_SUBFOLDER,
                                 weight_name=IP_ADAPTER_WEIGHTS, image_encoder_folder=IP_ADAPTER_ENCODER,
                                 local_files_only=True)
        # Its weights now live in the UNetMotionModel: a second copy would only be moved and offloaded too.
        pipe.register_modules(motion_adapter=AdapterSettings(adapter.config))
        del adapter
        # The ControlNets run beside the UNet every step; in the chain, model CPU offload swaps them in turn.
        pipe.model_cpu_offload_seq = OFFLOAD_SEQUENCE
        self.pipe = device.place(pipe)
        swap_controlnet_with_unet(self.pipe)
        self._video_pipe = None
        self.settings = {"dtype": str(common["dtype"]).replace("torch.", ""),
                         "scheduler": type(pipe.scheduler).__name__, "controlnets": self.control_order,
                         "free_noise": {"context_length": CONTEXT_LENGTH, "context_stride": CONTEXT_STRIDE}}

    def video_pipe(self):
        """The video-to-video ControlNet pipeline, sharing every loaded module with the main one."""
        if self._video_pipe is None:
            from diffusers import AnimateDiffVideoToVideoControlNetPipeline

            self._video_pipe = AnimateDiffVideoToVideoControlNetPipeline.from_pipe(self.pipe)
            self._video_pipe.set_progress_bar_config(disable=True)
        return self._video_pipe

    notes = TakeNotes()  # what the last take left out of the references

    def take_notes(self):
        return self.notes

    def generate(self, request, hooks):
        import torch

        pipe = self.video_pipe() if request.init_video is not None else self.pipe
        # FreeNoise swaps the motion modules' blocks in place (they are shared between both
        # pipelines), so set it on the pipeline about to run, every time.
        if request.num_frames > CONTEXT_LENGTH:
            pipe.enable_free_noise(context_length=CONTEXT_LENGTH, context_stride=CONTEXT_STRIDE)
        else:
            disable_free_noise(pipe)

        arguments = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt or None,
            "conditioning_frames": [request.controls[kind] for kind in self.control_order],
            "controlnet_conditioning_scale": [float(request.weights[kind]) for kind in self.control_order],
            "num_inference_steps": request.steps,
            "guidance_scale": request.guidance,
            "width": request.width,
            "height": request.height,
            "generator": torch.Generator("cpu").manual_seed(request.seed),
            "output_type": "np",
            "callback_on_step_end": hooks.step_end_callback(),
        }
        self.notes = TakeNotes()
        arguments.update(self.reference_arguments(pipe, request))
        hooks.check_cancel()
        if request.init_video is not None:
            result = pipe(video=request.init_video, strength=request.strength, **arguments)
        else:
            result = pipe(num_frames=request.num_frames, **arguments)
        return to_uint8_frames(result.frames[0])

    def reference_arguments(self, pipe, request):
        """The IP-Adapter call arguments for the cast's references: one adapter image per
        reference, its member's per-frame mask, and a scale per image so that a member with
        several references gets IP_ADAPTER_SCALE in all. None when no adapter is loaded."""
        import torch
        from diffusers.image_processor import IPAdapterMaskProcessor
        from PIL import Image

        if not self.has_ip_adapter:
            if request.references or request.shot_reference is not None:
                raise ValueError(f"{self.name} takes cast reference images through its ip_adapter model, which "
                                 "was not loaded: resolve the models with required_roles(controls + ['references'])")
            return {}
        images, owners, masks, absent = ip_adapter_inputs(request, request.controls.get("objects"))
        unmasked = bool(request.references) and "objects" not in request.controls
        self.notes = reference_notes(absent, whole_frame=unmasked)
        self.settings = {**self.settings, "ip_adapter_scale": IP_ADAPTER_SCALE if images else 0.0,
                         "references": {name: owners.count(name) for name in dict.fromkeys(owners) if name},
                         "shot_reference": "" in owners, "references_not_in_shot": absent,
                         "reference_masks": "whole frame" if unmasked else "objects pass"}
        if not images:  # no reference for anyone in the shot: a loaded adapter still needs an image
            pipe.set_ip_adapter_scale(0.0)
            return {"ip_adapter_image": [[Image.new("RGB", (request.width, request.width), (128, 128, 128))]]}
        pipe.set_ip_adapter_scale([[IP_ADAPTER_SCALE / owners.count(owner) for owner in owners]])
        frames, count, height, width = masks.shape
        flat = [Image.fromarray((plane * 255).astype("uint8")) for plane in masks.reshape(-1, height, width)]
        processed = IPAdapterMaskProcessor().preprocess(flat, height=height, width=width)
        processed = processed.reshape(frames, count, *processed.shape[-2:])
        # The UNet sees the frames as one batch, unconditional copy first under guidance.
        copies = 2 if request.guidance > 1 else 1
        return {"ip_adapter_image": [images],
                "cross_attention_kwargs": {"ip_adapter_masks": [torch.cat([processed] * copies)]}}
