"""Bundles and takes over the wire to a warm engine service: a content digest and a plain tar.

The add-on and the service both import this (stdlib only). `bundle_digest` names a bundle
by its content, so a bundle the service already holds is not sent again; `pack_bundle`
makes an uncompressed tar of exactly the files the digest covers; `unpack_bundle` is the
receiving side, which treats the tar as hostile data: regular files and folders only (no
links, devices or fifos), no absolute names, no `..`, no name twice, and a size limit.
"""

import hashlib
import io
import os
import re
import tarfile
from pathlib import Path, PurePosixPath

CONTROLS_DIR = "controls"  # the engine's own derived images (engine/bundle/schema.py): never sent
DEFAULT_LIMIT = 2 * 1024**3
MAX_MEMBERS = 200_000
_CHUNK = 1 << 20
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class TransferError(ValueError):
    """A tar or folder that cannot be sent or received; the message says what is wrong."""


def is_digest(text):
    """True for a bundle digest as bundle_digest writes it (64 lowercase hex digits)."""
    return isinstance(text, str) and bool(_DIGEST.match(text))


def _sent_files(folder):
    """Sorted relative POSIX names of the files that travel: hidden files and controls/ left
    out. A link anywhere is refused: what it points at is not the bundle's to send."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TransferError(f"{folder} is not a folder")
    names = []
    for root, dirs, files in os.walk(folder):
        relative_root = Path(root).relative_to(folder)
        dirs[:] = [d for d in dirs if not d.startswith(".") and not (relative_root == Path(".") and d == CONTROLS_DIR)]
        for name in [*dirs, *files]:
            if (Path(root) / name).is_symlink():
                raise TransferError(f"{Path(root) / name} is a link: replace it with the file itself to send it")
        names += [(relative_root / name).as_posix() for name in files if not name.startswith(".")]
    return sorted(names)


def _file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.digest()


def bundle_digest(folder):
    """sha256 hex over the sorted (relative path, sha256 of bytes) of the files that travel."""
    digest = hashlib.sha256()
    for name in _sent_files(folder):
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(_file_sha256(Path(folder) / name))
    return digest.hexdigest()


def pack_bundle(folder):
    """An uncompressed tar (bytes) of the folder's travelling files; the same files give the same bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in _sent_files(folder):
            path = Path(folder) / name
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
            with open(path, "rb") as handle:
                tar.addfile(info, handle)
    return buffer.getvalue()


def _safe_name(member):
    """The member's relative path, or TransferError when it could land outside the folder."""
    name = member.name
    posix = PurePosixPath(name)
    if not name or "\\" in name or "\0" in name or posix.is_absolute() or re.match(r"^[A-Za-z]:", name):
        raise TransferError(f"the tar holds {name!r}, which is not a plain relative name")
    if any(part in ("..", "") for part in name.rstrip("/").split("/")) or any(":" in part for part in posix.parts):
        raise TransferError(f"the tar holds {name!r}, which leads outside the folder")
    return Path(*[part for part in posix.parts if part != "."]) if posix.parts else None


def _open(data):
    if isinstance(data, (bytes, bytearray)):
        return tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    if hasattr(data, "read"):
        return tarfile.open(fileobj=data, mode="r:")
    return tarfile.open(data, mode="r:")


def unpack_bundle(data, dest, limit=DEFAULT_LIMIT):
    """Write the tar `data` (bytes, a binary file or a tar's path) into the new folder `dest`;
    returns dest. Refuses (TransferError) links, devices, unsafe names, repeats and more
    than `limit` bytes of files; a refused tar may leave a partial `dest` for the caller to remove."""
    dest = Path(dest)
    dest.mkdir(parents=True)
    total = 0
    try:
        tar = _open(data)
    except tarfile.TarError as exc:
        raise TransferError(f"not an uncompressed tar ({exc})") from None
    with tar:
        try:
            for count, member in enumerate(tar, start=1):
                if count > MAX_MEMBERS:
                    raise TransferError(f"the tar holds more than {MAX_MEMBERS} entries")
                relative = _safe_name(member)
                if member.isdir():
                    if relative is not None:
                        (dest / relative).mkdir(parents=True, exist_ok=True)
                    continue
                if not member.isfile():
                    raise TransferError(f"the tar holds {member.name!r}, which is a link or device, not a file")
                if relative is None:
                    raise TransferError("the tar holds a file without a name")
                total += member.size
                if total > limit:
                    raise TransferError(f"the tar holds more than {limit} bytes of files")
                target = dest / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                try:
                    with open(target, "xb") as handle:
                        for block in iter(lambda: source.read(_CHUNK), b""):
                            handle.write(block)
                except FileExistsError:
                    raise TransferError(f"the tar holds {member.name!r} twice") from None
        except tarfile.TarError as exc:
            raise TransferError(f"the tar is damaged ({exc})") from None
        except OSError as exc:  # e.g. a name used both as a file and as a folder
            raise TransferError(f"could not unpack the tar into {dest} ({exc.strerror or exc})") from None
    return dest
