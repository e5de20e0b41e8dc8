"""Check Service: ask the Engine Service address now, for the preferences' status line."""

import bpy

from ..blender.engine_choice import check_service
from . import preferences as prefs_module


class BLOCKCAST_OT_check_engine_service(bpy.types.Operator):
    """Ask the Engine Service address whether a service answers (Generate asks it anyway)"""

    bl_idname = "blockcast.check_engine_service"
    bl_label = "Check Service"

    def execute(self, context):
        check_service(prefs_module.preferences(context))
        status = prefs_module.SERVICE_STATUS
        self.report({"WARNING" if status["alert"] else "INFO"}, status["line"])
        for area in context.screen.areas if context.screen else ():
            area.tag_redraw()
        return {"FINISHED"}


def register():
    bpy.utils.register_class(BLOCKCAST_OT_check_engine_service)


def unregister():
    bpy.utils.unregister_class(BLOCKCAST_OT_check_engine_service)
