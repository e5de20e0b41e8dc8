"""Exports lose nothing and do nothing they were not asked to: real export processes on a
real .blend (issue 11: data loss, scenes never asked for, races, one line per bad input)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.bundle import validate_bundle

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
posix_only = pytest.mark.skipif(os.name == "nt", reason="stops and kills processes with POSIX signals")


def export(*args, timeout=300):
    return subprocess.run([sys.executable, str(SCRIPTS / "export_passes.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


def error_line(result):
    """The one line that says what went wrong, and no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


def tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else None for p in Path(root).rglob("*")}


@pytest.fixture(scope="module")
def demo_blend(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.blend"
    result = subprocess.run([sys.executable, str(SCRIPTS / "make_demo_scene.py"), "--save", str(path), "--frames", "4",
                             "--size", "64x36"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return path


def test_overwrite_never_deletes_a_folder_that_is_not_a_bundle(demo_blend, tmp_path):
    project = tmp_path / "proj"
    (project / "refs").mkdir(parents=True)
    (project / "shot.blend").write_bytes(demo_blend.read_bytes())
    (project / "refs" / "notes.txt").write_text("my notes")
    before = tree(project)
    result = export(project / "shot.blend", "--out", project, "--overwrite", "--quiet")
    assert result.returncode == 1
    line = error_line(result)
    assert str(project) in line and "not a Blockcast bundle" in line and "choose an empty or new folder" in line
    assert tree(project) == before and os.listdir(tmp_path) == ["proj"]


def test_overwrite_keeps_files_a_bundle_folder_gained_and_replaces_a_clean_bundle(demo_blend, tmp_path):
    out = tmp_path / "shot"
    assert export(demo_blend, "--out", out, "--frames", "1-2", "--quiet").returncode == 0
    (out / "notes.txt").write_text("mine")
    result = export(demo_blend, "--out", out, "--frames", "3", "--overwrite", "--quiet")
    assert result.returncode == 1 and "not part of its bundle (notes.txt)" in error_line(result)
    (out / "notes.txt").unlink()
    result = export(demo_blend, "--out", out, "--frames", "3", "--overwrite", "--quiet")
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "bundle.json").read_text())["shot"]["frames"] == [3]


def test_an_empty_existing_folder_is_written_into(demo_blend, tmp_path):
    out = tmp_path / "shot"
    out.mkdir()
    result = export(demo_blend, "--out", out, "--frames", "1", "--quiet")
    assert result.returncode == 0, result.stderr
    assert validate_bundle(out) == [] and os.listdir(tmp_path) == ["shot"]


def test_no_blend_is_refused_instead_of_exporting_the_startup_scene(tmp_path):
    result = export("--out", tmp_path / "x")
    assert result.returncode == 2 and "no .blend given" in error_line(result)
    assert os.listdir(tmp_path) == []
    as_blender = subprocess.run([sys.executable, str(SCRIPTS / "bpy_blender.py"), "-b", "--factory-startup", "-P",
                                 str(SCRIPTS / "export_passes.py"), "--", "--out", str(tmp_path / "x")],
                                capture_output=True, text=True, timeout=120)
    assert as_blender.returncode == 2 and "no .blend given" in error_line(as_blender)
    assert os.listdir(tmp_path) == []


def test_blender_with_the_file_open_still_exports(demo_blend, tmp_path):
    """`blender -b FILE -P export_passes.py -- --out DIR`: the .blend is the one Blender opened."""
    result = subprocess.run([sys.executable, str(SCRIPTS / "bpy_blender.py"), "-b", "--factory-startup",
                             str(demo_blend), "--python-exit-code", "1", "-P", str(SCRIPTS / "export_passes.py"), "--",
                             "--out", str(tmp_path / "shot"), "--frames", "2", "--quiet"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "shot" / "bundle.json").read_text())["source"]["blend"] == str(demo_blend)


@pytest.mark.parametrize("args,message", [
    (["--frames", ""], "frame range ''"),
    (["--size", "16385x8"], "over 16384 pixels a side"),
    (["--size", "8x20000"], "over 16384 pixels a side"),
])
def test_bad_values_are_one_line_before_any_work(demo_blend, tmp_path, args, message):
    result = export(demo_blend, "--out", tmp_path / "shot", *args)
    assert result.returncode == 1 and message in error_line(result)
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_output_under_proc_is_one_line(demo_blend):
    result = export(demo_blend, "--out", "/proc/x", "--frames", "1")
    assert result.returncode == 1
    assert "Cannot write to /proc" in error_line(result) and "choose an output folder you can write to" in result.stderr


@posix_only
def test_a_second_export_to_the_same_folder_is_refused_while_the_first_runs(demo_blend, tmp_path):
    """The first export is stopped mid-shot (partial folder and lock in place); a second one,
    with or without --overwrite, is refused naming the first, sweeps nothing, and the first
    then finishes its bundle."""
    out = tmp_path / "shot"
    first = subprocess.Popen([sys.executable, str(SCRIPTS / "export_passes.py"), str(demo_blend), "--out", str(out)],
                             stderr=subprocess.PIPE, text=True)
    try:
        for line in first.stderr:
            if "frame 2/" in line:
                first.send_signal(signal.SIGSTOP)
                break
        partial = [name for name in os.listdir(tmp_path) if name.startswith(".shot.partial-")]
        assert len(partial) == 1
        for extra in ([], ["--overwrite"]):
            second = export(demo_blend, "--out", out, "--frames", "1", "--quiet", *extra)
            assert second.returncode == 1
            assert f"being written by process {first.pid}" in error_line(second)
        assert (tmp_path / partial[0]).is_dir() and not out.exists()
    finally:
        first.send_signal(signal.SIGCONT)
    first.stderr.read()
    assert first.wait(timeout=120) == 0
    assert validate_bundle(out) == []
    assert json.loads((out / "bundle.json").read_text())["shot"]["frames"] == [1, 2, 3, 4]
    assert os.listdir(tmp_path) == ["shot"]


@posix_only
def test_a_killed_exports_lock_is_taken_over(demo_blend, tmp_path):
    out = tmp_path / "shot"
    killed = subprocess.Popen([sys.executable, str(SCRIPTS / "export_passes.py"), str(demo_blend), "--out", str(out)],
                              stderr=subprocess.PIPE, text=True)
    for line in killed.stderr:
        if "frame 1/" in line:
            killed.send_signal(signal.SIGKILL)
            break
    killed.wait(timeout=60)
    assert str(killed.pid) in (tmp_path / ".shot.lock").read_text()  # a dead pid's lock file
    result = export(demo_blend, "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert os.listdir(tmp_path) == ["shot"]


PANEL_EXPORT = r"""
import sys, bpy
sys.path.insert(0, sys.argv[1])
from blockcast_import import import_blockcast
import_blockcast().register()
bpy.ops.wm.open_mainfile(filepath=sys.argv[2])
settings = bpy.context.scene.blockcast
settings.output_dir, settings.overwrite = sys.argv[3], sys.argv[4] == "tick"
try:
    print("RESULT", bpy.ops.blockcast.export_passes())
except RuntimeError as exc:  # an operator that reports ERROR raises in background mode
    print("RESULT", exc)
"""


def test_the_panel_names_its_own_replace_existing_checkbox(demo_blend, tmp_path):
    script = tmp_path / "panel.py"
    script.write_text(PANEL_EXPORT)

    def panel_export(output_dir, checkbox):
        result = subprocess.run([sys.executable, str(script), str(SCRIPTS), str(demo_blend), str(output_dir),
                                 checkbox], capture_output=True, text=True, timeout=300)
        lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
        assert lines, result.stdout + result.stderr
        return lines[0]

    passes = tmp_path / "passes"
    assert "FINISHED" in panel_export(passes, "untick")
    again = panel_export(passes, "untick")
    assert "already holds a bundle" in again and "tick Replace Existing" in again and "--overwrite" not in again
    (passes / "Scene" / "notes.txt").write_text("mine")
    ticked = panel_export(passes, "tick")
    assert "not part of its bundle" in ticked and "Replace Existing only ever replaces" in ticked
    assert "--overwrite" not in ticked and (passes / "Scene" / "notes.txt").read_text() == "mine"
