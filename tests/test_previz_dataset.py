"""The previz training-data generator: real procedurally blocked shots through our exporter."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from engine.bundle import read_bundle, validate_bundle
from engine.bundle.png import read_png

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_previz_dataset.py"


def test_dataset_clips_are_complete_reproducible_and_resumable(tmp_path):
    command = [sys.executable, str(SCRIPT), "--out", str(tmp_path / "a"), "--clips", "2", "--frames", "3",
               "--size", "64x36", "--beauty-samples", "4"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    clips = sorted((tmp_path / "a").iterdir())
    assert [c.name for c in clips] == ["clip_000000", "clip_000001"]
    for clip in clips:
        assert validate_bundle(clip / "bundle") == []
        bundle = read_bundle(clip / "bundle")
        assert set(bundle.passes) == {"depth", "pose", "camera", "shading", "normal", "flow", "mask", "objects"}
        beauty, objects = read_png(clip / "beauty" / "0002.png"), bundle.object_index(2)
        assert beauty.shape == (36, 64, 3) and objects.shape == (36, 64)
        assert len(np.unique(objects)) >= 3  # floor, wall, props, actors each have their own index
        saturation = beauty.max(axis=2).astype(int) - beauty.min(axis=2)
        assert saturation.mean() > saturation.min()  # coloured materials, not the clay pass
    again = subprocess.run(command[:3] + [str(tmp_path / "b")] + command[4:], capture_output=True, timeout=300)
    assert again.returncode == 0
    for name in ("beauty/0003.png", "bundle/objects/0001.png", "bundle/depth/0002.png"):
        assert (tmp_path / "a" / "clip_000001" / name).read_bytes() == (tmp_path / "b" / "clip_000001" / name).read_bytes()
    stamp = (clips[0] / "beauty" / "0001.png").stat().st_mtime_ns
    subprocess.run(command, check=True, capture_output=True, timeout=300)  # finished clips are kept as they are
    assert (clips[0] / "beauty" / "0001.png").stat().st_mtime_ns == stamp
