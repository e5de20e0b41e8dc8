"""The bundle manifest record (engine/bundle/manifest.py): bundle.json read and written back
byte for byte, old bundles still read, unknown keys kept, malformed fields refused by name.

manifests/shot_A.json and shot_B.json are the bundle.json files the exporter wrote for the
fixed demo .blend's shots A and B (every pass, 128x72), re-exported for bundle 1.4 (each actor's
lighting); shot_A_1_3.json is shot A as the 1.3 exporter wrote it, shot_A_1_2.json as the 1.2
exporter wrote it, before the manifest became a record.
"""

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest

import engine
from engine.bundle.cast import Cast
from engine.bundle.manifest import (ActorLighting, ActorRecord, BundleManifest, DepthPass, ManifestError, MotionBlur, ObjectsPass,
                                    PassEntry, PosePass, RegionLighting, Resolution, Shot, Source, pass_entry)
from engine.bundle.reader import read_bundle
from engine.bundle.storage import BundleError

MANIFESTS = Path(__file__).parent / "manifests"
EXPORTED = sorted(MANIFESTS.glob("shot_*.json"))


def _written(record):
    """A record as BundleWriter writes bundle.json."""
    return json.dumps(record.to_json(), indent=1) + "\n"


def _exported():
    return json.loads((MANIFESTS / "shot_A.json").read_text(encoding="utf-8"))


def _as_1_0(document):
    """The shot as a 1.0 exporter wrote it: no cast, no objects pass, no blend hash."""
    old = copy.deepcopy(document)
    old["schema_version"] = "1.0"
    del old["cast"], old["passes"]["objects"], old["source"]["blend_sha256"], old["shot"]["motion_blur"]
    return old


@pytest.mark.parametrize("path", EXPORTED, ids=lambda path: path.stem)
def test_an_exported_manifest_reads_and_writes_back_byte_for_byte(path):
    text = path.read_text(encoding="utf-8")
    assert _written(BundleManifest.from_json(json.loads(text))) == text


def test_the_record_gives_typed_attributes():
    manifest = BundleManifest.from_json(_exported())
    assert manifest.shot.name == "A" and manifest.shot.frames == [1, 2, 3, 4] and manifest.shot.fps == 24.0
    assert (manifest.resolution.width, manifest.resolution.height) == (128, 72)
    depth, pose, objects = (manifest.passes[name] for name in ("depth", "pose", "objects"))
    assert isinstance(depth, DepthPass) and 0 < depth.near < depth.far and depth.units == "metres"
    assert isinstance(pose, PosePass) and pose.occlusion_margin_m == 0.2 and pose.confidence["occluded"] == 0.5
    assert isinstance(objects, ObjectsPass) and "Ana_body" in objects.objects
    camera = manifest.passes["camera"]
    assert type(camera) is PassEntry and camera.files == {"cameras": "cameras.json", "re10k": "camera_re10k.txt"}
    assert [(a.name, a.mask_index) for a in manifest.actors] == [("Ana", 1), ("Ben", 2)]
    assert isinstance(manifest.cast, Cast) and manifest.cast.member("Ben").objects == ("Ben_body",)
    assert manifest.generator.version == engine.__version__ == "0.1.0"


def test_a_1_0_manifest_without_cast_reads_and_writes_back_unchanged(tmp_path):
    old = _as_1_0(_exported())
    manifest = BundleManifest.from_json(old)
    assert manifest.cast is None and manifest.source.blend_sha256 is None and "objects" not in manifest.passes
    assert manifest.to_json() == old and list(manifest.to_json()) == list(old)
    (tmp_path / "bundle.json").write_text(json.dumps(old), encoding="utf-8")
    bundle = read_bundle(tmp_path)
    assert bundle.cast == Cast() and bundle.object_names() == [] and bundle.actors[1].name == "Ben"


def test_a_1_2_bundle_reads_without_motion_blur_and_writes_back_unchanged():
    text = (MANIFESTS / "shot_A_1_2.json").read_text(encoding="utf-8")
    manifest = BundleManifest.from_json(json.loads(text))
    assert manifest.schema_version == "1.2" and manifest.shot.motion_blur is None and _written(manifest) == text
    exported = BundleManifest.from_json(_exported())
    assert exported.schema_version == "1.4" and "motion_blur" in _exported()["shot"]


def test_a_1_3_bundle_reads_without_lighting_and_writes_back_unchanged():
    text = (MANIFESTS / "shot_A_1_3.json").read_text(encoding="utf-8")
    manifest = BundleManifest.from_json(json.loads(text))
    assert manifest.schema_version == "1.3" and [a.lighting for a in manifest.actors] == [None, None]
    assert _written(manifest) == text


def test_an_actors_lighting_is_a_typed_record_left_out_when_not_measured():
    ana = BundleManifest.from_json(_exported()).actors[0]
    assert isinstance(ana.lighting, ActorLighting) and isinstance(ana.lighting.head, RegionLighting)
    assert ana.lighting.torso.key_side in ("screen-left", "screen-right") and ana.lighting.torso.ratio > 1
    assert ana.lighting.head == RegionLighting(ratio=None, key_side="")  # a head too small at 128x72
    unmeasured = ActorRecord(name="Ana", object="Ana", bone_map={}, mask_index=1)
    assert "lighting" not in unmeasured.to_json()
    measured = replace(unmeasured, lighting=ActorLighting(head=RegionLighting(ratio=4.0, key_side="screen-right")))
    assert measured.to_json()["lighting"] == {"head": {"ratio": 4.0, "key_side": "screen-right"},
                                              "torso": {"ratio": None, "key_side": ""}}
    assert ActorRecord.from_json(measured.to_json()) == measured


def test_the_shots_motion_blur_is_a_typed_record():
    document = _with(("shot", "motion_blur"), {"shutter": 0.5, "position": "START"})
    manifest = BundleManifest.from_json(document)
    assert manifest.shot.motion_blur == MotionBlur(shutter=0.5, position="START")
    assert manifest.to_json() == document


def test_a_field_an_old_manifest_lacked_is_written_once_it_is_set():
    old = _exported()
    del old["shot"]["frame_start"]
    manifest = BundleManifest.from_json(old)
    assert "frame_start" not in manifest.to_json()["shot"]
    assert replace(manifest, shot=replace(manifest.shot, frame_start=1)).to_json() == _exported()


def test_unknown_keys_of_newer_writers_are_kept():
    newer = _exported()
    newer["schema_version"] = "1.9"
    newer["shot"]["lens_mm"] = 35
    newer["passes"]["depth"]["precision"] = "float32"
    newer["passes"]["thermal"] = {"files": {"image": "thermal/{frame:04d}.png"}, "palette": "iron"}
    newer["actors"][0]["height_m"] = 1.7
    newer["source"]["host"] = "farm-7"
    newer["lighting"] = {"key": "window"}
    manifest = BundleManifest.from_json(newer)
    assert manifest.to_json() == newer and _written(manifest) == json.dumps(newer, indent=1) + "\n"
    assert manifest.extra == {"lighting": {"key": "window"}} and manifest.shot.extra == {"lens_mm": 35}
    assert type(manifest.passes["thermal"]) is PassEntry and manifest.passes["thermal"].extra == {"palette": "iron"}


def _with(path, value):
    """The exported manifest with the field at `path` set to `value` (deleted for ...)."""
    document = _exported()
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if value is ...:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


@pytest.mark.parametrize("path, value, named", [
    (("shot", "fps"), 0, "shot.fps is 0, not a number above 0"),
    (("shot", "frames"), [1, 2.5], "shot.frames[1] is 2.5, not a whole number"),
    (("shot", "name"), ..., "shot lacks name"),
    (("resolution", "width"), "128", "resolution.width is '128', not a whole number"),
    (("resolution", "pixel_aspect"), [1.0, float("inf")], "resolution.pixel_aspect[1] is inf, not a number"),
    (("passes", "depth", "near"), "near", "passes.depth.near is 'near', not a number"),
    (("passes", "depth", "files"), ..., "passes.depth lacks files"),
    (("passes", "objects", "objects"), ["Floor", 7], "passes.objects.objects[1] is 7, not text"),
    (("passes",), [], "passes is [], not a JSON object of passes"),
    (("actors", 0, "description"), None, "actors[0].description is None, not text"),
    (("actors",), {}, "actors is {}, not a list of actor records"),
    (("source", "blend_sha256"), 5, "source.blend_sha256 is 5, not text"),
    (("cast", "members"), "Ana", "cast members must be a list"),
    (("source",), ..., "the manifest lacks source"),
    (("shot", "motion_blur"), {"shutter": 0}, "shot.motion_blur.shutter is 0, not a number above 0"),
    (("shot", "motion_blur"), {"shutter": 1, "position": "MIDDLE"},
     "shot.motion_blur.position is 'MIDDLE', not one of CENTER, START, END"),
    (("actors", 0, "lighting", "head", "key_side"), "left",
     "actors[0].lighting.head.key_side is 'left', not one of screen-left, screen-right"),
    (("actors", 0, "lighting", "torso", "ratio"), "4:1", "actors[0].lighting.torso.ratio is '4:1', not a number"),
    (("schema_version",), "2.0", "the manifest is schema blockcast.bundle 2.0; this reader takes blockcast.bundle 1.x"),
], ids=lambda value: ".".join(map(str, value)) if isinstance(value, tuple) else None)
def test_a_malformed_field_is_refused_by_name_with_what_to_do(path, value, named):
    with pytest.raises(ManifestError) as refused:
        BundleManifest.from_json(_with(path, value))
    assert named in str(refused.value) and str(refused.value).endswith(("re-export the shot's passes",
                                                                        "re-export with this version"))
    assert isinstance(refused.value, ValueError)


def test_the_reader_names_the_file_and_the_field(tmp_path):
    (tmp_path / "bundle.json").write_text(json.dumps(_with(("shot", "fps"), -24)), encoding="utf-8")
    with pytest.raises(BundleError, match=r"bundle\.json: shot\.fps is -24, not a number above 0"):
        read_bundle(tmp_path)


def test_a_new_manifest_gets_the_formats_own_descriptions_and_version():
    """What the add-on gathers is only the scene's values; the format fills in the rest."""
    exported = BundleManifest.from_json(_exported())
    pose = exported.passes["pose"]
    passes = {name: pass_entry(name) for name in exported.passes}
    passes["depth"] = pass_entry("depth", near=exported.passes["depth"].near, far=exported.passes["depth"].far)
    passes["pose"] = pass_entry("pose", occlusion_margin_m=pose.occlusion_margin_m, confidence=pose.confidence)
    passes["objects"] = pass_entry("objects", objects=exported.passes["objects"].objects)
    shot, resolution, source = exported.shot, exported.resolution, exported.source
    gathered = BundleManifest(
        shot=Shot(name=shot.name, camera=shot.camera, frame_start=shot.frame_start, frame_end=shot.frame_end,
                  frames=shot.frames, fps=shot.fps, motion_blur=shot.motion_blur),
        resolution=Resolution(width=resolution.width, height=resolution.height, pixel_aspect=resolution.pixel_aspect),
        passes=passes,
        actors=[ActorRecord(name=a.name, description=a.description, object=a.object, bone_map=a.bone_map,
                            mask_index=a.mask_index, lighting=a.lighting) for a in exported.actors],
        cast=exported.cast,
        source=Source(blend=source.blend, blend_sha256=source.blend_sha256, scene=source.scene,
                      blender_version=source.blender_version))
    # A 1.6 writer changes the version and writes the scene's unit scale (1.0: metres) after the resolution.
    as_1_6 = {key: value for key, value in _exported().items()}
    as_1_6["schema_version"] = "1.6"
    as_1_6 = _inserted_after(as_1_6, "resolution", "metres_per_unit", 1.0)
    assert _written(gathered) == json.dumps(as_1_6, indent=1) + "\n"


def _inserted_after(document, key, new_key, value):
    """`document` with `new_key: value` placed right after `key`, as the writer orders it."""
    items = list(document.items())
    at = [name for name, _ in items].index(key) + 1
    return dict(items[:at] + [(new_key, value)] + items[at:])


@pytest.mark.parametrize("path", EXPORTED, ids=lambda path: path.stem)
def test_a_bundle_before_1_6_reads_as_metres_and_writes_back_without_the_unit_scale(path):
    text = path.read_text(encoding="utf-8")
    manifest = BundleManifest.from_json(json.loads(text))
    assert manifest.metres_per_unit == 1.0 and "metres_per_unit" not in manifest.to_json()
    assert _written(manifest) == text


def test_the_scenes_unit_scale_is_kept_and_refused_when_not_a_length():
    centimetres = _inserted_after({**_exported(), "schema_version": "1.6"}, "resolution", "metres_per_unit", 0.01)
    manifest = BundleManifest.from_json(centimetres)
    assert manifest.metres_per_unit == 0.01 and _written(manifest) == json.dumps(centimetres, indent=1) + "\n"
    assert manifest.shot_wide()["metres_per_unit"] == 0.01  # chunks of other unit scales never merge
    for bad, named in ((0, "metres_per_unit is 0, not a number above 0"), ("cm", "metres_per_unit is 'cm', not a number")):
        with pytest.raises(ManifestError, match=named):
            BundleManifest.from_json({**centimetres, "metres_per_unit": bad})
