"""A plug-in backend for the tests: grey frames brightened by the depth control.

It needs no weights, so the shared backend contract runs over it like any built-in backend.
"""

import numpy as np

from engine.backends import Backend


class FlatGreyBackend(Backend):
    name = "flat-grey"
    description = "test plug-in: the depth control as grey frames"
    controls = ("depth",)
    default_weights = {"depth": 1.0}
    required_controls = ("depth",)
    default_steps = 3
    default_guidance = 1.0
    size_multiple = 4
    default_long_side = 64

    def load(self, models, controls, device):
        self.settings = {"dtype": "uint8"}

    def generate(self, request, hooks):
        rng = np.random.default_rng(request.seed)
        frames = np.stack([np.asarray(image.convert("RGB"), np.uint8) for image in request.controls["depth"]])
        for step in range(1, request.steps + 1):
            hooks.check_cancel()
            hooks.on_step(step, request.steps)
        noise = rng.integers(0, 8, size=(1, 1, 1, 3), dtype=np.uint8)
        return frames // 2 + noise
