"""`python -m engine models list|fetch|verify [BACKEND]`: each backend's model roles, where they
are found here, getting them (only with --allow-network) and checking them.

Generate never downloads (engine/backends/models.py); `fetch` is the one place the engine asks
the Hugging Face hub for anything, through huggingface_hub's snapshot_download with allow
patterns naming the safetensors and configs a role loads (resumable: a second fetch continues).
`verify` checks that every needed file is there and, where the hub's own metadata names a
sha256 (the blob name of an LFS file in the cache, the etag huggingface_hub writes beside a
file fetched into a folder), that the bytes hash to it.
"""

import fnmatch
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import backends
from .backends.models import sha256_file
from .bundle.models_record import MODELS_LIST_KEY, ModelEntry, ModelProgress

SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class HubModel:
    """A hub repository as a role loads it: the files it needs (globs), its parameters and the
    dtype they are stored in (its size), licence and gating, from the model card."""

    files: tuple
    parameters: int
    stored: str
    licence: str
    gated: bool = False

    def size_bytes(self):
        return self.parameters * {"float32": 4, "float16": 2, "bfloat16": 2}[self.stored]


_UNET_PARTS = ("unet/config.json", "unet/*.safetensors", "vae/config.json", "vae/*.safetensors",
               "text_encoder/config.json", "text_encoder/*.safetensors", "tokenizer/*", "scheduler/*")
# Parameters: scripts/count_parameters.py over the published configs (the IP-Adapter's: its ViT-H image
# encoder and projection, from h94/IP-Adapter's model card). Stored dtypes and licences: the model cards;
# the sizes are parameters x stored bytes, not read from the hub (which cannot be reached here).
HUB_MODELS = {
    "stable-diffusion-v1-5/stable-diffusion-v1-5": HubModel(
        ("model_index.json", "feature_extractor/*") + _UNET_PARTS,
        859_520_964 + 83_653_863 + 123_060_480, "float32", "creativeml-openrail-m"),
    "guoyww/animatediff-motion-adapter-v1-5-3": HubModel(
        ("config.json", "*.safetensors"), 417_137_600, "float32", "apache-2.0"),
    "lllyasviel/control_v11f1p_sd15_depth": HubModel(
        ("config.json", "diffusion_pytorch_model.safetensors"), 361_279_120, "float32", "openrail"),
    "lllyasviel/control_v11p_sd15_openpose": HubModel(
        ("config.json", "diffusion_pytorch_model.safetensors"), 361_279_120, "float32", "openrail"),
    "h94/IP-Adapter": HubModel(
        ("models/ip-adapter_sd15.safetensors", "models/image_encoder/config.json",
         "models/image_encoder/model.safetensors"), 632_076_800 + 22_304_768, "float32", "apache-2.0"),
    "Wan-AI/Wan2.1-VACE-1.3B-diffusers": HubModel(
        ("model_index.json", "scheduler/*", "tokenizer/*", "transformer/*.json", "transformer/*.safetensors",
         "vae/config.json", "vae/*.safetensors", "text_encoder/*.json", "text_encoder/*.safetensors"),
        2_153_972_032 + 126_892_531 + 5_680_910_336, "float32", "apache-2.0"),
    # A diffusers-layout conversion (by a Hugging Face staff member) of alibaba-pai/Wan2.2-VACE-Fun-A14B, whose own
    # layout (VideoX-Fun's high_noise_model/, low_noise_model/) from_pretrained cannot load; bf16 experts (~69 GB).
    "linoyts/Wan2.2-VACE-Fun-14B-diffusers": HubModel(
        ("model_index.json", "scheduler/*", "tokenizer/*", "transformer/*.json", "transformer/*.safetensors",
         "transformer_2/*.json", "transformer_2/*.safetensors", "vae/config.json", "vae/*.safetensors",
         "text_encoder/*.json", "text_encoder/*.safetensors"),
        2 * 17_337_592_896 + 126_892_531 + 5_680_910_336, "bfloat16", "apache-2.0"),
    # SanaWMPipeline's example and the model card's Diffusers snippet name this repository; the licence
    # (Apache-2.0, not gated) is the SANA-WM_bidirectional model card's. The stored dtype is not
    # confirmed (the card lists the original DiT as 10 GB, i.e. float32); parameters: engine/memory.py.
    "Efficient-Large-Model/SANA-WM_bidirectional-diffusers": HubModel(
        ("model_index.json", "scheduler/*", "tokenizer/*", "transformer/*.json", "transformer/*.safetensors",
         "vae/config.json", "vae/*.safetensors", "text_encoder/*.json", "text_encoder/*.safetensors"),
        2_661_800_448 + 1_222_479_601 + 2_614_341_888, "float32", "apache-2.0"),
    # LTX2InContextPipeline's own example loads this repository; its layout is diffusers' conversion script's
    # (LTX2Pipeline, bfloat16). Licence: the LTX-2 Community License (free below USD 10 M annual revenue, a
    # paid licence above), as Lightricks' LTX-2 cards give it; gating not confirmed (the hub was not reachable).
    "diffusers/LTX-2.3-Diffusers": HubModel(
        ("model_index.json", "scheduler/*", "tokenizer/*", "transformer/*.json", "transformer/*.safetensors",
         "connectors/*.json", "connectors/*.safetensors", "vae/config.json", "vae/*.safetensors",
         "audio_vae/config.json", "audio_vae/*.safetensors", "vocoder/config.json", "vocoder/*.safetensors",
         "text_encoder/*.json", "text_encoder/*.safetensors"),
        35_256_282_331, "bfloat16", "ltx-2-community-license (paid above USD 10M revenue)"),
    # The IC-LoRA file: rank 64 on the 48 video blocks' attention and feed-forward layers, which in bfloat16 is
    # the published file's 654 MB (the rank and layers are inferred from that size, not read from the file).
    "Lightricks/LTX-2.3-22b-IC-LoRA-Union-Control": HubModel(
        ("ltx-2.3-22b-ic-lora-union-control-ref0.5.safetensors",), 327_155_712, "bfloat16",
        "ltx-2-community-license (paid above USD 10M revenue)"),
}


class ModelsUsageError(ValueError):
    """A `models` command that cannot run as given; the message names the flag."""


def hub_cache():
    """The Hugging Face hub cache folder, read from the environment each time."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    return Path(home) / "hub"


def cached_folder(repo_id):
    """(snapshot folder, revision) of `repo_id` in the cache (its refs/main, else its newest snapshot),
    or (None, None)."""
    repo = hub_cache() / ("models--" + repo_id.replace("/", "--"))
    ref = repo / "refs" / "main"
    revision = ref.read_text().strip() if ref.is_file() else None
    snapshots = repo / "snapshots"
    if revision is None and snapshots.is_dir():
        folders = sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime)
        revision = folders[-1].name if folders else None
    folder = snapshots / revision if revision else None
    return (folder, revision) if folder is not None and folder.is_dir() else (None, None)


def _relative_files(folder):
    return sorted(str(p.relative_to(folder)).replace(os.sep, "/") for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def missing_files(folder, hub):
    """The globs of `hub.files` that match nothing in `folder`."""
    present = _relative_files(folder)
    return [glob for glob in hub.files if not fnmatch.filter(present, glob)]


def roles(backend_name=None):
    """[(backend, ModelRole)] of one backend, or of every backend."""
    names = [backend_name] if backend_name else backends.names()
    for name in names:
        if name not in backends.names():
            raise ModelsUsageError(f"unknown backend {name!r}: choose from {', '.join(backends.names())}")
    return [(name, role) for name in names for role in backends.create(name).roles]


def locate(entry, model_folder):
    """Fill in where the entry's model is here: the model folder, the shipped folder or the cache."""
    local = Path(model_folder) / entry.backend / entry.role if model_folder is not None else None
    if local is not None and local.is_dir():
        entry.folder, entry.found_in = str(local), "model folder"
    elif entry.hub_id not in HUB_MODELS and Path(entry.hub_id).is_dir():
        entry.folder, entry.found_in = entry.hub_id, "shipped"
    else:
        folder, entry.revision = cached_folder(entry.hub_id)
        if folder is not None:
            entry.folder, entry.found_in = str(folder), "cache"
    return entry


def listing(backend_name=None, model_folder=None):
    """A ModelEntry for every role of one backend or all."""
    entries = []
    for backend, role in roles(backend_name):
        hub = HUB_MODELS.get(role.default_id)
        entry = ModelEntry(backend=backend, role=role.name, hub_id=role.default_id, description=role.description,
                           for_control=role.control, size_bytes=hub.size_bytes() if hub else None,
                           licence=hub.licence if hub else None, gated=hub.gated if hub else False)
        entries.append(locate(entry, model_folder))
    return entries


def _hub_sha256(folder, relative):
    """The sha256 the hub's metadata gives for a file: its cache blob's name, or the etag of a
    folder fetch (local_dir/.cache/huggingface/download/<file>.metadata); None when neither is one."""
    path = folder / relative
    if path.is_symlink() and SHA256.match(Path(os.readlink(path)).name):
        return Path(os.readlink(path)).name
    metadata = folder / ".cache" / "huggingface" / "download" / f"{relative}.metadata"
    if metadata.is_file():
        lines = metadata.read_text(encoding="utf-8").splitlines()
        etag = lines[1].strip().strip('"') if len(lines) > 1 else ""
        return etag if SHA256.match(etag) else None
    return None


def verify_folder(folder, hub):
    """(problems, files hashed) for a model folder against its HubModel."""
    folder = Path(folder)
    problems = [f"no file matches {glob}" for glob in missing_files(folder, hub)]
    hashed = 0
    for relative in _relative_files(folder):
        expected = _hub_sha256(folder, relative)
        if expected is None:
            continue
        hashed += 1
        if sha256_file(folder / relative) != expected:
            problems.append(f"{relative} does not hash to the hub's sha256 {expected[:12]}…: fetch it again")
    return problems, hashed


def emit(event, **values):
    print(json.dumps(ModelProgress(event=event, **values).to_json()), flush=True)


def run_list(args):
    entries = listing(args.backend, args.model_folder)
    if args.json:
        print(json.dumps({MODELS_LIST_KEY: [entry.to_json() for entry in entries]}, indent=1))
        return 0
    for entry in entries:
        size = f"{entry.size_bytes / 1e9:.2f} GB" if entry.size_bytes else "ships with Blockcast"
        licence = f", {entry.licence}{' (gated)' if entry.gated else ''}" if entry.licence else ""
        where = f"{entry.found_in}: {entry.folder}" if entry.folder else "missing: models fetch --allow-network"
        print(f"{entry.backend} {entry.role}: {entry.hub_id} ({size}{licence}) — {where}")
    return 0


def run_verify(args):
    failed = 0
    for entry in listing(args.backend, args.model_folder):
        hub = HUB_MODELS.get(entry.hub_id)
        if entry.folder is None:
            problems, hashed = [f"not found: run `python -m engine models fetch {entry.backend} --allow-network`"], 0
        elif hub is None:
            problems, hashed = [], 0
        else:
            problems, hashed = verify_folder(entry.folder, hub)
        failed += bool(problems)
        emit("verified", backend=entry.backend, role=entry.role, folder=entry.folder, ok=not problems,
             hashed=hashed, problems=problems)
    return 1 if failed else 0


def run_fetch(args):
    if not args.allow_network:
        raise ModelsUsageError("models fetch downloads from the Hugging Face hub: add --allow-network to allow it "
                               "(generate never downloads)")
    wanted = [(b, r) for b, r in roles(args.backend) if args.role in (None, r.name) and r.default_id in HUB_MODELS]
    if not wanted:
        raise ModelsUsageError(f"--role {args.role}: {args.backend} has no hub model of that role")
    os.environ["HF_HUB_OFFLINE"] = "0"
    from huggingface_hub import constants, snapshot_download

    constants.HF_HUB_OFFLINE = False
    for backend, role in wanted:
        hub = HUB_MODELS[role.default_id]
        local_dir = Path(args.model_folder) / backend / role.name if args.model_folder else None
        emit("fetch", backend=backend, role=role.name, hub_id=role.default_id, size_bytes=hub.size_bytes())
        folder = snapshot_download(role.default_id, allow_patterns=list(hub.files), cache_dir=hub_cache(),
                                   local_dir=local_dir, tqdm_class=progress_class(backend, role.name))
        problems, hashed = verify_folder(folder, hub)
        emit("fetched", backend=backend, role=role.name, folder=str(folder), ok=not problems, problems=problems)
        if problems:
            return 1
    return 0


def progress_class(backend, role):
    """A tqdm class that reports snapshot_download's byte counts as JSON lines, twice a second at most."""
    from tqdm.auto import tqdm

    class JsonProgress(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self.reported = 0.0

        def update(self, n=1):
            super().update(n)
            if time.monotonic() - self.reported > 0.5 or (self.total and self.n >= self.total):
                self.reported = time.monotonic()
                emit("download", backend=backend, role=role, done=self.n, total=self.total)

    return JsonProgress


def add_models_parser(commands):
    models = commands.add_parser("models", help="list, fetch (with --allow-network) or verify the backends' models")
    actions = models.add_subparsers(dest="models_command", required=True)
    for name, help_text in (("list", "every role: hub id, size, licence, where it is here"),
                            ("fetch", "download a backend's models from the Hugging Face hub"),
                            ("verify", "check each role's files and their sha256")):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("backend", nargs="?" if name != "fetch" else None, default=None,
                            help="one backend (default: all)")
        action.add_argument("--model-folder", type=Path, default=None,
                            help="local copies as MODEL_FOLDER/<backend>/<role>/ (fetch writes there)")
        if name == "list":
            action.add_argument("--json", action="store_true")
        if name == "fetch":
            action.add_argument("--role", default=None, help="only this role")
            action.add_argument("--allow-network", action="store_true", help="allow the download")


def run_models(args):
    handler = {"list": run_list, "fetch": run_fetch, "verify": run_verify}[args.models_command]
    try:
        return handler(args)
    except ModelsUsageError as exc:
        emit("error", message=str(exc))
        print(f"engine: error: {exc}", file=sys.stderr)
        return 2
