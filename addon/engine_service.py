"""A client for the engine service (`python -m engine serve`; bpy-free, stdlib only): whether
one answers, sending it a bundle and a job, following the job's events, bringing its takes home.

A warm service keeps models loaded between takes, on this machine or on a GPU box, where a
child process loads them for every Generate. Every request carries the service's token.
Bundles are content-addressed, so one the service holds already is not sent again. The event
stream resumes after a dropped connection where it stopped (`?after=N`; a disconnect never
cancels the job). A finished take is unpacked in a hidden folder beside the artist's takes,
numbered as the next of them, pointed at the artist's own bundle and renamed into place, so a
half-received take never looks like a take.
"""

import dataclasses
import http.client
import ipaddress
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import quote

from ..engine.bundle.events import Event, EventError
from ..engine.bundle.numbered import TAKE_NUMBERED, VARIATIONS_NUMBERED, reserve_numbered, take_name, variations_name
from ..engine.bundle.service_record import ENDED, BundleSource, HealthReport, JobRecord, JobSubmission
from ..engine.bundle.take_record import TAKE_RECORD, TakeRecordError, read_take
from ..engine.bundle.transfer import TransferError, bundle_digest, pack_bundle, unpack_bundle
from ..engine.bundle.variations_record import VARIATIONS_RECORD, VariationsRecordError, read_variations

DEFAULT_PORT = 8765
DEFAULT_ADDRESS = f"127.0.0.1:{DEFAULT_PORT}"
TOKEN_FILE = "token"
PROBE_TIMEOUT_S = 0.5          # a loopback service answers at once; nothing there costs no more
REMOTE_PROBE_TIMEOUT_S = 3.0
REQUEST_TIMEOUT_S = 60.0
STREAM_TIMEOUT_S = 120.0       # silence longer than this is taken as a dropped stream, and resumed
RECONNECT_S = 30.0             # how long a lost service is retried before the job is given up
RETRY_S = 0.5
_TAKE_ID = re.compile(r"^take-\d+-([A-Za-z0-9_.-]+)$")
_VARIATIONS_ID = re.compile(r"^variations-\d+-s(\d+)$")


class ServiceError(Exception):
    """The service cannot be used as asked; the message says what to do. `status` is the
    HTTP status, None when nothing answered."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def user_data_dir(platform=sys.platform, environ=os.environ, home=None):
    """Blockcast's user data folder, where the engine keeps the service's token and work folder."""
    home = Path(home or Path.home())
    if platform.startswith("win"):
        return Path(environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "Blockcast"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "Blockcast"
    return Path(environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "blockcast"


def default_token_file():
    return user_data_dir() / TOKEN_FILE


def read_token(path):
    """The token in `path`; ServiceError naming the preference when it cannot be read."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ServiceError(f"cannot read the engine service's token file {path} ({exc}): set Token File in "
                           "Preferences ▸ Add-ons ▸ Blockcast to the file the service printed") from exc
    if not token:
        raise ServiceError(f"the token file {path} is empty: start the service once to write it")
    return token


@dataclasses.dataclass(frozen=True)
class ServiceAddress:
    host: str
    port: int

    @classmethod
    def parse(cls, text):
        """'127.0.0.1:8765', 'http://gpu-box:8765/', '[::1]:8765' or a bare host (port 8765)."""
        spec = text.strip().removeprefix("http://").rstrip("/")
        host, port = spec, str(DEFAULT_PORT)
        if spec.startswith("["):
            host, _, rest = spec[1:].partition("]")
            port = rest.removeprefix(":") or port
        elif spec.count(":") == 1:
            host, port = spec.split(":")
        if not host or "/" in host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ServiceError(f"the Engine Service address {text!r} is not HOST:PORT (e.g. {DEFAULT_ADDRESS})")
        return cls(host, int(port))

    @property
    def url(self):
        return f"http://[{self.host}]:{self.port}" if ":" in self.host else f"http://{self.host}:{self.port}"

    @property
    def loopback(self):
        """Whether the address is this machine (no network involved)."""
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class ServiceClient:
    """One service, one token; each call opens its own connection (calls come from one thread
    at a time, and a connection never outlives a call)."""

    def __init__(self, address, token, timeout=REQUEST_TIMEOUT_S):
        self.address, self.token, self.timeout = address, token, timeout

    def _send(self, method, path, body=None, content_type=None, timeout=None):
        connection = http.client.HTTPConnection(self.address.host, self.address.port, timeout=timeout or self.timeout)
        headers = {"Authorization": f"Bearer {self.token}"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            connection.request(method, path, body=body, headers=headers)
            return connection, connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise ServiceError(f"the engine service at {self.address.url} does not answer ({exc})") from exc

    def request(self, method, path, body=None, content_type=None, expect=(200,), timeout=None):
        """(status, body bytes); ServiceError with the service's own words for other statuses."""
        connection, response = self._send(method, path, body, content_type, timeout)
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ServiceError(f"the engine service at {self.address.url} stopped answering ({exc})") from exc
        finally:
            connection.close()
        if response.status not in expect:
            raise ServiceError(self._refusal(response.status, data), response.status)
        return response.status, data

    def _refusal(self, status, data):
        try:
            said = json.loads(data)["error"]
        except (ValueError, KeyError, TypeError):
            said = data.decode("utf-8", "replace").strip()[:200] or "no message"
        if status == 401:
            return (f"the engine service at {self.address.url} refused the token ({said}): set Token File in "
                    "Preferences ▸ Add-ons ▸ Blockcast to the service's token file")
        return f"the engine service at {self.address.url} said: {said}"

    def call(self, method, path, document=None, expect=(200,), timeout=None):
        body = json.dumps(document).encode() if document is not None else None
        _, data = self.request(method, path, body, "application/json" if body else None, expect, timeout)
        try:
            return json.loads(data) if data else {}
        except ValueError as exc:
            raise ServiceError(f"{self.address.url} answered with no JSON: is it Blockcast's engine service?") from exc

    def health(self, timeout=None):
        """The service's /health document (engine version, backends, loaded models, job counts)."""
        return HealthReport.from_json(self.call("GET", "/health", timeout=timeout))

    def has_bundle(self, digest):
        status, _ = self.request("HEAD", f"/bundles/{digest}", expect=(200, 404))
        return status == 200

    def send_bundle(self, folder):
        """(BundleSource by digest, whether it was uploaded): uploaded unless the service holds it."""
        digest = bundle_digest(folder)
        if self.has_bundle(digest):
            return BundleSource(digest=digest), False
        self.request("PUT", f"/bundles/{digest}", pack_bundle(folder), "application/x-tar", expect=(200, 201, 204))
        return BundleSource(digest=digest), True

    def submit(self, request, bundle, variations=None):
        """Queue a GenerateRequest for `bundle` (a BundleSource: digest or path), a Variations job
        with `variations` (VariationsSettings); the job's id."""
        submission = JobSubmission(request=request.to_json(), bundle=bundle, variations=variations)
        answer = self.call("POST", "/jobs", submission.to_json(), expect=(200, 201, 202))
        if not isinstance(answer.get("job"), str):
            raise ServiceError(f"{self.address.url} queued the job without naming it: update the engine")
        return answer["job"]

    def job(self, job_id):
        """The job's JobRecord (engine/bundle/service_record.py)."""
        return JobRecord.from_json(self.call("GET", f"/jobs/{quote(job_id)}"))

    def cancel(self, job_id):
        self.call("POST", f"/jobs/{quote(job_id)}/cancel", expect=(200, 202))

    def take_archive(self, job_id, take_id):
        return self.request("GET", f"/jobs/{quote(job_id)}/takes/{quote(take_id)}")[1]

    def stream(self, job_id, after=None):
        """(index, event document) of the job's server-sent events after `after`, until the stream ends."""
        path = f"/jobs/{quote(job_id)}/events" + (f"?after={after}" if after is not None else "")
        connection, response = self._send("GET", path, timeout=STREAM_TIMEOUT_S)
        try:
            if response.status != 200:
                raise ServiceError(self._refusal(response.status, response.read()), response.status)
            yield from read_server_events(response)
        except (OSError, http.client.HTTPException) as exc:
            raise ServiceError(f"the event stream from {self.address.url} broke off ({exc})") from exc
        finally:
            connection.close()


def read_server_events(lines):
    """(id, JSON document) of each complete server-sent event in a byte-line stream."""
    index, data = None, []
    for raw in iter(lines.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                yield index, json.loads("\n".join(data))
            index, data = None, []
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "id" and value.isdigit():
            index = int(value)
        elif name == "data":
            data.append(value)


def follow_events(client, job_id, stopped=lambda: False, give_up_s=RECONNECT_S):
    """The job's typed events (engine/bundle/events.py), first to last, across dropped connections;
    ends when the job is over. Unknown kinds come as OtherEvent; malformed ones are skipped."""
    after, failing_since = None, None
    while not stopped():
        try:
            for index, document in client.stream(job_id, after):
                after, failing_since = (index if index is not None else after), None
                try:
                    yield Event.from_json(document)
                except EventError:
                    continue
                if stopped():
                    return
            if client.job(job_id).state in ENDED:
                return
        except ServiceError as exc:
            if exc.status is not None:  # the service answered, and said no: retrying will not help
                raise
            failing_since = failing_since or time.monotonic()
            if time.monotonic() - failing_since > give_up_s:
                raise ServiceError(f"{exc}; gave up after {give_up_s:.0f} s: the job {job_id} may still finish "
                                   "on the service") from exc
            time.sleep(RETRY_S)


def receive_take(archive, service_take_id, takes_dir, bundle_dir):
    """Unpack a take from the service as the next take of `takes_dir`, its take.json's id and
    bundle path rewritten to this machine's; returns the take folder."""
    label = _TAKE_ID.match(service_take_id)
    if label is None:
        raise ServiceError(f"the service named a take {service_take_id!r}, not take-NNN-<label>: update the engine")

    def local_record(folder, take_id):
        record = read_take(folder)
        return TAKE_RECORD, dataclasses.replace(record, take=take_id,
                                                bundle=dataclasses.replace(record.bundle, path=str(bundle_dir)))

    try:
        return _receive_numbered(archive, takes_dir, TAKE_NUMBERED, lambda n: take_name(n, label.group(1)),
                                 local_record)
    except (TakeRecordError, TransferError) as exc:
        raise ServiceError(f"the service's take {service_take_id} could not be received ({exc}): generate again") \
            from exc


def receive_variations(archive, service_name, out_dir, bundle_dir):
    """Unpack a Variations folder from the service as the next variations folder of `out_dir`,
    its variations.json's bundle path rewritten to this machine's (Make Takes reads it); returns it."""
    seed = _VARIATIONS_ID.match(service_name)
    if seed is None:
        raise ServiceError(f"the service named variations {service_name!r}, not variations-NNN-s<seed>: update the "
                           "engine")

    def local_record(folder, _name):
        record = read_variations(folder)
        return VARIATIONS_RECORD, dataclasses.replace(record, bundle=dataclasses.replace(record.bundle,
                                                                                         path=str(bundle_dir)))

    try:
        return _receive_numbered(archive, out_dir, VARIATIONS_NUMBERED, lambda n: variations_name(n, seed.group(1)),
                                 local_record)
    except (VariationsRecordError, TransferError) as exc:
        raise ServiceError(f"the service's variations {service_name} could not be received ({exc}): make the "
                           "variations again") from exc


def _receive_numbered(archive, folder, numbered, name_for, local_record):
    """Unpack `archive` as the next numbered folder of `folder` (reserved as the engine reserves it),
    with the record `local_record(unpacked, name)` gives ((file name, record)) written over the
    service's; the folder appears whole or not at all."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name, partial = reserve_numbered(folder, numbered, name_for)
    try:
        unpacked = partial / "received"
        unpack_bundle(archive, unpacked)
        file_name, record = local_record(unpacked, name)
        written = unpacked / f".{file_name}.tmp"
        written.write_text(record.dumps(), encoding="utf-8")
        os.replace(written, unpacked / file_name)
        final = folder / name
        if final.exists():
            raise ServiceError(f"{final} appeared while it was received from the service: run it again")
        os.rename(unpacked, final)
        return final
    finally:
        shutil.rmtree(partial, ignore_errors=True)
