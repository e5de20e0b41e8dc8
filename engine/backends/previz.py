"""`previz`: Blockcast's embedded model — runs on a CPU, needs no download, the default.

It reads the blocking's own passes (clay shading, depth, normals, object ids), samples a
colour for every object with a small diffusion UNet at about 112x64, and composes the
frames at the shot's size as clay shading x object colour: silhouettes, shadows and light
stay exactly the blocking's, each object keeps one colour across the shot, and the seed
picks the look. It has no text encoder: the prompt is recorded, not used.
"""

import numpy as np
from PIL import Image

from ..imaging import resize_cover
from ..previz import appearance
from ..previz.model import CONTROL_KINDS, WEIGHTS_DIR, native_size
from .base import Backend, ModelRole, snap

MAX_LONG_SIDE = 1920


class PrevizBackend(Backend):
    name = "previz"
    description = ("Blockcast's embedded previz model (3.7M parameters, runs on a CPU): a colour per object "
                   "on the shot's clay shading; ignores the prompt")
    controls = CONTROL_KINDS
    default_weights = {kind: 1.0 for kind in CONTROL_KINDS}
    required_controls = CONTROL_KINDS
    roles = (ModelRole("previz", str(WEIGHTS_DIR), "the previz UNet and scheduler, shipped with Blockcast"),)
    default_steps = 20
    default_guidance = 1.0
    size_multiple = 2
    default_long_side = MAX_LONG_SIDE

    def size_rule(self):
        return (f"frames composed at the shot's size (long side at most {MAX_LONG_SIDE}); "
                "the network itself runs at about 112x64 with the shot's aspect")

    def model_size(self, shot_w, shot_h, requested=None):
        if requested is None:
            scale = min(1.0, MAX_LONG_SIDE / max(shot_w, shot_h))
            requested = (shot_w * scale, shot_h * scale)
        return snap(requested[0], self.size_multiple), snap(requested[1], self.size_multiple)

    def load(self, models, controls, device):
        from ..previz.model import PrevizSampler

        self.sampler = PrevizSampler(models["previz"].path, device.kind)
        self.settings = {"dtype": "float32", "scheduler": "DDIM", "prompt": "not used (the seed picks the look)",
                         "trained": self.sampler.info.get("training", {}), "calibration": self.sampler.calibration}

    def generate(self, request, hooks):
        from ..previz.model import conditions

        width, height = native_size(request.width, request.height)
        self.settings["native_size"] = [width, height]
        small = {kind: [resize_cover(image, width, height, Image.NEAREST if kind == "objects" else Image.BICUBIC)
                        for image in request.controls[kind]] for kind in CONTROL_KINDS}
        encoded = self.sampler.sample(conditions(small), request.seed, request.steps, hooks.on_step,
                                      hooks.check_cancel)
        small_ids = np.stack([np.asarray(image, np.int64) for image in small["objects"]])
        ratios = appearance.calibrate(appearance.pool_by_object(encoded, small_ids), **self.sampler.calibration)
        frames = np.empty((request.num_frames, request.height, request.width, 3), np.uint8)
        for index, (clay, ids) in enumerate(zip(request.controls["shading"], request.controls["objects"])):
            hooks.check_cancel()
            frames[index] = appearance.compose(np.asarray(clay.convert("RGB")), np.asarray(ids, np.int64), ratios)
        return frames
