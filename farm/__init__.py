"""Render-farm jobs: the chain (pass export, merge, generation, assembly) as farm tasks.

Stdlib only and bpy-free, so the same files serve three places: scripts in the Blender
and engine venvs import it as `farm`, and the add-on (which ships it) as `blockcast.farm`.
"""
