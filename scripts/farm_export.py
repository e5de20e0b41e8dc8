"""One farm export task: scripts/export_passes.py with the shot and scene names as the job wrote them.

    blender -b --factory-startup --python-exit-code 1 -P scripts/farm_export.py -- [FILE]
        --scene-json '"Scene"' --shot-json '"sh 010"' [export_passes options: --frames, --out, ...]

The farm job writers pass user text as JSON string literals (farm/literal.py), which neither
OpenJD nor Flamenco expands; this decodes them and runs export_passes in-process with the
names exactly as they are in the .blend. Exit codes are export_passes' (0 done, 1 error,
2 bad arguments, 130 cancelled).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_passes  # noqa: E402
from blockcast_import import REPO_ROOT  # noqa: E402

sys.path.insert(0, str(REPO_ROOT))
from farm import literal  # noqa: E402


def export_argv(argv):
    """export_passes' command line: the other options as given, the names decoded."""
    parser = argparse.ArgumentParser(prog="farm_export", description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--scene-json", required=True, type=literal.argument_type, help="the scene's name, as JSON")
    parser.add_argument("--shot-json", required=True, type=literal.argument_type, help="the shot's name, as JSON")
    names, rest = parser.parse_known_args(export_passes.script_args(argv))
    # `--option=value`: a name that starts with '-' stays a value.
    return ["export_passes", *rest, f"--scene={names.scene_json}", f"--shot={names.shot_json}"]


if __name__ == "__main__":
    sys.exit(export_passes.main(export_argv(sys.argv)))
