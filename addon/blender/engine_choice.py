"""Which engine a Generate runs on: the engine service at Preferences ▸ Engine Service when one
answers there (or Keep Engine Warm starts one), else the engine as a child process, as before.

A service on another machine is asked nothing unless Blender may go online (Preferences ▸
System ▸ Network ▸ Allow Online Access); otherwise the job says so and runs the engine here.
The probe is one short request, the only network call on Blender's UI thread.
"""

import atexit
from pathlib import Path

import bpy

from ...engine.bundle.service_record import BundleSource
from ..engine_process import EngineProcess
from ..engine_service import (PROBE_TIMEOUT_S, REMOTE_PROBE_TIMEOUT_S, ServiceAddress, ServiceClient, ServiceError,
                              default_token_file, read_token)
from ..service_paths import SharedFolder, default_models
from ..service_run import ServiceRun
from ..ui.preferences import SERVICE_STATUS, engine_report, model_folder, preferences, takes_root
from ..warm_engine import WarmService

ONLINE_ACCESS = "Preferences ▸ System ▸ Network ▸ Allow Online Access"
_WARM = {}  # ServiceAddress -> the WarmService this Blender started


def start_engine(setup, request, bundle_dir, takes_dir, reports):
    """A ServiceRun when a service takes the job, else an EngineProcess; `reports` get a
    warning when a service was set up but cannot be used."""
    run = service_run(preferences(), setup, request, bundle_dir, takes_dir, reports)
    return run if run is not None else EngineProcess(setup, request.to_arguments(bundle_dir, takes_dir))


def _status(line, alert=False):
    SERVICE_STATUS["line"], SERVICE_STATUS["alert"] = line, alert


def _local(reports, why):
    _status(why, alert=True)
    reports.append(("WARNING", f"{why}; generating with the engine on this machine"))


def service_run(prefs, setup, request, bundle_dir, takes_dir, reports):
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
    token_file = Path(bpy.path.abspath(prefs.service_token_file)) if prefs.service_token_file else default_token_file()
    shared = SharedFolder(bpy.path.abspath(prefs.service_shared_folder), prefs.service_shared_folder_remote)
    request = shared.request_for_service(request, default_models(engine_report(setup), request.backend_name))
    warm = _WARM.get(address)
    if warm is not None and warm.alive:
        return _warm_run(warm, address, token_file, request, bundle_dir, takes_dir)
    try:
        client = ServiceClient(address, read_token(token_file))
        health = client.health(PROBE_TIMEOUT_S if address.loopback else REMOTE_PROBE_TIMEOUT_S)
    except ServiceError as exc:
        if exc.status is not None:  # a service answered and refused: say why, rather than start another
            return _local(reports, str(exc))
        if prefs.keep_engine_warm and address.loopback:
            return _start_warm(prefs, setup, address, token_file, request, bundle_dir, takes_dir, reports)
        _status(f"nothing answers at {address.url}: Generate runs the engine on this machine")
        return None
    loaded = f", {len(health.loaded)} model set(s) loaded" if health.loaded else ""
    _status(f"engine {health.engine} at {address.url}{loaded}")
    bundle = shared.service_path(bundle_dir)
    return ServiceRun(client, request, bundle_dir, takes_dir, BundleSource(path=bundle) if bundle else None)


def _start_warm(prefs, setup, address, token_file, request, bundle_dir, takes_dir, reports):
    """Start the local service (reading the takes and model folders in place) and run on it once it listens."""
    roots = [takes_root(prefs)] + ([model_folder(prefs)] if prefs.model_folder else [])
    try:
        warm = _WARM[address] = WarmService(setup, address, token_file, [str(root) for root in roots])
    except ServiceError as exc:
        return _local(reports, str(exc))
    _status(f"engine service starting at {address.url} (Keep Engine Warm)")
    return _warm_run(warm, address, token_file, request, bundle_dir, takes_dir)


def _warm_run(warm, address, token_file, request, bundle_dir, takes_dir):
    client = ServiceClient(address, None)

    def connect():
        warm.wait_serving()
        client.token = read_token(token_file)
        _status(f"engine service at {address.url} kept warm (Keep Engine Warm)")

    return ServiceRun(client, request, bundle_dir, takes_dir, BundleSource(path=str(bundle_dir)), connect)


@atexit.register
def stop_warm_services():
    """Blender is quitting: stop the services it started (their jobs are recorded as interrupted)."""
    for warm in list(_WARM.values()):
        warm.stop()
    _WARM.clear()
