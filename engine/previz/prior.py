"""The model's own colour for an object nobody named: the previz UNet sampled on a fixed,
canonical shot, never on the shot being generated.

canonical.npz (beside the weights) holds two small blocked shots at the native size —
one framed on an actor ("actor"), one on a box prop ("prop"); rendered with
scripts/make_previz_dataset.py, seeds 980001 and 980003, frame 1, 112x64 — with their
controls and object ids, the target object and the other slots. For each object the
UNet samples that canonical shot from noise seeded by (look seed, object name), so the
colour depends on nothing else. The colours the cast fixes are painted into the other
slots and held there during sampling (RePaint: at every step the known slots are
replaced by the known colour noised to that step), so the model's choice fits them; a
choice closer than MIN_DELTA_E to one of them is drawn again (up to ATTEMPTS times).

The sampler (PriorSampling) is part of the look: takes and Variations run the same one, and
take.json records it (look.sampler), so a take made with another sampler stays explainable.

Every look is sampled on one CPU thread (`one_thread`): oneDNN's sums differ with the thread
count (up to 2e-6 in the UNet's output on this CPU), so a look does not depend on how many threads
its process runs, and one look per core at once (engine.variations) is about 1.45x faster on two
cores than one look on both. Each call makes its own scheduler (the multistep solver keeps state
between steps), so looks may run side by side in threads.
"""

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..looks.colour_space import hex_to_srgb8, linear_to_lab, linear_to_srgb, srgb8_to_hex, srgb8_to_lab, srgb_to_linear
from ..looks.measure import CLAY_ALBEDO, albedo_to_ratio
from ..looks.plan import object_seed
from . import appearance
from .model import WEIGHTS_DIR, conditions

CANONICAL_FILE = "canonical.npz"
MIN_DELTA_E = 20.0
ATTEMPTS = 3
BATCH = 16                          # canonical samples per UNet call
MAX_RATIO = 1.0 / CLAY_ALBEDO       # albedo 1: a take's colour can always be locked as #rrggbb


@dataclass(frozen=True)
class PriorSampling:
    """How the prior samples: the scheduler over the trained UNet (its own training schedule),
    its timestep spacing, and the canonical shot's size divisor (1: the native 112x64)."""
    scheduler: str = "ddim"          # "ddim" or "dpm++2m" (DPM-Solver++ multistep, second order)
    spacing: str = "leading"         # "trailing" starts few-step sampling at the last training step
    downscale: int = 1

    def make_scheduler(self, config):
        from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

        if self.scheduler == "ddim":
            return DDIMScheduler.from_config(config, timestep_spacing=self.spacing)
        return DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver++", solver_order=2,
                                                       timestep_spacing=self.spacing)

    def record(self, steps, size):
        """take.json's look.sampler: what made the model's colours."""
        from ..bundle.take_record import LookSampler

        return LookSampler(solver=self.scheduler, spacing=self.spacing, steps=int(steps), canonical_size=list(size))


# Issue #14: 6 DPM-Solver++ steps on the canonical shot at 56x32 cost about a tenth of 20 DDIM
# steps at 112x64, with the same spread of colours (docs/previz_model.md ▸ The prior's sampler).
DEFAULT_SAMPLING = PriorSampling("dpm++2m", "trailing", 2)
DEFAULT_STEPS = 6


def _downscaled(image, factor, nearest=False):
    """An (H, W, ...) canonical array at 1/factor size: box average, or the top-left pixel of each block."""
    if factor == 1:
        return image
    height, width = image.shape[0] // factor, image.shape[1] // factor
    blocks = image[:height * factor, :width * factor].reshape(height, factor, width, factor, *image.shape[2:])
    if nearest:
        return blocks[:, 0, :, 0]
    return np.rint(blocks.astype(np.float32).mean(axis=(1, 3))).astype(image.dtype)


def _downscaled_noise(noise, factor):
    """Unit-variance noise at 1/factor size from the full-size noise: each block's sum / factor."""
    if factor == 1:
        return noise
    batch, channels, height, width = noise.shape
    return noise.reshape(batch, channels, height // factor, factor, width // factor, factor).sum((3, 5)) / factor


@contextmanager
def one_thread():
    """Torch on one thread in this (calling) thread while a look is sampled, as before afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def thread_count_kept():
    """Torch's thread count as this thread has it, for it and for threads started later, after looks
    sampled side by side in other threads: every set_num_threads also sets the count new threads start
    with, so concurrent one_thread calls can leave it at 1 (a warm service's later takes on one core)."""
    import torch

    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _channels_last(unet):
    """The UNet's weights in channels-last order: 9-15 % less CPU a look at 56x32 on this CPU's
    oneDNN, the same colours for the seeds measured (docs/benchmarks.md ▸ Variations)."""
    import torch

    unet.to(memory_format=torch.channels_last)


class CanonicalShot:
    """One canonical frame: its conditions, object ids, target and the slots known colours go in."""

    def __init__(self, data, role, downscale=1):
        self.full_size = data[f"{role}_ids"].shape
        self.ids = _downscaled(data[f"{role}_ids"].astype(np.int64), downscale, nearest=True)
        self.target = int(data[f"{role}_target"])
        controls = {kind: [_downscaled(data[f"{role}_{kind}"], downscale)] for kind in ("shading", "normal")}
        controls["depth"] = [_downscaled(data[f"{role}_depth"][..., None], downscale)]
        controls["objects"] = [self.ids]
        self.condition = conditions(controls)
        actors = [int(k) for k in data[f"{role}_actor_ids"]]
        others = [int(k) for k in np.unique(self.ids) if k not in (0, self.target) and k not in actors]
        area = {k: int((self.ids == k).sum()) for k in others}
        self.slots = {"actor": actors, "prop": sorted(others, key=lambda k: (area[k], k))}

    def known_image(self, known):
        """(mask (H, W), encoded ratios (H, W, 3)) with each known colour painted into a slot of
        its role, in the given (name) order; colours beyond the free slots are left out."""
        free = {role: list(slots) for role, slots in self.slots.items()}
        mask, encoded = np.zeros(self.ids.shape, bool), np.zeros(self.ids.shape + (3,), np.float32)
        for _, role, colour in known:
            if not free[role]:
                continue
            slot = free[role].pop(0)
            ratio = albedo_to_ratio(srgb_to_linear(hex_to_srgb8(colour) / 255.0))
            mask |= self.ids == slot
            encoded[self.ids == slot] = appearance.encode_ratio(ratio)
        return mask, encoded


class ColourPrior:
    """Samples unnamed objects' colour ratios with a loaded PrevizSampler."""

    def __init__(self, sampler, folder, sampling=DEFAULT_SAMPLING):
        path = Path(folder) / CANONICAL_FILE
        with np.load(path if path.is_file() else WEIGHTS_DIR / CANONICAL_FILE) as data:
            self.shots = {role: CanonicalShot(data, role, sampling.downscale) for role in ("actor", "prop")}
        self.sampler, self.sampling = sampler, sampling
        self.scheduler_name = type(sampling.make_scheduler(sampler.scheduler.config)).__name__
        _channels_last(sampler.unet)

    def sampler_record(self, steps):
        """take.json's look.sampler for `steps` steps (the canonical shot's size as the UNet sees it)."""
        height, width = self.shots["actor"].ids.shape
        return self.sampling.record(steps, (width, height))

    def _sample(self, items, steps, each_step, chunk=None):
        """Encoded ratios (H, W, 3) per item (shot, known mask, known encoded, seed), sampled in
        batches with each item's known slots held (RePaint); each item's noise is its own seed's."""
        results = []
        chunk = chunk or BATCH
        for first in range(0, len(items), chunk):
            results.extend(self._sample_batch(items[first:first + chunk], steps, each_step))
        return results

    def _sample_batch(self, items, steps, each_step):
        import torch

        unet, device = self.sampler.unet, self.sampler.device
        scheduler = self.sampling.make_scheduler(self.sampler.scheduler.config)
        noises, known_noises, factor = [], [], self.sampling.downscale
        for shot, _, _, seed in items:
            generator = torch.Generator("cpu").manual_seed(seed)
            shape = (1, 3) + shot.full_size  # drawn at the native size, so every size starts from the same noise
            noises.append(_downscaled_noise(torch.randn(shape, generator=generator), factor))
            known_noises.append(_downscaled_noise(torch.randn(shape, generator=generator), factor))
        noise, known_noise = torch.cat(noises).to(device), torch.cat(known_noises).to(device)
        mask = torch.from_numpy(np.stack([m for _, m, _, _ in items]))[:, None].to(device)
        known = torch.from_numpy(np.stack([e for _, _, e, _ in items]).transpose(0, 3, 1, 2).copy()).to(device)
        condition = torch.from_numpy(np.concatenate([shot.condition for shot, _, _, _ in items])).to(device)
        scheduler.set_timesteps(steps)
        timesteps = scheduler.timesteps
        sample = torch.where(mask, scheduler.add_noise(known, known_noise, timesteps[:1]), noise)
        with torch.inference_mode():
            for index, timestep in enumerate(timesteps):
                prediction = unet(torch.cat([sample, condition], dim=1), timestep).sample
                sample = scheduler.step(prediction, timestep, sample).prev_sample
                held = (scheduler.add_noise(known, known_noise, timesteps[index + 1:index + 2])
                        if index + 1 < len(timesteps) else known)
                sample = torch.where(mask, held, sample)
                each_step()
        return list(sample.clamp(-1, 1).permute(0, 2, 3, 1).cpu().numpy())

    def _ratio(self, shot, encoded):
        """The target's calibrated ratio, calibrated against the canonical shot's own objects."""
        pooled = appearance.pool_by_object(encoded[None], shot.ids[None])
        calibrated = appearance.calibrate(pooled, **self.sampler.calibration)
        return np.clip(calibrated[shot.target], 0.0, MAX_RATIO)

    def choose(self, looks, known, steps, on_step=lambda step, total: None, check_cancel=lambda: None):
        """{object name: '#rrggbb' albedo} for `looks` (engine.looks.plan.ObjectLook, colour None),
        conditioned on `known` ([(name, role, '#rrggbb')], scene-wide, from LookPlan.known)."""
        known_labs = [srgb8_to_lab(hex_to_srgb8(colour)) for _, _, colour in known]
        chunks = -(-len(looks) // BATCH)
        progress, first_round = [0, steps * chunks], [True]

        def each_step():
            check_cancel()
            if first_round[0]:
                progress[0] += 1
                on_step(*progress)

        setups = {}
        for look in looks:
            shot = self.shots[look.role]
            setups[look.name] = (shot, *shot.known_image([entry for entry in known if entry[0] != look.name]))
        best, waiting = {}, list(looks)
        for attempt in range(ATTEMPTS):
            items = [(*setups[look.name], object_seed(look.look_seed, look.name, f"prior-{attempt}"))
                     for look in waiting]
            with one_thread():
                sampled = self._sample(items, steps, each_step) if items else []
            first_round[0] = False
            still = []
            for look, encoded in zip(waiting, sampled):
                albedo = np.clip(self._ratio(setups[look.name][0], encoded) * CLAY_ALBEDO, 0, 1)
                distance = min((float(np.linalg.norm(linear_to_lab(albedo) - lab)) for lab in known_labs),
                               default=np.inf)
                if look.name not in best or distance > best[look.name][1]:
                    best[look.name] = (albedo, distance)
                if distance < MIN_DELTA_E:
                    still.append(look)
            waiting = still
        chosen = {name: srgb8_to_hex(linear_to_srgb(albedo) * 255) for name, (albedo, _) in best.items()}
        return chosen
