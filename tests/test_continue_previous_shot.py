"""Continue From Previous Shot (Generate panel) on real Blender: the previous shot's accepted take
becomes the request's --continue-from, and a first shot or one with nothing accepted is refused in
the panel's words."""

from types import SimpleNamespace

import pytest

from engine.bundle.png import write_png


def two_shots(bpy, scene):
    """Shots A (frames 1-10) and B (11-20): markers bound to two cameras."""
    for name, frame in (("A", 1), ("B", 11)):
        camera = bpy.data.objects.new(name + "_cam", bpy.data.cameras.new(name + "_cam"))
        scene.collection.objects.link(camera)
        scene.timeline_markers.new(name, frame=frame).camera = camera
    scene.frame_start, scene.frame_end = 1, 20


def test_the_previous_shots_accepted_take_is_continued(blockcast, empty_scene, tmp_path):
    import numpy as np

    bpy = pytest.importorskip("bpy")
    from blockcast.addon.blender import errors, sequencer
    from blockcast.addon.blender.shot_jobs import previous_accepted_take
    from blockcast.addon.engine_request import shot_request
    from blockcast.addon.strip_layout import PREFIX

    scene = empty_scene
    two_shots(bpy, scene)
    with pytest.raises(errors.UserError, match="Continue From Previous Shot: A is the first shot"):
        previous_accepted_take(scene, "A")
    with pytest.raises(errors.UserError, match="Continue From Previous Shot: A has no accepted take yet"):
        previous_accepted_take(scene, "B")

    take = tmp_path / "take-001-wan-vace-s0"
    (take / "frames").mkdir(parents=True)
    write_png(take / "frames" / "0001.png", np.zeros((4, 4, 3), np.uint8))
    editor = sequencer.sequence_editor(scene, create=True)
    for accepted, channel in ((False, 2), (True, 1)):
        strip = sequencer.new_image_strip(editor, f"A take {channel}", [take / "frames" / "0001.png"], channel, 1)
        strip[PREFIX + "take_json"], strip[PREFIX + "shot"] = str(take / "take.json"), "A"
        strip[PREFIX + "accepted"] = accepted
    assert previous_accepted_take(scene, "B") == take

    from blockcast.addon.ui.properties import BlockcastShotGeneration

    checkbox = BlockcastShotGeneration.__annotations__["continue_previous"]
    assert checkbox.keywords["name"] == "Continue From Previous Shot" and not checkbox.keywords.get("default")
    settings = SimpleNamespace(prompt="", negative_prompt="", seed=0, takes=1, steps=0, long_side=0,
                               weights=dict, depth_of_field=True, motion_blur=True)
    request = shot_request(settings, None, "wan-vace", "cpu", (64, 36), {}, "", continue_from=take)
    assert request.continue_from == str(take) and f"--continue-from={take}" in request.to_arguments("/b", "/t")
