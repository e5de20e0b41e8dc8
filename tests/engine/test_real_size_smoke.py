"""One real-size denoising step per diffusion backend on the CPU (real_size_smoke.py).

Slow and memory-hungry (about 10 GB and minutes on 2 cores per backend), so besides the
`slow` marker it runs only when asked:

    BLOCKCAST_REAL_SIZE_SMOKE=1 .venv-engine/bin/python -m pytest tests/engine/test_real_size_smoke.py -s

Each backend runs in its own process, so its peak RSS is its own; the figures are printed
(docs/benchmarks.md ▸ Real-size CPU smoke records them).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SMOKE = Path(__file__).resolve().parent / "real_size_smoke.py"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    os.environ.get("BLOCKCAST_REAL_SIZE_SMOKE") != "1",
    reason="real-size CPU smoke: set BLOCKCAST_REAL_SIZE_SMOKE=1 (about 10 GB of RAM and minutes per backend)")]


@pytest.mark.parametrize("backend", ["animatediff", "wan-vace"])
def test_one_real_size_step_on_the_cpu(backend):
    result = subprocess.run([sys.executable, str(SMOKE), backend], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(json.dumps(figures))
    assert figures["finite"] and figures["frames_out"][0] == figures["frames"]
