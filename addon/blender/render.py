"""Render the passes Blockcast needs, without touching the user's scene.

Rendering happens in a temporary linked copy of the scene (same objects, own render
settings), so the artist's engine, resolution, output path and compositor are never
changed. Blender writes every pass of a frame into one uncompressed multilayer EXR (in a
scratch folder that a killed export's successor sweeps), which `exr.py` reads back as exact
float arrays. Joints and camera are read from the render's own depsgraph (`evaluate`), and
Ctrl-C during a render cancels at the end of that render. Cycles renders on the device the
artist's own renders use (`cycles_devices`: the GPU where set up in Preferences, else the CPU).
"""

import os
import shutil
import signal
import threading
from contextlib import contextmanager

import bpy
import numpy as np

from ..cycles_device import CyclesDevices, choose_device, gpu_devices_in_use
from ..exr import read_exr_channels, read_pass
from ..scratch_folders import make_scratch_folder

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


@contextmanager
def _interrupt_after_render():
    """Hold Ctrl-C (SIGINT) as a flag while Blender renders, and deliver it once the render
    returns. Cycles renders from its own Python callback: a KeyboardInterrupt raised there is
    printed and dropped by Blender, so the export would run on to the end. Held, the cancel
    lands at the end of this frame's render, where it reaches the export as usual."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield  # no Python-level handler to hold (one installed by Blender itself, or not the main thread)
        return
    received = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            signal.raise_signal(signal.SIGINT)  # the previous handler acts on it now


class _EvaluationEngine(bpy.types.RenderEngine):
    """Draws nothing: rendering with it hands Python the render's own depsgraph, which
    evaluates exactly what Workbench and Cycles render (objects disabled in viewports
    included, which a view layer's viewport depsgraph skips), so joints and camera come
    from the scene state the passes show. Registered only while an export runs."""
    bl_idname = "BLOCKCAST_EVALUATE"
    bl_label = "Blockcast evaluation (internal)"

    def render(self, depsgraph):
        if _evaluation is not None:
            _evaluation.run(depsgraph)


class _Evaluation:
    """One `function(depsgraph)` call inside a render; Blender drops exceptions raised in a
    render callback, so the outcome is kept here and raised by the caller."""

    def __init__(self, function):
        self.function, self.result, self.error, self.done = function, None, None, False

    def run(self, depsgraph):
        try:
            self.result = self.function(depsgraph)
        except BaseException as exc:  # handed back to the caller, not swallowed
            self.error = exc
        self.done = True


_evaluation = None
_engine_users = 0


def _hold_evaluation_engine():
    global _engine_users
    if _engine_users == 0:
        bpy.utils.register_class(_EvaluationEngine)
    _engine_users += 1


def _release_evaluation_engine():
    global _engine_users
    _engine_users -= 1
    if _engine_users == 0:
        bpy.utils.unregister_class(_EvaluationEngine)


def _cycles_preferences():
    addon = bpy.context.preferences.addons.get("cycles")
    return addon.preferences if addon is not None else None


def cycles_devices():
    """The artist's Cycles device set-up (Preferences ▸ System ▸ Cycles Render Devices)."""
    prefs = _cycles_preferences()
    if prefs is None:
        return CyclesDevices()
    return gpu_devices_in_use(prefs.compute_device_type, [(d.id, d.type, d.use) for d in prefs.devices])


def use_cycles_devices(devices):
    """Set this Blender's Cycles preferences to `devices` (a background export's, given the
    artist's); a device this machine lacks is left out, so it falls back to the CPU."""
    prefs = _cycles_preferences()
    if prefs is None or choose_device(devices) == "CPU":
        return
    try:
        prefs.compute_device_type = devices.compute_device_type
    except TypeError:  # a compute type this build does not know
        return
    prefs.refresh_devices()
    for device in prefs.devices:
        device.use = device.id in devices.enabled


def _render_result_image():
    return next(image for image in bpy.data.images if image.type == "RENDER_RESULT")


@contextmanager
def _square_pixels(render):
    """Blender 5.0's multilayer EXR writer fails on non-square pixels (conflicting
    `pixelAspectRatio` attributes between parts). The pixels are rendered with the scene's
    pixel aspect; only the file is written as if square, which changes no pixel value."""
    aspect = render.pixel_aspect_x, render.pixel_aspect_y
    render.pixel_aspect_x = render.pixel_aspect_y = 1.0
    try:
        yield
    finally:
        render.pixel_aspect_x, render.pixel_aspect_y = aspect


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
        for layer in self.scene.view_layers:  # the copy's own layers: render (and read back) this one only
            layer.use = layer == self.view_layer
        self.cycles_passes = tuple(cycles_passes)
        self.cycles_device = choose_device(cycles_devices())
        self.clay = _clay_material() if "shading" in self.cycles_passes else None
        self._folder = make_scratch_folder()
        _hold_evaluation_engine()

    def close(self):
        bpy.data.scenes.remove(self.scene)
        _release_evaluation_engine()
        if self.clay is not None:
            bpy.data.materials.remove(self.clay)
        shutil.rmtree(self._folder, ignore_errors=True)

    def _run_render(self, engine):
        self.scene.render.engine = engine
        # The operator's `scene=` argument renders the context scene's frame: override the context instead.
        with _interrupt_after_render(), _quiet_native_output(), \
                bpy.context.temp_override(scene=self.scene, view_layer=self.view_layer):
            bpy.ops.render.render(write_still=False)

    def _render(self, engine, name):
        self._run_render(engine)
        path = os.path.join(self._folder, name)
        with _square_pixels(self.scene.render), _quiet_native_output():
            _render_result_image().save_render(path, scene=self.scene)
        return read_exr_channels(path)

    def evaluate(self, function):
        """`function(depsgraph)` on the render depsgraph of the current frame: the one the
        passes are rendered from, whatever the viewports show or hide."""
        global _evaluation
        _evaluation = job = _Evaluation(function)
        try:
            self._run_render(_EvaluationEngine.bl_idname)
        finally:
            _evaluation = None
        if job.error is not None:
            raise job.error
        if not job.done:
            raise RuntimeError(f"Blender did not render view layer {self.view_layer.name!r} of the export scene")
        return job.result

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
        scene.cycles.device = self.cycles_device
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
