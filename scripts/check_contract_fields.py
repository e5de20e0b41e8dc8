"""List take.json and bundle.json field names spelled as string literals outside their contracts.

    python3 scripts/check_contract_fields.py [--names]

A field of take.json or bundle.json is named once: as an attribute of its record in
engine/bundle/take_record.py, engine/bundle/manifest.py or engine/bundle/cast.py (the
bundle's cast), whose dataclass fields are the JSON keys. Code elsewhere reads
`record.parameters.steps`, never `record["parameters"]["steps"]`. This script takes the field
names from those dataclasses and prints, as file:line, every Python string literal in addon/,
engine/, farm/ and scripts/ that is exactly one of them and used as a key (a subscript, a dict
literal's key, get/pop/setdefault, `in`; --all: anywhere), outside the contract modules (tests
are not scanned). Exit status 1 if any is found, 0 if none.

Some literals only happen to share a field's name: another format's keys (cameras.json,
OpenPose JSON, `backends --json`, OpenJD), pass names, Blender property names. ALLOWED (a
file and a literal) and FILE_VOCABULARIES (a whole file) say why for each; an entry that no
longer matches anything is reported too, so the lists stay true. Stdlib only.
"""

import argparse
import ast
import dataclasses
import importlib
import inspect
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RECORD_MODULES = ("engine.bundle.manifest", "engine.bundle.take_record", "engine.bundle.cast")
BOOKKEEPING = {"extra", "absent"}  # the records' own memory of unknown and missing keys, never JSON keys
SCANNED = ("addon", "engine", "farm", "scripts")
CONTRACT_FILES = {"engine/bundle/manifest.py", "engine/bundle/take_record.py", "engine/bundle/cast.py",
                  "engine/bundle/request.py", "engine/bundle/events.py", "engine/bundle/schema.py",
                  "engine/bundle/variations_record.py", "engine/bundle/typed_record.py"}

PASS_NAME = "a pass or control kind (engine/bundle/schema.py PASSES), not the record field of that name"
BACKENDS_REPORT = "a key of the `backends --json` report, another document"
BACKEND_SETTINGS = "a key inside take.json's parameters.backend_settings, which each backend owns"
DIFFUSERS_ARGUMENT = "a diffusers pipeline keyword argument"
JOINTS_OR_CAMERAS = "a key of cameras.json / joints.json (docs/bundle.md), files beside bundle.json"
BONE_MAP = "a key of the rig bone map (addon/rigs.py's format), carried whole as actors[].bone_map"
LIGHTING = "a key of the stored lighting measurement (window manager JSON), not a bundle or take field"
LENS_RECORD = "a key of the per-frame lens record (engine/lens/record.py: cameras.json's keys and the shutter)"
RIG_BONE = "a bone name of the proxy actor's rig, not the lighting record's head"
CAST_PANEL = "a key of the Cast panel's stored values (scene.blockcast_cast Blender properties, as plain dicts)"
CAMERA_CONTROL = "a key of the camera control (engine/controls.py build_controls) the bundle's record value rides in"

# Files whose keys are wholly another vocabulary: file -> why.
FILE_VOCABULARIES = {
    "addon/ui/properties.py": "Blender property names of the panels' settings (scene.blockcast), not JSON",
    "addon/ui/properties_farm.py": "Blender property names of the Farm panel's settings, not JSON",
    "farm/openjd.py": "Open Job Description template keys (name, description, steps, ...)",
    "farm/flamenco_job.py": "Flamenco job settings and job keys (farm/flamenco/blockcast.js reads them)",
    "scripts/bench_engine.py": "the benchmark's own result document",
    "scripts/bench_export.py": "the benchmark's own result document",
    "scripts/eval_cast.py": "the evaluation's own result document",
    "scripts/eval_cast_report.py": "reads eval_cast.py's result document",
    "scripts/eval_previz.py": "the evaluation's own result document and clip table",
    "scripts/train_previz.py": "the training checkpoint and summary documents",
    "scripts/eval_lens.py": "the evaluation's own image bands and result document",
}

# (file, literal): why it is not a take.json / bundle.json field spelled again.
ALLOWED = {
    **{("engine/cli.py", name): BACKENDS_REPORT
       for name in ("name", "description", "role", "controls", "passes", "frames", "init_video", "models")},
    **{("addon/engine_report.py", name): BACKENDS_REPORT for name in ("name", "passes", "controls")},
    **{("addon/ui/preferences.py", name): BACKENDS_REPORT
       for name in ("name", "description", "controls", "passes", "models", "role")},
    **{("addon/service_paths.py", name): BACKENDS_REPORT for name in ("models", "role")},
    ("addon/rigs.py", "keypoints"): BONE_MAP,
    **{("addon/blender/camera.py", name): JOINTS_OR_CAMERAS for name in ("depth_of_field", "ratio")},
    **{("addon/blender/lens.py", name): LENS_RECORD for name in ("depth_of_field", "motion_blur")},
    **{("engine/lens/record.py", name): LENS_RECORD for name in ("depth_of_field", "motion_blur", "shutter",
                                                                  "position", "ratio")},
    **{("engine/lens/take.py", name): LENS_RECORD for name in ("depth_of_field", "motion_blur")},
    **{("scripts/bench_lens.py", name): LENS_RECORD for name in ("depth_of_field", "motion_blur", "shutter", "position",
                                                                   "ratio")},
    ("addon/blender/actors.py", "keypoints"): BONE_MAP,
    **{(path, "head"): RIG_BONE for path in ("addon/blender/actors.py", "addon/blender/demo_scene.py",
                                             "scripts/previz_scenes.py")},
    ("scripts/coverage_report.py", "lighting"): "a key of the report's own --json document",
    ("addon/blender/export.py", "name"): JOINTS_OR_CAMERAS,
    ("addon/blender/export.py", "camera"): JOINTS_OR_CAMERAS,
    ("addon/blender/export.py", "actors"): JOINTS_OR_CAMERAS,
    ("addon/blender/export.py", "objects"): PASS_NAME,
    ("addon/blender/sequencer.py", "frame_end"): "a Blender API keyword (4.2's new_effect(frame_end=...)), not the shot's field",
    ("engine/bundle/finish.py", "camera"): PASS_NAME,
    ("engine/bundle/finish.py", "control"): "a PASS_FILES key (the depth pass's control images)",
    ("engine/bundle/finish.py", "frames"): JOINTS_OR_CAMERAS,
    ("engine/bundle/finish.py", "keypoints"): JOINTS_OR_CAMERAS,
    ("engine/bundle/merge.py", "camera"): PASS_NAME,
    ("engine/bundle/merge.py", "frames"): JOINTS_OR_CAMERAS,
    ("engine/bundle/reader.py", "camera"): PASS_NAME,
    ("engine/bundle/reader.py", "objects"): PASS_NAME,
    ("engine/bundle/reader.py", "frames"): JOINTS_OR_CAMERAS,
    ("engine/bundle/pose.py", "version"): "an OpenPose JSON key (its format version)",
    ("engine/controls.py", "objects"): PASS_NAME,
    ("engine/previz/prior.py", "objects"): PASS_NAME,
    ("engine/previz/model.py", "objects"): PASS_NAME,
    ("engine/previz/model.py", "controls"): "a key of the previz weights' own config.json",
    ("engine/backends/previz.py", "prompt"): BACKEND_SETTINGS,
    ("engine/backends/previz.py", "objects"): PASS_NAME,
    **{("engine/backends/animatediff.py", name): DIFFUSERS_ARGUMENT
       for name in ("prompt", "negative_prompt", "width", "height", "generator")},
    ("engine/backends/animatediff.py", "objects"): PASS_NAME,
    ("engine/backends/animatediff.py", "references"): BACKEND_SETTINGS,
    ("engine/backends/animatediff.py", "shot_reference"): BACKEND_SETTINGS,
    ("engine/backends/wan_vace.py", "control"): BACKEND_SETTINGS,
    ("engine/backends/wan_vace.py", "objects"): PASS_NAME,
    ("engine/backends/wan_vace.py", "references"): BACKEND_SETTINGS,
    ("engine/backends/wan_vace.py", "shot_reference"): BACKEND_SETTINGS,
    ("engine/backends/ltx2_ic.py", "control"): BACKEND_SETTINGS,
    ("engine/backends/ltx2_ic.py", "objects"): PASS_NAME,
    ("engine/controls.py", "metres_per_unit"): CAMERA_CONTROL,
    ("engine/backends/sana_wm.py", "metres_per_unit"): f"{CAMERA_CONTROL}; and {BACKEND_SETTINGS}",
    **{("addon/blender/lighting.py", name): JOINTS_OR_CAMERAS for name in ("frames", "actors", "camera", "name")},
    **{("addon/lighting.py", name): JOINTS_OR_CAMERAS for name in ("frames", "actors", "name")},
    **{("addon/coverage_bundle.py", name): JOINTS_OR_CAMERAS for name in ("frames", "actors", "name")},
    **{("addon/ui/operators_lighting.py", name): LIGHTING for name in ("frames", "actors")},
    **{("addon/ui/panels_lighting.py", name): LIGHTING for name in ("frames", "actors", "name", "ratio", "head",
                                                                     "torso")},
    **{("addon/cast.py", name): CAST_PANEL
       for name in ("look_seed", "object", "objects", "references", "role", "description", "name", "members")},
    ("engine/generate.py", "engine"): "a package name in take.json's `engine` versions map",
    ("scripts/farm_assemble.py", "take"): "a key of the assembly's own take list (take folder and its hash)",
}


def contract_fields():
    """{field name: sorted 'Record' names} of every dataclass record in the contract modules."""
    names = {}
    for module_name in RECORD_MODULES:
        module = importlib.import_module(module_name)
        for record_name, record in inspect.getmembers(module, inspect.isclass):
            if record.__module__ != module_name or not dataclasses.is_dataclass(record):
                continue
            for item in dataclasses.fields(record):
                if item.name not in BOOKKEEPING:
                    names.setdefault(item.name, set()).add(record_name)
    return {name: sorted(records) for name, records in names.items()}


def python_files():
    for folder in SCANNED:
        for path in sorted((REPO / folder).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if relative not in CONTRACT_FILES and "__pycache__" not in relative:
                yield relative, path


def _key_literals(tree):
    """ids of string constants used as a JSON key: a subscript, a dict literal's key, the first
    argument of get/pop/setdefault, either side of `in`."""
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            keys.add(id(node.slice))
        elif isinstance(node, ast.Dict):
            keys.update(id(key) for key in node.keys if key is not None)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args
              and node.func.attr in ("get", "pop", "setdefault")):
            keys.add(id(node.args[0]))
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            keys.add(id(node.left))
    return keys


def literals(path, keys_only):
    """(line, text) of each string constant in a Python file (only those used as keys when
    `keys_only`), docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    keys = _key_literals(tree) if keys_only else None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                and (keys is None or id(node) in keys)):
            yield node.lineno, node.value


def find(fields, keys_only):
    """(found, allowed_used): found = [(file, line, name)] not allowed; allowed_used = ALLOWED keys seen."""
    found, used = [], set()
    for relative, path in python_files():
        for line, text in literals(path, keys_only):
            if text not in fields:
                continue
            if (relative, text) in ALLOWED:
                used.add((relative, text))
            elif relative not in FILE_VOCABULARIES:
                found.append((relative, line, text))
    return sorted(found), used


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", action="store_true", help="also print the field names checked")
    parser.add_argument("--all", action="store_true",
                        help="every literal, not only those used as keys (subscripts, dict keys, get/pop, in)")
    args = parser.parse_args(argv)
    fields = contract_fields()
    if args.names:
        print("fields:", ", ".join(sorted(fields)))
    found, used = find(fields, keys_only=not args.all)
    for relative, line, name in found:
        print(f"{relative}:{line}: {name!r} ({', '.join(fields[name])} field)")
    stale = sorted(set(ALLOWED) - used) + [(relative, "*") for relative in FILE_VOCABULARIES
                                            if not (REPO / relative).is_file()]
    for relative, name in stale:
        print(f"{relative}: allowed {name!r} no longer appears: remove it from {Path(__file__).name}")
    files = len({relative for relative, _, _ in found})
    print(f"{len(found)} field-name literal(s) in {files} file(s) outside the contract modules"
          f" ({len(used)} allowed)", file=sys.stderr)
    return 1 if found or stale else 0


if __name__ == "__main__":
    sys.exit(main())
