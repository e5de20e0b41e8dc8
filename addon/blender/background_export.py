"""Generate's pass export without freezing Blender: a background Blender exports a saved copy.

Why a background process rather than a modal export that passes input through between
frames: a frame's render holds Blender for its whole length either way (Cycles blocks the
UI thread), and an export that lets the artist edit between frames would write a bundle
whose early frames show one scene and its late frames another (a moved actor, a retimed
camera), with the shot-wide depth range mixing both. `save_as_mainfile(copy=True)` writes a
snapshot of the scene as it is when Generate is pressed, without touching the artist's file
or its path (relative paths are remapped to the copy's folder); the child renders that
snapshot while the artist keeps working, and the bundle records the artist's file as its
source, so it is the bundle an in-process export of that moment writes.

Where no Blender executable can be run (the bpy module has no binary: `bpy.app.binary_path`
is empty; BLOCKCAST_BLENDER names one), the export runs in this process as before, a frame
per timer tick, and the status line says so: in the UI that input is held meanwhile, in a
headless script (`blender -b`, the bpy module: nothing to hold) only that it runs here. Both
kinds are iterators of (frames done, total) returning the bundle's path, closed to cancel,
which is what GenerationJob and Shot Export's Export Passes run.
"""

import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import bpy

from ..cycles_device import device_label
from ...engine.bundle.storage import check_output_dir
from ..export_process import ExportJob, ExportProcess, ExportProcessError, blender_command, find_blender
from .export import ExportError, iter_export_shot, source_record
from .render import cycles_devices

ENTRY = Path(__file__).with_name("background_export_entry.py")
HELD_NOTE = "Blender held: no Blender executable to export in the background (set BLOCKCAST_BLENDER)"
HEADLESS_NOTE = "in this process"  # blender -b or the bpy module: no UI whose input could be held


def in_process_note(device, headless):
    """The status line's note for an export in this process: 'held' only where a UI is held."""
    return f"{HEADLESS_NOTE}, Cycles on {device}" if headless else f"{HELD_NOTE}; Cycles on {device}"


class InProcessExport:
    """The export in this process: each step renders a frame (in the UI, while input is held)."""

    in_background = False

    def __init__(self, steps, device):
        self._steps = steps
        self.note = in_process_note(device, bpy.app.background)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._steps)

    def close(self):
        self._steps.close()


class BackgroundExport:
    """The export in a background Blender; `next()` returns the latest progress at once."""

    in_background = True

    def __init__(self, scene, shot, bundle_dir, passes, size, blender, overwrite=False):
        check_output_dir(bundle_dir, overwrite)  # refused here, in the caller's words, before Blender starts
        devices = cycles_devices()
        self.note = f"in the background, Cycles on {device_label(devices)}"
        self._frames = len(shot.frames)
        work = Path(tempfile.mkdtemp(prefix="blockcast-export-"))
        copy = work / (Path(bpy.data.filepath).name or "untitled.blend")
        try:
            bpy.ops.wm.save_as_mainfile(filepath=str(copy), copy=True)
        except RuntimeError as exc:
            shutil.rmtree(work, ignore_errors=True)
            raise ExportError(f"could not save a copy of the file for the background export: {exc}") from None
        job = ExportJob(scene.name, asdict(shot), str(Path(bundle_dir).absolute()), list(passes),
                        list(size) if size else None, source_record(scene).to_json(), devices.to_json(), overwrite)
        job_file = work / "job.json"
        job_file.write_text(json.dumps(job.to_json()), encoding="utf-8")
        auto_run = bpy.context.preferences.filepaths.use_scripts_auto_execute
        try:
            self.process = ExportProcess(blender_command(blender, copy, ENTRY, job_file, auto_run), work, bundle_dir)
        except ExportProcessError as exc:
            raise ExportError(str(exc)) from None

    def __iter__(self):
        return self

    def __next__(self):
        code = self.process.poll()
        if code is None:
            return self.process.done, self.process.total or self._frames
        if code == 0 and self.process.path:
            self.process.clear()
            raise StopIteration(Path(self.process.path))
        message = self.process.failure_message()
        self.process.stop()
        raise ExportError(message)

    def close(self):
        """Cancel: the child is stopped and nothing it wrote stays."""
        self.process.stop()


def export_steps(scene, shot, bundle_dir, passes, size=None, overwrite=False):
    """The shot's export (GenerationJob's, Export Passes'): in a background Blender where one can
    run, else here. `overwrite` replaces a bundle already there (Shot Export's Replace Existing)."""
    blender = find_blender(bpy.app.binary_path)
    if blender is None:
        steps = iter_export_shot(scene, shot, bundle_dir, passes, size, overwrite)
        return InProcessExport(steps, device_label(cycles_devices()))
    return BackgroundExport(scene, shot, bundle_dir, passes, size, blender, overwrite)
