"""The service's HTTP routes (Starlette), as docs/engine.md ▸ Warm engine describes them.

Every route sits behind the token (engine.serve.auth); every path a request names is
checked against the service's folders (engine.serve.paths) before a job is queued; uploads
are counted as they arrive and cut off past the limit. Errors are JSON: {"error": "..."}.
"""

import asyncio
import json
import os
import secrets
import shutil

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .. import __version__, backends
from ..backends.models import looks_like_path
from ..bundle.request import GenerateRequest
from ..bundle.service_record import JOB_KINDS, HealthReport, JobSubmission
from ..bundle.transfer import TransferError, bundle_digest, is_digest, pack_bundle, unpack_bundle
from .auth import RequireToken
from .paths import Forbidden

MAX_JSON_BYTES = 1024 * 1024
KEEPALIVE_S = 15.0


class Refused(Exception):
    """A request answered with `status` and a one-line error."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _error(status, message):
    return JSONResponse({"error": message}, status_code=status)


async def _read_body(request, limit, what, into=None):
    """The body (or, given a binary file `into`, its size after writing it there), refused
    with 413 past `limit` bytes whatever Content-Length claims."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"{what} is {int(declared)} bytes, more than this service takes ({limit})")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"{what} is more than this service takes ({limit} bytes)")
        if into is None:
            chunks.append(chunk)
        else:
            into.write(chunk)
    return b"".join(chunks) if into is None else size


class Routes:
    """The handlers, sharing the work folders, the job queue and the loaded backends."""

    def __init__(self, folders, jobs, loaded_backends, max_upload_bytes):
        self.folders, self.jobs, self.loaded = folders, jobs, loaded_backends
        self.max_upload = max_upload_bytes

    async def health(self, request):
        report = HealthReport(engine=__version__, backends=backends.names(), loaded=self.loaded.keys(),
                              jobs=self.jobs.counts(), job_kinds=list(JOB_KINDS))
        return JSONResponse(report.to_json())

    def _digest(self, request):
        digest = request.path_params["digest"]
        if not is_digest(digest):
            raise Refused(400, f"{digest!r} is not a bundle digest (64 hex digits, engine/bundle/transfer.py)")
        return digest

    async def bundle(self, request):
        digest = self._digest(request)
        held = self.folders.bundle(digest).is_dir()
        if request.method == "HEAD" or held:
            return Response(status_code=200 if held else 404)
        upload = self.folders.uploads / f"{digest}-{secrets.token_hex(4)}"
        try:
            with open(upload.with_suffix(".tar"), "wb") as handle:
                await _read_body(request, self.max_upload, "the bundle (--max-upload-mb)", into=handle)
            await run_in_threadpool(self._receive, upload, digest)
        finally:
            upload.with_suffix(".tar").unlink(missing_ok=True)
            shutil.rmtree(upload, ignore_errors=True)
        return JSONResponse({"digest": digest}, status_code=201)

    def _receive(self, upload, digest):
        """Unpack the uploaded tar beside the bundles, check its digest, rename it into place."""
        try:
            unpack_bundle(upload.with_suffix(".tar"), upload, self.max_upload)
            found = bundle_digest(upload)
        except TransferError as exc:
            raise Refused(400, f"the bundle upload was refused: {exc}") from None
        if found != digest:
            raise Refused(400, f"the uploaded bundle's digest is {found}, not {digest}: send it again")
        try:
            os.rename(upload, self.folders.bundle(digest))
        except OSError:
            if not self.folders.bundle(digest).is_dir():  # else another upload of the same bundle won
                raise

    def _bundle_folder(self, source):
        if (source.digest is None) == (source.path is None):
            raise Refused(400, "say where the bundle is: {\"digest\": ...} of an uploaded one or {\"path\": ...}")
        if source.digest is not None:
            if not is_digest(source.digest) or not self.folders.bundle(source.digest).is_dir():
                raise Refused(404, f"the service holds no bundle {source.digest}: upload it first "
                                   "(PUT /bundles/<digest>)")
            return self.folders.bundle(source.digest)
        folder = self.folders.allowed(source.path, "the bundle folder")
        if not folder.is_dir():
            raise Refused(400, f"the bundle folder {source.path} does not exist on the service's machine")
        return folder

    def _check_request_paths(self, generate):
        """Refuse (403) a reference image or model folder outside the service's folders."""
        if generate.reference:
            self.folders.allowed(generate.reference, "the reference image")
        for role, model in generate.models.items():
            if looks_like_path(model):
                self.folders.allowed(model, f"the {role} model folder")

    async def submit(self, request):
        try:
            submission = JobSubmission.from_json(json.loads(await _read_body(request, MAX_JSON_BYTES, "the job")))
            generate = GenerateRequest.from_json(submission.request)
        except ValueError as exc:  # bad JSON, a bad record or a bad request field
            raise Refused(400, f"the job was refused: {exc}") from None
        folder = self._bundle_folder(submission.bundle)
        self._check_request_paths(generate)
        record = self.jobs.submit(generate.to_json(), folder, submission.bundle.digest, submission.variations)
        return JSONResponse({"job": record.id, "state": record.state}, status_code=202)

    async def list_jobs(self, request):
        return JSONResponse({"jobs": [record.to_json() for record in self.jobs.records()]})

    def _job(self, request):
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            raise Refused(404, f"no job {request.path_params['job_id']} on this service: GET /jobs lists them")
        return job

    async def job(self, request):
        return JSONResponse(self._job(request).record.to_json())

    async def cancel(self, request):
        job = self._job(request)
        self.jobs.cancel(job)
        return JSONResponse({"job": job.record.id, "state": job.record.state}, status_code=202)

    async def take(self, request):
        job, take_id = self._job(request), request.path_params["take_id"]
        if take_id not in job.record.takes:
            raise Refused(404, f"job {job.record.id} has no finished take {take_id}: its takes are "
                               f"{', '.join(job.record.takes) or 'none yet'}")
        data = await run_in_threadpool(pack_bundle, job.takes_dir / take_id)
        return Response(data, media_type="application/x-tar")

    async def events(self, request):
        job = self._job(request)
        after = request.query_params.get("after", request.headers.get("last-event-id", "-1"))
        try:
            first = int(after) + 1
        except ValueError:
            raise Refused(400, f"after={after!r} is not an event index") from None
        return StreamingResponse(self._stream(job, max(first, 0)), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def _stream(self, job, index):
        """Server-sent events from `index` on, until the job has ended and all are sent; a client
        that goes away only ends this stream, never the job."""
        loop, wake = asyncio.get_running_loop(), asyncio.Event()
        job.log.subscribe(loop, wake)
        try:
            while True:
                wake.clear()
                ended = job.record.ended_state  # read before the lines: the last event is written first
                for line in job.log.lines[index:]:
                    yield f"id: {index}\ndata: {line}\n\n"
                    index += 1
                if ended:
                    return
                try:
                    await asyncio.wait_for(wake.wait(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": still running\n\n"
        finally:
            job.log.unsubscribe(loop, wake)


async def _refused(request, exc):
    return _error(exc.status, str(exc))


async def _forbidden(request, exc):
    return _error(403, str(exc))


async def _http_error(request, exc):
    return _error(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}")


def create_app(folders, jobs, loaded_backends, token, max_upload_bytes):
    """The ASGI app: the routes behind the token check."""
    routes = Routes(folders, jobs, loaded_backends, max_upload_bytes)
    app = Starlette(routes=[
        Route("/health", routes.health, methods=["GET"]),
        Route("/bundles/{digest}", routes.bundle, methods=["HEAD", "PUT"]),
        Route("/jobs", routes.list_jobs, methods=["GET"]),
        Route("/jobs", routes.submit, methods=["POST"]),
        Route("/jobs/{job_id}", routes.job, methods=["GET"]),
        Route("/jobs/{job_id}/cancel", routes.cancel, methods=["POST"]),
        Route("/jobs/{job_id}/events", routes.events, methods=["GET"]),
        Route("/jobs/{job_id}/takes/{take_id}", routes.take, methods=["GET"]),
    ], exception_handlers={Refused: _refused, Forbidden: _forbidden, HTTPException: _http_error})
    return RequireToken(app, token)
