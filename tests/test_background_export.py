"""Generate's export in a background Blender (addon/blender/background_export.py), on real bpy.

The bpy module has no Blender binary (bpy.app.binary_path is empty), so the child is
scripts/bpy_blender.py, Blender's command line run by this venv's bpy, named through
BLOCKCAST_BLENDER as an artist's Blender would be found through bpy.app.binary_path. The
scene is the demo's, 2 frames at 64x36, with every pass.
"""

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PASSES = ["depth", "pose", "camera", "shading", "normal", "objects", "mask", "flow"]


def files(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo_blend(tmp_path_factory):
    path = tmp_path_factory.mktemp("scene") / "demo.blend"
    subprocess.run([sys.executable, REPO / "scripts" / "make_demo_scene.py", "--save", path, "--frames", "2",
                    "--size", "64x36"], check=True, capture_output=True)
    return path


@pytest.fixture
def blender(tmp_path, monkeypatch):
    """BLOCKCAST_BLENDER: a `blender` that is this interpreter's bpy (scripts/bpy_blender.py)."""
    wrapper = tmp_path / "blender"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{REPO / "scripts" / "bpy_blender.py"}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("BLOCKCAST_BLENDER", str(wrapper))
    return wrapper


@pytest.fixture
def opened(blockcast, demo_blend):
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(demo_blend))
    from blockcast.addon.blender import background_export, shots

    return background_export, bpy.context.scene, shots.resolve_shot(bpy.context.scene)


def run(steps, on_step=None):
    """Drive an export as GenerationJob does; returns (bundle path, progress seen)."""
    seen = []
    try:
        while True:
            seen.append(next(steps))
            if on_step is not None:
                on_step(seen[-1])
            if steps.in_background:
                time.sleep(0.05)
    except StopIteration as finished:
        return Path(finished.value), seen


def test_without_a_blender_to_run_the_export_stays_in_process_and_says_so(opened, monkeypatch, tmp_path):
    """Headless (the bpy module, blender -b) nothing is held, so the note says only where it runs;
    in the UI it says that Blender is held, and why."""
    background_export, scene, shot = opened
    monkeypatch.delenv("BLOCKCAST_BLENDER", raising=False)
    steps = background_export.export_steps(scene, shot, tmp_path / "b", PASSES)
    assert not steps.in_background and steps.note == "in this process, Cycles on CPU"
    steps.close()
    assert background_export.in_process_note("CPU", headless=False) == (
        "Blender held: no Blender executable to export in the background (set BLOCKCAST_BLENDER); Cycles on CPU")


def test_background_export_writes_the_in_process_bundle_and_leaves_the_file_alone(opened, blender, demo_blend,
                                                                                  tmp_path, monkeypatch):
    background_export, scene, shot = opened
    before = (demo_blend.stat().st_mtime_ns, files(demo_blend.parent)[demo_blend.name])
    steps = background_export.export_steps(scene, shot, tmp_path / "background", PASSES)
    assert steps.in_background and steps.note == "in the background, Cycles on CPU"
    path, seen = run(steps)
    assert seen[-1] == (2, 2) and path == tmp_path / "background"
    monkeypatch.delenv("BLOCKCAST_BLENDER")
    in_process, _ = run(background_export.export_steps(scene, shot, tmp_path / "in_process", PASSES))
    assert files(path) == files(in_process)  # bundle.json (source: the artist's file) and every pass
    assert len(files(path)) > 20
    assert (demo_blend.stat().st_mtime_ns, files(demo_blend.parent)[demo_blend.name]) == before
    assert not steps.process.work_dir.exists()  # the copy and its temp files are gone


def test_cancel_mid_export_stops_blender_and_leaves_nothing(opened, blender, tmp_path):
    background_export, scene, shot = opened
    out = tmp_path / "bundles" / "b"
    out.parent.mkdir()
    steps = background_export.export_steps(scene, shot, out, PASSES)
    deadline = time.monotonic() + 120
    while next(steps)[0] < 1:  # the first frame is written: the bundle's partial folder exists
        assert time.monotonic() < deadline
        time.sleep(0.02)
    steps.close()
    assert steps.process.poll() is not None
    assert list(out.parent.iterdir()) == [] and not steps.process.work_dir.exists()


def test_a_failing_background_export_says_why_in_the_exporters_words(opened, blender, tmp_path):
    background_export, scene, shot = opened
    broken = type(shot)(shot.name, "no such camera", shot.frame_start, shot.frame_end)
    steps = background_export.export_steps(scene, broken, tmp_path / "b", PASSES)
    with pytest.raises(background_export.ExportError, match="camera"):
        run(steps)
    assert not (tmp_path / "b").exists() and not steps.process.work_dir.exists()


def test_export_passes_in_the_background_keeps_or_replaces_a_bundle_as_replace_existing_says(opened, blender,
                                                                                          tmp_path):
    """Shot Export's Export Passes runs this export: a bundle already there is refused in the panel's
    words before any Blender starts, and replaced when Replace Existing is ticked."""
    from blockcast.addon.ui.operators import _panel_message
    from blockcast.engine.bundle.storage import OutputFolderError

    background_export, scene, shot = opened
    out, quick = tmp_path / "bundle", ["depth", "pose", "camera"]
    run(background_export.export_steps(scene, shot, out, quick))
    with pytest.raises(OutputFolderError) as refused:
        background_export.export_steps(scene, shot, out, quick)
    assert _panel_message(refused.value).endswith("tick Replace Existing to replace it")
    steps = background_export.export_steps(scene, shot, out, quick, overwrite=True)
    assert steps.in_background
    path, seen = run(steps)
    assert path == out and seen[-1] == (2, 2) and (out / "bundle.json").is_file()
