"""Merge bundles exported in frame chunks (farm tasks) into the shot's one bundle.

Chunks carry their own depth range; the merged bundle takes the range over all of them
and re-makes every depth control image with it, so a merged bundle is byte-identical to
the same shot exported in one go.
"""

import filecmp
import shutil
from dataclasses import replace

from .finish import finish_shot
from .reader import read_bundle, validate_bundle
from .schema import PASS_FILES, is_per_frame
from .storage import BundleError, BundleWriter


def _check_chunks(bundles):
    first = bundles[0]
    for bundle in bundles[1:]:
        theirs, ours = bundle.record.shot_wide(), first.record.shot_wide()
        for path in ours:
            if theirs[path] != ours[path]:
                raise BundleError(f"{bundle.root} differs from {first.root} in {path}: "
                                  "merge only chunks of the same shot exported from the same .blend")
        if set(bundle.passes) != set(first.passes):
            raise BundleError(f"{bundle.root} has passes {sorted(bundle.passes)}, {first.root} has "
                              f"{sorted(first.passes)}: export every chunk with the same --passes")
    if "tracking" in first.passes and len(bundles) > 1:
        raise BundleError(f"the tracking pass is fixed at each chunk's first frame ({first.root} and the others): "
                          "export a shot with the tracking pass in one task, not in frame chunks")
    for before, after in zip(bundles, bundles[1:]):
        if after.frames[0] != before.frames[-1] + 1:
            raise BundleError(f"chunks {before.root} (frames {before.frames[0]}-{before.frames[-1]}) and "
                              f"{after.root} (from {after.frames[0]}) leave a gap or overlap: export the missing "
                              "frames or drop the duplicate chunk")


def _merged_manifest(bundles):
    """The first chunk's manifest over every chunk's frames, with the depth range over all of them."""
    first = bundles[0].record
    frames = [frame for bundle in bundles for frame in bundle.frames]
    passes = dict(first.passes)
    if "depth" in passes:
        passes["depth"] = replace(passes["depth"], near=min(b.passes["depth"].near for b in bundles),
                                  far=max(b.passes["depth"].far for b in bundles))
    shot = replace(first.shot, frame_start=frames[0], frame_end=frames[-1], frames=frames)
    return replace(first, shot=shot, passes=passes)


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
    manifest = _merged_manifest(bundles)
    chunk_of = {frame: bundle for bundle in bundles for frame in bundle.frames}
    with BundleWriter(out_dir, overwrite) as writer:
        for bundle in bundles:
            _copy_frames(bundle, writer)
        for member in bundles[0].cast.members:  # every chunk names the same cast (checked above)
            for reference in member.references:
                _copy_reference(bundles, reference, writer)
        cameras = [record for bundle in bundles for record in bundle.cameras()] if "camera" in manifest.passes else []
        joint_frames = [entry for bundle in bundles for entry in bundle.joints()["frames"]] \
            if "pose" in manifest.passes else []
        return finish_shot(writer, manifest, lambda frame: chunk_of[frame].depth(frame), cameras, joint_frames)


def _copy_reference(bundles, reference, writer):
    """A cast reference image, refused when the chunks hold different images under its name
    (the picture was changed between two chunks' exports)."""
    source = bundles[0].inside(reference)
    for bundle in bundles[1:]:
        if not filecmp.cmp(source, bundle.inside(reference), shallow=False):
            raise BundleError(f"{bundle.root} and {bundles[0].root} hold different {reference}: the reference image "
                              "changed between chunk exports; re-export every chunk")
    shutil.copyfile(source, writer.path(reference))


def _copy_frames(bundle, writer):
    """Per-frame files as they are, except depth controls, which finish_shot re-makes with the shot-wide range."""
    for pass_name in bundle.passes:
        for key, pattern in PASS_FILES[pass_name].items():
            if not is_per_frame(pattern) or (pass_name, key) == ("depth", "control"):
                continue
            for frame in bundle.frames:
                relative = pattern.format(frame=frame)
                shutil.copyfile(bundle.root / relative, writer.path(relative))
