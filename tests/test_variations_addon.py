"""Variations in Blender (#14): Make Variations, the contact sheet and its tiles, Make Takes of
the picked seeds, Lock Look from a variation.

The bpy-free parts (the engine's `variations` command line, variations.json read back as tiles,
picked seeds as engine calls, the tile grid, the progress) are loaded without Blender. The rest
runs on real bpy with the real engine as a child process (the default previz backend on the
weights Blockcast ships, a 5-frame 64x36 demo shot): the add-on registered in a child bpy
process (tests/variations_scenarios.py; see tests/roundtrip_scenarios.py for why not in pytest's).
"""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bpy_free_modules import load_bpy_free

REPO = Path(__file__).resolve().parents[1]
ENGINE_PYTHON = REPO / ".venv-engine" / "bin" / "python"




var = load_bpy_free("variations")
vp = load_bpy_free("variations_progress")
events = importlib.import_module("bpy_free.engine.bundle.events")
record_module = importlib.import_module("bpy_free.engine.bundle.variations_record")
GenerateRequest = importlib.import_module("bpy_free.engine.bundle.request").GenerateRequest


def test_the_variations_command_is_generates_flags_with_a_count_and_no_takes():
    request = GenerateRequest(prompt="a kite", seed=5, takes=3, steps=4, size=(64, 36), device="cpu")
    args = var.variations_arguments(request, "/b", "/t/variations", 24)
    assert args == ["variations", "/b", "--out=/t/variations", "--prompt=a kite", "--seed=5", "--steps=4",
                    "--size=64x36", "--device=cpu", "--count=24"]


def test_only_the_default_backend_makes_a_sheet():
    assert var.makes_sheet("") and var.makes_sheet("previz")
    assert not var.makes_sheet("wan-vace") and not var.makes_sheet("animatediff")


def test_diffusion_backends_make_capped_full_takes_and_say_so():
    request, note = var.diffusion_takes(GenerateRequest(backend="wan-vace", seed=10), 24)
    assert (request.takes, request.seed) == (var.DIFFUSION_TAKES_CAP, 10)
    assert note == ("wan-vace has no quick variations: making 8 full takes (seeds 10–17) instead; "
                    "Count is capped at 8 on diffusion backends")
    request, note = var.diffusion_takes(GenerateRequest(backend="wan-vace", seed=3), 1)
    assert request.takes == 1 and note == "wan-vace has no quick variations: making 1 full take (seed 3) instead"


def test_picked_seeds_become_one_engine_call_per_run_of_consecutive_seeds():
    assert var.seed_runs([9, 3, 4, 7, 8, 4]) == [(3, 2), (7, 3)]
    requests = var.run_requests(GenerateRequest(prompt="p", seed=0, takes=1, steps=2), [12, 5])
    assert [(r.seed, r.takes, r.prompt, r.steps) for r in requests] == [(5, 1, "p", 2), (12, 1, "p", 2)]


def test_the_kept_request_reads_back_the_same():
    request = GenerateRequest(prompt="a kite", seed=5, size=(64, 36), controls={"depth": 1.0}, device="cpu")
    assert var.request_from_text(var.request_text(request)) == request


def write_variations(folder, seeds, tile=None, bundle="/b"):
    """A variations folder as the engine writes it (its record, sheet and tiles)."""
    (folder / "tiles").mkdir(parents=True)
    record = record_module.VariationsRecord(
        backend="previz", bundle=record_module.VariationsBundle(path=bundle, shot="Scene"), key_frames=[1, 3, 5],
        tile_size=[32, 18], variations=[record_module.Variation(seed=s, tile=tile or record_module.tile_name(s),
                                                                look={"Cube": f"#0000{s:02x}"}) for s in seeds])
    (folder / "variations.json").write_text(record.dumps())
    return folder


def test_a_variations_folder_reads_as_tiles_with_their_looks(tmp_path):
    sheet = var.read_sheet(write_variations(tmp_path / "variations-001-s4", [4, 5, 6]))
    assert sheet.sheet == (tmp_path / "variations-001-s4" / "sheet.png").resolve() and sheet.bundle == Path("/b")
    assert [(t.seed, t.path.name, t.look) for t in sheet.tiles] == [
        (4, "s4.png", {"Cube": "#000004"}), (5, "s5.png", {"Cube": "#000005"}), (6, "s6.png", {"Cube": "#000006"})]
    assert sheet.tile(5).look == {"Cube": "#000005"} and sheet.tile(7) is None


def test_a_record_naming_a_file_outside_its_folder_is_refused(tmp_path):
    folder = write_variations(tmp_path / "v", [1], tile="../../etc/passwd")
    with pytest.raises(record_module.VariationsRecordError, match="outside its folder: make the variations again"):
        var.read_sheet(folder)


def test_a_damaged_record_says_to_make_the_variations_again(tmp_path):
    (tmp_path / "variations.json").write_text("{")
    with pytest.raises(record_module.VariationsRecordError, match="make the variations again"):
        var.read_sheet(tmp_path)


def test_tiles_fill_rows_as_wide_as_the_sidebar():
    assert var.grid_columns(300) == 2 and var.grid_columns(500) == 4 and var.grid_columns(50) == 1
    assert var.grid_columns(600, ui_scale=2.0) == 2
    assert var.tile_rows(range(5), 2) == [[0, 1], [2, 3], [4]]
    assert var.tile_rows([], 3) == [] and var.tile_rows(range(2), 0) == [[0], [1]]


def test_variations_progress_counts_tiles_and_names_the_folder():
    progress = vp.VariationsProgress("Shot", 3)
    progress.export_frame(5, 10)
    assert progress.fraction == pytest.approx(0.05) and "exporting passes" in progress.status_line()
    progress.engine_started()
    progress.apply(events.LoadEvent(backend="previz", device="cpu"))
    assert progress.status_line() == "Shot: loading models (previz on cpu)"
    for index, seed in enumerate((7, 8)):
        progress.apply(events.VariationEvent(index=index, count=3, seed=seed, tile=f"tiles/s{seed}.png"))
    assert progress.status_line() == "Shot: 2/3 variations" and progress.fraction == pytest.approx(0.7)
    progress.apply(events.FinishedEvent(takes=["/t/variations/variations-001-s7"]))
    assert progress.folder == "/t/variations/variations-001-s7" and progress.takes_done == [progress.folder]
    progress.end("finished")
    assert progress.fraction == 1.0 and progress.status_line() == "Shot: 2 variations on the sheet"
    cancelled = vp.VariationsProgress("Shot", 3)
    cancelled.end("cancelled")
    assert cancelled.takes_done == [] and cancelled.status_line() == "Shot: variations cancelled, nothing kept"


def test_runs_progress_is_one_bar_over_the_engine_calls():
    gp = load_bpy_free("generation_progress")
    progress = vp.RunsProgress("Shot", 3)
    first = gp.GenerationProgress("Shot", 2)
    progress.start_run(first)
    first.apply(events.StartEvent(take="take-001", steps=4))
    first.apply(events.StepEvent(take="take-001", step=2, total=4))
    assert progress.fraction == pytest.approx(0.5 / 3) and progress.status_line().endswith("(0/3 picked takes)")
    first.apply(events.DoneEvent(path="/t/take-001"))
    first.apply(events.DoneEvent(path="/t/take-002"))
    first.end("finished")
    second = gp.GenerationProgress("Shot", 1)
    progress.start_run(second)
    assert progress.takes_done == ["/t/take-001", "/t/take-002"] and progress.running
    second.apply(events.DoneEvent(path="/t/take-003"))
    progress.start_run(None)
    progress.end("finished")
    assert progress.fraction == 1.0 and progress.status_line() == "Shot: 3/3 picked takes made"
    assert not progress.running and len(progress.takes_done) == 3


# On real bpy with the real engine ------------------------------------------------------------

needs_engine = pytest.mark.skipif(not ENGINE_PYTHON.exists(), reason="needs the engine venv: scripts/setup_env.sh engine")


@pytest.fixture(scope="module")
def demo_blend(tmp_path_factory):
    path = tmp_path_factory.mktemp("scene") / "demo.blend"
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "make_demo_scene.py"), "--save", str(path),
                             "--frames", "5", "--size", "64x36"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return path


@pytest.fixture
def scenario(demo_blend, tmp_path):
    """Run a scenario of variations_scenarios.py on a copy of the demo shot; (report, its output)."""

    def run(name, *extra):
        blend = tmp_path / "demo.blend"
        blend.write_bytes(demo_blend.read_bytes())
        result = subprocess.run([sys.executable, str(REPO / "tests" / "variations_scenarios.py"), name, str(blend),
                                 *map(str, extra)], capture_output=True, text=True, timeout=900, cwd=REPO,
                                env=dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user")))
        lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
        assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-3000:]
        return json.loads(lines[0][len("REPORT "):]), result.stdout + result.stderr

    return run


@needs_engine
@pytest.mark.engine_roundtrip
def test_variations_show_a_sheet_whose_picked_seeds_become_takes_with_their_looks(scenario):
    report, _ = scenario("loop")
    assert report["make"] == ["FINISHED"] and report["seeds"] == [3, 4, 5, 6, 7, 8]
    assert report["seed_after"] == 9  # Make Variations again shows new looks
    folder = Path(report["entry"])
    assert folder.parent.name == "variations" and report["image"] == "Scene variations s3"
    assert Path(report["image_file"]) == folder / "sheet.png" and min(report["image_size"]) > 0
    assert [f"s{seed}.png" for seed in range(3, 9)] == sorted(report["thumbnails"], key=lambda n: int(n[1:-4]))
    panel = report["panel"]
    assert panel.count("thumbnail") == 6 and [line for line in panel if line.startswith("prop picked")] == [
        f"prop picked s{seed}" for seed in range(3, 9)]
    assert panel.count("button blockcast.lock_look_from_variation") == 6
    assert "button blockcast.make_variation_takes Make Takes (0 picked)" in panel
    assert report["show_sheet"] == ["FINISHED"]  # in the window's Image Editor, or saying which image to pick
    assert "no variation picked: tick the tiles" in report["takes_without_picks"]

    assert report["panel_picked"][-1] == "button blockcast.make_variation_takes Make Takes (2 picked)"
    assert report["takes"] == ["FINISHED"] and report["take_seeds"] == [4, 7]
    looks = report["looks"]
    assert all(looks[str(seed)] for seed in (4, 7)) and looks["4"] != looks["7"]
    assert report["take_looks"] == {"4": looks["4"], "7": looks["7"]}  # the take has its variation's look
    record = json.loads((folder / "variations.json").read_text())
    assert report["take_bundles"] == [record["bundle"]["path"]]  # made from the variations' own passes

    assert report["lock"] == ["FINISHED"] and report["cast_colours"] == looks["5"]
    assert "have no seed 99: pick one of the sheet's tiles" in report["lock_unknown"]
    again = report["again_sheet"]
    assert report["again"] == ["FINISHED"] and again["seeds"] == [9, 10, 11, 12, 13, 14]
    assert {"Scene variations s3", "Scene variations s9"} <= set(report["images"])


@needs_engine
@pytest.mark.engine_roundtrip
def test_cancelling_variations_leaves_nothing_half_written(scenario):
    report, _ = scenario("cancel")
    assert report["phase_when_cancelled"] not in ("finished", "failed") and report["cancel"] == ["FINISHED"]
    assert report["phase"] == "cancelled" and not report["running_job"]
    assert not report["bundle_left"] and report["sheets"] == 0
    assert not [name for name in report["images"] if "variations" in name]
    assert [path for path in report["left"] if path not in ("bundles", "variations")] == []
    assert ["WARNING", "Scene: variations cancelled; nothing was kept"] in report["reports"]


@pytest.fixture(scope="module")
def wan_vace_models(tmp_path_factory):
    """A model folder holding wan-vace/pipeline as tiny real weights (as tests/test_roundtrip.py makes it)."""
    root = tmp_path_factory.mktemp("models")
    result = subprocess.run([str(ENGINE_PYTHON), "-c", "import sys; from engine.random_models import "
                             "save_wan_vace_models; save_wan_vace_models(sys.argv[1])", str(root / "made")],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    (root / "folder" / "wan-vace").mkdir(parents=True)
    (root / "made" / "wan-vace").rename(root / "folder" / "wan-vace" / "pipeline")
    return root / "folder"


@needs_engine
@pytest.mark.engine_roundtrip
def test_on_a_diffusion_backend_the_same_button_makes_full_takes_with_distinct_seeds(scenario, wan_vace_models):
    report, output = scenario("diffusion", wan_vace_models)
    assert report["make"] == ["FINISHED"] and report["take_seeds"] == [5, 6] and report["seed_after"] == 7
    assert "wan-vace has no quick variations: making 2 full takes (seeds 5–6) instead" in output
    assert report["sheets"] == 0 and "label wan-vace: full takes instead (at most 8)" in report["panel"]
