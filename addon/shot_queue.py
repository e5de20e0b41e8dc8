"""Generate All Shots: every shot's generation, one after another, as one job (bpy-free).

The queue makes each shot's job only when the one before has ended (two engines never
share a GPU, and each export snapshots the scene when its shot's turn comes) and runs it
exactly as Generate would, so it has the job's own interface (`tick`, `cancel`, `stop`,
`wait`, `progress`, `reports`, `strip_names`, `holds_input`) and the Generate operator's modal
runs it unchanged. A shot that fails, or cannot start, is reported and the queue goes on to
the next; a cancelled shot (Esc, Cancel, Blender ending the operator) stops the queue, and
the takes already finished stay.
"""

import time

_RUNNING = []  # the running queue, for the panels' one progress view


def running_queue():
    return _RUNNING[0] if _RUNNING else None


class QueueProgress:
    """The whole queue's progress: its fraction and one status line naming the shot."""

    def __init__(self, queue):
        self._queue = queue
        self.phase = "running"

    @property
    def running(self):
        return self.phase == "running"

    @property
    def fraction(self):
        queue = self._queue
        total = len(queue.shot_names) or 1
        current = queue.job.progress.fraction if queue.job is not None else 0.0
        return min(1.0, (max(queue.index, 0) + current) / total) if self.running else 1.0

    def status_line(self):
        """"shot 2/5: B — take 1/2, step 7/20", or how the queue ended."""
        queue, total = self._queue, len(self._queue.shot_names)
        if self.running and queue.job is not None:
            name = queue.shot_names[queue.index]
            line = queue.job.progress.status_line()
            if line.startswith(f"{name}: "):
                line = f"{name} — {line[len(name) + 2:]}"
            return f"shot {queue.index + 1}/{total}: {line}"
        made = f"{len(queue.finished)} of {total} shot{'s' if total != 1 else ''} generated"
        failed = f", failed: {', '.join(queue.failed)}" if queue.failed else ""
        if self.phase == "cancelled":
            return f"all shots: cancelled, {made}{failed}"
        return f"all shots: {made}{failed}"


class ShotQueue:
    """Runs `make_job(shot_name)` for each shot in turn; `errors` are the exceptions a job's
    making raises for bad input (reported, then the next shot)."""

    def __init__(self, shot_names, make_job, errors=()):
        if running_queue() is not None:
            raise RuntimeError("Generate All Shots is already running")
        self.shot_names = list(shot_names)
        self._make_job, self._errors = make_job, tuple(errors)
        self.index, self.job = -1, None
        self.jobs = []                  # the jobs that have ended, in order
        self.finished, self.failed = [], []
        self.reports = []
        self._stopping = False
        self.progress = QueueProgress(self)
        _RUNNING.append(self)
        self._start_next()

    @property
    def running(self):
        return self.progress.running

    @property
    def strip_names(self):
        jobs = self.jobs + ([self.job] if self.job is not None else [])
        return [name for job in jobs for name in job.strip_names]

    @property
    def holds_input(self):
        return self.job is not None and self.job.holds_input

    def _start_next(self):
        while not self._stopping and self.index + 1 < len(self.shot_names):
            self.index += 1
            name = self.shot_names[self.index]
            try:
                self.job = self._make_job(name)
                return
            except self._errors as exc:
                self.failed.append(name)
                self.reports.append(("ERROR", f"{name}: {exc}"))
        self._end()

    def _job_ended(self):
        job, self.job = self.job, None
        self.jobs.append(job)
        self.reports += job.reports
        phase, name = job.progress.phase, self.shot_names[self.index]
        if phase == "finished":
            self.finished.append(name)
        elif phase == "cancelled":
            self._stopping = True
        else:
            self.failed.append(name)

    def _end(self):
        self.progress.phase = "cancelled" if self._stopping else "finished" if self.finished else "failed"
        if self in _RUNNING:
            _RUNNING.remove(self)
        level = "INFO" if self.progress.phase == "finished" and not self.failed else "WARNING"
        self.reports.append((level, self.progress.status_line()))

    def tick(self):
        """Advance the current shot a little; returns False once the queue is over."""
        if not self.running:
            return False
        if self.job is not None and not self.job.tick():
            self._job_ended()
            self._start_next()
        return self.running

    def cancel(self):
        """Stop the queue: the current shot is cancelled as Cancel does, no further shot starts."""
        self._stopping = True
        if self.job is not None:
            self.job.cancel()
        elif self.running:
            self._end()

    def stop(self, timeout_s):
        """Cancel and end now (Blender ends the operator)."""
        self._stopping = True
        if self.job is not None:
            self.job.stop(timeout_s)
            self._job_ended()
        if self.running:
            self._end()

    def wait(self, poll_s=0.05, on_tick=None):
        """Run every shot to the end in this thread (scripts, `execute`); returns the final phase."""
        while self.tick():
            if on_tick is not None:
                on_tick(self.progress)
            if not self.holds_input:
                time.sleep(poll_s)
        return self.progress.phase
