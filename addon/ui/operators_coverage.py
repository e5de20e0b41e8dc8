"""Check Coverage: the scene's line of action, each shot's side of it, eyelines and cut-off actors,
kept as a short text on the window manager (not saved in the .blend) for the Coverage panel, and the
top-down diagram written as SVG beside the saved .blend (else in the temporary folder)."""

import tempfile
from pathlib import Path

import bpy
from bpy.props import StringProperty

from ..blender import errors
from ..blender.coverage import scene_coverage
from ..coverage_diagram import DiagramPathError, write_coverage_svg


def diagram_path(scene):
    """`<blend name>_coverage_<scene>.svg` beside the saved .blend, else in the temporary folder."""
    name = bpy.path.clean_name(scene.name)
    if bpy.data.filepath:
        blend = Path(bpy.data.filepath)
        return blend.with_name(f"{blend.stem}_coverage_{name}.svg")
    return Path(tempfile.gettempdir()) / f"blockcast_coverage_{name}.svg"


class BLOCKCAST_OT_check_coverage(bpy.types.Operator):
    """Check the line of action, each shot's camera side, eyelines across cuts and actors cut off by the
    frame, and draw it from above"""

    bl_idname = "blockcast.check_coverage"
    bl_label = "Check Coverage"

    def execute(self, context):
        scene, wm = context.scene, context.window_manager
        try:
            report = scene_coverage(scene)
            path = write_coverage_svg(diagram_path(scene), report)
        except (*errors.USER_ERRORS, DiagramPathError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        wm.blockcast_coverage, wm.blockcast_coverage_scene = report.summary(), scene.name
        wm.blockcast_coverage_diagram = str(path)
        crossing = [shot.name for shot in report.shots if shot.crosses_line]
        self.report({"WARNING"} if crossing else {"INFO"},
                    f"Shot(s) {', '.join(crossing)} cross the line" if crossing else f"Coverage drawn: {path}")
        if not bpy.app.background:  # Blender's Image Editor cannot show SVG: the system's viewer does
            bpy.ops.wm.path_open(filepath=str(path))
        return {"FINISHED"}


class BLOCKCAST_OT_open_coverage_diagram(bpy.types.Operator):
    """Open the last coverage diagram in the system's image viewer"""

    bl_idname = "blockcast.open_coverage_diagram"
    bl_label = "Open Diagram"

    @classmethod
    def poll(cls, context):
        return Path(context.window_manager.blockcast_coverage_diagram or "/nonexistent").is_file()

    def execute(self, context):
        bpy.ops.wm.path_open(filepath=context.window_manager.blockcast_coverage_diagram)
        return {"FINISHED"}


_CLASSES = (BLOCKCAST_OT_check_coverage, BLOCKCAST_OT_open_coverage_diagram)
_PROPERTIES = ("blockcast_coverage", "blockcast_coverage_scene", "blockcast_coverage_diagram")


def register():
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    for name in _PROPERTIES:
        setattr(bpy.types.WindowManager, name, StringProperty(options={"SKIP_SAVE"}))


def unregister():
    for name in reversed(_PROPERTIES):
        delattr(bpy.types.WindowManager, name)
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
