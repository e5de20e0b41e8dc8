"""The add-on's Blender UI: operators, panels, properties and preferences. The bpy-free core
they call sits beside this package in `addon/`, the Blender scene glue in `addon/blender/`."""
