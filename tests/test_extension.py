"""The extension as users get it: validated and built by Blender's tool, installed into real
Blender (the bpy module) with package_install_files, its panels and operators working."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

INSTALL_AND_RUN = r"""
import json, sys, bpy
zip_path, out_dir = sys.argv[1], sys.argv[2]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
report = {"modules": sorted(m for m in bpy.context.preferences.addons.keys() if "blockcast" in m)}
report["panels"] = [name for name in ("BLOCKCAST_PT_actors", "BLOCKCAST_PT_shots") if hasattr(bpy.types, name)]
report["operators"] = sorted(name for name in dir(bpy.ops.blockcast))
scene = bpy.context.scene
report["add_demo_scene"] = bpy.ops.blockcast.add_demo_scene()
scene = bpy.data.scenes["Blockcast demo"]
with bpy.context.temp_override(scene=scene):
    report["add_proxy_actor"] = bpy.ops.blockcast.add_proxy_actor(name="Cleo", description="a child with a kite")
    scene.frame_end = 2
    scene.render.resolution_x, scene.render.resolution_y = 64, 36
    scene.blockcast.output_dir = out_dir
    report["export_passes"] = bpy.ops.blockcast.export_passes()
report["actor_description"] = bpy.data.objects["Cleo"]["blockcast_description"]
bare = bpy.data.objects.new("Bare rig", bpy.data.armatures.new("Bare rig"))
scene.collection.objects.link(bare)
with bpy.context.temp_override(scene=scene, active_object=bare, object=bare):
    try:
        report["bare_rig"] = bpy.ops.blockcast.make_actor_from_rig()
    except RuntimeError as exc:  # operators that report ERROR raise in background mode
        report["bare_rig"] = str(exc)
print("REPORT " + json.dumps(report, default=list))
"""



def test_zip_ships_the_addon_and_bundle_format_only(extension_zip):
    names = zipfile.ZipFile(extension_zip).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert "addon/blender/export.py" in names and "engine/bundle/reader.py" in names
    forbidden = [n for n in names if n.startswith(("tests/", "scripts/", "docs/", ".")) or "__pycache__" in n
                 or (n.startswith("engine/") and not n.startswith(("engine/bundle/", "engine/__init__.py")))]
    assert forbidden == []
    assert not any(n.endswith(".egg-info/PKG-INFO") for n in names)


def test_zip_carries_the_engine_wheel_as_data_not_as_blender_wheels(extension_zip):
    """The engine wheel rides along for Set Up Engine; the manifest never lists it, so Blender
    does not install torch's dependants into its own Python."""
    archive = zipfile.ZipFile(extension_zip)
    wheels = [n for n in archive.namelist() if n.endswith(".whl")]
    assert len(wheels) == 1 and wheels[0].startswith("engine_wheel/blockcast_engine-"), wheels
    assert "wheels" not in archive.read("blender_manifest.toml").decode()
    inside = zipfile.ZipFile(archive.open(wheels[0]))
    files = set(inside.namelist())
    assert {"engine/cli.py", "engine/bundle/reader.py", "engine/previz/weights/previz.json",
            "engine/previz/weights/unet/diffusion_pytorch_model.safetensors"} <= files
    entry_points = next(n for n in files if n.endswith(".dist-info/entry_points.txt"))
    assert "blockcast-engine = engine.cli:main" in inside.read(entry_points).decode()
    size_mb = extension_zip.stat().st_size / 1e6
    assert size_mb < 40, f"the extension zip is {size_mb:.1f} MB"


def test_installs_into_blender_registers_and_runs(extension_zip, tmp_path):
    script = tmp_path / "install.py"
    script.write_text(INSTALL_AND_RUN)
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"))
    result = subprocess.run([sys.executable, str(script), str(extension_zip), str(tmp_path / "passes")],
                            capture_output=True, text=True, env=env, timeout=300)
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stdout + result.stderr
    report = json.loads(lines[0][len("REPORT "):])
    assert report["modules"] == ["bl_ext.user_default.blockcast"]
    assert report["panels"] == ["BLOCKCAST_PT_actors", "BLOCKCAST_PT_shots"]
    assert {"add_proxy_actor", "make_actor_from_rig", "export_passes", "add_demo_scene"} <= set(report["operators"])
    assert report["add_demo_scene"] == report["add_proxy_actor"] == report["export_passes"] == ["FINISHED"]
    assert report["actor_description"] == "a child with a kite"
    assert "nose" in report["bare_rig"] and "left_ankle" in report["bare_rig"]  # lists what the rig lacks
    bundle = tmp_path / "passes" / "Blockcast_demo"  # folder names are cleaned by bpy.path.clean_name
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert [a["name"] for a in manifest["actors"]] == ["Ana", "Ben", "Cleo"]
