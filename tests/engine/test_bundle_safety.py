"""What the engine promises about bundles and takes folders (issue #11), on real exported
bundles: it never reads or writes outside a bundle, `check` accepts only what `generate`
can read, killed takes are swept (never a live one), and every refusal is one line."""

import json
import os
import shutil
import signal
import subprocess
import sys
import uuid

import numpy as np
import pytest
from conftest import export_demo_bundle, REPO_ROOT

from engine.bundle import BundleError, png, read_bundle, validate_bundle
from engine.bundle.take_record import TakeRecord
from engine.controls import write_review
from engine.generate import bundle_hash
from engine.takes import TakeWriter, check_takes_dir

_opened = []
sys.addaudithook(lambda event, args: _opened.append(os.fsdecode(args[0]))
                 if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)) else None)


def _opened_under(folder, action):
    """Paths under `folder` that `action()` opened (the audit hook sees every open)."""
    start = len(_opened)
    action()
    return [p for p in _opened[start:] if os.path.realpath(p).startswith(str(folder.resolve()) + os.sep)]


def _copy(bundle, tmp_path, name="shot"):
    target = tmp_path / name
    shutil.copytree(bundle, target)
    return target


def _edit_manifest(root, change):
    manifest = json.loads((root / "bundle.json").read_text())
    change(manifest)
    (root / "bundle.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def previz_bundle(demo_blend, tmp_path_factory):
    """Frames 1-3 with every pass the default backend (previz) needs."""
    return export_demo_bundle(tmp_path_factory, demo_blend,
                              "previz3", "depth,pose,camera,shading,normal,objects", frames="1-3")


def test_a_pattern_leading_out_of_the_bundle_is_refused_by_check_and_generate(run_engine, bundle10, tmp_path):
    root = _copy(bundle10, tmp_path)
    shutil.move(root / "depth", tmp_path / "outside")  # valid files: only the path gives it away
    _edit_manifest(root, lambda m: m["passes"]["depth"]["files"].update(
        control="../outside/{frame:04d}.png", metric="../outside/{frame:04d}.npy"))
    check = run_engine("check", root)
    assert check.returncode == 1, check.stdout
    line = f"the depth pass's control file '../outside/{{frame:04d}}.png' is outside the bundle folder {root}"
    assert line in check.stdout and check.stdout.count("outside the bundle folder") == 2  # one line per pattern
    run = run_engine("generate", root, "--out", tmp_path / "takes")
    assert run.returncode == 1 and line in run.stderr and "Traceback" not in run.stderr
    assert not (root / "controls").exists() and not run.of("load")


def test_an_absolute_path_is_refused_in_one_line_not_a_traceback(run_engine, bundle10, tmp_path):
    root = _copy(bundle10, tmp_path)
    _edit_manifest(root, lambda m: m["passes"]["camera"]["files"].update(re10k="/etc/passwd"))
    check = run_engine("check", root)
    assert check.returncode == 1 and "Traceback" not in check.stdout + check.stderr
    assert check.stdout.splitlines()[1:] == [
        f"  - the camera pass's re10k file '/etc/passwd' is outside the bundle folder {root}: "
        "re-export the shot's passes"]


def test_a_pass_file_symlinked_out_of_the_bundle_is_never_opened(bundle10, tmp_path):
    root = _copy(bundle10, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.move(root / "depth" / "0005.png", outside / "0005.png")
    (root / "depth" / "0005.png").symlink_to(outside / "0005.png")
    problems = []
    assert _opened_under(outside, lambda: problems.extend(validate_bundle(root))) == []
    assert problems == [f"the depth pass's control file 'depth/{{frame:04d}}.png' is outside the bundle folder "
                        f"{root}: re-export the shot's passes"]
    bundle, start = read_bundle(root), len(_opened)
    with pytest.raises(BundleError, match="outside the bundle folder"):
        bundle.depth_control(5)
    assert not [p for p in _opened[start:] if os.path.realpath(p).startswith(str(outside))]


def test_control_images_are_never_written_through_a_symlink_out(bundle10, tmp_path):
    root = _copy(bundle10, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "controls").symlink_to(elsewhere)
    from PIL import Image

    with pytest.raises(BundleError, match="outside the bundle folder"):
        write_review(read_bundle(root), {"depth": [Image.new("RGB", (8, 8))] * 10})
    assert list(elsewhere.iterdir()) == []


def test_the_take_hash_covers_every_file_the_engine_reads_and_nothing_outside(bundle10, tmp_path):
    root = _copy(bundle10, tmp_path)
    shutil.move(root / "depth", root / ".depth")  # inside, but hidden: once left out of the hash
    _edit_manifest(root, lambda m: m["passes"]["depth"]["files"].update(
        control=".depth/{frame:04d}.png", metric=".depth/{frame:04d}.npy"))
    (tmp_path / "secret.txt").write_text("not the bundle's")
    (root / "notes.txt").symlink_to(tmp_path / "secret.txt")  # named by nothing, leads out
    assert validate_bundle(root) == []
    before = bundle_hash(read_bundle(root))
    png.write_png(root / ".depth" / "0004.png", np.zeros((72, 128), np.uint16))
    assert bundle_hash(read_bundle(root)) != before
    start = len(_opened)
    bundle_hash(read_bundle(root))
    assert str((tmp_path / "secret.txt").resolve()) not in [os.path.realpath(p) for p in _opened[start:]]


@pytest.mark.parametrize("value, expected", [
    ("depth/{frame:04d}-{foo}.png", "field {foo} is not {frame} or {frame:04d}"),
    ("depth/{frame.__class__}.png", "field {frame.__class__} is not {frame} or {frame:04d}"),
    (["depth/0003.png"], "control file is ['depth/0003.png'], not a path"),
], ids=["unknown-field", "attribute", "list"])
def test_a_bad_file_pattern_is_one_line_not_a_traceback(run_engine, bundle10, tmp_path, value, expected):
    root = _copy(bundle10, tmp_path)
    _edit_manifest(root, lambda m: m["passes"]["depth"]["files"].update(control=value))
    check = run_engine("check", root)
    assert check.returncode == 1 and "Traceback" not in check.stderr, check.stderr
    assert len(check.stdout.splitlines()) == 2 and expected in check.stdout and "the depth pass's" in check.stdout


def test_check_decodes_what_it_accepts_a_truncated_png_is_refused_naming_it(run_engine, bundle10, tmp_path):
    root = _copy(bundle10, tmp_path)
    data = (root / "depth" / "0007.png").read_bytes()
    (root / "depth" / "0007.png").write_bytes(data[:len(data) // 2])  # the header still says 128x72
    check = run_engine("check", root)
    assert check.returncode == 1
    assert "depth/0007.png is not a readable PNG image (chunk b'IDAT' is cut short (truncated))" in check.stdout
    run = run_engine("generate", root, "--out", tmp_path / "takes")
    assert run.returncode == 1 and "depth/0007.png is not a readable PNG image" in run.stderr


def test_a_garbage_npy_is_named_without_pickle_advice(bundle10, tmp_path):
    root = _copy(bundle10, tmp_path)
    np.save(root / "depth" / "0004.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert validate_bundle(root) == ["depth/0004.npy is not a valid .npy array of numbers (it holds Python "
                                     "objects, not numbers): re-export the shot's passes"]
    with pytest.raises(BundleError) as refused:
        read_bundle(root).depth(4)
    assert "depth/0004.npy (depth pass) is not a valid array of numbers" in str(refused.value)
    assert "pickle" not in str(refused.value)


def test_a_seed_beyond_64_bits_is_refused_before_any_model_loads(engine_main, bundle10, tmp_path):
    code, events = engine_main("generate", bundle10, "--out", tmp_path / "takes", "--seed", str(2**64))
    assert code == 2 and [e["event"] for e in events] == ["error"]
    assert "--seed 18446744073709551616 is out of range" in events[0]["message"]
    code, events = engine_main("generate", bundle10, "--out", tmp_path / "takes", "--seed", str(2**63 - 1),
                               "--takes", "2")  # take 2's seed would overflow
    assert code == 2 and "out of range" in events[0]["message"]


def test_weight_0_on_a_required_control_says_what_weight_0_means(engine_main, previz_bundle, tmp_path):
    code, events = engine_main("generate", previz_bundle, "--out", tmp_path / "takes", "--control",
                               "shading=1,depth=0,normal=1,objects=1")
    message = events[-1]["message"]
    assert code == 1 and "weight 0 drops a control: give depth a weight above 0" in message
    assert "re-export" not in message


def _kill_mid_take(takes):
    """A real process that reserves a take and is killed (SIGKILL) while writing it."""
    script = ("import os, signal, sys\nfrom engine.takes import TakeWriter\n"
              f"writer = TakeWriter({str(takes)!r}, 'killed-s0').__enter__()\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env={**os.environ,
                            "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == -signal.SIGKILL


def test_killed_takes_partials_are_swept_but_never_a_live_ones(tmp_path):
    takes = tmp_path / "takes"
    takes.mkdir()
    _kill_mid_take(takes)
    assert [p.name for p in takes.iterdir()] == [".take-001-killed-s0.partial"]
    (takes / ".take-005-unlocked-s0.partial").mkdir()  # an older engine's: nothing says it is dead
    (takes / ".notes.partial").mkdir()  # not ours
    with TakeWriter(takes, "live-s1") as live:
        check_takes_dir(takes)  # what the next `generate` does first
        assert sorted(p.name for p in takes.iterdir()) == [
            ".notes.partial", ".take-005-unlocked-s0.partial", ".take-006-live-s1.partial"]
        live.write_frame(1, np.zeros((4, 4, 3), np.uint8), 4, 4)
        final = live.commit(TakeRecord())
    assert not (final / ".lock").exists()
    check_takes_dir(takes)
    assert sorted(p.name for p in takes.iterdir()) == [".notes.partial", ".take-005-unlocked-s0.partial",
                                                       "take-006-live-s1"]


@pytest.fixture
def tiny_disk(tmp_path):
    """An 8 KiB filesystem (tmpfs; needs mount rights, as root on CI), unmounted after."""
    folder = tmp_path / f"full-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_names_the_takes_folder_and_what_to_do(engine_main, previz_bundle, tiny_disk):
    takes = tiny_disk / "takes"
    code, events = engine_main("generate", previz_bundle, "--out", takes, "--steps", "1")
    assert code == 1, events
    assert events[-1]["message"] == (
        f"ran out of disk space writing take-001-previz-s0 in {takes}: free some space there or choose another "
        "--out (the unfinished take was removed; finished takes are kept)")
    assert list(takes.iterdir()) == []


def test_pngs_are_read_with_pillow_in_the_engine_and_give_the_pure_decoders_arrays(tmp_path, monkeypatch):
    from PIL import Image

    rng = np.random.default_rng(1)
    image = (np.linspace(0, 255, 96)[None, :, None] + rng.integers(0, 30, (40, 96, 3))).clip(0, 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "filtered.png")  # Pillow filters rows (Sub/Paeth)
    depth = rng.integers(0, 65535, (40, 96)).astype(np.uint16)
    png.write_png(tmp_path / "depth.png", depth)
    pure = {}
    monkeypatch.setattr(png, "_Image", None)
    for name in ("filtered.png", "depth.png"):
        pure[name] = png.read_png(tmp_path / name)
    monkeypatch.undo()
    monkeypatch.setattr(png, "_decode_pure", lambda *a: pytest.fail("the engine decoded with the pure decoder"))
    assert np.array_equal(png.read_png(tmp_path / "filtered.png"), image)
    assert np.array_equal(pure["filtered.png"], image)
    read = png.read_png(tmp_path / "depth.png")
    assert read.dtype == pure["depth.png"].dtype == np.uint16 and np.array_equal(read, depth)
    assert np.array_equal(pure["depth.png"], depth)


def test_the_png_encoder_still_writes_the_same_bytes():
    """Bundles stay byte-identical across versions: the digest of the encoder before Pillow reading."""
    import hashlib

    rgb = (np.arange(40 * 96 * 3) % 251).astype(np.uint8).reshape(40, 96, 3)
    depth = (np.arange(40 * 96) * 37 % 65536).astype(np.uint16).reshape(40, 96)
    digest = hashlib.sha256(png.encode_png(rgb) + png.encode_png(depth)).hexdigest()
    assert digest == "f1cbc956e1410bd0ea238a56846ede3419f84106ada44d5f58f5cb78071a6b64"
