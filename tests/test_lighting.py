"""Lighting ratio on real bpy and Cycles: an actor lit from its two sides by point lights of known
power and distance, exported with the shading (clay), mask and pose passes; the measured key ÷ fill
ratio of the head and torso is within 10 % of (key power / key distance²) ÷ (fill power / fill
distance²). Frame 1 is a 4:1 set-up, frame 2 a 2:1 one (the key's power is keyed down)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.bundle import read_bundle

from lighting_scene import expected_ratio, two_light_scene

REPO = Path(__file__).resolve().parents[1]
FILL_POWER, KEY_POWERS = 100.0, {1: 200.0, 2: 100.0}


def _expected(frame):
    return expected_ratio(KEY_POWERS[frame], FILL_POWER)


def test_measured_ratio_follows_the_lights_power_over_distance_squared(glue, empty_scene, tmp_path):
    from blockcast.addon.lighting import bundle_lighting, format_ratio, lighting_record
    scene = empty_scene
    key = two_light_scene(glue, scene, KEY_POWERS[1], FILL_POWER, frames=(1, 2))[0].data
    for frame, power in KEY_POWERS.items():
        key.energy = power
        key.keyframe_insert("energy", frame=frame)
    shot = glue.shots.resolve_shot(scene)
    bundle = read_bundle(glue.export.export_shot(scene, shot, tmp_path / "b", "shading,mask,pose,camera"))
    for frame in KEY_POWERS:
        shading = bundle.shading(frame)
        assert shading[..., :3].max() < 250  # nothing clipped: the 8-bit pass still measures the key side
        (ana,) = bundle_lighting(bundle, [frame])
        for region in (ana.head, ana.torso):
            # camera-facing: the actor's left (+X, the key) is screen-right
            assert region.key_side == "screen-right" and region.pixels > 100
            assert region.ratio == pytest.approx(_expected(frame), rel=0.10), (frame, region)
    assert format_ratio(_expected(1)) == "4:1" and format_ratio(_expected(2)) == "2:1"
    # bundle.json carries the same measurement (the median over the shot's two frames) for each actor
    recorded = bundle.manifest["actors"][0]["lighting"]
    assert recorded == lighting_record(bundle_lighting(bundle)[0]).to_json()
    for region in (recorded["head"], recorded["torso"]):
        assert region["key_side"] == "screen-right"
        assert region["ratio"] == pytest.approx((_expected(1) + _expected(2)) / 2, rel=0.10)
    # without the mask pass the exporter reads the actor from the objects pass: the same measurement
    by_objects = read_bundle(glue.export.export_shot(scene, shot, tmp_path / "o", "shading,objects,pose,camera"))
    assert by_objects.manifest["actors"][0]["lighting"] == recorded
    assert "lighting" not in read_bundle(glue.export.export_shot(scene, shot, tmp_path / "p", "pose,camera")
                                         ).manifest["actors"][0]
    script = str(REPO / "scripts" / "coverage_report.py")
    run = subprocess.run([sys.executable, script, "--bundle", str(bundle.root), "--json"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    (ana,) = json.loads(run.stdout[run.stdout.index("{"):])["lighting"][bundle.name]
    assert ana["head"]["ratio"] == pytest.approx(math.sqrt(_expected(1) * _expected(2)), rel=0.10)  # median of 2
    text = subprocess.run([sys.executable, script, "--bundle", str(bundle.root)], capture_output=True, text=True,
                          timeout=120).stdout
    assert f"Lighting in {bundle.name} (clay pass, key ÷ fill): Ana head " in text


def test_split_ratio_on_a_drawn_image(blockcast):
    """Bpy-free: two flat halves of known linear luminance, split by a vertical axis."""
    from blockcast.addon.lighting import RegionRatio, luminance, split_ratio
    lum = np.zeros((10, 10))
    lum[:, :5], lum[:, 5:] = 0.1, 0.3
    region = np.ones((10, 10), bool)
    assert split_ratio(lum, region, (4.5, 0), (4.5, 9)) == RegionRatio(pytest.approx(3.0), "screen-right", 100)
    assert split_ratio(lum, region, (4.5, 9), (4.5, 0)).key_side == "screen-right"  # the axis's sense is irrelevant
    lum[:, :5] = 0.0
    assert split_ratio(lum, region, (4.5, 0), (4.5, 9)).ratio is None  # no fill: unbounded
    assert luminance(np.ones((1, 3)))[0] == pytest.approx(1.0)
