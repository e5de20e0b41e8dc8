"""Our depth of field and motion blur against Cycles' own, on analytic scenes (docs/lens.md).

    .venv/bin/python scripts/eval_lens.py [--quick] [--size 160x90] [--samples 128]
        [--json out.json] [--image docs/images/lens_dof.png]

Scenes are built with bpy: emissive checker planes at known depths facing a 135 mm camera
focused on the middle plane (emission, so Cycles' only noise is its lens and pixel
sampling), and a checker card moving across a static wall. Each row renders Cycles
all-in-focus (or without motion blur) plus the bundle's own depth and flow passes (the
exporter's renderer), applies engine/lens to that render, and compares with Cycles' render
of the same scene with depth of field (or motion blur) on. Exits 1 if a row fails.
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))
from blockcast_import import import_blockcast  # noqa: E402
from engine.lens import coc_radius_px, defocus, frame_lens, frame_px_per_mm, frame_shutter, motion_blur  # noqa: E402
from engine.lens.measure import disk_edge_rise, edge_rise, ssim  # noqa: E402

LENS_MM, SENSOR_MM, FOCUS_M = 135.0, 36.0, 4.0
NEAR_M, FAR_M = 2.0, 16.0
FSTOPS = (1.4, 2.8, 5.6, 8.0)
SHUTTERS = ((0.5, "CENTER"), (1.0, "CENTER"), (0.5, "START"))
SSIM_GOAL, EDGE_GOAL_PX = 0.90, 1.0


def srgb(linear):
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


class Stage:
    """One empty Cycles scene with the evaluation camera; renders read back as float arrays."""

    def __init__(self, bpy, width, height, samples, folder):
        self.bpy, self.folder = bpy, folder
        bpy.ops.wm.read_factory_settings(use_empty=True)
        scene = self.scene = bpy.context.scene
        scene.render.engine = "CYCLES"
        scene.cycles.device, scene.cycles.samples = "CPU", samples
        scene.cycles.use_denoising, scene.cycles.seed, scene.cycles.max_bounces = False, 0, 0
        scene.cycles.use_adaptive_sampling = False
        scene.render.resolution_x, scene.render.resolution_y = width, height
        scene.render.resolution_percentage = 100
        scene.render.use_motion_blur = False
        world = bpy.data.worlds.new("black")
        world.color = (0, 0, 0)
        scene.world = world
        camera_data = bpy.data.cameras.new("Camera")
        camera_data.lens, camera_data.sensor_width, camera_data.sensor_fit = LENS_MM, SENSOR_MM, "HORIZONTAL"
        camera_data.dof.focus_distance = FOCUS_M
        self.camera = bpy.data.objects.new("Camera", camera_data)  # at the origin, looking down -Z
        scene.collection.objects.link(self.camera)
        scene.camera = self.camera
        image = scene.render.image_settings
        if hasattr(image, "media_type"):
            image.media_type = "MULTI_LAYER_IMAGE"
        image.file_format, image.exr_codec, image.color_depth = "OPEN_EXR_MULTILAYER", "NONE", "32"

    def plane(self, name, depth, x0, x1, y0, y1, colours, squares):
        """A rectangle facing the camera at `depth` m, emitting a checker of `squares` across."""
        bpy = self.bpy
        mesh = bpy.data.meshes.new(name)
        mesh.from_pydata([(x0, y0, -depth), (x1, y0, -depth), (x1, y1, -depth), (x0, y1, -depth)], [],
                         [(0, 1, 2, 3)])
        material = bpy.data.materials.new(name)
        if bpy.app.version < (5, 0, 0):
            material.use_nodes = True
        nodes, links = material.node_tree.nodes, material.node_tree.links
        nodes.clear()
        coords, checker = nodes.new("ShaderNodeTexCoord"), nodes.new("ShaderNodeTexChecker")
        emission, output = nodes.new("ShaderNodeEmission"), nodes.new("ShaderNodeOutputMaterial")
        checker.inputs["Scale"].default_value = squares
        checker.inputs["Color1"].default_value = (*colours[0], 1.0)
        checker.inputs["Color2"].default_value = (*colours[1], 1.0)
        links.new(coords.outputs["Generated"], checker.inputs["Vector"])
        links.new(checker.outputs["Color"], emission.inputs["Color"])
        links.new(emission.outputs["Emission"], output.inputs["Surface"])
        mesh.materials.append(material)
        plane = bpy.data.objects.new(name, mesh)
        self.scene.collection.objects.link(plane)
        return plane

    def render(self):
        bpy, blockcast = self.bpy, sys.modules["blockcast"]
        bpy.ops.render.render(write_still=False)
        path = os.path.join(self.folder, "render.exr")
        result = next(image for image in bpy.data.images if image.type == "RENDER_RESULT")
        result.save_render(path, scene=self.scene)
        return blockcast.addon.exr.read_pass(blockcast.addon.exr.read_exr_channels(path), "Combined", "RGB")

    def passes(self, frame):
        """The bundle's depth (metres) and forward flow (px), from the exporter's own renderer."""
        blockcast = sys.modules["blockcast"]
        render = self.scene.render
        with blockcast.addon.blender.render.pass_renderer(self.scene, self.camera, render.resolution_x,
                                                          render.resolution_y, ("flow",)) as renderer:
            renderer.set_frame(frame)
            depth = renderer.render_depth()
            flow = blockcast.addon.passes.forward_flow(renderer.render_cycles()["vector"])
        return depth, flow

    def lens_record(self, frame):
        """The add-on's lens record of the camera and shutter as they are set now."""
        return sys.modules["blockcast"].addon.blender.lens.lens_records(self.scene, self.camera, [frame])[0]

    def px_per_mm(self):
        render = self.scene.render
        return frame_px_per_mm(self.lens_record(self.scene.frame_current), render.resolution_x, render.resolution_y)


def frame_width_m(depth):
    return depth * SENSOR_MM / LENS_MM


def build_planes(stage):
    """Far wall, the focus plane in the middle, a near plane over its left side (checkers ~8 px)."""
    width_px = stage.scene.render.resolution_x
    def squares(depth, size):
        return size / (8 * frame_width_m(depth) / width_px)
    far, mid, near = frame_width_m(FAR_M), frame_width_m(FOCUS_M), frame_width_m(NEAR_M)
    stage.plane("far", FAR_M, -far, far, -far, far, ((0.9, 0.8, 0.6), (0.1, 0.15, 0.3)), squares(FAR_M, 2 * far))
    stage.plane("mid", FOCUS_M, -0.3 * mid, 0.35 * mid, -0.25 * mid, 0.25 * mid,
                ((0.95, 0.95, 0.95), (0.05, 0.05, 0.05)), squares(FOCUS_M, 0.65 * mid))
    stage.plane("near", NEAR_M, -near, -0.2 * near, -near, near, ((0.2, 0.7, 0.3), (0.8, 0.2, 0.2)),
                squares(NEAR_M, 0.8 * near))


def focus_interior(stage, depth, lens):
    """Pixels on the focus plane farther than the widest blur from any other depth."""
    on_plane = np.abs(depth - FOCUS_M) < 1e-3
    margin = int(np.ceil(np.abs(coc_radius_px(np.array([NEAR_M, np.inf]), lens, stage.px_per_mm())).max())) + 2
    inside = on_plane.copy()
    for axis in (0, 1):
        for shift in range(1, margin + 1):
            inside &= np.roll(on_plane, shift, axis) & np.roll(on_plane, -shift, axis)
    return inside


def dof_rows(stage):
    build_planes(stage)
    camera = stage.camera.data
    camera.dof.use_dof = False
    sharp = stage.render()
    depth, _ = stage.passes(1)
    rows, pictures = [], {}
    for fstop in FSTOPS:
        camera.dof.use_dof, camera.dof.aperture_fstop = True, fstop
        cycles = stage.render()
        lens = frame_lens(stage.lens_record(1))
        ours = defocus(sharp, depth, lens, stage.px_per_mm())
        interior = focus_interior(stage, depth, lens)
        rows.append({"test": f"dof f/{fstop:g}", "ssim": ssim(srgb(ours), srgb(cycles)),
                     "ssim_unblurred": ssim(srgb(sharp), srgb(cycles)),
                     "focus_changed": float(np.abs(ours - sharp)[interior].max()),
                     "focus_pixels": int(interior.sum())})
        pictures[fstop] = (sharp, ours, cycles)
    camera.dof.use_dof = False
    return rows, pictures


def edge_rows(stage):
    """White half-planes against black: the top one near, the bottom one far; rise across x = 0."""
    for name, depth, y0, y1 in (("near edge", NEAR_M, 0.0, 1.0), ("far edge", FAR_M, -1.0, 0.0)):
        span = frame_width_m(depth)
        stage.plane(name, depth, 0.0, span, y0 * span, y1 * span, ((1, 1, 1), (1, 1, 1)), 1.0)
    camera = stage.camera.data
    camera.dof.use_dof = False
    sharp = stage.render()[..., 0]
    depth, _ = stage.passes(1)
    height = sharp.shape[0]
    bands = {"near": slice(height // 8, 3 * height // 8), "far": slice(5 * height // 8, 7 * height // 8)}
    rows = []
    for fstop in FSTOPS:
        camera.dof.use_dof, camera.dof.aperture_fstop = True, fstop
        cycles = stage.render()[..., 0]
        lens = frame_lens(stage.lens_record(1))
        ours = defocus(sharp[..., None], depth, lens, stage.px_per_mm())[..., 0]
        for plane, depth_m in (("near", NEAR_M), ("far", FAR_M)):
            band = bands[plane]
            radius = abs(float(coc_radius_px(np.array([depth_m]), lens, stage.px_per_mm())[0]))
            base = edge_rise(sharp[band].mean(axis=0))
            thin_lens = float(np.hypot(disk_edge_rise(radius), base))
            rows.append({"test": f"edge {plane} f/{fstop:g}", "coc_px": 2 * radius, "thin_lens_rise": thin_lens,
                         "cycles_rise": edge_rise(cycles[band].mean(axis=0)),
                         "ours_rise": edge_rise(ours[band].mean(axis=0))})
    camera.dof.use_dof = False
    return rows


def fcurves(obj):
    action = obj.animation_data.action
    if hasattr(action, "fcurves"):  # before Blender 5.0's layered actions
        return action.fcurves
    from bpy_extras import anim_utils
    return anim_utils.action_get_channelbag_for_slot(action, obj.animation_data.action_slot).fcurves


def motion_rows(stage):
    """A checker card at the focus distance sliding right across the far wall, 2 m a second."""
    bpy = stage.bpy
    build_planes(stage)
    for name in ("near", "mid"):
        bpy.data.objects.remove(bpy.data.objects[name])
    mid = frame_width_m(FOCUS_M)
    card = stage.plane("card", FOCUS_M, -0.15 * mid, 0.15 * mid, -0.2 * mid, 0.2 * mid,
                       ((0.95, 0.95, 0.95), (0.05, 0.05, 0.05)), 5.0)
    step = 0.1 * mid  # a tenth of the frame per frame
    for frame in (1, 3):
        card.location.x = (frame - 2) * step
        card.keyframe_insert("location", index=0, frame=frame)
    for curve in fcurves(card):
        for key in curve.keyframe_points:
            key.interpolation = "LINEAR"  # constant speed: Blender's flow is exact for it
    scene = stage.scene
    scene.frame_set(2)
    sharp = stage.render()
    depth, flow = stage.passes(2)
    rows, pictures = [], {}
    for length, position in SHUTTERS:
        scene.render.use_motion_blur = True
        scene.render.motion_blur_shutter, scene.render.motion_blur_position = length, position
        cycles = stage.render()
        shutter = frame_shutter(stage.lens_record(2))
        scene.render.use_motion_blur = False
        ours = motion_blur(sharp, flow, depth, shutter)
        rows.append({"test": f"motion blur {length:g} {position.lower()}", "ssim": ssim(srgb(ours), srgb(cycles)),
                     "ssim_unblurred": ssim(srgb(sharp), srgb(cycles)),
                     "flow_px": float(np.abs(flow[..., 0]).max())})
        pictures[(length, position)] = (sharp, ours, cycles)
    return rows, pictures


def verdict(row):
    if "ours_rise" in row:
        return (abs(row["ours_rise"] - row["thin_lens_rise"]) <= EDGE_GOAL_PX
                and abs(row["ours_rise"] - row["cycles_rise"]) <= EDGE_GOAL_PX)
    ok = row["ssim"] >= SSIM_GOAL
    return ok and row.get("focus_changed", 0.0) == 0.0


def print_table(rows):
    print(f"{'test':<24}{'SSIM ours':>10}{'unblurred':>10}{'focus Δ':>9}"
          f"{'CoC px':>8}{'thin lens':>10}{'Cycles':>8}{'ours':>7}  pass")
    for row in rows:
        cells = [f"{row['test']:<24}"]
        cells += [f"{row[k]:>10.3f}" if k in row else " " * 10 for k in ("ssim", "ssim_unblurred")]
        cells.append(f"{row['focus_changed']:>9.3g}" if "focus_changed" in row else " " * 9)
        cells.append(f"{row['coc_px']:>8.2f}" if "coc_px" in row else " " * 8)
        cells += [f"{row[k]:>{w}.2f}" if k in row else " " * w
                  for k, w in (("thin_lens_rise", 10), ("cycles_rise", 8), ("ours_rise", 7))]
        cells.append("  yes" if row["pass"] else "  NO")
        print("".join(cells))


def write_picture(path, dof_pictures, motion_pictures):
    """Rows: f/1.4 depth of field and 1-frame motion blur; columns: input, ours, Cycles."""
    from PIL import Image, ImageDraw
    strips = [np.concatenate(dof_pictures[FSTOPS[0]], axis=1),
              np.concatenate(motion_pictures[SHUTTERS[-1] if (1.0, "CENTER") not in motion_pictures
                                             else (1.0, "CENTER")], axis=1)]
    picture = np.rint(srgb(np.concatenate(strips, axis=0)) * 255).astype(np.uint8)
    picture = np.repeat(np.repeat(picture, 2, axis=0), 2, axis=1)
    header = 16
    canvas = Image.new("RGB", (picture.shape[1], picture.shape[0] + header), "white")
    canvas.paste(Image.fromarray(picture), (0, header))
    draw, column = ImageDraw.Draw(canvas), picture.shape[1] // 3
    for k, label in enumerate(("input (sharp)", "engine/lens", "Cycles")):
        draw.text((k * column + 4, 2), label, fill="black")  # rows: f/1.4, then a 1-frame shutter
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    canvas.save(temporary, format="PNG")
    os.replace(temporary, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="96x54, 48 samples, f/1.4 and f/8, one shutter")
    parser.add_argument("--size", default="160x90", help="WIDTHxHEIGHT (default 160x90)")
    parser.add_argument("--samples", type=int, default=128, help="Cycles samples (default 128)")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--image", help="write input / ours / Cycles crops to this PNG")
    args = parser.parse_args(argv)
    global FSTOPS, SHUTTERS
    width, height = (int(v) for v in args.size.lower().split("x"))
    samples = args.samples
    if args.quick:
        width, height, samples = 96, 54, 48
        FSTOPS, SHUTTERS = (1.4, 8.0), ((1.0, "CENTER"),)
    import bpy
    import_blockcast()
    import blockcast.addon.blender.lens  # noqa: F401  (the lens record)
    import blockcast.addon.blender.render  # noqa: F401  (the exporter's pass renderer)
    with tempfile.TemporaryDirectory() as folder:
        stage = Stage(bpy, width, height, samples, folder)
        rows, dof_pictures = dof_rows(stage)
        rows += edge_rows(Stage(bpy, width, height, samples, folder))
        motion, motion_pictures = motion_rows(Stage(bpy, width, height, samples, folder))
        rows += motion
    for row in rows:
        row["pass"] = bool(verdict(row))
    print(f"{width}x{height}, {samples} samples, {LENS_MM:g} mm lens focused at {FOCUS_M:g} m "
          f"(planes at {NEAR_M:g}, {FOCUS_M:g}, {FAR_M:g} m)")
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    if args.image:
        write_picture(args.image, dof_pictures, motion_pictures)
    return 0 if all(row["pass"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
