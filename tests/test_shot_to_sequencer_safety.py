"""scripts/shot_to_sequencer.py checks --save before any work, and saving never leaves a
half-written or temporary .blend: real bpy, real file systems (tmpfs mounts need root, as CI
and this machine have)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "shot_to_sequencer.py"


@pytest.fixture(scope="module")
def demo_blend(tmp_path_factory):
    pytest.importorskip("bpy")
    path = tmp_path_factory.mktemp("scene") / "demo.blend"
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_demo_scene.py"), "--save", str(path), "--frames", "2",
                    "--size", "64x36"], cwd=REPO, check=True, capture_output=True)
    return path


@pytest.fixture
def mount(tmp_path):
    """mount(options) -> a fresh tmpfs folder mounted with `options` (e.g. 'ro', 'size=64k')."""
    points = []

    def make(options):
        point = tmp_path / f"mount{len(points)}"
        point.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True).returncode:
            pytest.skip("cannot mount a tmpfs here (not root)")
        points.append(point)
        return point

    yield make
    for point in points:
        subprocess.run(["umount", str(point)], check=True)


def _bad_save(tmp_path, demo_blend, mount, case):
    """(--save value, the message's words) for one way a --save path can be wrong."""
    if case == "folder":
        (tmp_path / "edit").mkdir()
        return tmp_path / "edit", "is a folder: give the .blend file to write"
    if case == "folder to be":
        return f"{tmp_path / 'new'}/", "is a folder: give the .blend file to write"
    if case == "read-only file":
        (tmp_path / "kept.blend").write_bytes(b"not ours to replace")
        (tmp_path / "kept.blend").chmod(0o444)
        return tmp_path / "kept.blend", "is read-only: make it writable to replace it, or save elsewhere"
    if case == "parent is a file":
        (tmp_path / "notes.txt").write_text("x")
        return tmp_path / "notes.txt" / "sub" / "out.blend", "is a file, so no folder can be made there"
    if case == "read-only folder":
        return mount("ro,size=1m") / "sub" / "out.blend", "(Read-only file system): choose a writable folder"
    if case == "proc":
        return "/proc/blockcast/out.blend", "cannot write in /proc"
    if case == "the input through a link":
        (tmp_path / "link.blend").symlink_to(demo_blend)
        return tmp_path / "link.blend", "is the input file, which is never overwritten"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["folder", "folder to be", "read-only file", "parent is a file", "read-only folder",
                                  "proc", "the input through a link"])
def test_a_bad_save_path_is_refused_in_one_line_before_any_work(demo_blend, mount, tmp_path, case):
    save, words = _bad_save(tmp_path, demo_blend, mount, case)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    takes = tmp_path / "takes"
    result = subprocess.run([sys.executable, str(SCRIPT), str(demo_blend), "--save", str(save), "--overwrite",
                             "--backend", "previz", "--steps", "1", "--long-side", "64", "--device", "cpu",
                             "--takes-dir", str(takes), "--quiet"], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    ours = [line for line in result.stderr.splitlines() if line.startswith("shot_to_sequencer:")]
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert len(ours) == 1 and words in ours[0] and str(save) in ours[0]
    assert not takes.exists()  # no export, no engine: nothing was done
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before  # nothing written, nothing left


def test_a_missing_save_argument_is_a_usage_error(demo_blend):
    result = subprocess.run([sys.executable, str(SCRIPT), str(demo_blend)], capture_output=True, text=True)
    assert result.returncode == 2 and "--save" in result.stderr.splitlines()[-1]


def test_saving_onto_a_folder_fails_cleanly_and_leaves_no_partial_file(blockcast, empty_scene, tmp_path):
    from blockcast.addon.blender.blend_files import save_blend
    from blockcast.addon.blender.errors import UserError

    (tmp_path / "edit").mkdir()
    with pytest.raises(UserError, match="it is a folder"):
        save_blend(tmp_path / "edit")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["edit"]


def test_a_full_disk_at_save_time_leaves_nothing_on_it(blockcast, empty_scene, mount):
    from blockcast.addon.blender.blend_files import save_blend
    from blockcast.addon.blender.errors import UserError

    disk = mount("size=64k")  # an empty file's .blend is some 100 kB
    with pytest.raises(UserError, match=r"cannot save .*out\.blend \(.*MiB free there\): save elsewhere"):
        save_blend(disk / "sub" / "out.blend")
    assert os.listdir(disk) == []  # not even the folder it made


def test_saving_replaces_a_file_whole_and_leaves_no_temporary_file(blockcast, empty_scene, tmp_path):
    from blockcast.addon.blender.blend_files import save_blend

    out = tmp_path / "out.blend"
    out.write_bytes(b"an older save")
    save_blend(out)
    assert out.read_bytes()[:7] == b"BLENDER" and os.listdir(tmp_path) == ["out.blend"]
