"""The progress events contract (engine/bundle/events.py): the engine writes typed events as
today's JSON lines, and a reader gets the same records back, tolerant of newer and older engines."""

import io
import json
import re
from dataclasses import fields
from pathlib import Path

import pytest

from engine.bundle import events
from engine.progress import Progress


def test_each_event_writes_its_kind_the_time_then_its_fields_in_order():
    out = io.StringIO()
    progress = Progress(out, io.StringIO(), show_bar=False)
    progress.emit(events.StartEvent(take="take-001-previz-s1", backend="previz", seed=1, frames=6, steps=4,
                                    size=[64, 36], windows=1))
    progress.emit(events.DoneEvent(take="take-001-previz-s1", path="/t/take-001-previz-s1", frames=6, seconds=0.5))
    start, done = (json.loads(line) for line in out.getvalue().splitlines())
    assert list(start) == ["event", "time", "take", "backend", "seed", "frames", "steps", "size", "windows"]
    assert start["event"] == "start" and isinstance(start["time"], float) and start["size"] == [64, 36]
    assert list(done) == ["event", "time", "take", "path", "frames", "seconds"]


@pytest.mark.parametrize("event", [
    events.LoadEvent(backend="previz", device="cpu", models={"base": "/m/base"}),
    events.ControlsEvent(path="/b/controls", kinds=["depth", "pose"]),
    events.WarningEvent(message="could not write control images"),
    events.StartEvent(take="t", backend="previz", seed=2**40, frames=3, steps=2, size=[8, 8], windows=1),
    events.WindowEvent(take="t", index=0, count=1, start=3, end=5),
    events.StepEvent(take="t", step=1, total=2),
    events.FrameEvent(take="t", index=0, frame=3, path="frames/0003.png"),
    events.DoneEvent(take="t", path="/t/t", frames=3, seconds=1.25),
    events.VariationEvent(index=0, count=24, seed=7, tile="tiles/s7.png"),
    events.CancelledEvent(take=None, message="unfinished take removed"),
    events.ErrorEvent(take=None, message="model base is missing"),
    events.FinishedEvent(takes=["/t/a", "/t/b"]),
], ids=lambda event: event.event)
def test_every_event_reads_back_as_the_same_record(event):
    event.time = 12.5
    assert events.parse_event(event.to_line() + "\n") == event
    assert events.Event.from_json(event.to_json()).to_json() == event.to_json()


def test_every_kind_the_engine_writes_has_a_record():
    assert set(events.EVENTS) == {"load", "controls", "warning", "start", "window", "step", "frame", "lens", "done",
                                  "cancelled", "error", "finished", "variation"}


def test_docs_list_every_event_with_its_fields():
    table = (Path(__file__).resolve().parents[2] / "docs" / "engine.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)` \| (.*) \|$", table, flags=re.MULTILINE))
    for kind, record in events.EVENTS.items():
        documented = re.findall(r"`(\w+)`", rows[kind])
        assert documented == [item.name for item in fields(record) if not item.metadata], kind


def test_a_newer_engines_event_and_fields_are_kept_and_written_back():
    future = events.parse_event('{"event": "preview", "time": 3.0, "path": "p.mp4"}')
    assert isinstance(future, events.OtherEvent) and future.event == "preview" and future.extra == {"path": "p.mp4"}
    assert future.to_json() == {"event": "preview", "time": 3.0, "path": "p.mp4"}
    step = events.parse_event('{"event": "step", "time": 1.0, "take": "t", "step": 2, "total": 4, "eta_s": 9}')
    assert isinstance(step, events.StepEvent) and step.step == 2 and step.extra == {"eta_s": 9}
    assert list(step.to_json()) == ["event", "time", "take", "step", "total", "eta_s"]


def test_an_older_engines_missing_fields_take_defaults():
    done = events.parse_event('{"event": "done", "path": "/t/take-001"}')
    assert done == events.DoneEvent(path="/t/take-001") and done.take is None and done.time is None


def test_chatter_and_malformed_events_are_not_events():
    for noise in ("Loading weights...", "{not json", "[1, 2]", '{"step": 2}', '{"event": 3}', "", "  \n",
                  '{"event": "step", "step": "two"}', '{"event": "step", "step": true}'):
        assert events.parse_event(noise) is None


def test_a_wrong_field_type_names_the_field():
    with pytest.raises(events.EventError, match="'step' event's 'total' is '4', not an integer"):
        events.Event.from_json({"event": "step", "step": 1, "total": "4"})
    with pytest.raises(events.EventError, match="'done' event was given where a 'step' event was expected"):
        events.StepEvent.from_json({"event": "done"})
    assert events.DoneEvent.from_json({"event": "done", "seconds": 2}).seconds == 2  # an integer is a number


def test_the_terminal_bar_draws_steps_and_names_the_end():
    bar = io.StringIO()
    progress = Progress(io.StringIO(), bar, show_bar=True)
    progress.emit(events.StepEvent(take="t", step=2, total=4))
    progress.emit(events.DoneEvent(take="t", path="/t/t", frames=3))
    assert bar.getvalue() == "\rt [##############--------------] step 2/4\ndone t /t/t\n"
