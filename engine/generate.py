"""From a bundle to takes: validate everything cheap first, then load once, then one take
per seed.

Order matters for the user: a bad bundle, an unknown control, an unwritable output folder
or a missing model fails in a second, before minutes of model loading. Each take is
written through engine.takes (whole or not at all); a cancel stops at the next denoising
step, removes the take being made and keeps the finished ones.
"""

import hashlib
import json
import platform
import time
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from PIL import Image

from . import __version__, backends, controls
from .backends.base import Hooks, Request
from .backends.device import pick_device
from .backends.models import ModelError, model_specs, resolve_model
from .bundle import BundleError, events, read_bundle, validate_bundle
from .bundle.schema import CONTROLS_DIR
from .carry_over import CarryOverError, carry_over_files, read_carry_over
from .bundle.take_record import (SHOT_REFERENCE_FILE, ContinuedFrom, DeviceRecord, ShotReference, TakeBundle,
                                 TakeLens, TakeParameters, TakeRecord, TakeTimings)
from .imaging import resize_cover
from .lens.take import plan_take_lens, take_lens_record
from .looks.inputs import read_cast_inputs, unused_by_backend
from .takes import TakeWriter, check_takes_dir

ASPECT_TOLERANCE = 0.02


class RequestError(Exception):
    """The request does not fit the backend or the bundle; the message says what to change."""


def read_cast_inputs_or_refuse(bundle, reference):
    """The cast's reference images and the shot's, checked (RequestError) before any model loads."""
    try:
        return read_cast_inputs(bundle, reference)
    except ValueError as exc:
        raise RequestError(str(exc)) from None


def compose_prompt(prompt, actors):
    """The shot's prompt followed by each actor's description, in the bundle's actor order:
    the artist describes who is in the shot once, on the actor, not again in every prompt."""
    parts = [prompt.strip()] + [actor.description.strip() for actor in actors]
    return ", ".join(part for part in parts if part)


def open_bundle(path):
    """The bundle, or BundleError listing every problem validate_bundle found."""
    problems = validate_bundle(path)
    if problems:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise BundleError(f"bundle {path} is not valid ({len(problems)} problem(s)):\n{listing}")
    return read_bundle(path)


def _passes_of(kinds):
    """The bundle passes the controls `kinds` are made from, each once."""
    return list(dict.fromkeys(name for kind in kinds for name in controls.needed_passes(kind)))


def choose_weights(backend, bundle, requested):
    """The controls this take uses, with their weights (0 drops a control)."""
    if requested is None:
        weights = {kind: w for kind, w in backend.default_weights.items() if not controls.missing_passes(bundle, kind)}
    else:
        unknown = sorted(set(requested) - set(backend.controls))
        if unknown:
            raise RequestError(f"backend {backend.name} takes no {', '.join(unknown)} control: "
                               f"it takes {', '.join(backend.controls)}")
        weights = {kind: float(w) for kind, w in requested.items() if float(w) > 0}
        zeroed = [kind for kind in backend.required_controls if requested.get(kind) == 0]
        if zeroed:
            raise RequestError(f"{backend.name} cannot work without its {', '.join(zeroed)} control(s), and weight 0 "
                               f"drops a control: give {', '.join(zeroed)} a weight above 0 (e.g. "
                               f"--control {zeroed[0]}=1.0), or leave --control out for {backend.name}'s defaults")
        for kind in weights:
            lacking = controls.missing_passes(bundle, kind)
            if lacking:
                raise RequestError(f"the {kind} control needs the bundle's {' and '.join(lacking)} pass, which "
                                   f"{bundle.root} lacks: re-export with it or drop --control {kind}")
    missing = [kind for kind in backend.required_controls if kind not in weights]
    if missing and not any(controls.missing_passes(bundle, kind) for kind in missing):
        raise RequestError(f"{backend.name} needs the {', '.join(missing)} control(s) too: add them to --control, "
                           f"or leave --control out for {backend.name}'s defaults")
    if missing:
        passes = ",".join(_passes_of(backend.required_controls))
        raise RequestError(f"{backend.name} needs the {', '.join(missing)} control(s), from the bundle's "
                           f"{', '.join(_passes_of(missing))} pass(es): re-export "
                           f"{bundle.root} with --passes including {passes} (or pick another --backend)")
    if not weights:
        raise RequestError(f"no control to use: {backend.name} takes {', '.join(backend.controls)}, "
                           "and the bundle has none of their passes or every weight is 0")
    if backend.max_controls is not None and len(weights) > backend.max_controls:
        raise RequestError(f"{backend.name} takes {backend.max_controls} control(s) per take, not "
                           f"{', '.join(weights)}: choose with e.g. --control {next(iter(weights))}=1.0")
    return {kind: weights[kind] for kind in backend.controls if kind in weights}


def generation_size(backend, bundle, requested):
    if requested is not None:
        shot_aspect, asked = bundle.width / bundle.height, requested[0] / requested[1]
        if abs(asked / shot_aspect - 1) > ASPECT_TOLERANCE:
            raise RequestError(f"--size {requested[0]}x{requested[1]} has aspect {asked:.3f} but the shot is "
                               f"{bundle.width}x{bundle.height} ({shot_aspect:.3f}): "
                               "pick a size with the shot's aspect")
    return backend.model_size(bundle.width, bundle.height, requested)


def bundle_hash(bundle):
    """sha256 over the bundle's files (paths and bytes), leaving out the engine's controls/
    and hidden files, but always covering every file bundle.json names (the engine reads
    those); files that resolve outside the bundle are never read."""
    walked = {str(p.relative_to(bundle.root)) for p in bundle.root.rglob("*") if p.is_file()}
    kept = {name for name in walked
            if not (Path(name).parts[0] == CONTROLS_DIR or any(part.startswith(".") for part in Path(name).parts))}
    digest = hashlib.sha256()
    for relative in sorted(kept | set(bundle.named_files()), key=lambda name: Path(name).parts):
        try:
            data = bundle.inside(relative).read_bytes()
        except BundleError:
            continue  # a symlink leading out: bundle.json never names one (validate refuses it)
        digest.update(relative.encode() + b"\0")
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def backend_key(backend_name, models, control_kinds, device):
    """What a loaded backend depends on, as one JSON text: [name, controls it loaded for, each
    model's folder, revision and files, device settings]; a warm service reuses a loaded
    backend only for the same key."""
    files = {role: hashlib.sha256(json.dumps(model.file_hashes, sort_keys=True).encode()).hexdigest()[:16]
             for role, model in models.items()}
    return json.dumps([backend_name, sorted(control_kinds),
                       sorted([role, str(model.path), model.revision, files[role]] for role, model in models.items()),
                       [device.kind, device.offload, device.vae_tiling, device.vae_slicing,
                        device.plan.preset if device.plan else None]])


def _versions():
    found = {"engine": __version__, "python": platform.python_version()}
    for package in ("torch", "diffusers", "transformers", "controlnet_aux"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


class Generation:
    """One `generate` command: checked up front by the constructor, run by `run`."""

    def __init__(self, request, bundle, out, progress, cancel, loaded_backends=None):
        """request: an engine.bundle.request.GenerateRequest; bundle: its folder; out: the takes folder;
        loaded_backends: a mapping of backend_key -> loaded backend that a warm service keeps
        between jobs (`get` on a miss may free memory for the load that follows), or None."""
        self.request, self.progress, self.cancel = request.check(), progress, cancel
        self.loaded_backends = loaded_backends
        self.current_take = None  # the take being made, for error and cancel reports
        self.bundle = open_bundle(bundle)
        self.backend = backends.create(request.backend_name)
        self.carry_over_files = self.checked_carry_over(request.continue_from)
        self.weights = choose_weights(self.backend, self.bundle, request.controls)
        self.size = generation_size(self.backend, self.bundle, request.size)
        problem = self.backend.bundle_problem(self.bundle, self.weights)
        if problem:
            raise RequestError(problem)
        self.prompt = compose_prompt(request.prompt, self.bundle.actors if request.actor_prompts and not
                                     getattr(self.backend, "reads_cast", False) else [])
        self.cast_inputs = read_cast_inputs_or_refuse(self.bundle, request.reference)
        if request.init_video is not None:
            if not self.backend.supports_init_video:
                raise RequestError(f"--init-video: {self.backend.name} takes no init video")
            if not self.bundle.has("shading"):
                raise RequestError(f"--init-video shading needs the bundle's shading pass, which {self.bundle.root} "
                                   "lacks: re-export with --passes including shading")
        # What of the lens the backend applies itself (its lens_controls) and what the engine does after it.
        self.backend_lens, self.lens = plan_take_lens(self.bundle, request.depth_of_field,
                                                      request.motion_blur).split(self.backend.lens_controls)
        self.out = check_takes_dir(out)
        specs = model_specs(self.backend, request.models)
        needed = self.backend.required_roles(list(self.weights) + (["references"] if self.has_references() else []))
        self.models = {role.name: resolve_model(role.name, specs[role.name], self.backend.name) for role in needed}

    def checked_carry_over(self, take):
        """The frame files of the --continue-from take the backend keeps, checked now (RequestError)."""
        if not take:
            return []
        if not self.backend.carry_frames:
            raise RequestError(f"--continue-from: {self.backend.name} cannot continue a take: leave it out, or "
                               "pick a backend that can (e.g. wan-vace)")
        try:
            return carry_over_files(take, self.backend.carry_frames)
        except CarryOverError as exc:
            raise RequestError(str(exc)) from None

    def has_references(self):
        inputs = self.cast_inputs
        return any(inputs.references.values()) or inputs.shot_reference is not None

    def reference_controls(self):
        """Unweighted controls the backend reads to place member references (not given to `load`,
        so no ControlNet is looked for): only when there are member references and their pass."""
        if not any(self.cast_inputs.references.values()):
            return []
        return [kind for kind in self.backend.reference_controls
                if kind not in self.weights and not controls.missing_passes(self.bundle, kind)]

    def run(self):
        """Generate every take; returns their folders. Raises Cancelled after cleaning up."""
        request, bundle, backend = self.request, self.bundle, self.backend
        self.cancel.check()
        device = pick_device(request.device, request.offload, request.vae_tiling, request.vae_slicing,
                             memory=request.memory, backend=backend.name, models=self.models)
        self.progress.emit(events.LoadEvent(backend=backend.name, device=device.name,
                                            models={role: m.source for role, m in self.models.items()}))
        started = time.perf_counter()
        self.backend = backend = self._loaded_backend(device)
        self.load_s = time.perf_counter() - started
        self.cancel.check()

        started = time.perf_counter()
        width, height = self.size
        built = controls.build_controls(bundle, list(self.weights) + self.reference_controls(), width, height)
        built.update(backend.derived_controls(bundle, built, width, height))
        self.carry_over = read_carry_over(self.carry_over_files, width, height)
        init = controls.shading_frames(bundle, width, height) if request.init_video else None
        self.controls_s = time.perf_counter() - started
        try:
            review = controls.write_review(bundle, built)
            self.progress.emit(events.ControlsEvent(path=str(review), kinds=list(built)))
        except (OSError, BundleError) as exc:
            self.progress.emit(events.WarningEvent(
                message=f"could not write control images into {bundle.root} ({exc}); generating anyway"))
        for note in self.lens.notes:
            self.progress.emit(events.WarningEvent(message=f"{note}; generating without it"))
        self.device, self.content_hash, self.versions = device, bundle_hash(bundle), _versions()  # for each take
        return [self._take(request.seed + index, built, init) for index in range(request.takes)]

    def _loaded_backend(self, device):
        """The backend with its models loaded: a warm one from loaded_backends, else loaded now (and kept there)."""
        key = None
        if self.loaded_backends is not None:
            key = backend_key(self.backend.name, self.models, self.weights, device)
            warm = self.loaded_backends.get(key)
            if warm is not None:
                return warm
        try:
            self.backend.load(self.models, list(self.weights), device)
        except (OSError, ValueError) as exc:
            used = ", ".join(f"{role}={model.source}" for role, model in self.models.items())
            raise ModelError(f"{self.backend.name} could not load its models ({exc}); models used: {used}") from exc
        if key is not None:
            self.loaded_backends[key] = self.backend
        return self.backend

    def _take(self, seed, built, init):
        request, backend = self.request, self.backend
        steps = request.steps or backend.default_steps
        guidance = backend.default_guidance if request.guidance is None else request.guidance
        with TakeWriter(self.out, f"{backend.name}-s{seed}") as take:
            self.current_take = take.take_id
            path = self._make_take(take, seed, built, init, steps, guidance)
        self.current_take = None
        return path

    def _make_take(self, take, seed, built, init, steps, guidance):
        request, bundle, backend = self.request, self.bundle, self.backend
        width, height = self.size
        frames = len(bundle.frames)
        windows = backend.windows(frames)
        self.progress.emit(events.StartEvent(take=take.take_id, backend=backend.name, seed=seed, frames=frames,
                                             steps=steps, size=[width, height], windows=len(windows)))
        for index, (start, end) in enumerate(windows):
            self.progress.emit(events.WindowEvent(take=take.take_id, index=index, count=len(windows),
                                                  start=bundle.frames[start], end=bundle.frames[min(end, frames) - 1]))
        step_times = []
        clock = [time.perf_counter()]

        def on_step(step, total):
            now = time.perf_counter()
            step_times.append(now - clock[0])
            clock[0] = now
            self.progress.emit(events.StepEvent(take=take.take_id, step=step, total=total))

        inputs = self.cast_inputs
        take_inputs = Request(
            prompt=self.prompt, negative_prompt=request.negative_prompt, seed=seed, steps=steps, guidance=guidance,
            weights=self.weights, controls=built, num_frames=frames, width=width, height=height, init_video=init,
            strength=request.strength, cast=bundle.cast, object_names=inputs.object_names,
            references=inputs.references, shot_reference=inputs.shot_reference,
            lens=self.backend_lens if self.backend_lens.active else None, carry_over=self.carry_over,
            fps=bundle.fps, shot_prompt=request.prompt)
        started = time.perf_counter()
        video = backend.generate(take_inputs, Hooks(on_step=on_step, check_cancel=self.cancel.check))
        generate_s = time.perf_counter() - started
        if len(video) != frames:
            raise RuntimeError(f"backend {backend.name} returned {len(video)} frames for a {frames}-frame shot")
        started, lens_s = time.perf_counter(), 0.0
        written = []
        for index, (frame_number, pixels) in enumerate(zip(bundle.frames, video)):
            if self.lens.active:
                lens_started = time.perf_counter()
                pixels = self._lens_frame(take, index, frame_number, pixels)
                lens_s += time.perf_counter() - lens_started
            written.append(take.write_frame(frame_number, pixels, bundle.width, bundle.height))
            self.progress.emit(events.FrameEvent(take=take.take_id, index=index, frame=frame_number, path=written[-1]))
        preview = take.write_preview(bundle.fps)
        if self.cast_inputs.shot_reference is not None:
            take.write_image(SHOT_REFERENCE_FILE, self.cast_inputs.shot_reference)
        record = self._record(seed, steps, guidance, windows, written, preview, TakeTimings.measured(
            self.load_s, self.controls_s, generate_s, time.perf_counter() - started - lens_s, step_times), lens_s)
        path = take.commit(record)
        self.progress.emit(events.DoneEvent(take=take.take_id, path=str(path), frames=len(written),
                                            seconds=round(generate_s, 3)))
        return path

    def _lens_frame(self, take, index, frame_number, pixels):
        """The frame with the lens applied, its sharp frame kept as unblurred/NNNN.png (both at the shot's size)."""
        width, height = self.bundle.width, self.bundle.height
        sharp = resize_cover(Image.fromarray(pixels), width, height)
        unblurred = TakeLens().unblurred_frame(frame_number)
        (take.partial / unblurred).parent.mkdir(exist_ok=True)
        take.write_image(unblurred, sharp)
        lensed = self.lens.apply(frame_number, np.asarray(sharp))
        self.progress.emit(events.LensEvent(take=take.take_id, index=index, count=len(self.bundle.frames),
                                            frame=frame_number, unblurred=unblurred))
        return lensed

    def _lens_record(self, lens_s):
        """take.json's lens: what was applied, or None when nothing was."""
        return take_lens_record(self.backend_lens, self.lens, lens_s)

    def _cast_record(self):
        """take.json's look fields: what each object looked like, what was understood and
        ignored of the words and references, the grade, and the references used."""
        notes, inputs = self.backend.take_notes(), self.cast_inputs
        ignored = (list(notes.ignored) + unused_by_backend(self.backend, self.request, inputs, self.bundle.cast)
                   + self.lens.notes)
        return dict(look=notes.look, understood=list(notes.understood), ignored=ignored, grade=notes.grade,
                    references=dict(inputs.reference_files),
                    shot_reference=None if inputs.shot_reference is None else
                    ShotReference(file=SHOT_REFERENCE_FILE, source=inputs.shot_reference_path))

    def _device_record(self):
        device = self.device
        return DeviceRecord(kind=device.kind, name=device.name, precision=device.chosen_dtype or None,
                            precision_reason=device.dtype_reason or None,
                            memory=device.plan.why_json() if device.plan else None)

    def _record(self, seed, steps, guidance, windows, written, preview, timings, lens_s=0.0):
        """The TakeRecord of a finished take (engine.takes names it when it commits)."""
        request, bundle, backend = self.request, self.bundle, self.backend
        parameters = TakeParameters(
            steps=steps, guidance=guidance, controls=self.weights,
            requested_size=list(request.size) if request.size else None,
            generation_size=list(self.size), model_frames=backend.model_frames(len(bundle.frames)),
            windows=[list(w) for w in windows], init_video=request.init_video,
            strength=request.strength if request.init_video else None, device=request.device,
            offload=request.offload, vae_tiling=request.vae_tiling, vae_slicing=request.vae_slicing,
            backend_settings=backend.settings, depth_of_field=request.depth_of_field,
            motion_blur=request.motion_blur, memory=request.memory,
            memory_plan=self.device.plan.to_json() if self.device.plan else None)
        shot = TakeBundle(path=str(bundle.root.resolve()), hash=self.content_hash, shot=bundle.name,
                          frames=[bundle.frames[0], bundle.frames[-1]], frame_count=len(bundle.frames),
                          resolution=[bundle.width, bundle.height], fps=bundle.fps)
        return TakeRecord(
            status="complete", created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            backend=backend.name, models={role: model.record() for role, model in self.models.items()},
            prompt=request.prompt, composed_prompt=self.prompt, negative_prompt=request.negative_prompt, seed=seed,
            parameters=parameters, bundle=shot, frames=written, preview=preview, engine=self.versions,
            device=self._device_record(), timings=timings, lens=self._lens_record(lens_s),
            continued_from=self._continued_from(), **self._cast_record())

    def _continued_from(self):
        """take.json's continued_from: the --continue-from folder as asked and the frames carried, or None."""
        if not self.request.continue_from:
            return None
        return ContinuedFrom(take=self.request.continue_from, frames=len(self.carry_over_files))
