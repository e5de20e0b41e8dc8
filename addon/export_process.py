"""A pass export in a background Blender process: its command line, its JSON-lines progress,
stopping it and clearing what it leaves (bpy-free; `blender/background_export.py` is the glue).

The child is Blender itself (`blender -b COPY.blend --python ENTRY -- JOB.json`) exporting a
saved copy of the artist's file, so the artist's Blender keeps taking input while it renders.
It prints one JSON object per stdout line (`export_frame`, then `exported` or `export_error`);
a reader thread queues them so the UI thread only ever reads what has arrived. Everything it
writes outside the bundle (the copy, its temp files) lives in one work folder removed at the
end; the bundle itself goes through BundleWriter's hidden partial folder, so stopping the
child at any moment (`terminate()`: portable, no POSIX signals needed) leaves no bundle, and
`remove_leftovers` clears the partial folder it had begun.
"""

import json
import os
import shutil
import subprocess
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

from ..engine.bundle.storage import remove_leftovers

BLENDER_ENV = "BLOCKCAST_BLENDER"  # a Blender executable to export with (tests: a scripts/bpy_blender.py wrapper)
STOP_GRACE_S = 5.0
OUTPUT_DRAIN_S = 2.0  # after exit, how long to wait for output held open by a grandchild


@dataclass
class ExportJob:
    """What the child exports (its JOB.json): the scene of the copy, the shot (shots.Shot's
    fields), the bundle folder, passes and size, the artist's file as the bundle's source (a
    manifest Source's JSON), the artist's Cycles devices (CyclesDevices' JSON) and whether a
    bundle already there is replaced (Shot Export's Replace Existing)."""

    scene: str
    shot: dict
    bundle: str
    passes: list
    size: list | None
    source: dict
    cycles: dict
    overwrite: bool = False

    def to_json(self):
        return asdict(self)

    @classmethod
    def from_json(cls, document):
        return cls(**document)


class ExportProcessError(Exception):
    """The background export failed; the message says why, in the child's words where it said them."""


def find_blender(binary_path, environ=None):
    """The Blender executable to run exports in: BLOCKCAST_BLENDER when set, else this Blender's
    own binary (`bpy.app.binary_path`, empty under the bpy module); None when neither is a file."""
    environ = os.environ if environ is None else environ
    for candidate in (environ.get(BLENDER_ENV, ""), binary_path or ""):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def blender_command(blender, blend_copy, entry, job_file, auto_run_scripts=False):
    """`blender -b --factory-startup [-y] COPY --python ENTRY -- JOB`: factory settings, so the
    artist's startup add-ons and scripts stay out; `-y` only when the artist lets files run
    their scripts (drivers), so the copy evaluates as their own file does."""
    return [str(blender), "-b", "--factory-startup", "-noaudio", *(["-y"] if auto_run_scripts else []),
            str(blend_copy), "--python-exit-code", "1", "--python", str(entry), "--", str(job_file)]


def progress_line(event, **fields):
    """One line of the child's progress protocol."""
    return json.dumps({"event": event, **fields})


def parse_progress(line):
    """A protocol line as a dict, or None for Blender's own chatter."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        document = json.loads(line)
    except json.JSONDecodeError:
        return None
    return document if isinstance(document, dict) and str(document.get("event", "")).startswith("export") else None


class ExportProcess:
    """One running background export writing the bundle `bundle_dir`; `poll()` and `progress`
    return at once, `stop()` ends it and clears everything it leaves."""

    def __init__(self, command, work_dir, bundle_dir, grace_s=STOP_GRACE_S):
        self.work_dir, self.bundle_dir, self.grace_s = Path(work_dir), Path(bundle_dir), grace_s
        self.done, self.total, self.path, self.error = 0, 0, None, None
        self._output = deque(maxlen=40)
        temp = self.work_dir / "temp"  # the child's temp files (render scratch folders) go where we clear
        temp.mkdir(exist_ok=True)
        env = {**os.environ, "TMPDIR": str(temp), "TEMP": str(temp), "TMP": str(temp), "PYTHONUNBUFFERED": "1"}
        options = {"start_new_session": True} if os.name == "posix" else {
            "creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        try:
            self._process = subprocess.Popen(
                command, cwd=self.work_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace", bufsize=1, **options)
        except OSError as exc:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            raise ExportProcessError(f"could not start Blender for the background export ({exc})") from exc
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self):
        return self._process.pid

    def _read(self):
        for line in self._process.stdout:
            message = parse_progress(line)
            if message is None:
                self._output.append(line.rstrip("\n"))
            elif message["event"] == "export_frame":
                self.done, self.total = int(message.get("done", 0)), int(message.get("total", 0))
            elif message["event"] == "exported":
                self.path = message.get("bundle_path")
            elif message["event"] == "export_error":
                self.error = str(message.get("message") or "the background export failed")
        self._process.stdout.close()

    def poll(self):
        """The exit code once the child has exited and its output is read, else None."""
        code = self._process.poll()
        if code is not None:
            self._reader.join(OUTPUT_DRAIN_S)  # the pipe closes at exit: its last lines are read at once
        return code

    def failure_message(self):
        if self.error:
            return self.error
        lines = [line.strip() for line in self._output if line.strip()]
        detail = f": {lines[-1]}" if lines else ""
        return f"the background export stopped with exit code {self._process.poll()}{detail}"

    def output_tail(self):
        return list(self._output)

    def stop(self):
        """End the child now (if running) and clear its work folder and any half-written bundle."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(self.grace_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._reader.join(self.grace_s)
        self.clear()

    def clear(self):
        remove_leftovers(self.bundle_dir.parent, self.bundle_dir.name)
        for _ in range(20):  # Windows: a just-exited child may hold its files a moment longer
            shutil.rmtree(self.work_dir, ignore_errors=True)
            if not self.work_dir.exists():
                return
            time.sleep(0.05)
