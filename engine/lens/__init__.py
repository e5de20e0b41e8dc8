"""The blocking's lens and shutter applied to any take: depth of field and motion blur.

numpy only (no torch, no bpy), so the engine, the add-on and tests share it. `defocus`
blurs by the thin-lens circle of confusion from the bundle's metric depth; `motion_blur`
smears along the bundle's forward optical flow for the scene's shutter.
"""

from .defocus import Lens, coc_radius_px, defocus, pixels_per_mm
from .motion_blur import Shutter, motion_blur

__all__ = ["Lens", "Shutter", "coc_radius_px", "defocus", "motion_blur", "pixels_per_mm"]
