"""take.json as one record both sides import: the engine writes a TakeRecord, the add-on (in
Blender's Python) reads the same file through the same TakeRecord and gets identical JSON back;
old takes still read, unknown keys survive, damaged ones say which file and field."""

import copy
import json
import subprocess

import pytest
from conftest import BLENDER_PYTHON, REPO_ROOT, read_frames

from engine.bundle.take_record import TakeRecord, TakeRecordError, read_take

# What the add-on does with a take folder: read its record, give its strip the record's
# properties, and write the record back as JSON (run in the Blender venv, bpy imported).
ADDON_READS = """
import json, sys
sys.path.insert(0, sys.argv[1] + "/scripts")
from blockcast_import import import_blockcast
blockcast = import_blockcast()
from blockcast.engine.bundle.take_record import read_take
from blockcast.addon.strip_layout import take_properties
record = read_take(sys.argv[2])
print(json.dumps({"text": record.dumps(), "properties": take_properties(record, sys.argv[2], "A"),
                  "range": record.bundle.frame_range(), "look": record.recorded_look().objects}))
"""

# take.json as the first engine wrote it: no composed prompt, look, notes or references.
OLD_TAKE = {
    "schema": "blockcast.take", "schema_version": "1.0", "take": "take-002-animatediff-s7", "status": "complete",
    "created": "2026-11-24T10:00:00+00:00", "backend": "animatediff",
    "models": {"base": {"source": "/m/sd15", "path": "/m/sd15", "revision": "abc"}},
    "prompt": "a kite", "negative_prompt": "blur", "seed": 7,
    "parameters": {"steps": 9, "guidance": 7.5, "controls": {"depth": 0.8}, "requested_size": [64, 36],
                   "generation_size": [64, 36], "model_frames": 16, "windows": [[0, 16]], "init_video": None,
                   "strength": None, "device": "cuda", "offload": False, "vae_tiling": False, "vae_slicing": False,
                   "backend_settings": {"dtype": "float16"}},
    "bundle": {"path": "/b/001", "hash": "00ff", "shot": "A", "frames": [11, 13], "frame_count": 3,
               "resolution": [64, 36], "fps": 24.0},
    "frames": ["frames/0011.png", "frames/0012.png", "frames/0013.png"], "preview": "preview.mp4",
    "engine": {"engine": "0.1.0"}, "device": {"kind": "cuda", "name": "NVIDIA"},
    "timings": {"load_s": 1.0, "controls_s": 0.1, "generate_s": 2.0, "write_s": 0.2, "steps": 9, "per_step_s": 0.2},
}


@pytest.fixture(scope="module")
def engine_take(previz_shots, tmp_path_factory, engine_main_module):
    out = tmp_path_factory.mktemp("takes")
    code, _ = engine_main_module("generate", previz_shots[0], "--out", out, "--seed", "3", "--steps", "1",
                                 "--device", "cpu", "--prompt", "a night scene")
    assert code == 0
    return out / "take-001-previz-s3"


def test_a_take_the_engine_wrote_reads_back_to_identical_json(engine_take):
    text = (engine_take / "take.json").read_text(encoding="utf-8")
    record = read_take(engine_take)
    assert record.dumps() == text and list(record.to_json()) == list(json.loads(text))
    assert (record.take, record.seed, record.parameters.steps, record.bundle.frame_count) == (
        "take-001-previz-s3", 3, 1, len(record.frames))
    assert record.look is not None and record.grade == "night" and record.extra == {}


def test_the_add_on_reads_the_engines_take_through_the_same_record(engine_take):
    if not BLENDER_PYTHON.exists():
        pytest.skip("needs the Blender venv: scripts/setup_env.sh blender")
    result = subprocess.run([str(BLENDER_PYTHON), "-c", ADDON_READS, str(REPO_ROOT), str(engine_take)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    record = read_take(engine_take)
    assert seen["text"] == (engine_take / "take.json").read_text(encoding="utf-8")
    assert seen["properties"]["blockcast_take"] == record.take and seen["properties"]["blockcast_seed"] == 3
    assert seen["properties"]["blockcast_bundle"] == record.bundle.path
    assert seen["range"] == list(record.bundle.frame_range()) and seen["look"] == record.look.objects


def test_an_old_take_without_look_fields_reads_with_defaults():
    record = TakeRecord.from_json(copy.deepcopy(OLD_TAKE))
    assert (record.look, record.understood, record.ignored, record.references, record.shot_reference) == (
        None, [], [], {}, None)
    assert record.models["base"].revision == "abc" and record.parameters.controls == {"depth": 0.8}
    assert record.bundle.frame_range() == (11, 13) and record.device.name == "NVIDIA"
    with pytest.raises(TakeRecordError, match=r"take 'take-002-animatediff-s7' records no look \(made by an older "
                                              r"engine\): generate a new take to lock its look"):
        record.recorded_look()
    written = record.to_json()
    assert {key: written[key] for key in OLD_TAKE} == OLD_TAKE  # what it had comes back unchanged
    assert record.continued_from is None and "continued_from" not in written and record.request().continue_from is None


def test_a_continued_take_records_what_it_continued_from_and_regenerate_asks_it_again(tmp_path):
    """1.1's continued_from: the --continue-from folder as asked and the frames carried; its request
    (Regenerate) continues from the same folder."""
    document = copy.deepcopy(OLD_TAKE)
    document.update(schema_version="1.1", continued_from={"take": "/takes/A/take-001-wan-vace-s0", "frames": 5})
    (tmp_path / "take.json").write_text(json.dumps(document, indent=1))
    record = read_take(tmp_path)
    assert (record.continued_from.take, record.continued_from.frames) == ("/takes/A/take-001-wan-vace-s0", 5)
    written = record.to_json()
    assert {key: written[key] for key in document} == document
    assert record.request(seed=8).continue_from == "/takes/A/take-001-wan-vace-s0"
    document["continued_from"]["frames"] = "five"
    with pytest.raises(TakeRecordError, match=r"continued_from.frames should be a whole number, not 'five'"):
        TakeRecord.from_json(document)
    with pytest.raises(TakeRecordError, match=r"continued_from.take is missing"):
        TakeRecord.from_json({**document, "continued_from": {"frames": 5}})


def test_keys_a_newer_engine_added_are_kept_in_place_of_nothing():
    document = copy.deepcopy(OLD_TAKE)
    document["parameters"]["cfg_rescale"] = 0.7
    document["takes_total"] = 4
    document["models"]["base"]["dtype"] = "bf16"
    written = TakeRecord.from_json(document).to_json()
    assert written["parameters"]["cfg_rescale"] == 0.7 and written["takes_total"] == 4
    assert written["models"]["base"]["dtype"] == "bf16"


@pytest.mark.parametrize("damage, message", [
    (lambda d: d.update(schema="blockcast.bundle"), r"is not a Blockcast take record \(schema 'blockcast.bundle'\)"),
    (lambda d: d.update(frames=[]), r"is not a Blockcast take record"),
    (lambda d: d.update(schema_version="2.0"), r"version '2.0'.*update Blockcast"),
    (lambda d: d["parameters"].update(steps="nine"), r"parameters.steps should be a whole number, not 'nine'"),
    (lambda d: d["bundle"].update(frames=[11]), r"bundle.frames should be two whole numbers"),
    (lambda d: d["bundle"].pop("path"), r"bundle.path is missing"),
    (lambda d: d.update(seed=True), r"seed should be a whole number, not True"),
    (lambda d: d.update(look={"look_seed": 1, "objects": {"Floor": 3}}), r"look.objects should be"),
    (lambda d: d["models"].update(base="/m/sd15"), r"models.base should be an object"),
])
def test_a_damaged_record_names_the_file_and_the_field(tmp_path, damage, message):
    document = copy.deepcopy(OLD_TAKE)
    damage(document)
    (tmp_path / "take.json").write_text(json.dumps(document))
    with pytest.raises(TakeRecordError, match=message) as caught:
        read_take(tmp_path)
    assert str(tmp_path / "take.json") in str(caught.value)


def test_a_missing_or_unparsable_take_json_says_the_folder_is_damaged(tmp_path):
    with pytest.raises(TakeRecordError, match="cannot be read .*: the take folder is damaged or was moved"):
        read_take(tmp_path)
    (tmp_path / "take.json").write_text("{")
    with pytest.raises(TakeRecordError, match="cannot be read"):
        read_take(tmp_path)


def test_a_takes_request_makes_the_same_take_again(engine_take, engine_main_module, tmp_path):
    record = read_take(engine_take)
    request = record.request()
    assert (request.backend, request.prompt, request.seed, request.takes, request.steps, request.device) == (
        "previz", "a night scene", 3, 1, 1, "cpu")
    code, _ = engine_main_module(*request.to_arguments(record.bundle.path, tmp_path))
    assert code == 0
    again = tmp_path / "take-001-previz-s3"
    assert read_frames(again).keys() == read_frames(engine_take).keys()
    assert all((read_frames(again)[name] == frame).all() for name, frame in read_frames(engine_take).items())
    assert read_take(again).parameters == record.parameters


def test_a_request_from_an_old_take_with_a_new_seed_and_the_kept_shot_reference(tmp_path):
    document = copy.deepcopy(OLD_TAKE)
    document["parameters"].update(init_video="shading", strength=0.4)
    record = TakeRecord.from_json(document)
    request = record.request(seed=11, device="auto", take_dir=tmp_path)
    assert (request.backend, request.prompt, request.negative_prompt, request.seed, request.takes) == (
        "animatediff", "a kite", "blur", 11, 1)
    assert (request.steps, request.size, request.controls, request.models, request.device) == (
        9, (64, 36), {"depth": 0.8}, {"base": "/m/sd15"}, "auto")
    assert (request.init_video, request.strength, request.guidance, request.reference) == ("shading", 0.4, None, None)
    (tmp_path / "reference.png").write_bytes(b"\x89PNG")  # the copy the engine kept of the shot's reference
    assert record.request(take_dir=tmp_path).reference == str(tmp_path / "reference.png")
    assert TakeRecord.from_json(OLD_TAKE).request().device == "cuda"  # the device the take asked for
