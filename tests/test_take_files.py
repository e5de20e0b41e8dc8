"""Where takes and bundles go, and seeds: on real bpy with the real engine (previz backend, a
3-frame 64x36 demo shot) in a child process with the built extension installed
(tests/take_files_scenario.py): an unsaved file is refused with nothing written; seeds never
repeat across Generate → New Seed → Generate; an unchanged scene reuses its bundle and an
object moved a millimetre makes a new one; Save As keeps numbering the shot's takes in the same folder. The
folder, seed and fingerprint rules are also tested bpy-free."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_engine_process import load_bpy_free

folders = load_bpy_free("take_folders")
fingerprints = load_bpy_free("scene_fingerprint")
TakeRecord = importlib.import_module("bpy_free.engine.bundle.take_record").TakeRecord  # as the add-on reads it

REPO = Path(__file__).resolve().parents[1]
ENGINE_PYTHON = REPO / ".venv-engine" / "bin" / "python"


# -- bpy-free rules ---------------------------------------------------------------------------

def test_a_scene_keeps_its_project_id_and_old_files_adopt_their_path_hash_folder(tmp_path):
    root = tmp_path / "takes"
    assert folders.project_id(root, "shot-1a2b3c4d", "/p/moved/renamed.blend") == "shot-1a2b3c4d"
    new = folders.project_id(root, None, "/p/shot.blend")
    assert new.startswith("shot-") and len(new) == len("shot-") + 8 and new != folders.project_id(root, None,
                                                                                                   "/p/shot.blend")
    legacy = folders.legacy_project_id("/p/shot.blend")
    (root / legacy / "A").mkdir(parents=True)
    assert folders.project_id(root, None, "/p/shot.blend") == legacy  # takes made before project ids
    assert folders.project_id(root, "../escape", "/p/shot.blend") == legacy  # never a path
    (root / "shot-99999999" / "A" / "take-001-previz-s0").mkdir(parents=True)
    strips = [root / "shot-99999999" / "A" / "take-001-previz-s0" / "take.json", tmp_path / "x" / "y" / "z" / "t"]
    assert folders.project_id(root, None, "/p/shot.blend", strips) == "shot-99999999"  # an id lost to Undo
    assert folders.project_id(root, None, "").startswith("untitled-")


def test_unsaved_files_are_refused_in_the_panels_words(tmp_path):
    assert folders.unsaved_problem("", "", tmp_path) == (
        "the .blend is not saved: Save the .blend first, or set Takes Folder in Blockcast's Preferences")
    assert folders.unsaved_problem("", str(tmp_path), tmp_path) is None  # a folder the artist named
    assert "Takes Folder in Blockcast's Preferences is relative to the .blend (//), which is not saved" in \
        folders.unsaved_problem("", "//takes", Path("takes"))
    assert folders.unsaved_problem("/p/shot.blend", "", tmp_path) is None
    assert folders.output_folder_problem("blockcast/", "").startswith(
        "Output Folder in Shot Export is relative to the .blend (//), which is not saved: Save the .blend first")
    assert "start it with //" in folders.output_folder_problem("out", "/p/shot.blend")
    assert folders.output_folder_problem(str(tmp_path), "") is None


def test_the_seed_field_moves_past_every_used_seed_and_never_back(tmp_path):
    for number, seed in ((1, 0), (2, 7)):
        take = tmp_path / f"take-00{number}-previz-s{seed}"
        take.mkdir()
        record = TakeRecord(take=take.name, seed=seed, backend="previz", frames=["frames/0001.png"])
        (take / "take.json").write_text(record.dumps())
    (tmp_path / ".take-003-previz-s9.partial").mkdir()  # unfinished: no seed used
    assert folders.take_folder_seeds(tmp_path) == {0, 7}
    assert folders.seed_past(2, {0, 7}) == 8 and folders.seed_past(100, {0, 7}) == 100
    assert folders.seed_past(0, []) == 0


def test_fingerprints_are_exact_and_name_the_newest_matching_complete_bundle(tmp_path):
    def digest(*values, array=np.zeros(3, np.float32)):
        fingerprint = fingerprints.Fingerprint()
        for index, value in enumerate(values):
            fingerprint.add(f"v{index}", value)
        fingerprint.add_array("a", array)
        return fingerprint.hexdigest()

    assert digest({"b": 1, "a": 0.1}) == digest({"a": 0.1, "b": 1})
    assert digest(0.1) != digest(0.1 + 1e-17 * 10) and digest(1) != digest("1")
    assert digest(array=np.zeros(3, np.float32)) != digest(array=np.zeros(3, np.float64))
    assert digest(array=np.float32([0, 0, 1e-7])) != digest()
    bundles = tmp_path / "bundles"
    for name in ("001", "002"):
        (bundles / name).mkdir(parents=True)
    (bundles / "002" / "bundle.json").write_text("{}")
    fingerprints.write_fingerprint(bundles / "002", "abc")
    assert fingerprints.read_fingerprint(bundles / "002") == "abc"
    assert fingerprints.read_fingerprint(bundles / "001") is None
    assert fingerprints.matching_bundle(bundles, "abc") is None  # its manifest does not read: exported again
    assert fingerprints.matching_bundle(tmp_path / "none", "abc") is None
    # a real bundle with its fingerprint is reused: the scenario below


def test_code_digest_changes_with_blockcasts_own_source(tmp_path):
    (tmp_path / "export.py").write_text("A = 1\n")
    before = fingerprints.code_digest(tmp_path)
    fingerprints._CODE_DIGESTS.clear()
    (tmp_path / "export.py").write_text("A = 2\n")
    assert fingerprints.code_digest(tmp_path) != before


# -- on real bpy, with the engine -------------------------------------------------------------

@pytest.fixture(scope="module")
def scenario(extension_zip, tmp_path_factory):
    if not ENGINE_PYTHON.exists():
        pytest.skip("needs the engine venv: scripts/setup_env.sh engine")
    pytest.importorskip("bpy")
    work = tmp_path_factory.mktemp("take_files")
    (work / "cwd").mkdir()
    blender = work / "blender"  # the passes export in a background "Blender": this venv's bpy, as artists' would
    blender.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{REPO / "scripts" / "bpy_blender.py"}" "$@"\n')
    blender.chmod(0o755)
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(work / "blender_user"), BLOCKCAST_BLENDER=str(blender))
    result = subprocess.run([sys.executable, str(REPO / "tests" / "take_files_scenario.py"), str(extension_zip),
                             str(REPO), str(work)], capture_output=True, text=True, env=env, cwd=work / "cwd",
                            timeout=1200)
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(lines[0][len("REPORT "):]), result.stdout


@pytest.mark.engine_roundtrip
def test_an_unsaved_file_is_refused_and_nothing_is_written(scenario):
    report, _ = scenario
    assert report["unsaved_generate"] == (
        "Error: the .blend is not saved: Save the .blend first, or set Takes Folder in Blockcast's Preferences\n")
    assert "Output Folder in Shot Export is relative to the .blend (//), which is not saved" in report["unsaved_export"]
    assert report["unsaved_written"] == [] and report["unsaved_project"] is None


@pytest.mark.engine_roundtrip
def test_seeds_never_repeat_across_generate_new_seed_generate(scenario):
    report, _ = scenario
    first, new_seed, second = (report[key] for key in ("generate_1", "new_seed", "generate_2"))
    assert first[0] == new_seed[0] == second[0] == ["FINISHED"]
    assert first[1]["takes"] == [["take-001-previz-s0", 0, "001"]] and first[1]["seed_field"] == 1
    assert new_seed[1]["takes"][-1] == ["take-002-previz-s1", 1, "001"] and new_seed[1]["seed_field"] == 2
    assert second[1]["takes"][-1][:2] == ["take-003-previz-s2", 2] and second[1]["seed_field"] == 3


@pytest.mark.engine_roundtrip
def test_an_unchanged_scene_reuses_its_bundle_and_a_moved_object_makes_a_new_one(scenario):
    report, stdout = scenario
    assert report["generate_2"][1]["takes"][-1][2] == "001"
    assert "Scene: passes unchanged: reusing bundles/001" in stdout
    assert report["reuse_status"] == "Scene: starting the engine (passes unchanged: reusing bundles/001)"
    assert report["moved"]["exporting"] and report["moved"]["bundle"] == "002"
    assert report["moved"]["phase"] == "cancelled" and not report["moved"]["left"]
    assert all(hidden == [".blockcast-fingerprint"] for hidden in report["bundles"].values())


@pytest.mark.engine_roundtrip
def test_save_as_keeps_the_project_and_the_shots_numbering(scenario):
    report, stdout = scenario
    assert report["project"].startswith("shot-") and report["project_after_save_as"] == report["project"]
    assert report["projects"] == [report["project"]]
    made, state = report["generate_saved_as"]
    assert made == ["FINISHED"]
    assert state["takes"][-1][:2] == ["take-004-previz-s1", 1]  # the seed typed is honoured ...
    assert state["takes"][-1][2] == "002"  # another .blend path: exported again (the source it names)
    assert state["seed_field"] == 3  # ... and the field moves past every used seed after
    assert "Scene: seed 1 used before, as typed" in stdout
    assert report["shot_folder"] == ["bundles"] + [f"take-00{n}-previz-s{s}" for n, s in
                                                   ((1, 0), (2, 1), (3, 2), (4, 1))]
    assert state["shot_dir"] == report["generate_1"][1]["shot_dir"]
