"""Reading and validating a pass bundle (bpy-free, torch-free: the engine and tests use it)."""

import json
from pathlib import Path

import numpy as np

from . import png
from .camera import parse_re10k
from .cast import Cast, CastError
from .pose import COCO18_KEYPOINTS
from .schema import MANIFEST_NAME, PASS_FILES, SCHEMA_NAME, SCHEMA_VERSION, is_per_frame, schema_compatible
from .storage import BundleError

_REQUIRED_KEYS = ("schema", "schema_version", "shot", "resolution", "passes", "actors", "source")


class Bundle:
    """A bundle on disk: its manifest plus typed accessors for each pass."""

    def __init__(self, root):
        self.root = Path(root)
        manifest_path = self.root / MANIFEST_NAME
        if not manifest_path.is_file():
            raise BundleError(
                f"{self.root} is not a pass bundle (no {MANIFEST_NAME}): export the shot's passes first, "
                "or point at the shot's bundle folder"
            )
        try:
            self.manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{manifest_path} is not valid JSON ({exc}): re-export the shot's passes") from exc
        missing = [key for key in _REQUIRED_KEYS if key not in self.manifest]
        if missing:
            raise BundleError(f"{manifest_path} lacks {', '.join(missing)}: re-export the shot's passes")
        if self.manifest["schema"] != SCHEMA_NAME or not schema_compatible(self.manifest["schema_version"]):
            raise BundleError(
                f"{manifest_path} is schema {self.manifest['schema']} {self.manifest['schema_version']}; "
                f"this reader takes {SCHEMA_NAME} {SCHEMA_VERSION.split('.')[0]}.x: re-export with this version"
            )
        shot = self.manifest["shot"]
        self.name = shot["name"]
        self.frames = list(shot["frames"])
        self.fps = float(shot["fps"])
        self.width = int(self.manifest["resolution"]["width"])
        self.height = int(self.manifest["resolution"]["height"])
        self.passes = self.manifest["passes"]
        self.actors = self.manifest["actors"]
        try:
            self.cast = Cast.from_json(self.manifest.get("cast"))
        except CastError as exc:
            raise BundleError(f"{manifest_path}: {exc}: re-export the shot's passes") from None

    def inside(self, relative):
        """The bundle file at `relative`, refused (BundleError) unless it resolves, after
        symlinks, inside the bundle folder: a bundle.json never makes a reader look elsewhere."""
        root = self.root.resolve()
        target = (root / relative).resolve()
        if not isinstance(relative, str) or not relative or target == root or root not in target.parents:
            raise BundleError(f"{self.root / MANIFEST_NAME} names {relative!r}, which is outside the bundle folder: "
                              "re-export the shot's passes")
        return target

    def object_names(self):
        """Object index k (k >= 1) of the objects pass is object_names()[k - 1]; [] without the pass."""
        return list(self.passes.get("objects", {}).get("objects", [])) if self.has("objects") else []

    def has(self, pass_name):
        return pass_name in self.passes

    def path(self, pass_name, key, frame=None):
        if not self.has(pass_name):
            raise BundleError(f"bundle {self.root} has no {pass_name} pass: re-export with --passes including {pass_name}")
        pattern = self.passes[pass_name]["files"][key]
        return self.root / (pattern.format(frame=frame) if is_per_frame(pattern) else pattern)

    def depth(self, frame):
        return np.load(self.path("depth", "metric", frame), allow_pickle=False)

    def depth_control(self, frame):
        return png.read_png(self.path("depth", "control", frame))

    def openpose(self, frame):
        return json.loads(self.path("pose", "openpose", frame).read_text(encoding="utf-8"))

    def joints(self):
        return json.loads(self.path("pose", "joints").read_text(encoding="utf-8"))

    def cameras(self):
        return json.loads(self.path("camera", "cameras").read_text(encoding="utf-8"))["frames"]

    def re10k(self):
        return parse_re10k(self.path("camera", "re10k").read_text(encoding="utf-8"), self.width, self.height)

    def shading(self, frame):
        return png.read_png(self.path("shading", "image", frame))

    def normal(self, frame):
        return np.load(self.path("normal", "camera_space", frame), allow_pickle=False)

    def flow(self, frame):
        return np.load(self.path("flow", "forward", frame), allow_pickle=False)

    def actor_mask(self, frame):
        return png.read_png(self.path("mask", "actors", frame))

    def object_index(self, frame):
        return png.read_png(self.path("objects", "index", frame))


def read_bundle(root):
    return Bundle(root)


def _png_size(path):
    with open(path, "rb") as handle:
        head = handle.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _check_file(bundle, path, problems):
    """Size/format checks that need only headers, so validating a long shot stays fast."""
    if not path.is_file():
        problems.append(f"missing {path.relative_to(bundle.root)}")
        return
    rel = path.relative_to(bundle.root)
    try:
        if path.suffix == ".png":
            size = _png_size(path)
            if size != (bundle.width, bundle.height):
                problems.append(f"{rel} is {size[0]}x{size[1]}, the bundle says {bundle.width}x{bundle.height}")
        elif path.suffix == ".npy":
            shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
            if shape[:2] != (bundle.height, bundle.width):
                problems.append(f"{rel} has shape {shape}, expected ({bundle.height}, {bundle.width}, ...)")
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        problems.append(f"{rel} is unreadable ({exc})")


def _check_pose(bundle, problems):
    expected = len(bundle.actors)
    for frame in bundle.frames:
        path = bundle.path("pose", "openpose", frame)
        if not path.is_file():
            continue
        try:
            people = json.loads(path.read_text(encoding="utf-8")).get("people")
        except ValueError:
            continue  # already reported by _check_file
        if not isinstance(people, list) or len(people) != expected:
            problems.append(f"{path.relative_to(bundle.root)}: {len(people or [])} people, expected {expected} (one per actor)")
        elif any(len(p.get("pose_keypoints_2d", [])) != 3 * len(COCO18_KEYPOINTS) for p in people):
            problems.append(f"{path.relative_to(bundle.root)}: a person lacks 18 x/y/confidence keypoints")


def _check_camera(bundle, problems):
    try:
        records = bundle.cameras()
        if [r["frame"] for r in records] != bundle.frames:
            problems.append("cameras.json frames differ from the shot's frames")
        if len(bundle.re10k()) != len(bundle.frames):
            problems.append("camera_re10k.txt has a different number of frames than the shot")
    except (OSError, ValueError, KeyError, IndexError) as exc:
        problems.append(f"camera pass is unreadable ({exc})")


def validate_bundle(root):
    """Every problem found in the bundle at `root`, as sentences; an empty list means valid."""
    try:
        bundle = Bundle(root)
    except (BundleError, KeyError, TypeError, ValueError) as exc:
        return [str(exc)]
    problems = []
    shot = bundle.manifest["shot"]
    if not bundle.frames:
        problems.append("the shot has no frames")
    elif bundle.frames != list(range(shot["frame_start"], shot["frame_end"] + 1)):
        problems.append("shot.frames does not run from frame_start to frame_end")
    if bundle.width <= 0 or bundle.height <= 0:
        problems.append(f"resolution {bundle.width}x{bundle.height} is empty")
    for pass_name, entry in bundle.passes.items():
        if pass_name not in PASS_FILES:
            problems.append(f"unknown pass {pass_name!r}")
            continue
        for key, pattern in entry.get("files", {}).items():
            frames = bundle.frames if is_per_frame(pattern) else [None]
            for frame in frames:
                _check_file(bundle, bundle.path(pass_name, key, frame), problems)
    if bundle.has("pose"):
        _check_pose(bundle, problems)
    if bundle.has("camera"):
        _check_camera(bundle, problems)
    if bundle.has("depth") and not 0 < bundle.passes["depth"].get("near", 0) <= bundle.passes["depth"].get("far", 0):
        problems.append("depth pass near/far range is missing or inverted")
    return problems
