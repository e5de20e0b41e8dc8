"""Variations scenarios run inside a fresh bpy with the add-on registered (tests/test_variations_addon.py
starts one process per scenario and checks its report).

    python tests/variations_scenarios.py SCENARIO BLEND [MODEL_FOLDER]

BLEND is a copy of the demo shot in the test's folder: the takes go beside it (the add-on's
fallback takes folder, BLEND's folder/blockcast/takes). The engine is the checkout's
(.venv-engine), on its default backend (previz) unless the scenario says otherwise. Prints one
`REPORT {json}` line, then leaves with os._exit (bpy 4.2 as a module crashes on exit once the
add-on was registered).
"""

import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "scripts"), str(REPO)]
from blockcast_import import import_blockcast  # noqa: E402

blockcast = import_blockcast()
import bpy  # noqa: E402

from blockcast.addon.blender import generation, sequencer  # noqa: E402
from blockcast.addon.blender.shots import resolve_shot  # noqa: E402
from blockcast.addon.blender.variations import thumbnails  # noqa: E402
from blockcast.addon.blender.variations_jobs import variations_job  # noqa: E402
from blockcast.addon.ui.panels_variations import BLOCKCAST_PT_variations  # noqa: E402
from blockcast.addon.ui import preferences as preferences_module  # noqa: E402
from blockcast.addon.ui.preferences import preferences  # noqa: E402
from blockcast.engine.bundle.take_record import read_take  # noqa: E402

SHOT = "Scene"  # the demo scene's camera shot is named after its scene


def call(operator, **kwargs):
    """An operator's result, or the text of the error it reported (which raises in background mode)."""
    try:
        return sorted(operator(**kwargs))
    except RuntimeError as exc:
        return str(exc)


class Layout:
    """Records what a panel draws (thumbnails, checkboxes, buttons), so its draw() runs headless."""

    def __init__(self, log):
        self.log, self.enabled, self.active, self.scale_y = log, True, True, 1.0

    def row(self, **_):
        self.log.append("row")
        return Layout(self.log)

    column = box = row

    def label(self, text="", icon="NONE"):
        self.log.append(f"label {text}")

    def prop(self, data, name, text=None, **_):
        self.log.append(f"prop {name} {text}" if text else f"prop {name}")

    def template_icon(self, icon_value=0, scale=1.0):
        self.log.append("thumbnail")

    def operator(self, idname, text="", icon="NONE"):
        self.log.append(f"button {idname} {text}".rstrip())
        return SimpleNamespace()


def panel_lines():
    log = []
    context = SimpleNamespace(scene=bpy.context.scene, region=SimpleNamespace(width=300),
                              preferences=bpy.context.preferences)
    BLOCKCAST_PT_variations.draw(SimpleNamespace(layout=Layout(log)), context)
    return [line for line in log if line != "row"]


def shot_settings(seed=3, backend="", steps=1):
    """The demo shot's Generate settings, with few denoising steps (this CPU is shared)."""
    scene = bpy.context.scene
    scene.blockcast.shot = SHOT
    settings = scene.blockcast.shot_generation_settings(SHOT, create=True)
    settings.seed, settings.backend, settings.prompt, settings.steps = seed, backend, "a red kite", steps
    return settings


def sheet_report(scene):
    entry = scene.blockcast_variations.sheet(SHOT)
    if entry is None:
        return {"entry": None}
    image = bpy.data.images.get(entry.image)
    return {"entry": entry.folder, "seeds": [tile.seed for tile in entry.tiles], "image": entry.image,
            "image_file": bpy.path.abspath(image.filepath) if image is not None else None,
            "image_size": list(image.size) if image is not None else None,
            "thumbnails": sorted(Path(key).name for key in thumbnails().keys())}


def cast_colours(scene):
    """{object name: "#rrggbb"} of the cast's locked colours."""
    colours = {}
    for member in scene.blockcast_cast.members:
        for entry in member.objects:
            if entry.use_color and entry.object is not None:
                colours[entry.object.name] = "#" + "".join(f"{round(c * 255):02x}" for c in entry.color)
    return colours


def loop():
    """Make Variations (6), pick two seeds apart, Make Takes, Lock Look from a third."""
    scene = bpy.context.scene
    settings = shot_settings(seed=3)
    scene.blockcast_variations.count = 6
    report = {"make": call(bpy.ops.blockcast.make_variations), "seed_after": settings.seed}
    report.update(sheet_report(scene), panel=panel_lines())
    entry = scene.blockcast_variations.sheet(SHOT)
    if entry is None:
        return report
    looks = {entry["seed"]: entry["look"]
             for entry in json.loads((Path(entry.folder) / "variations.json").read_text())["variations"]}
    report["looks"] = looks
    report["show_sheet"] = call(bpy.ops.blockcast.show_variations_sheet)
    report["takes_without_picks"] = call(bpy.ops.blockcast.make_variation_takes)
    for tile in entry.tiles:
        tile.picked = tile.seed in (4, 7)
    report["panel_picked"] = [line for line in panel_lines() if line.startswith("button blockcast.make_variation")]
    report["takes"] = call(bpy.ops.blockcast.make_variation_takes)
    strips = sequencer.shot_takes(scene, SHOT)
    records = [read_take(Path(strip["blockcast_take_json"]).parent) for strip in strips]
    report["take_seeds"] = sorted(record.seed for record in records)
    report["take_looks"] = {str(record.seed): record.look.objects for record in records}
    report["take_bundles"] = sorted({record.bundle.path for record in records})
    report["lock"] = call(bpy.ops.blockcast.lock_look_from_variation, seed=5)
    report["cast_colours"] = cast_colours(scene)
    report["lock_unknown"] = call(bpy.ops.blockcast.lock_look_from_variation, seed=99)
    report["again"] = call(bpy.ops.blockcast.make_variations)
    report["again_sheet"] = sheet_report(scene)
    report["images"] = sorted(image.name for image in bpy.data.images)
    return report


def cancel():
    """Start Make Variations (a big sheet), cancel once the engine is sampling."""
    scene = bpy.context.scene
    shot_settings(seed=0)
    job, _ = variations_job(scene, resolve_shot(scene, SHOT), preferences(), scene.blockcast.passes(), None, 300)
    deadline = time.monotonic() + 240
    while job.tick() and job.progress.phase in ("starting", "exporting", "launching") and time.monotonic() < deadline:
        time.sleep(0.02)
    report = {"phase_when_cancelled": job.progress.phase, "cancel": call(bpy.ops.blockcast.cancel_generation)}
    report["phase"] = job.wait()
    report.update(running_job=generation.running_job() is not None, reports=job.reports,
                  bundle_left=job.bundle_dir.exists(), images=[image.name for image in bpy.data.images],
                  sheets=len(scene.blockcast_variations.sheets),
                  left=sorted(str(p.relative_to(job.takes_dir)) for p in job.takes_dir.rglob("*")))
    return report


def diffusion(model_folder):
    """A diffusion backend (wan-vace on tiny random weights in MODEL_FOLDER/wan-vace/pipeline): the
    same button makes full takes with distinct seeds."""
    preferences_module._Defaults.model_folder = model_folder  # the plain package's preferences
    scene = bpy.context.scene
    settings = shot_settings(seed=5, backend="wan-vace")
    settings.long_side = 64
    scene.blockcast_variations.count = 2
    report = {"make": call(bpy.ops.blockcast.make_variations), "seed_after": settings.seed,
              "panel": [line for line in panel_lines() if line.startswith("label")]}
    strips = sequencer.shot_takes(scene, SHOT)
    report["take_seeds"] = sorted(strip["blockcast_seed"] for strip in strips)
    report["sheets"] = len(scene.blockcast_variations.sheets)
    return report


def main():
    scenario, blend, *extra = sys.argv[1:]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blockcast.register()
    bpy.ops.wm.open_mainfile(filepath=blend)
    report = {"loop": loop, "cancel": cancel, "diffusion": diffusion}[scenario](*extra)
    print("REPORT " + json.dumps(report, default=str), flush=True)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
