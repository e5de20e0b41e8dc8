"""The previz backend keeps every object's look across shots and follows the cast's words,
the prompt's mood and a shot reference (real shipped weights, real exported bundles).

The shots are two held-out scenes of the previz dataset generator: different cameras,
framing and object placement, sharing object names (Actor 0_body, Floor, Back wall,
Prop 0, Prop 1), so they stand in for two shots of one scene.
"""

import json
import shutil

import numpy as np
import pytest
from conftest import read_frames
from PIL import Image
from test_looks import _png_claiming

from engine.bundle import read_bundle
from engine.bundle.request import GenerateRequest
from engine.generate import Generation
from engine.looks.colour_space import hex_to_srgb8, srgb8_to_lab
from engine.looks.measure import delta_e76, object_albedos, palette_distance

STEPS = ("--steps", "3")
ACTOR = "Actor 0_body"
NAMED = {"red": "#e50000", "orange": "#f97306", "yellow": "#ffff14", "green": "#15b01a", "teal": "#029386",
         "blue": "#0343df", "purple": "#7e1e9c", "pink": "#ff81c0"}


class Silent:
    def emit(self, event, **fields):
        pass

    def check(self):
        pass



def with_cast(bundle, folder, members, look_seed=None, files=None):
    """A copy of `bundle` at `folder` whose bundle.json carries this cast (schema 1.2)."""
    shutil.copytree(bundle, folder)
    manifest = json.loads((folder / "bundle.json").read_text())
    manifest["schema_version"] = "1.2"
    manifest["cast"] = {"look_seed": look_seed, "members": members}
    (folder / "bundle.json").write_text(json.dumps(manifest))
    for relative, image in (files or {}).items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        image.save(folder / relative)
    return folder


def anna(description="", **fields):
    return {"name": "Anna", "role": "actor", "objects": [ACTOR], "description": description, **fields}


def albedos(take, bundle_dir):
    bundle = read_bundle(bundle_dir)
    frames = np.stack(list(read_frames(take).values()))
    clay = np.stack([bundle.shading(f)[..., :3] for f in bundle.frames])
    ids = np.stack([bundle.object_index(f) for f in bundle.frames])
    return object_albedos(frames, clay, ids, bundle.object_names())


def generate(bundle, out, seed=0, takes=1, **options):
    return Generation(GenerateRequest(seed=seed, takes=takes, steps=3, **options), bundle, out,
                      Silent(), Silent()).run()


def test_same_look_seed_same_albedo_in_two_shots_whatever_the_take_seed(previz_shots, tmp_path):
    members = [anna("a woman in a long red coat"), {"name": "Crate", "role": "prop", "objects": ["Prop 0"]}]
    first = with_cast(previz_shots[0], tmp_path / "shot", members, look_seed=11)
    reverse = with_cast(previz_shots[1], tmp_path / "reverse", members, look_seed=11)
    (take_a,) = generate(reverse, tmp_path / "takes", seed=2)   # the reverse first: order does not matter
    (take_b,) = generate(first, tmp_path / "takes", seed=7)
    look_a = json.loads((take_a / "take.json").read_text())["look"]
    look_b = json.loads((take_b / "take.json").read_text())["look"]
    assert look_a["look_seed"] == look_b["look_seed"] == 11
    shared = sorted(set(look_a["objects"]) & set(look_b["objects"]))
    assert {ACTOR, "Floor", "Back wall", "Prop 0", "Prop 1"} <= set(shared)
    assert all(look_a["objects"][name] == look_b["objects"][name] for name in shared)
    measured_a, measured_b = albedos(take_a, reverse), albedos(take_b, first)
    both = [name for name in shared if name in measured_a and name in measured_b]
    differences = {name: float(delta_e76(measured_a[name], measured_b[name])) for name in both}
    assert len(both) >= 4 and max(differences.values()) <= 5.0, differences
    other = with_cast(previz_shots[0], tmp_path / "other-seed", members, look_seed=12)
    (take_c,) = generate(other, tmp_path / "takes", seed=7)
    look_c = json.loads((take_c / "take.json").read_text())["look"]["objects"]
    assert look_c[ACTOR] == "#e50000" and look_c["Floor"] != look_b["objects"]["Floor"]


def test_colour_words_on_an_actor_come_out_as_named(previz_shots, tmp_path):
    named_labs = {name: srgb8_to_lab(hex_to_srgb8(colour)) for name, colour in NAMED.items()}
    hits, cases = 0, []
    for word in NAMED:
        bundle = with_cast(previz_shots[0], tmp_path / word, [anna(f"a woman in a long {word} coat")])
        for take in generate(bundle, tmp_path / f"takes-{word}", seed=0, takes=4):
            measured = albedos(take, bundle)[ACTOR]
            nearest = min(named_labs, key=lambda name: delta_e76(measured, named_labs[name]))
            hits += nearest == word
            cases.append((word, nearest))
    assert len(cases) == 32 and hits / len(cases) >= 0.9, cases


def test_night_is_darker_and_bluer_than_sunny_and_no_mood_is_todays_take(previz_shots, tmp_path, engine_main):
    frames = {}
    for name, prompt in (("none", ""), ("words", "a wide shot of them"), ("night", "night, blue moonlight"),
                         ("sunny", "sunny afternoon")):
        code, _ = engine_main("generate", previz_shots[0], "--out", tmp_path / name, "--seed", "4", "--prompt", prompt, *STEPS)
        assert code == 0
        take = tmp_path / name / "take-001-previz-s4"
        frames[name] = np.stack(list(read_frames(take).values())).astype(np.float64)
        record = json.loads((take / "take.json").read_text())
        assert record["grade"] == {"none": None, "words": None, "night": "night", "sunny": "sunny"}[name]
    assert np.array_equal(frames["none"], frames["words"])
    blue = {name: (f[..., 2] / np.maximum(f.sum(-1), 1)).mean() for name, f in frames.items()}
    assert frames["night"].mean() < 0.7 * frames["sunny"].mean() and blue["night"] > blue["sunny"] + 0.03


def test_a_shot_reference_halves_the_palette_distance(previz_shots, tmp_path, engine_main):
    rng = np.random.default_rng(5)
    reference = np.zeros((60, 90, 3))
    reference[:, :50], reference[:, 50:] = (35, 110, 120), (210, 120, 50)   # teal and orange
    reference = np.clip(reference + rng.normal(0, 12, reference.shape), 0, 255).astype(np.uint8)
    Image.fromarray(reference).save(tmp_path / "ref.png")
    distances = {}
    for name, extra in (("plain", ()), ("referenced", ("--reference", tmp_path / "ref.png"))):
        code, _ = engine_main("generate", previz_shots[0], "--out", tmp_path / name, "--seed", "1", *extra, *STEPS)
        assert code == 0
        take = tmp_path / name / "take-001-previz-s1"
        distances[name] = palette_distance(np.stack(list(read_frames(take).values())), reference)
    record = json.loads((tmp_path / "referenced" / "take-001-previz-s1" / "take.json").read_text())
    assert record["shot_reference"]["file"] == "reference.png"
    assert (tmp_path / "referenced" / "take-001-previz-s1" / "reference.png").is_file()
    assert any(entry.startswith("shot reference → palette") for entry in record["understood"])
    assert distances["referenced"] <= 0.5 * distances["plain"], distances


def test_take_records_what_was_understood_and_ignored(previz_shots, tmp_path, engine_main):
    portrait = Image.new("RGB", (40, 60), (30, 160, 60))
    bundle = with_cast(previz_shots[1], tmp_path / "b", [
        anna("a woman in a long red coat with a bun"),
        {"name": "Bo", "role": "actor", "objects": ["Actor 1_body"], "references": ["cast/bo.png"]},
        {"name": "Crate", "role": "prop", "objects": ["Prop 0"], "colors": {"Prop 0": "#123456"}}],
        files={"cast/bo.png": portrait})
    code, _ = engine_main("generate", bundle, "--out", tmp_path / "t", "--prompt", "night",
                          "--negative-prompt", "blurry", *STEPS)
    assert code == 0
    record = json.loads((tmp_path / "t" / "take-001-previz-s0" / "take.json").read_text())
    assert record["look"]["objects"][ACTOR] == "#e50000" and record["look"]["objects"]["Prop 0"] == "#123456"
    assert np.abs(hex_to_srgb8(record["look"]["objects"]["Actor 1_body"]).astype(int) - (30, 160, 60)).max() <= 3
    assert {"red → Anna (coat)", "night → grade night", "locked #123456 → Prop 0", "reference → Bo"} <= set(
        record["understood"])
    assert '"woman", "long", "bun" in Anna\'s description' in record["ignored"]
    assert "negative prompt (previz does not use it)" in record["ignored"]
    assert record["references"] == {"Bo": ["cast/bo.png"]} and record["grade"] == "night"


@pytest.mark.parametrize("problem", ["missing", "corrupt", "huge", "locked", "member-reference"])
def test_bad_cast_input_is_refused_before_any_model_loads(previz_shots, tmp_path, engine_main, problem):
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (tmp_path / "huge.png").write_bytes(_png_claiming(9000, 6000))
    members, extra = [anna("red coat")], []
    if problem in ("missing", "corrupt", "huge"):
        extra = ["--reference", tmp_path / f"{problem}.png"]
    elif problem == "locked":
        members.append({"name": "Cup", "role": "prop", "objects": ["Cup"], "colors": {"Cup": "#ffffff"}})
    else:
        members[0]["references"] = ["cast/anna.png"]
    bundle = with_cast(previz_shots[0], tmp_path / "b", members)
    code, events = engine_main("generate", bundle, "--out", tmp_path / "takes", *extra, *STEPS)
    assert code == 1 and not any(event["event"] == "load" for event in events)
    message = events[-1]["message"]
    expected = {"missing": "--reference FILE", "corrupt": "not a readable PNG", "huge": "more than 50 MP",
                "locked": "locks a colour for 'Cup'", "member-reference": "reference cast/anna.png is missing"}[problem]
    assert expected in message and (problem == "member-reference" or "\n" not in message)  # the bundle check lists
    assert not (tmp_path / "takes").exists()  # nothing written


def test_backends_json_lists_what_each_backend_ignores(engine_main, capsys):
    from engine.cli import main

    assert main(["backends", "--json"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)["backends"]}
    assert listed["previz"]["ignores"] == ["negative_prompt", "guidance"]
    assert all(isinstance(entry["ignores"], list) for entry in listed.values())
