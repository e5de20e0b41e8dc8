"""Progress reporting and cancellation for long generations.

Callers (the add-on, batch scripts, farm tasks) read one JSON event per line on stdout (the
records of engine/bundle/events.py); a person at a terminal gets a one-line bar on stderr
instead of scrolling JSON. Cancelling
is cooperative: a signal only raises a flag, and the generation loop stops at its next
denoising step, so the take being written can be cleaned up instead of torn mid-file.
A cancel file (`--cancel-file PATH`: the caller creates PATH to cancel) does the same without
signals, which is how a caller on Windows, where there is no SIGTERM to catch, asks for it.
"""

import os
import signal
import sys
import time

from .bundle import events


class Cancelled(Exception):
    """The user asked to stop (SIGINT/SIGTERM); raised at the next safe point."""


class CancelToken:
    """A flag set by SIGINT/SIGTERM or by the cancel file appearing; a second signal restores
    the default handler so a stuck process can still be killed."""

    def __init__(self, cancel_file=None):
        self.signal_name = None
        self.cancel_file = os.fspath(cancel_file) if cancel_file else None
        self._previous = {}

    @property
    def requested(self):
        if self.signal_name is None and self.cancel_file and os.path.exists(self.cancel_file):
            self.signal_name = "the cancel file"
        return self.signal_name is not None

    def request(self, name="request"):
        self.signal_name = name

    def check(self):
        if self.requested:
            raise Cancelled(f"cancelled by {self.signal_name}")

    def install(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def uninstall(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum, _frame):
        self.request(signal.Signals(signum).name)
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))


class Progress:
    """Writes events as JSON lines and, on a terminal, a human progress bar."""

    BAR_WIDTH = 28

    def __init__(self, stream=None, bar_stream=None, show_bar=None):
        self.stream = stream if stream is not None else sys.stdout
        self.bar_stream = bar_stream if bar_stream is not None else sys.stderr
        self.show_bar = self.bar_stream.isatty() if show_bar is None else show_bar
        self._bar_open = False

    def emit(self, event):
        """Stamp a typed event (engine/bundle/events.py) with the time, write it as one JSON line
        and draw it on the bar; returns the event."""
        event.time = round(time.time(), 3)
        self.stream.write(event.to_line() + "\n")
        self.stream.flush()
        if self.show_bar:
            self._draw(event)
        return event

    def _draw(self, event):
        take = getattr(event, "take", None) or ""
        if isinstance(event, events.StepEvent):
            done = event.step / max(event.total, 1)
            filled = int(done * self.BAR_WIDTH)
            bar = "#" * filled + "-" * (self.BAR_WIDTH - filled)
            self.bar_stream.write(f"\r{take} [{bar}] step {event.step}/{event.total}")
            self._bar_open = True
        elif isinstance(event, (events.DoneEvent, events.ErrorEvent, events.CancelledEvent, events.LoadEvent,
                                events.StartEvent)):
            if self._bar_open:
                self.bar_stream.write("\n")
                self._bar_open = False
            text = getattr(event, "message", "") or getattr(event, "path", "") or getattr(event, "backend", "")
            self.bar_stream.write(f"{event.event} {take} {text}".rstrip() + "\n")
        self.bar_stream.flush()
