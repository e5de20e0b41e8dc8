"""A folder both machines see, named as each names it (bpy-free): so a bundle on a shared drive
is read there by the engine service instead of uploaded, like a farm's path mapping.

    Shared Folder            P:\\projects  or  /Volumes/projects   (here)
    Shared Folder on Service /mnt/projects                         (the service's machine)

Paths in the request (local model folders, the shot's reference image) are mapped the same
way; a path outside the shared folder is sent as it is, and the service refuses it (403,
saying to upload or share it) unless it lies in one of its own folders. A model the request
names only because it is this engine's default for its role (a take record names every model,
e.g. previz's shipped weights folder) is left to the service's own default.
"""

import dataclasses
from pathlib import Path, PurePosixPath, PureWindowsPath

from .engine_report import backend_entry


@dataclasses.dataclass(frozen=True)
class SharedFolder:
    local: str = ""
    remote: str = ""

    @property
    def set(self):
        return bool(self.local.strip() and self.remote.strip())

    def service_path(self, path):
        """`path` as the service names it, or None when it is not inside the shared folder here."""
        if not self.set:
            return None
        try:
            relative = Path(path).resolve().relative_to(Path(self.local).resolve())
        except (OSError, ValueError):
            return None
        remote = self.remote.strip()
        flavour = PureWindowsPath if (len(remote) > 1 and remote[1] == ":") or remote.startswith("\\\\") \
            else PurePosixPath
        return str(flavour(remote).joinpath(*relative.parts))

    def request_for_service(self, request, defaults=None):
        """The request with its local model folders and reference image mapped where they can be,
        and the models `defaults` ({role: this engine's default}) names left to the service."""
        defaults = defaults or {}
        models = {role: (self.service_path(spec) or spec) if Path(spec).is_absolute() else spec
                  for role, spec in request.models.items() if defaults.get(role) != spec}
        reference = (self.service_path(request.reference) or request.reference) if request.reference else None
        return dataclasses.replace(request, models=models, reference=reference)


def default_models(report, backend):
    """{role: default} of `backend`'s models in the engine's `backends --json` report."""
    entry = backend_entry(report, backend) or {}
    return {model.get("role"): model.get("default") for model in entry.get("models", [])}
