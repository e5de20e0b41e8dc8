"""Where the service keeps its files, and which folders a request may name.

Every path a request names (a bundle folder, a reference image, a model folder) must
resolve, links followed, inside the work folder or a --shared-root: the service reads
nothing else on a client's word.
"""

import os
import re
import shutil
import sys
from pathlib import Path


UPLOAD_NAME = re.compile(r"^[0-9a-f]{64}-[0-9a-f]{8}(\.tar)?$")  # engine.serve.app names uploads so


class Forbidden(Exception):
    """A request named a path outside the service's folders (answered 403)."""


def user_data_dir():
    """Blockcast's folder in the user's data folder, as each platform places it."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
        return Path(base) / "Blockcast"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Blockcast"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "blockcast"


class WorkFolders:
    """The work folder's layout (bundles/, jobs/, uploads/) and the roots requests may read."""

    def __init__(self, work_dir, shared_roots=()):
        self.root = Path(work_dir).expanduser().absolute()
        for folder in (self.root, self.bundles, self.jobs, self.uploads):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.readable = [self.root.resolve()] + [Path(root).expanduser().resolve() for root in shared_roots]
        self.sweep_uploads()

    def sweep_uploads(self):
        """Remove what uploads cut short by a killed service left (only names the service gives them)."""
        for entry in self.uploads.iterdir():
            if not UPLOAD_NAME.match(entry.name) or entry.is_symlink():
                continue
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    @property
    def bundles(self):
        return self.root / "bundles"

    @property
    def jobs(self):
        return self.root / "jobs"

    @property
    def uploads(self):
        return self.root / "uploads"

    def bundle(self, digest):
        return self.bundles / digest

    def job(self, job_id):
        return self.jobs / job_id

    def allowed(self, path, what):
        """The resolved absolute path when it lies inside a readable root; Forbidden otherwise."""
        given = Path(path)
        if not given.is_absolute():
            raise Forbidden(f"{what} {path} is not an absolute path: give the full path on the service's machine")
        resolved = given.resolve()
        if not any(resolved.is_relative_to(root) for root in self.readable):
            roots = ", ".join(str(root) for root in self.readable)
            raise Forbidden(f"{what} {path} is outside the service's folders ({roots}): upload the bundle, or "
                            "start the service with --shared-root covering it")
        return resolved
