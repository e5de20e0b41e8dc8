"""The engine as a child process: starting it, its JSON-lines events, its exit messages,
stopping it (bpy-free). What to ask it is engine_request's; what it says of its backends,
engine_report's.

Blender never imports the engine (torch stays out of Blender's Python): it starts
`python -m engine` in the engine's own environment and reads one JSON event per stdout
line. Reader threads move events into a queue so Blender's UI thread only ever drains it
from a timer and never blocks. Cancel creates the engine's cancel file (`--cancel-file`, which
works on Windows too), on which the engine stops at its next denoising step and removes the
unfinished take; if it is still running after a grace period it is terminated (SIGTERM, which
the engine handles the same way on POSIX), then killed, which at worst leaves a hidden
`.take-*.partial` folder, never a take.
"""

import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from ..engine.bundle.events import ErrorEvent, parse_event

CANCEL_GRACE_S = 10.0
OUTPUT_DRAIN_S = 5.0  # after exit, how long to wait for output still held open by a grandchild
CHECK_TIMEOUT_S = 60.0
EXIT_CANCELLED = 130
CANCEL_FILE_COMMANDS = ("generate", "variations")  # the engine commands that take --cancel-file


class EngineError(Exception):
    """The engine cannot be started or used as set up; the message says what to fix."""


def engine_script(python):
    """The `blockcast-engine` console script beside an interpreter (an installed engine), or None."""
    folder = Path(python).parent
    for candidate in (folder / "blockcast-engine", folder / "blockcast-engine.exe"):
        if candidate.is_file():
            return candidate
    return None


def venv_python(venv):
    """The interpreter of a virtual environment folder (POSIX or Windows layout), or None."""
    for candidate in (Path(venv) / "bin" / "python", Path(venv) / "Scripts" / "python.exe"):
        if candidate.is_file():
            return candidate
    return None


@dataclass
class EngineSetup:
    """How to start the engine: its interpreter, and the folder holding the `engine` package
    (used as working directory and PYTHONPATH; None when the package is installed in the
    interpreter's environment)."""

    python: Path
    engine_dir: Path | None = None

    def command(self, *args):
        return [str(self.python), "-m", "engine", *map(str, args)]

    @property
    def working_dir(self):
        """The engine folder, else the interpreter's own folder: never Blender's working folder,
        where a stray `engine` package would shadow the installed one."""
        return self.engine_dir if self.engine_dir is not None else Path(self.python).parent

    def environment(self, base=None):
        """Blender's environment minus Python overrides meant for Blender's own interpreter."""
        env = {k: v for k, v in (os.environ if base is None else base).items() if k not in ("PYTHONHOME", "PYTHONPATH")}
        if self.engine_dir is not None:
            env["PYTHONPATH"] = str(self.engine_dir)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self, *args):
        """The engine running `args` as a child in its own process group (a cancel reaches it, not
        Blender), its output as text lines, read by the caller's threads so it never stalls."""
        options = {"start_new_session": True} if os.name == "posix" else {
            "creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        return subprocess.Popen(self.command(*args), cwd=self.working_dir, env=self.environment(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                encoding="utf-8", errors="replace", bufsize=1, **options)

    def check(self):
        """Raise EngineError unless the interpreter (and engine folder, when set) exist."""
        if not Path(self.python).is_file():
            raise EngineError(f"the engine's Python {self.python} does not exist: set it in Preferences ▸ "
                              "Add-ons ▸ Blockcast (the python of the engine's environment, e.g. "
                              ".venv-engine/bin/python)")
        if self.engine_dir is not None and not (Path(self.engine_dir) / "engine" / "cli.py").is_file():
            raise EngineError(f"{self.engine_dir} holds no engine package (engine/cli.py): set the engine folder in "
                              "Preferences ▸ Add-ons ▸ Blockcast to the Blockcast checkout, or leave it empty")


def last_message(lines):
    """The engine's own one-line error from its stderr ("engine: error: ..."), else the last line."""
    lines = [line.strip() for line in lines if line.strip()]
    for line in reversed(lines):
        if line.startswith("engine: error: "):
            return line[len("engine: error: "):]
    return lines[-1] if lines else ""


def exit_message(returncode, error_event=None, stderr_lines=()):
    """Why the engine stopped, in the engine's own words where it said them."""
    if error_event:
        return error_event
    detail = last_message(stderr_lines)
    if returncode is not None and returncode < 0:
        how = f"was killed by signal {-returncode}"
    else:
        how = f"stopped with exit code {returncode}"
    return f"the engine {how}" + (f": {detail}" if detail else " without a message")


def check_engine(setup, timeout=CHECK_TIMEOUT_S):
    """Run `python -m engine backends --json`; returns its document, or raises EngineError."""
    setup.check()
    try:
        result = subprocess.run(setup.command("backends", "--json"), cwd=setup.working_dir, env=setup.environment(),
                                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"could not run {setup.python} -m engine: {exc}") from exc
    if result.returncode != 0:
        raise EngineError(exit_message(result.returncode, None, result.stderr.splitlines()))
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise EngineError(f"`engine backends --json` printed no JSON ({exc}): is {setup.python} Blockcast's "
                          "engine environment?") from exc


class EngineProcess:
    """One running engine command. Drain `events()` and call `poll()` from a timer; both
    return at once."""

    def __init__(self, setup, args, grace_s=CANCEL_GRACE_S):
        setup.check()
        self.grace_s = grace_s
        self.cancel_requested = False
        self._terminate_at = self._kill_at = None
        self._exited_at = None
        self.cancel_file = None
        if args and args[0] in CANCEL_FILE_COMMANDS:
            self.cancel_file = Path(tempfile.mkdtemp(prefix="blockcast-cancel-")) / "cancel"
            args = [*args, f"--cancel-file={self.cancel_file}"]
        self._events = queue.Queue()
        self._output = deque(maxlen=60)  # stderr and non-event stdout lines, for error messages
        self._error_event = None
        try:
            self._process = setup.start(*args)
        except OSError as exc:
            self._remove_cancel_file()
            raise EngineError(f"could not start the engine with {setup.python}: {exc}") from exc
        self._readers = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self):
        return self._process.pid

    def _read_stdout(self):
        for line in self._process.stdout:
            event = parse_event(line)
            if event is None:
                self._output.append(line.rstrip("\n"))  # library chatter
            else:
                self._events.put(event)
        self._process.stdout.close()

    def _read_stderr(self):
        for line in self._process.stderr:
            self._output.append(line.rstrip("\n"))
        self._process.stderr.close()

    def events(self):
        """Every event received since the last call, oldest first (engine/bundle/events.py records)."""
        drained = []
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            if isinstance(event, ErrorEvent):
                self._error_event = event.message or None
            drained.append(event)
        return drained

    def poll(self):
        """The exit code once the process has exited and its output is fully read (drain
        `events()` after it), else None. Kills the engine when a cancel's grace period has run out."""
        code = self._process.poll()
        if code is None:
            now = time.monotonic()
            if self._kill_at is not None and now >= self._kill_at:
                self.kill()
            elif self._terminate_at is not None and now >= self._terminate_at:
                self._terminate_at = None
                self._terminate()
            return None
        self._remove_cancel_file()
        self._exited_at = self._exited_at or time.monotonic()
        if any(r.is_alive() for r in self._readers) and time.monotonic() - self._exited_at < OUTPUT_DRAIN_S:
            return None
        return code

    @property
    def running(self):
        return self._process.poll() is None

    def cancel(self):
        """Ask the engine to stop: its cancel file (else SIGTERM at once); terminated after one grace
        period if still running, killed after another."""
        already, self.cancel_requested = self.cancel_requested, True
        if already or not self.running:
            return
        now = time.monotonic()
        if self.cancel_file is not None:
            self.cancel_file.touch()
            self._terminate_at = now + self.grace_s
        else:
            self._terminate()
        self._kill_at = now + (2 if self.cancel_file is not None else 1) * self.grace_s

    def _terminate(self):
        try:
            if os.name == "posix":
                self._process.send_signal(signal.SIGTERM)
            else:  # no SIGTERM handler on Windows: a hard stop, which never leaves a take behind either
                self._process.terminate()
        except ProcessLookupError:
            pass

    def _remove_cancel_file(self):
        if self.cancel_file is not None:
            shutil.rmtree(self.cancel_file.parent, ignore_errors=True)

    def kill(self):
        """Stop the engine and whatever it started (e.g. ffmpeg) at once."""
        if not self.running:
            return
        try:
            if os.name == "posix":
                os.killpg(self._process.pid, signal.SIGKILL)
            else:
                self._process.kill()
        except (ProcessLookupError, PermissionError):
            self._process.kill()

    def failure_message(self):
        """Why it failed: its `error` event, else its last words on stderr."""
        return exit_message(self._process.poll(), self._error_event, list(self._output))

    def output_tail(self):
        return list(self._output)
