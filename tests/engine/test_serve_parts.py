"""The warm service's parts that need no running service: bundle transfer (what crosses the
wire and what a receiver refuses), the loaded-backend cache's eviction, the token file and
the job records."""

import io
import os
import stat
import tarfile

import pytest

from engine.bundle.service_record import JobRecord, JobSubmission, ServiceRecordError
from engine.bundle.transfer import TransferError, bundle_digest, is_digest, pack_bundle, unpack_bundle
from engine.serve.auth import bearer_matches, load_or_create_token
from engine.serve.paths import Forbidden, WorkFolders
from engine.serve.pipelines import LoadedBackends


def _folder(top):
    files = {"bundle.json": b"{}", "depth/0001.npy": b"d1", "shading/0001.png": b"s1",
             "controls/depth/0001.png": b"derived", ".lock": b"", "depth/.hidden": b"h"}
    for name, data in files.items():
        (top / name).parent.mkdir(parents=True, exist_ok=True)
        (top / name).write_bytes(data)
    return top


def test_the_digest_covers_the_bundle_files_and_not_controls_or_hidden_files(tmp_path):
    folder = _folder(tmp_path / "a")
    digest = bundle_digest(folder)
    assert is_digest(digest)
    (folder / "controls" / "depth" / "0001.png").write_bytes(b"other")
    (folder / ".lock").write_bytes(b"held")
    assert bundle_digest(folder) == digest
    (folder / "depth" / "0001.npy").write_bytes(b"d2")
    assert bundle_digest(folder) != digest


def test_pack_and_unpack_give_back_the_same_bundle(tmp_path):
    folder = _folder(tmp_path / "a")
    data = pack_bundle(folder)
    assert data == pack_bundle(folder)  # the same files make the same bytes
    copy = unpack_bundle(data, tmp_path / "b")
    assert bundle_digest(copy) == bundle_digest(folder)
    assert sorted(str(p.relative_to(copy)) for p in copy.rglob("*") if p.is_file()) == [
        "bundle.json", "depth/0001.npy", "shading/0001.png"]


def test_a_folder_with_a_link_is_not_packed(tmp_path):
    folder = _folder(tmp_path / "a")
    (folder / "shading" / "0002.png").symlink_to("/etc/passwd")
    with pytest.raises(TransferError, match="is a link"):
        pack_bundle(folder)


def _tar(*members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            info.size = len(data or b"")
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def _member(name, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info, b"x" if kind == tarfile.REGTYPE else None


@pytest.mark.parametrize("members, words", [
    ([_member("../x")], "outside"), ([_member("a/../../x")], "outside"), ([_member("/etc/x")], "relative"),
    ([_member("C:/x")], "relative"), ([_member("a\\..\\x")], "relative"),
    ([_member("a", tarfile.SYMTYPE, "/etc")], "link"), ([_member("a", tarfile.LNKTYPE, "/etc/passwd")], "link"),
    ([_member("a", tarfile.CHRTYPE)], "device"), ([_member("a", tarfile.FIFOTYPE)], "device"),
    ([_member("a"), _member("a")], "twice"), ([_member("a"), _member("a/b")], "could not unpack"),
])
def test_unpack_refuses_what_could_escape_or_is_not_a_file(tmp_path, members, words):
    with pytest.raises(TransferError, match=words):
        unpack_bundle(_tar(*members), tmp_path / "in")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # nothing written beside it


def test_unpack_refuses_more_bytes_than_its_limit_and_damaged_tars(tmp_path):
    with pytest.raises(TransferError, match="more than 10 bytes"):
        unpack_bundle(_tar((tarfile.TarInfo("a"), b"x" * 11)), tmp_path / "one", limit=10)
    with pytest.raises(TransferError, match="tar"):
        unpack_bundle(b"not a tar at all" * 64, tmp_path / "two")


class _Loaded:
    pass


def test_loaded_backends_evict_the_least_recently_used_before_a_load():
    cache = LoadedBackends(max_loaded=2, free_memory=())
    first, second = _Loaded(), _Loaded()
    assert cache.get("a") is None
    cache["a"] = first
    assert cache.get("b") is None
    cache["b"] = second
    assert cache.get("a") is first  # now b is the least recently used
    assert cache.get("c") is None  # a miss: a load follows, so room is made
    assert cache.keys() == ["a"] and cache.evicted == ["b"]


def test_loaded_backends_are_evicted_when_memory_is_short():
    free = [10**12]
    cache = LoadedBackends(max_loaded=4, min_free_mb=1, free_memory=(lambda: free[0], lambda: None))
    cache["a"], cache["b"] = _Loaded(), _Loaded()
    assert cache.get("c") is None and cache.keys() == ["a", "b"]
    free[0] = 1024
    assert cache.get("c") is None and cache.keys() == [] and cache.evicted == ["a", "b"]


def test_the_token_is_made_once_for_this_user_only_and_compared_exactly(tmp_path):
    path = tmp_path / "data" / "token"
    token = load_or_create_token(path)
    assert len(token) >= 32 and load_or_create_token(path) == token
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        path.chmod(0o644)
        load_or_create_token(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert bearer_matches(f"Bearer {token}", token) and bearer_matches(f"bearer {token}", token)
    assert not any(bearer_matches(header, token) for header in
                   (None, "", token, f"Bearer {token}x", f"Basic {token}", f"Bearer {token[:-1]}"))


def test_only_paths_inside_the_work_folder_or_a_shared_root_are_allowed(tmp_path):
    folders = WorkFolders(tmp_path / "work", [tmp_path / "share"])
    assert folders.allowed(str(tmp_path / "share" / "shot"), "the bundle") == (tmp_path / "share" / "shot").resolve()
    assert folders.allowed(str(folders.bundles / "x"), "the bundle") == (folders.bundles / "x").resolve()
    for path in (tmp_path / "elsewhere", tmp_path / "work" / ".." / "elsewhere", "relative/shot"):
        with pytest.raises(Forbidden):
            folders.allowed(str(path), "the bundle")


def test_job_records_keep_unknown_keys_and_refuse_wrong_types():
    document = {"id": "0123456789abcdef", "state": "running", "takes": ["take-001"], "from_a_newer_service": 1}
    assert JobRecord.from_json(document).to_json()["from_a_newer_service"] == 1
    assert JobSubmission.from_json({"request": {}, "bundle": {"digest": "ab"}}).bundle.digest == "ab"
    with pytest.raises(ServiceRecordError, match="takes"):
        JobRecord.from_json({"takes": "take-001"})


def test_a_restart_removes_cut_short_uploads_and_nothing_else(tmp_path):
    uploads = WorkFolders(tmp_path / "work").uploads
    ours = [uploads / f"{'ab' * 32}-0123abcd.tar", uploads / f"{'ab' * 32}-0123abcd"]
    ours[0].write_bytes(b"half a tar")
    (ours[1] / "depth").mkdir(parents=True)
    (uploads / "notes.txt").write_text("not the service's")
    WorkFolders(tmp_path / "work")
    assert sorted(p.name for p in uploads.iterdir()) == ["notes.txt"]
