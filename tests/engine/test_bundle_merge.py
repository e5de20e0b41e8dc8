"""finish_shot and the chunk merge on the engine side: an exported bundle cut into two chunks
(each with its own depth range, ended by finish_shot as the exporter ends one) merges back
into the very same bytes, and chunks that are not one shot are refused naming the field."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.bundle import depth as depth_math
from engine.bundle.finish import finish_shot
from engine.bundle.merge import merge_bundles
from engine.bundle.reader import read_bundle
from engine.bundle.schema import PASS_FILES, is_per_frame
from engine.bundle.storage import BundleError, BundleWriter


def _tree(root):
    return {path.relative_to(root): path.read_bytes() for path in sorted(Path(root).rglob("*")) if path.is_file()}


def _chunk(bundle, frames, out):
    """The frames `frames` of `bundle` as a bundle of their own, as `export_passes.py --frames` writes it."""
    depth_range = None
    for frame in frames:
        depth_range = depth_math.update_range(depth_range, bundle.depth(frame))
    near, far = depth_range
    record = bundle.record
    manifest = replace(record, shot=replace(record.shot, frame_start=frames[0], frame_end=frames[-1], frames=frames),
                       passes={**record.passes, "depth": replace(record.passes["depth"], near=near, far=far)})
    with BundleWriter(out) as writer:
        for pass_name in bundle.passes:
            for key, pattern in PASS_FILES[pass_name].items():
                if is_per_frame(pattern) and (pass_name, key) != ("depth", "control"):
                    for frame in frames:
                        relative = pattern.format(frame=frame)
                        shutil.copyfile(bundle.root / relative, writer.path(relative))
        cameras = [camera for camera in bundle.cameras() if camera["frame"] in frames]
        joint_frames = [entry for entry in bundle.joints()["frames"] if entry["frame"] in frames]
        return finish_shot(writer, manifest, bundle.depth, cameras, joint_frames)


@pytest.fixture(scope="module")
def chunks(bundle10, tmp_path_factory):
    bundle, folder = read_bundle(bundle10), tmp_path_factory.mktemp("chunks")
    return [_chunk(bundle, bundle.frames[:4], folder / "early"), _chunk(bundle, bundle.frames[4:], folder / "late")]


def test_chunks_each_have_their_own_depth_range_and_merge_into_the_same_bytes(bundle10, chunks, tmp_path):
    early, late = (read_bundle(chunk) for chunk in chunks)
    ranges = [(chunk.passes["depth"].near, chunk.passes["depth"].far) for chunk in (early, late)]
    assert ranges[0] != ranges[1]
    assert not np.array_equal(early.depth_control(early.frames[0]), read_bundle(bundle10).depth_control(early.frames[0]))
    merged = merge_bundles([chunks[1], chunks[0]], tmp_path / "merged")
    assert _tree(merged) == _tree(bundle10)


def test_chunks_of_another_source_are_refused_naming_the_field(chunks, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(chunks[1], other)
    manifest = json.loads((other / "bundle.json").read_text(encoding="utf-8"))
    manifest["source"]["blend"] = "/elsewhere/other.blend"
    (other / "bundle.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    with pytest.raises(BundleError, match=r"differs from .* in source: merge only chunks of the same shot"):
        merge_bundles([chunks[0], other], tmp_path / "merged")
    assert not (tmp_path / "merged").exists()
