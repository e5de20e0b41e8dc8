"""Preferences ▸ Models, bpy-free: the engine's `models list --json` and one `models fetch` at a time
run in the engine's own process (as Check Engine runs `backends --json`), its JSON lines folded into
a progress line. Blender only starts it when online access is on; the engine downloads nothing
without --allow-network.
"""

import json
import subprocess
import threading

from ..engine.bundle.models_record import MODELS_LIST_KEY, ModelEntry, ModelProgress
from .engine_process import EngineError

LIST_TIMEOUT_S = 120


def fetch_arguments(backend, role, model_folder=None):
    """`models fetch` for one role; into MODEL_FOLDER/<backend>/<role>/ when the preferences name one."""
    args = ["models", "fetch", backend, "--role", role, "--allow-network"]
    return args + (["--model-folder", str(model_folder)] if model_folder else [])


def list_models(setup, model_folder=None, timeout=LIST_TIMEOUT_S):
    """The engine's `models list --json` as ModelEntry records, or EngineError saying what went wrong."""
    setup.check()
    args = ["models", "list", "--json"] + (["--model-folder", str(model_folder)] if model_folder else [])
    try:
        result = subprocess.run(setup.command(*args), cwd=setup.working_dir, env=setup.environment(),
                                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"could not run {setup.python} -m engine models list: {exc}") from exc
    if result.returncode != 0:
        raise EngineError((result.stderr.strip().splitlines() or ["models list failed"])[-1])
    try:
        return [ModelEntry.from_json(entry) for entry in json.loads(result.stdout)[MODELS_LIST_KEY]]
    except (ValueError, KeyError, TypeError) as exc:  # not JSON, no list, or a field of the wrong type
        raise EngineError(f"the engine's models list could not be read ({exc}): Set Up Engine again so the "
                          "engine and the add-on are the same version") from exc


def progress_line(state, event):
    """The fetch's state after one of the engine's lines (a ModelProgress): {"line", "done", "failed"}."""
    if event.event == "fetch":
        state["line"] = f"Downloading {event.hub_id} ({(event.size_bytes or 0) / 1e9:.2f} GB)"
    elif event.event == "download" and event.total:
        state["line"] = f"Downloading {event.role}: {(event.done or 0) / 1e9:.2f} of {event.total / 1e9:.2f} GB"
    elif event.event == "fetched":
        state.update(done=True, failed=not event.ok, line=f"{event.role} downloaded to {event.folder}" if event.ok
                     else f"{event.role}: {'; '.join(event.problems or [])}")
    elif event.event == "error":
        state.update(done=True, failed=True, line=event.message or "models fetch failed")
    return state


class ModelFetch:
    """One `models fetch` running in the engine's process; `poll` gives its state so far."""

    def __init__(self, setup, backend, role, model_folder=None):
        setup.check()
        self.role = role
        self.state = {"line": f"Starting the download of {backend} {role}", "done": False, "failed": False}
        self.process = subprocess.Popen(setup.command(*fetch_arguments(backend, role, model_folder)),
                                        cwd=setup.working_dir, env=setup.environment(), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.errors = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            try:
                progress_line(self.state, ModelProgress.from_json(json.loads(line)))
            except (ValueError, TypeError):
                continue  # a library's chatter, not an event
        self.errors = self.process.stderr.read().strip().splitlines()

    def poll(self):
        """{"line", "done", "failed"}: done once the engine has exited and its output is read."""
        if self.process.poll() is not None and not self.reader.is_alive():
            if self.process.returncode != 0 and not self.state["failed"]:
                last = (self.errors or [f"models fetch exited {self.process.returncode}"])[-1]
                self.state.update(failed=True, line=last)
            self.state["done"] = True
        return self.state

    def cancel(self):
        self.process.terminate()
