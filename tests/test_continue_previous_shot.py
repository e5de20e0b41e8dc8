"""Continue From Previous Shot (Generate panel) on real Blender: the previous shot's accepted take
becomes the request's --continue-from, and a first shot, one with nothing accepted or a gone take is
refused in the panel's words; so is a backend the engine's report says cannot continue a take (Generate,
Generate All Shots, Regenerate), and Regenerate of a continued take continues from the same take."""

from types import SimpleNamespace

import pytest

from engine.bundle.png import write_png


def two_shots(bpy, scene):
    """Shots A (frames 1-10) and B (11-20): markers bound to two cameras."""
    for name, frame in (("A", 1), ("B", 11)):
        camera = bpy.data.objects.new(name + "_cam", bpy.data.cameras.new(name + "_cam"))
        scene.collection.objects.link(camera)
        scene.timeline_markers.new(name, frame=frame).camera = camera
    scene.frame_start, scene.frame_end = 1, 20


def test_the_previous_shots_accepted_take_is_continued(blockcast, empty_scene, tmp_path):
    import numpy as np

    bpy = pytest.importorskip("bpy")
    from blockcast.addon.blender import errors, sequencer
    from blockcast.addon.blender.shot_jobs import previous_accepted_take
    from blockcast.addon.engine_request import shot_request
    from blockcast.addon.strip_layout import PREFIX

    scene = empty_scene
    two_shots(bpy, scene)
    with pytest.raises(errors.UserError, match="Continue From Previous Shot: A is the first shot"):
        previous_accepted_take(scene, "A")
    with pytest.raises(errors.UserError, match="Continue From Previous Shot: A has no accepted take yet"):
        previous_accepted_take(scene, "B")

    take = tmp_path / "take-001-wan-vace-s0"
    (take / "frames").mkdir(parents=True)
    write_png(take / "frames" / "0001.png", np.zeros((4, 4, 3), np.uint8))
    editor = sequencer.sequence_editor(scene, create=True)
    for accepted, channel in ((False, 2), (True, 1)):
        strip = sequencer.new_image_strip(editor, f"A take {channel}", [take / "frames" / "0001.png"], channel, 1)
        strip[PREFIX + "take_json"], strip[PREFIX + "shot"] = str(take / "take.json"), "A"
        strip[PREFIX + "accepted"] = accepted
    assert previous_accepted_take(scene, "B") == take
    moved = take.rename(tmp_path / "moved")
    with pytest.raises(errors.UserError, match="Continue From Previous Shot: A's accepted take .* is gone: Accept "
                                               "another take of A, or untick Continue From Previous Shot"):
        previous_accepted_take(scene, "B")
    moved.rename(take)

    from blockcast.addon.ui.properties import BlockcastShotGeneration

    checkbox = BlockcastShotGeneration.__annotations__["continue_previous"]
    assert checkbox.keywords["name"] == "Continue From Previous Shot" and not checkbox.keywords.get("default")
    settings = SimpleNamespace(prompt="", negative_prompt="", seed=0, takes=1, steps=0, long_side=0,
                               weights=dict, depth_of_field=True, motion_blur=True)
    request = shot_request(settings, None, "wan-vace", "cpu", (64, 36), {}, "", continue_from=take)
    assert request.continue_from == str(take) and f"--continue-from={take}" in request.to_arguments("/b", "/t")


# In a fresh process (bpy 4.2 as a module crashes on exit once the add-on was registered): the real
# engine's `backends --json` report (no Check Engine before: Generate asks it), shots A and B.
END_TO_END = r"""
import json, os, shutil, sys
from pathlib import Path
repo, work = sys.argv[1], Path(sys.argv[2])
sys.path[:0] = [repo + "/scripts", repo + "/tests", repo]
from blockcast_import import import_blockcast
blockcast = import_blockcast()
import bpy
import numpy as np
from blockcast.addon.blender import sequencer
from blockcast.addon.blender.shot_jobs import regenerate_job
from blockcast.addon.ui import preferences
from blockcast.engine.bundle.png import write_png
from blockcast.engine.bundle.take_record import ContinuedFrom, TakeBundle, TakeRecord
from test_continue_previous_shot import two_shots

bpy.ops.wm.read_factory_settings(use_empty=True)
blockcast.register()
scene = bpy.context.scene
two_shots(bpy, scene)
bpy.ops.wm.save_as_mainfile(filepath=str(work / "shots.blend"))
report = {}

def call(operator, **kwargs):
    try:
        return sorted(operator(**kwargs))
    except RuntimeError as exc:  # what the operator reported as an error
        return str(exc)

def take(folder, shot, first, backend, continued=None):
    (folder / "frames").mkdir(parents=True)
    frames = [f"frames/{n:04d}.png" for n in range(first, first + 2)]
    for name in frames:
        write_png(folder / name, np.zeros((4, 4, 3), np.uint8))
    record = TakeRecord(take=folder.name, backend=backend, seed=1, frames=frames,
                        bundle=TakeBundle(path=str(work / "bundle"), shot=shot, frames=[first, first + 1]),
                        continued_from=continued)
    (folder / "take.json").write_text(record.dumps())
    return sequencer.add_takes(scene, [folder], shot)[0]

for name in "AB":
    settings = scene.blockcast.shot_generation_settings(name, create=True)
    settings.continue_previous, settings.backend = True, "previz"
scene.blockcast.shot = "B"
report["generate"] = call(bpy.ops.blockcast.generate)
report["generate_all"] = call(bpy.ops.blockcast.generate_all)
report["exported"] = [str(p) for p in work.rglob("bundle.json")]

class Layout:  # the Generate panel's labels; every property drawn must exist
    def __getattr__(self, name):
        return lambda *a, **k: Layout()
    def prop(self, data, name, **kwargs):
        assert name in data.bl_rna.properties, name
    def label(self, text="", icon="NONE"):
        labels.append(text)

labels = []
bpy.types.BLOCKCAST_PT_generate.draw(type("Panel", (), {"layout": Layout()})(), bpy.context)
report["panel"] = [text for text in labels if "continue" in text]

(work / "bundle").mkdir()
previous = work / "takes" / "A" / "take-001-wan-vace-s0"
take(previous, "A", 1, "wan-vace")
strip = take(work / "takes" / "B" / "take-001-wan-vace-s1", "B", 11, "wan-vace", ContinuedFrom(str(previous), 5))
made = regenerate_job(scene, strip, preferences.preferences(), make_job=lambda *args: args)
report["regenerate_asks"] = made[2].continue_from
odd = take(work / "takes" / "B" / "take-002-previz-s2", "B", 11, "previz", ContinuedFrom(str(previous), 5))
report["regenerate_previz"] = call(bpy.ops.blockcast.regenerate_take, strip=odd.name)
shutil.rmtree(previous)
report["regenerate_gone"] = call(bpy.ops.blockcast.regenerate_take, strip=strip.name)
report["takes_after"] = sorted(p.name for p in (work / "takes" / "B").iterdir())
print("REPORT " + json.dumps(report), flush=True)
os._exit(0)
"""


def test_continue_from_previous_shot_end_to_end_refusals_and_regenerate(blockcast, tmp_path):
    """Generate and Generate All Shots refuse a backend the engine's report says cannot continue a take,
    in the panel's words, before exporting (the panel shows it in red too); Regenerate of a continued
    take asks for the same previous take again, and refuses once that take's folder is gone."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    script = tmp_path / "continue.py"
    script.write_text(END_TO_END)
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"))
    result = subprocess.run([sys.executable, str(script), str(repo), str(tmp_path)], capture_output=True, text=True,
                            env=env, timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(lines[0][len("REPORT "):])
    cannot = ("Continue From Previous Shot: the previz backend cannot continue a take — untick Continue From "
              "Previous Shot, or choose wan-vace or wan22-vace as Backend")
    assert cannot in report["generate"]
    assert f"A: {cannot}" in report["generate_all"] and f"B: {cannot}" in report["generate_all"]
    assert report["exported"] == []  # refused before any export
    assert report["panel"] == ["previz cannot continue a take; wan-vace, wan22-vace can"]
    previous = tmp_path / "takes" / "A" / "take-001-wan-vace-s0"
    assert report["regenerate_asks"] == str(previous)
    assert "Continue From Previous Shot: the previz backend cannot continue a take" in report["regenerate_previz"]
    assert (f"Continue From Previous Shot: B's take take-001-wan-vace-s1 continued from {previous}, which is gone: "
            "Accept a take of A again and Generate, or untick Continue From Previous Shot and Generate"
            ) in report["regenerate_gone"]
    assert report["takes_after"] == ["take-001-wan-vace-s1", "take-002-previz-s2"]  # nothing launched
