"""Which engine a Generate (or Make Variations) runs on: the engine service at Preferences ▸
Engine Service when one answers there (or Keep Engine Warm starts one), else the engine as a child
process, as before. An older service that makes takes only leaves Make Variations to the child.

A service on another machine is asked nothing unless Blender may go online (Preferences ▸
System ▸ Network ▸ Allow Online Access); otherwise the job says so and runs the engine here.
The probe is one short request, the only network call on Blender's UI thread.
"""

import atexit
from pathlib import Path

import bpy

from ...engine.bundle.service_record import VARIATIONS_JOB, BundleSource
from ..engine_process import EngineProcess
from ..engine_service import (PROBE_TIMEOUT_S, REMOTE_PROBE_TIMEOUT_S, ServiceAddress, ServiceClient, ServiceError,
                              default_token_file, read_token)
from ..service_paths import SharedFolder, default_models
from ..service_run import ServiceRun
from ..variations import variations_arguments
from ..ui.preferences import SERVICE_STATUS, engine_report, model_folder, preferences, takes_root
from ..warm_engine import WarmService

ONLINE_ACCESS = "Preferences ▸ System ▸ Network ▸ Allow Online Access"
_WARM = {}  # ServiceAddress -> the WarmService this Blender started


def start_engine(setup, request, bundle_dir, takes_dir, reports, variations=None):
    """A ServiceRun when a service takes the job, else an EngineProcess; `reports` get a
    warning when a service was set up but cannot be used. `variations` (VariationsSettings): Make
    Variations, its folder made in `takes_dir`."""
    run = service_run(preferences(), setup, request, bundle_dir, takes_dir, reports, variations)
    if run is not None:
        return run
    if variations is not None:
        return EngineProcess(setup, variations_arguments(request, bundle_dir, takes_dir, variations.count))
    return EngineProcess(setup, request.to_arguments(bundle_dir, takes_dir))


def _status(line, alert=False):
    SERVICE_STATUS["line"], SERVICE_STATUS["alert"] = line, alert


def _local(reports, why):
    _status(why, alert=True)
    reports.append(("WARNING", f"{why}; generating with the engine on this machine"))


def service_run(prefs, setup, request, bundle_dir, takes_dir, reports, variations=None):
    """The run on the configured service, or None (the child process generates)."""
    text = prefs.engine_service.strip()
    if not text:
        return None
    try:
        address = ServiceAddress.parse(text)
    except ServiceError as exc:
        return _local(reports, str(exc))
    if not address.loopback and not bpy.app.online_access:
        return _local(reports, f"the Engine Service {text} is another machine: turn on {ONLINE_ACCESS} to use it")
    token_file = _token_file(prefs)
    shared = SharedFolder(bpy.path.abspath(prefs.service_shared_folder), prefs.service_shared_folder_remote)
    warm = _WARM.get(address)
    if warm is not None and warm.alive:
        return _warm_run(warm, address, token_file, _for_service(shared, setup, request), bundle_dir, takes_dir,
                         variations)
    try:
        client, health = probe(address, token_file)
    except ServiceError as exc:  # a service answered and refused: say why, rather than start another
        return _local(reports, str(exc))
    if health is None:
        if prefs.keep_engine_warm and address.loopback:
            return _start_warm(prefs, setup, address, token_file, _for_service(shared, setup, request), bundle_dir,
                               takes_dir, reports, variations)
        no_token = "" if token_file.is_file() else f" (no token file {token_file})"
        _status(f"nothing answers at {address.url}{no_token}: Generate runs the engine on this machine")
        return None
    _status(_answered(address, health))
    if variations is not None and VARIATIONS_JOB not in health.job_kinds:
        reports.append(("INFO", f"the engine service at {address.url} (engine {health.engine}) makes takes only: "
                                "Make Variations runs the engine on this machine; update the service's engine "
                                "to make them there"))
        return None
    bundle = shared.service_path(bundle_dir)
    return ServiceRun(client, _for_service(shared, setup, request), bundle_dir, takes_dir,
                      BundleSource(path=bundle) if bundle else None, variations=variations)


def probe(address, token_file):
    """(client, health) of the service at `address`; (None, None) when nothing answers or there is no
    token yet; ServiceError when a service answers and refuses (a wrong token)."""
    if not token_file.is_file():
        return None, None
    try:
        client = ServiceClient(address, read_token(token_file))
        return client, client.health(PROBE_TIMEOUT_S if address.loopback else REMOTE_PROBE_TIMEOUT_S)
    except ServiceError as exc:
        if exc.status is not None:
            raise
        return None, None


def check_service(prefs):
    """Check Service: ask the Engine Service address now; the status line says what answered."""
    try:
        address = ServiceAddress.parse(prefs.engine_service)
        if not address.loopback and not bpy.app.online_access:
            raise ServiceError(f"the Engine Service {prefs.engine_service} is another machine: turn on "
                               f"{ONLINE_ACCESS} to use it")
        _, health = probe(address, _token_file(prefs))
    except ServiceError as exc:
        return _status(str(exc), alert=True)
    if health is None:
        return _status(f"nothing answers at {address.url}: Generate runs the engine on this machine")
    return _status(_answered(address, health))


def _answered(address, health):
    loaded = f", {len(health.loaded)} model set(s) loaded" if health.loaded else ""
    return f"engine {health.engine} at {address.url}{loaded}"


def _token_file(prefs):
    return Path(bpy.path.abspath(prefs.service_token_file)) if prefs.service_token_file else default_token_file()


def _for_service(shared, setup, request):
    """The request with shared paths mapped and this engine's default models left to the service's."""
    return shared.request_for_service(request, default_models(engine_report(setup), request.backend_name))


def _start_warm(prefs, setup, address, token_file, request, bundle_dir, takes_dir, reports, variations=None):
    """Start the local service (reading the takes and model folders in place) and run on it once it listens."""
    roots = [takes_root(prefs)] + ([model_folder(prefs)] if prefs.model_folder else [])
    try:
        warm = _WARM[address] = WarmService(setup, address, token_file, [str(root) for root in roots])
    except ServiceError as exc:
        return _local(reports, str(exc))
    _status(f"engine service starting at {address.url} (Keep Engine Warm)")
    return _warm_run(warm, address, token_file, request, bundle_dir, takes_dir, variations)


def _warm_run(warm, address, token_file, request, bundle_dir, takes_dir, variations=None):
    client = ServiceClient(address, None)

    def connect():
        warm.wait_serving()
        client.token = read_token(token_file)
        _status(f"engine service at {address.url} kept warm (Keep Engine Warm)")

    return ServiceRun(client, request, bundle_dir, takes_dir, BundleSource(path=str(bundle_dir)), connect, variations)


@atexit.register
def stop_warm_services():
    """Blender is quitting: stop the services it started (their jobs are recorded as interrupted)."""
    for warm in list(_WARM.values()):
        warm.stop()
    _WARM.clear()
