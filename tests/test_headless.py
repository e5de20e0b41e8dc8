"""The headless scripts as a farm or batch job runs them: real processes, real files."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.bundle import validate_bundle

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"


def run_script(name, *args, timeout=300):
    return subprocess.run([sys.executable, str(SCRIPTS / name), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def error_line(result):
    lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo_blend(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.blend"
    result = run_script("make_demo_scene.py", "--save", path, "--frames", "6", "--size", "128x72")
    assert result.returncode == 0, result.stderr
    return path


def test_export_script_writes_a_valid_bundle_and_leaves_the_blend_alone(demo_blend, tmp_path):
    before = sha256(demo_blend)
    result = run_script("export_passes.py", demo_blend, "--out", tmp_path / "shot", "--quiet")
    assert result.returncode == 0, result.stderr
    assert validate_bundle(tmp_path / "shot") == []
    manifest = json.loads((tmp_path / "shot" / "bundle.json").read_text())
    assert manifest["shot"]["frames"] == [1, 2, 3, 4, 5, 6]
    assert [a["name"] for a in manifest["actors"]] == ["Ana", "Ben"]
    assert sha256(demo_blend) == before
    assert sorted(os.listdir(tmp_path)) == ["shot"]


def test_existing_output_is_refused_unless_overwrite(demo_blend, tmp_path):
    out = tmp_path / "shot"
    assert run_script("export_passes.py", demo_blend, "--out", out, "--frames", "1", "--quiet").returncode == 0
    result = run_script("export_passes.py", demo_blend, "--out", out, "--frames", "2-3")
    assert result.returncode == 1 and "--overwrite" in error_line(result)
    assert json.loads((out / "bundle.json").read_text())["shot"]["frames"] == [1]
    result = run_script("export_passes.py", demo_blend, "--out", out, "--frames", "2-3", "--overwrite", "--quiet")
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "bundle.json").read_text())["shot"]["frames"] == [2, 3]
    (out / "notes.txt").write_text("mine")  # not the bundle's: --overwrite no longer replaces the folder
    result = run_script("export_passes.py", demo_blend, "--out", out, "--overwrite")
    assert result.returncode == 1 and "notes.txt" in error_line(result)
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("args,message", [
    (["--frames", "5-2"], "inverted"),
    (["--frames", "abc"], "A-B"),
    (["--size", "0x72"], "resolution"),
    (["--passes", "depth,beauty"], "unknown pass"),
    (["--shot", "nope"], "no shot named"),
])
def test_bad_arguments_fail_with_one_line(demo_blend, tmp_path, args, message):
    result = run_script("export_passes.py", demo_blend, "--out", tmp_path / "shot", *args)
    assert result.returncode == 1
    assert message in error_line(result)
    assert not (tmp_path / "shot").exists()


def test_unwritable_output_and_missing_blend(demo_blend, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    result = run_script("export_passes.py", demo_blend, "--out", blocker / "shot")
    assert result.returncode == 1 and "choose an output folder" in error_line(result)
    result = run_script("export_passes.py", tmp_path / "missing.blend", "--out", tmp_path / "shot")
    assert result.returncode == 1 and "does not exist" in error_line(result)


def test_blend_without_camera_or_with_broken_rig(blockcast, tmp_path):
    from blockcast.addon.rigs import bone_map_preset

    mannequin_map = json.dumps(bone_map_preset("mannequin"))
    script = tmp_path / "make.py"
    script.write_text(
        "import bpy, sys\n"
        "bpy.ops.wm.read_factory_settings(use_empty=True)\n"
        "bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])\n"
        "cam = bpy.data.objects.new('Cam', bpy.data.cameras.new('Cam'))\n"
        "bpy.context.scene.collection.objects.link(cam); bpy.context.scene.camera = cam\n"
        "rig = bpy.data.objects.new('Rig', bpy.data.armatures.new('Rig'))\n"
        "bpy.context.scene.collection.objects.link(rig)\n"
        "rig['blockcast_actor'] = True; rig['blockcast_name'] = 'Rig'\n"
        f"rig['blockcast_bone_map'] = {mannequin_map!r}\n"
        "bpy.ops.wm.save_as_mainfile(filepath=sys.argv[2])\n")
    no_camera, broken_rig = tmp_path / "empty.blend", tmp_path / "rig.blend"
    subprocess.run([sys.executable, str(script), str(no_camera), str(broken_rig)], check=True, capture_output=True)
    result = run_script("export_passes.py", no_camera, "--out", tmp_path / "a")
    assert result.returncode == 1 and "no camera" in error_line(result)
    result = run_script("export_passes.py", broken_rig, "--out", tmp_path / "b")
    assert result.returncode == 1
    assert all(name in error_line(result) for name in ("neck", "left_ankle", "upper_arm.L", "head"))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_killed_export_leaves_no_bundle_and_a_retry_completes(demo_blend, tmp_path):
    out = tmp_path / "shot"
    process = subprocess.Popen([sys.executable, str(SCRIPTS / "export_passes.py"), str(demo_blend), "--out", str(out),
                                "--passes", "depth,pose,camera,shading"], stderr=subprocess.PIPE, text=True)
    for line in process.stderr:  # kill it once it has written at least one frame
        if "frame 2/" in line:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not out.exists()
    assert all(name.startswith(".shot.partial-") or name == ".shot.lock" for name in os.listdir(tmp_path))
    result = run_script("export_passes.py", demo_blend, "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert validate_bundle(out) == []
    assert os.listdir(tmp_path) == ["shot"]  # the retry cleared the killed run's partial folder


def test_demo_scene_is_not_overwritten_silently(demo_blend):
    before = sha256(demo_blend)
    result = run_script("make_demo_scene.py", "--save", demo_blend)
    assert result.returncode == 1 and "--overwrite" in error_line(result)
    assert sha256(demo_blend) == before


def test_demo_reverse_shot_is_a_second_camera_across_the_line(tmp_path):
    """--reverse-shot: markers A and B bound to two cameras, each shot --frames long, and the
    actors swap sides of the frame between them (the cameras face each other across the line)."""
    from engine.bundle import read_bundle
    from engine.bundle.pose import people_keypoints

    blend = tmp_path / "reverse.blend"
    result = run_script("make_demo_scene.py", "--save", blend, "--frames", "2", "--size", "64x36", "--reverse-shot")
    assert result.returncode == 0, result.stderr
    necks = {}
    for shot, frames, camera in (("A", [1, 2], "Camera"), ("B", [3, 4], "Reverse camera")):
        result = run_script("export_passes.py", blend, "--out", tmp_path / shot, "--shot", shot, "--quiet")
        assert result.returncode == 0, result.stderr
        bundle = read_bundle(tmp_path / shot)
        assert bundle.frames == frames and bundle.manifest["shot"]["camera"] == camera
        assert [(a.name, a.description) for a in bundle.actors] == [
            ("Ana", "a woman in a long red coat, dark hair in a bun"), ("Ben", "a tall man in a green jacket")]
        necks[shot] = [people[1, 0] for people in people_keypoints(bundle.openpose(frames[0]))]
    assert necks["A"][0] < necks["A"][1] and necks["B"][0] > necks["B"][1]  # Ana left of Ben, then right


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 2 MiB filesystem (tmpfs), to fill up for real; needs root, as CI and this machine have."""
    mount_point = tmp_path / "tiny_disk"
    mount_point.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root)")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def test_full_disk_gives_a_clear_error_and_leaves_nothing(demo_blend, tiny_disk):
    result = run_script("export_passes.py", demo_blend, "--out", tiny_disk / "shot", "--size", "512x288", "--quiet")
    assert result.returncode == 1
    assert "Ran out of disk space" in error_line(result)
    assert os.listdir(tiny_disk) == []


def test_runs_as_a_blender_python_script(demo_blend, tmp_path):
    """As `blender -b FILE -P scripts/export_passes.py -- ARGS`: Blender has opened FILE, and
    sys.argv holds Blender's own arguments before `--`."""
    out = tmp_path / "shot"
    launcher = tmp_path / "as_blender.py"
    launcher.write_text(
        "import runpy, sys, bpy\n"
        f"bpy.ops.wm.open_mainfile(filepath={str(demo_blend)!r})\n"
        f"sys.argv = ['blender', '-b', {str(demo_blend)!r}, '-P', 'export_passes.py', '--', '--out', {str(out)!r},"
        " '--frames', '2-3', '--quiet']\n"
        f"runpy.run_path({str(SCRIPTS / 'export_passes.py')!r}, run_name='__main__')\n")
    result = subprocess.run([sys.executable, str(launcher)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert validate_bundle(out) == []
    assert json.loads((out / "bundle.json").read_text())["source"]["blend"] == str(demo_blend)


def _tree_bytes(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_chunked_export_merges_into_the_same_bundle(demo_blend, tmp_path):
    passes = ["--passes", "depth,pose,camera,mask", "--quiet"]
    whole = run_script("export_passes.py", demo_blend, "--out", tmp_path / "whole", *passes)
    assert whole.returncode == 0, whole.stderr
    for frames in ("1-2", "3-6"):
        chunk = run_script("export_passes.py", demo_blend, "--out", tmp_path / f"chunk_{frames}", "--frames", frames,
                           *passes)
        assert chunk.returncode == 0, chunk.stderr
    merged = run_script("merge_bundles.py", tmp_path / "chunk_3-6", tmp_path / "chunk_1-2", "--out", tmp_path / "merged")
    assert merged.returncode == 0, merged.stderr
    assert _tree_bytes(tmp_path / "merged") == _tree_bytes(tmp_path / "whole")
    gap = run_script("merge_bundles.py", tmp_path / "chunk_3-6", "--out", tmp_path / "gap", "--overwrite")
    assert gap.returncode == 0  # one chunk alone is a valid (shorter) shot
    overlap = run_script("merge_bundles.py", tmp_path / "chunk_1-2", tmp_path / "whole", "--out", tmp_path / "bad")
    assert overlap.returncode == 1 and "overlap" in error_line(overlap)
    assert not (tmp_path / "bad").exists()


def test_skip_done_makes_a_finished_export_a_no_op(demo_blend, tmp_path):
    out = tmp_path / "shot"
    first = run_script("export_passes.py", demo_blend, "--out", out, "--frames", "1-2", "--skip-done", "--quiet")
    assert first.returncode == 0, first.stderr
    stamp = (out / "bundle.json").stat().st_mtime_ns
    again = run_script("export_passes.py", demo_blend, "--out", out, "--frames", "1-2", "--skip-done", "--quiet")
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert (out / "bundle.json").stat().st_mtime_ns == stamp
    other = run_script("export_passes.py", demo_blend, "--out", out, "--frames", "1-3", "--skip-done")
    assert other.returncode == 1 and "--overwrite" in error_line(other)  # a different export is not skipped
    manifest = json.loads((out / "bundle.json").read_text())
    assert manifest["source"]["blend_sha256"] == sha256(demo_blend)


def test_contact_sheet_shows_every_pass(demo_blend, tmp_path):
    from PIL import Image

    export = run_script("export_passes.py", demo_blend, "--out", tmp_path / "shot", "--quiet",
                        "--passes", "depth,pose,shading,normal,mask")
    assert export.returncode == 0, export.stderr
    sheet = run_script("contact_sheet.py", tmp_path / "shot", "--out", tmp_path / "sheet.png", "--rows", "3",
                       "--width", "96")
    assert sheet.returncode == 0, sheet.stderr
    image = Image.open(tmp_path / "sheet.png")
    assert image.size == (5 * 96, 14 + 3 * 54)  # 5 passes; 128x72 cells scaled to 96x54, 3 rows + labels
    assert run_script("contact_sheet.py", tmp_path / "nothing").returncode == 1
