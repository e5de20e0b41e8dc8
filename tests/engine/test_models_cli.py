"""`python -m engine models list|fetch|verify` on a local model folder and on a Hugging Face cache
laid out in tmp as huggingface_hub writes it (models--org--name/blobs, snapshots/<rev>, refs/main),
with no network. The real download (`fetch --allow-network`) cannot be tested here."""

import hashlib
import json
import os

import pytest

from engine.cli import main
from engine.models_cli import HUB_MODELS

SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
SD15_FILES = ("model_index.json", "feature_extractor/preprocessor_config.json", "unet/config.json",
              "unet/diffusion_pytorch_model.safetensors", "vae/config.json", "vae/diffusion_pytorch_model.safetensors",
              "text_encoder/config.json", "text_encoder/model.safetensors", "tokenizer/vocab.json",
              "scheduler/scheduler_config.json")
REVISION = "0123456789abcdef0123456789abcdef01234567"


def fill_cache(cache, repo_id, files):
    """A cached snapshot as huggingface_hub keeps one: each file a link to a blob named by its sha256."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(REVISION)
    for relative in files:
        data = f"weights of {relative}".encode()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(exist_ok=True)
        blob.write_bytes(data)
        link = repo / "snapshots" / REVISION / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return repo / "snapshots" / REVISION


def events(output):
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_list_names_every_role_with_hub_id_size_licence_and_where_it_is(cache, capsys):
    snapshot = fill_cache(cache, SD15, SD15_FILES)
    assert main(["models", "list", "animatediff", "--json"]) == 0
    entries = {entry["role"]: entry for entry in json.loads(capsys.readouterr().out)["models"]}
    assert set(entries) == {"base", "motion_adapter", "controlnet_depth", "controlnet_pose", "ip_adapter"}
    base = entries["base"]
    assert (base["hub_id"], base["licence"], base["gated"], base["found_in"]) == (SD15, "creativeml-openrail-m",
                                                                                  False, "cache")
    assert base["folder"] == str(snapshot) and base["revision"] == REVISION
    assert base["size_bytes"] == HUB_MODELS[SD15].size_bytes() == pytest.approx(4.26e9, rel=0.01)
    assert entries["motion_adapter"]["folder"] is None
    assert main(["models", "list"]) == 0
    text = capsys.readouterr().out
    assert "wan-vace pipeline: Wan-AI/Wan2.1-VACE-1.3B-diffusers (31.85 GB, apache-2.0) — missing" in text
    assert f"animatediff base: {SD15} (4.26 GB, creativeml-openrail-m) — cache: {snapshot}" in text


def test_verify_hashes_cached_files_against_their_blob_names(cache, capsys):
    snapshot = fill_cache(cache, SD15, SD15_FILES)
    main(["models", "verify", "animatediff"])
    base = next(e for e in events(capsys.readouterr().out) if e["role"] == "base")
    assert base["ok"] and base["hashed"] == len(SD15_FILES)
    blob = (snapshot / "unet" / "diffusion_pytorch_model.safetensors").resolve()
    blob.write_bytes(b"damaged")
    assert main(["models", "verify", "animatediff"]) == 1
    base = next(e for e in events(capsys.readouterr().out) if e["role"] == "base")
    assert not base["ok"] and "unet/diffusion_pytorch_model.safetensors does not hash" in base["problems"][0]


def test_verify_a_local_model_folder_its_files_and_fetch_metadata(cache, tmp_path, capsys):
    folder = tmp_path / "models" / "wan-vace" / "pipeline"
    files = ("model_index.json", "scheduler/scheduler_config.json", "tokenizer/tokenizer.json",
             "transformer/config.json", "transformer/diffusion_pytorch_model.safetensors", "vae/config.json",
             "vae/diffusion_pytorch_model.safetensors", "text_encoder/config.json")
    for relative in files:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(relative.encode())
    # what huggingface_hub writes beside a file fetched into a folder: commit, etag (sha256 of an LFS file), time
    metadata = (folder / ".cache" / "huggingface" / "download" / "transformer"
                / "diffusion_pytorch_model.safetensors.metadata")
    metadata.parent.mkdir(parents=True)
    metadata.write_text(f"{REVISION}\n{hashlib.sha256(files[4].encode()).hexdigest()}\n1700000000.0\n")
    assert main(["models", "verify", "wan-vace", "--model-folder", str(tmp_path / "models")]) == 1
    [entry] = events(capsys.readouterr().out)
    assert entry["folder"] == str(folder) and entry["hashed"] == 1
    assert entry["problems"] == ["no file matches text_encoder/*.safetensors"]
    (folder / "text_encoder" / "model.safetensors").write_bytes(b"x")
    assert main(["models", "verify", "wan-vace", "--model-folder", str(tmp_path / "models")]) == 0
    capsys.readouterr()
    main(["models", "list", "wan-vace", "--model-folder", str(tmp_path / "models"), "--json"])
    assert json.loads(capsys.readouterr().out)["models"][0]["found_in"] == "model folder"


def test_verify_says_how_to_get_a_missing_model(cache, capsys):
    assert main(["models", "verify", "wan-vace"]) == 1
    [entry] = events(capsys.readouterr().out)
    assert entry["problems"] == ["not found: run `python -m engine models fetch wan-vace --allow-network`"]


def test_fetch_is_refused_without_allow_network(cache, capsys):
    assert main(["models", "fetch", "wan-vace"]) == 2
    captured = capsys.readouterr()
    assert events(captured.out) == [{"event": "error", "message": "models fetch downloads from the Hugging Face hub: "
                                     "add --allow-network to allow it (generate never downloads)"}]
    assert not cache.exists()


def test_an_unknown_backend_is_named(cache, capsys):
    assert main(["models", "list", "sdxl"]) == 2
    assert "unknown backend 'sdxl': choose from animatediff" in capsys.readouterr().err


def test_the_listing_and_progress_records_round_trip_and_keep_unknown_keys(cache):
    from engine.bundle.models_record import ModelEntry, ModelProgress

    entry = ModelEntry(backend="wan-vace", role="pipeline", hub_id="Wan-AI/Wan2.1-VACE-1.3B-diffusers")
    document = {**entry.to_json(), "newer": 1}
    assert document["folder"] is None and ModelEntry.from_json(document).to_json() == document
    assert ModelProgress(event="download", done=1, total=2).to_json() == {"event": "download", "done": 1, "total": 2}
