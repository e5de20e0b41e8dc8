"""The small things a new user trips over in the sidebar (issue #14 item 5), on the extension as
artists install it (real Blender, a fresh process): actors get distinct names that follow their
object, the actor box shows for the body mesh too, Custom Range/Size start from the shot's frames
and the scene's size, and the Generate panel says what an empty backend or a 0 means."""

import json
import os
import subprocess
import sys

SCENARIO = r"""
import json, os, sys, bpy
zip_path = sys.argv[1]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
actors = sys.modules["bl_ext.user_default.blockcast.addon.blender.actors"]
report = {}

class Layout:
    def __init__(self, log): self.log, self.active, self.enabled, self.alert, self.scale_y = log, True, True, False, 1
    def __getattr__(self, name):
        if name in ("row", "column", "box", "split", "grid_flow"):
            return lambda *a, **k: Layout(self.log)
        raise AttributeError(name)
    def prop(self, data, name, text=None, **kwargs):
        assert (name[2:-2] in data) if name.startswith('["') else name in data.bl_rna.properties, (data, name)
        self.log.append(f"prop {getattr(data, 'name', '')}.{name} {text or ''}".strip())
    def operator(self, idname, text="", **kwargs):
        self.log.append(f"button {idname}")
        return type("Properties", (), {})()
    def label(self, text="", icon="NONE"): self.log.append("label " + text)
    def progress(self, **kwargs): pass

def draw(panel):
    log = []
    getattr(bpy.types, panel).draw(type("Panel", (), {"layout": Layout(log)})(), bpy.context)
    return log

scene = bpy.context.scene
bpy.ops.blockcast.add_proxy_actor()
bpy.ops.blockcast.add_proxy_actor()
first, second = sorted((o for o in scene.objects if actors.is_actor(o)), key=lambda o: o.name)
report["names"] = [actors.actor_name(first), actors.actor_name(second)]
second.name = "Ben"
report["renamed"] = actors.actor_name(second)
body = next(o for o in scene.objects if o.type == "MESH" and o.parent == second)
for obj in scene.objects:
    obj.select_set(False)
body.select_set(True)
bpy.context.view_layer.objects.active = body
report["owner"] = getattr(actors.owning_actor(body), "name", None)
report["actors_panel"] = draw("BLOCKCAST_PT_actors")
report["shot_panel"] = draw("BLOCKCAST_PT_shots")

camera = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
scene.collection.objects.link(camera)
scene.camera = camera
scene.frame_start, scene.frame_end = 101, 136
scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 1920, 1080, 50
settings = scene.blockcast
settings.use_custom_range = True
settings.use_custom_size = True
report["range"] = [settings.frame_start, settings.frame_end]
report["size"] = [settings.width, settings.height]

settings.shot_generation_settings(settings.shot or scene.name, create=True)
settings.shot = settings.shot_generation[0].name
report["generate_panel"] = draw("BLOCKCAST_PT_generate")
print("REPORT " + json.dumps(report), flush=True)
os._exit(0)  # bpy 4.2 as a module crashes on exit once the add-on was registered
"""


def test_new_users_small_things(extension_zip, tmp_path):
    script = tmp_path / "scenario.py"
    script.write_text(SCENARIO)
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"))
    result = subprocess.run([sys.executable, str(script), str(extension_zip)], capture_output=True, text=True,
                            env=env, timeout=300)
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(lines[0][len("REPORT "):])
    assert report["names"] == ["Actor", "Actor 2"]
    assert report["renamed"] == "Ben"                      # the actor follows its object's name
    assert report["owner"] == "Ben"                        # the body mesh selected still finds its actor
    assert "prop Ben.name Name" in report["actors_panel"]
    assert "button blockcast.add_demo_scene" in report["actors_panel"]
    assert "button blockcast.add_demo_scene" not in report["shot_panel"]
    assert report["range"] == [101, 136]                   # the scene camera's shot, not 1-48
    assert report["size"] == [960, 540]                    # the scene's size at 50 %, not 512x288
    panel = report["generate_panel"]
    assert any(line.endswith("Steps (default)") for line in panel), panel
    assert any(line.endswith("Long Side (default)") for line in panel), panel
    assert any("Backend (default: previz)" in line for line in panel), panel
    assert "button blockcast.check_engine" in panel        # no report yet: Check Engine is right there
