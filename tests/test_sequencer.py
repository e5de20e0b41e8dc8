"""Takes in the Video Sequence Editor on real Blender (5.0 `strips`, 4.2 `sequences`), and the
bpy-free layout rules behind them. Take folders are written here in the engine's layout
(docs/engine.md); tests/test_roundtrip.py makes real ones with the engine."""

import importlib
import json

import numpy as np
import pytest

from engine.bundle.png import write_png
from engine.bundle.take_record import ModelRecord, TakeBundle, TakeRecord

from test_engine_process import load_bpy_free

layout = load_bpy_free("strip_layout")
folders = load_bpy_free("take_folders")

FRAMES = (11, 12, 13)


# -- bpy-free layout rules ------------------------------------------------------------------

def test_a_new_shot_takes_the_lowest_free_unnamed_channel_and_variations_go_above():
    occupied = [(1, 1, 100), (3, 10, 20)]  # an edit on channel 1, a title on channel 3 over our frames
    home, channels = layout.pick_channels(3, 11, 14, occupied, {1: "Channel 1", 2: "Channel 2"}, "sc01")
    assert (home, channels) == (2, [2, 4, 5])


def test_a_shot_keeps_its_named_channel_and_leaves_other_shots_channels_alone():
    names = {1: "sc01", 2: "sc02", 3: "Channel 3"}
    occupied = [(1, 11, 14)]  # sc01's first take
    assert layout.pick_channels(1, 11, 14, occupied, names, "sc01") == (None, [3])
    assert layout.pick_channels(1, 30, 40, occupied, names, "sc01") == (None, [1])  # free later in the same channel


def test_no_free_channel_is_a_clear_error():
    occupied = [(channel, 1, 10) for channel in range(1, layout.MAX_CHANNEL + 1)]
    with pytest.raises(layout.LayoutError, match="no free channel"):
        layout.pick_channels(1, 5, 6, occupied, {}, "sc01")


def test_take_properties_seed_and_insets():
    record = TakeRecord(take="take-001-x-s5", seed=2**40, prompt="p", backend="x",
                        models={"base": ModelRecord(source="/m/base", path="/m/base")}, bundle=TakeBundle(path="/b"))
    props = layout.take_properties(record, "/t/take-001-x-s5", "sc01")
    assert props["blockcast_seed"] == str(2**40) and props["blockcast_models"] == {"base": "/m/base"}
    assert props["blockcast_take_json"].endswith("take-001-x-s5/take.json")
    assert layout.next_seed([0, 4, 2]) == 5 and layout.next_seed([]) == 0
    assert layout.inset_transform(0, 300, 90) == pytest.approx((1 / 3, -100, -30))
    assert layout.inset_transform(1, 300, 90)[1] == pytest.approx(0)


def test_takes_folders_number_bundles_and_keep_projects_apart(tmp_path):
    root = tmp_path / "takes"
    a = folders.shot_takes_dir(root, "/p/one/shot.blend", "Shot 1/A")
    b = folders.shot_takes_dir(root, "/p/two/shot.blend", "Shot 1/A")
    assert a.name == "Shot_1_A" and a.parent.name.startswith("shot-") and a.parent != b.parent
    assert folders.new_bundle_dir(a).name == "001"
    (a / "bundles" / "001").mkdir(parents=True)
    (a / "bundles" / ".002.partial-1234").mkdir()
    assert folders.new_bundle_dir(a).name == "003"


# -- Blender ------------------------------------------------------------------------------

@pytest.fixture
def seq(blockcast):
    return importlib.import_module(f"{blockcast.__name__}.addon.blender.sequencer")


def make_take(root, number, seed, frames=FRAMES, controls=("depth",)):
    """A take folder as the engine writes it, with its bundle's control images."""
    bundle = root / "bundle"
    for kind in controls:
        (bundle / "controls" / kind).mkdir(parents=True, exist_ok=True)
        for frame in frames:
            write_png(bundle / "controls" / kind / f"{frame:04d}.png", np.full((18, 32, 3), 90, np.uint8))
    take_id = f"take-{number:03d}-wan-vace-s{seed}"
    take = root / take_id
    (take / "frames").mkdir(parents=True)
    for frame in frames:
        write_png(take / "frames" / f"{frame:04d}.png", np.full((18, 32, 3), 40 * number, np.uint8))
    record = {"schema": "blockcast.take", "schema_version": "1.0", "take": take_id, "status": "complete",
              "backend": "wan-vace", "models": {"pipeline": {"source": "/models/wan", "path": "/models/wan"}},
              "prompt": "a kite over the dunes", "negative_prompt": "blur", "seed": seed,
              "parameters": {"steps": 2, "controls": {kind: 1.0 for kind in controls}},
              "bundle": {"path": str(bundle), "frames": [frames[0], frames[-1]], "frame_count": len(frames)},
              "frames": [f"frames/{frame:04d}.png" for frame in frames], "preview": "preview.mp4"}
    (take / "take.json").write_text(json.dumps(record))
    return take


def _scene_with_an_edit(scene):
    """A scene whose sequencer already holds a user's colour strip on channel 1 over the shot."""
    scene.render.resolution_x, scene.render.resolution_y = 32, 18
    editor = scene.sequence_editor_create()
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    span = {"length": 50} if hasattr(editor, "strips") else {"frame_end": 51}  # 5.0 renamed the argument
    edit = strips.new_effect(name="edit", type="COLOR", channel=1, frame_start=1, **span)
    return editor, edit


def test_compatibility_layer_uses_this_blenders_collection(seq, empty_scene):
    import bpy

    editor = seq.sequence_editor(empty_scene, create=True)
    expected = "strips" if bpy.app.version >= (5, 0, 0) else "sequences"
    assert seq.strip_collection(editor) == getattr(editor, expected)
    assert seq.all_strips(editor) == getattr(editor, f"{expected}_all")


def test_takes_become_strips_on_the_shots_channels_and_nothing_moves(seq, empty_scene, tmp_path):
    editor, edit = _scene_with_an_edit(empty_scene)
    takes = [make_take(tmp_path, 1, 0), make_take(tmp_path, 2, 1)]
    first = seq.add_takes(empty_scene, [takes[0]], "sc01")
    second = seq.add_takes(empty_scene, [takes[1]], "sc01")
    assert (edit.channel, edit.frame_final_start, edit.frame_final_end) == (1, 1, 51)
    strips = first + second
    assert [s.channel for s in strips] == [2, 3] and editor.channels[2].name == "sc01"
    for strip, take in zip(strips, takes):
        assert (strip.frame_final_start, strip.frame_final_end) == (11, 14)
        assert strip.directory.rstrip("/") == str(take / "frames")
        assert [e.filename for e in strip.elements] == ["0011.png", "0012.png", "0013.png"]
        assert strip["blockcast_take_json"] == str(take / "take.json")
        assert strip["blockcast_prompt"] == "a kite over the dunes" and strip["blockcast_backend"] == "wan-vace"
        assert strip["blockcast_models"].to_dict() == {"pipeline": "/models/wan"}
    assert [s["blockcast_seed"] for s in strips] == [0, 1]
    assert [(s.mute, s["blockcast_accepted"]) for s in strips] == [(False, True), (True, False)]
    assert [s.name for s in seq.shot_takes(empty_scene, "sc01")] == [s.name for s in strips]


def test_accepting_a_take_mutes_the_others_of_its_shot_only(seq, empty_scene, tmp_path):
    _scene_with_an_edit(empty_scene)
    ours = seq.add_takes(empty_scene, [make_take(tmp_path / "a", 1, 0), make_take(tmp_path / "a", 2, 1)], "sc01")
    other = seq.add_takes(empty_scene, [make_take(tmp_path / "b", 1, 0, frames=(30, 31))], "sc02")[0]
    seq.accept_take(empty_scene, ours[1])
    assert [(s.mute, s["blockcast_accepted"]) for s in ours] == [(True, False), (False, True)]
    assert not other.mute and other["blockcast_accepted"]


def test_control_passes_load_as_insets_above_the_takes_once(seq, empty_scene, tmp_path):
    _scene_with_an_edit(empty_scene)
    take = seq.add_takes(empty_scene, [make_take(tmp_path, 1, 0, controls=("depth", "pose"))], "sc01")[0]
    controls = seq.add_control_strips(empty_scene, take)
    assert [s["blockcast_control"] for s in controls] == ["depth", "pose"]
    assert [s.channel for s in controls] == [3, 4]
    assert all((s.frame_final_start, s.frame_final_end) == (11, 14) for s in controls)
    assert controls[0].transform.scale_x == pytest.approx(1 / 3)
    assert controls[0].transform.offset_x == pytest.approx(-32 / 3)
    assert seq.add_control_strips(empty_scene, take) == []


def test_strips_and_their_records_survive_save_and_reopen(seq, empty_scene, tmp_path):
    import bpy

    _scene_with_an_edit(empty_scene)
    take = make_take(tmp_path, 1, 42)
    name = seq.add_takes(empty_scene, [take], "sc01")[0].name
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "edit.blend"))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "edit.blend"))
    scene = bpy.context.scene
    strip = seq.find_take(scene, name)
    assert strip is not None and strip.channel == 2 and scene.sequence_editor.channels[2].name == "sc01"
    assert strip["blockcast_seed"] == 42 and strip["blockcast_take_json"] == str(take / "take.json")
