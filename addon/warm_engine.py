"""A local engine service the add-on starts itself ("Keep Engine Warm"; bpy-free): started with
the engine's Python on the first Generate, reused by the next ones, stopped when Blender quits.

Starting it never blocks Blender: `wait_serving` (called from a run's worker thread) waits for
the one JSON line the service prints once it listens. Its output is drained by reader threads,
so a chatty service never stalls on a full pipe, and its last lines explain a failed start.
"""

import json
import subprocess
import threading
import time
from collections import deque

from .engine_process import last_message
from .engine_service import ServiceError

START_TIMEOUT_S = 120.0
STOP_GRACE_S = 5.0


class WarmService:
    """`python -m engine serve` on a loopback `address`, reading bundles from `shared_roots`."""

    def __init__(self, setup, address, token_file, shared_roots=()):
        setup.check()
        self.address = address
        args = ["serve", "--host", address.host, "--port", address.port, "--token-file", token_file]
        for root in shared_roots:
            args += ["--shared-root", root]
        self.serving = None      # the service's "serving" line, once printed
        self._ready = threading.Event()
        self._output = deque(maxlen=40)
        try:
            self._process = setup.start(*args)
        except OSError as exc:
            raise ServiceError(f"could not start the engine service with {setup.python}: {exc}") from exc
        for stream, reader in ((self._process.stdout, self._read_stdout), (self._process.stderr, self._read_lines)):
            threading.Thread(target=reader, args=(stream,), daemon=True).start()

    @property
    def pid(self):
        return self._process.pid

    @property
    def alive(self):
        return self._process.poll() is None

    def _read_stdout(self, stream):
        for line in stream:
            if self.serving is None and line.lstrip().startswith("{"):
                try:
                    document = json.loads(line)
                except ValueError:
                    document = {}
                if isinstance(document, dict) and document.get("event") == "serving":
                    self.serving = document
                    self._ready.set()
                    continue
            self._output.append(line.rstrip("\n"))
        self._ready.set()  # it exited: stop waiting

    def _read_lines(self, stream):
        for line in stream:
            self._output.append(line.rstrip("\n"))

    def wait_serving(self, timeout=START_TIMEOUT_S):
        """Return once the service listens; ServiceError with its own last words if it stopped."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.2):
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceError(f"the engine service did not start within {timeout:.0f} s: turn off Keep Engine "
                                   "Warm in Preferences ▸ Add-ons ▸ Blockcast to generate without it")
        if self.serving is None:
            time.sleep(0.2)  # let stderr's reader catch the last words
            detail = last_message(list(self._output)) or f"exit code {self._process.poll()}"
            raise ServiceError(f"the engine service stopped at start ({detail}): turn off Keep Engine Warm in "
                               "Preferences ▸ Add-ons ▸ Blockcast to generate without it")
        return self.serving

    def stop(self, grace_s=STOP_GRACE_S):
        """Ask the service to stop (it marks unfinished jobs interrupted), kill it after `grace_s`."""
        if not self.alive:
            return
        self._process.terminate()
        try:
            self._process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(grace_s)
