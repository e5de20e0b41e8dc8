"""Export one shot of a Blender scene as a pass bundle (see docs/bundle.md).

Frames are rendered and written one at a time, so memory stays flat however long the
shot is; the depth control images are made at the end, once the shot-wide near/far
range is known. Everything goes through BundleWriter: a failed or cancelled export
leaves no bundle behind and never a half one.
"""

import hashlib
import shutil
from contextlib import contextmanager

import bpy
import numpy as np

from ...engine.bundle import DEFAULT_PASSES, BundleError, BundleWriter, parse_passes, read_bundle, validate_bundle
from ...engine.bundle import camera as camera_math
from ...engine.bundle import depth as depth_math
from ...engine.bundle import pose as pose_math
from ...engine.bundle import tracking as tracking_math
from ...engine.bundle.finish import finish_shot
from ...engine.bundle.manifest import ActorRecord, BundleManifest, Resolution, Shot, Source, pass_entry
from ...engine.bundle.png import read_png
from ...engine.bundle.schema import PASS_FILES
from ..cast import CastInputError
from ..coverage import sample_frames
from ..lighting import lighting_record, shot_lighting
from . import actors as actor_rigs
from . import tracking as tracking_glue
from .cast import scene_cast
from .camera import camera_frame_record, check_camera
from .lens import motion_blur_record
from ..passes import camera_space_normals, forward_flow, linear_to_srgb8, normal_preview
from .render import CYCLES_PASSES, pass_renderer


class ExportError(ValueError):
    """The scene cannot be exported as asked; the message says what to do."""


class ExportCancelled(Exception):
    """The user cancelled; nothing was written."""


def _frame_file(pass_name, key, frame):
    return PASS_FILES[pass_name][key].format(frame=frame)


# Workbench (the depth pass) renders into GPU buffers, which Blender cannot allocate past this (measured).
MAX_SIDE = 16384

LIGHTING_FRAMES = 9  # frames of a shot its actors' lighting ratios are measured on (the median)

GEOMETRY_TYPES = {"MESH", "CURVE", "SURFACE", "META", "FONT", "CURVES", "POINTCLOUD", "VOLUME"}


@contextmanager
def _object_pass_indices(scene, actors):
    """Give every renderable object its own pass index (1..N, by name) for the object index
    pass, restoring the artist's values afterwards. Yields (object names, actor of each index):
    the objects pass is that index, the mask pass maps it to actor numbers."""
    saved = {obj: obj.pass_index for obj in scene.objects}
    objects = sorted((obj for obj in scene.objects if obj.type in GEOMETRY_TYPES), key=lambda obj: obj.name)
    actor_of_index = np.zeros(len(objects) + 1, np.uint8)
    owner = {mesh: number for number, actor in enumerate(actors, start=1)
             for mesh in actor_rigs.actor_meshes(actor, scene)}
    try:
        for obj in scene.objects:
            obj.pass_index = 0
        for index, obj in enumerate(objects, start=1):
            obj.pass_index = index
            actor_of_index[index] = owner.get(obj, 0)
        yield [obj.name for obj in objects], actor_of_index
    finally:
        for obj, value in saved.items():
            obj.pass_index = value


def _resolution(scene, resolution):
    if resolution is None:
        render = scene.render
        resolution = camera_math.render_size(render.resolution_x, render.resolution_y, render.resolution_percentage)
    width, height = (int(v) for v in resolution)
    if width <= 0 or height <= 0:
        raise ExportError(f"resolution {width}x{height} is empty: set Output ▸ Format ▸ Resolution (or --size WxH)")
    if max(width, height) > MAX_SIDE:
        raise ExportError(f"resolution {width}x{height} is over {MAX_SIDE} pixels a side, the most Blender's depth "
                          "render can allocate: choose a smaller size")
    return width, height


def _actor_record(actor, index):
    return ActorRecord(name=actor_rigs.actor_name(actor), description=actor.get("blockcast_description", ""),
                       object=actor.name, bone_map=actor_rigs.actor_bone_map(actor), mask_index=index)


def _evaluate_frame(scene, camera, actors, depsgraph):
    """Camera record and actors' world joints on the render's own depsgraph, so actors and
    cameras disabled in viewports get the pose and placement the passes render."""
    for actor in actors:
        if not actor.evaluated_get(depsgraph).is_evaluated:
            raise ExportError(f"Actor '{actor_rigs.actor_name(actor)}' is not evaluated by the render: "
                              "enable its armature in renders (Object Properties ▸ Visibility ▸ Renders)")
    return (camera_frame_record(scene, camera, depsgraph),
            [actor_rigs.actor_joints_world(actor, depsgraph) for actor in actors])


def _pose_frame(actors, worlds, record, depth, width, height, margin):
    """OpenPose people and 3D joints of every actor at the current frame; `margin`: the occlusion
    margin in Blender units."""
    K = camera_math.intrinsics_matrix(record["fx"], record["fy"], record["cx"], record["cy"])
    w2c = np.asarray(record["w2c_opencv"], np.float64)
    people, joints = [], []
    for actor, world in zip(actors, worlds):
        pixels, z = camera_math.project_points(world, K, w2c)
        states = pose_math.joint_states(pixels, z, width, height, depth, margin)
        people.append(pose_math.openpose_person(pixels, states))
        camera_space = world @ w2c[:3, :3].T + w2c[:3, 3]
        joints.append({
            "name": actor_rigs.actor_name(actor),
            "world": world.tolist(),
            "camera": camera_space.tolist(),
            "pixel": pixels.tolist(),
            "state": states,
        })
    return people, joints


def _check_actors(actors):
    for actor in actors:
        actor_rigs.actor_resolved_bone_map(actor)  # raises BoneMapError naming the actor and its missing bones


def export_shot(scene, shot, out_dir, passes=None, resolution=None, overwrite=False, progress=None,
                should_cancel=None):
    """Write `shot` of `scene` as a bundle at `out_dir`; returns the bundle's path.

    progress(done, total) is called after each frame; should_cancel() is polled before each.
    """
    steps = iter_export_shot(scene, shot, out_dir, passes, resolution, overwrite)
    try:
        while True:
            if should_cancel is not None and should_cancel():
                steps.close()
                raise ExportCancelled(f"export of shot {shot.name!r} cancelled; nothing was written")
            done, total = next(steps)
            if progress is not None:
                progress(done, total)
    except StopIteration as finished:
        return finished.value


def iter_export_shot(scene, shot, out_dir, passes=None, resolution=None, overwrite=False, source=None):
    """The export as a generator: yields (frames done, total) after each frame and returns
    the bundle path. Closing it early (a cancel) removes everything it wrote, which lets a
    modal operator run it one frame per tick. `source` (a Source record) names the file the
    scene came from when this is not it (a background export of a saved copy)."""
    try:
        passes = parse_passes(passes or DEFAULT_PASSES)
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    camera = bpy.data.objects.get(shot.camera_name) if shot.camera_name else None
    check_camera(camera)
    width, height = _resolution(scene, resolution)
    actors = actor_rigs.scene_actors(scene)
    try:
        cast, reference_copies = scene_cast(scene)  # checks every reference image before any rendering
    except CastInputError as exc:
        raise ExportError(str(exc)) from None
    cycles_passes = [name for name in passes if name in CYCLES_PASSES]
    frames = shot.frames
    source_frame = scene.frame_current
    try:
        with BundleWriter(out_dir, overwrite) as writer, \
                pass_renderer(scene, camera, width, height, cycles_passes) as renderer, \
                _object_pass_indices(scene, actors) as (object_names, actor_of_index):
            _copy_references(writer, reference_copies)
            _check_actors(actors)
            depth_range, cameras, joint_frames, tracking = None, [], [], None
            margin = pose_math.DEFAULT_OCCLUSION_MARGIN_M / metres_per_unit(scene)  # metres, in Blender units
            for done, frame in enumerate(frames):
                renderer.set_frame(frame)
                depth = renderer.render_depth()
                depth_range = depth_math.update_range(depth_range, depth)
                record, worlds = renderer.evaluate(
                    lambda depsgraph: _evaluate_frame(renderer.scene, camera, actors, depsgraph))
                cameras.append(record)
                if "depth" in passes:
                    writer.write_npy(_frame_file("depth", "metric", frame), depth)
                if "pose" in passes:
                    people, joints = _pose_frame(actors, worlds, record, depth, width, height, margin)
                    writer.write_json(_frame_file("pose", "openpose", frame),
                                      pose_math.openpose_frame(people, width, height))
                    joint_frames.append({"frame": frame, "actors": joints})
                if "tracking" in passes:
                    tracking = _write_tracking(writer, renderer, tracking, record, depth, frame)
                if cycles_passes:
                    _write_cycles_passes(writer, renderer.render_cycles(), record, frame, passes, actor_of_index)
                yield done + 1, len(frames)
            near, far = depth_range or (camera.data.clip_start, camera.data.clip_end)
            manifest = _manifest(scene, shot, camera, passes, actors, width, height, near, far, object_names, cast,
                                 source, tracking)
            _measure_lighting(writer, manifest, passes, joint_frames, actor_of_index)
            return finish_shot(writer, manifest, _written_depth(writer), cameras, joint_frames)
    finally:
        scene.frame_set(source_frame)


def _write_tracking(writer, renderer, reference, record, depth, frame):
    """One frame of the tracking pass; the shot's first frame becomes the reference (returned)."""
    triangles = renderer.evaluate(tracking_glue.scene_triangles)
    if reference is None:
        reference = tracking_glue.TrackingReference(triangles, record, frame)
    positions = reference.positions(triangles, record, depth)
    if reference.inverse_depth is None:
        reference.inverse_depth = tracking_math.inverse_depth_range(positions, record["clip_start"], record["clip_end"])
    writer.write_npy(_frame_file("tracking", "first_frame", frame), positions)
    writer.write_png(_frame_file("tracking", "control", frame), tracking_math.tracking_control(
        positions, *reference.inverse_depth))
    return reference


def _written_depth(writer):
    """A frame's metric depth as this export wrote it (finish_shot makes the controls from it)."""
    return lambda frame: np.load(writer.path(_frame_file("depth", "metric", frame)))


def _measure_lighting(writer, manifest, passes, joint_frames, actor_of_index):
    """Each actor's lighting ratios (addon/lighting.py) measured on the clay pass just written, over
    a few frames spread through the shot, when it has the shading and pose passes and the actor
    mask or the objects pass the mask is made from; actors keep no lighting otherwise."""
    if not {"shading", "pose"} <= set(passes) or not {"mask", "objects"} & set(passes):
        return

    def mask_of(frame):
        if "mask" in passes:
            return read_png(writer.path(_frame_file("mask", "actors", frame)))
        return actor_of_index[read_png(writer.path(_frame_file("objects", "index", frame)))]

    frames = manifest.shot.frames
    sampled = [frames[i] for i in sample_frames(0, len(frames) - 1, LIGHTING_FRAMES)]
    measured = shot_lighting(manifest.actors, sampled, lambda frame: read_png(
        writer.path(_frame_file("shading", "image", frame))), mask_of, joint_frames)
    for actor, lighting in zip(manifest.actors, measured):
        actor.lighting = lighting_record(lighting)


def _copy_references(writer, reference_copies):
    """The cast's reference images, into the bundle's cast/ folder (the writer's temp folder)."""
    for copy in reference_copies:
        shutil.copyfile(copy.source, writer.path(copy.relative))


def _write_cycles_passes(writer, result, record, frame, passes, actor_of_index):
    if "shading" in result:
        writer.write_png(_frame_file("shading", "image", frame), linear_to_srgb8(result["shading"]))
    if "normal" in result:
        normals = camera_space_normals(result["normal"], record["w2c_opencv"])
        writer.write_npy(_frame_file("normal", "camera_space", frame), normals.astype(np.float16))
        writer.write_png(_frame_file("normal", "preview", frame), normal_preview(normals))
    if "vector" in result:
        writer.write_npy(_frame_file("flow", "forward", frame), forward_flow(result["vector"]))
    if "index" in result:
        index = np.rint(result["index"]).astype(np.int64)
        # Objects instanced from outside the scene keep their own pass index: not ours, so "none".
        index = np.where((index >= 0) & (index < len(actor_of_index)), index, 0).astype(np.uint16)
        if "objects" in passes:
            writer.write_png(_frame_file("objects", "index", frame), index)
        if "mask" in passes:
            writer.write_png(_frame_file("mask", "actors", frame), actor_of_index[index])


def saved_blend_sha256():
    """Hash of the .blend on disk, which farm tasks use to recognise a bundle already exported
    from the same file. None with unsaved edits in the UI; headless, the file as loaded counts
    (Blender marks a freshly loaded file dirty in background mode, so is_dirty can't tell)."""
    if not bpy.data.filepath or (bpy.data.is_dirty and not bpy.app.background):
        return None
    digest = hashlib.sha256()
    with open(bpy.data.filepath, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundle_is_current(out_dir, scene, shot, passes=None, resolution=None):
    """True when `out_dir` already holds a complete bundle of this very request (same saved
    .blend contents, shot, frames, passes and size): re-running a finished task does nothing."""
    try:
        bundle = read_bundle(out_dir)
        wanted_passes = parse_passes(passes or DEFAULT_PASSES)
    except (BundleError, ValueError):
        return False
    source_hash = bundle.record.source.blend_sha256
    return (
        source_hash is not None and source_hash == saved_blend_sha256()
        and bundle.name == shot.name and bundle.frames == shot.frames
        and tuple(bundle.passes) == wanted_passes
        and (bundle.width, bundle.height) == _resolution(scene, resolution)
        and not validate_bundle(out_dir)
    )


def source_record(scene):
    """Where the bundle comes from: the open .blend (hashed when saved), the scene, this Blender."""
    return Source(blend=bpy.data.filepath, blend_sha256=saved_blend_sha256(), scene=scene.name,
                  blender_version=bpy.app.version_string)


def metres_per_unit(scene):
    """Scene ▸ Units ▸ Unit Scale, the metres in one Blender unit, to float32's 7 digits (0.01, not
    0.009999999776); 1 with Unit System None, where Blender applies no scale (as io_scene_fbx's
    units_blender_to_fbx_factor reads it)."""
    units = scene.unit_settings
    return 1.0 if units.system == "NONE" else float(f"{units.scale_length:.7g}")


def _manifest(scene, shot, camera, passes, actors, width, height, near, far, object_names, cast, source=None,
              tracking=None):
    """The shot's BundleManifest from the values gathered here (the format is the record's)."""
    pass_fields = {"depth": dict(near=near, far=far),
                   "tracking": tracking.manifest_fields() if tracking is not None else {},
                   "pose": dict(occlusion_margin_m=pose_math.DEFAULT_OCCLUSION_MARGIN_M,
                                confidence=pose_math.CONFIDENCE),
                   "objects": dict(objects=object_names)}
    render = scene.render
    return BundleManifest(
        shot=Shot(name=shot.name, camera=camera.name, frame_start=shot.frame_start, frame_end=shot.frame_end,
                  frames=shot.frames, fps=render.fps / render.fps_base, motion_blur=motion_blur_record(scene)),
        resolution=Resolution(width=width, height=height, pixel_aspect=[render.pixel_aspect_x, render.pixel_aspect_y]),
        metres_per_unit=metres_per_unit(scene),
        passes={name: pass_entry(name, **pass_fields.get(name, {})) for name in passes},
        actors=[_actor_record(actor, index) for index, actor in enumerate(actors, start=1)],
        cast=cast,
        source=source or source_record(scene))
