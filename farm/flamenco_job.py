"""A FarmJob as a Flamenco v3 job submission for the Blockcast job type (farm/flamenco/blockcast.js).

The JSON is the body of the Manager's `POST /api/v3/jobs`; the Manager compiles it with the
job type's compileJob into tasks. Paths are this workstation's: the Manager's two-way
variables map them for each worker's platform.
"""

import json
import platform

JOB_TYPE = "blockcast"  # Flamenco names a job type after its script: scripts/blockcast.js
GPU_TASK_TYPE = "blockcast-gpu"


def shots_json(shots):
    """The `shots` setting: [[name, first frame, last frame], ...], with [..., prompt, seed] for a
    shot with its own (null where it keeps the job's)."""
    return json.dumps([[shot.name, shot.frame_start, shot.frame_end]
                       + ([shot.prompt, shot.seed] if shot.has_own_settings else []) for shot in shots])


def settings(job, blendfile, output_root):
    return {
        "blendfile": str(blendfile), "scene": job.scene, "shots": shots_json(job.shots),
        "output_root": str(output_root), "chunk_size": job.chunk_size, "takes": job.takes,
        "takes_per_task": job.takes_per_task, "seed": job.seed, "backend": job.backend, "passes": job.export_passes,
        "prompt": job.prompt, "steps": job.steps, "generation_size": job.generation_size,
        "models": ";".join(job.models), "device": job.device, "memory": job.memory,
        "gpu_task_type": "misc" if job.cpu_generation else GPU_TASK_TYPE,
    }


def submission(job, blendfile, output_root, priority=50):
    system = {"Darwin": "darwin", "Windows": "windows"}.get(platform.system(), "linux")
    return {"name": f"Blockcast {job.name}", "type": JOB_TYPE, "priority": priority, "submitter_platform": system,
            "settings": settings(job, blendfile, output_root), "metadata": {"project": job.name}}
