"""Looks without a model: colour words, mood grades, reference palettes, the look plan and
the measures scripts/eval_cast.py builds on (numpy and PIL only)."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from engine.bundle.cast import Cast
from engine.looks import colours, measure, mood, palette, plan, references
from engine.looks.colour_space import hex_to_srgb8, lab_to_srgb8, srgb8_to_lab
from engine.previz import appearance


def cast_of(*members, look_seed=None):
    return Cast.from_json({"look_seed": look_seed, "members": list(members)})


def test_colour_words_with_modifiers_and_what_is_not_understood():
    reading = colours.read_description("A woman in a long red coat, with a bun")
    assert [(c.phrase, c.colour, c.nouns) for c in reading.colours] == [("red", "#e50000", ("coat",))]
    assert reading.not_understood == ["woman", "long", "bun"]
    reading = colours.read_description("dark gray suit and a light-blue hat; navy blue tie, bright orange scarf")
    assert [c.phrase for c in reading.colours] == ["dark grey", "light blue", "navy blue", "bright orange"]
    assert [c.nouns for c in reading.colours] == [("suit",), ("hat",), ("tie",), ("scarf",)]
    assert colours.read_description("a man by the sea at dusk").colours == []  # not colours in a description


def test_a_modifier_without_its_own_survey_name_moves_the_colour_in_lab():
    assert "light crimson" not in colours.vocabulary()
    (word,) = colours.read_description("light crimson dress").colours
    plain, lighter = srgb8_to_lab(hex_to_srgb8("#8c000f")), srgb8_to_lab(hex_to_srgb8(word.colour))
    assert lighter[0] > plain[0] + 10 and word.phrase == "light crimson"
    assert len(colours.vocabulary()) > 850


def test_mood_words_pick_one_grade_and_no_mood_means_no_grade():
    assert mood.grade_for("night, blue moonlight")[0].name == "night"
    assert mood.grade_for("a sunny afternoon")[0].name == "sunny"
    expected = {"dusk": "dusk", "golden hour glow": "golden hour", "overcast sky": "overcast", "noon": "sunny",
                "neon signs": "neon", "by candlelight": "candlelight", "film noir": "noir", "black and white": "noir",
                "old sepia photo": "sepia"}
    assert {prompt: mood.grade_for(prompt)[0].name for prompt in expected} == expected
    grade, understood, ignored = mood.grade_for("noir alley at dusk")
    assert grade.name == "noir" and understood == ["noir → grade noir"]
    assert '"dusk" in the prompt (one grade per take: noir)' in ignored
    assert mood.grade_for("a wide shot")[0] is None


def test_night_is_darker_and_bluer_than_sunny():
    frame = np.random.default_rng(0).integers(40, 220, (16, 16, 3)).astype(np.uint8)
    night, sunny = mood.GRADES["night"].apply(frame), mood.GRADES["sunny"].apply(frame)
    blue = lambda f: (f[..., 2] / np.maximum(f.sum(-1), 1)).mean()  # noqa: E731
    assert night.mean() < 0.6 * sunny.mean() and blue(night) > blue(sunny) + 0.05
    noir = mood.GRADES["noir"].apply(frame)
    assert np.abs(noir.astype(int) - noir[..., :1]).max() <= 1  # black and white


def test_dominant_colours_and_transfer_toward_a_reference():
    reference = np.zeros((40, 60, 3), np.uint8)
    reference[:, :40], reference[:, 40:] = (20, 120, 160), (230, 140, 40)
    colours_found = palette.dominant_colours(Image.fromarray(reference))
    assert np.abs(colours_found[0][0].astype(int) - (20, 120, 160)).max() <= 3
    assert colours_found[0][1] == pytest.approx(2 / 3, abs=0.05)
    rng = np.random.default_rng(1)
    warm = np.clip(rng.normal((200, 120, 60), 20, (40, 60, 3)), 0, 255).astype(np.uint8)
    frames = np.clip(rng.normal((90, 120, 170), 30, (2, 20, 30, 3)), 0, 255).astype(np.uint8)
    moved = np.stack([palette.transfer(f, palette.take_statistics(frames),
                                       palette.lab_statistics(Image.fromarray(warm))) for f in frames])
    assert measure.palette_distance(moved, warm) < 0.25 * measure.palette_distance(frames, warm)
    assert measure.lab_histogram_distance(reference, reference) == pytest.approx(0, abs=1e-6)


def test_transfer_lends_the_references_shadow_and_highlight_colours_smoothly():
    # A dusk reference: deep blue darks, orange lights. A take of one grey-violet wall lit from
    # one side (one colour, a smooth lightness ramp): a mean and a spread cannot split it.
    reference = np.zeros((40, 60, 3), np.uint8)
    reference[:20], reference[20:] = (30, 40, 110), (245, 150, 60)
    ramp = np.linspace(0, 1, 256)[None, :, None]
    take = np.clip(np.array([70, 62, 80]) + ramp * np.array([110, 100, 120]), 0, 255).astype(np.uint8)
    take = np.repeat(take, 8, axis=0)[None]
    statistics = palette.take_statistics(take, stride=1), palette.lab_statistics(Image.fromarray(reference))
    moved = srgb8_to_lab(palette.transfer(take[0], *statistics))[0]
    assert moved[:64, 2].mean() < -15 and moved[-64:, 2].mean() > 25      # blue shadows, warm lights
    step = measure.delta_e76(moved[1:], moved[:-1]).max()
    assert step < 6, step             # no band: neighbouring 8-bit steps stay close (matching histograms jumps ~100)
    plain = np.stack([palette.transfer(take[0], palette.take_statistics(take, stride=1), statistics[1])])
    assert measure.palette_distance(plain, reference) < 0.5 * measure.palette_distance(take, reference)


def test_albedo_reads_back_through_take_over_clay():
    rng = np.random.default_rng(2)
    clay = rng.integers(40, 180, (2, 12, 12, 3)).astype(np.uint8)
    ids = np.zeros((2, 12, 12), np.int64)
    ids[:, :, 6:] = 1
    named = "#b3261e"
    ratio = measure.albedo_to_ratio(appearance.srgb_to_linear(hex_to_srgb8(named)))
    take = appearance.compose(clay, ids, {1: ratio})
    albedos = measure.object_albedos(take, clay, ids, ["Coat"])
    assert list(albedos) == ["Coat"]
    assert measure.delta_e76(albedos["Coat"], srgb8_to_lab(hex_to_srgb8(named))) < 2.0


def test_plan_locked_then_words_then_model_and_independent_of_the_shot():
    anna = {"name": "Anna", "role": "actor", "objects": ["Anna_body", "Anna_hat"], "colors": {"Anna_hat": "#00ff00"},
            "description": "a woman in a long red coat"}
    ben = {"name": "Ben", "role": "actor", "objects": ["Ben"], "description": "a man in a blue jacket and a green cap",
           "look_seed": 9}
    cast = cast_of(anna, ben)
    names = ["Anna_body", "Anna_hat", "Ben", "Floor"]
    looks = plan.plan_looks(cast, names, take_seed=4)
    assert {n: (looks.objects[n].colour, looks.objects[n].source) for n in names} == {
        "Anna_body": ("#e50000", "description"), "Anna_hat": ("#00ff00", "locked"),
        "Ben": ("#0343df", "description"), "Floor": (None, "model")}
    assert looks.objects["Ben"].look_seed == 9 and looks.objects["Floor"].look_seed == 4
    assert "red → Anna (coat)" in looks.understood and "locked #00ff00 → Anna_hat" in looks.understood
    assert any('"green"' in entry for entry in looks.ignored)
    assert looks.known() == [("Anna_body", "actor", "#e50000"), ("Anna_hat", "actor", "#00ff00"),
                             ("Ben", "actor", "#0343df")]
    assert plan.object_seed(4, "Floor") == plan.object_seed(4, "Floor") != plan.object_seed(5, "Floor")


def test_shot_reference_palette_is_drawn_per_object_name():
    reference = Image.fromarray(np.tile(np.array([[[200, 60, 20]], [[20, 60, 200]]], np.uint8), (20, 40, 1)))
    names = [f"Prop {k}" for k in range(8)]
    first = plan.plan_looks(Cast(), names, 1, shot_reference=reference)
    reordered = plan.plan_looks(Cast(), names[::-1][:5], 1, shot_reference=reference)
    assert all(first.objects[n].colour == reordered.objects[n].colour for n in reordered.objects)
    assert {look.source for look in first.objects.values()} == {"shot reference"}
    assert len({look.colour for look in first.objects.values()}) == 2


def test_cast_problems_name_the_member_and_what_to_do():
    cast = cast_of({"name": "Anna", "role": "actor", "objects": ["Anna_body"], "colors": {"Anna_body": "#ff0000"}},
                   {"name": "Ben", "role": "actor", "objects": ["Ben"], "description": "red shirt"})
    problems = plan.check_cast(cast, ["Floor"])
    assert len(problems) == 2 and "'Anna' locks a colour for 'Anna_body'" in problems[0]
    assert "'Ben'" in problems[1] and "Cast panel" in problems[1]
    assert plan.check_cast(cast, []) == [] and plan.check_cast(cast, ["Anna_body", "Ben"]) == []


def _png_claiming(width, height):
    """A small file whose PNG header claims width x height (no real pixels)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


def test_reference_images_missing_corrupt_huge_or_wrong_format_are_refused(tmp_path):
    good = tmp_path / "good.png"
    Image.new("RGB", (8, 6), (10, 20, 30)).save(good)
    assert references.load_reference(good, "--reference FILE").size == (8, 6)
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "huge.png").write_bytes(_png_claiming(10000, 8000))
    Image.new("RGB", (8, 6)).save(tmp_path / "pic.bmp")
    cases = {"missing.png": "does not exist", "corrupt.png": "not a readable PNG or JPEG",
             "huge.png": r"\(80 MP\), more than 50 MP", "pic.bmp": "not PNG or JPEG"}
    for name, words in cases.items():
        with pytest.raises(references.ReferenceImageError, match=words) as caught:
            references.load_reference(tmp_path / name, "--reference FILE")
        assert str(caught.value).startswith("--reference FILE: ") and "\n" not in str(caught.value)


def test_lab_round_trip():
    rgb = np.random.default_rng(3).integers(0, 256, (50, 3)).astype(np.uint8)
    assert np.abs(lab_to_srgb8(srgb8_to_lab(rgb)).astype(int) - rgb).max() <= 1
