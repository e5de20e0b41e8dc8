"""The lens against Blender: the add-on's lens record (real bpy: rack focus on a focus object,
aperture, shutter), and scripts/eval_lens.py --quick, whose rows (our defocus and motion blur
against Cycles' own renders) must all pass, so the figures in docs/lens.md cannot rot."""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def lens_glue(blockcast):
    return importlib.import_module(f"{blockcast.__name__}.addon.blender.lens")


def test_lens_records_follow_a_rack_focus_and_the_shutter(lens_glue, empty_scene):
    import bpy

    from engine.lens import frame_lens, frame_px_per_mm, frame_shutter

    scene = empty_scene
    data = bpy.data.cameras.new("Cam")
    data.lens, data.sensor_width, data.sensor_fit = 85.0, 36.0, "HORIZONTAL"
    camera = bpy.data.objects.new("Cam", data)  # at the origin, looking down -Z
    scene.collection.objects.link(camera)
    target = bpy.data.objects.new("Target", None)
    scene.collection.objects.link(target)
    for frame, z in ((1, -2.0), (11, -6.0)):
        target.location = (0.5, 0.3, z)  # off-axis: only the distance along the view axis counts
        target.keyframe_insert("location", frame=frame)
    data.dof.use_dof, data.dof.focus_object, data.dof.aperture_fstop = True, target, 2.0
    data.dof.aperture_blades, data.dof.aperture_rotation, data.dof.aperture_ratio = 6, 0.5, 1.5
    scene.render.use_motion_blur, scene.render.motion_blur_shutter = True, 0.25
    scene.render.motion_blur_position = "START"
    scene.frame_set(4)

    first, last = lens_glue.lens_records(scene, camera, [1, 11])
    assert scene.frame_current == 4
    assert first["depth_of_field"]["focus_distance"] == pytest.approx(2.0, abs=1e-5)
    assert last["depth_of_field"]["focus_distance"] == pytest.approx(6.0, abs=1e-5)
    lens = frame_lens(first)
    assert (lens.focal_mm, lens.fstop, lens.blades, lens.ratio) == (85.0, 2.0, 6, 1.5)
    assert lens.rotation == pytest.approx(0.5)
    assert frame_px_per_mm(first, 512, 288) == 512 / 36
    shutter = frame_shutter(first)
    assert (shutter.length, shutter.position) == (0.25, "START")
    json.dumps(first)  # a plain, JSON-ready record

    data.dof.use_dof, scene.render.use_motion_blur = False, False
    (off,) = lens_glue.lens_records(scene, camera, [1])
    assert frame_lens(off) is None and frame_shutter(off) is None


def test_eval_lens_quick_rows_pass(tmp_path):
    pytest.importorskip("bpy")
    out = tmp_path / "rows.json"
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "eval_lens.py"), "--quick", "--json", str(out)],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = json.loads(out.read_text())
    kinds = {row["test"].split()[0] for row in rows}
    assert kinds == {"dof", "edge", "motion"}
    assert all(row["pass"] for row in rows), rows
    assert all(row["ssim"] > row["ssim_unblurred"] for row in rows if "ssim" in row and "f/1.4" in row["test"])
    assert "dof f/1.4" in result.stdout
