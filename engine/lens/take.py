"""The lens on one take frame: what wiring it into the engine needs, in one call.

Takes are 8-bit sRGB at the generation size, while depth and flow are at the bundle's size:
depth is resized by nearest neighbour (a blend of two depths is a depth that is not there),
flow likewise and scaled to the new pixels, and the blurs work in linear light.
`plan_take_lens` decides, once per generation, what of the lens applies to a bundle's takes.
"""

from dataclasses import dataclass, field

import numpy as np

from ..bundle.take_record import LensShutter, TakeLens
from .defocus import defocus
from .motion_blur import motion_blur
from .record import frame_lens, frame_px_per_mm, frame_shutter


def _srgb_to_linear(value):
    return np.where(value <= 0.04045, value / 12.92, ((value + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _linear_to_srgb8(linear):
    linear = np.clip(linear, 0.0, 1.0)
    value = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.rint(value * 255).astype(np.uint8)


# The two conversions by table instead of a power per pixel (they were a quarter of apply_lens):
# decoding has 256 inputs; encoding looks up the code at the start of the input's bin, then steps
# up where the bin holds the next code's first value (bins are narrower than a code everywhere).
_DECODE = _srgb_to_linear(np.arange(256, dtype=np.float32) / np.float32(255.0))
_ENCODE_BINS = 4096  # sRGB's steepest slope (12.92 × 255 codes per unit) is 0.8 codes a bin


def _code_starts():
    """The smallest float32 that encodes to each code 0..255 (code 256: NaN, which no input reaches), by bisection."""
    low = np.zeros(256, np.float32).view(np.int32)
    high = np.full(256, np.float32(1.0), np.float32).view(np.int32)
    codes = np.arange(256)
    for _ in range(32):
        middle = (low + high) // 2
        reaches = _linear_to_srgb8(middle.view(np.float32)) >= codes
        high, low = np.where(reaches, middle, high), np.where(reaches, low, middle)
    starts = high.view(np.float32).copy()
    starts[0] = -np.inf
    return np.append(starts, np.float32(np.nan))


_CODE_STARTS = _code_starts()
_BIN_CODE = _linear_to_srgb8(np.arange(_ENCODE_BINS + 1, dtype=np.float32) / np.float32(_ENCODE_BINS))


def srgb8_to_linear(image):
    return _DECODE[np.asarray(image, np.uint8)]


def linear_to_srgb8(linear):
    """8-bit sRGB of linear values, as rint(255 · sRGB(clip(linear, 0, 1)))."""
    linear = np.asarray(linear, np.float32)
    bins = linear * np.float32(_ENCODE_BINS)
    np.clip(bins, 0, _ENCODE_BINS, out=bins)
    code = np.take(_BIN_CODE, bins.astype(np.intp), mode="clip")  # NaN (never a lens output) reads as 0
    code += np.take(_CODE_STARTS, code.astype(np.intp) + 1) <= linear
    return code


def resize_nearest(array, height, width):
    """(H, W, ...) to (height, width, ...), each new pixel centre taking the old pixel under it."""
    if array.shape[:2] == (height, width):
        return array
    rows = np.minimum(((np.arange(height) + 0.5) * array.shape[0] / height).astype(np.intp), array.shape[0] - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * array.shape[1] / width).astype(np.intp), array.shape[1] - 1)
    return array[rows[:, None], cols[None, :]]


def flow_at_size(flow, height, width):
    """Forward flow resized to (height, width), its vectors in the new pixels."""
    if flow.shape[:2] == (height, width):
        return flow
    scale = np.array([width / flow.shape[1], height / flow.shape[0]], np.float32)
    return resize_nearest(flow, height, width) * scale


def apply_lens(frame, depth, flow, record, metres_per_unit=1.0):
    """One take frame ((H, W, 3) uint8 sRGB) as the blocking's lens and shutter show it.

    `record` is the frame's lens record (engine/lens/record.py; a cameras.json record reads as
    a lens without a shutter); `flow` may be None when the bundle has none (no motion blur).
    The depth pass and the focus distance are in Blender units: `metres_per_unit` (the bundle's
    Unit Scale) makes them metres, as the thin lens's focal length needs.
    """
    lens, shutter = frame_lens(record, metres_per_unit), frame_shutter(record)
    if shutter is not None and flow is None:
        shutter = None
    if lens is None and shutter is None:
        return np.array(frame, copy=True)
    height, width = frame.shape[:2]
    depth = resize_nearest(np.asarray(depth, np.float32), height, width) * np.float32(metres_per_unit)
    linear = srgb8_to_linear(frame)
    if lens is not None:
        linear = defocus(linear, depth, lens, frame_px_per_mm(record, width, height))
    if shutter is not None:
        linear = motion_blur(linear, flow_at_size(np.asarray(flow, np.float32), height, width), depth, shutter)
    return linear_to_srgb8(linear)


LENS_EFFECTS = ("depth_of_field", "motion_blur")  # what a backend may apply itself (Backend.lens_controls)


@dataclass
class TakeLensPlan:
    """What of the lens a generation applies to its takes, read once from the bundle and the request:
    `depth_of_field` (the camera's, per frame), `shutter` (the shot's MotionBlur or None), and the
    `notes` saying what was asked but cannot be applied (take.json's ignored, a warning event)."""

    bundle: object
    depth_of_field: bool
    shutter: object
    records: dict = field(default_factory=dict)  # shot frame -> cameras.json record
    notes: list = field(default_factory=list)

    @property
    def active(self):
        return self.depth_of_field or self.shutter is not None

    def frame_record(self, frame):
        """The frame's lens record (engine/lens/record.py): its camera's, with the shot's shutter."""
        camera = self.records.get(frame, {})
        return {**camera, "depth_of_field": camera.get("depth_of_field") if self.depth_of_field else None,
                "motion_blur": self.shutter.to_json() if self.shutter is not None else None}

    def apply(self, frame, pixels):
        """The take frame (8-bit, at the shot's size) as the lens shows it."""
        flow = self.bundle.flow(frame) if self.shutter is not None else None
        return apply_lens(pixels, self.bundle.depth(frame), flow, self.frame_record(frame),
                          self.bundle.record.metres_per_unit)

    def split(self, backend_effects):
        """(what the backend applies, what the engine applies): this plan cut by a backend's
        lens_controls (LENS_EFFECTS); the notes stay with the engine's part."""
        unknown = sorted(set(backend_effects) - set(LENS_EFFECTS))
        if unknown:
            raise ValueError(f"lens_controls {', '.join(unknown)} are not lens effects: use {', '.join(LENS_EFFECTS)}")
        dof, blur = "depth_of_field" in backend_effects, "motion_blur" in backend_effects
        backend = TakeLensPlan(self.bundle, self.depth_of_field and dof, self.shutter if blur else None, self.records)
        engine = TakeLensPlan(self.bundle, self.depth_of_field and not dof, None if blur else self.shutter,
                              self.records, self.notes)
        return backend, engine


def take_lens_record(backend, engine, lens_s):
    """take.json's lens (TakeLens) for a take whose backend applied `backend` and the engine
    `engine` (TakeLensPlan.split), or None when neither applied anything."""
    if not (backend.active or engine.active):
        return None
    shutter = engine.shutter or backend.shutter
    applied_by = {effect: side for side, plan in (("backend", backend), ("engine", engine))
                  for effect, on in (("depth_of_field", plan.depth_of_field), ("motion_blur", plan.shutter is not None))
                  if on}
    return TakeLens(depth_of_field=engine.depth_of_field or backend.depth_of_field, lens_s=round(lens_s, 4),
                    motion_blur=None if shutter is None else LensShutter(shutter=shutter.shutter,
                                                                         position=shutter.position),
                    unblurred=TakeLens().unblurred if engine.active else None, applied_by=applied_by)


def plan_take_lens(bundle, depth_of_field="camera", motion_blur="scene"):
    """The TakeLensPlan for `bundle` and the request's switches ("camera"/"off", "scene"/"off"):
    depth of field where the shot's camera has it on, motion blur where the shot's Render ▸
    Motion Blur is on; each needs the depth pass, motion blur the flow pass too."""
    records = {record.get("frame"): record for record in bundle.cameras()} if bundle.has("camera") else {}
    wants_dof = depth_of_field == "camera" and any(record.get("depth_of_field") for record in records.values())
    shutter = bundle.record.shot.motion_blur if motion_blur == "scene" else None
    notes = []
    if shutter is not None and not bundle.has("flow"):
        notes.append("motion blur: the bundle has no flow pass; re-export with --passes including flow "
                     "(the Generate panel does when Motion Blur is ticked)")
        shutter = None
    if (wants_dof or shutter is not None) and not bundle.has("depth"):
        notes.append("depth of field and motion blur: the bundle has no depth pass; re-export with --passes "
                     "including depth")
        wants_dof, shutter = False, None
    return TakeLensPlan(bundle, wants_dof, shutter, records, notes)
