"""One `variations` command: checked up front like `generate`, then one model load and one look per seed.

Each variation's look comes from the very call a full take makes (the previz backend's
`look_colours`, with the request a take at that seed gets), so `generate --seed <seed>` with the
same bundle and flags gives a take whose take.json `look.objects` is the variation's `look`. What
the look costs is the prior's UNet on its canonical shot, a batch of the scene's undecided objects
per seed, exactly as the take batches it: batching several seeds together would change the
floating-point sums slightly and could move a colour by one 8-bit step. Instead the seeds' looks
run side by side, one per CPU thread (look_workers), each on one torch thread as every look is
(engine.previz.prior.one_thread), with its tile. Tiles cost little: the key frames' clay and ids
are read once and each variation only paints them (engine.variations.tiles).
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from .. import backends
from ..backends.base import Hooks, Request
from ..backends.device import pick_device
from ..backends.previz import colour_ratios
from ..bundle import events
from ..bundle.request import MAX_SEED, RequestUsageError
from ..bundle.variations_record import (DEFAULT_COUNT, DEFAULT_KEY_FRAMES, DEFAULT_TILE_WIDTH, SHEET_FILE,
                                        Variation, VariationsBundle, VariationsRecord, VariationsTimings, tile_name)
from ..generate import Generation, RequestError, bundle_hash
from ..looks.mood import grade_for
from ..previz.prior import thread_count_kept
from ..progress import Cancelled
from .folder import VariationsWriter
from .tiles import KeyFrames, contact_sheet, key_frame_numbers, reference_statistics, tile_height

MAX_COUNT = 1000


def look_workers(device, count):
    """Looks made at once: one per CPU thread torch would use (each look samples on one thread,
    engine.previz.prior.one_thread), a single one on a GPU, which runs them in turn anyway."""
    return max(1, min(device.probe.cpu_threads if device.kind == "cpu" else 1, count))


class Variations:
    """`count` looks of one shot from seed request.seed on; the constructor checks everything cheap."""

    def __init__(self, request, bundle, out, progress, cancel, count=DEFAULT_COUNT, key_frames=DEFAULT_KEY_FRAMES,
                 tile_width=DEFAULT_TILE_WIDTH, loaded_backends=None):
        if request.takes != 1:
            raise RequestUsageError("--takes does not apply to variations: --count says how many looks to make")
        if not 1 <= count <= MAX_COUNT:
            raise RequestUsageError(f"--count {count} is outside 1..{MAX_COUNT}")
        if not 0 <= request.seed <= MAX_SEED - (count - 1):
            raise RequestUsageError(f"--seed {request.seed} is out of range: variation k uses --seed + k, "
                                    f"up to {MAX_SEED}")
        if not 16 <= tile_width <= 1024:
            raise RequestUsageError(f"--tile-width {tile_width} is outside 16..1024 px")
        if getattr(backends.create(request.backend_name), "look_colours", None) is None:
            raise RequestError(f"--backend {request.backend_name} has no quick looks to show as variations: "
                               "make K full takes instead, one seed each (generate --takes K; in Blender, "
                               "Generate with Takes = K)")
        self.generation = Generation(request, bundle, out, progress, cancel,  # generate's own checks
                                     loaded_backends=loaded_backends)  # a warm service's backends
        self.backend, self.bundle = self.generation.backend, self.generation.bundle
        if not 1 <= key_frames <= len(self.bundle.frames):
            raise RequestUsageError(f"--key-frames {key_frames} is outside 1..{len(self.bundle.frames)} "
                                    "(the shot's frames)")
        self.request, self.progress, self.cancel = request, progress, cancel
        self.seeds = [request.seed + index for index in range(count)]
        self.key_frames, self.tile_width = key_frame_numbers(self.bundle.frames, key_frames), tile_width
        self.current_take = None  # the variations folder being made, for cancel reports (as Generation's)

    def run(self):
        """Make every variation and return the finished folder; Cancelled after cleaning up."""
        started_all = time.perf_counter()
        generation, backend, request = self.generation, self.backend, self.request
        self.cancel.check()
        self.device = device = pick_device(request.device, request.offload, request.vae_tiling, request.vae_slicing)
        self.progress.emit(events.LoadEvent(backend=backend.name, device=device.name,
                                            models={role: m.source for role, m in generation.models.items()}))
        started = time.perf_counter()
        self.backend = backend = generation._loaded_backend(device)  # generate's load (or a warm service's)
        load_s = time.perf_counter() - started
        for note in generation.lens.notes:
            self.progress.emit(events.WarningEvent(message=note))
        if generation.lens.active:
            self.progress.emit(events.WarningEvent(message="tiles are sharp: the picked take's frames get the "
                                                           "lens (depth of field, motion blur)"))
        if self.bundle.cast.look_seed is not None:
            self.progress.emit(events.WarningEvent(message="the cast locks its look seed, so every variation has "
                                                           "the same look: unlock it in the Cast panel to vary it"))
        with VariationsWriter(generation.out, self.seeds[0]) as folder:
            self.current_take = folder.name
            record = self._make(folder, load_s, started_all)
            path = folder.commit(record)
        self.current_take = None
        return path

    def _make(self, folder, load_s, started_all):
        generation, bundle, inputs = self.generation, self.bundle, self.generation.cast_inputs
        width, height = generation.size
        steps = self.request.steps or self.backend.default_steps
        keys = KeyFrames(bundle, self.key_frames, width, height)
        grade = grade_for(generation.prompt)[0]
        reference_stats = reference_statistics(inputs.shot_reference)
        lock, done_steps, stopping = threading.Lock(), [0], threading.Event()

        def check_cancel():
            if stopping.is_set():
                raise Cancelled("another variation failed")
            self.cancel.check()

        def on_step(step, total):
            with lock:
                done_steps[0] += 1
                self.progress.emit(events.StepEvent(take=folder.name, step=done_steps[0],
                                                    total=total * len(self.seeds)))

        def make(seed):
            """(Variation, tile, look seconds, tile seconds) for one seed: the look a take at that seed gets."""
            check_cancel()
            started = time.perf_counter()
            take_inputs = Request(
                prompt=generation.prompt, negative_prompt=self.request.negative_prompt, seed=seed, steps=steps,
                guidance=self.backend.default_guidance, weights=generation.weights, controls={},
                num_frames=len(bundle.frames), width=width, height=height, cast=bundle.cast,
                object_names=inputs.object_names, references=inputs.references, shot_reference=inputs.shot_reference)
            _, colours = self.backend.look_colours(take_inputs, Hooks(on_step=on_step, check_cancel=check_cancel))
            looked = time.perf_counter()
            tile = keys.tile(keys.frames(colour_ratios(inputs.object_names, colours), grade, reference_stats),
                             self.tile_width)
            variation = Variation(seed=seed, tile=folder.write_image(tile_name(seed), tile), look=dict(colours))
            return variation, tile, looked - started, time.perf_counter() - looked

        workers = look_workers(self.device, len(self.seeds))
        sample_s, compose_s, variations, tiles = 0.0, 0.0, [], []
        with thread_count_kept(), ThreadPoolExecutor(max_workers=workers, thread_name_prefix="look") as pool:
            futures = [pool.submit(make, seed) for seed in self.seeds]
            try:
                for index, future in enumerate(futures):
                    variation, tile, look_s, tile_s = future.result()
                    variations.append(variation)
                    tiles.append(tile)
                    sample_s, compose_s = sample_s + look_s, compose_s + tile_s
                    with lock:
                        self.progress.emit(events.VariationEvent(index=index, count=len(self.seeds),
                                                                 seed=variation.seed, tile=variation.tile))
            except BaseException:
                stopping.set()  # the other workers stop at their next step
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        started = time.perf_counter()
        folder.write_image(SHEET_FILE, contact_sheet(tiles, self.seeds))
        compose_s += time.perf_counter() - started
        return VariationsRecord(
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"), backend=self.backend.name,
            bundle=VariationsBundle(path=str(bundle.root.resolve()), hash=bundle_hash(bundle), shot=bundle.name),
            prompt=self.request.prompt, key_frames=list(self.key_frames),
            tile_size=[self.tile_width, tile_height(self.tile_width, bundle.width, bundle.height)],
            sheet=SHEET_FILE, variations=variations, sampler=self.backend.look_sampler(steps).to_json(),
            timings=VariationsTimings(load_s=round(load_s, 4), sample_s=round(sample_s, 4),
                                      compose_s=round(compose_s, 4), workers=workers,
                                      total_s=round(time.perf_counter() - started_all, 4)))
