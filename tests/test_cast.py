"""The scene's cast on real bpy: stored in the .blend, read back without the add-on, written into
every shot's bundle with its reference images; Lock Look from Take; the Cast panel.

Editing through the registered add-on (operators, panels) runs in a fresh bpy process with the
built extension installed (CAST_SCENARIO), as in tests/test_extension.py: bpy 4.2 as a module
crashes on exit once properties with Python callbacks were registered in-process. This process
then opens the .blend it saved, the way headless export and farm tasks read it.
"""

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from engine.bundle import png, read_bundle, validate_bundle

REPO = Path(__file__).resolve().parents[1]
SIZE = (32, 18)
RED = "#c8281e"



def _camera(scene, name, location, rotation):
    import bpy
    camera = bpy.data.objects.new(name, bpy.data.cameras.new(name))
    camera.location, camera.rotation_euler = location, rotation
    scene.collection.objects.link(camera)
    return camera


def _scene(glue, scene):
    """An actor facing two cameras (a shot and its reverse, bound to markers) and a prop."""
    import bpy
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = *SIZE, 100
    scene.frame_start, scene.frame_end = 1, 2
    glue.actors.add_proxy_actor(scene, "Anna", "a woman in a long red coat")
    kite = bpy.data.objects.new("Kite", bpy.data.meshes.new("Kite"))
    kite.data.from_pydata([(0.5, -1, 1), (1.0, -1, 1), (1.0, -1, 1.5)], [], [(0, 1, 2)])
    scene.collection.objects.link(kite)
    front = _camera(scene, "Front", (0, -6, 1), (1.5708, 0, 0))
    back = _camera(scene, "Back", (0, 6, 1), (1.5708, 0, 3.1416))
    scene.camera = front
    for frame, camera in ((1, front), (2, back)):
        scene.timeline_markers.new(camera.name, frame=frame).camera = camera
    return kite


def _store_cast(scene, document):
    """Write the Cast panel's data as the .blend stores it (what the registered group writes)."""
    holder = scene.bl_system_properties_get(do_create=True) if hasattr(scene, "bl_system_properties_get") else scene
    holder["blockcast_cast"] = document


def _reference_png(path, colour=(200, 40, 30)):
    png.write_png(path, np.full((8, 12, 3), colour, np.uint8))
    return path


def _export(glue, scene, out, shot_name=None, passes="depth"):
    shot = glue.shots.resolve_shot(scene, shot_name)
    return read_bundle(glue.export.export_shot(scene, shot, out, passes))


def test_legacy_file_exports_its_actor_descriptions_in_the_cast(glue, empty_scene, tmp_path):
    """Made with the add-on before the cast existed: descriptions only as the armature's custom properties."""
    glue.actors.add_proxy_actor(empty_scene, "Ben", "a tall man in a grey suit", (1, 0, 0))
    twin = glue.actors.add_proxy_actor(empty_scene, "Ben", "his twin", (-1, 0, 0))
    twin["blockcast_name"] = "Ben"  # names were not unique then (now a second Ben is "Ben 2")
    _scene(glue, empty_scene)
    bundle = _export(glue, empty_scene, tmp_path / "b")
    assert bundle.manifest["schema_version"] == "1.6" and not validate_bundle(bundle.root)
    members = {m.name: m for m in bundle.cast.members}
    assert sorted(members) == ["Anna", "Ben", "Ben (Ben 2)"]
    for actor in bundle.actors:
        member = next(m for m in bundle.cast.members if m.objects == (f"{actor.object}_body",))
        assert member.description == actor.description and member.role == "actor"
    assert members["Anna"].description == "a woman in a long red coat" and bundle.cast.look_seed is None


def test_both_shots_of_a_scene_carry_the_same_cast_and_reference_files(glue, empty_scene, tmp_path):
    import bpy
    kite = _scene(glue, empty_scene)
    reference = _reference_png(tmp_path / "kite ref.png")
    _store_cast(empty_scene, {"use_look_seed": 1, "look_seed": 7, "members": [
        {"name": "Kite", "role": 1, "description": "a yellow kite", "use_look_seed": 1, "look_seed": 3,
         "objects": [{"object": kite, "use_color": 1, "color": [1.0, 0.8, 0.0]}],
         "references": [{"filepath": str(reference)}]},
        {"name": "Anna's look", "role": 0, "actor": bpy.data.objects["Anna"],
         "objects": [{"object": bpy.data.objects["Anna_body"], "use_color": 0}]}]})
    shots = [shot.name for shot in glue.shots.scene_shots(empty_scene)]
    assert shots == ["Front", "Back"]
    bundles = [_export(glue, empty_scene, tmp_path / name, name) for name in shots]
    documents = [json.loads((b.root / "bundle.json").read_text())["cast"] for b in bundles]
    assert documents[0] == documents[1]
    assert documents[0] == {"look_seed": 7, "members": [
        {"name": "Kite", "role": "prop", "objects": ["Kite"], "description": "a yellow kite",
         "references": ["cast/kite-1.png"], "colors": {"Kite": "#ffcc00"}, "look_seed": 3},
        {"name": "Anna", "role": "actor", "objects": ["Anna_body"], "description": "a woman in a long red coat",
         "references": [], "colors": {}, "look_seed": None}]}
    for bundle in bundles:
        assert bundle.inside("cast/kite-1.png").read_bytes() == reference.read_bytes()


@pytest.mark.parametrize("damage, words", [
    ("missing", "does not exist"), ("corrupt", "damaged"), ("not_image", "not a PNG or JPEG"),
    ("huge_pixels", "9000x9000 pixels"), ("huge_file", "MiB")])
def test_a_bad_reference_is_refused_before_any_rendering(glue, empty_scene, tmp_path, damage, words):
    kite = _scene(glue, empty_scene)
    path = tmp_path / "ref.png"
    if damage == "corrupt":
        path.write_bytes(_reference_png(tmp_path / "whole.png").read_bytes()[:-20])  # cut short
    elif damage == "not_image":
        path.write_text("a kite")
    elif damage == "huge_pixels":
        header = struct.pack(">IIBBBBB", 9000, 9000, 8, 2, 0, 0, 0)
        chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data  # noqa: E731
                                    + struct.pack(">I", zlib.crc32(kind + data)))
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    elif damage == "huge_file":
        with open(path, "wb") as handle:
            handle.truncate(glue.core.MAX_REFERENCE_BYTES + 1)
    _store_cast(empty_scene, {"members": [{"name": "Kite", "role": 1, "objects": [{"object": kite}],
                                           "references": [{"filepath": str(path)}]}]})
    with pytest.raises(glue.export.ExportError, match=f"Cast panel: Kite's reference image: .*{words}"):
        _export(glue, empty_scene, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))  # nothing rendered or written


def test_a_jpeg_reference_saved_by_blender_is_read_and_a_cut_one_refused(glue, empty_scene, tmp_path):
    import bpy
    image = bpy.data.images.new("ref", 12, 8)
    image.filepath_raw, image.file_format = str(tmp_path / "ref.jpg"), "JPEG"
    image.save()
    assert glue.core.check_reference_image(str(tmp_path / "ref.jpg"), "Reference") == "jpg"
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "ref.jpg").read_bytes()[:-40])
    with pytest.raises(glue.core.CastInputError, match="Reference: .*cut.jpg is damaged"):
        glue.core.check_reference_image(str(tmp_path / "cut.jpg"), "Reference")


def test_cast_mistakes_are_named_in_the_panels_words(glue, empty_scene, tmp_path):
    import bpy
    kite = _scene(glue, empty_scene)
    body = bpy.data.objects["Anna_body"]
    cases = [
        ([{"name": "Kite", "role": 1, "objects": [{"object": kite}, {"object": body}]}],
         "'Anna_body' belongs to both 'Kite' and 'Anna'"),
        ([{"name": "Anna", "role": 1, "objects": [{"object": kite}]}], "'Anna' are used twice"),
        ([{"name": " ", "role": 1, "objects": [{"object": kite}]}], "the prop made of Kite has no name"),
        ([{"name": "Anna", "role": 0, "actor": bpy.data.objects["Anna"],
           "objects": [{"object": kite, "use_color": 1, "color": [1, 0, 0]}]}], "locked colour for 'Kite'"),
    ]
    for members, words in cases:
        _store_cast(empty_scene, {"members": members})
        with pytest.raises(glue.export.ExportError, match=words):
            _export(glue, empty_scene, tmp_path / "out")


def test_shot_reference_goes_to_the_engine_and_regenerate_reuses_the_takes_copy(glue, tmp_path):
    from blockcast.engine.bundle import take_record

    process, report_of = glue.engine_request, glue.engine_report
    reference = _reference_png(tmp_path / "mood.png")
    assert glue.cast.shot_reference_file(str(reference)) == str(reference)
    assert glue.cast.shot_reference_file("") == ""
    with pytest.raises(glue.core.CastInputError, match="Generate panel: Reference Image: .* does not exist"):
        glue.cast.shot_reference_file(str(tmp_path / "gone.png"))
    args = process.GenerateRequest(reference=str(reference)).to_arguments("B", "T")
    assert f"--reference={reference}" in args
    assert not any(arg.startswith("--reference") for arg in process.GenerateRequest().to_arguments("B", "T"))
    record = take_record.TakeRecord(take="take-001-previz-s1", backend="previz")
    _reference_png(tmp_path / take_record.SHOT_REFERENCE_FILE)
    again = record.request(4, take_dir=tmp_path)  # Regenerate: the take folder's copy of the shot reference
    assert again.reference == str(tmp_path / take_record.SHOT_REFERENCE_FILE)
    assert record.request(4, take_dir=tmp_path / "none").reference is None
    report = {"backends": [{"name": "previz", "ignores": ["prompt", "negative_prompt"]}]}
    assert report_of.ignored_fields(report, "previz") == {"prompt", "negative_prompt"}
    assert report_of.ignored_fields(None, "previz") == set()


CAST_SCENARIO = r"""
import importlib, json, sys
from pathlib import Path
import bpy
import numpy as np

zip_path, work = sys.argv[1], Path(sys.argv[2])
PACKAGE = "bl_ext.user_default.blockcast"
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
module = lambda name: importlib.import_module(f"{PACKAGE}.{name}")
png, actors = module("engine.bundle.png"), module("addon.blender.actors")
scene = bpy.context.scene
scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 32, 18, 100
scene.frame_start, scene.frame_end = 1, 2
anna = actors.add_proxy_actor(scene, "Anna", "a woman in a long red coat")
anna.keyframe_insert("location", frame=1)
anna.location.y = -2.5  # nearer the camera: more of her pixels in frame 2, the frame to crop
anna.keyframe_insert("location", frame=2)
for name, verts in (("Kite", [(0.5, -1, 1), (1.0, -1, 1), (1.0, -1, 1.5)]),
                    ("Floor", [(-9, -9, 0), (9, -9, 0), (9, 9, 0), (-9, 9, 0)])):
    obj = bpy.data.objects.new(name, bpy.data.meshes.new(name))
    obj.data.from_pydata(verts, [], [tuple(range(len(verts)))])
    scene.collection.objects.link(obj)
camera = bpy.data.objects.new("Front", bpy.data.cameras.new("Front"))
camera.location, camera.rotation_euler = (0, -6, 1), (1.5708, 0, 0)
scene.collection.objects.link(camera)
scene.camera = camera

def call(operator, **kwargs):
    try:
        return sorted(operator(**kwargs))
    except RuntimeError as exc:
        return str(exc)

report = {"lock_without_take": call(bpy.ops.blockcast.lock_look_from_take)}
report["add_actors"] = call(bpy.ops.blockcast.cast_add_actors)
kite = bpy.data.objects["Kite"]
with bpy.context.temp_override(selected_objects=[kite], active_object=kite):
    report["add_prop"] = call(bpy.ops.blockcast.cast_add_prop)
    report["add_prop_again"] = call(bpy.ops.blockcast.cast_add_prop)
body = bpy.data.objects["Anna_body"]
with bpy.context.temp_override(selected_objects=[body], active_object=body):
    report["add_actor_mesh"] = call(bpy.ops.blockcast.cast_add_prop)
cast = scene.blockcast_cast
prop = cast.members["Kite"]
prop.description, prop.use_look_seed, prop.look_seed = "a yellow kite", True, 3
cast.active_member = 1
report["add_reference"] = call(bpy.ops.blockcast.cast_add_reference)
png.write_png(work / "kite.png", np.full((6, 6, 3), (250, 210, 0), np.uint8))
prop.references[0].filepath = str(work / "kite.png")

# A take as the engine leaves it: frames painted per object from the objects pass, and its look.
shot = module("addon.blender.shots").resolve_shot(scene)
shot_dir = work / "takes" / "demo-0000" / shot.name
bundle_dir = module("addon.blender.export").export_shot(scene, shot, shot_dir / "bundles" / "001", "depth,objects")
bundle = module("engine.bundle").read_bundle(bundle_dir)
take_dir = shot_dir / "take-001-previz-s5"
(take_dir / "frames").mkdir(parents=True)
body_id = bundle.object_names().index("Anna_body") + 1
boxes = {}
for frame in bundle.frames:
    index = bundle.object_index(frame)
    pixels = np.full((18, 32, 3), 90, np.uint8)
    pixels[index == body_id] = (200, 40, 30)
    png.write_png(take_dir / "frames" / f"{frame:04d}.png", pixels)
    rows, cols = np.nonzero(index == body_id)
    boxes[frame] = [int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1, int(rows.size)]
record = {"schema": "blockcast.take", "take": take_dir.name, "seed": 5, "backend": "previz", "prompt": "",
          "frames": [f"frames/{f:04d}.png" for f in bundle.frames],
          "bundle": {"path": str(bundle_dir), "shot": shot.name, "frames": [1, 2]},
          "look": {"look_seed": 5, "objects": {"Anna_body": "#c8281e", "Kite": "#ffcc00", "Floor": "#404040"}},
          "understood": ["red -> Anna (coat)"], "ignored": ["negative prompt (previz has no text encoder)"]}
(take_dir / "take.json").write_text(json.dumps(record))
module("addon.blender.sequencer").add_takes(scene, [take_dir], shot.name)
report["boxes"] = boxes
report["lock"] = call(bpy.ops.blockcast.lock_look_from_take)
report["members"] = [[m.display_name(), m.role, [[e.object.name, e.use_color, list(e.color)] for e in m.objects],
                      [r.filepath for r in m.references]] for m in cast.members]
report["cast_seed"] = [cast.use_look_seed, cast.look_seed]

# Draw the panels. Headless Blender has no UILayout, so a recorder stands in for the layout only:
# every property it is asked to draw must exist on the real data, every operator in bpy.ops.
class Layout:
    labels, drawn = [], []
    def __init__(self): self.active = self.enabled = self.alert = True
    def __getattr__(self, name):
        if name in ("row", "column", "box", "split", "grid_flow"):
            return lambda *a, **k: Layout()
        raise AttributeError(name)
    def prop(self, data, name, **kwargs):
        assert (name[2:-2] in data) if name.startswith('["') else name in data.bl_rna.properties, (data, name)
        Layout.drawn.append(name)
    def operator(self, idname, **kwargs):
        group, name = idname.split(".")
        assert hasattr(getattr(bpy.ops, group), name), idname
        Layout.drawn.append(idname)
        return type("Properties", (), {})()
    def label(self, text="", icon="NONE"): Layout.labels.append(text)
    def template_list(self, list_type, _id, data, collection, active_data, active, **kwargs):
        for index, item in enumerate(getattr(data, collection)):
            getattr(bpy.types, list_type).draw_item(None, bpy.context, self, data, item, 0, active_data, active, index)
    def template_icon(self, icon_value=0, scale=1.0): Layout.drawn.append("thumbnail")
    def panel(self, idname, default_closed=False): return Layout(), Layout()
    def progress(self, **kwargs): pass

module("addon.ui.preferences").ENGINE_CHECK["report"] = {"backends": [
    {"name": "previz", "default": True, "controls": ["depth"], "passes": ["depth"], "models": [],
     "ignores": ["negative_prompt", "descriptions"]}]}
scene.blockcast.shot_generation_settings(shot.name, create=True)
for index in range(len(cast.members)):
    cast.active_member = index
    for panel in ("BLOCKCAST_PT_cast", "BLOCKCAST_PT_generate", "BLOCKCAST_PT_actors"):
        getattr(bpy.types, panel).draw(type("Panel", (), {"layout": Layout()})(), bpy.context)
report["labels"], report["drawn"] = sorted(set(Layout.labels)), sorted(set(Layout.drawn))
anna_reference = cast.members["Anna"].references[0].filepath
report["thumbnail"] = list(module("addon.ui.panels_cast").thumbnail(anna_reference).image_size)
bpy.ops.wm.save_as_mainfile(filepath=str(work / "cast.blend"))
bpy.ops.wm.open_mainfile(filepath=str(work / "cast.blend"))
cast = bpy.context.scene.blockcast_cast
report["reopened"] = [[m.display_name(), m.description, m.use_look_seed, m.look_seed, len(m.references)]
                      for m in cast.members]
Layout.drawn.clear()
getattr(bpy.types, "BLOCKCAST_PT_takes").draw(type("Panel", (), {"layout": Layout()})(), bpy.context)
report["drawn_after"] = sorted(set(Layout.drawn))
print("REPORT " + json.dumps(report))
"""



def test_cast_panel_stores_the_cast_in_the_blend_and_locks_a_takes_look(glue, extension_zip, tmp_path):
    import bpy
    script = tmp_path / "scenario.py"
    script.write_text(CAST_SCENARIO)
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"))
    result = subprocess.run([sys.executable, str(script), extension_zip, str(tmp_path)], capture_output=True,
                            text=True, env=env, timeout=300)
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(lines[0][len("REPORT "):])
    assert "no accepted take to lock" in report["lock_without_take"]
    assert report["add_actors"] == report["add_prop"] == report["add_reference"] == report["lock"] == ["FINISHED"]
    assert "Kite is already part of Kite" in report["add_prop_again"]
    assert "Anna_body is already part of Anna" in report["add_actor_mesh"]

    # Lock Look from Take: every object's colour, the look seed, and a crop of Anna from frame 2.
    (anna, anna_role, anna_objects, anna_refs), kite, floor = report["members"]
    assert (anna, anna_role, kite[:2], floor[:2]) == ("Anna", "actor", ["Kite", "prop"], ["Floor", "prop"])
    assert [(name, locked, round(c * 255)) for name, locked, c in [(o[0], o[1], o[2][0]) for o in anna_objects]] \
        == [("Anna_body", True, 200)]
    assert kite[2][0][1] and np.allclose(kite[2][0][2], [1.0, 0.8, 0.0])
    assert report["cast_seed"] == [True, 5]
    crop_path = Path(anna_refs[0])
    assert crop_path.parent == tmp_path / "takes" / "demo-0000" / "cast"
    assert kite[3] == [str(tmp_path / "kite.png")]  # the artist's own reference stays
    x0, y0, x1, y1, count = report["boxes"]["2"]
    assert count > report["boxes"]["1"][4]
    crop = png.read_png(crop_path)
    margin_x, margin_y = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    assert crop.shape[0] == min(18, int(np.ceil(y1 + margin_y))) - max(0, int(y0 - margin_y))
    assert crop.shape[1] == min(32, int(np.ceil(x1 + margin_x))) - max(0, int(x0 - margin_x))
    assert (crop.reshape(-1, 3) == (200, 40, 30)).all(axis=1).sum() == count  # all of Anna, from frame 2
    assert report["thumbnail"] == [crop.shape[1], crop.shape[0]]  # the panel's thumbnail of the locked crop

    # The panels drew every field; the Generate panel says what previz ignores and what the last take did.
    assert {"blockcast.lock_look_from_take", "blockcast.cast_add_prop", "look_seed", "color", "filepath",
            "reference_image", '["blockcast_description"]', "thumbnail"} <= set(report["drawn"])
    assert {"previz ignores this", "previz ignores descriptions", "Understood: red -> Anna (coat)",
            "Ignored: negative prompt (previz has no text encoder)"} <= set(report["labels"])

    assert report["reopened"] == [["Anna", "", False, 0, 1], ["Kite", "a yellow kite", True, 3, 1],
                                  ["Floor", "", False, 0, 0]]
    assert {"blockcast.lock_look_from_take", "blockcast.regenerate_take"} <= set(report["drawn_after"])
    assert "blockcast.accept_take" not in report["drawn_after"]  # the accepted take offers Lock Look instead

    # The saved .blend, opened here without the add-on registered (as headless export and farm tasks do).
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "cast.blend"))
    scene = bpy.context.scene
    bundle = _export(glue, scene, tmp_path / "again")
    cast = bundle.cast
    assert cast.look_seed == 5 and [m.name for m in cast.members] == ["Anna", "Kite", "Floor"]
    anna, kite, floor = cast.members
    assert anna.colors == {"Anna_body": RED} and anna.description == "a woman in a long red coat"
    assert anna.references == ("cast/anna-1.png",)
    assert bundle.inside("cast/anna-1.png").read_bytes() == crop_path.read_bytes()
    assert (kite.description, kite.look_seed, kite.colors, kite.references) == (
        "a yellow kite", 3, {"Kite": "#ffcc00"}, ("cast/kite-1.png",))
    assert floor.colors == {"Floor": "#404040"} and floor.role == "prop"


def test_chunked_export_merges_with_the_cast_and_its_reference_images(glue, empty_scene, tmp_path):
    """A farm exports a shot in frame chunks and merges them: the cast and cast/ files come through whole."""
    import bpy
    kite = _scene(glue, empty_scene)
    reference = _reference_png(tmp_path / "kite.png")
    _store_cast(empty_scene, {"members": [{"name": "Kite", "role": 1, "objects": [{"object": kite}],
                                           "references": [{"filepath": str(reference)}]}]})
    empty_scene.frame_end = 3
    blend = tmp_path / "cast.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))

    def script(name, *args):
        result = subprocess.run([sys.executable, str(REPO / "scripts" / name), *map(str, args)], capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]

    for out, frames in (("whole", "1-3"), ("a", "1-1"), ("b", "2-3")):
        script("export_passes.py", blend, "--out", tmp_path / out, "--frames", frames, "--quiet")
    script("merge_bundles.py", tmp_path / "b", tmp_path / "a", "--out", tmp_path / "merged")
    tree = {root: {p.relative_to(tmp_path / root): p.read_bytes() for p in (tmp_path / root).rglob("*") if p.is_file()}
            for root in ("whole", "merged")}
    assert tree["merged"] == tree["whole"] and Path("cast/kite-1.png") in tree["merged"]
