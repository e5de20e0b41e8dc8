"""Which device Cycles renders the passes on: the artist's own choice (bpy-free).

Blender keeps the GPU set-up in the Cycles add-on's preferences (Preferences ▸ System ▸
Cycles Render Devices): a compute device type (CUDA, OptiX, HIP, Metal, oneAPI or none)
and, per device, whether it is used. A pass render uses the GPU exactly when the artist's
own renders could: a compute type is chosen and at least one device of that type is on.
Anything else (no GPU, none ticked, the preferences unreadable) renders on the CPU, which
is also what tests and farm workers without a GPU get.
"""

from dataclasses import dataclass, field

NO_COMPUTE = "NONE"


@dataclass(frozen=True)
class CyclesDevices:
    """What the Cycles preferences say: the compute type and the ids of the devices in use."""

    compute_device_type: str = NO_COMPUTE
    enabled: tuple = field(default_factory=tuple)

    def to_json(self):
        return {"compute_device_type": self.compute_device_type, "enabled": list(self.enabled)}

    @classmethod
    def from_json(cls, document):
        document = document or {}
        return cls(str(document.get("compute_device_type", NO_COMPUTE)), tuple(map(str, document.get("enabled", ()))))


def gpu_devices_in_use(compute_device_type, devices):
    """CyclesDevices from the preferences' values: `devices` as (id, type, use) triples; a
    device counts when it is ticked and of the chosen compute type (CPU entries never do)."""
    compute_device_type = compute_device_type or NO_COMPUTE
    enabled = tuple(device_id for device_id, device_type, use in devices
                    if use and device_type == compute_device_type and device_type != "CPU")
    return CyclesDevices(compute_device_type, enabled)


def choose_device(devices):
    """"GPU" when `devices` (CyclesDevices) set a GPU up, else "CPU": scene.cycles.device's value."""
    if devices.compute_device_type in (NO_COMPUTE, "", "CPU") or not devices.enabled:
        return "CPU"
    return "GPU"


def device_label(devices):
    """How the status line names it: "GPU (OPTIX)" or "CPU"."""
    return f"GPU ({devices.compute_device_type})" if choose_device(devices) == "GPU" else "CPU"
