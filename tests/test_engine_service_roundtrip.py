"""Generate through a real engine service, from real bpy (the built extension installed in a fresh
bpy process per scenario: tests/engine_service_scenarios.py), with the default previz backend
on a 5-frame 64x36 demo shot.

The service is `python -m engine serve` in the engine's environment, started and stopped here,
on this machine's network address when it has one (as a GPU box would be reached) and with
its own token and work folder: the bundle is uploaded to it like to another machine's, and the
take comes back into the artist's takes folder and the sequencer.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENGINE_PYTHON = REPO / ".venv-engine" / "bin" / "python"
START_S = 90

pytestmark = [pytest.mark.skipif(not ENGINE_PYTHON.exists(), reason="needs the engine venv: scripts/setup_env.sh engine"),
              pytest.mark.engine_roundtrip]


def network_address():
    """This machine's address on its network (not loopback), else 127.0.0.1."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.123", 9))  # picks the outgoing address; sends nothing
            return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """`python -m engine serve` on `host`, any free port; its `serving` line read within START_S."""

    def __init__(self, host, work_dir, token_file):
        self.work_dir, self.token_file = Path(work_dir), Path(token_file)
        self.process = subprocess.Popen(
            [str(ENGINE_PYTHON), "-m", "engine", "serve", "--host", host, "--port", "0", "--work-dir", str(work_dir),
             "--token-file", str(token_file)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        reader = threading.Thread(target=lambda: lines.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_S)
        if not lines or not lines[0].startswith("{"):
            self.stop()
            raise AssertionError(f"the service did not start: {self.process.stderr.read()[-2000:]}")
        self.serving = json.loads(lines[0])
        self.address = self.serving["url"].removeprefix("http://")

    def get(self, path):
        request = urllib.request.Request(self.serving["url"] + path, headers={
            "Authorization": f"Bearer {self.token_file.read_text().strip()}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(20)


@pytest.fixture(scope="module")
def demo_blend(tmp_path_factory):
    path = tmp_path_factory.mktemp("scene") / "demo.blend"
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "make_demo_scene.py"), "--save", str(path),
                             "--frames", "5", "--size", "64x36"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return path


@pytest.fixture
def scenario(extension_zip, demo_blend, tmp_path):
    """Run a scenario of engine_service_scenarios.py against ADDRESS with TOKEN_FILE; its report."""

    def run(name, address, token_file):
        env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"),
                   XDG_DATA_HOME=str(tmp_path / "data"))  # a warm service's work folder lands here
        command = [sys.executable, REPO / "tests" / "engine_service_scenarios.py", name, extension_zip, REPO,
                   demo_blend, tmp_path / "takes", address, token_file]
        result = subprocess.run([str(c) for c in command], capture_output=True, text=True, env=env, timeout=600)
        lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
        assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-3000:]
        return json.loads(lines[0][len("REPORT "):])

    return run


def test_a_remote_round_trip_uploads_once_and_brings_the_takes_into_the_sequencer(scenario, tmp_path):
    service = Service(network_address(), tmp_path / "service", tmp_path / "service-token")
    try:
        report = scenario("remote", service.address, service.token_file)
        health = service.get("/health")
        jobs = service.get("/jobs")["jobs"]
    finally:
        service.stop()
    assert report["check"]["result"] == ["FINISHED"] and report["check"]["line"].startswith("engine "), report["check"]
    first, second = report["first"], report["second"]
    assert (first["engine"], first["phase"], first["uploaded"], first["strips"]) == (
        "ServiceRun", "finished", True, 1), first
    assert (second["engine"], second["phase"], second["uploaded"], second["strips"]) == (
        "ServiceRun", "finished", False, 2), second  # the same scene exports the same bundle: not sent again
    assert report["regenerate"] == ["FINISHED"] and report["strips_after"] == 3
    assert {state: count for state, count in health["jobs"].items() if count} == {"finished": 3} and len(jobs) == 3
    assert len(list((tmp_path / "service" / "bundles").iterdir())) == 1
    shot_dir = Path(first["take_dirs"][0]).parent
    assert shot_dir.is_relative_to(tmp_path / "takes")
    assert sorted(p.name for p in shot_dir.iterdir() if p.name.startswith(("take-", ".take-"))) == [
        "take-001-previz-s0", "take-002-previz-s0", "take-003-previz-s1"]  # numbered here; Regenerate: a new seed
    records = {record["take"]: record for record in report["records"]}
    assert set(records) == {"take-001-previz-s0", "take-002-previz-s0", "take-003-previz-s1"}
    for record in records.values():
        assert Path(record["bundle_path"]).parent == shot_dir / "bundles"  # this machine's bundle, not the service's
        assert record["frames"] == ["0001.png", "0002.png", "0003.png", "0004.png", "0005.png"]


def test_with_nothing_answering_generate_runs_the_engine_here(scenario, tmp_path):
    token = tmp_path / "token"
    token.write_text("a-token-nobody-checks\n")
    report = scenario("fallback", f"127.0.0.1:{free_port()}", token)
    assert report["generate"] == ["FINISHED"] and report["strips"] == 1
    assert report["status"]["line"].startswith("nothing answers at http://127.0.0.1:")


def test_a_service_on_another_machine_is_not_asked_without_online_access(scenario, tmp_path):
    token = tmp_path / "token"
    token.write_text("a-token-nobody-checks\n")
    report = scenario("offline", "", token)
    assert (report["online_access"], report["engine"], report["phase"], report["strips"]) == (
        False, "EngineProcess", "finished", 1)
    assert report["connections"] in (0, None)  # None: no network address here to listen on
    assert any("turn on Preferences ▸ System ▸ Network ▸ Allow Online Access" in message
               for _, message in report["reports"]), report["reports"]
    assert report["status"]["alert"] and "Allow Online Access" in report["status"]["line"]  # Check Service too
    if report["connections"] is not None:  # Online Access on: the same address is asked
        online = report["online"]
        assert online["connections"] >= 1 and online["engine"] == "EngineProcess" and online["strips"] == 2


def test_keep_engine_warm_starts_one_service_reuses_it_and_stops_it(scenario, tmp_path):
    report = scenario("warm", f"127.0.0.1:{free_port()}", tmp_path / "warm" / "token")
    first, second = report["first"], report["second"]
    assert (first["engine"], first["phase"], first["strips"]) == ("ServiceRun", "finished", 1), first
    assert (second["engine"], second["phase"], second["strips"]) == ("ServiceRun", "finished", 2), second
    assert first["uploaded"] is None and second["uploaded"] is None  # read in place: the takes folder is shared
    assert len(report["started"]) == 1 and report["started"] == report["reused"] and report["stopped"] == [True]
    variations = report["variations"]  # #14: Make Variations runs on the warm service too
    assert (variations["engine"], variations["phase"], variations["tiles"]) == ("ServiceRun", "finished", 3), variations
    assert Path(variations["folder"]).is_relative_to(tmp_path / "takes") and Path(variations["folder"]).is_dir()
    assert (tmp_path / "warm" / "token").is_file()
    assert len(list((tmp_path / "data" / "blockcast" / "work" / "jobs").iterdir())) == 3
