"""One Generate (or Make Variations) run on an engine service, looking to GenerationJob like a
child engine (bpy-free): `poll()`, `events()`, `cancel()`, `kill()`, `cancel_requested`,
`failure_message()`, `pid`.

All network work (sending the bundle, queueing the job, reading its events, bringing each
finished take home) happens on one background thread, which hands typed events to a queue;
Blender's UI thread only drains it. A `done` event is passed on once its take is in the local
takes folder, with that folder as its path, so the take becomes a strip exactly as a child
engine's does; `finished` lists the local folders too. A Variations run has no `done` events: its
one folder comes home before `finished` is passed on, naming the local folder.
"""

import dataclasses
import queue
import threading
import time
import traceback

from ..engine.bundle.events import DoneEvent, ErrorEvent, FinishedEvent
from ..engine.bundle.service_record import CANCELLED, FINISHED
from .engine_process import EXIT_CANCELLED
from .engine_service import ServiceError, follow_events, receive_take, receive_variations

EXIT_FAILED = 1
CANCEL_POST_S = 10.0
TAKE_LISTED_S = 10.0


class ServiceRun:
    """A job on `client`'s service; `bundle` is a BundleSource with the service-side path when the
    service reads the bundle from a shared folder, else None (uploaded unless the service holds it).
    `connect()`, when given, is called first on the worker (e.g. waiting for a service just started).
    `variations` (VariationsSettings) makes it a Variations job, its folder brought into `takes_dir`."""

    def __init__(self, client, request, bundle_dir, takes_dir, bundle=None, connect=None, variations=None):
        self.client, self.request, self.variations = client, request, variations
        self.bundle_dir, self.takes_dir = bundle_dir, takes_dir
        self.cancel_requested = False
        self.uploaded = None        # whether the bundle was sent (None until known)
        self.job_id = None
        self._bundle, self._connect = bundle, connect
        self._events = queue.Queue()
        self._local_takes = []
        self._code = None
        self._message = None
        self._abandoned = False
        self._worker = threading.Thread(target=self._run, daemon=True)
        self._worker.start()

    pid = None  # nothing runs on this machine: the service's process is not ours to signal

    def _run(self):
        try:
            if self._connect is not None:
                self._connect()
            if self._bundle is not None:
                self.job_id = self._submit_path()
            if self.job_id is None:
                source, self.uploaded = self.client.send_bundle(self.bundle_dir)
                if self.cancel_requested:
                    return self._over(EXIT_CANCELLED)
                self.job_id = self.client.submit(self.request, source, self.variations)
            if self.cancel_requested:  # asked while the job was being queued
                self._post_cancel()
            self._follow()
        except (ServiceError, OSError, ValueError) as exc:
            self._over(EXIT_FAILED, str(exc))
        except Exception as exc:  # a bug of ours must end the run, not leave the job waiting forever
            traceback.print_exc()
            self._over(EXIT_FAILED, f"internal error ({type(exc).__name__}: {exc}); the console has the details")

    def _submit_path(self):
        """The job, with the bundle read from the shared folder; None when the service may not
        read that folder (403), and the bundle is uploaded instead."""
        try:
            return self.client.submit(self.request, self._bundle, self.variations)
        except ServiceError as exc:
            if exc.status != 403:
                raise
            return None

    def _follow(self):
        for event in follow_events(self.client, self.job_id, stopped=lambda: self._abandoned):
            if isinstance(event, DoneEvent):
                event = self._bring_home(event)
            elif isinstance(event, FinishedEvent):
                if self.variations is not None:
                    self._local_takes = [self._bring_variations_home(path) for path in event.takes]
                event = dataclasses.replace(event, takes=[str(path) for path in self._local_takes])
            elif isinstance(event, ErrorEvent):
                self._message = event.message or None
            self._events.put(event)
        if self._abandoned:
            return self._over(EXIT_CANCELLED)
        record = self.client.job(self.job_id)
        if record.state == FINISHED:
            self._over(0)
        elif record.state == CANCELLED:
            self._over(EXIT_CANCELLED)
        else:
            self._over(EXIT_FAILED, record.error or f"the service's job {self.job_id} ended {record.state}")

    def _bring_home(self, event):
        take_id = event.take or event.path.replace("\\", "/").rstrip("/").rpartition("/")[2]
        archive = self._take_archive(take_id)
        local = receive_take(archive, take_id, self.takes_dir, self.bundle_dir)
        self._local_takes.append(local)
        return dataclasses.replace(event, take=local.name, path=str(local))

    def _bring_variations_home(self, path):
        name = path.replace("\\", "/").rstrip("/").rpartition("/")[2]
        return receive_variations(self._take_archive(name), name, self.takes_dir, self.bundle_dir)

    def _take_archive(self, take_id):
        """The take's tar; the service may list a take a moment after its `done` event (404 till then)."""
        deadline = time.monotonic() + TAKE_LISTED_S
        while True:
            try:
                return self.client.take_archive(self.job_id, take_id)
            except ServiceError as exc:
                if exc.status != 404 or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _over(self, code, message=None):
        if message and not self._message:
            self._message = message
        self._code = code

    def events(self):
        """Every event received since the last call, oldest first; returns at once."""
        drained = []
        while True:
            try:
                drained.append(self._events.get_nowait())
            except queue.Empty:
                return drained

    def poll(self):
        """The run's exit code once it is over (0, 130 cancelled, 1 failed; drain `events()` after
        it), else None."""
        return self._code if not self._worker.is_alive() else None

    def cancel(self):
        """Ask the service to stop the job at its next step; finished takes still come home."""
        already, self.cancel_requested = self.cancel_requested, True
        if not already and self.job_id is not None:
            threading.Thread(target=self._post_cancel, daemon=True).start()

    def _post_cancel(self):
        deadline = time.monotonic() + CANCEL_POST_S
        while time.monotonic() < deadline:
            try:
                return self.client.cancel(self.job_id)
            except ServiceError as exc:
                if exc.status is not None:  # answered: the job is over already
                    return None
                time.sleep(0.5)
        return None

    def kill(self):
        """Stop waiting for the job now (Blender is closing the file): cancel it on the service
        and read no more of it."""
        self.cancel()
        self._abandoned = True

    def failure_message(self):
        return self._message or "the engine service stopped the job without a message"

    @property
    def running(self):
        return self._worker.is_alive()
