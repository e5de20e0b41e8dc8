"""What Make Variations and Make Takes are doing, for the panel and status bar (bpy-free).

VariationsProgress folds the `variations` command's events (the engine's VariationEvent per
finished tile, FinishedEvent naming the folder) into GenerationProgress's phases, so the job
that runs it is an ordinary generation job. RunsProgress strings the progress of the one
engine call per run of picked seeds into one bar.
"""

from ..engine.bundle import events
from .generation_progress import EXPORT_SHARE, GenerationProgress


class VariationsProgress(GenerationProgress):
    """Phases as GenerationProgress's, with `sampling` while tiles arrive. The finished folder
    counts as the run's one "take" (`takes_done`), so the job keeps the bundle it refers to."""

    def __init__(self, shot, count):
        super().__init__(shot, 1)
        self.count = count
        self.tiles = []        # (seed, tile path relative to the folder), in the order they finished
        self.folder = None     # the variations folder, once the engine named it

    def apply(self, event):
        if isinstance(event, events.VariationEvent):
            self.phase = "sampling"
            self.tiles.append((event.seed, event.tile))
            self.count = event.count or self.count
        elif isinstance(event, events.FinishedEvent):
            self.folder = event.takes[0] if event.takes else None
            if self.folder:
                self.takes_done.append(self.folder)
            self.phase = "finishing"
        elif not isinstance(event, events.DoneEvent):
            super().apply(event)

    @property
    def fraction(self):
        if self.phase == "finished":
            return 1.0
        if self.phase in ("sampling", "finishing"):
            return EXPORT_SHARE + (1 - EXPORT_SHARE) * min(len(self.tiles) / max(self.count, 1), 1.0)
        if self.phase == "exporting":
            return EXPORT_SHARE * (self.exported / self.export_total if self.export_total else 0.0)
        return EXPORT_SHARE

    def status_line(self):
        made = f"{len(self.tiles)}/{self.count} variations"
        if self.phase == "sampling":
            return f"{self.shot}: {made}"
        if self.phase == "generating":
            step = f", step {self.step}/{self.steps}" if self.steps else ""
            return f"{self.shot}: sampling {self.count} variations{step}"
        if self.phase == "finishing":
            return f"{self.shot}: {made}, writing the contact sheet"
        if self.phase == "finished":
            return f"{self.shot}: {len(self.tiles)} variations on the sheet"
        if self.phase == "cancelled":
            return f"{self.shot}: variations cancelled, nothing kept"
        return super().status_line()


class RunsProgress:
    """One bar over `runs` engine calls (one per run of consecutive picked seeds): the finished
    runs' takes plus the running one's progress."""

    def __init__(self, shot, takes_total):
        self.shot, self.takes_total = shot, takes_total
        self.finished_takes = []   # take folders of the runs that have ended
        self.current = None        # the running call's GenerationProgress
        self.ended = None          # (phase, message) once every run has ended or one stopped the rest

    @property
    def takes_done(self):
        return self.finished_takes + (list(self.current.takes_done) if self.current is not None else [])

    def start_run(self, progress):
        if self.current is not None:
            self.finished_takes += self.current.takes_done
        self.current = progress

    def end(self, phase, message=None):
        self.ended = (phase, message)

    @property
    def phase(self):
        if self.ended is not None:
            return self.ended[0]
        return self.current.phase if self.current is not None else "starting"

    @property
    def error(self):
        if self.ended is not None and self.ended[1]:
            return self.ended[1]
        return self.current.error if self.current is not None else None

    @property
    def running(self):
        return self.ended is None

    @property
    def fraction(self):
        if self.phase == "finished":
            return 1.0
        current = self.current
        partial = 0.0
        if current is not None and current.running and current.steps:
            partial = current.step / current.steps
        return min((len(self.takes_done) + partial) / max(self.takes_total, 1), 1.0)

    def status_line(self):
        done = len(self.takes_done)
        made = f"{done}/{self.takes_total} picked take{'s' if self.takes_total != 1 else ''}"
        if self.phase == "finished":
            return f"{self.shot}: {made} made"
        if self.phase == "cancelled":
            return f"{self.shot}: cancelled, {made} kept"
        if self.phase == "failed":
            return f"{self.shot}: failed: {self.error}"
        if self.current is None:
            return f"{self.shot}: starting"
        return f"{self.current.status_line()} ({made})"
