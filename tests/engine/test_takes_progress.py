"""Takes folder safety, progress reporting and model hashing, without loading models."""

import io
import json
import os
import signal

import numpy as np
import pytest

from engine.bundle.events import StepEvent
from engine.bundle.take_record import TakeRecord
from engine.progress import CancelToken, Cancelled, Progress
from engine.takes import TakeError, TakeWriter, check_takes_dir


def _frame(value=10):
    return np.full((8, 12, 3), value, np.uint8)


def test_take_is_renamed_into_place_only_when_committed(tmp_path):
    with TakeWriter(tmp_path, "demo-s1") as take:
        take.write_frame(1, _frame(), 12, 8)
        assert take.partial.name == ".take-001-demo-s1.partial" and not take.final.exists()
        path = take.commit(TakeRecord())
    assert sorted(os.listdir(tmp_path)) == ["take-001-demo-s1"]
    assert json.loads((path / "take.json").read_text())["take"] == "take-001-demo-s1"
    assert (path / "frames" / "0001.png").is_file()


def test_failed_take_leaves_nothing_and_numbering_continues(tmp_path):
    (tmp_path / "take-007-old-s0").mkdir()
    with pytest.raises(RuntimeError):
        with TakeWriter(tmp_path, "demo-s1") as take:
            assert take.take_id == "take-008-demo-s1"
            take.write_frame(1, _frame(), 12, 8)
            raise RuntimeError("model crashed")
    assert os.listdir(tmp_path) == ["take-007-old-s0"]


def test_parallel_writers_reserve_different_numbers(tmp_path):
    first, second = TakeWriter(tmp_path, "a-s0"), TakeWriter(tmp_path, "b-s0")
    assert (first.take_id, second.take_id) == ("take-001-a-s0", "take-002-b-s0")


def test_commit_never_overwrites_an_existing_take(tmp_path):
    with pytest.raises(TakeError, match="appeared while"):
        with TakeWriter(tmp_path, "demo-s1") as take:
            take.final.mkdir()
            (take.final / "keep.txt").write_text("someone else's")
            take.commit(TakeRecord())
    assert (tmp_path / "take-001-demo-s1" / "keep.txt").read_text() == "someone else's"
    assert (tmp_path / ".take-001-demo-s1.partial" / "take.json").is_file()  # the new take is kept aside


def test_frames_are_resized_back_to_the_shot_size_keeping_the_aspect(tmp_path):
    generated = np.zeros((40, 64, 3), np.uint8)
    generated[:, 32:] = 255
    with TakeWriter(tmp_path, "demo-s1") as take:
        take.write_frame(5, generated, 128, 72)
        assert take.frames[0].shape == (72, 128, 3)
        assert take.frames[0][:, :60].max() == 0 and take.frames[0][:, 68:].min() == 255


def test_unwritable_takes_folder_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TakeError, match="cannot write takes to"):
        check_takes_dir(blocker / "takes")


def test_progress_writes_json_lines_and_a_bar_only_when_asked():
    out, err = io.StringIO(), io.StringIO()
    progress = Progress(out, err)  # StringIO is not a terminal: no bar
    progress.emit(StepEvent(take="t", step=1, total=4))
    line = json.loads(out.getvalue())
    assert list(line) == ["event", "time", "take", "step", "total"] and line["step"] == 1 and err.getvalue() == ""
    Progress(out, err, show_bar=True).emit(StepEvent(take="t", step=2, total=4))
    assert "[##############--------------] step 2/4" in err.getvalue()


def test_cancel_token_turns_a_signal_into_a_flag(tmp_path):
    token = CancelToken().install()
    try:
        token.check()
        os.kill(os.getpid(), signal.SIGTERM)
        assert token.requested
        with pytest.raises(Cancelled, match="SIGTERM"):
            token.check()
    finally:
        token.uninstall()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_model_file_hashes_are_cached_and_refreshed_when_a_file_changes(tmp_path, monkeypatch):
    import hashlib

    from engine.backends.models import hash_files

    monkeypatch.setenv("BLOCKCAST_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "model"
    folder.mkdir()
    weights = folder / "model.safetensors"
    weights.write_bytes(b"first")
    assert hash_files(folder) == {"model.safetensors": hashlib.sha256(b"first").hexdigest()}
    assert (tmp_path / "cache" / "file-hashes.json").is_file()
    weights.write_bytes(b"second, longer")
    assert hash_files(folder) == {"model.safetensors": hashlib.sha256(b"second, longer").hexdigest()}
