"""The warm engine service (#16), tested as a real `python -m engine serve` on 127.0.0.1 with
previz jobs on a 3-frame 64x36 bundle exported by the real exporter."""

import io
import json
import shutil
import tarfile

import pytest
from conftest import BLENDER_PYTHON, _run
from serve_client import Service, lock_looks

from engine.bundle.transfer import bundle_digest, pack_bundle, unpack_bundle
from engine.previz.model import WEIGHTS_DIR

QUICK = {"steps": 1}
SLOW = {"steps": 60}  # far more steps than a test waits for: it is cancelled or killed at its first


@pytest.fixture(scope="module")
def shot(demo_blend, tmp_path_factory):
    """Frames 1-3 at 64x36 with the passes previz reads; every look locked but the crate's, so a
    take samples one colour (its denoising steps stay short on a loaded CPU)."""
    out = tmp_path_factory.mktemp("serve-bundle") / "shot"
    _run([BLENDER_PYTHON, "scripts/export_passes.py", demo_blend, "--out", out, "--frames", "1-3", "--size", "64x36",
          "--passes", "shading,depth,normal,objects", "--quiet"])
    lock_looks(out, leave_open=("Crate",))
    return out


def _start(top, *extra):
    return Service(top / "work", top / "token", *extra)


@pytest.fixture(scope="module")
def service(shot, tmp_path_factory):
    """A service holding the shot in its work folder (jobs name it by path) and taking uploads up to 1 MB."""
    top = tmp_path_factory.mktemp("serve")
    running = _start(top, "--max-upload-mb", "1")
    shutil.copytree(shot, running.work_dir / "shared" / "shot")
    running.bundle = {"path": str(running.work_dir / "shared" / "shot")}
    yield running
    running.stop()


def _job_folders(service):
    return sorted(p.name for p in (service.work_dir / "jobs").iterdir())


def test_the_second_take_starts_from_the_warm_model(service):
    """Its own copy of the previz weights gives this test a backend key no other test loaded."""
    weights = service.work_dir / "shared" / "previz-weights"
    shutil.copytree(WEIGHTS_DIR, weights)
    takes = []
    for seed in (0, 1):
        record = service.wait(service.submit({**QUICK, "seed": seed, "models": {"previz": str(weights)}},
                                             service.bundle))
        assert record["state"] == "finished", record
        takes.append(json.loads((service.work_dir / "jobs" / record["id"] / "takes" / record["takes"][0] /
                                 "take.json").read_text()))
    first, second = (take["timings"]["load_s"] for take in takes)
    assert second <= 0.05 * first, (first, second)
    assert [take["seed"] for take in takes] == [0, 1]
    status, health = service.call("GET", "/health")
    assert status == 200 and any(str(weights) in key for key in health["loaded"]), health
    assert "previz" in health["backends"] and health["jobs"]["finished"] >= 2


def test_progress_events_arrive_in_order_and_a_dropped_stream_misses_nothing(service):
    job = service.submit({"steps": 2}, service.bundle)
    head = service.events(job, until=lambda event: event["event"] == "step")  # then the client goes away
    rest = service.events(job, after=head[-1][0])
    received = head + rest
    assert [index for index, _ in received] == list(range(len(received)))
    kinds = [event["event"] for _, event in received]
    assert kinds == ["load", "controls", "start", "window", "step", "step", "frame", "frame", "frame", "done",
                     "finished"]
    assert [event["step"] for _, event in received if event["event"] == "step"] == [1, 2]
    times = [event["time"] for _, event in received]
    assert times == sorted(times)
    assert service.wait(job)["state"] == "finished"  # the dropped stream did not cancel the job
    logged = (service.work_dir / "jobs" / job / "events.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in logged] == [event for _, event in received]


def test_cancel_mid_take_leaves_no_partial_take(service):
    job = service.submit(SLOW, service.bundle)
    service.events(job, until=lambda event: event["event"] == "step")
    status, answer = service.call("POST", f"/jobs/{job}/cancel")
    assert status == 202, answer
    received = service.events(job)  # the whole stream again, to its end
    assert received[-1][1]["event"] == "cancelled"
    steps = [event["step"] for _, event in received if event["event"] == "step"]
    assert steps[-1] < SLOW["steps"]
    record = service.wait(job)
    assert record["state"] == "cancelled" and record["takes"] == []
    assert list((service.work_dir / "jobs" / job / "takes").iterdir()) == []  # no partial folder either


@pytest.mark.parametrize("token", [None, "", "wrong-token-of-the-right-length-xxxxxxxxxxxxx"])
def test_a_request_without_the_token_is_refused_and_nothing_is_queued(service, token):
    before = _job_folders(service)
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    for method, path in [("POST", "/jobs"), ("GET", "/jobs"), ("GET", "/health"), ("PUT", "/bundles/" + "0" * 64)]:
        body = json.dumps({"request": QUICK, "bundle": service.bundle}).encode() if method != "GET" else None
        connection = service.connection()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        assert response.status == 401, (method, path)
        assert "token" in json.loads(response.read())["error"]
        connection.close()
    assert _job_folders(service) == before
    assert not (service.work_dir / "bundles" / ("0" * 64)).exists()


def test_paths_outside_the_work_folders_are_refused(service, shot, tmp_path):
    before = _job_folders(service)
    (tmp_path / "ref.png").write_bytes(b"not read")
    link = service.work_dir / "shared" / "link-out"
    link.symlink_to(shot)  # inside the work folder by name, outside once resolved
    for request, bundle in [(QUICK, {"path": str(shot)}), (QUICK, {"path": str(link)}),
                            (QUICK, {"path": str(service.work_dir / ".." / shot.parent.name / "shot")}),
                            ({**QUICK, "reference": str(tmp_path / "ref.png")}, service.bundle),
                            ({**QUICK, "models": {"previz": str(tmp_path)}}, service.bundle)]:
        status, answer = service.call("POST", "/jobs", {"request": request, "bundle": bundle})
        assert status == 403, (request, bundle, answer)
        assert "outside the service's folders" in answer["error"]
    status, answer = service.call("POST", "/jobs", {"request": QUICK, "bundle": {"path": "shared/shot"}})
    assert status == 403 and "absolute" in answer["error"]
    assert _job_folders(service) == before


def test_an_uploaded_bundle_makes_a_take_that_comes_back_whole(service, shot, tmp_path):
    digest = bundle_digest(shot)
    assert service.call("HEAD", f"/bundles/{digest}")[0] == 404
    status, answer = service.call("PUT", f"/bundles/{digest}", pack_bundle(shot))
    assert status == 201, answer
    assert service.call("HEAD", f"/bundles/{digest}")[0] == 200
    assert bundle_digest(service.work_dir / "bundles" / digest) == digest
    record = service.wait(service.submit(QUICK, {"digest": digest}))
    assert record["state"] == "finished" and record["bundle_digest"] == digest, record
    status, data = service.call("GET", f"/jobs/{record['id']}/takes/{record['takes'][0]}")
    assert status == 200
    take = unpack_bundle(data, tmp_path / "take")
    assert json.loads((take / "take.json").read_text())["status"] == "complete"
    assert sorted(p.name for p in (take / "frames").iterdir()) == ["0001.png", "0002.png", "0003.png"]
    assert service.call("GET", f"/jobs/{record['id']}/takes/..")[0] == 404


def _tar(members):
    """An uncompressed tar of (TarInfo, bytes or None)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            info.size = len(data or b"")
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def test_uploads_that_could_escape_or_lie_or_are_too_large_are_refused(service, shot):
    digest = "ab" * 32
    for data, status, words in [
            (_tar([(tarfile.TarInfo("../escape.txt"), b"x")]), 400, "outside"),
            (_tar([(tarfile.TarInfo("/etc/escape.txt"), b"x")]), 400, "not a plain relative name"),
            (_tar([_link("bundle.json", "/etc/passwd")]), 400, "link"),
            (_tar([_link("bundle.json", "../outside", tarfile.LNKTYPE)]), 400, "link"),
            (pack_bundle(shot), 400, "digest"),
            (b"\0" * (1024 * 1024 + 1), 413, "more than")]:
        status_seen, answer = service.call("PUT", f"/bundles/{digest}", data)
        assert status_seen == status and words in answer["error"], answer
    assert not (service.work_dir / "bundles" / digest).exists()
    assert list((service.work_dir / "uploads").iterdir()) == []
    assert not (service.work_dir.parent / "escape.txt").exists()
    assert service.call("PUT", "/bundles/not-a-digest", b"")[0] == 400


def test_a_killed_service_reports_its_interrupted_jobs_and_keeps_finished_takes(shot, tmp_path):
    running = _start(tmp_path)
    try:
        bundle = {"path": str(running.work_dir / "shot")}
        shutil.copytree(shot, running.work_dir / "shot")
        finished = running.submit(QUICK, bundle)
        assert running.wait(finished)["state"] == "finished"
        interrupted = running.submit({"takes": 2, "steps": 2}, bundle)
        waiting = running.submit(QUICK, bundle)
        running.events(interrupted, until=lambda event: event["event"] == "step" and
                       event["take"].startswith("take-002"))
        running.kill()
    finally:
        running.stop()
    takes = running.work_dir / "jobs" / interrupted / "takes"
    assert any(p.name.startswith(".take-002") for p in takes.iterdir())  # the killed take's partial folder
    restarted = _start(tmp_path)
    try:
        status, listing = restarted.call("GET", "/jobs")
        states = {record["id"]: record for record in listing["jobs"]}
        assert states[finished]["state"] == "finished"
        for job, was in [(interrupted, "running"), (waiting, "queued")]:
            assert states[job]["state"] == "interrupted"
            assert states[job]["error"] == f"the service stopped while this job was {was}; Generate again"
        assert states[interrupted]["takes"] == ["take-001-previz-s0"]
        assert sorted(p.name for p in takes.iterdir()) == ["take-001-previz-s0"]  # partial swept, finished kept
        kept = json.loads((takes / "take-001-previz-s0" / "take.json").read_text())
        assert kept["status"] == "complete" and len(kept["frames"]) == 3
        last = restarted.events(interrupted)[-1][1]  # the stream ends, with why
        assert last["event"] == "error" and "Generate again" in last["message"]
    finally:
        restarted.stop()


def test_a_variations_job_makes_one_sheet_on_the_warm_model_and_it_comes_back_whole(service, tmp_path):
    """#14: with Keep Engine Warm, Make Variations is a job of the service too (`variations` in the
    submission): one folder with its record, sheet and a tile per seed, listed and sent like a take."""
    from engine.bundle.variations_record import read_variations

    status, health = service.call("GET", "/health")
    assert status == 200 and health["job_kinds"] == ["generate", "variations"]
    status, answer = service.call("POST", "/jobs", {"request": {**QUICK, "seed": 4}, "bundle": service.bundle,
                                                    "variations": {"count": 3, "key_frames": 2, "tile_width": 32}})
    assert status == 202, answer
    record = service.wait(answer["job"])
    assert record["state"] == "finished" and record["takes"] == ["variations-001-s4"], record
    assert record["variations"] == {"count": 3, "key_frames": 2, "tile_width": 32}
    kinds = [event["event"] for _, event in service.events(record["id"])]
    assert kinds.count("variation") == 3 and kinds[-1] == "finished" and "done" not in kinds
    status, data = service.call("GET", f"/jobs/{record['id']}/takes/variations-001-s4")
    assert status == 200
    variations = read_variations(unpack_bundle(data, tmp_path / "variations"))
    assert [v.seed for v in variations.variations] == [4, 5, 6] and variations.key_frames == [1, 3]
    assert all((tmp_path / "variations" / v.tile).is_file() for v in variations.variations)
