"""The previz network: a small pixel-space diffusion UNet (diffusers `UNet2DModel`) that
samples each object's colour on top of the shot's controls.

Input per frame, at a small native size with the shot's aspect: the noisy colour-ratio
image (3 channels) beside the controls (clay shading RGB, depth disparity, camera normals,
object outlines), ControlNet-style conditioning by concatenation. Output: v-prediction.
All frames of a take start from one noise image and their predictions are pooled per
object over the whole shot (engine.previz.appearance), which is what keeps consecutive
frames in agreement; the seed picks the look.

Weights are a folder saved with `save_pretrained`: unet/ (safetensors), scheduler/, and
previz.json (format version and how the model was trained).
"""

import json
import math
from pathlib import Path

import numpy as np

from ..bundle.backend_passes import PREVIZ_CONTROLS
from .appearance import object_edges

FORMAT = "blockcast.previz"
FORMAT_VERSION = 1
NATIVE_AREA = 112 * 64          # pixels per frame the network works at (112x64 for 16:9)
SIZE_MULTIPLE = 8               # three 2x downsamplings
CONTROL_KINDS = PREVIZ_CONTROLS  # shading, depth, normal, objects: the conditioning's channel order
CONDITION_CHANNELS = 8          # shading 3 + disparity 1 + normals 3 + object outlines 1
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# How much of each object's own sampled brightness to keep (0: all at the shot's mean). The
# blocking cannot know a material's brightness, so invented light/dark contrasts between
# objects only fight the shot's lighting; hue is where the model's choices go.
LUMINANCE_SPREAD = 0.25


def native_size(width, height):
    """(w, h) with the shot's aspect, about NATIVE_AREA pixels, multiples of SIZE_MULTIPLE."""
    aspect = width / height
    snap = lambda value: max(SIZE_MULTIPLE, int(value / SIZE_MULTIPLE + 0.5) * SIZE_MULTIPLE)  # noqa: E731
    return snap(math.sqrt(NATIVE_AREA * aspect)), snap(math.sqrt(NATIVE_AREA / aspect))


def unet_config(width=112, height=64):
    """The architecture: 4 levels (32-128 channels), self-attention at the coarsest, 3.7M parameters."""
    return dict(sample_size=(height, width), in_channels=3 + CONDITION_CHANNELS, out_channels=3,
                block_out_channels=(32, 64, 96, 128), layers_per_block=1, norm_num_groups=8,
                down_block_types=("DownBlock2D", "DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"),
                attention_head_dim=32)


def scheduler_config():
    return dict(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction",
                clip_sample=False)


def conditions(controls):
    """(F, CONDITION_CHANNELS, H, W) float32 in [-1, 1] from control images at the native size:
    {"shading", "depth", "normal": lists of RGB PIL images, "objects": list of 16-bit id images}."""
    shading = np.stack([np.asarray(image, np.float32) for image in controls["shading"]]) / 127.5 - 1
    depth = np.stack([np.asarray(image, np.float32)[..., :1] for image in controls["depth"]]) / 127.5 - 1
    normal = np.stack([np.asarray(image, np.float32) for image in controls["normal"]]) / 127.5 - 1
    ids = np.stack([np.asarray(image, np.int64) for image in controls["objects"]])
    outlines = object_edges(ids)[..., None].astype(np.float32) * 2 - 1
    return np.concatenate([shading, depth, normal, outlines], axis=-1).transpose(0, 3, 1, 2).copy()


def new_model():
    """A freshly initialised (unet, training scheduler) pair."""
    from diffusers import DDPMScheduler, UNet2DModel

    return UNet2DModel(**unet_config()), DDPMScheduler(**scheduler_config())


def save(folder, unet, scheduler, training, calibration=None):
    """Write the weights folder; `training` (data, steps, time, hardware) and `calibration`
    (see PrevizSampler.calibration) go into previz.json."""
    folder = Path(folder)
    unet.save_pretrained(folder / "unet", safe_serialization=True)
    scheduler.save_pretrained(folder / "scheduler")
    write_info(folder, training, calibration)


def write_info(folder, training, calibration=None):
    record = {"format": FORMAT, "format_version": FORMAT_VERSION, "native_area": NATIVE_AREA,
              "controls": list(CONTROL_KINDS), "training": training,
              "calibration": calibration or {"chroma_gain": 1.0, "luminance_gain": 1.0}}
    temp = Path(folder) / ".previz.json.partial"
    temp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    temp.replace(Path(folder) / "previz.json")


class PrevizSampler:
    """Loaded weights and the deterministic DDIM sampling loop."""

    def __init__(self, folder, device="cpu"):
        import torch
        from diffusers import DDIMScheduler, UNet2DModel

        folder = Path(folder)
        info_path = folder / "previz.json"
        if not info_path.is_file():
            raise ValueError(f"{folder} is not a previz model folder (no previz.json)")
        self.info = json.loads(info_path.read_text(encoding="utf-8"))
        if self.info.get("format") != FORMAT or self.info.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{folder} holds a previz model of another format "
                             f"({self.info.get('format')} v{self.info.get('format_version')}); this engine reads "
                             f"{FORMAT} v{FORMAT_VERSION}")
        self.unet = UNet2DModel.from_pretrained(folder / "unet", use_safetensors=True).to(device).eval()
        self.scheduler = DDIMScheduler.from_pretrained(folder / "scheduler")
        self.device = torch.device(device)

    @property
    def calibration(self):
        """appearance.calibrate's arguments: a few sampling steps pull colours towards the data's
        mean, so chroma and luminance gains fitted on training clips after training restore
        their spread; luminance_spread is LUMINANCE_SPREAD unless the weights say otherwise."""
        fitted = self.info.get("calibration", {})
        return {"chroma_gain": float(fitted.get("chroma_gain", 1.0)),
                "luminance_gain": float(fitted.get("luminance_gain", 1.0)),
                "luminance_spread": float(fitted.get("luminance_spread", LUMINANCE_SPREAD))}

    def sample(self, condition, seed, steps, on_step=lambda step, total: None, check_cancel=lambda: None,
               chunk=16):
        """(F, H, W, 3) encoded colour ratios for (F, C, H, W) conditions. One noise image for
        every frame of the shot, so frames of the same object start from the same place."""
        import torch

        frames, _, height, width = condition.shape
        generator = torch.Generator("cpu").manual_seed(int(seed))
        noise = torch.randn((1, 3, height, width), generator=generator)
        sample = noise.expand(frames, -1, -1, -1).contiguous().to(self.device)
        condition = torch.from_numpy(condition).to(self.device)
        self.scheduler.set_timesteps(steps)
        with torch.inference_mode():
            for index, timestep in enumerate(self.scheduler.timesteps):
                check_cancel()
                prediction = torch.cat([
                    self.unet(torch.cat([sample[i:i + chunk], condition[i:i + chunk]], dim=1), timestep).sample
                    for i in range(0, frames, chunk)])
                sample = self.scheduler.step(prediction, timestep, sample, eta=0.0).prev_sample
                on_step(index + 1, len(self.scheduler.timesteps))
        return sample.clamp(-1, 1).permute(0, 2, 3, 1).cpu().numpy()
