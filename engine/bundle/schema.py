"""The pass bundle's manifest: names, versions and file layout (see docs/bundle.md)."""

SCHEMA_NAME = "blockcast.bundle"
SCHEMA_VERSION = "1.6"  # major.minor: readers accept any minor of their major
BLOCKCAST_VERSION = "0.1.0"  # stamped into every bundle's generator; engine.__version__ is this
MANIFEST_NAME = "bundle.json"

# Per-frame paths are patterns with {frame} (the Blender frame number); others are plain paths.
PASS_FILES = {
    "depth": {"metric": "depth/{frame:04d}.npy", "control": "depth/{frame:04d}.png"},
    "pose": {"openpose": "pose/{frame:04d}.json", "joints": "joints.json"},
    "camera": {"cameras": "cameras.json", "re10k": "camera_re10k.txt"},
    "shading": {"image": "shading/{frame:04d}.png"},
    "normal": {"camera_space": "normal/{frame:04d}.npy", "preview": "normal/{frame:04d}.png"},
    "flow": {"forward": "flow/{frame:04d}.npy"},
    "mask": {"actors": "mask/{frame:04d}.png"},
    "objects": {"index": "objects/{frame:04d}.png"},
    "tracking": {"control": "tracking/{frame:04d}.png", "first_frame": "tracking/{frame:04d}.npy"},  # 1.5
}
PASSES = tuple(PASS_FILES)
DEFAULT_PASSES = ("depth", "pose", "camera")
# What the engine makes from a bundle (engine/controls.py): edges from depth and objects, the rest
# from the pass of their name. Here, stdlib only, so the add-on offers a weight for each.
CONTROL_KINDS = ("depth", "pose", "camera", "shading", "normal", "objects", "edges", "tracking")
CONTROLS_DIR = "controls"  # written by the engine for review, never by the exporter


def is_per_frame(pattern):
    return "{frame" in pattern


def parse_passes(text):
    """'depth,pose' -> ('depth', 'pose') in canonical order; unknown names raise ValueError."""
    names = [name.strip() for name in text.split(",") if name.strip()] if isinstance(text, str) else list(text)
    unknown = sorted(set(names) - set(PASSES))
    if unknown:
        raise ValueError(f"unknown pass(es) {', '.join(unknown)}: choose from {', '.join(PASSES)}")
    if not names:
        raise ValueError(f"no passes asked for: choose from {', '.join(PASSES)}")
    return tuple(name for name in PASSES if name in names)


def schema_compatible(version):
    return isinstance(version, str) and version.split(".")[0] == SCHEMA_VERSION.split(".")[0]
