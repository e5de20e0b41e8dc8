"""The add-on's generate request (bpy-free): what to generate, as engine arguments, and the
helpers that turn the Generate panel's settings into one.
"""

from dataclasses import dataclass, field
from pathlib import Path

TAKE_REFERENCE = "reference.png"  # where the engine keeps the shot reference a take used


@dataclass
class GenerateRequest:
    """What to generate; empty or zero values leave the engine's (or backend's) default."""

    backend: str = ""
    prompt: str = ""
    negative: str = ""
    seed: int = 0
    takes: int = 1
    steps: int = 0
    size: tuple | None = None          # generation size (W, H)
    weights: dict | None = None        # control kind -> weight; None: the backend's defaults
    device: str = "auto"
    models: dict = field(default_factory=dict)  # role -> hub id or local folder
    reference: str = ""                # the shot's reference image (PNG/JPEG file); "": none

    @classmethod
    def from_take(cls, record, seed, device="auto", take_dir=None):
        """The request that made a take (its take.json), with another seed: one take like it. The
        shot reference it used is the copy the engine kept in the take folder (reference.png)."""
        parameters = record.get("parameters", {})
        requested = parameters.get("requested_size")
        kept = Path(take_dir) / TAKE_REFERENCE if take_dir is not None else None
        return cls(backend=record["backend"], prompt=record.get("prompt", ""),
                   negative=record.get("negative_prompt", ""), seed=seed, takes=1, steps=parameters.get("steps") or 0,
                   size=tuple(requested) if requested else None, weights=parameters.get("controls"), device=device,
                   models={role: model["source"] for role, model in record.get("models", {}).items()},
                   reference=str(kept) if kept is not None and kept.is_file() else "")

    def arguments(self, bundle, out):
        """`generate` arguments for this request."""
        args = ["generate", str(bundle), "--out", str(out), "--seed", str(self.seed), "--takes", str(self.takes),
                "--prompt", self.prompt, "--negative", self.negative, "--device", self.device]
        if self.backend:
            args += ["--backend", self.backend]
        if self.steps:
            args += ["--steps", str(self.steps)]
        if self.size:
            args += ["--size", f"{self.size[0]}x{self.size[1]}"]
        if self.weights is not None:
            args += ["--control", ",".join(f"{kind}={weight:g}" for kind, weight in self.weights.items())]
        for role, spec in sorted(self.models.items()):
            args += ["--model", f"{role}={spec}"]
        if self.reference:
            args += ["--reference", str(self.reference)]
        return args


def generation_size(long_side, width, height):
    """(W, H) with the shot's aspect and `long_side` as its longer side; None for long_side 0
    (the backend's default size)."""
    if not long_side:
        return None
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def local_models(model_folder, backend):
    """{role: folder} for each MODEL_FOLDER/<backend>/<role>/ folder: local copies that replace
    the role's hub model. Empty when there is no such folder."""
    if not model_folder or not backend:
        return {}
    folder = Path(model_folder) / backend
    if not folder.is_dir():
        return {}
    return {child.name: str(child) for child in sorted(folder.iterdir())
            if child.is_dir() and not child.name.startswith(".")}
