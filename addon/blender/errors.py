"""The errors a user can fix: callers catch these and show the message as it is."""

from ...engine.bundle import BundleError
from .actors import BoneMapError
from .camera import CameraError
from .export import ExportCancelled, ExportError
from .shots import ShotError


class UserError(ValueError):
    """Bad input found outside the exporter (a missing file, an unknown scene)."""


USER_ERRORS = (UserError, BundleError, BoneMapError, CameraError, ExportError, ExportCancelled, ShotError)
