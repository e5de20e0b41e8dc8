"""Preferences ▸ Device offers the Apple GPU and Preferences ▸ Memory the engine's --memory presets,
and Generate's request carries both (real bpy for the preferences, bpy-free for the request)."""

import pytest


def test_preferences_offer_the_engines_devices_and_memory_presets(blockcast):
    import bpy

    from blockcast.addon.ui import preferences
    from blockcast.engine.bundle.request import DEVICES, MEMORY_PRESETS

    assert [item[0] for item in preferences.DEVICES] == list(DEVICES)
    assert [item[0] for item in preferences.MEMORY] == list(MEMORY_PRESETS)
    memory = preferences.BlockcastPreferences.__annotations__["memory"]
    assert memory.function is bpy.props.EnumProperty and memory.keywords["default"] == "auto"
    assert preferences._Defaults.memory == "auto"


@pytest.mark.parametrize("device, memory, flags", [("mps", "low", ["--device=mps", "--memory=low"]),
                                                    ("auto", "auto", [])])
def test_generate_sends_the_device_and_memory_preferences(blockcast, device, memory, flags):
    from types import SimpleNamespace

    from blockcast.addon.engine_request import shot_request

    settings = SimpleNamespace(prompt="", negative_prompt="", seed=0, takes=1, steps=0, long_side=0,
                               weights=lambda: {}, depth_of_field=True, motion_blur=True)
    request = shot_request(settings, None, "", device, (64, 36), {}, "", memory=memory)
    args = request.to_arguments("/b", "/t")
    assert [arg for arg in args if arg.startswith(("--device", "--memory"))] == flags
