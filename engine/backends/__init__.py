"""Backend registry: name -> Backend subclass.

Built-in backends register here. A plug-in backend is a package installed into the
engine's environment that names its Backend subclass under the entry-point group
`blockcast.backends` (`name = "module:Class"` in its pyproject's
[project.entry-points."blockcast.backends"]); it is loaded on first use and becomes
available to `python -m engine generate --backend` like a built-in one. The default is the
embedded `previz` model: it needs no download and runs on a CPU.
Importing this package stays torch-free (a plug-in's module must be too: torch in `load`).
"""

import sys
from importlib.metadata import entry_points

from ..bundle.request import DEFAULT_BACKEND
from .animatediff import AnimateDiffBackend
from .base import Backend, Hooks, ModelRole, Request
from .ltx2_ic import Ltx2IcBackend
from .previz import PrevizBackend
from .sana_wm import SanaWMBackend
from .wan22_vace import Wan22VaceBackend
from .wan_vace import WanVaceBackend

_REGISTRY = {}


def register(backend_class):
    """Add a Backend subclass under its `name`; a second backend with the same name is an error."""
    if not backend_class.name:
        raise ValueError(f"{backend_class.__name__} has no name")
    if backend_class.name in _REGISTRY and _REGISTRY[backend_class.name] is not backend_class:
        raise ValueError(f"a backend named {backend_class.name!r} is already registered")
    _REGISTRY[backend_class.name] = backend_class
    return backend_class


ENTRY_POINT_GROUP = "blockcast.backends"
_seen_plugins = set()
_scanned_path = None  # sys.path at the last scan: installed packages are only looked up again when it changes


def _load_plugins():
    """Register every installed plug-in not seen yet; a broken plug-in is reported and
    skipped, so one bad package never takes the built-in backends down with it."""
    global _scanned_path
    if _scanned_path == sys.path:
        return
    _scanned_path = list(sys.path)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.value in _seen_plugins:
            continue
        _seen_plugins.add(entry.value)
        try:
            backend_class = entry.load()
            if not (isinstance(backend_class, type) and issubclass(backend_class, Backend)):
                raise TypeError(f"{entry.value} is not a Backend subclass")
            if entry.name != backend_class.name:
                raise ValueError(f"its entry point is named {entry.name!r} but the backend {backend_class.name!r}")
            register(backend_class)
        except Exception as exc:  # noqa: BLE001 — any failure in someone else's package
            print(f"engine: warning: plug-in backend {entry.name!r} ({entry.value}) was not loaded: {exc}",
                  file=sys.stderr)


def names():
    _load_plugins()
    return sorted(_REGISTRY)


def create(name):
    """A fresh instance of the named backend; the ValueError for an unknown name lists the known ones."""
    _load_plugins()
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}: choose from {', '.join(names())}")
    return _REGISTRY[name]()


register(AnimateDiffBackend)
register(PrevizBackend)
register(WanVaceBackend)
register(Ltx2IcBackend)
register(SanaWMBackend)
register(Wan22VaceBackend)

__all__ = ["Backend", "DEFAULT_BACKEND", "ENTRY_POINT_GROUP", "Hooks", "ModelRole", "Request", "create", "names", "register"]
