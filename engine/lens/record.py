"""The lens record: the blocking camera's depth of field and the scene's shutter, per frame.

Stdlib only, so the add-on that writes it (addon/blender/lens.py gathers it) and the engine
that applies it share one reading. One record per frame:

    {"frame": 12, "lens_mm": 50.0, "sensor_width_mm": 36.0, "sensor_height_mm": 24.0,
     "sensor_fit": "AUTO",
     "depth_of_field": null | {"focus_distance": 3.2, "fstop": 2.8,
                               "blades": 0, "rotation": 0.0, "ratio": 1.0},
     "motion_blur": null | {"shutter": 0.5, "position": "CENTER"}}

The keys are those of the bundle's cameras.json records (metres, millimetres, Blender's names),
whose `depth_of_field` lacks only the aperture shape (read as round), so `frame_lens` reads
either. `focus_distance` is already resolved (a focus object's distance along the view axis at
that frame), so rack focus is just the records changing from frame to frame.
"""

from dataclasses import dataclass

SHUTTER_POSITIONS = ("CENTER", "START", "END")


@dataclass(frozen=True)
class Lens:
    """A camera's depth of field, in Blender's terms (Camera ▸ Depth of Field)."""
    focal_mm: float
    fstop: float
    focus_m: float
    blades: int = 0            # aperture_blades: 0 (or < 3) is a round aperture
    rotation: float = 0.0      # aperture_rotation, radians
    ratio: float = 1.0         # aperture_ratio: > 1 squeezes the bokeh horizontally (anamorphic)


@dataclass(frozen=True)
class Shutter:
    """Render ▸ Motion Blur: `length` in frames (motion_blur_shutter), `position` CENTER/START/END."""
    length: float = 0.5
    position: str = "CENTER"

    def interval(self):
        """Shutter open and close in frames relative to the frame's own instant."""
        if self.position == "START":
            return 0.0, self.length
        if self.position == "END":
            return -self.length, 0.0
        if self.position == "CENTER":
            return -self.length / 2, self.length / 2
        raise ValueError(f"unknown shutter position {self.position!r}: use one of {', '.join(SHUTTER_POSITIONS)}")


def pixels_per_mm(sensor_width_mm, sensor_height_mm, sensor_fit, width, height):
    """Image pixels per sensor millimetre, by Blender's sensor fit (AUTO: the longer side)."""
    if sensor_fit == "VERTICAL":
        return height / sensor_height_mm
    if sensor_fit == "AUTO" and height > width:
        return height / sensor_width_mm
    return width / sensor_width_mm


def frame_lens(record, metres_per_unit=1.0):
    """The frame's Lens, or None when the camera's depth of field is off; cameras.json's focus
    distance is in Blender units, made metres by the bundle's `metres_per_unit`."""
    dof = record.get("depth_of_field")
    if not dof:
        return None
    return Lens(float(record["lens_mm"]), float(dof["fstop"]), float(dof["focus_distance"]) * metres_per_unit,
                int(dof.get("blades", 0)), float(dof.get("rotation", 0.0)), float(dof.get("ratio", 1.0)))


def frame_px_per_mm(record, width, height):
    return pixels_per_mm(float(record["sensor_width_mm"]), float(record["sensor_height_mm"]),
                         record["sensor_fit"], width, height)


def frame_shutter(record):
    """The frame's Shutter, or None when the scene's motion blur is off."""
    blur = record.get("motion_blur")
    if not blur:
        return None
    return Shutter(float(blur["shutter"]), str(blur["position"]))
