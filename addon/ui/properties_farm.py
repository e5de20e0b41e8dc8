"""The Farm section's settings (scene.blockcast_farm): which shots and how a farm job runs them.

Kept apart from the other scene settings so the farm job writer owns its own state.
"""

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, PointerProperty, StringProperty

from ...farm.flamenco_job import shots_json
from ...farm.job import DEFAULT_BACKEND, DEFAULT_PASSES, FarmShot, select_shots
from ...farm.layout import LayoutError
from ..blender.shots import scene_shots
from .preferences import MEMORY


def farm_shot(scene, shot):
    """A shot for the farm, with the prompt and seed the Generate panel gave it (Set Up Shot), so
    a farm take of a shot is made as the artist's own Generate would make it."""
    own = scene.blockcast.shot_generation_settings(shot.name)
    if own is None:
        return FarmShot(shot.name, shot.frame_start, shot.frame_end)
    return FarmShot(shot.name, shot.frame_start, shot.frame_end, prompt=own.prompt, seed=own.seed)


def chosen_shots(scene, text):
    """The scene's shots named in `text` (comma-separated), or all of them when it is empty."""
    shots = [farm_shot(scene, s) for s in scene_shots(scene)]
    wanted = [name.strip() for name in text.split(",") if name.strip()]
    return select_shots(shots, wanted)


def _shots_json(settings):
    try:
        return shots_json(chosen_shots(settings.id_data, settings.shots))
    except LayoutError:
        return "[]"


class BlockcastFarmSettings(bpy.types.PropertyGroup):
    __annotations__ = {
        "job_dir": StringProperty(name="Job Folder", subtype="DIR_PATH",
                                  description="Where the job files are written (OpenJD template, Flamenco job)"),
        "output_dir": StringProperty(name="Farm Output", subtype="DIR_PATH",
                                     description="Where the tasks write passes, takes and the edit; empty: "
                                                 "JOB_FOLDER/output"),
        "shots": StringProperty(name="Shots", description="Comma-separated shot names; empty: every shot"),
        "shots_json": StringProperty(name="Shots (JSON)", get=_shots_json,
                                     description="The chosen shots with their frames, for the Flamenco job type"),
        "chunk_size": IntProperty(name="Frames per Task", default=24, min=1,
                                  description="Frames each pass-export task exports"),
        "takes": IntProperty(name="Takes", default=1, min=1, description="Takes per shot"),
        "takes_per_task": IntProperty(name="Takes per Task", default=1, min=1,
                                      description="Takes each generation task makes (models load once per task)"),
        "seed": IntProperty(name="Seed", default=0, min=0,
                            description="First take's seed of shots without their own (Generate ▸ Set Up Shot)"),
        "backend": StringProperty(name="Backend", default=DEFAULT_BACKEND, description="The engine backend"),
        "passes": StringProperty(name="Passes", default=DEFAULT_PASSES,
                                 description="Passes to export; the job adds those the backend needs (previz: "
                                             "shading, normal, objects, rendered with Cycles: a slower export)"),
        "prompt": StringProperty(name="Prompt",
                                 description="Prompt of shots without their own (Generate ▸ Set Up Shot)"),
        "memory": EnumProperty(name="Memory", items=MEMORY, default="auto",
                               description="The engine's memory preset on the workers (--memory), as Preferences ▸ "
                                           "Memory is for this machine; Auto: from each worker's free GPU memory"),
        "allow_cpu_generation": BoolProperty(name="Allow CPU Generation", default=False,
                                             description="Let generation run on workers without a GPU (small tests)"),
        "blockcast_dir": StringProperty(name="Blockcast on Farm", subtype="DIR_PATH",
                                        description="The Blockcast checkout the workers run (with its venvs)"),
        "engine_python": StringProperty(name="Engine Python", subtype="FILE_PATH",
                                        description="The engine's Python on the workers; empty: "
                                                    "BLOCKCAST/.venv-engine/bin/python"),
        "blender": StringProperty(name="Blender on Farm", default="blender",
                                  description="Blender's executable on the workers"),
    }


def register():
    bpy.utils.register_class(BlockcastFarmSettings)
    bpy.types.Scene.blockcast_farm = PointerProperty(type=BlockcastFarmSettings)


def unregister():
    del bpy.types.Scene.blockcast_farm
    bpy.utils.unregister_class(BlockcastFarmSettings)
