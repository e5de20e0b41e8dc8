"""Registers the add-on's UI modules (addon/ui/); each module owns one concern."""

from .ui import operators, operators_generate, operators_takes, panels, panels_sequencer, preferences, properties
from .ui import operators_cast, operators_farm, panels_cast, panels_farm, properties_farm
from .ui import operators_coverage, panels_coverage
from .ui import operators_lighting, panels_lighting
from .ui import operators_generate_all
from .ui import operators_variations, panels_variations, properties_variations
from .ui import operators_setup

_MODULES = (preferences, properties, operators, operators_generate, operators_takes, panels, panels_sequencer)
_MODULES += (operators_cast, panels_cast, properties_farm, operators_farm, panels_farm)
_MODULES += (operators_coverage, panels_coverage)
_MODULES += (operators_lighting, panels_lighting)
_MODULES += (operators_generate_all,)
_MODULES += (properties_variations, operators_variations, panels_variations)
_MODULES += (operators_setup,)


def register():
    for module in _MODULES:
        module.register()


def unregister():
    for module in reversed(_MODULES):
        module.unregister()
