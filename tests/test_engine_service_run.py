"""ServiceRun (addon/service_run.py) against a real `python -m engine serve`, without Blender's UI:
progress events in order across a dropped event stream, and cancel at a step with nothing
brought home. The bundle is a 3-frame 64x36 export of the demo scene by the real exporter.
"""

import socket
import subprocess
import sys
import threading
import time

import pytest
from test_engine_process import load_bpy_free
from test_engine_service_roundtrip import ENGINE_PYTHON, REPO, Service

es = load_bpy_free("engine_service")
sr = load_bpy_free("service_run")
events = __import__("bpy_free.engine.bundle.events", fromlist=["DoneEvent"])
GenerateRequest = __import__("bpy_free.engine.bundle.request", fromlist=["GenerateRequest"]).GenerateRequest

pytestmark = [pytest.mark.skipif(not ENGINE_PYTHON.exists(), reason="needs the engine venv: scripts/setup_env.sh engine"),
              pytest.mark.engine_roundtrip]
WAIT_S = 180


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    pytest.importorskip("bpy")
    top = tmp_path_factory.mktemp("service-run")
    for command in (["scripts/make_demo_scene.py", "--save", top / "demo.blend", "--frames", "3", "--size", "64x36"],
                    ["scripts/export_passes.py", top / "demo.blend", "--out", top / "bundle", "--frames", "1-3",
                     "--size", "64x36", "--passes", "shading,depth,normal,objects", "--quiet"]):
        result = subprocess.run([sys.executable, *map(str, command)], cwd=REPO, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
    return top / "bundle"


@pytest.fixture
def service(tmp_path):
    running = Service("127.0.0.1", tmp_path / "service", tmp_path / "token")
    yield running
    running.stop()


class DroppingProxy:
    """TCP on 127.0.0.1 forwarded to the service, cutting the first event stream after its first event."""

    def __init__(self, port):
        self.port, self.dropped = port, 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client):
        upstream = socket.create_connection(("127.0.0.1", self.port))
        first = client.recv(65536)
        upstream.sendall(first)
        cut = b"/events" in first.split(b"\r\n", 1)[0] and not self.dropped
        self.dropped += cut
        threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
        self._pump(upstream, client, cut)

    @staticmethod
    def _pump(source, sink, cut):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
                if cut and b"data: " in data:
                    break
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.server.close()


def _run_to_end(run):
    received, deadline = [], time.monotonic() + WAIT_S
    while (code := run.poll()) is None and time.monotonic() < deadline:
        received += run.events()
        time.sleep(0.05)
    return code, received + run.events()


def _client(address, service):
    return es.ServiceClient(es.ServiceAddress.parse(address), es.read_token(service.token_file))


def test_events_arrive_in_order_across_a_dropped_stream_and_the_take_comes_home(service, bundle, tmp_path):
    proxy = DroppingProxy(int(service.address.rpartition(":")[2]))
    try:
        run = sr.ServiceRun(_client(proxy.address, service), GenerateRequest(steps=3), bundle, tmp_path / "takes")
        code, received = _run_to_end(run)
    finally:
        proxy.close()
    assert (code, run.uploaded, proxy.dropped) == (0, True, 1), run.failure_message()
    steps = [event.step for event in received if isinstance(event, events.StepEvent)]
    assert steps == [1, 2, 3]  # none missed, none twice
    (done,) = [event for event in received if isinstance(event, events.DoneEvent)]
    (finished,) = [event for event in received if isinstance(event, events.FinishedEvent)]
    assert done.path == str(tmp_path / "takes" / "take-001-previz-s0") and finished.takes == [done.path]
    assert sorted(p.name for p in (tmp_path / "takes" / "take-001-previz-s0" / "frames").iterdir()) == [
        "0001.png", "0002.png", "0003.png"]
    assert type(received[-1]) is events.FinishedEvent and run.pid is None


def test_cancel_at_a_step_stops_the_job_and_brings_nothing_home(service, bundle, tmp_path):
    run = sr.ServiceRun(_client(service.address, service), GenerateRequest(steps=400), bundle, tmp_path / "takes")
    received, deadline = [], time.monotonic() + WAIT_S
    while not any(isinstance(event, events.StepEvent) for event in received) and time.monotonic() < deadline:
        received += run.events()
        time.sleep(0.05)
    run.cancel()
    code, rest = _run_to_end(run)
    assert code == sr.EXIT_CANCELLED and run.cancel_requested
    assert any(isinstance(event, events.CancelledEvent) for event in rest)
    assert not (tmp_path / "takes").exists() or list((tmp_path / "takes").iterdir()) == []
    assert service.get(f"/jobs/{run.job_id}")["state"] == "cancelled"


def test_variations_on_the_service_come_home_as_one_folder(service, bundle, tmp_path):
    """#14: Make Variations with a service on: one Variations job, its tiles' events as they finish,
    and the folder brought home before `finished` names it."""
    settings = __import__("bpy_free.engine.bundle.service_record", fromlist=["VariationsSettings"])
    record_module = __import__("bpy_free.engine.bundle.variations_record", fromlist=["read_variations"])
    run = sr.ServiceRun(_client(service.address, service), GenerateRequest(steps=1, seed=3), bundle,
                        tmp_path / "variations", variations=settings.VariationsSettings(count=2))
    code, received = _run_to_end(run)
    assert code == 0, run.failure_message()
    assert [event.seed for event in received if isinstance(event, events.VariationEvent)] == [3, 4]
    (finished,) = [event for event in received if isinstance(event, events.FinishedEvent)]
    local = tmp_path / "variations" / "variations-001-s3"
    assert finished.takes == [str(local)] and not any(isinstance(event, events.DoneEvent) for event in received)
    record = record_module.read_variations(local)
    assert [v.seed for v in record.variations] == [3, 4] and record.bundle.path == str(bundle)
    assert all((local / v.tile).is_file() for v in record.variations) and (local / record.sheet).is_file()
