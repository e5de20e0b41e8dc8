"""A real `python -m engine serve` for the service tests and scripts/bench_serve.py: started as a
subprocess on 127.0.0.1 (any free port), talked to over HTTP with the stdlib only, stopped by the caller."""

import dataclasses
import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from engine.bundle.cast import Cast, CastMember
from engine.bundle.manifest import BundleManifest, ObjectsPass
from engine.bundle.schema import MANIFEST_NAME

REPO_ROOT = Path(__file__).resolve().parents[2]


def lock_looks(bundle, leave_open=()):
    """Lock a colour on every object but `leave_open` through the bundle's cast (what Lock Look
    writes): a previz take then samples only those colours with its UNet (none: no denoising
    steps at all), so jobs stay short on a loaded CPU."""
    path = bundle / MANIFEST_NAME
    manifest = BundleManifest.from_json(json.loads(path.read_text(encoding="utf-8")))
    objects_pass = next(entry for entry in manifest.passes.values() if isinstance(entry, ObjectsPass))
    names = [name for name in objects_pass.objects if name not in leave_open]
    colour = {name: f"#{(60 + 37 * index) % 200 + 40:02x}7050" for index, name in enumerate(names)}
    cast = manifest.cast or Cast()
    members = [dataclasses.replace(m, colors={name: colour[name] for name in m.objects if name in colour})
               for m in cast.members]
    owned = {name for member in members for name in member.objects}
    rest = tuple(name for name in names if name not in owned)
    if rest:
        members.append(CastMember(name="Set", role="prop", objects=rest, colors={name: colour[name] for name in rest}))
    manifest = dataclasses.replace(manifest, cast=Cast(members=tuple(members), look_seed=cast.look_seed).checked())
    path.write_text(json.dumps(manifest.to_json(), indent=1) + "\n", encoding="utf-8")


class Service:
    """One service process; `call` answers (status, JSON or bytes); every wait is bounded."""

    def __init__(self, work_dir, token_file, *extra, env=None, start_s=120):
        self.work_dir, self.token_file = Path(work_dir), Path(token_file)
        self.stderr_path = self.work_dir.parent / f"{self.work_dir.name}-serve-{time.time_ns()}.err"
        command = [sys.executable, "-m", "engine", "serve", "--port", "0", "--work-dir", str(work_dir),
                   "--token-file", str(token_file), *map(str, extra)]
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **(env or {})},
                                            stdout=subprocess.PIPE, stderr=stderr, text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.process.stdout.readline()), daemon=True).start()
        try:
            self.serving = json.loads(lines.get(timeout=start_s))
        except (queue.Empty, ValueError):
            self.stop()
            raise RuntimeError(f"the service did not start:\n{self.stderr_path.read_text()[-3000:]}") from None
        address = urlsplit(self.serving["url"])
        self.host, self.port = address.hostname, address.port
        self.token = self.token_file.read_text().strip()

    def connection(self, timeout=60):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def call(self, method, path, body=None, token=None, headers=None, timeout=60):
        """(status, parsed JSON or raw bytes) of one request, with the service's token unless `token` is given."""
        headers = dict(headers or {})
        if token is None:
            token = self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if isinstance(body, (dict, list)):
            body, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        connection = self.connection(timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        if response.getheader("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(data)
        return response.status, data

    def submit(self, request, bundle):
        status, answer = self.call("POST", "/jobs", {"request": request, "bundle": bundle})
        assert status == 202, answer
        return answer["job"]

    def events(self, job_id, after=None, until=None, timeout=300):
        """[(id, event)] of the job's server-sent events until the stream ends; `until(event)`
        True stops reading early (the connection is dropped, as a client going away does)."""
        path = f"/jobs/{job_id}/events" + ("" if after is None else f"?after={after}")
        connection, received, deadline = self.connection(timeout), [], time.monotonic() + timeout
        try:
            connection.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
            response = connection.getresponse()
            assert response.status == 200, response.read()
            event_id = None
            while time.monotonic() < deadline:
                line = response.readline().decode()
                if not line:
                    break
                if line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("data: "):
                    received.append((event_id, json.loads(line[6:])))
                    if until is not None and until(received[-1][1]):
                        break
        finally:
            connection.close()
        return received

    def wait(self, job_id, timeout=300):
        """The job's record once it has ended (polled, bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, record = self.call("GET", f"/jobs/{job_id}")
            assert status == 200, record
            if record["state"] not in ("queued", "running"):
                return record
            time.sleep(0.2)
        raise TimeoutError(f"job {job_id} did not end in {timeout} s")

    def peak_rss_bytes(self):
        """The service's peak resident memory (Linux VmHWM), or None elsewhere."""
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    def kill(self):
        """kill -9: what a crash or a pulled plug does."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        if self.process.stdout:
            self.process.stdout.close()
