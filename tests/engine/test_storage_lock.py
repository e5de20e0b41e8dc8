"""The bundle writer's promises, bpy-free: it replaces only a Blockcast bundle holding nothing
but its own files, one writer per output path (a real OS lock, held by real processes), and it
sweeps killed writers' leftovers only while holding that path's lock."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from engine.bundle import BundleError, BundleWriter
from engine.bundle.output_lock import LockHeld, OutputLock, lock_path
from engine.bundle.schema import PASS_FILES, SCHEMA_NAME
from engine.bundle.storage import OutputFolderError, remove_leftovers

REPO = Path(__file__).resolve().parents[2]
HOLD_LOCK = ("import sys; sys.path.insert(0, sys.argv[1]); from engine.bundle.output_lock import OutputLock; "
             "lock = OutputLock(sys.argv[2]).acquire(); print('held', flush=True); sys.stdin.read()")


def write_bundle(folder, frames=(1, 2)):
    """A small bundle as the exporter lays it out (depth files and bundle.json)."""
    with BundleWriter(folder, overwrite=True) as writer:
        for frame in frames:
            writer.write_text(PASS_FILES["depth"]["metric"].format(frame=frame), "npy")
            writer.write_text(PASS_FILES["depth"]["control"].format(frame=frame), "png")
        writer.commit({"schema": SCHEMA_NAME, "shot": {"frames": list(frames)},
                       "passes": {"depth": {"files": dict(PASS_FILES["depth"])}}})
    return folder


def tree(root):
    return sorted(p.relative_to(root).as_posix() for p in Path(root).rglob("*"))


@pytest.fixture
def other_process_lock():
    """Start a real process holding the lock of a path; yields (path -> its Popen)."""
    started = []

    def hold(final_dir):
        process = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(REPO), str(final_dir)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "held"
        started.append(process)
        return process

    yield hold
    for process in started:
        process.kill()
        process.wait()


def test_overwrite_refuses_a_folder_that_is_not_a_bundle(tmp_path):
    target = tmp_path / "proj"
    (target / "refs").mkdir(parents=True)
    (target / "shot.blend").write_bytes(b"BLENDER")
    (target / "refs" / "notes.txt").write_text("mine")
    before = tree(target)
    for overwrite in (False, True):
        with pytest.raises(OutputFolderError, match="not a Blockcast bundle.*choose an empty or new folder"):
            BundleWriter(target, overwrite=overwrite)
    assert tree(target) == before
    assert os.listdir(tmp_path) == ["proj"]


def test_overwrite_refuses_a_manifest_of_another_schema_or_unsafe_patterns(tmp_path):
    for manifest in ({"schema": "x"}, {"schema": SCHEMA_NAME, "passes": {"depth": {"files": {"m": "{frame.real}"}}}},
                     {"schema": SCHEMA_NAME, "passes": {"depth": {"files": {"m": "{0}"}}}}, [1, 2], "text"):
        target = tmp_path / "shot"
        target.mkdir()
        (target / "bundle.json").write_text(json.dumps(manifest))
        with pytest.raises(OutputFolderError, match="not a Blockcast bundle"):
            BundleWriter(target, overwrite=True)
        (target / "bundle.json").unlink()
        target.rmdir()


def test_overwrite_refuses_a_bundle_holding_files_it_did_not_write(tmp_path):
    target = write_bundle(tmp_path / "shot")
    (target / "notes.txt").write_text("mine")
    (target / "depth" / "my_edit.png").write_text("mine")
    with pytest.raises(OutputFolderError, match=r"not part of its bundle \(depth/my_edit.png, notes.txt\)"):
        BundleWriter(target, overwrite=True)
    assert (target / "notes.txt").read_text() == "mine"


def test_overwrite_replaces_a_bundle_with_the_engine_controls_and_cast_images(tmp_path):
    target = write_bundle(tmp_path / "shot", frames=(1, 2, 3))
    for relative in ("controls/depth/0001.png", "cast/anna-1.png", ".DS_Store"):
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_text("blockcast's own")
    with pytest.raises(OutputFolderError, match="already holds a bundle.*pass --overwrite"):
        BundleWriter(target)
    write_bundle(target, frames=(5,))
    assert tree(target) == ["bundle.json", "depth", "depth/0005.npy", "depth/0005.png"]
    assert os.listdir(tmp_path) == ["shot"]


def test_an_empty_existing_folder_is_written_into(tmp_path):
    target = tmp_path / "shot"
    target.mkdir()
    with BundleWriter(target) as writer:
        writer.commit({"schema": SCHEMA_NAME})
    assert os.listdir(target) == ["bundle.json"] and os.listdir(tmp_path) == ["shot"]


def test_a_symlinked_output_folder_is_refused(tmp_path):
    real = write_bundle(tmp_path / "real")
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(BundleError, match="symbolic link"):
        BundleWriter(tmp_path / "link", overwrite=True)
    assert tree(real) == ["bundle.json", "depth", "depth/0001.npy", "depth/0001.png", "depth/0002.npy",
                          "depth/0002.png"]


def test_files_put_at_the_output_path_during_a_write_are_not_replaced(tmp_path):
    target = tmp_path / "shot"
    with pytest.raises(OutputFolderError, match="not a Blockcast bundle"):
        with BundleWriter(target, overwrite=True) as writer:
            target.mkdir()
            (target / "notes.txt").write_text("arrived meanwhile")
            writer.commit({"schema": SCHEMA_NAME})
    assert (target / "notes.txt").read_text() == "arrived meanwhile"
    assert sorted(os.listdir(tmp_path)) == ["shot"]


def test_the_error_names_the_option_in_the_words_of_each_ui(tmp_path):
    target = write_bundle(tmp_path / "shot")
    with pytest.raises(OutputFolderError) as refused:
        BundleWriter(target)
    assert "pass --overwrite" in str(refused.value)
    panel = refused.value.in_words("Replace Existing", "tick Replace Existing")
    assert "tick Replace Existing" in panel and "--overwrite" not in panel and str(target) in panel


def test_lock_is_exclusive_names_its_holder_and_leaves_no_file(tmp_path):
    target = tmp_path / "shot"
    with OutputLock(target):
        with pytest.raises(LockHeld, match=rf"process {os.getpid()} on {socket.gethostname()}"):
            OutputLock(target).acquire(wait=0.2)
    assert os.listdir(tmp_path) == []
    OutputLock(target).acquire().release()
    assert os.listdir(tmp_path) == []


def test_a_writer_refuses_a_path_another_process_writes_and_sweeps_nothing(tmp_path, other_process_lock):
    target = tmp_path / "shot"
    holder = other_process_lock(target)
    their_partial = tmp_path / ".shot.partial-0123abcd"
    their_partial.mkdir()
    for overwrite in (False, True):
        with pytest.raises(BundleError, match=rf"being written by process {holder.pid} on .*lock file"):
            with BundleWriter(target, overwrite=overwrite):
                pass
    remove_leftovers(tmp_path)
    remove_leftovers(tmp_path, "shot")
    assert their_partial.is_dir() and not target.exists()


def test_a_dead_writers_lock_and_leftovers_are_taken_over(tmp_path, other_process_lock):
    target = tmp_path / "shot"
    holder = other_process_lock(target)
    (tmp_path / ".shot.partial-0123abcd").mkdir()
    (tmp_path / ".shot.replaced-89abcdef").mkdir()
    holder.send_signal(signal.SIGKILL)  # as a killed export: its lock file (with its dead pid) stays
    holder.wait()
    assert str(holder.pid) in lock_path(target).read_text()
    with BundleWriter(target) as writer:
        writer.commit({"schema": SCHEMA_NAME})
    assert os.listdir(tmp_path) == ["shot"]


def test_remove_leftovers_sweeps_only_unlocked_names(tmp_path, other_process_lock):
    other_process_lock(tmp_path / "busy")
    for name in (".busy.partial-00000000", ".idle.partial-11111111", ".idle.replaced-22222222", "keep.partial-x"):
        (tmp_path / name).mkdir()
    (tmp_path / ".stale.lock").write_text('{"pid": 1}')
    remove_leftovers(tmp_path)
    assert sorted(os.listdir(tmp_path)) == [".busy.lock", ".busy.partial-00000000", "keep.partial-x"]


def test_an_unwritable_parent_is_one_clear_error(tmp_path):
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc here")
    with pytest.raises(BundleError, match=r"Cannot write to /proc .*choose an output folder you can write to"):
        with BundleWriter("/proc/x"):
            pass
