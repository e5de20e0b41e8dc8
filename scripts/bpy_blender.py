"""Blender's command line, run by the bpy module: `blender -b [FILE] -P SCRIPT -- ARGS` for a
worker that has Blockcast's bpy venv (.venv) but no Blender install, and for tests that must
run farm commands exactly as a farm writes them.

    python scripts/bpy_blender.py -b [--factory-startup] [-y] [FILE.blend] [--python-exit-code N] -P SCRIPT [-- ARGS]

As in Blender: arguments are handled in order, FILE is opened, the script runs as __main__
with sys.argv holding the whole command line, and an uncaught error exits with the
--python-exit-code value (0 without it). Other Blender options are refused, not ignored.
"""

import runpy
import sys
import traceback
from pathlib import Path

FLAGS = {"-b", "--background", "--factory-startup", "-y", "--enable-autoexec", "-noaudio"}


def main(argv):
    import bpy

    args = argv[1:argv.index("--")] if "--" in argv else argv[1:]
    error_code, index = 0, 0
    while index < len(args):
        arg = args[index]
        if arg in FLAGS:
            pass
        elif arg == "--python-exit-code" and index + 1 < len(args):
            index += 1
            error_code = int(args[index])
        elif arg in ("-P", "--python") and index + 1 < len(args):
            index += 1
            sys.argv = ["blender", *argv[1:]]
            try:
                runpy.run_path(args[index], run_name="__main__")
            except SystemExit:
                raise
            except Exception:
                traceback.print_exc()
                return error_code
        elif arg.endswith(".blend") and not arg.startswith("-"):
            bpy.ops.wm.open_mainfile(filepath=str(Path(arg).resolve()), load_ui=False)
        else:
            print(f"bpy_blender: error: Blender option {arg!r} is not supported here", file=sys.stderr)
            return 2
        index += 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
