"""What a running generation is doing, folded from the export's frames and the engine's events
(bpy-free): one status line, a 0..1 fraction and the time left, for the panel and status bar.
"""

from ..engine.bundle import events

EXPORT_SHARE = 0.1  # of the progress bar; the engine's denoising steps fill the rest


def format_duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


class GenerationProgress:
    """Phases: starting → exporting → launching → loading → controls → generating → writing
    (per take) → finishing → finished, cancelled or failed."""

    def __init__(self, shot, takes):
        self.shot = shot
        self.takes_total = takes
        self.phase = "starting"
        self.detail = ""
        self.exported, self.export_total = 0, 0
        self.export_note = ""  # where and on what the passes render (background_export's note)
        self.bundle_note = ""  # shot_jobs': "passes unchanged: reusing bundles/003", said until the engine generates
        self.take, self.takes_done = None, []
        self.step, self.steps = 0, 0
        self.frame = None
        self.error = None
        self._step_seconds = []
        self._last_step_time = None

    def engine_started(self):
        self.phase = "launching"

    def export_frame(self, done, total, note=""):
        self.phase, self.exported, self.export_total = "exporting", done, total
        self.export_note = note

    def apply(self, event):
        """Fold one engine event (engine/bundle/events.py) in; other kinds are ignored: the engine
        may add some."""
        if isinstance(event, events.LoadEvent):
            self.phase, self.detail = "loading", f"{event.backend} on {event.device}".strip()
        elif isinstance(event, events.ControlsEvent):
            self.phase = "controls"
        elif isinstance(event, events.StartEvent):
            self.phase, self.take = "generating", event.take
            self.step, self.steps = 0, event.steps
            self._last_step_time = event.time
        elif isinstance(event, events.StepEvent):
            self.phase, self.take = "generating", event.take or self.take
            self.step, self.steps = event.step, event.total or self.steps
            if event.time is not None and self._last_step_time is not None:
                self._step_seconds.append(max(0.0, event.time - self._last_step_time))
            self._last_step_time = event.time
        elif isinstance(event, events.FrameEvent):
            self.phase, self.frame = "writing", event.frame
        elif isinstance(event, events.DoneEvent):
            self.takes_done.append(event.path)
            self.take, self.step = None, 0
            self.phase = "generating" if len(self.takes_done) < self.takes_total else "finishing"
        elif isinstance(event, events.ErrorEvent):
            self.error = event.message or "the engine reported an error"

    def end(self, phase, message=None):
        """The job is over: the engine has exited (its `finished`, `cancelled` and `error`
        events come just before) or the export stopped."""
        self.phase = phase
        if message:
            self.error = message

    @property
    def running(self):
        return self.phase not in ("finished", "cancelled", "failed")

    @property
    def fraction(self):
        if self.phase == "finished":
            return 1.0
        if self.phase == "exporting" or not self.steps:
            exported = self.exported / self.export_total if self.export_total else 0.0
            return EXPORT_SHARE * exported + (1 - EXPORT_SHARE) * len(self.takes_done) / max(self.takes_total, 1)
        takes = (len(self.takes_done) + self.step / self.steps) / max(self.takes_total, 1)
        return EXPORT_SHARE + (1 - EXPORT_SHARE) * min(takes, 1.0)

    @property
    def seconds_left(self):
        """Remaining denoising steps times the mean step so far; None before the first step."""
        if not self._step_seconds or not self.steps:
            return None
        remaining_takes = max(self.takes_total - len(self.takes_done) - 1, 0)
        remaining = (self.steps - self.step) + remaining_takes * self.steps
        return remaining * sum(self._step_seconds) / len(self._step_seconds)

    def take_number(self):
        return min(len(self.takes_done) + 1, self.takes_total)

    def status_line(self):
        line = self._phase_line()
        if self.bundle_note and self.phase in ("starting", "launching", "loading", "controls"):
            return f"{line} ({self.bundle_note})"
        return line

    def _phase_line(self):
        takes = f"take {self.take_number()}/{self.takes_total}"
        if self.phase == "starting":
            return f"{self.shot}: starting"
        if self.phase == "exporting":
            note = f" ({self.export_note})" if self.export_note else ""
            return f"{self.shot}: exporting passes, frame {self.exported}/{self.export_total}{note}"
        if self.phase == "launching":
            return f"{self.shot}: starting the engine"
        if self.phase == "loading":
            return f"{self.shot}: loading models ({self.detail})" if self.detail else f"{self.shot}: loading models"
        if self.phase == "controls":
            return f"{self.shot}: preparing controls"
        if self.phase == "generating" and self.take is None:
            return f"{self.shot}: {takes}, starting"
        if self.phase == "generating":
            left = self.seconds_left
            eta = f", about {format_duration(left)} left" if left is not None else ""
            step = f", step {self.step}/{self.steps}" if self.steps else ""
            return f"{self.shot}: {takes}{step}{eta}"
        if self.phase == "writing":
            return f"{self.shot}: {takes}, writing frame {self.frame}"
        done = len(self.takes_done)
        made = f"{done} take{'s' if done != 1 else ''}"
        if self.phase == "finishing":
            return f"{self.shot}: {made} made, finishing"
        if self.phase == "finished":
            return f"{self.shot}: {made} made"
        if self.phase == "cancelled":
            return f"{self.shot}: cancelled, {made} kept"
        return f"{self.shot}: failed: {self.error}"
