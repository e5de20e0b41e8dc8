"""Backend registry: name -> Backend subclass.

Built-in backends register here; another backend (a plug-in) calls `register(MyBackend)`
and becomes available to `python -m engine generate --backend`. The default is the
embedded `previz` model: it needs no download and runs on a CPU.
Importing this package stays torch-free.
"""

from .animatediff import AnimateDiffBackend
from .base import Backend, Hooks, ModelRole, Request
from .previz import PrevizBackend
from .wan_vace import WanVaceBackend

_REGISTRY = {}
DEFAULT_BACKEND = "previz"


def register(backend_class):
    """Add a Backend subclass under its `name`; a second backend with the same name is an error."""
    if not backend_class.name:
        raise ValueError(f"{backend_class.__name__} has no name")
    if backend_class.name in _REGISTRY and _REGISTRY[backend_class.name] is not backend_class:
        raise ValueError(f"a backend named {backend_class.name!r} is already registered")
    _REGISTRY[backend_class.name] = backend_class
    return backend_class


def names():
    return sorted(_REGISTRY)


def create(name):
    """A fresh instance of the named backend; the ValueError for an unknown name lists the known ones."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}: choose from {', '.join(names())}")
    return _REGISTRY[name]()


register(AnimateDiffBackend)
register(PrevizBackend)
register(WanVaceBackend)

__all__ = ["Backend", "DEFAULT_BACKEND", "Hooks", "ModelRole", "Request", "create", "names", "register"]
