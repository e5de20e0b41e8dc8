"""Write Farm Job: the chosen shots as an Open Job Description job and a Flamenco job, in one folder.

The job folder gets template.json, parameters.json and parameter_values.json (OpenJD:
`openjd run`, Deadline Cloud) and flamenco_job.json (the body of a Flamenco Manager job
submission for the Blockcast job type). Farms read the saved .blend, so unsaved edits are refused.
"""

import json
from pathlib import Path

import bpy

from ...farm import flamenco_job, openjd
from ...farm.job import FarmJob
from ...farm.layout import LayoutError
from .properties_farm import chosen_shots

FLAMENCO_JOB = "flamenco_job.json"


def _path(text):
    return Path(bpy.path.abspath(text)) if text else None


def farm_job(scene, settings):
    return FarmJob(name=Path(bpy.data.filepath).stem, scene=scene.name, shots=chosen_shots(scene, settings.shots),
                   chunk_size=settings.chunk_size, takes=settings.takes, takes_per_task=settings.takes_per_task,
                   seed=settings.seed, backend=settings.backend, passes=settings.passes, prompt=settings.prompt,
                   allow_cpu_generation=settings.allow_cpu_generation, memory=settings.memory)


def write_farm_job(scene, settings):
    """Write both jobs; returns the job folder. LayoutError says what is missing."""
    if not bpy.data.filepath or (bpy.data.is_dirty and not bpy.app.background):  # background: always "dirty"
        raise LayoutError("save the .blend first: farm tasks export the saved file")
    job_dir, blockcast_dir = _path(settings.job_dir), _path(settings.blockcast_dir)
    if job_dir is None or blockcast_dir is None:
        raise LayoutError("set the Job Folder and Blockcast on Farm (the checkout the workers run)")
    job = farm_job(scene, settings)
    output_dir = _path(settings.output_dir) or job_dir / "output"
    engine_python = _path(settings.engine_python) or blockcast_dir / ".venv-engine" / "bin" / "python"
    values = openjd.parameter_values(job, bpy.data.filepath, output_dir, blockcast_dir, engine_python, settings.blender,
                                     job_dir)
    openjd.write_job(job_dir, openjd.build_template(job), values)
    submission = flamenco_job.submission(job, bpy.data.filepath, output_dir.absolute())
    (job_dir / FLAMENCO_JOB).write_text(json.dumps(submission, indent=1) + "\n", encoding="utf-8")
    return job_dir


class BLOCKCAST_OT_write_farm_job(bpy.types.Operator):
    """Write the chosen shots as farm jobs (Open Job Description and Flamenco) into the job folder"""

    bl_idname = "blockcast.write_farm_job"
    bl_label = "Write Farm Job"

    def execute(self, context):
        try:
            job_dir = write_farm_job(context.scene, context.scene.blockcast_farm)
        except (LayoutError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Wrote the farm job to {job_dir} ({openjd.TEMPLATE}, {FLAMENCO_JOB})")
        return {"FINISHED"}


register, unregister = bpy.utils.register_classes_factory((BLOCKCAST_OT_write_farm_job,))
