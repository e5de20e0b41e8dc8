"""Takes in the Video Sequence Editor on real Blender (5.0 `strips`, 4.2 `sequences`), and the
bpy-free layout rules behind them. Take folders are written here in the engine's layout
(docs/engine.md); tests/test_roundtrip.py makes real ones with the engine."""

import importlib
import json
from pathlib import Path

import numpy as np
import pytest

from engine.bundle.png import read_png, write_png
from engine.bundle.take_record import ModelRecord, TakeBundle, TakeRecord

from test_engine_process import load_bpy_free

layout = load_bpy_free("strip_layout")
folders = load_bpy_free("take_folders")
review = load_bpy_free("review_images")
summary = load_bpy_free("take_summary")

FRAMES = (11, 12, 13)


# -- bpy-free layout rules ------------------------------------------------------------------

def test_a_new_shot_gets_a_block_on_the_lowest_empty_unnamed_channels_with_spare_alternates():
    occupied = [(1, 1, 100), (3, 200, 220)]  # an edit on channel 1, a title on channel 3 later on
    plan = layout.plan_takes(2, 11, 14, occupied, {1: "Channel 1", 2: "Channel 2"}, "A", has_accepted=False)
    assert plan.slots == [(2, True), (4, False)]
    assert plan.names == {2: "A", 4: "A alt 1", 5: "A alt 2", 6: "A alt 3"}


def test_later_takes_fill_the_shots_own_block_then_claim_above_it_never_another_shots():
    names = {1: "A", 2: "A alt 1", 3: "A alt 2", 4: "B", 5: "B alt 1", 6: "Channel 6"}
    occupied = [(1, 11, 14), (2, 11, 14), (4, 30, 40)]
    plan = layout.plan_takes(1, 11, 14, occupied, names, "A", has_accepted=True)
    assert (plan.slots, plan.names) == ([(3, False)], {})
    plan = layout.plan_takes(2, 11, 14, occupied + [(3, 11, 14)], names, "A", has_accepted=True)
    assert (plan.slots, plan.names) == ([(6, False), (7, False)], {6: "A alt 3", 7: "A alt 4"})
    assert layout.plan_takes(1, 30, 40, occupied, names, "B", has_accepted=True).slots == [(5, False)]
    block = layout.ShotBlock.read({**names, 9: "A depth control"}, "A")
    assert (block.home, block.alternates, block.controls) == (1, {1: 2, 2: 3}, {"depth": 9})


def test_controls_get_their_own_named_channels_above_the_block():
    names = {1: "A", 2: "A alt 1", 3: "A alt 2", 4: "B"}
    channels, new_names = layout.plan_controls(["depth", "objects"], 11, 14, [(4, 30, 40)], names, "A")
    assert channels == {"depth": 5, "objects": 6}
    assert new_names == {5: "A depth control", 6: "A objects control"}
    again, more = layout.plan_controls(["depth"], 11, 14, [], {**names, **new_names}, "A")
    assert (again, more) == ({"depth": 5}, {})


def test_no_free_channel_is_a_clear_error():
    occupied = [(channel, 1, 10) for channel in range(1, layout.MAX_CHANNEL + 1)]
    with pytest.raises(layout.LayoutError, match="no free channel"):
        layout.plan_takes(1, 5, 6, occupied, {}, "sc01", has_accepted=False)


def test_review_grid_tiles_never_overlap_and_stay_in_frame():
    assert [layout.grid_shape(n) for n in (1, 2, 4, 5, 7)] == [(1, 1), (2, 1), (2, 2), (3, 2), (3, 3)]
    width, height = 300, 90
    rectangles = []
    for index in range(5):
        scale, x, y = layout.grid_transform(index, 5, width, height)
        rectangles.append((x - width * scale / 2, y - height * scale / 2, x + width * scale / 2,
                           y + height * scale / 2))
    assert rectangles[0] == pytest.approx((-150, 0, -50, 30))  # the take: top left
    for index, (x0, y0, x1, y1) in enumerate(rectangles):
        assert -150 <= x0 and x1 <= 150 and -45 <= y0 and y1 <= 45
        for other in rectangles[index + 1:]:
            assert x1 <= other[0] or other[2] <= x0 or y1 <= other[1] or other[3] <= y0


def test_take_properties_and_seeds():
    record = TakeRecord(take="take-001-x-s5", seed=2**40, prompt="p", backend="x",
                        models={"base": ModelRecord(source="/m/base", path="/m/base")}, bundle=TakeBundle(path="/b"))
    props = layout.take_properties(record, "/t/take-001-x-s5", "sc01")
    assert props["blockcast_seed"] == str(2**40) and props["blockcast_models"] == {"base": "/m/base"}
    assert props["blockcast_take_json"].endswith("take-001-x-s5/take.json")
    assert layout.next_seed([0, 4, 2]) == 5 and layout.next_seed([]) == 0


def test_objects_review_is_coloured_per_index_background_black(tmp_path):
    indices = np.array([[0, 1, 2], [3, 1, 0]], np.uint16)
    colours = review.colour_objects(indices)
    assert colours.dtype == np.uint8 and colours.shape == (2, 3, 3)
    assert colours[0, 0].tolist() == [0, 0, 0] == colours[1, 2].tolist()
    assert colours[0, 1].tolist() == colours[1, 1].tolist()
    assert len({tuple(review.object_colour(i)) for i in range(1, 65)}) == 64
    assert all(max(review.object_colour(i)) >= 150 for i in range(1, 65))  # none near black
    folder = tmp_path / "controls" / "objects"
    folder.mkdir(parents=True)
    write_png(folder / "0011.png", indices)
    (coloured,) = review.review_files("objects", [folder / "0011.png"])
    assert coloured == tmp_path / "controls" / "objects_colour" / "0011.png"
    assert (read_png(coloured) == colours).all()
    stamp = coloured.stat().st_mtime_ns
    review.colour_frames([folder / "0011.png"])
    assert coloured.stat().st_mtime_ns == stamp  # up to date: not written again
    assert review.review_files("depth", [folder / "0011.png"]) == [folder / "0011.png"]


def test_take_summary_reads_once_and_says_frames_date_and_understanding(tmp_path):
    take = make_take(tmp_path, 1, 3, extra={"created": "2026-12-01T14:39:07+00:00",
                                             "understood": ["red -> Anna (coat)", "kite -> Kite", "x" * 80]})
    first = summary.cached_summary(take / "take.json")
    assert first.thumbnail == str(take / "frames" / "0011.png")
    assert (first.frames, first.date) == ("frames 11-13 (3)", "2026-12-01 14:39 UTC")
    assert first.understood == "red -> Anna (coat); kite -> Kite..."
    assert summary.cached_summary(take / "take.json") is first
    assert summary.date_label("2026-12-01T15:39:07+01:00") == "2026-12-01 14:39 UTC"
    assert summary.date_label(None) == summary.date_label("yesterday") == ""
    assert summary.cached_summary(tmp_path / "gone" / "take.json") is None


def test_takes_folders_number_bundles_and_keep_projects_apart(tmp_path):
    root = tmp_path / "takes"
    a = folders.shot_takes_dir(root, "shot-1a2b3c4d", "Shot 1/A")  # two project ids
    b = folders.shot_takes_dir(root, "shot-5e6f7a8b", "Shot 1/A")
    assert a.name == "Shot_1_A" and a.parent.name.startswith("shot-") and a.parent != b.parent
    assert folders.new_bundle_dir(a).name == "001"
    (a / "bundles" / "001").mkdir(parents=True)
    (a / "bundles" / ".002.partial-1234").mkdir()
    assert folders.new_bundle_dir(a).name == "003"


# -- Blender ------------------------------------------------------------------------------

@pytest.fixture
def seq(blockcast):
    return importlib.import_module(f"{blockcast.__name__}.addon.blender.sequencer")


def make_take(root, number, seed, frames=FRAMES, controls=("depth",), extra=None):
    """A take folder as the engine writes it, with its bundle's control images (objects: 16-bit
    indices, as engine/controls.py's write_review leaves them)."""
    bundle = root / "bundle"
    for kind in controls:
        (bundle / "controls" / kind).mkdir(parents=True, exist_ok=True)
        for frame in frames:
            if kind == "objects":
                pixels = np.zeros((18, 32), np.uint16)
                pixels[2:9, 3:12], pixels[10:16, 14:30] = 1, 2
            else:
                pixels = np.full((18, 32, 3), 90, np.uint8)
            write_png(bundle / "controls" / kind / f"{frame:04d}.png", pixels)
    take_id = f"take-{number:03d}-wan-vace-s{seed}"
    take = root / take_id
    (take / "frames").mkdir(parents=True)
    for frame in frames:
        write_png(take / "frames" / f"{frame:04d}.png", np.full((18, 32, 3), 40 * number, np.uint8))
    record = {"schema": "blockcast.take", "schema_version": "1.0", "take": take_id, "status": "complete",
              "backend": "wan-vace", "models": {"pipeline": {"source": "/models/wan", "path": "/models/wan"}},
              "prompt": "a kite over the dunes", "negative_prompt": "blur", "seed": seed,
              "parameters": {"steps": 2, "controls": {kind: 1.0 for kind in (*controls, "camera")}},
              "bundle": {"path": str(bundle), "frames": [frames[0], frames[-1]], "frame_count": len(frames)},
              "frames": [f"frames/{frame:04d}.png" for frame in frames], "preview": "preview.mp4", **(extra or {})}
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


def _layout(scene):
    """(channel name, take or control, muted) of every Blockcast strip, by channel."""
    editor = scene.sequence_editor
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    return sorted((s.channel, editor.channels[s.channel].name, s.get("blockcast_take") or s.get("blockcast_control"),
                   s.mute) for s in strips if s.get("blockcast_shot"))


def _render(scene, frame, path):
    """`scene`'s sequencer output at `frame` as an (H, W, 3) array (Standard view: pixels as stored)."""
    import bpy

    scene.view_settings.view_transform = "Standard"
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.filepath = str(path)
    scene.frame_set(frame)
    bpy.ops.render.render(write_still=True, scene=scene.name)
    return read_png(path)


def test_compatibility_layer_uses_this_blenders_collection(seq, empty_scene):
    import bpy

    editor = seq.sequence_editor(empty_scene, create=True)
    expected = "strips" if bpy.app.version >= (5, 0, 0) else "sequences"
    assert seq.strip_collection(editor) == getattr(editor, expected)
    assert seq.all_strips(editor) == getattr(editor, f"{expected}_all")


def test_takes_become_strips_in_the_shots_block_and_nothing_moves(seq, empty_scene, tmp_path):
    editor, edit = _scene_with_an_edit(empty_scene)
    takes = [make_take(tmp_path, 1, 0), make_take(tmp_path, 2, 1)]
    first = seq.add_takes(empty_scene, [takes[0]], "sc01")
    second = seq.add_takes(empty_scene, [takes[1]], "sc01")
    assert (edit.channel, edit.frame_final_start, edit.frame_final_end) == (1, 1, 51)
    strips = first + second
    assert [s.channel for s in strips] == [2, 3]
    assert [editor.channels[c].name for c in range(1, 6)] == ["Channel 1", "sc01", "sc01 alt 1", "sc01 alt 2",
                                                               "Channel 5"]
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


def test_two_shots_never_share_a_channel_block(seq, empty_scene, tmp_path):
    _scene_with_an_edit(empty_scene)
    seq.add_takes(empty_scene, [make_take(tmp_path / "a", n, n - 1) for n in (1, 2)], "A")
    seq.add_takes(empty_scene, [make_take(tmp_path / "b", 1, 0, frames=(30, 31))], "B")
    seq.add_takes(empty_scene, [make_take(tmp_path / "a", n, n - 1) for n in (3, 4)], "A")  # fills A's spare
    seq.add_takes(empty_scene, [make_take(tmp_path / "b", 2, 1, frames=(30, 31))], "B")
    seq.add_takes(empty_scene, [make_take(tmp_path / "a", 5, 4)], "A")  # A's block is full: above B's
    assert _layout(empty_scene) == [
        (2, "A", "take-001-wan-vace-s0", False), (3, "A alt 1", "take-002-wan-vace-s1", True),
        (4, "A alt 2", "take-003-wan-vace-s2", True), (5, "A alt 3", "take-004-wan-vace-s3", True),
        (6, "B", "take-001-wan-vace-s0", False), (7, "B alt 1", "take-002-wan-vace-s1", True),
        (9, "A alt 4", "take-005-wan-vace-s4", True)]  # B took 6-8
    assert seq.shots_with_takes(empty_scene) == ["A", "B"]
    names = {s.channel: s.get("blockcast_shot") for s in seq.all_strips(empty_scene.sequence_editor)
             if s.get("blockcast_shot")}
    assert all(empty_scene.sequence_editor.channels[c].name.split()[0] == shot for c, shot in names.items())


def test_accepting_an_alternate_swaps_it_onto_the_shots_first_channel(seq, empty_scene, tmp_path):
    _scene_with_an_edit(empty_scene)
    ours = seq.add_takes(empty_scene, [make_take(tmp_path / "a", n, n - 1) for n in (1, 2, 3)], "sc01")
    other = seq.add_takes(empty_scene, [make_take(tmp_path / "b", 1, 0, frames=(30, 31))], "sc02")[0]
    seq.accept_take(empty_scene, ours[2])
    assert [(s.channel, s.mute, s["blockcast_accepted"]) for s in ours] == [(4, True, False), (3, True, False),
                                                                              (2, False, True)]
    assert all((s.frame_final_start, s.frame_final_end) == (11, 14) for s in ours)
    assert (other.channel, other.mute, other["blockcast_accepted"]) == (7, False, True)  # above sc01 alt 4
    seq.accept_take(empty_scene, ours[0])
    assert [s.channel for s in ours] == [2, 3, 4] and not ours[0].mute


def test_accept_leaves_a_strip_that_is_not_blockcasts_where_it_is(seq, empty_scene, tmp_path):
    editor, _ = _scene_with_an_edit(empty_scene)
    ours = seq.add_takes(empty_scene, [make_take(tmp_path, n, n - 1) for n in (1, 2)], "sc01")
    seq.strip_collection(editor).remove(ours[0])
    span = {"length": 3} if hasattr(editor, "strips") else {"frame_end": 14}
    title = seq.strip_collection(editor).new_effect(name="title", type="COLOR", channel=2, frame_start=11, **span)
    seq.accept_take(empty_scene, ours[1])
    assert (title.channel, ours[1].channel, ours[1].mute) == (2, 3, False)


def test_controls_land_muted_on_their_own_channels_and_review_beside_the_take(seq, empty_scene, tmp_path):
    import bpy

    review_scene = importlib.import_module(seq.__name__.replace(".sequencer", ".review_scene"))
    editor, _ = _scene_with_an_edit(empty_scene)
    take = seq.add_takes(empty_scene, [make_take(tmp_path, 1, 0, controls=("depth", "objects"))], "sc01")[0]
    record, files = seq.control_files(take)
    assert list(files) == ["depth", "objects"]  # camera has no images
    controls = seq.add_control_strips(empty_scene, take, record, files)
    assert [(s["blockcast_control"], s.channel, s.mute) for s in controls] == [("depth", 5, True),
                                                                               ("objects", 6, True)]
    assert [editor.channels[c].name for c in (5, 6)] == ["sc01 depth control", "sc01 objects control"]
    for control in controls:  # full frame, like the take, over its frames: unmuting one shows it in place
        assert (control.frame_final_start, control.frame_final_end) == (11, 14)
        assert (control.transform.scale_x, control.transform.offset_x) == (take.transform.scale_x, 0)
    assert [s.transform.filter for s in controls] == ["AUTO", "NEAREST"]  # object colours never blend
    assert not take.mute and seq.add_control_strips(empty_scene, take, record, files) == []
    objects = [Path(controls[1].directory) / e.filename for e in controls[1].elements]
    for path in objects:  # coloured, never the raw (black-looking) index
        pixels = read_png(path)
        assert pixels.ndim == 3 and pixels.max() > 100 and len(np.unique(pixels.reshape(-1, 3), axis=0)) == 3

    review = review_scene.show_take(empty_scene, take, record, files)
    assert review.name == f"{empty_scene.name} Review" and (review.frame_start, review.frame_end) == (11, 13)
    assert review_scene.review_scene(empty_scene) == review and review_scene.reviewed_scene(review) == empty_scene
    tiles = review_scene.review_strips(review, "sc01")
    assert [t["blockcast_review_tile"] for t in tiles] == ["take-001-wan-vace-s0 (seed 0)", "depth", "objects"]
    assert all(not t.mute and (t.frame_final_start, t.frame_final_end) == (11, 14) for t in tiles)
    assert Path(tiles[0].directory) == Path(take.directory) and tiles[2].transform.filter == "NEAREST"
    boxes = [v for t in tiles for v in (t.transform.offset_x, t.transform.offset_y, t.transform.scale_x)]
    half = take.transform.scale_x / 2  # a 2 x 2 grid over the 32 x 18 frame: no tile covers another
    assert boxes == pytest.approx([-8, 4.5, half, 8, 4.5, half, -8, -4.5, half])
    edit_frame, review_frame = (_render(scene, 11, tmp_path / f"{scene.name}.png") for scene in (empty_scene, review))
    assert (edit_frame == 40).all()  # the edit shows the take only: the controls are muted
    assert (review_frame[:9, :16] == 40).all() and (review_frame[:9, 16:] == 90).all()  # take, depth
    objects_tile = review_frame[9:, :16].reshape(-1, 3)
    assert len(np.unique(objects_tile, axis=0)) == 3 and (review_frame[9:, 16:] == 0).all()  # coloured; empty
    again = review_scene.show_take(empty_scene, take, record, files)  # reviewing again replaces, never piles up
    assert again == review and len(review_scene.review_strips(review, "sc01")) == 3
    assert len(bpy.data.scenes) == 2

    second = seq.add_takes(empty_scene, [make_take(tmp_path / "b", 2, 1, controls=("depth",))], "sc01")[0]
    record, files = seq.control_files(second)
    replaced = seq.add_control_strips(empty_scene, second, record, files)
    assert [(s["blockcast_control_of"], s.channel) for s in replaced] == [(second.name, 5)]
    assert [s for s in seq.all_strips(editor) if s.get("blockcast_control")] == replaced


def test_thumbnails_load_each_takes_first_frame_once(blockcast, tmp_path):
    thumbnails = importlib.import_module(f"{blockcast.__name__}.addon.blender.thumbnails")
    take = make_take(tmp_path, 1, 0)
    first = summary.cached_summary(take / "take.json").thumbnail
    thumbnails.thumbnail_icon(first)
    thumbnails.thumbnail_icon(first)
    assert thumbnails.loaded_paths() == [first] and thumbnails.thumbnail_icon(str(tmp_path / "gone.png")) == 0
    thumbnails.free()
    assert thumbnails.loaded_paths() == []


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


def test_takes_operators_and_panel_in_the_installed_extension(extension_zip, tmp_path):
    """Accept, Controls and the Takes panel through bpy.ops and the registered panel class."""
    import os
    import subprocess
    import sys

    created = {"created": "2026-12-01T14:39:07Z", "understood": ["kite -> Kite"]}
    takes = {"A": [str(make_take(tmp_path / "a", n, n - 1, controls=("depth", "objects"), extra=created))
                   for n in (1, 2)],
             "B": [str(make_take(tmp_path / "b", 1, 0, frames=(30, 31)))]}
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"))
    script = Path(__file__).with_name("sequencer_scenario.py")
    result = subprocess.run([sys.executable, str(script), str(extension_zip), json.dumps(takes)],
                            capture_output=True, text=True, env=env, timeout=300)
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(lines[0][len("REPORT "):])
    assert report["before"] == [[1, "A", "take-001-wan-vace-s0", False], [2, "A alt 1", "take-002-wan-vace-s1", True],
                                [5, "B", "take-001-wan-vace-s0", False]]
    labels, drawn = report["panel_before"]
    assert {"A: 2 takes", "B: 1 take", "frames 11-13 (3) · 2026-12-01 14:39 UTC", "kite -> Kite"} <= set(labels)
    assert {"thumbnail", "blockcast_takes_A open", "blockcast_takes_B closed", "blockcast.accept_take",
            "blockcast.regenerate_take", "blockcast.reveal_take", "blockcast.load_control_strips"} <= set(drawn)
    assert report["accept"] == report["controls"] == report["controls_again"] == ["FINISHED"]
    assert "no take strip named 'nope'" in report["accept_missing"]
    assert report["after"] == [
        [1, "A", "take-002-wan-vace-s1", False], [2, "A alt 1", "take-001-wan-vace-s0", True],
        [5, "B", "take-001-wan-vace-s0", False], [8, "A depth control", "depth", True],
        [9, "A objects control", "objects", True]]
    assert report["show_review"] == report["back"] == ["FINISHED"]  # the edit's window switches there and back
    assert (report["scene_in_review"], report["scene_after_back"]) == ("Scene Review", "Scene")
    assert report["panel_in_review"] == [["Takes beside their controls, from Scene"], ["blockcast.show_review"]]
    assert [(name, mute) for name, mute, _, _ in report["review"]] == [
        ("A review take-002-wan-vace-s1 (seed 1)", False), ("A review depth", False), ("A review objects", False)]
    assert "blockcast.show_review" in report["panel_after"][1]
