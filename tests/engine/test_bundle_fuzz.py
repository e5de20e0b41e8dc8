"""Property-based fuzz of the bundle reader: random and mutated bundle.json documents and
pass files (truncated or garbage PNG, NPY, JSON, symlinks leading out) are each accepted or
refused with a BundleError — never another exception — and nothing outside the bundle
folder is ever opened (an audit hook watches every `open`). A bundle `check` accepts must
also be readable by every reader (check decodes what it accepts).
"""

import copy
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.bundle import Bundle, BundleError, png, validate_bundle
from engine.bundle.camera import format_re10k
from engine.bundle.schema import PASS_FILES
from engine.generate import bundle_hash

WIDTH, HEIGHT, FRAMES = 4, 3, [1, 2]  # two frames: per-frame patterns must differ
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                database=None)
FUZZ_SMALL = settings(FUZZ, max_examples=80)  # small spaces: 80 examples cover them
_watch = {"root": None, "outside": [], "opened": []}


def _audit(event, args):
    """Record every file opened under the example's folder but outside its bundle."""
    if event != "open" or _watch["root"] is None or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    path = os.path.realpath(os.fsdecode(args[0]))
    if path.startswith(_watch["example"] + os.sep) and not path.startswith(_watch["root"] + os.sep) \
            or path == "/etc/passwd":
        _watch["outside"].append(path)


sys.addaudithook(_audit)


def _manifest():
    passes = {name: {"files": dict(files)} for name, files in PASS_FILES.items()}
    passes["depth"].update(near=1.0, far=10.0, units="metres")
    passes["objects"]["objects"] = ["Ana_body", "Crate"]
    passes["tracking"].update(reference_frame=1, inverse_depth_low=0.1, inverse_depth_high=1.0)
    return {"schema": "blockcast.bundle", "schema_version": "1.2",
            "shot": {"name": "Fuzz", "camera": "Camera", "frame_start": 1, "frame_end": 2, "frames": FRAMES,
                     "fps": 24.0},
            "resolution": {"width": WIDTH, "height": HEIGHT}, "passes": passes,
            "actors": [{"name": "Ana", "description": "a woman"}], "source": {"blend": "fuzz.blend"},
            "cast": {"look_seed": 3, "members": [{"name": "Ana", "role": "actor", "objects": ["Ana_body"],
                                                  "references": ["cast/ana.png"], "colors": {"Ana_body": "#b3261e"}}]}}


def _files():
    """{relative path: bytes} of a small valid bundle's pass files."""
    rgb = np.arange(HEIGHT * WIDTH * 3, dtype=np.uint8).reshape(HEIGHT, WIDTH, 3)
    gray16 = np.arange(HEIGHT * WIDTH, dtype=np.uint16).reshape(HEIGHT, WIDTH) * 1000

    def npy(array):
        import io

        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()

    person = {"pose_keypoints_2d": [1.0, 1.0, 1.0] * 18}
    cameras = [{"frame": f, "fx": 4.0, "fy": 4.0, "cx": 1.5, "cy": 1.0, "w2c_opencv": np.eye(4).tolist()}
               for f in FRAMES]
    files = {"joints.json": json.dumps({"frames": []}).encode(),
             "cameras.json": json.dumps({"convention": "opencv", "frames": cameras}).encode(),
             "camera_re10k.txt": format_re10k([{**c, "timestamp_us": 0, "w2c": c["w2c_opencv"]} for c in cameras],
                                              WIDTH, HEIGHT, "fuzz").encode(),
             "cast/ana.png": png.encode_png(rgb)}
    for frame in FRAMES:
        name = f"{frame:04d}"
        files.update({f"depth/{name}.npy": npy(np.ones((HEIGHT, WIDTH), np.float32)),
                      f"depth/{name}.png": png.encode_png(gray16),
                      f"pose/{name}.json": json.dumps({"people": [person]}).encode(),
                      f"shading/{name}.png": png.encode_png(rgb),
                      f"normal/{name}.npy": npy(np.zeros((HEIGHT, WIDTH, 3), np.float16)),
                      f"normal/{name}.png": png.encode_png(rgb),
                      f"flow/{name}.npy": npy(np.zeros((HEIGHT, WIDTH, 2), np.float32)),
                      f"mask/{name}.png": png.encode_png(np.zeros((HEIGHT, WIDTH), np.uint8)),
                      f"objects/{name}.png": png.encode_png(gray16 % 3),
                      f"tracking/{name}.npy": npy(np.ones((HEIGHT, WIDTH, 3), np.float32)),
                      f"tracking/{name}.png": png.encode_png(np.repeat(gray16[:, :, None], 3, axis=2))})
    return files


BASE_MANIFEST, BASE_FILES = _manifest(), _files()
NASTY_PATHS = ["../outside/secret.png", "../outside/secret.npy", "../outside/secret.json", "/etc/passwd",
               "link_out.png", "link_dir/secret.png", "{foo}", "depth/{frame:04d}-{foo}.png", "{frame.real}",
               "{0}", "{frame:xyz}", "{frame!r}", "{", "}", "a\x00b", "", ".", "depth", "controls/x.png",
               "cast/../../outside/secret.png", "depth/{frame:04d}.png", "x" * 300]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=12)
    | st.sampled_from(NASTY_PATHS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6)


def _paths(document, prefix=()):
    """Every key path in a JSON document, so a mutation can land anywhere."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, prefix + (index,))
    return found


def _set(document, path, value, delete):
    """`document` with the value at `path` replaced by `value`, or deleted."""
    if not path:
        return document if delete else value
    target = document
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


mutation = st.tuples(st.integers(0, 10**6), st.booleans(), json_values)


def _damage(data, kind, cut):
    if kind == "truncate":
        return data[:cut % max(len(data), 1)]
    if kind == "flip":
        index = cut % max(len(data), 1)
        return data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1:] if data else b"\xff"
    if kind == "garbage":
        return bytes((cut * 7 + i) % 256 for i in range(cut % 64))
    return data


file_damage = st.tuples(st.sampled_from(sorted(BASE_FILES)),
                        st.sampled_from(["truncate", "flip", "garbage", "symlink_out", "dir", "remove"]),
                        st.integers(0, 10**6))


def _write_example(top, manifest, damages):
    outside, root = top / "outside", top / "bundle"
    outside.mkdir()
    for name in ("secret.png", "secret.npy", "secret.json"):  # valid files: only a read could tell
        (outside / name).write_bytes(BASE_FILES["shading/0001.png" if name.endswith(".png") else
                                                "depth/0001.npy" if name.endswith(".npy") else "joints.json"])
    for relative, data in BASE_FILES.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    (root / "link_out.png").symlink_to(outside / "secret.png")
    (root / "link_dir").symlink_to(outside)
    for relative, kind, cut in damages:
        path = root / relative
        if kind == "symlink_out":
            path.unlink()
            path.symlink_to(outside / "secret.png")
        elif kind == "dir":
            path.unlink()
            path.mkdir()
        elif kind == "remove":
            path.unlink()
        else:
            path.write_bytes(_damage(path.read_bytes(), kind, cut))
    text = manifest if isinstance(manifest, (bytes, str)) else json.dumps(manifest)
    (root / "bundle.json").write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return root


def _read_everything(bundle):
    """Call every reader on every frame; each returns or raises BundleError."""
    readers = {"depth": ["depth", "depth_control"], "pose": ["openpose"], "shading": ["shading"],
               "normal": ["normal", "normal_preview"], "flow": ["flow"], "mask": ["actor_mask"],
               "objects": ["object_index"], "tracking": ["tracking_control", "tracking_first_frame"]}
    once = {"pose": ["joints"], "camera": ["cameras", "re10k"]}
    bundle.object_names()
    for pass_name in bundle.passes:
        for method in readers.get(pass_name, []):
            for frame in bundle.frames:
                getattr(bundle, method)(frame)
        for method in once.get(pass_name, []):
            getattr(bundle, method)()


def _check(manifest, damages=()):
    with tempfile.TemporaryDirectory() as folder:
        top = Path(folder).resolve()
        root = _write_example(top, manifest, damages)
        _watch.update(root=str(root), example=str(top), outside=[])
        try:
            problems = validate_bundle(root)
            assert isinstance(problems, list) and all(isinstance(p, str) for p in problems), problems
            try:
                bundle = Bundle(root)
            except BundleError:
                assert problems
                return
            if not problems:  # accepted by check: every reader and the take's hash work
                _read_everything(bundle)
                bundle_hash(bundle)
            else:
                try:
                    _read_everything(bundle)
                except BundleError:
                    pass
        finally:
            _watch["root"] = None
        assert not _watch["outside"], f"opened outside the bundle: {_watch['outside']}"


def test_the_base_bundle_is_accepted_and_fully_readable():
    _check(BASE_MANIFEST)
    with tempfile.TemporaryDirectory() as folder:
        assert validate_bundle(_write_example(Path(folder), BASE_MANIFEST, ())) == []


@FUZZ
@given(st.lists(mutation, min_size=1, max_size=4))
def test_mutated_manifests_are_accepted_or_refused_with_a_bundle_error(mutations):
    manifest = copy.deepcopy(BASE_MANIFEST)
    for choice, delete, value in mutations:
        paths = _paths(manifest)
        manifest = _set(manifest, paths[choice % len(paths)], copy.deepcopy(value), delete)
    _check(manifest)


@FUZZ_SMALL
@given(st.sampled_from(sorted({(name, key) for name, files in PASS_FILES.items() for key in files})),
       st.sampled_from(NASTY_PATHS + ["depth/{frame:04d}.npy", "joints.json", "link_out.png"]))
def test_nasty_file_patterns_never_read_outside(pass_key, pattern):
    manifest = copy.deepcopy(BASE_MANIFEST)
    manifest["passes"][pass_key[0]]["files"][pass_key[1]] = pattern
    _check(manifest)


@FUZZ
@given(st.lists(file_damage, min_size=1, max_size=3, unique_by=lambda d: d[0]))
def test_damaged_pass_files_are_refused_with_a_bundle_error(damages):
    _check(BASE_MANIFEST, damages)


@FUZZ_SMALL
@given(st.one_of(st.binary(max_size=64), st.text(max_size=40), json_values))
def test_random_manifests_are_refused_with_a_bundle_error(document):
    _check(document if isinstance(document, (bytes, str)) else document)
