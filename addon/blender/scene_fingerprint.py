"""Gathers everything a shot's pass export reads into a `Fingerprint` (addon/scene_fingerprint.py),
cheaply and without touching the artist's scene, so Generate reuses the shot's bundle when
exporting again would write the same one.

What the renders see is read from the render's own depsgraph, frame by frame, exactly as the
export reads it (`render.PassRenderer.evaluate`: render visibility, render modifier levels):
every object instance's world matrix, the evaluated geometry (positions, corners, faces and
their normals), armatures' pose, cameras' and lights' evaluated settings. Beside that: the
objects' render flags and custom properties, collections, the world and its nodes, the render,
Cycles, display and colour settings, the view layers, actors, cast (reference images by their
bytes), the request (shot, frames, camera, passes, size), the .blend's path, Blender's version,
the Cycles device the passes render on and a digest of Blockcast's own code. Selection, the
current frame and UI state are left out. When in doubt a value is in: a needless re-export costs seconds, a wrong reuse a wrong take.
"""

from pathlib import Path

import bpy
import numpy as np

from ..cast import CastInputError
from ..cycles_device import device_label
from ..scene_fingerprint import Fingerprint, code_digest
from .cast import scene_actor_values, scene_cast
from .render import cycles_devices, pass_renderer

_ADDON = Path(__file__).resolve().parents[1]
_BUNDLE_FORMAT = _ADDON.parent / "engine" / "bundle"
_SKIPPED = {"rna_type", "name_full", "original", "users", "session_uid", "is_evaluated", "tag", "is_runtime_data",
            "is_dirty", "depsgraph", "is_editmode", "is_embedded_data", "is_missing", "is_library_indirect",
            "use_extra_user", "use_fake_user", "id_type", "preview", "is_property_readonly",
            "wireframe_color_type"}  # (an unset enum Blender warns about when read; wireframes do not render)
_OBJECT_FLAGS = ("type", "hide_render", "display_type", "visible_camera", "visible_diffuse", "visible_glossy",
                 "visible_transmission", "visible_volume_scatter", "visible_shadow", "is_holdout",
                 "is_shadow_catcher", "instance_type")
_MESHLIKE = {"CURVE", "SURFACE", "FONT", "META"}


def _plain(value):
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "to_list"):
        return value.to_list()
    if isinstance(value, bpy.types.ID):
        return value.name
    if hasattr(value, "__len__") and not isinstance(value, str):
        return [_plain(item) for item in value]
    return value


def rna_values(struct, depth=1):
    """Every setting of an RNA struct (nested structs `depth` levels down; ID pointers by name)."""
    values = {}
    for prop in struct.bl_rna.properties:
        key = prop.identifier
        if key in _SKIPPED:
            continue
        try:
            value = getattr(struct, key)
        except (AttributeError, RuntimeError, TypeError):
            continue
        if prop.type == "POINTER":
            if value is None or isinstance(value, bpy.types.ID):
                values[key] = None if value is None else value.name
            elif depth > 0:
                values[key] = rna_values(value, depth - 1)
        elif prop.type == "COLLECTION":
            if depth > 0:
                values[key] = [rna_values(item, depth - 1) for item in value]
        else:
            values[key] = _plain(value)
    return values


def _node_tree(tree):
    """A node tree's nodes (settings, input values) and links; None when there is none."""
    if tree is None:
        return None
    nodes = sorted((node.name, rna_values(node, 0), [_plain(getattr(s, "default_value", None)) for s in node.inputs],
                    _node_tree(getattr(node, "node_tree", None))) for node in tree.nodes)
    links = [(link.from_node.name, link.from_socket.identifier, link.to_node.name, link.to_socket.identifier,
              link.is_muted) for link in tree.links]
    return [nodes, sorted(links)]


def _custom_properties(id_data):
    return {key: _plain(id_data[key]) for key in id_data.keys()}


def _layer_collections(layer_collection):
    """(name, exclude, holdout, indirect only, disabled in renders, children) down the tree."""
    return (layer_collection.name, layer_collection.exclude, layer_collection.holdout,
            layer_collection.indirect_only, layer_collection.collection.hide_render,
            [_layer_collections(child) for child in layer_collection.children])


def _scene_settings(fingerprint, scene):
    fingerprint.add("render", rna_values(scene.render))
    for name in ("cycles", "display", "view_settings", "display_settings", "unit_settings"):
        group = getattr(scene, name, None)
        if group is not None:
            fingerprint.add(name, rna_values(group))
    world = scene.world
    fingerprint.add("world", None if world is None else {"world": rna_values(world, 0), "nodes": _node_tree(
        world.node_tree), "cycles": rna_values(world.cycles, 0) if hasattr(world, "cycles") else None})
    fingerprint.add("view_layers", [{"layer": rna_values(layer, 0), "collections": _layer_collections(
        layer.layer_collection)} for layer in scene.view_layers])


def _objects(fingerprint, scene):
    for obj in sorted(scene.objects, key=lambda o: o.name):
        fingerprint.add(f"object {obj.name}", {
            "flags": {name: _plain(getattr(obj, name, None)) for name in _OBJECT_FLAGS},
            "parent": obj.parent.name if obj.parent else None, "data": obj.data.name if obj.data else None,
            "collections": sorted(c.name for c in obj.users_collection), "custom": _custom_properties(obj),
            "modifiers": [rna_values(m, 0) for m in obj.modifiers],
            "bones": obj.data.bones.keys() if obj.type == "ARMATURE" else None})


def _floats(collection, attribute, width):
    values = np.empty(len(collection) * width, np.float32)
    collection.foreach_get(attribute, values)
    return values


def _ints(collection, attribute):
    values = np.empty(len(collection), np.int32)
    collection.foreach_get(attribute, values)
    return values


def _add_mesh(fingerprint, label, mesh):
    fingerprint.add_array(f"{label} positions", _floats(mesh.vertices, "co", 3))
    fingerprint.add_array(f"{label} corners", _ints(mesh.loops, "vertex_index"))
    fingerprint.add_array(f"{label} faces", _ints(mesh.polygons, "loop_start"))
    normals = mesh.corner_normals if hasattr(mesh, "corner_normals") else None
    if normals is not None:
        fingerprint.add_array(f"{label} normals", _floats(normals, "vector", 3))
    else:  # Blender before 4.1: split normals are computed on request
        mesh.calc_normals_split()
        fingerprint.add_array(f"{label} normals", _floats(mesh.loops, "normal", 3))


def _add_attributes(fingerprint, label, data):
    for attribute in sorted(data.attributes, key=lambda a: a.name):
        key = next((k for k in ("vector", "value", "color") if hasattr(attribute.data[0], k)), None) \
            if len(attribute.data) else None
        if key is None:
            fingerprint.add(f"{label} {attribute.name}", len(attribute.data))
            continue
        sample = getattr(attribute.data[0], key)
        width = len(sample) if hasattr(sample, "__len__") else 1
        values = np.empty(len(attribute.data) * width, np.float64)
        attribute.data.foreach_get(key, values)
        fingerprint.add_array(f"{label} {attribute.name} {attribute.domain}", values)


def _add_geometry(fingerprint, label, obj):
    """The evaluated geometry of `obj` as the renders see it."""
    kind = obj.type
    if kind == "MESH":
        _add_mesh(fingerprint, label, obj.data)
    elif kind in _MESHLIKE:
        mesh = obj.to_mesh()
        try:
            _add_mesh(fingerprint, label, mesh) if mesh is not None else fingerprint.add(label, None)
        finally:
            obj.to_mesh_clear()
    elif kind in ("CURVES", "POINTCLOUD"):
        _add_attributes(fingerprint, label, obj.data)
    elif kind == "ARMATURE":
        fingerprint.add_array(f"{label} pose", _floats(obj.pose.bones, "matrix", 16))
    elif kind == "CAMERA" or kind == "LIGHT" or kind == "VOLUME":
        fingerprint.add(label, rna_values(obj.data))
        if kind == "LIGHT":
            fingerprint.add(f"{label} nodes", _node_tree(obj.data.node_tree))


def _frame(fingerprint, frame, depsgraph):
    """One frame of the render's depsgraph: every instance's matrix, each geometry once."""
    seen = set()
    instances = []
    for instance in depsgraph.object_instances:
        obj = instance.object
        instances.append((obj.name, instance.is_instance, tuple(instance.persistent_id),
                          instance.parent.name if instance.parent else None,
                          [v for row in instance.matrix_world for v in row]))
        key = (obj.name, obj.data.as_pointer() if obj.data is not None else 0)
        if key not in seen:
            seen.add(key)
            _add_geometry(fingerprint, f"frame {frame} {obj.name}", obj)
    fingerprint.add(f"frame {frame} instances", sorted(instances, key=lambda i: (i[0], i[2])))


def export_fingerprint(scene, shot, passes, size):
    """The fingerprint of exporting `shot` with these passes at `size` (w, h); None when the
    export would fail anyway (it then says why)."""
    camera = bpy.data.objects.get(shot.camera_name) if shot.camera_name else None
    try:
        cast, references = scene_cast(scene)
    except CastInputError:
        return None
    if camera is None or camera.type != "CAMERA":
        return None
    fingerprint = Fingerprint()
    fingerprint.add("code", code_digest(_ADDON, _BUNDLE_FORMAT))
    fingerprint.add("request", [shot.name, shot.frames, camera.name, sorted(passes), list(size), bpy.data.filepath,
                                scene.name, bpy.app.version_string,
                                device_label(cycles_devices())])  # GPU and CPU noise differ
    fingerprint.add("cast", cast.to_json())
    for copy in references:
        fingerprint.add_file(f"reference {copy.relative}", copy.source)
    fingerprint.add("actors", [vars(values) for values in scene_actor_values(scene)])
    _scene_settings(fingerprint, scene)
    _objects(fingerprint, scene)
    source_frame = scene.frame_current
    try:
        with pass_renderer(scene, camera, *size) as renderer:
            for frame in shot.frames:
                renderer.set_frame(frame)
                renderer.evaluate(lambda depsgraph: _frame(fingerprint, frame, depsgraph))
    finally:
        scene.frame_set(source_frame)
    return fingerprint.hexdigest()
