"""Run by a background Blender: `blender -b COPY.blend --python THIS -- JOB.json`.

Exports one shot of the opened copy as a bundle (the same `iter_export_shot` an in-process
export runs, recording the artist's file as the source) and prints its progress as JSON
lines (addon/export_process.py). Blender runs this file as __main__, outside any package, so
it loads the extension's modules by path under a private package name, leaving the add-on's
UI unregistered and unimported.
"""

import importlib
import json
import sys
import traceback
import types
from pathlib import Path

PACKAGE = "blockcast_background_export"
ROOT = Path(__file__).resolve().parents[2]  # the extension: its __init__.py, addon/ and engine/


def _module(name):
    for dotted, folder in ((PACKAGE, ROOT), (f"{PACKAGE}.addon", ROOT / "addon")):
        if dotted not in sys.modules:  # bare packages: their __init__ (the UI's registration) never runs
            package = types.ModuleType(dotted)
            package.__path__ = [str(folder)]
            sys.modules[dotted] = package
    return importlib.import_module(f"{PACKAGE}.{name}")


def export(job):
    """Export the job's shot (an ExportJob); yields the protocol's lines."""
    import bpy

    exporter, shots, render = _module("addon.blender.export"), _module("addon.blender.shots"), \
        _module("addon.blender.render")
    devices, manifest = _module("addon.cycles_device"), _module("engine.bundle.manifest")
    protocol = _module("addon.export_process")
    render.use_cycles_devices(devices.CyclesDevices.from_json(job.cycles))
    scene = bpy.data.scenes.get(job.scene)
    if scene is None:
        raise exporter.ExportError(f"the saved copy has no scene {job.scene!r}")
    size = tuple(job.size) if job.size else None
    steps = exporter.iter_export_shot(scene, shots.Shot(**job.shot), job.bundle, job.passes, size, job.overwrite,
                                      source=manifest.Source.from_json(job.source))
    try:
        while True:
            done, total = next(steps)
            yield protocol.progress_line("export_frame", done=done, total=total)
    except StopIteration as finished:
        yield protocol.progress_line("exported", bundle_path=str(finished.value))


def main(argv):
    protocol = _module("addon.export_process")
    job = protocol.ExportJob.from_json(json.loads(Path(argv[argv.index("--") + 1]).read_text(encoding="utf-8")))
    user_errors = _module("addon.blender.errors").USER_ERRORS + (_module("addon.cast").CastInputError,)
    try:
        for line in export(job):
            print(line, flush=True)
    except user_errors as exc:
        print(protocol.progress_line("export_error", message=str(exc)), flush=True)
        return 1
    except Exception as exc:  # a bug of ours: the console keeps the details, the artist gets one line
        traceback.print_exc()
        print(protocol.progress_line("export_error", message=f"internal error in the background export "
                                     f"({type(exc).__name__}: {exc})"), flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
