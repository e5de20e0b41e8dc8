"""Add-on preferences: how to start the engine, which backend and device, where models and
takes live. "Check Engine" asks the engine what it offers and which models are missing.

The engine runs in its own Python environment (torch never loads inside Blender). When
the add-on runs from a Blockcast checkout that has `.venv-engine`, that is used unless
another interpreter is set.
"""

from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from ..engine_process import EngineError, EngineSetup, check_engine, engine_script, venv_python
from ..engine_service import DEFAULT_ADDRESS, default_token_file
from ..engine_request import local_models
from ..take_folders import fallback_takes_root

# The extension's root package: "blockcast" from a checkout, "bl_ext.<repo>.blockcast" installed.
ROOT_PACKAGE = __name__.rpartition(".addon.")[0]
CHECKOUT = Path(__file__).resolve().parents[2]
DEVICES = (("auto", "Auto", "CUDA when the engine sees an NVIDIA GPU, else the Apple GPU, else CPU"),
           ("cpu", "CPU", "Always the CPU (slow, but needs no GPU)"),
           ("cuda", "CUDA", "An NVIDIA GPU; fails if the engine sees none"),
           ("mps", "Apple GPU", "The GPU of an Apple silicon Mac (MPS); fails if the engine sees none"))
# The engine's --memory presets (engine/memory.py): how much of the GPU's memory a take may take.
MEMORY = (("auto", "Auto", "From the GPU's free memory and what the backend needs"),
          ("high", "High", "Every model on the GPU: fastest, needs the most memory"),
          ("balanced", "Balanced", "One model on the GPU at a time, the VAE in tiles: for 8-16 GB cards"),
          ("low", "Low", "Models streamed to the GPU block by block, weights in 8 bits: slowest, least memory"))

ENGINE_CHECK = {"report": None, "error": None}  # the last Check Engine result, for this session
SERVICE_STATUS = {"line": "", "alert": False}   # what the last Generate found at the Engine Service address
SERVICE_PROPERTIES = ("engine_service", "service_token_file", "keep_engine_warm", "service_shared_folder",
                      "service_shared_folder_remote")


def checkout_engine():
    """The engine of the checkout the add-on runs from, with its .venv-engine; else None."""
    python = venv_python(CHECKOUT / ".venv-engine")
    if python is None or not (CHECKOUT / "engine" / "cli.py").is_file():
        return None
    return EngineSetup(python, CHECKOUT)


def known_backends():
    """Backend names from the last Check Engine (for the backend fields' search)."""
    report = ENGINE_CHECK["report"] or {}
    return [entry["name"] for entry in report.get("backends", [])]


def engine_report(setup):
    """The engine's `backends --json` report: the last Check Engine's, else asked for now and kept
    for the session (Generate needs the backends' passes and the default backend before any
    Check Engine). None when the engine cannot be asked: the job then reports the engine's error."""
    if ENGINE_CHECK["report"] is None:
        try:
            ENGINE_CHECK["report"], ENGINE_CHECK["error"] = check_engine(setup), None
        except EngineError:
            return None
    return ENGINE_CHECK["report"]


def _backend_search(_prefs, _context, _text):
    return known_backends()


class BlockcastPreferences(bpy.types.AddonPreferences):
    bl_idname = ROOT_PACKAGE

    engine_python: StringProperty(
        name="Engine Python", subtype="FILE_PATH",
        description="The python of the engine's environment (e.g. .venv-engine/bin/python); empty: the "
                    "checkout's .venv-engine when the add-on runs from a Blockcast checkout")
    engine_dir: StringProperty(
        name="Engine Folder", subtype="DIR_PATH",
        description="The Blockcast checkout holding the engine package (working folder of the engine); empty: "
                    "the add-on's own checkout, or an engine installed in the engine's Python")
    default_backend: StringProperty(
        name="Default Backend", search=_backend_search,
        description="Backend for shots that name none; empty: the engine's default")
    device: EnumProperty(name="Device", items=DEVICES, default="auto")
    memory: EnumProperty(name="Memory", items=MEMORY, default="auto")
    model_folder: StringProperty(
        name="Model Folder", subtype="DIR_PATH",
        description="Local model copies: MODEL_FOLDER/<backend>/<role>/ (e.g. wan-vace/pipeline) replaces that "
                    "role's hub model; other models come from the Hugging Face cache")
    takes_folder: StringProperty(
        name="Takes Folder", subtype="DIR_PATH",
        description="Where takes and the bundles they were made from are written; empty: the extension's "
                    "user folder")

    engine_service: StringProperty(
        name="Engine Service", default=DEFAULT_ADDRESS,
        description="HOST:PORT of a warm engine service (python -m engine serve): Generate uses it when it answers, "
                    "else runs the engine here. A service on another machine needs Allow Online Access; empty: never")
    service_token_file: StringProperty(
        name="Token File", subtype="FILE_PATH",
        description=f"The service's token file (the service prints it); empty: {default_token_file()}")
    keep_engine_warm: BoolProperty(
        name="Keep Engine Warm", default=False,
        description="Start an engine service on this machine (at the Engine Service address) with the Engine Python "
                    "on the first Generate and reuse it, so models stay loaded between takes; it stops when Blender "
                    "quits")
    service_shared_folder: StringProperty(
        name="Shared Folder", subtype="DIR_PATH",
        description="A folder here that the service's machine also sees (a shared drive): bundles inside it are "
                    "read there instead of uploaded. Empty: bundles are uploaded")
    engine_wheel_folder: StringProperty(
        name="Local Wheel Folder", subtype="DIR_PATH",
        description="Set Up Engine installs from this folder of wheels only (pip --no-index --find-links), "
                    "with no network; empty: torch from its index and the engine this extension carries")
    service_shared_folder_remote: StringProperty(
        name="Shared Folder on Service",
        description="The same shared folder as the service's machine names it (e.g. /mnt/projects)")

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        for name in ("engine_python", "engine_dir", "default_backend", "device", "memory", "model_folder",
                     "takes_folder"):
            layout.prop(self, name)
        layout.operator("blockcast.check_engine", icon="CHECKMARK")
        draw_engine_check(layout, model_folder(self))
        from .operators_models import draw_models
        draw_models(layout)
        from .operators_setup import draw_engine_setup
        draw_engine_setup(layout, self)
        draw_engine_service(layout, self)


class _Defaults:
    """Preference values when the add-on is loaded as a plain package (scripts, tests)."""

    engine_python = engine_dir = default_backend = model_folder = takes_folder = ""
    device = memory = "auto"
    engine_service = DEFAULT_ADDRESS
    service_token_file = service_shared_folder = service_shared_folder_remote = ""
    keep_engine_warm = False
    engine_wheel_folder = ""


def preferences(context=None):
    addon = (context or bpy.context).preferences.addons.get(ROOT_PACKAGE)
    return addon.preferences if addon is not None else _Defaults()


def _path(text):
    return Path(bpy.path.abspath(text)) if text else None


def model_folder(prefs):
    return _path(prefs.model_folder)


def engine_setup(prefs):
    """How to start the engine; EngineError when neither the preferences nor a checkout say."""
    python, folder = _path(prefs.engine_python), _path(prefs.engine_dir)
    checkout = checkout_engine()
    if python is None:
        if checkout is None:
            raise EngineError("no engine set up: set the engine's Python in Preferences ▸ Add-ons ▸ Blockcast "
                              "(the python of an environment made with scripts/setup_env.sh engine)")
        python = checkout.python
    if folder is None and checkout is not None and engine_script(python) is None:  # not an installed engine
        folder = checkout.engine_dir
    return EngineSetup(python, folder)


def takes_root(prefs):
    """The takes folder: the preference, else the extension's user folder, else next to the .blend."""
    if prefs.takes_folder:
        return _path(prefs.takes_folder)
    try:
        return Path(bpy.utils.extension_path_user(ROOT_PACKAGE, path="takes", create=True))
    except ValueError:  # loaded as a plain package, not an installed extension
        return fallback_takes_root(bpy.data.filepath)


def draw_engine_check(layout, models):
    """The last Check Engine result: each backend, its controls and whether its models are here."""
    if ENGINE_CHECK["error"]:
        box = layout.box()
        box.alert = True
        for line in ENGINE_CHECK["error"].splitlines():
            box.label(text=line, icon="ERROR")
        return
    report = ENGINE_CHECK["report"]
    if report is None:
        return
    for entry in report.get("backends", []):
        box = layout.box()
        box.label(text=f"{entry['name']}: {entry['description']}", icon="RENDER_ANIMATION")
        box.label(text=f"Controls: {', '.join(entry['controls'])}")
        if entry.get("passes"):
            box.label(text=f"Needs passes: {', '.join(entry['passes'])} (Generate exports them)")
        local = local_models(models, entry["name"])
        for model in entry["models"]:
            if model["role"] in local:
                box.label(text=f"{model['role']}: local copy {local[model['role']]}", icon="CHECKMARK")
            elif model["present"]:
                box.label(text=f"{model['role']}: {model['default']}", icon="CHECKMARK")
            else:
                row = box.row()
                row.alert = True
                row.label(text=f"{model['role']}: missing — {model['download']}", icon="ERROR")


def draw_engine_service(layout, prefs):
    """The Engine Service settings and what the last Generate found there."""
    box = layout.box()
    box.label(text="Engine Service", icon="NETWORK_DRIVE")
    for name in SERVICE_PROPERTIES:
        box.prop(prefs, name)
    box.operator("blockcast.check_engine_service", icon="CHECKMARK")
    if SERVICE_STATUS["line"]:
        row = box.row()
        row.alert = SERVICE_STATUS["alert"]
        row.label(text=SERVICE_STATUS["line"], icon="ERROR" if SERVICE_STATUS["alert"] else "INFO")


def check(prefs):
    """Run the engine's `backends --json` and keep the result for the preferences to show."""
    ENGINE_CHECK["report"], ENGINE_CHECK["error"] = None, None
    try:
        ENGINE_CHECK["report"] = check_engine(engine_setup(prefs))
    except EngineError as exc:
        ENGINE_CHECK["error"] = str(exc)
    return ENGINE_CHECK


def register():
    from . import operators_service  # it imports the generation side, which imports this module

    from . import operators_models

    bpy.utils.register_class(BlockcastPreferences)
    operators_service.register()
    operators_models.register()


def unregister():
    from . import operators_models, operators_service

    operators_models.unregister()
    operators_service.unregister()
    bpy.utils.unregister_class(BlockcastPreferences)
