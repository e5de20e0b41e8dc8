"""The generate request contract (engine/bundle/request.py) across the rooms: the add-on's
request, built from panel values by the add-on's own bpy-free code, goes through
`to_arguments` and the engine's real parser and comes back the same; every field has one
flag; the farm's command lines spell the contract's flags; a take.json the engine wrote
gives back the request that made it (TakeRecord.request)."""

import importlib
import json
import re
import sys
import types
from dataclasses import fields, replace
from pathlib import Path

import pytest
from conftest import export_demo_bundle, REPO_ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import backends
from engine.bundle.request import FLAGS, MAX_SEED, GenerateRequest, RequestUsageError
from engine.bundle.take_record import read_take
from engine.cli import build_parser


def load_addon_module(name):
    """A bpy-free add-on module (addon/NAME.py) without the add-on's package (whose __init__
    registers the UI with bpy); its `..engine.bundle.request` is this process's engine.bundle.request,
    as in Blender, where the add-on and engine/bundle are one package."""
    for dotted, folder in (("addon_core", REPO_ROOT), ("addon_core.addon", REPO_ROOT / "addon")):
        if dotted not in sys.modules:
            package = types.ModuleType(dotted)
            package.__path__ = [str(folder)]
            sys.modules[dotted] = package
    for module in ("engine", "engine.bundle", "engine.bundle.request"):
        sys.modules.setdefault(f"addon_core.{module}", importlib.import_module(module))
    return importlib.import_module(f"addon_core.addon.{name}")


addon_request = load_addon_module("engine_request")
FIELDS = [f.name for f in fields(GenerateRequest)]


def round_trip(request):
    return GenerateRequest.from_arguments(build_parser().parse_args(request.to_arguments("/b", "/t")))


class PanelSettings(types.SimpleNamespace):
    """A shot's Generate panel settings as scene.blockcast keeps them (addon/ui/properties.py)."""

    def weights(self):
        return dict(self.chosen_weights)


# Text as a user types it: no NUL (never in a command line) and no lone surrogates (not text).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
WEIGHT = st.floats(min_value=0, max_value=10, allow_nan=False)
PATHS = st.from_regex(r"/[A-Za-z0-9_./ =-]{0,30}[A-Za-z0-9_]", fullmatch=True)  # as --model strips them
MODELS = st.dictionaries(st.sampled_from(["base", "pipeline", "motion_adapter", "previz"]), PATHS, max_size=3)
REPORT = {"backends": [
    {"name": "animatediff", "default": False, "controls": ["depth", "pose"], "passes": []},
    {"name": "previz", "default": True, "controls": ["shading", "depth", "normal", "objects"],
     "passes": ["shading", "depth", "normal", "objects"]},
]}


@settings(max_examples=300, deadline=None)
@given(prompt=TEXT, negative=TEXT, seed=st.integers(0, MAX_SEED), takes=st.integers(1, 50),
       steps=st.integers(0, 200), long_side=st.sampled_from([0, 64, 96, 512, 1280]),
       weights=st.dictionaries(st.sampled_from(["depth", "pose"]), WEIGHT, max_size=2),
       backend=st.sampled_from(["", "previz", "animatediff", "wan-vace"]), report=st.sampled_from([None, REPORT]),
       device=st.sampled_from(["auto", "cpu", "cuda"]), shot=st.sampled_from([(512, 288), (288, 512), (128, 72)]),
       models=MODELS, reference=st.sampled_from(["", "/refs/mood board.png", "/refs/-dash.jpg"]),
       depth_of_field=st.booleans(), motion_blur=st.booleans())
def test_the_addons_request_comes_back_through_the_engines_parser(prompt, negative, seed, takes, steps, long_side,
                                                                 weights, backend, report, device, shot, models,
                                                                 reference, depth_of_field, motion_blur):
    settings_ = PanelSettings(prompt=prompt, negative_prompt=negative, seed=seed, takes=takes, steps=steps,
                              long_side=long_side, chosen_weights=weights, depth_of_field=depth_of_field,
                              motion_blur=motion_blur)
    request = addon_request.shot_request(settings_, report, backend, device, shot, models, reference)
    assert round_trip(request) == request
    arguments = request.to_arguments("/b", "/t")  # a cleared checkbox is its flag, a ticked one the default
    assert ("--depth-of-field=off" in arguments) == (not depth_of_field)
    assert ("--motion-blur=off" in arguments) == (not motion_blur)


@settings(max_examples=200, deadline=None)
@given(st.builds(
    GenerateRequest, backend=st.sampled_from(["", *backends.names()]), prompt=TEXT, negative_prompt=TEXT,
    seed=st.integers(0, MAX_SEED), takes=st.integers(1, 9), steps=st.none() | st.integers(1, 99),
    guidance=st.none() | st.floats(0, 30), size=st.none() | st.tuples(st.integers(1, 4096), st.integers(1, 4096)),
    controls=st.none() | st.dictionaries(st.sampled_from(["depth", "pose", "camera", "shading"]), WEIGHT,
                                         min_size=1, max_size=4),
    device=st.sampled_from(["auto", "cpu", "cuda"]), models=MODELS, reference=st.none() | PATHS,
    init_video=st.sampled_from([None, "shading"]), strength=st.floats(0.01, 1), offload=st.booleans(),
    vae_tiling=st.booleans(), vae_slicing=st.booleans(), actor_prompts=st.booleans(),
    depth_of_field=st.sampled_from(["camera", "off"]), motion_blur=st.sampled_from(["scene", "off"])))
def test_every_field_comes_back_through_the_engines_parser(asked):
    assert round_trip(asked) == asked
    try:
        asked.check()
    except RequestUsageError:
        return  # the parser reads what check() later refuses; a JSON document is checked at once
    assert GenerateRequest.from_json(json.loads(json.dumps(asked.to_json()))) == asked  # as a service stores it


@pytest.mark.parametrize("document, words", [
    ({"seed": "1"}, "seed is '1', not int"), ({"offload": 1}, "offload is 1, not bool"),
    ({"size": [64]}, "[width, height]"), ({"controls": {"depth": "1"}}, "controls must map names to weights"),
    ({"negative": "x"}, "unknown generate request field(s) negative"), ({"takes": 0}, "--takes and --steps"),
    ({"depth_of_field": True}, "depth_of_field is True, not str"),
    ({"motion_blur": "camera"}, "--depth-of-field takes camera or off and --motion-blur scene or off"),
])
def test_a_request_document_is_checked_field_by_field(document, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        GenerateRequest.from_json(document)


def test_every_field_has_one_flag_and_the_parser_declares_them_all():
    assert sorted(flag.field for flag in FLAGS) == sorted(FIELDS)
    generate = build_parser()._subparsers._group_actions[0].choices["generate"]
    declared = {option: action.dest for action in generate._actions for option in action.option_strings}
    assert {flag.flag: flag.field for flag in FLAGS}.items() <= declared.items()
    spelled = {flag.flag for flag in FLAGS} | {old for flag in FLAGS for old in flag.deprecated}
    assert set(declared) - spelled == {"-h", "--help", "--out", "--cancel-file"}  # the contract's flags, where and how to stop


def test_the_old_negative_flag_still_works_but_is_not_offered(capsys):
    parser = build_parser()
    old = GenerateRequest.from_arguments(parser.parse_args(["generate", "/b", "--out", "/t", "--negative", "blur"]))
    assert old == GenerateRequest(negative_prompt="blur")
    with pytest.raises(SystemExit):
        parser.parse_args(["generate", "--help"])
    shown = capsys.readouterr().out
    assert "--negative-prompt" in shown and not re.search(r"--negative\b(?!-)", shown)


def test_defaults_leave_the_choice_to_the_engine():
    assert GenerateRequest().to_arguments("/b", "/t") == ["generate", "/b", "--out=/t"]
    assert round_trip(GenerateRequest()) == GenerateRequest()
    assert GenerateRequest().backend_name == backends.DEFAULT_BACKEND == "previz"


@pytest.mark.parametrize("changes, words", [
    ({"takes": 0}, "--takes and --steps must be at least 1"),
    ({"steps": 0}, "--takes and --steps must be at least 1"),
    ({"seed": MAX_SEED, "takes": 2}, f"seeds (take k uses --seed + k) run from 0 to {MAX_SEED}"),
    ({"strength": 0}, "--strength 0 is outside (0, 1]"),
    ({"guidance": float("nan")}, "--guidance nan must be a number from 0 up"),
])
def test_values_wrong_whatever_the_bundle_are_refused_in_the_clis_words(changes, words):
    with pytest.raises(RequestUsageError) as refused:
        GenerateRequest(**changes).check()
    assert words in str(refused.value)


def _generate_flags(command):
    """The `--flag` names of a command line written as a list of strings (`--flag=VALUE` or `--flag`)."""
    return {re.match(r"--[a-z-]+", arg).group() for arg in command if isinstance(arg, str) and arg.startswith("--")}


def test_the_farm_spells_the_contracts_flags():
    """farm_generate takes the request's fields under the contract's flags (plus its own task
    flags); the OpenJD template and the Flamenco job type call it with exactly those."""
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    import farm_generate

    contract = {flag.flag for flag in FLAGS}
    own = {"--out", "--first-take", "--takes-per-task", "--prompt-json", "--models"}  # the task's, not a request's
    parser = farm_generate.build_parser()
    task_flags = {option for action in parser._actions for option in action.option_strings} - {"-h", "--help"}
    fields_by_flag = {flag.flag: flag.field for flag in FLAGS}
    assert all(fields_by_flag[option] == action.dest for action in parser._actions for option in action.option_strings
               if option in contract)
    assert task_flags - contract == own

    from farm.job import FarmJob, FarmShot
    from farm.openjd import build_template

    template = build_template(FarmJob(name="j", scene="S", shots=[FarmShot("a", 1, 2), FarmShot("b", 3, 4, "p", 7)]))
    (step,) = [step for step in template["steps"] if step["name"] == "GenerateTakes"]
    # The seed and prompt arguments are per-shot task parameters (a shot's own, else the job's).
    per_shot = [value for parameter in step["parameterSpace"]["taskParameterDefinitions"]
                if parameter["name"] in ("SeedArgument", "PromptArgument") for value in parameter["range"]]
    assert _generate_flags(step["script"]["actions"]["onRun"]["args"] + per_shot) == task_flags
    script = (REPO_ROOT / "farm" / "flamenco" / "blockcast.js").read_text()
    call = script[script.index('"farm_generate.py")'):]
    call = call[:call.index("}));")]
    assert set(re.findall(r"(--[a-z-]+)[=\"`]", call)) == task_flags - {"--prompt"}  # its prompt goes as JSON

    args = farm_generate.build_parser().parse_args([
        "/b", "--out", "/t", "--first-take", "1", "--takes-per-task", "2", "--takes", "4", "--seed=5",
        "--prompt-json", '"-a kite"', "--steps=0", "--size=64x36", "--models=base = /m/sd15;vae=x/y", "--device=cpu"])
    command = farm_generate.engine_args(args, "/t/b", [6, 7])
    assert GenerateRequest.from_arguments(build_parser().parse_args(command)) == GenerateRequest(
        backend=backends.DEFAULT_BACKEND, prompt="-a kite", seed=6, takes=2, size=(64, 36), device="cpu",
        models={"base": "/m/sd15", "vae": "x/y"})


def test_docs_list_every_flag():
    """docs/engine.md's table of the request's flags has a row per field."""
    table = (REPO_ROOT / "docs" / "engine.md").read_text()
    assert all(f"`{flag.field}`" in table and flag.flag in table for flag in FLAGS)


@pytest.fixture(scope="module")
def two_frames(demo_blend, tmp_path_factory):
    """Frames 1-2 with the passes previz needs and AnimateDiff's init video reads."""
    return export_demo_bundle(tmp_path_factory, demo_blend,
                              "two", "depth,pose,camera,shading,normal,objects", frames="1-2")


def _asked_take(engine_main, bundle, out, asked):
    code, events = engine_main(*asked.to_arguments(bundle, out))
    assert code == 0, events
    (take,) = [Path(event["path"]) for event in events if event["event"] == "done"]
    return take


def test_a_take_written_by_the_engine_gives_back_the_request_that_made_it(engine_main, two_frames, tmp_path):
    """take.json -> TakeRecord.request(): the same request, its reference the take's kept copy, for
    every field take.json keeps (not guidance, device settings or actor prompts: a new take uses
    the backend's and the defaults)."""
    from PIL import Image

    reference = tmp_path / "mood.png"
    Image.new("RGB", (32, 18), (200, 120, 40)).save(reference)
    previz = backends.create("previz")
    asked = GenerateRequest(backend="previz", prompt="-a kite at dusk", negative_prompt="blurry", seed=5, steps=2,
                            controls=dict(previz.default_weights), size=(64, 36), device="cpu",
                            models={"previz": previz.roles[0].default_id}, reference=str(reference))
    take = _asked_take(engine_main, two_frames, tmp_path / "takes", asked)
    assert read_take(take).request(take_dir=take) == replace(asked, reference=str(take / "reference.png"))
    assert read_take(take).request(seed=9, device="auto") == replace(asked, seed=9, device="auto", reference=None)


def test_an_init_video_take_gives_back_its_strength_and_controls(engine_main, two_frames, tiny_models, tmp_path):
    roles = ("base", "motion_adapter", "controlnet_depth")
    asked = GenerateRequest(backend="animatediff", prompt="a kite", seed=3, steps=2, controls={"depth": 0.7},
                            size=(64, 36), device="cpu", models={role: str(tiny_models[role]) for role in roles},
                            init_video="shading", strength=0.5)
    take = _asked_take(engine_main, two_frames, tmp_path / "takes", asked)
    assert read_take(take).request() == asked
