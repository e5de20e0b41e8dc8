"""Reading and validating a pass bundle (bpy-free, torch-free: the engine and tests use it).

Everything a bundle.json says is untrusted: every file it names must resolve inside the
bundle folder (after symlinks), every pattern may hold only literal text and {frame}
fields, and every reader turns a damaged file into a BundleError naming the file and pass.
"""

import json
import math
from pathlib import Path

import numpy as np

from . import png
from .camera import parse_re10k
from .cast import Cast
from .manifest import BundleManifest, ManifestError
from .npy import npy_header, read_npy
from .patterns import REEXPORT as _REEXPORT
from .patterns import pass_patterns
from .pose import COCO18_KEYPOINTS
from .schema import MANIFEST_NAME, PASS_FILES
from .storage import BundleError

# What the engine's controls take from each PNG: (dtype, channel counts allowed).
_PNG_LAYOUT = {("depth", "control"): (np.uint16, (1,)), ("objects", "index"): (None, (1,)),
               ("mask", "actors"): (np.uint8, (1,)), ("shading", "image"): (np.uint8, (1, 3, 4)),
               ("normal", "preview"): (np.uint8, (1, 3, 4)), ("tracking", "control"): (np.uint16, (3,))}


def _number(value):
    try:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    except OverflowError:  # an integer too big for a float
        return False


class Bundle:
    """A bundle on disk: its manifest (`record`, a BundleManifest; `manifest`, the document as
    read) plus typed accessors for each pass."""

    def __init__(self, root):
        self.root = Path(root)
        manifest_path = self.root / MANIFEST_NAME
        if not manifest_path.is_file():
            raise BundleError(
                f"{self.root} is not a pass bundle (no {MANIFEST_NAME}): export the shot's passes first, "
                "or point at the shot's bundle folder"
            )
        try:
            self.manifest = json.loads(self.inside(MANIFEST_NAME).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise BundleError(f"{manifest_path} is not valid JSON ({exc}): {_REEXPORT}") from None
        except OSError as exc:
            raise BundleError(f"cannot read {manifest_path} ({exc.strerror or exc}): {_REEXPORT}") from None
        try:
            self.record = BundleManifest.from_json(self.manifest)
        except ManifestError as exc:
            raise BundleError(f"{manifest_path}: {exc}") from None
        except RecursionError:
            raise BundleError(f"{manifest_path} is nested too deeply: {_REEXPORT}") from None
        shot, resolution = self.record.shot, self.record.resolution
        self.name, self.frames, self.fps = shot.name, list(shot.frames), float(shot.fps)
        self.width, self.height = resolution.width, resolution.height
        self.passes, self.actors = self.record.passes, self.record.actors  # name -> PassEntry; ActorRecords
        self.cast = self.record.cast if self.record.cast is not None else Cast()
        self._patterns = {name: pass_patterns(name, entry.files, manifest_path)
                          for name, entry in self.passes.items()}

    def inside(self, relative):
        """The bundle file at `relative`, refused (BundleError) unless it resolves, after
        symlinks, inside the bundle folder: a bundle.json never makes a reader look elsewhere."""
        root = self.root.resolve()
        try:
            target = (root / relative).resolve() if isinstance(relative, str) and relative else root
        except (OSError, ValueError, RuntimeError):  # a NUL byte, a name too long, a symlink loop
            target = root
        if target == root or root not in target.parents:
            raise BundleError(f"{self.root / MANIFEST_NAME} names {relative!r}, which is outside the bundle folder: "
                              "re-export the shot's passes")
        return target

    def object_names(self):
        """Object index k (k >= 1) of the objects pass is object_names()[k - 1]; [] without the pass."""
        return list(self.passes["objects"].objects) if self.has("objects") else []

    def has(self, pass_name):
        return pass_name in self.passes

    def relative(self, pass_name, key, frame=None):
        """The bundle-relative file name of a pass file (of `frame`, for per-frame files)."""
        if not self.has(pass_name):
            raise BundleError(f"bundle {self.root} has no {pass_name} pass: re-export with --passes including {pass_name}")
        if key not in self._patterns[pass_name]:
            raise BundleError(f"{self.root / MANIFEST_NAME}: the {pass_name} pass names no {key} file: {_REEXPORT}")
        pattern, per_frame = self._patterns[pass_name][key]
        return pattern.format(frame=frame) if per_frame else pattern

    def path(self, pass_name, key, frame=None):
        """The pass file's path, refused unless it lies inside the bundle folder."""
        relative = self.relative(pass_name, key, frame)
        try:
            return self.inside(relative)
        except BundleError:
            raise BundleError(f"the {pass_name} pass's {key} file {relative!r} is outside the bundle folder "
                              f"{self.root}: {_REEXPORT}") from None

    def pass_files(self):
        """(pass, key, frame or None, relative name) of every pass file bundle.json names."""
        return [(name, key, frame, self.relative(name, key, frame))
                for name, patterns in self._patterns.items() for key, (_, per_frame) in patterns.items()
                for frame in (self.frames if per_frame else [None])]

    def named_files(self):
        """Every file bundle.json names (itself, pass files, cast references), bundle-relative."""
        references = [ref for member in self.cast.members for ref in member.references]
        return [MANIFEST_NAME] + [entry[3] for entry in self.pass_files()] + references

    def _read(self, pass_name, key, frame, what, decode):
        path = self.path(pass_name, key, frame)
        try:
            return decode(path)
        except FileNotFoundError:
            raise BundleError(f"{self.relative(pass_name, key, frame)} ({pass_name} pass) is missing from "
                              f"{self.root}: {_REEXPORT}") from None
        except (OSError, ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
            detail = f" ({exc.strerror})" if isinstance(exc, OSError) and exc.strerror else ""
            raise BundleError(f"{self.root / self.relative(pass_name, key, frame)} ({pass_name} pass) is not "
                              f"{what}{detail}: {_REEXPORT}") from None

    def _json(self, pass_name, key, frame=None):
        return self._read(pass_name, key, frame, "valid JSON", lambda p: json.loads(p.read_text(encoding="utf-8")))

    def _npy(self, pass_name, key, frame):
        return self._read(pass_name, key, frame, "a valid array of numbers (.npy)", read_npy)

    def _png(self, pass_name, key, frame):
        return self._read(pass_name, key, frame, "a readable PNG image", png.read_png)

    def depth(self, frame):
        return self._npy("depth", "metric", frame)

    def depth_control(self, frame):
        return self._png("depth", "control", frame)

    def openpose(self, frame):
        return self._json("pose", "openpose", frame)

    def joints(self):
        return self._json("pose", "joints")

    def cameras(self):
        return self._read("camera", "cameras", None, "a cameras document with frames",
                          lambda p: list(json.loads(p.read_text(encoding="utf-8"))["frames"]))

    def re10k(self):
        return self._read("camera", "re10k", None, "RealEstate10K camera text",
                          lambda p: parse_re10k(p.read_text(encoding="utf-8"), self.width, self.height))

    def shading(self, frame):
        return self._png("shading", "image", frame)

    def normal(self, frame):
        return self._npy("normal", "camera_space", frame)

    def normal_preview(self, frame):
        return self._png("normal", "preview", frame)

    def flow(self, frame):
        return self._npy("flow", "forward", frame)

    def actor_mask(self, frame):
        return self._png("mask", "actors", frame)

    def object_index(self, frame):
        return self._png("objects", "index", frame)

    def tracking_control(self, frame):
        return self._png("tracking", "control", frame)

    def tracking_first_frame(self, frame):
        return self._npy("tracking", "first_frame", frame)


def read_bundle(root):
    return Bundle(root)


_KINDS = {".png": "a readable PNG image", ".npy": "a valid .npy array of numbers", ".json": "valid JSON"}


def _suffix(pass_name, key, relative):
    """How the engine decodes a pass file: by the format's own name for it, whatever the
    file is called (a pose file named .png is still read as JSON)."""
    canonical = PASS_FILES.get(pass_name, {}).get(key, relative)
    return canonical[canonical.rfind("."):] if "." in canonical.rsplit("/", 1)[-1] else ""


def _check_file(bundle, pass_name, key, frame, relative, problems):
    """Prove each file decodes as the engine will read it (PNG streams whole, .npy headers
    with their exact data size), so a bundle `check` accepts never fails later in generate.
    Returns False when the file is refused."""
    path, suffix = bundle.path(pass_name, key, frame), _suffix(pass_name, key, relative)
    try:
        if not path.is_file():
            problems.append(f"missing {relative}")
            return False
        if suffix == ".png":
            width, height, bit_depth, channels = png.check_png(path)
            dtype, allowed = _PNG_LAYOUT.get((pass_name, key), (None, (1, 3, 4)))
            if (width, height) != (bundle.width, bundle.height):
                problems.append(f"{relative} is {width}x{height}, the bundle says {bundle.width}x{bundle.height}")
            elif (dtype is not None and np.dtype(dtype).itemsize * 8 != bit_depth) or channels not in allowed:
                problems.append(f"{relative} is a {bit_depth}-bit PNG with {channels} channel(s), which the "
                                f"{pass_name} pass does not use: {_REEXPORT}")
            else:
                return True
            return False
        if suffix == ".npy":
            with open(path, "rb") as handle:
                shape, _ = npy_header(handle)
            if shape[:2] != (bundle.height, bundle.width):
                problems.append(f"{relative} has shape {shape}, expected ({bundle.height}, {bundle.width}, ...)")
                return False
        elif suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        else:
            path.read_text(encoding="utf-8")
    except (ValueError, OSError, RecursionError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        detail = detail.removeprefix(f"{path}: ")
        problems.append(f"{relative} is not {_KINDS.get(suffix, 'UTF-8 text')} ({detail}): {_REEXPORT}")
        return False
    return True


def _check_pose(bundle, problems):
    expected = len(bundle.actors)
    for frame in bundle.frames:
        try:
            people = bundle.openpose(frame).get("people")
        except (BundleError, AttributeError):
            continue  # already reported by _check_file, or not an object (below)
        relative = bundle.relative("pose", "openpose", frame)
        if not isinstance(people, list) or len(people) != expected:
            count = len(people) if isinstance(people, list) else 0
            problems.append(f"{relative}: {count} people, expected {expected} (one per actor)")
        elif not all(isinstance(p, dict) and isinstance(p.get("pose_keypoints_2d"), list)
                     and len(p["pose_keypoints_2d"]) == 3 * len(COCO18_KEYPOINTS)
                     and all(map(_number, p["pose_keypoints_2d"])) for p in people):
            problems.append(f"{relative}: a person lacks 18 x/y/confidence keypoints")


def _check_camera(bundle, problems):
    try:
        records = bundle.cameras()
        if [r.get("frame") if isinstance(r, dict) else None for r in records] != bundle.frames:
            problems.append("cameras.json frames differ from the shot's frames")
        if len(bundle.re10k()) != len(bundle.frames):
            problems.append("camera_re10k.txt has a different number of frames than the shot")
    except BundleError as exc:
        problems.append(f"camera pass is unreadable ({exc})")


def _check_cast(bundle, problems):
    for member in bundle.cast.members:
        for reference in member.references:
            try:
                if not bundle.inside(reference).is_file():
                    problems.append(f"cast member {member.name!r}: reference {reference} is missing")
            except BundleError as exc:
                problems.append(str(exc))


def validate_bundle(root):
    """Every problem found in the bundle at `root`, as sentences; an empty list means valid."""
    try:
        bundle = Bundle(root)
    except BundleError as exc:
        return [str(exc)]
    problems = []
    shot = bundle.record.shot
    if not bundle.frames:
        problems.append("the shot has no frames")
    elif shot.frame_start is None or shot.frame_end is None \
            or bundle.frames != list(range(shot.frame_start, shot.frame_end + 1)):
        problems.append("shot.frames does not run from frame_start to frame_end")
    if bundle.width <= 0 or bundle.height <= 0:
        problems.append(f"resolution {bundle.width}x{bundle.height} is empty")
        return problems
    unknown = [name for name in bundle.passes if name not in PASS_FILES]
    problems.extend(f"unknown pass {name!r}" for name in unknown)
    problems.extend(f"the {name} pass names no {key} file: {_REEXPORT}" for name in bundle.passes
                    if name not in unknown for key in PASS_FILES[name] if key not in bundle._patterns[name])
    broken, outside = set(unknown), set()
    for pass_name, key, frame, relative in bundle.pass_files():
        if pass_name in unknown or (pass_name, key) in outside:
            continue
        try:
            if not _check_file(bundle, pass_name, key, frame, relative, problems):
                broken.add(pass_name)
        except BundleError as exc:  # outside the bundle: one line per file pattern
            problems.append(str(exc).replace(repr(relative), repr(bundle._patterns[pass_name][key][0])))
            broken.add(pass_name)
            outside.add((pass_name, key))
    if "pose" in set(bundle.passes) - broken:
        _check_pose(bundle, problems)
    if "camera" in set(bundle.passes) - broken:
        _check_camera(bundle, problems)
    tracking = bundle.passes.get("tracking")
    if tracking is not None and not (tracking.inverse_depth_low < tracking.inverse_depth_high):
        problems.append("tracking pass inverse_depth_low/high range is empty or inverted")
    depth = bundle.passes.get("depth")
    if depth is not None and not (depth.near is not None and depth.far is not None and 0 < depth.near <= depth.far):
        problems.append("depth pass near/far range is missing or inverted")
    _check_cast(bundle, problems)
    return problems
