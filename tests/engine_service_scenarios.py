"""Engine-service scenarios run inside a fresh bpy with the built extension installed
(tests/test_engine_service_roundtrip.py starts one process per scenario and checks its report).

    python tests/engine_service_scenarios.py SCENARIO ZIP REPO BLEND TAKES_DIR ADDRESS TOKEN_FILE

Prints one `REPORT {json}` line. Generation runs the default previz backend on the demo shot.
"""

import json
import socket
import sys
import threading
import time
from pathlib import Path

import bpy

from roundtrip_scenarios import PACKAGE, call, module, setup, takes


def _prefs():
    return bpy.context.preferences.addons[PACKAGE].preferences


def _generate():
    """Generate as the panel's button does (shot_jobs.shot_job, run to the end); the job and its engine."""
    scene = bpy.context.scene
    job = module("blender.shot_jobs").shot_job(scene, module("blender.shots").resolve_shot(scene), _prefs(),
                                              list(scene.blockcast.passes()))
    engine = job._engine  # set once the export is over: read while the job runs
    deadline = time.monotonic() + 240
    while job.tick() and time.monotonic() < deadline:
        engine = job._engine or engine
        time.sleep(0.02)
    engine = job._engine or engine
    return job, engine


def _take_dirs():
    return [str(Path(s[module("strip_layout").PREFIX + "take_json"]).parent) for s in takes()]


def _job_report(job, engine):
    strips = takes()
    local = _take_dirs()
    return {"phase": job.progress.phase, "reports": job.reports, "engine": type(engine).__name__,
            "uploaded": getattr(engine, "uploaded", None), "service_job": getattr(engine, "job_id", None),
            "strips": len(strips), "take_dirs": local, "bundle_dir": str(job.bundle_dir),
            "status": dict(module("ui.preferences").SERVICE_STATUS)}


def _take_record(take_dir):
    record = json.loads((Path(take_dir) / "take.json").read_text())
    return {"take": record["take"], "bundle_path": record["bundle"]["path"],
            "frames": sorted(p.name for p in (Path(take_dir) / "frames").iterdir())}


def remote(_args):
    """Two Generates on the service: the first uploads the bundle, the second (same scene) does not;
    then Regenerate of the first take, which reuses its bundle."""
    bpy.context.preferences.system.use_online_access = True
    check = {"result": call(bpy.ops.blockcast.check_engine_service), **module("ui.preferences").SERVICE_STATUS}
    first = _job_report(*_generate())
    second = _job_report(*_generate())
    strip = takes()[0]
    report = {"check": check, "first": first, "second": second, "regenerate": call(bpy.ops.blockcast.regenerate_take,
                                                                    strip=strip.name)}
    report["strips_after"] = len(takes())
    report["records"] = [_take_record(folder) for folder in _take_dirs()]
    return report


def fallback(_args):
    """Nothing answers at the address: Generate (the operator) runs the engine as a child process."""
    report = {"generate": call(bpy.ops.blockcast.generate), "strips": len(takes()),
              "status": dict(module("ui.preferences").SERVICE_STATUS)}
    return report


class _Listener:
    """A socket on this machine's non-loopback address that counts connections and never answers."""

    def __init__(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.123", 9))  # no packet is sent: this only picks the outgoing address
            host = probe.getsockname()[0]
        self.server = socket.create_server((host, 0))
        self.address = f"{host}:{self.server.getsockname()[1]}"
        self.accepted = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                self.accepted.append(self.server.accept()[0])
            except OSError:
                return

    def close(self):
        """Close every socket and end the thread: bpy 4.2 crashes on exit with one still waiting."""
        self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        self.thread.join(5)
        for connection in self.accepted:
            connection.close()


def offline(_args):
    """A service on another machine with Allow Online Access off: nothing is asked of it, the job says
    what to turn on and runs here; with it on, the same address is asked (the counter works)."""
    try:
        listener = _Listener()
    except OSError:
        listener = None  # no network address here: the address below is only never asked
    try:
        return _offline(listener)
    finally:
        if listener is not None:
            listener.close()


def _offline(listener):
    _prefs().engine_service = listener.address if listener else "203.0.113.9:8765"
    bpy.context.preferences.system.use_online_access = False
    job, engine = _generate()
    call(bpy.ops.blockcast.check_engine_service)
    report = {"address": _prefs().engine_service, "online_access": bpy.app.online_access,
              "connections": len(listener.accepted) if listener else None, **_job_report(job, engine)}
    if listener:
        bpy.context.preferences.system.use_online_access = True
        job, engine = _generate()
        report["online"] = {"connections": len(listener.accepted), **_job_report(job, engine)}
    return report


def warm(_args):
    """Keep Engine Warm: the first Generate starts the service, the second reuses it; it stops on quit."""
    _prefs().keep_engine_warm = True
    choice = module("blender.engine_choice")
    first = _job_report(*_generate())
    started = [service.pid for service in choice._WARM.values()]
    second = _job_report(*_generate())
    reused = [service.pid for service in choice._WARM.values()]
    variations = _make_variations(3)
    services = list(choice._WARM.values())
    choice.stop_warm_services()
    return {"first": first, "second": second, "started": started, "reused": reused, "variations": variations,
            "stopped": [not service.alive for service in services]}


def _make_variations(count):
    """Make Variations as the panel's button does, run to the end: its engine and the sheet it stored."""
    scene = bpy.context.scene
    job, _ = module("blender.variations_jobs").variations_job(
        scene, module("blender.shots").resolve_shot(scene), _prefs(), list(scene.blockcast.passes()), None, count)
    engine, deadline = job._engine, time.monotonic() + 240
    while job.tick() and time.monotonic() < deadline:
        engine = job._engine or engine
        time.sleep(0.02)
    engine = job._engine or engine
    return {"phase": job.progress.phase, "engine": type(engine).__name__, "reports": job.reports,
            "tiles": len(job.sheet.tiles) if job.sheet is not None else 0,
            "folder": str(job.progress.folder) if job.progress.folder else None}


def main():
    scenario, zip_path, repo, blend, takes_dir, address, token_file = sys.argv[1:8]
    settings, report = setup(zip_path, repo, blend, "", takes_dir)
    prefs = _prefs()
    prefs.default_backend, prefs.model_folder = "", ""  # previz: the weights Blockcast ships
    prefs.engine_service, prefs.service_token_file = address, token_file
    settings.takes = 1
    scenarios = {"remote": remote, "fallback": fallback, "offline": offline, "warm": warm}
    report.update(scenarios[scenario](sys.argv[8:]))
    print("REPORT " + json.dumps(report, default=str), flush=True)


if __name__ == "__main__":
    main()
