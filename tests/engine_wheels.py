"""A local wheel folder holding the engine's pinned requirements, for installing the engine
with no index (pip --no-index --find-links), as an offline user or Set Up Engine's local wheel
folder option would. Filled once from the package index into a cache outside the checkout
(BLOCKCAST_WHEEL_CACHE, default ~/.cache/blockcast-wheels) and refilled only when
requirements-engine.txt changes; the model hub is never needed.
"""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "requirements-engine.txt"
ENGINE_PYTHON = os.environ.get("BLOCKCAST_ENGINE_BASE_PYTHON", "python3.11")  # what fresh engine venvs are made with


def wheel_cache():
    """The filled cache folder; runs `pip wheel -r requirements-engine.txt` the first time."""
    folder = Path(os.environ.get("BLOCKCAST_WHEEL_CACHE", Path.home() / ".cache" / "blockcast-wheels"))
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    stamp = folder / f".filled-{digest}"
    if not stamp.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([shutil.which(ENGINE_PYTHON) or ENGINE_PYTHON, "-m", "pip", "wheel", "--quiet",
                        "--disable-pip-version-check", "-r", str(REQUIREMENTS), "--wheel-dir", str(folder)],
                       check=True, timeout=3600)
        stamp.write_text("filled by tests/engine_wheels.py from requirements-engine.txt\n")
    return folder


def engine_wheel(out_dir):
    """Build the engine wheel (scripts/build_extension.py's engine_wheel) into out_dir; its path."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from build_extension import engine_wheel as build
    finally:
        sys.path.remove(str(REPO / "scripts"))
    return build(Path(out_dir))


if __name__ == "__main__":
    print(wheel_cache())
