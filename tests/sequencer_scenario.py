"""The Takes operators and panel inside a fresh bpy with the built extension installed
(tests/test_sequencer.py runs it; registering in the pytest process crashes bpy 4.2 on exit).

    python tests/sequencer_scenario.py ZIP TAKES_JSON

TAKES_JSON: {"A": [take folder, ...], "B": [...]}. Prints one `REPORT {json}` line.
"""

import importlib
import json
import sys

import bpy

PACKAGE = "bl_ext.user_default.blockcast"


def module(name):
    return importlib.import_module(f"{PACKAGE}.addon.{name}")


def call(operator, **kwargs):
    try:
        return sorted(operator(**kwargs))
    except RuntimeError as exc:
        return str(exc)


class Layout:
    """Records what a panel draws (headless Blender has no UILayout); operators must exist."""
    labels, drawn = [], []

    def __getattr__(self, name):
        if name in ("row", "column", "box"):
            return lambda *a, **k: Layout()
        raise AttributeError(name)

    def operator(self, idname, **kwargs):
        group, name = idname.split(".")
        assert hasattr(getattr(bpy.ops, group), name), idname
        Layout.drawn.append(idname)
        return type("Properties", (), {})()

    def label(self, text="", icon="NONE"):
        Layout.labels.append(text)

    def template_icon(self, icon_value=0, scale=1.0):
        Layout.drawn.append("thumbnail")

    def panel(self, idname, default_closed=False):
        Layout.drawn.append(f"{idname} {'closed' if default_closed else 'open'}")
        return Layout(), (None if default_closed else Layout())


def blockcast_strips(scene):
    editor = scene.sequence_editor
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    return sorted([s.channel, editor.channels[s.channel].name, s.get("blockcast_take") or s.get("blockcast_control"),
                   s.mute] for s in strips if s.get("blockcast_shot"))


def draw_takes_panel():
    Layout.labels.clear()
    Layout.drawn.clear()
    bpy.types.BLOCKCAST_PT_takes.draw(type("Panel", (), {"layout": Layout()})(), bpy.context)
    return sorted(set(Layout.labels)), sorted(set(Layout.drawn))


def main():
    zip_path, takes = sys.argv[1], json.loads(sys.argv[2])
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 32, 18, 100
    sequencer = module("blender.sequencer")
    strips = {shot: [s.name for s in sequencer.add_takes(scene, folders, shot)] for shot, folders in takes.items()}
    report = {"before": blockcast_strips(scene)}
    scene.sequence_editor.active_strip = scene.sequence_editor.strips_all[strips["A"][1]] if hasattr(
        scene.sequence_editor, "strips_all") else scene.sequence_editor.sequences_all[strips["A"][1]]
    report["panel_before"] = draw_takes_panel()
    report["accept"] = call(bpy.ops.blockcast.accept_take, strip=strips["A"][1])
    report["accept_missing"] = call(bpy.ops.blockcast.accept_take, strip="nope")
    report["controls"] = call(bpy.ops.blockcast.load_control_strips, strip=strips["A"][1])
    report["controls_again"] = call(bpy.ops.blockcast.load_control_strips, strip=strips["A"][1])
    report["after"] = blockcast_strips(scene)
    report["show_review"] = call(bpy.ops.blockcast.show_review)
    review = module("blender.review_scene").review_scene(scene)
    report["review"] = [[t.name, t.mute, round(t.transform.offset_x, 3), round(t.transform.offset_y, 3)]
                        for t in module("blender.review_scene").review_strips(review, "A")]
    report["scene_in_review"] = bpy.context.window.scene.name
    report["panel_in_review"] = draw_takes_panel()
    report["back"] = call(bpy.ops.blockcast.show_review)
    report["scene_after_back"] = bpy.context.window.scene.name
    report["panel_after"] = draw_takes_panel()
    print("REPORT " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
