"""Finding a backend's weights on disk: a local folder, or a hub id in the local Hugging Face
cache. The engine never downloads: a missing model fails fast, before anything heavy
loads, with the command that fetches it. Only safetensors weights are accepted (pickled
.bin/.ckpt files can run code when loaded).
"""

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..bundle.take_record import ModelRecord

SHIPPED_ROOT = Path(__file__).resolve().parents[2]  # the Blockcast checkout: weights that ship inside it


class ModelError(Exception):
    """A model cannot be used; the message names it and says how to get it."""


@dataclass
class ResolvedModel:
    role: str
    source: str                        # what the user or the default named: hub id or path
    path: Path                         # local folder to load from
    revision: str | None = None        # hub commit hash, for cached hub models
    file_hashes: dict = field(default_factory=dict)  # relative path -> sha256, for local folders

    def record(self):
        """The take record's ModelRecord: enough to find exactly these weights again."""
        return ModelRecord(source=self.source, path=str(self.path), revision=self.revision,
                           file_hashes=self.file_hashes)


def download_hint(repo_id, backend=None):
    """How to get a missing hub model: the engine's own fetch (which checks the files it needs), or hf."""
    return (f"`python -m engine models fetch {backend or 'BACKEND'} --allow-network` (in Blender: Preferences ▸ Models ▸ "
            f"Download), or `hf download {repo_id}`")


def looks_like_path(spec):
    return spec.startswith(("/", ".", "~")) or spec.count("/") > 1 or os.sep != "/" and os.sep in spec


def sha256_file(path):
    """The file's sha256 hex digest, read in 4 MiB blocks (weights are gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _hash_cache_path():
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.environ.get("BLOCKCAST_CACHE") or Path(base) / "blockcast") / "file-hashes.json"


def hash_files(folder):
    """{relative path: sha256} for a local model folder. Hashing gigabytes of weights takes
    seconds, so digests are cached per file, keyed on path, size and modification time."""
    cache_path = _hash_cache_path()
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    hashes, changed = {}, False
    for path in _files(folder):
        stat = path.stat()
        stamp = [stat.st_size, stat.st_mtime_ns]
        entry = cache.get(str(path))
        if not entry or entry[:2] != stamp:
            entry, changed = stamp + [sha256_file(path)], True
            cache[str(path)] = entry
        hashes[str(path.relative_to(folder))] = entry[2]
    if changed:
        try:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            temp = cache_path.with_name(f".{cache_path.name}.{uuid.uuid4().hex[:8]}")
            temp.write_text(json.dumps(cache), encoding="utf-8")
            os.replace(temp, cache_path)
        except OSError:
            pass  # an unwritable cache only costs time
    return hashes


def _files(folder):
    """Files under `folder`, leaving out hidden ones (.cache, .git, ...)."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _check_safetensors(role, source, folder):
    files = _files(folder)
    if any(p.suffix == ".safetensors" for p in files):
        return
    pickled = [p.name for p in files if p.suffix in (".bin", ".ckpt", ".pt", ".pth")]
    what = f"only pickled weights ({', '.join(pickled[:3])})" if pickled else "no weights"
    raise ModelError(f"model {role} ({source}) at {folder} has {what}: the engine loads .safetensors only; "
                     "use a repository or folder that ships safetensors")


def cached_snapshot(repo_id):
    """The local snapshot folder of a hub repo, or None when it is not in the cache."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, HFValidationError, FileNotFoundError, OSError):
        return None


def resolve_model(role, spec, backend=None):
    """A ResolvedModel for `spec` (local folder or hub id), or ModelError saying what to do."""
    folder = Path(spec).expanduser()
    if folder.exists():
        if not folder.is_dir():
            raise ModelError(f"model {role} path {spec} is a file: pass the model's folder (with its config.json)")
        folder = folder.resolve()
        _check_safetensors(role, spec, folder)
        return ResolvedModel(role, spec, folder, None, hash_files(folder))
    if looks_like_path(spec):
        if Path(spec).is_relative_to(SHIPPED_ROOT):
            raise ModelError(f"model {role} folder {spec} is missing: it ships with Blockcast, so restore it from "
                             f"the repository (git checkout -- {Path(spec).relative_to(SHIPPED_ROOT)}), "
                             f"or pass --model {role}=FOLDER")
        raise ModelError(f"model {role} folder {spec} does not exist: pass an existing folder or a hub id")
    snapshot = cached_snapshot(spec)
    if snapshot is None:
        raise ModelError(
            f"model {role} ({spec}) is not in the local Hugging Face cache and the engine never downloads: "
            f"run {download_hint(spec, backend)} on a machine with network, or pass --model {role}=/path/to/a/local/copy"
        )
    _check_safetensors(role, spec, snapshot)
    return ResolvedModel(role, spec, snapshot, snapshot.name)


def model_specs(backend, overrides):
    """role -> spec for every role of the backend: the user's override, else the default id."""
    unknown = sorted(set(overrides) - {role.name for role in backend.roles})
    if unknown:
        names = ", ".join(role.name for role in backend.roles)
        raise ModelError(f"backend {backend.name} has no model role {', '.join(unknown)}: its roles are {names}")
    return {role.name: overrides.get(role.name, role.default_id) for role in backend.roles}
