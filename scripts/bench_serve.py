"""Load test of the warm engine service: many queued previz jobs from several clients at once.

    .venv-engine/bin/python scripts/bench_serve.py [--jobs 50] [--clients 5] [--steps 1] [--bundle DIR]
        [--sample-looks] [--timeout 900]

Starts one `python -m engine serve` on 127.0.0.1 (any free port, a temporary work folder),
then each client thread checks whether the service holds the bundle (HEAD), uploads it if
not (several may race: the service keeps one), queues its share of the jobs with distinct
seeds, and waits for them. Checks that every job finished exactly once with one take of
its own seed, none lost or duplicated, and prints throughput (jobs/s from the first submit
to the last finish) and the service's peak resident memory (VmHWM on Linux). With no
--bundle, the demo shot is exported with the Blender venv (.venv) at 3 frames, 64x36, and
every object's look is locked (--sample-looks: left to the previz UNet, as a fresh shot).
The service process is talked to with tests/engine/serve_client.py (stdlib only).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "engine")]

from engine.bundle.request import GenerateRequest  # noqa: E402
from engine.bundle.take_record import read_take  # noqa: E402
from engine.bundle.transfer import bundle_digest, pack_bundle  # noqa: E402
from serve_client import Service, lock_looks  # noqa: E402


def export_bundle(top):
    """The demo shot at 3 frames and 64x36 with the passes previz reads."""
    python, blend, bundle = ROOT / ".venv" / "bin" / "python", top / "demo.blend", top / "shot"
    for command in ([python, "scripts/make_demo_scene.py", "--save", blend, "--frames", "3", "--size", "64x36"],
                    [python, "scripts/export_passes.py", blend, "--out", bundle, "--passes",
                     "shading,depth,normal,objects", "--quiet"]):
        subprocess.run([str(part) for part in command], cwd=ROOT, check=True, capture_output=True, timeout=300)
    return bundle


def client(service, bundle, digest, seeds, steps, results, deadline):
    """One artist's Blender: upload if needed, queue its jobs, wait for each (polling, bounded)."""
    if service.call("HEAD", f"/bundles/{digest}")[0] == 404:
        status, answer = service.call("PUT", f"/bundles/{digest}", pack_bundle(bundle))
        assert status in (200, 201), answer
    jobs = {service.submit(GenerateRequest(steps=steps, seed=seed).to_json(), {"digest": digest}): seed
            for seed in seeds}
    for job, seed in jobs.items():
        while True:
            status, record = service.call("GET", f"/jobs/{job}")
            if record["state"] not in ("queued", "running") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        results.append((job, seed, record, time.monotonic()))


def check(service, results, count):
    """Problems found: lost, duplicated, unfinished or mismatched jobs."""
    problems = []
    ids = [job for job, _, _, _ in results]
    if len(ids) != count or len(set(ids)) != count:
        problems.append(f"{len(ids)} results for {len(set(ids))} distinct jobs, {count} submitted")
    _, listing = service.call("GET", "/jobs")
    listed = [record["id"] for record in listing["jobs"]]
    if sorted(listed) != sorted(ids):
        problems.append(f"the service lists {len(listed)} jobs, {len(set(listed) ^ set(ids))} differ from ours")
    for job, seed, record, _ in results:
        if record["state"] != "finished" or len(record["takes"]) != 1:
            problems.append(f"job {job}: {record['state']} with takes {record['takes']} ({record['error']})")
            continue
        take = read_take(service.work_dir / "jobs" / job / "takes" / record["takes"][0])
        if take.seed != seed:
            problems.append(f"job {job}: take of seed {take.seed}, asked {seed}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--sample-looks", action="store_true",
                        help="keep the exported shot's looks open, so each job samples colours with the previz UNet "
                             "(slower: docs/benchmarks.md has measured figures); default: every look locked")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before the clients give up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as temp:
        top = Path(temp)
        bundle = args.bundle or export_bundle(top)
        if not args.bundle and not args.sample_looks:
            lock_looks(bundle)
        digest = bundle_digest(bundle)
        service = Service(top / "work", top / "token")
        try:
            results, threads = [], []
            shares = [range(c * 1000, c * 1000 + args.jobs // args.clients + (c < args.jobs % args.clients))
                      for c in range(args.clients)]
            started = time.monotonic()
            for seeds in shares:
                threads.append(threading.Thread(target=client, args=(service, bundle, digest, seeds, args.steps,
                                                                     results, started + args.timeout)))
                threads[-1].start()
            for thread in threads:
                thread.join(args.timeout + 60)
            elapsed = max(done for *_, done in results) - started if results else float("nan")
            problems = check(service, results, args.jobs)
            loads = [read_take(path).timings.load_s for path in sorted((service.work_dir / "jobs").glob("*/takes/*"))]
            peak = service.peak_rss_bytes()
        finally:
            service.stop()
    summary = {"jobs": args.jobs, "clients": args.clients, "denoising_steps": args.steps, "finished_ok": not problems,
               "seconds": round(elapsed, 2), "jobs_per_s": round(args.jobs / elapsed, 3),
               "peak_rss_mb": peak and round(peak / 2**20, 1),
               "load_s_max": max(loads, default=None), "load_s_warm_max": max(sorted(loads)[:-1], default=None)}
    print(json.dumps(summary))
    print(f"{args.jobs} jobs from {args.clients} clients in {elapsed:.1f} s: {summary['jobs_per_s']} jobs/s; "
          f"service peak RSS {summary['peak_rss_mb']} MB; cold load {summary['load_s_max']} s, "
          f"warm loads at most {summary['load_s_warm_max']} s")
    for problem in problems:
        print(f"problem: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
