"""Registers the add-on's modules; each module owns one concern."""

from . import properties, operators, panels

_MODULES = (properties, operators, panels)


def register():
    for module in _MODULES:
        module.register()


def unregister():
    for module in reversed(_MODULES):
        module.unregister()
