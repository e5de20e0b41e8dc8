"""Merge bundles exported in frame chunks (farm tasks) into the shot's one bundle.

Chunks carry their own depth range; the merged bundle takes the range over all of them
and re-makes every depth control image with it, so a merged bundle is byte-identical to
the same shot exported in one go.
"""

import filecmp
import json
import shutil


from . import depth as depth_math
from .camera import re10k_from_records
from .reader import read_bundle, validate_bundle
from .schema import PASS_FILES, is_per_frame
from .storage import BundleError, BundleWriter

# Manifest parts that must agree across chunks of one shot.
_SHARED = (("shot", "name"), ("shot", "camera"), ("shot", "fps"), ("resolution",), ("actors",), ("source",),
           ("schema_version",), ("generator",), ("cast",))


def _get(manifest, path):
    for key in path:
        manifest = manifest.get(key)
        if manifest is None:  # an optional part (the cast before 1.2)
            return None
    return manifest


def _check_chunks(bundles):
    first = bundles[0]
    for bundle in bundles[1:]:
        for path in _SHARED:
            if _get(bundle.manifest, path) != _get(first.manifest, path):
                raise BundleError(f"{bundle.root} differs from {first.root} in {'.'.join(path)}: "
                                  "merge only chunks of the same shot exported from the same .blend")
        if set(bundle.passes) != set(first.passes):
            raise BundleError(f"{bundle.root} has passes {sorted(bundle.passes)}, {first.root} has "
                              f"{sorted(first.passes)}: export every chunk with the same --passes")
    for before, after in zip(bundles, bundles[1:]):
        if after.frames[0] != before.frames[-1] + 1:
            raise BundleError(f"chunks {before.root} (frames {before.frames[0]}-{before.frames[-1]}) and "
                              f"{after.root} (from {after.frames[0]}) leave a gap or overlap: export the missing "
                              "frames or drop the duplicate chunk")


def merge_bundles(chunk_dirs, out_dir, overwrite=False):
    """Write one bundle at `out_dir` from chunk bundles of the same shot; returns its path."""
    if not chunk_dirs:
        raise BundleError("no chunk bundles to merge: pass the chunk folders")
    for chunk in chunk_dirs:
        problems = validate_bundle(chunk)
        if problems:
            raise BundleError(f"chunk {chunk} is not a valid bundle ({problems[0]}): re-run its export")
    bundles = sorted((read_bundle(chunk) for chunk in chunk_dirs), key=lambda b: b.frames[0])
    _check_chunks(bundles)
    manifest = json.loads(json.dumps(bundles[0].manifest))
    frames = [frame for bundle in bundles for frame in bundle.frames]
    manifest["shot"].update(frame_start=frames[0], frame_end=frames[-1], frames=frames)
    depth_entry = manifest["passes"].get("depth")
    if depth_entry is not None:
        depth_entry["near"] = min(b.passes["depth"]["near"] for b in bundles)
        depth_entry["far"] = max(b.passes["depth"]["far"] for b in bundles)
    with BundleWriter(out_dir, overwrite) as writer:
        for bundle in bundles:
            _copy_frames(bundle, writer, depth_entry)
        for member in bundles[0].cast.members:  # every chunk names the same cast (checked above)
            for reference in member.references:
                _copy_reference(bundles, reference, writer)
        if "camera" in manifest["passes"]:
            cameras = [record for bundle in bundles for record in bundle.cameras()]
            writer.write_json(PASS_FILES["camera"]["cameras"], {"convention": "opencv", "frames": cameras})
            writer.write_text(PASS_FILES["camera"]["re10k"], re10k_from_records(
                cameras, manifest["shot"]["name"], frames[0], manifest["shot"]["fps"],
                bundles[0].width, bundles[0].height))
        if "pose" in manifest["passes"]:
            joints = bundles[0].joints()
            joints["frames"] = [entry for bundle in bundles for entry in bundle.joints()["frames"]]
            writer.write_json(PASS_FILES["pose"]["joints"], joints)
        return writer.commit(manifest)


def _copy_reference(bundles, reference, writer):
    """A cast reference image, refused when the chunks hold different images under its name
    (the picture was changed between two chunks' exports)."""
    source = bundles[0].inside(reference)
    for bundle in bundles[1:]:
        if not filecmp.cmp(source, bundle.inside(reference), shallow=False):
            raise BundleError(f"{bundle.root} and {bundles[0].root} hold different {reference}: the reference image "
                              "changed between chunk exports; re-export every chunk")
    shutil.copyfile(source, writer.path(reference))


def _copy_frames(bundle, writer, depth_entry):
    """Per-frame files as they are, except depth controls, re-made with the shot-wide range."""
    for pass_name in bundle.passes:
        for key, pattern in PASS_FILES[pass_name].items():
            if not is_per_frame(pattern):
                continue
            for frame in bundle.frames:
                relative = pattern.format(frame=frame)
                if pass_name == "depth" and key == "control":
                    control = depth_math.disparity_control(bundle.depth(frame), depth_entry["near"], depth_entry["far"])
                    writer.write_png(relative, control)
                else:
                    shutil.copyfile(bundle.root / relative, writer.path(relative))
