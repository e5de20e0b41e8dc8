"""Render the passes Blockcast needs, on the CPU, without touching the user's scene.

Rendering happens in a temporary linked copy of the scene (same objects, own render
settings), so the artist's engine, resolution, output path and compositor are never
changed. Blender writes every pass of a frame into one uncompressed multilayer EXR,
which `exr.py` reads back as exact float arrays.
"""

import os
import tempfile
from contextlib import contextmanager

import bpy
import numpy as np

from ..exr import read_exr_channels, read_pass

# Workbench gives the exact planar depth fastest; the rest need Cycles.
CYCLES_PASSES = ("shading", "normal", "flow", "mask", "objects")
SHADING_SAMPLES = 8
CLAY_COLOR = (0.6, 0.6, 0.6, 1.0)
OBJECT_INDEX_PASS = ("Object Index", "IndexOB")  # Blender 5.0 / 4.2 names


@contextmanager
def _quiet_native_output():
    """Silence Blender's C-level chatter ("Saved: ...", EGL probing) for one render call, so
    headless logs show our progress lines; Python errors still raise as usual."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def _use_multilayer_exr(image_settings):
    if hasattr(image_settings, "media_type"):  # Blender 5.0: media type before file format
        image_settings.media_type = "MULTI_LAYER_IMAGE"
    image_settings.file_format = "OPEN_EXR_MULTILAYER"
    image_settings.exr_codec = "NONE"
    image_settings.color_depth = "32"


def _clay_material():
    material = bpy.data.materials.new("Blockcast clay (temporary)")
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True  # always on from 5.0, where the property is deprecated
    bsdf = next(n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Base Color"].default_value = CLAY_COLOR
    bsdf.inputs["Roughness"].default_value = 0.7
    return material


class PassRenderer:
    """Renders one frame's depth (Workbench) and, when asked, Cycles passes of a scene copy."""

    def __init__(self, scene, camera, width, height, cycles_passes=()):
        self.source = scene
        self.scene = scene.copy()
        self.scene.name = f"{scene.name} (Blockcast export)"
        self.scene.camera = camera
        render = self.scene.render
        render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
        render.use_border = False
        render.use_compositing = False
        render.use_sequencer = False
        render.use_motion_blur = False  # the vector pass needs it off
        render.film_transparent = False
        _use_multilayer_exr(render.image_settings)
        self.scene.display.render_aa = "OFF"  # one sample per pixel centre: exact depth
        self.view_layer = self.scene.view_layers[0]
        self.view_layer.use = True
        self.cycles_passes = tuple(cycles_passes)
        self.clay = _clay_material() if "shading" in self.cycles_passes else None
        self._folder = tempfile.TemporaryDirectory(prefix="blockcast-render-")

    def close(self):
        bpy.data.scenes.remove(self.scene)
        if self.clay is not None:
            bpy.data.materials.remove(self.clay)
        self._folder.cleanup()

    def _render(self, engine, name):
        self.scene.render.engine = engine
        self.scene.render.filepath = os.path.join(self._folder.name, name)
        # The operator's `scene=` argument renders the context scene's frame: override the context instead.
        with bpy.context.temp_override(scene=self.scene, view_layer=self.view_layer), _quiet_native_output():
            bpy.ops.render.render(write_still=True)
        return read_exr_channels(self.scene.render.filepath)

    def set_frame(self, frame):
        self.scene.frame_set(frame)

    def render_depth(self):
        """Planar camera depth in metres, (H, W) float32, inf where nothing was hit."""
        layer = self.view_layer
        layer.use_pass_z = True
        layer.use_pass_normal = layer.use_pass_vector = layer.use_pass_object_index = False
        depth = read_pass(self._render("BLENDER_WORKBENCH", "depth.exr"), "Depth", "Z")
        return np.where(depth >= self.scene.camera.data.clip_end, np.inf, depth).astype(np.float32)

    def _use_cycles(self, samples, denoise, material_override, normal=False, vector=False, index=False):
        scene, layer = self.scene, self.view_layer
        scene.cycles.device = "CPU"
        scene.cycles.samples = samples
        scene.cycles.use_denoising = denoise
        scene.cycles.seed = 0
        scene.cycles.use_animated_seed = False
        layer.material_override = material_override
        layer.use_pass_z = False
        layer.use_pass_normal, layer.use_pass_vector, layer.use_pass_object_index = normal, vector, index

    def render_cycles(self):
        """Cycles passes of the current frame: {"shading": linear RGB, "normal": world XYZ,
        "vector": (H, W, 4) Blender speed vectors, "index": object index}."""
        shading = "shading" in self.cycles_passes
        self._use_cycles(SHADING_SAMPLES if shading else 1, shading, self.clay, normal="normal" in self.cycles_passes,
                         vector="flow" in self.cycles_passes,
                         index=bool({"mask", "objects"} & set(self.cycles_passes)))
        channels = self._render("CYCLES", "cycles.exr")
        layer, out = self.view_layer, {}
        if shading:
            out["shading"] = read_pass(channels, "Combined", "RGB")
        if layer.use_pass_normal:
            out["normal"] = read_pass(channels, "Normal", "XYZ")
        if layer.use_pass_vector:
            out["vector"] = read_pass(channels, "Vector", "XYZW")
        if layer.use_pass_object_index:
            out["index"] = read_pass(channels, OBJECT_INDEX_PASS, "X")
        return out

    def render_beauty(self, samples):
        """The scene with its own materials: the previz model's training target (linear RGB)."""
        self._use_cycles(samples, True, None)
        return read_pass(self._render("CYCLES", "beauty.exr"), "Combined", "RGB")


@contextmanager
def pass_renderer(scene, camera, width, height, cycles_passes=()):
    renderer = PassRenderer(scene, camera, width, height, cycles_passes)
    try:
        yield renderer
    finally:
        renderer.close()
