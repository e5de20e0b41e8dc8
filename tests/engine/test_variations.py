"""Variations (#14): many looks of a shot on the default previz backend, with its shipped weights.

A picked variation's full take must be the variation: `generate --seed <its seed>` gives a take
whose take.json look is the variation's look, and whose key frames, resized the way tiles are,
are the tile's pixels.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.bundle.events import VariationEvent, parse_event
from engine.bundle.take_record import read_take
from engine.bundle.variations_record import VariationsRecordError, read_variations
from engine.imaging import resize_cover
from engine.previz.prior import DEFAULT_SAMPLING
from engine.variations.tiles import KEY_GAP, key_frame_numbers

STEPS = ("--steps", "3")


@pytest.fixture(scope="module")
def made(engine_main_module, previz_shots, tmp_path_factory):
    """Three variations of a held-out previz shot from seed 7, and the full take of seed 8."""
    bundle = previz_shots[0]
    out = tmp_path_factory.mktemp("variations")
    code, events = engine_main_module("variations", bundle, "--out", out, "--count", "3", "--seed", "7", *STEPS)
    assert code == 0, events
    takes = tmp_path_factory.mktemp("picked")
    code, take_events = engine_main_module("generate", bundle, "--out", takes, "--seed", "8", *STEPS)
    assert code == 0, take_events
    return out / "variations-001-s7", next(takes.glob("take-001-previz-s8")), events


def test_the_folder_holds_a_record_a_sheet_and_a_tile_per_seed(made):
    folder, _, events = made
    record = read_variations(folder)
    assert record.backend == "previz" and [v.seed for v in record.variations] == [7, 8, 9]
    assert record.key_frames == key_frame_numbers(list(range(1, 7)), 3) == [1, 4, 6]
    width, height = record.tile_size
    assert (width, height) == (160, 91)  # 112x64 shot
    for variation in record.variations:
        assert Image.open(folder / variation.tile).size == (3 * width + 2 * KEY_GAP, height)
        assert variation.look and all(colour.startswith("#") for colour in variation.look.values())
    assert len({json.dumps(v.look, sort_keys=True) for v in record.variations}) == 3  # three looks
    assert Image.open(folder / record.sheet).size[0] >= 3 * width
    timings = record.timings  # looks are summed over the workers that made them side by side
    assert 1 <= timings.workers <= 3 and timings.total_s * timings.workers >= timings.sample_s > 0
    kinds = [event["event"] for event in events]
    assert kinds[0] == "load" and kinds[-1] == "finished" and kinds.count("variation") == 3
    assert events[-1]["takes"] == [str(folder)]
    assert [e["seed"] for e in events if e["event"] == "variation"] == [7, 8, 9]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no partial left


def test_a_picked_variations_full_take_has_its_look_and_its_frames(made):
    folder, take_dir, _ = made
    record, take = read_variations(folder), read_take(take_dir)
    variation = record.variation(8)
    assert take.look.objects == variation.look
    canonical = (112 // DEFAULT_SAMPLING.downscale, 64 // DEFAULT_SAMPLING.downscale)
    assert take.look.sampler == DEFAULT_SAMPLING.record(3, canonical)  # the prior's sampler, recorded
    assert record.sampler == take.look.sampler.to_json()
    width, height = record.tile_size
    tile = np.asarray(Image.open(folder / variation.tile).convert("RGB")).astype(int)
    for index, frame in enumerate(record.key_frames):
        full = Image.open(take_dir / "frames" / f"{frame:04d}.png").convert("RGB")
        expected = np.asarray(resize_cover(full, width, height)).astype(int)
        shown = tile[:, index * (width + KEY_GAP):index * (width + KEY_GAP) + width]
        assert np.abs(shown - expected).max() <= 1, frame


def test_the_record_and_event_read_back(made):
    folder, _, _ = made
    record = read_variations(folder)
    document = json.loads((folder / "variations.json").read_text())
    assert record.to_json() == document
    document["future_key"] = 1
    assert type(record).from_json(document).to_json()["future_key"] == 1
    with pytest.raises(VariationsRecordError, match="key_frames"):
        type(record).from_json({**document, "key_frames": "1,2"})
    with pytest.raises(VariationsRecordError, match="no seed 99"):
        record.variation(99)
    event = parse_event(VariationEvent(index=0, count=3, seed=7, tile="tiles/s7.png").to_line())
    assert isinstance(event, VariationEvent) and event.tile == "tiles/s7.png"


def test_a_take_from_before_the_sampler_was_recorded_round_trips_unchanged():
    from engine.bundle.take_record import TakeLook

    older = {"look_seed": 4, "objects": {"Floor": "#808080"}}
    look = TakeLook.from_json(older)
    assert look.sampler is None and look.to_json() == older


def test_other_backends_are_told_to_make_takes(engine_main, previz_shots, tmp_path):
    code, events = engine_main("variations", previz_shots[0], "--out", tmp_path, "--backend", "wan-vace")
    assert code == 1 and "Takes = K" in events[-1]["message"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flags, flag", [(("--key-frames", "7"), "--key-frames"), (("--takes", "2"), "--count"),
                                         (("--count", "0"), "--count"), (("--tile-width", "4"), "--tile-width")])
def test_bad_flags_say_which(engine_main, previz_shots, tmp_path, flags, flag):
    code, events = engine_main("variations", previz_shots[0], "--out", tmp_path, *flags)
    assert code == 2 and flag in events[-1]["message"]


def test_cancel_leaves_no_folder(previz_shots, tmp_path):
    from engine.bundle.request import GenerateRequest
    from engine.progress import CancelToken, Cancelled, Progress
    from engine.variations.run import Variations

    class CancelAfterFirst(Progress):
        def emit(self, event):
            if isinstance(event, VariationEvent):
                cancel.request()
            return super().emit(event)

    cancel = CancelToken()
    progress = CancelAfterFirst(stream=open(tmp_path / "events.jsonl", "w"), show_bar=False)
    variations = Variations(GenerateRequest(seed=1, steps=2), previz_shots[0], tmp_path / "out", progress, cancel,
                            count=3)
    with pytest.raises(Cancelled):
        variations.run()
    assert list((tmp_path / "out").iterdir()) == []


def test_the_record_module_is_stdlib_only():
    """The add-on (stdlib + numpy, never torch) and the farm read variations.json through it."""
    probe = ("import sys, engine.bundle.variations_record; "
             "print(','.join(m for m in ('numpy', 'PIL', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.strip() == ""
