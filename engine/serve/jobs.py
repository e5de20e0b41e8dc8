"""The job queue: records on disk, events on disk, one worker thread running jobs in turn.

One job at a time, because one set of models fills the GPU; the loaded backends stay warm
between jobs. Everything a client may ask about later is on disk before it is answered:
WORK/jobs/<id>/job.json (written temp+rename) and events.jsonl (one engine event per
line, the same JSON the CLI prints), so a restarted service still knows every job, and a
job that was queued or running when the service died is reported `interrupted`, never lost.
"""

import io
import json
import os
import re
import secrets
import sys
import threading
import traceback
from datetime import datetime, timezone
from queue import Queue

from ..backends.device import DeviceError
from ..backends.models import ModelError
from ..bundle import BundleError, events
from ..bundle.request import GenerateRequest
from ..bundle.service_record import (CANCELLED, FAILED, FINISHED, INTERRUPTED, QUEUED, RUNNING, STATES,
                                     JobRecord)
from ..generate import Generation, RequestError
from ..progress import CancelToken, Cancelled, Progress
from ..takes import TakeError, sweep_stale_partials
from ..variations.run import Variations

JOB_RECORD, EVENTS_FILE, TAKES_DIR = "job.json", "events.jsonl", "takes"
_JOB_ID = re.compile(r"^[0-9a-f]{16}$")
EXPECTED_ERRORS = (BundleError, ModelError, RequestError, TakeError, DeviceError, ValueError, OSError)


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_json_atomic(path, document):
    """Write JSON to a temp file beside `path`, then rename: a killed service leaves the old or the new file."""
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


class EventLog:
    """A job's events: appended to events.jsonl as the engine emits them (Progress writes here as
    to stdout), held in memory for the streams, which are woken on their own event loops."""

    def __init__(self, path):
        self.path = path
        self.lines = []
        if path.exists():  # a killed service may have left half a line at the end: keep whole events only
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    json.loads(line)
                    self.lines.append(line)
                except ValueError:
                    pass
        self._lock, self._waiters = threading.Lock(), set()

    def write(self, text):
        for line in text.splitlines():
            if line.strip():
                self.append(line)

    def flush(self):
        pass  # each line is written through in append

    def append(self, line):
        with self._lock:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
            self.lines.append(line)
        self.wake()

    def wake(self):
        for loop, event in list(self._waiters):
            loop.call_soon_threadsafe(event.set)

    def subscribe(self, loop, event):
        self._waiters.add((loop, event))

    def unsubscribe(self, loop, event):
        self._waiters.discard((loop, event))


class Job:
    """A job in memory: its record, its event log, the bundle folder it reads and its cancel token."""

    def __init__(self, folder, record):
        self.folder, self.record = folder, record
        self.log = EventLog(folder / EVENTS_FILE)
        self.cancel = CancelToken()

    @property
    def takes_dir(self):
        return self.folder / TAKES_DIR

    def finished_takes(self):
        """Names of the whole takes in takes/ (partial folders are hidden and never listed)."""
        if not self.takes_dir.is_dir():
            return []
        return sorted(p.name for p in self.takes_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def save(self):
        write_json_atomic(self.folder / JOB_RECORD, self.record.to_json())

    def emit(self, event):
        Progress(self.log, io.StringIO(), show_bar=False).emit(event)


class JobQueue:
    """Jobs by id, the queue of waiting ones and the one worker thread that runs them."""

    def __init__(self, folders, loaded_backends):
        self.folders, self.loaded_backends = folders, loaded_backends
        self.jobs, self._lock, self._queue = {}, threading.Lock(), Queue()
        self._recover()
        self._worker = threading.Thread(target=self._work, name="blockcast-jobs", daemon=True)

    def _recover(self):
        """Read every job of earlier runs; those queued or running then become interrupted."""
        for folder in sorted(self.folders.jobs.iterdir()):
            if not _JOB_ID.match(folder.name) or not (folder / JOB_RECORD).is_file():
                continue
            try:
                record = JobRecord.from_json(json.loads((folder / JOB_RECORD).read_text(encoding="utf-8")),
                                             str(folder / JOB_RECORD))
            except ValueError as exc:
                print(f"engine serve: warning: job {folder.name} has an unreadable {JOB_RECORD} ({exc}); "
                      "left as it is", file=sys.stderr)
                continue
            job = self.jobs[folder.name] = Job(folder, record)
            if record.state in (QUEUED, RUNNING):
                again = "Make Variations" if record.variations is not None else "Generate"
                message = f"the service stopped while this job was {record.state}; {again} again"
                if job.takes_dir.is_dir():
                    sweep_stale_partials(job.takes_dir)
                record.state, record.ended, record.error = INTERRUPTED, _now(), message
                record.takes = job.finished_takes()
                job.emit(events.ErrorEvent(take=None, message=message))
                job.save()

    def start(self):
        self._worker.start()

    def stop(self, wait_s=10.0):
        """Cancel the running job (it stops at its next step) and end the worker."""
        with self._lock:
            for job in self.jobs.values():
                if job.record.state == RUNNING:
                    job.cancel.request("the service stopping")
        self._queue.put(None)
        if self._worker.is_alive():
            self._worker.join(wait_s)

    def submit(self, request_json, bundle_folder, digest=None, variations=None):
        """A new queued job (its record on disk before this returns); `variations` (VariationsSettings)
        makes it a Variations job."""
        job_id = secrets.token_hex(8)
        folder = self.folders.job(job_id)
        folder.mkdir()
        record = JobRecord(id=job_id, state=QUEUED, created=_now(), request=request_json, bundle_digest=digest,
                           bundle_path=str(bundle_folder), variations=variations)
        job = Job(folder, record)
        job.save()
        with self._lock:
            self.jobs[job_id] = job
        self._queue.put(job_id)
        return record

    def get(self, job_id):
        return self.jobs.get(job_id) if _JOB_ID.match(job_id or "") else None

    def records(self):
        with self._lock:
            return sorted((job.record for job in self.jobs.values()), key=lambda r: (r.created or "", r.id))

    def counts(self):
        counts = {state: 0 for state in STATES}
        for record in self.records():
            counts[record.state] = counts.get(record.state, 0) + 1
        return counts

    def cancel(self, job):
        """Stop a running job at its next step; a queued one is cancelled at once."""
        with self._lock:
            job.cancel.request("a client")
            if job.record.state != QUEUED:
                return
            job.emit(events.CancelledEvent(take=None, message="cancelled before it started"))
            self._end(job, CANCELLED, None)

    def _end(self, job, state, error):
        record = job.record
        record.state, record.ended, record.error, record.takes = state, _now(), error, job.finished_takes()
        job.save()
        job.log.wake()  # streams see the ended state and close

    def _work(self):
        while (job_id := self._queue.get()) is not None:
            job = self.jobs[job_id]
            with self._lock:
                if job.record.state != QUEUED:
                    continue  # cancelled while waiting
                job.record.state, job.record.started = RUNNING, _now()
                job.save()
            state, error = self._run(job)
            with self._lock:
                self._end(job, state, error)

    def _run(self, job):
        """(state, error) after making the job's takes (or its variations folder), its events
        written as the CLI writes them."""
        maker = None
        try:
            request = GenerateRequest.from_json(job.record.request)
            maker = self._maker(job, request)
            made = maker.run()
        except Cancelled:
            job.emit(events.CancelledEvent(take=maker and maker.current_take, message=(
                "unfinished variations removed" if job.record.variations else
                "unfinished take removed; finished takes kept")))
            return CANCELLED, None
        except Exception as exc:  # every failure becomes the job's error, as `generate` reports it
            if not isinstance(exc, EXPECTED_ERRORS):
                traceback.print_exc()
            job.emit(events.ErrorEvent(take=maker and maker.current_take, message=str(exc)))
            return FAILED, str(exc)
        job.emit(events.FinishedEvent(takes=[str(path) for path in (made if isinstance(made, list) else [made])]))
        return FINISHED, None

    def _maker(self, job, request):
        """The Generation, or for a Variations job the Variations, with the warm backends."""
        settings, bundle = job.record.variations, job.record.bundle_path
        if settings is None:
            return Generation(request, bundle, job.takes_dir, job, job.cancel, loaded_backends=self.loaded_backends)
        return Variations(request, bundle, job.takes_dir, job, job.cancel, count=settings.count,
                          key_frames=settings.key_frames, tile_width=settings.tile_width,
                          loaded_backends=self.loaded_backends)
