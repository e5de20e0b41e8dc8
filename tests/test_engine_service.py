"""The add-on's engine-service client without Blender: addresses, the token, the event stream's
framing, shared folders, and bringing a take home into the artist's takes folder.

Loaded as bpy-free modules (tests/test_engine_process.py's loader). The client against a
real service, from real bpy, is tests/test_engine_service_roundtrip.py.
"""

import io
import json
from pathlib import Path

import pytest

from test_engine_process import load_bpy_free

es = load_bpy_free("engine_service")
sp = load_bpy_free("service_paths")
transfer = __import__("bpy_free.engine.bundle.transfer", fromlist=["pack_bundle"])
request_module = __import__("bpy_free.engine.bundle.request", fromlist=["GenerateRequest"])


@pytest.mark.parametrize("text, host, port, loopback", [
    ("127.0.0.1:8765", "127.0.0.1", 8765, True), ("http://gpu-box:9000/", "gpu-box", 9000, False),
    ("localhost", "localhost", 8765, True), ("[::1]:8770", "::1", 8770, True), ("10.0.0.5:80", "10.0.0.5", 80, False),
])
def test_addresses_read_as_host_and_port(text, host, port, loopback):
    address = es.ServiceAddress.parse(text)
    assert (address.host, address.port, address.loopback) == (host, port, loopback)


@pytest.mark.parametrize("text", ["", "host:port", "a:1:2:3/x", "h:70000", "https://h:1"])
def test_a_wrong_address_names_the_preference(text):
    with pytest.raises(es.ServiceError, match="Engine Service address"):
        es.ServiceAddress.parse(text)


def test_the_token_file_lives_where_the_engine_keeps_it(tmp_path):
    assert es.user_data_dir("linux", {"XDG_DATA_HOME": "/x"}, tmp_path) == Path("/x/blockcast")
    assert es.user_data_dir("linux", {}, tmp_path) == tmp_path / ".local" / "share" / "blockcast"
    assert es.user_data_dir("darwin", {}, tmp_path) == tmp_path / "Library" / "Application Support" / "Blockcast"
    assert es.user_data_dir("win32", {"LOCALAPPDATA": "C:/L"}, tmp_path) == Path("C:/L/Blockcast")
    with pytest.raises(es.ServiceError, match="Token File"):
        es.read_token(tmp_path / "missing")
    (tmp_path / "token").write_text(" abc \n")
    assert es.read_token(tmp_path / "token") == "abc"


def test_server_sent_events_are_framed_by_blank_lines():
    stream = io.BytesIO(b": keep-alive\n\nid: 0\ndata: {\"event\": \"load\"}\n\nid: 1\r\ndata: {\"event\":\r\n"
                        b"data: \"step\", \"step\": 1}\r\n\r\nid: 2\ndata: {\"half")
    assert list(es.read_server_events(stream)) == [(0, {"event": "load"}), (1, {"event": "step", "step": 1})]


def test_a_bundle_on_the_shared_folder_is_named_as_the_service_names_it(tmp_path):
    (tmp_path / "shots" / "bundles" / "001").mkdir(parents=True)
    shared = sp.SharedFolder(str(tmp_path), "/mnt/projects")
    assert shared.service_path(tmp_path / "shots" / "bundles" / "001") == "/mnt/projects/shots/bundles/001"
    assert shared.service_path("/elsewhere/bundle") is None
    assert sp.SharedFolder(str(tmp_path), "P:\\projects").service_path(tmp_path / "shots") == "P:\\projects\\shots"
    assert sp.SharedFolder("", "/mnt").service_path(tmp_path) is None
    request = request_module.GenerateRequest(models={"base": str(tmp_path / "m"), "hub": "org/model"},
                                             reference="/elsewhere/ref.png")
    mapped = shared.request_for_service(request)
    assert mapped.models == {"base": "/mnt/projects/m", "hub": "org/model"} and mapped.reference == "/elsewhere/ref.png"


def test_a_model_named_only_as_this_engines_default_is_left_to_the_services():
    report = {"backends": [{"name": "previz", "models": [{"role": "previz", "default": "/here/engine/weights"}]}]}
    defaults = sp.default_models(report, "previz")
    request = request_module.GenerateRequest(backend="previz", models={"previz": "/here/engine/weights"})
    assert sp.SharedFolder().request_for_service(request, defaults).models == {}
    request.models = {"previz": "/my/own/weights"}
    assert sp.SharedFolder().request_for_service(request, defaults).models == {"previz": "/my/own/weights"}
    assert sp.default_models(None, "previz") == {} and sp.default_models(report, "other") == {}


def _service_take(folder, take_id="take-001-previz-s4"):
    """A take folder as the service wrote it: frames and a take.json pointing at its own bundle copy."""
    (folder / "frames").mkdir(parents=True)
    (folder / "frames" / "0001.png").write_bytes(b"png")
    (folder / "take.json").write_text(json.dumps({
        "schema": "blockcast.take", "take": take_id, "backend": "previz", "seed": 4,
        "bundle": {"path": "/service/work/bundles/abc", "frames": [1, 1]}, "frames": ["frames/0001.png"]}))
    return transfer.pack_bundle(folder)


def test_a_take_comes_home_as_the_next_take_pointing_at_the_local_bundle(tmp_path):
    takes = tmp_path / "takes"
    (takes / "take-002-previz-s1").mkdir(parents=True)
    (takes / ".take-003-previz-s2.partial").mkdir()  # a take being written here now
    archive = _service_take(tmp_path / "service")
    local = es.receive_take(archive, "take-001-previz-s4", takes, tmp_path / "bundles" / "001")
    assert local == takes / "take-004-previz-s4"
    record = json.loads((local / "take.json").read_text())
    assert record["take"] == "take-004-previz-s4" and record["bundle"]["path"] == str(tmp_path / "bundles" / "001")
    assert (local / "frames" / "0001.png").read_bytes() == b"png"
    assert sorted(p.name for p in takes.iterdir()) == [".take-003-previz-s2.partial", "take-002-previz-s1",
                                                      "take-004-previz-s4"]


def test_variations_come_home_as_the_next_variations_folder_pointing_at_the_local_bundle(tmp_path):
    """#14: Make Variations on a warm service brings its one folder home like a take: numbered after
    the shot's own variations, its record pointing at this machine's bundle (Make Takes reads it)."""
    out = tmp_path / "variations"
    (out / "variations-001-s1").mkdir(parents=True)
    service = tmp_path / "service"
    (service / "tiles").mkdir(parents=True)
    (service / "tiles" / "s7.png").write_bytes(b"png")
    (service / "sheet.png").write_bytes(b"sheet")
    (service / "variations.json").write_text(json.dumps({
        "schema": "blockcast.variations", "schema_version": "1.1", "backend": "previz", "sheet": "sheet.png",
        "bundle": {"path": "/service/work/bundles/abc", "hash": "h", "shot": "A"},
        "variations": [{"seed": 7, "tile": "tiles/s7.png", "look": {"Crate": "#112233"}}]}))
    local = es.receive_variations(transfer.pack_bundle(service), "variations-001-s7", out, tmp_path / "bundles" / "002")
    assert local == out / "variations-002-s7"
    record = json.loads((local / "variations.json").read_text())
    assert record["bundle"] == {"path": str(tmp_path / "bundles" / "002"), "hash": "h", "shot": "A"}
    assert record["variations"][0]["look"] == {"Crate": "#112233"} and (local / "tiles" / "s7.png").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["variations-001-s1", "variations-002-s7"]
    with pytest.raises(es.ServiceError, match="variations-NNN-s<seed>"):
        es.receive_variations(b"", "take-001-previz-s0", out, tmp_path)
    with pytest.raises(es.ServiceError, match="could not be received"):
        es.receive_variations(b"not a tar" * 100, "variations-001-s7", out, tmp_path)
    assert sorted(p.name for p in out.iterdir()) == ["variations-001-s1", "variations-002-s7"]


def test_a_damaged_take_leaves_nothing_behind(tmp_path):
    takes = tmp_path / "takes"
    with pytest.raises(es.ServiceError, match="could not be received"):
        es.receive_take(b"not a tar" * 100, "take-001-previz-s0", takes, tmp_path)
    with pytest.raises(es.ServiceError, match="take-NNN"):
        es.receive_take(b"", "../../etc", takes, tmp_path)
    assert list(takes.iterdir()) == []
