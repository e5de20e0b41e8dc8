"""`sana-wm`: SANA-WM (diffusers' SanaWMPipeline), a first frame moved along the shot's exact camera path.

The camera pass's per-frame poses and intrinsics become the pipeline's `c2w` and `intrinsics`
at the generation size (engine.camera_path, where each convention is traced to the pipeline's
code). The model makes 8k+1 frames (its LTX-2 VAE compresses time by 8): the path holds its
last pose past the shot's end and those frames are dropped. The public checkpoint was trained
at 1280x704 only, the default size; the shot is cover-fitted onto it like every control.

The first frame, the one picture the model sees, is the first of:
1. the shot's reference image (--reference, e.g. a frame of an accepted take);
2. the first cast reference image, in the cast's member order;
3. the previz look's first frame: the first frame of the `previz` take of the take's seed at the
   generation size (engine.backends.previz composes it: the cast's colours and the embedded
   model's choices on the clay, graded by the prompt's mood words), with the shading and objects passes;
4. the clay render's first frame (the shading control) when the bundle has no objects pass.
Which one was used is recorded in take.json (parameters.backend_settings.first_frame).
"""

from dataclasses import replace

import numpy as np
from PIL import Image

from ..bundle.take_record import TakeNotes
from ..camera_path import sana_camera_path
from ..imaging import resize_cover, to_uint8_frames
from ..previz.model import WEIGHTS_DIR
from .base import Backend, Hooks, ModelRole, snap
from .previz import PrevizBackend

TEMPORAL_FACTOR = 8
SPATIAL_FACTOR = 32
TRAINED_SIZE = (1280, 704)   # width, height: cam_utils.TARGET_WIDTH, TARGET_HEIGHT
CAMERA, SHADING, OBJECTS = "camera", "shading", "objects"   # the control kinds it takes
PREVIZ_LOOK, CLAY = "previz look, first frame", "shading pass, first frame"


def first_frame(request, previz_frame=None):
    """(source, PIL image at the generation size) by the module's rule; ValueError when none is given.
    previz_frame: request -> the previz take's first frame (uint8 array), None without the previz model."""
    if request.shot_reference is not None:
        source, image = "shot reference", request.shot_reference
    else:
        member = next((name for name, images in request.references.items() if images), None)
        if member is not None:
            source, image = f"cast reference of {member}", request.references[member][0]
        elif previz_frame is not None and request.controls.get(SHADING) and request.controls.get(OBJECTS):
            source, image = PREVIZ_LOOK, Image.fromarray(previz_frame(request))
        elif request.controls.get(SHADING):
            source, image = CLAY, request.controls[SHADING][0]
        else:
            raise ValueError("sana-wm needs a first frame: give the shot a reference image (--reference), a cast "
                             "member a reference, or re-export the bundle with --passes including shading,objects")
    return source, resize_cover(image.convert("RGB"), request.width, request.height)


class SanaWMBackend(Backend):
    name = "sana-wm"
    description = "SANA-WM 2.6B: a first frame moved along the shot's exact camera path (6-DoF, metric)"
    controls = (CAMERA, SHADING, OBJECTS)
    # camera: the path (its weight only switches it on: the pipeline has no camera strength);
    # shading and objects: without a reference, the first frame is the previz look on the first clay
    # frame (objects weight 0: the clay frame itself; shading weight 0: neither).
    default_weights = {CAMERA: 1.0, SHADING: 1.0, OBJECTS: 1.0}
    required_controls = (CAMERA,)
    roles = (
        ModelRole("pipeline", "Efficient-Large-Model/SANA-WM_bidirectional-diffusers",
                  "SANA-WM bidirectional: SanaWMTransformer3DModel, LTX-2 VAE, Gemma-2 text encoder, tokenizer, "
                  "scheduler"),
        ModelRole("previz", str(WEIGHTS_DIR), "the previz UNet, shipped with Blockcast: the look of the first frame "
                  "when no reference is given", control=OBJECTS),
    )
    default_steps = 60        # SanaWMPipeline.__call__'s defaults
    default_guidance = 5.0
    size_multiple = SPATIAL_FACTOR
    default_long_side = TRAINED_SIZE[0]
    frame_rule = (f"{TEMPORAL_FACTOR}k+1 frames: the camera path holds its last pose to the next "
                  f"{TEMPORAL_FACTOR}k+1 length and the extra frames are dropped")
    ignores = ()  # prompt, negative prompt, guidance and descriptions reach the model; references as first frame

    def size_rule(self):
        return (f"{TRAINED_SIZE[0]}x{TRAINED_SIZE[1]}, the one size the public checkpoint was trained at (the shot "
                f"is cover-fitted onto it); a --size is snapped to multiples of {SPATIAL_FACTOR} (experiments)")

    def model_size(self, shot_w, shot_h, requested=None):
        if requested is None:
            return TRAINED_SIZE
        return snap(requested[0], SPATIAL_FACTOR), snap(requested[1], SPATIAL_FACTOR)

    def model_frames(self, shot_frames):
        return (shot_frames - 1 + TEMPORAL_FACTOR - 1) // TEMPORAL_FACTOR * TEMPORAL_FACTOR + 1

    def load(self, models, controls, device):
        from diffusers import SanaWMPipeline

        dtype = device.dtype("bfloat16")
        path = models["pipeline"].path
        pipe = SanaWMPipeline.from_pretrained(path, dtype=dtype, use_safetensors=True)
        factors = (pipe.vae_temporal_compression_ratio, pipe.vae_spatial_compression_ratio)
        if factors != (TEMPORAL_FACTOR, SPATIAL_FACTOR):
            raise ValueError(f"{path} compresses time by {factors[0]} and space by {factors[1]}; "
                             f"{self.name} expects {TEMPORAL_FACTOR} and {SPATIAL_FACTOR}")
        pipe.set_progress_bar_config(disable=True)
        self.pipe = device.place(pipe)
        self.previz = None
        if OBJECTS in controls and "previz" in models:
            self.previz = PrevizBackend()
            self.previz.load(models, controls, device)
        self.settings = {"dtype": str(dtype).replace("torch.", ""), "scheduler": type(pipe.scheduler).__name__,
                         "camera_path": "c2w relative to the first frame, OpenCV axes, metres (engine/camera_path.py)"}

    notes = TakeNotes()
    previz = None  # the previz backend, loaded with the objects control: the first frame's look

    def take_notes(self):
        return self.notes

    def previz_frame(self, request, hooks):
        """The first frame of the previz take of the request's seed, at the generation size: the previz
        backend's own frame (look_colours, appearance.compose, its grade) at its default steps,
        graded by the shot's own prompt as a previz take is (not the actors' descriptions)."""
        one_frame = replace(request, prompt=request.shot_prompt if request.shot_prompt is not None else request.prompt,
                            steps=self.previz.default_steps, num_frames=1,
                            controls={kind: request.controls[kind][:1] for kind in (SHADING, OBJECTS)})
        return self.previz.generate(one_frame, Hooks(check_cancel=hooks.check_cancel))[0]  # its steps: no progress

    def pipeline_inputs(self, request, hooks=None):
        """The SanaWMPipeline arguments of a take (first frame, camera path, prompt, sizes), and
        what its take record says of them."""
        hooks = hooks or Hooks()
        look = None if self.previz is None else lambda req: self.previz_frame(req, hooks)
        source, image = first_frame(request, look)
        camera = request.controls[CAMERA]
        model_frames = self.model_frames(request.num_frames)
        path = sana_camera_path(camera["cameras"], *camera["export_size"], request.width, request.height, model_frames,
                                metres_per_unit=camera["metres_per_unit"])
        unused = [name for name, images in request.references.items() if images and source != f"cast reference of {name}"]
        previz = self.previz.notes if source == PREVIZ_LOOK else TakeNotes()
        self.notes = TakeNotes(look=previz.look, grade=previz.grade,
                               ignored=[f"{name}'s reference (sana-wm sees one picture, its first frame: "
                                        f"the {source})" for name in unused])
        self.settings = {**self.settings, "first_frame": source, "metres_per_unit": camera["metres_per_unit"],
                         "intrinsics_first_frame": [round(float(v), 4) for v in path["intrinsics"][0]],
                         "trained_size": list(TRAINED_SIZE) == [request.width, request.height]}
        return dict(image=image, prompt=request.prompt, negative_prompt=request.negative_prompt,
                    c2w=path["c2w"].astype(np.float32), intrinsics=path["intrinsics"].astype(np.float32),
                    height=request.height, width=request.width, num_frames=model_frames,
                    num_inference_steps=request.steps, guidance_scale=request.guidance)

    def generate(self, request, hooks):
        import torch

        inputs = self.pipeline_inputs(request, hooks)

        hooks.check_cancel()
        result = self.pipe(**inputs, generator=torch.Generator("cpu").manual_seed(request.seed), output_type="np",
                           callback_on_step_end=hooks.step_end_callback())
        made = np.asarray(result.frames)
        if len(made) != inputs["num_frames"]:
            raise RuntimeError(f"{self.name} made {len(made)} frames for a {inputs['num_frames']}-frame camera path")
        return to_uint8_frames(made[: request.num_frames])
