"""The blocking's lens and shutter applied to any take: depth of field and motion blur.

numpy only (no torch, no bpy), so the engine, the add-on and tests share it. `defocus`
blurs by the thin-lens circle of confusion from the bundle's metric depth; `motion_blur`
smears along the bundle's forward optical flow for the scene's shutter; `apply_lens` does
both to one 8-bit take frame from its lens record.
"""

from .defocus import coc_radius_px, defocus
from .motion_blur import motion_blur
from .record import Lens, Shutter, frame_lens, frame_px_per_mm, frame_shutter, pixels_per_mm
from .take import apply_lens

__all__ = ["Lens", "Shutter", "apply_lens", "coc_radius_px", "defocus", "frame_lens", "frame_px_per_mm",
           "frame_shutter", "motion_blur", "pixels_per_mm"]
