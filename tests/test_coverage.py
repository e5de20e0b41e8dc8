"""The coverage check on real bpy: scenes that keep the line of action, cross it, match and mismatch
eyelines and cut an actor off are classified as a script supervisor would; the diagram is SVG; the
script and the Coverage panel run it (the panel in a fresh bpy with the built extension installed,
as in tests/test_extension.py).

Every scene: Ana at (-1, 0) and Ben at (1, 0), facing each other; the line of action runs along +X,
so a camera at y < 0 stands right of it (Ana screen-left of Ben) and at y > 0 left of it."""

import ast
import json
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SIZE = (64, 36)
HEAD = 1.6


def _camera(scene, name, location, target, lens=35.0):
    import bpy
    from mathutils import Vector
    camera = bpy.data.objects.new(name, bpy.data.cameras.new(name))
    camera.data.lens = lens
    camera.location = location
    camera.rotation_euler = (Vector(target) - Vector(location)).to_track_quat("-Z", "Y").to_euler()
    scene.collection.objects.link(camera)
    return camera


def _two_actors(glue, scene, ben_turn_degrees=0.0):
    """Ana and Ben facing each other; Ben turned by `ben_turn_degrees` more (180: he looks away)."""
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = *SIZE, 100
    ana = glue.actors.add_proxy_actor(scene, "Ana", "", (-1, 0, 0))
    ben = glue.actors.add_proxy_actor(scene, "Ben", "", (1, 0, 0))
    ana.rotation_euler.z = math.radians(90)                      # faces +X, towards Ben
    ben.rotation_euler.z = math.radians(-90 + ben_turn_degrees)  # faces -X, towards Ana
    return ana, ben


def _shots(scene, *cameras):
    """One two-frame shot per camera, bound to markers named A, B, ..."""
    scene.frame_start, scene.frame_end = 1, 2 * len(cameras)
    scene.camera = cameras[0]
    for index, camera in enumerate(cameras):
        scene.timeline_markers.new("ABCD"[index], frame=1 + 2 * index).camera = camera


def _report(scene):
    from blockcast.addon.blender.coverage import scene_coverage
    return scene_coverage(scene, samples=2)


def _shot_reverse_shot(glue, scene, reverse_y=-2.5, ben_turn_degrees=0.0):
    """A: over Ben's shoulder on Ana (right of the line); B: on Ben from `reverse_y`."""
    _two_actors(glue, scene, ben_turn_degrees)
    on_ana = _camera(scene, "On Ana", (1.5, -2.5, HEAD), (-1, 0, HEAD))
    on_ben = _camera(scene, "On Ben", (-1.5, reverse_y, HEAD), (1, 0, HEAD))
    _shots(scene, on_ana, on_ben)
    return _report(scene)


def test_shot_reverse_shot_that_keeps_the_line_matches_eyelines(glue, empty_scene):
    report = _shot_reverse_shot(glue, empty_scene)
    assert (report.line.actor_a, report.line.actor_b, report.line.reason) == ("Ana", "Ben", "they face each other")
    a, b = report.shots
    assert (a.side, b.side) == ("right", "right") and not a.crosses_line and not b.crosses_line
    assert a.screen_order == ["Ana", "Ben"] and not b.screen_flipped
    assert (a.subject, b.subject) == ("Ana", "Ben")
    gaze = {(shot.name, actor.name): actor.gaze for shot in (a, b) for actor in shot.actors}
    assert gaze[("A", "Ana")] == "screen-right" and gaze[("B", "Ben")] == "screen-left"
    assert a.eyeline is None and b.eyeline.match is True and b.eyeline.previous_shot == "A"
    assert "CROSSES" not in report.summary() and "MISMATCH" not in report.summary()


def test_reverse_shot_across_the_line_flips_screen_direction_and_eyelines(glue, empty_scene):
    report = _shot_reverse_shot(glue, empty_scene, reverse_y=2.5)
    a, b = report.shots
    assert (a.side, b.side) == ("right", "left") and b.crosses_line and not a.crosses_line
    assert b.screen_flipped and b.screen_order == ["Ben", "Ana"]
    assert b.eyeline.match is False  # both look screen-right: they no longer seem to look at each other
    assert "B (On Ben, frames 3-4): camera left of the line — CROSSES THE LINE" in report.summary()


def test_eyeline_mismatch_without_crossing_when_an_actor_looks_away(glue, empty_scene):
    report = _shot_reverse_shot(glue, empty_scene, ben_turn_degrees=180)
    a, b = report.shots
    assert report.line.reason.startswith("the first two actors")  # Ben no longer faces Ana
    assert not b.crosses_line and b.subject == "Ben" and b.eyeline.match is False


def test_camera_moving_across_the_line_during_a_shot(glue, empty_scene):
    _two_actors(glue, empty_scene)
    wide = _camera(empty_scene, "Wide", (0, -8, HEAD), (0, 0, 1.0), lens=18)
    dolly = _camera(empty_scene, "Dolly", (3, -3, HEAD), (0, 0, HEAD))
    dolly.keyframe_insert("location", frame=3)
    dolly.location = (3, 3, HEAD)
    dolly.keyframe_insert("location", frame=4)
    _shots(empty_scene, wide, dolly)
    wide_shot, moving = _report(empty_scene).shots
    assert not wide_shot.side_changes and moving.side_changes


def test_the_first_shot_off_the_line_sets_the_side(glue, empty_scene):
    _two_actors(glue, empty_scene)
    on_the_line = _camera(empty_scene, "Down the line", (-6, 0, HEAD), (0, 0, 1.0), lens=18)
    right = _camera(empty_scene, "Right", (0, -8, HEAD), (0, 0, 1.0), lens=18)
    left = _camera(empty_scene, "Left", (0, 8, HEAD), (0, 0, 1.0), lens=18)
    _shots(empty_scene, on_the_line, right, left)
    report = _report(empty_scene)
    assert [(s.side, s.crosses_line) for s in report.shots] == [
        ("on the line", False), ("right", False), ("left", True)]
    heads = [line for line in report.summary().splitlines() if line.startswith("Shot ")]
    assert ["(sets the side)" in h for h in heads] == [False, True, False] and "CROSSES THE LINE" in heads[2]


def test_actors_cut_off_by_the_frame_edge(glue, empty_scene):
    _two_actors(glue, empty_scene)
    wide = _camera(empty_scene, "Wide", (0, -8, HEAD), (0, 0, 0.9), lens=18)
    close = _camera(empty_scene, "Close on Ana", (-0.2, -1.2, HEAD), (-1, 0, HEAD), lens=50)
    _shots(empty_scene, wide, close)
    wide_shot, close_shot = _report(empty_scene).shots
    assert [actor.framing for actor in wide_shot.actors] == ["in frame", "in frame"]
    ana, ben = close_shot.actors
    assert ana.framing == "cut off" and "left_ankle" in ana.joints_outside and not ana.head_cut
    assert ana.frames_cut == [3, 4] and ben.framing == "out of frame"
    summary = _report(empty_scene).summary()
    assert "Ana framed above the " in summary and "by the frame edge" not in summary  # a framing, no alert


def test_json_and_diagram(glue, empty_scene, tmp_path):
    from blockcast.addon.coverage_diagram import DiagramPathError, write_coverage_svg
    report = _shot_reverse_shot(glue, empty_scene, reverse_y=2.5)
    document = json.loads(report.to_json())
    assert [(s["name"], s["side"], s["crosses_line"]) for s in document["shots"]] == [
        ("A", "right", False), ("B", "left", True)]
    svg = write_coverage_svg(tmp_path / "coverage.svg", report)
    root = ET.parse(svg).getroot()
    names = [el.text for el in root.iter("{http://www.w3.org/2000/svg}text")]
    assert {"Ana", "Ben", "A (On Ana)", "B (On Ben)", "crosses the line"} <= set(names)
    assert len(list(root.iter("{http://www.w3.org/2000/svg}circle"))) == 2
    write_coverage_svg(svg, report)  # its own diagram is replaced
    foreign = tmp_path / "mine.svg"
    foreign.write_text("<svg/>")
    with pytest.raises(DiagramPathError, match="not a Blockcast coverage diagram"):
        write_coverage_svg(foreign, report)
    assert foreign.read_text() == "<svg/>"


def test_script_prints_json_and_writes_the_diagram(glue, empty_scene, tmp_path):
    import bpy
    _shot_reverse_shot(glue, empty_scene)
    blend = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    script = REPO / "scripts" / "coverage_report.py"
    run = subprocess.run([sys.executable, str(script), str(blend), "--json", "--diagram", str(tmp_path / "c.svg")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout[run.stdout.index("{"):])
    assert [s["crosses_line"] for s in document["shots"]] == [False, False]
    assert document["shots"][1]["eyeline"]["match"] is True
    ET.parse(tmp_path / "c.svg")
    bad = subprocess.run([sys.executable, str(script), str(blend), "--scene", "Nope"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "no scene named 'Nope'" in bad.stderr.strip().splitlines()[-1]


def test_coverage_and_lighting_modules_import_no_bpy():
    for name in ("coverage", "coverage_bundle", "coverage_diagram", "coverage_text", "lighting"):
        tree = ast.parse((REPO / "addon" / f"{name}.py").read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
        relative = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level}
        assert not imported & {"bpy", "mathutils", "torch"}
        assert relative <= {"engine.bundle.camera", "engine.bundle.pose", "engine.bundle.manifest", "coverage",
                            "coverage_text"}  # the bundle format's own modules, stdlib and numpy only


def test_sample_frames_spread_over_the_shot(blockcast):
    from blockcast.addon.coverage import sample_frames
    assert sample_frames(1, 1) == [1] and sample_frames(1, 2) == [1, 2] and sample_frames(1, 9, 1) == [5]
    assert sample_frames(1, 48, 5) == [1, 13, 24, 36, 48] and sample_frames(10, 12, 5) == [10, 11, 12]


PANEL_SCENARIO = r"""
import json, sys, bpy
zip_path, blend = sys.argv[1], sys.argv[2]
bpy.ops.wm.open_mainfile(filepath=blend)
bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
report = {"panel": hasattr(bpy.types, "BLOCKCAST_PT_coverage")}
report["result"] = bpy.ops.blockcast.check_coverage()
wm = bpy.context.window_manager
report["text"], report["diagram"] = wm.blockcast_coverage, wm.blockcast_coverage_diagram
print("REPORT " + json.dumps(report, default=list))
"""


def test_coverage_panel_registers_and_checks_the_scene(glue, empty_scene, extension_zip, tmp_path):
    import bpy
    _shot_reverse_shot(glue, empty_scene, reverse_y=2.5)
    blend = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    script = tmp_path / "panel.py"
    script.write_text(PANEL_SCENARIO)
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"))
    result = subprocess.run([sys.executable, str(script), str(extension_zip), str(blend)],
                            capture_output=True, text=True, env=env, timeout=300)
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stdout + result.stderr
    report = json.loads(lines[0][len("REPORT "):])
    assert report["panel"] and report["result"] == ["FINISHED"]
    assert "CROSSES THE LINE" in report["text"]
    assert report["diagram"] == str(tmp_path / "shot_coverage_Scene.svg")
    ET.parse(report["diagram"])


def test_a_scene_with_one_actor_has_no_line_but_still_frames_its_shots(glue, empty_scene, tmp_path):
    from blockcast.addon.coverage_diagram import write_coverage_svg
    empty_scene.render.resolution_x, empty_scene.render.resolution_y = SIZE
    glue.actors.add_proxy_actor(empty_scene, "Solo", "", (0, 0, 0))
    empty_scene.camera = _camera(empty_scene, "Wide", (0, -8, HEAD), (0, 0, 0.9), lens=18)
    empty_scene.frame_start, empty_scene.frame_end = 1, 1
    report = _report(empty_scene)
    assert report.line is None and report.shots[0].side == "on the line" and not report.shots[0].crosses_line
    assert report.shots[0].actors[0].framing == "in frame"
    assert report.summary().startswith("No line of action: the scene needs two actors")
    ET.parse(write_coverage_svg(tmp_path / "solo.svg", report))


def test_another_scene_than_the_active_one(glue, empty_scene):
    """The script's --scene: the scene read is not the context's; its own frames and depsgraph are used."""
    import bpy
    other = bpy.data.scenes.new("Other")
    _two_actors(glue, other)
    on_ana = _camera(other, "On Ana", (1.5, -2.5, HEAD), (-1, 0, HEAD))
    on_ben = _camera(other, "On Ben", (-1.5, -2.5, HEAD), (1, 0, HEAD))
    on_ben.keyframe_insert("location", frame=3)
    on_ben.location.y = 2.5  # it dollies across the line during shot B
    on_ben.keyframe_insert("location", frame=4)
    _shots(other, on_ana, on_ben)
    assert bpy.context.scene != other
    report = _report(other)
    assert report.scene == "Other" and [s.side_changes for s in report.shots] == [False, True]
    assert np.allclose(report.shots[1].camera_path, [[-1.5, -2.5], [-1.5, 2.5]])


def test_coverage_from_exported_bundles_agrees_with_the_scene(glue, empty_scene, tmp_path):
    """The same shots exported (pose and camera passes) and read back through the script's --bundle."""
    report = _shot_reverse_shot(glue, empty_scene, reverse_y=2.5)
    folders = [str(glue.export.export_shot(empty_scene, glue.shots.resolve_shot(empty_scene, name),
                                           tmp_path / name, "pose,camera")) for name in ("A", "B")]
    only_camera = glue.export.export_shot(empty_scene, glue.shots.resolve_shot(empty_scene, "A"),
                                          tmp_path / "camera_only", "camera")
    script = str(REPO / "scripts" / "coverage_report.py")
    run = subprocess.run([sys.executable, script, "--bundle", folders[0], "--bundle", folders[1], "--json"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout[run.stdout.index("{"):])
    expected = json.loads(report.to_json())
    assert document["line"] == expected["line"] and document["scene"] == "Scene"
    for got, want in zip(document["shots"], expected["shots"]):
        for key in ("name", "camera_name", "frames", "side", "crosses_line", "screen_order", "subject", "eyeline"):
            assert got[key] == want[key], key
        assert [a["framing"] for a in got["actors"]] == [a["framing"] for a in want["actors"]]
        assert np.allclose(got["camera_position"], want["camera_position"], atol=1e-6)
    bad = subprocess.run([sys.executable, script, "--bundle", str(only_camera)], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 1 and "has no pose pass: export the shot again with --passes pose,camera" in bad.stderr
