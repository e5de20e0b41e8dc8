"""Setting up the engine's own environment from Blender (bpy-free): find a Python, plan the
commands, run them one at a time, switch only once the new engine answers.

Preferences ▸ Set Up Engine makes a NEW virtual environment under the extension's user folder,
installs the right torch build for this machine, then the engine wheel the extension zip carries
(engine_wheel/), and runs `blockcast-engine backends` in it. Only then does the Engine Python
preference move to it: a failed or cancelled install removes its own half-made folder and the
previous engine stays. With a local wheel folder nothing is fetched (pip --no-index
--find-links). With online access off the same plan is shown as commands to run by hand.
"""

import os
import platform
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

TORCH_PINS = ("torch==2.14.1", "torchvision==0.29.1")  # requirements-engine.txt's (a test checks)
# The indexes PyTorch's own install pages give per release (pytorch.org/get-started/locally and
# /get-started/previous-versions; their data: pytorch/pytorch.github.io published_versions.json).
# cu130: CUDA 13.0, listed since torch 2.9 and the build PyPI's Linux torch 2.14.1 is; cpu: the CPU
# index. rocm7.1 is not confirmed there for 2.14.1: check those pages whenever TORCH_PINS move.
PYTORCH_INDEX = "https://download.pytorch.org/whl/"
TORCH_INDEX_TAGS = {"cuda": "cu130", "rocm": "rocm7.1", "cpu": "cpu"}  # mps: the default index's wheels
PYTHON_VERSIONS = ("3.11", "3.12", "3.10")  # the engine's supported Pythons, preferred first
SHIPPED_WHEELS = Path(__file__).resolve().parents[1] / "engine_wheel"  # inside the extension zip
MARKER = "blockcast-engine-setup.txt"  # in every environment Set Up Engine made (and may remove)
STEP_TIMEOUT_S = 3600


class SetupError(Exception):
    """Set Up Engine cannot start as things are; the message says what to do."""


@dataclass
class Machine:
    """What decides the plan: the operating system, the processor and which GPU drivers are here."""

    system: str  # platform.system(): "Windows", "Darwin", "Linux"
    arch: str = "x86_64"
    nvidia: bool = False  # nvidia-smi on PATH: an NVIDIA driver
    rocm: bool = False  # rocminfo on PATH or /opt/rocm: AMD's ROCm

    @classmethod
    def current(cls):
        return cls(platform.system(), platform.machine().lower(), shutil.which("nvidia-smi") is not None,
                   shutil.which("rocminfo") is not None or Path("/opt/rocm").is_dir())

    @property
    def windows(self):
        return self.system == "Windows"

    def torch_build(self):
        """cuda, rocm, mps or cpu: the torch build this machine can use."""
        if self.system == "Darwin":
            return "mps" if self.arch in ("arm64", "aarch64") else "cpu"
        if self.nvidia:
            return "cuda"
        return "rocm" if self.rocm and self.system == "Linux" else "cpu"


def venv_paths(venv, machine):
    """(python, blockcast-engine script) inside a virtual environment, for that machine's layout."""
    if machine.windows:
        return Path(venv) / "Scripts" / "python.exe", Path(venv) / "Scripts" / "blockcast-engine.exe"
    return Path(venv) / "bin" / "python", Path(venv) / "bin" / "blockcast-engine"


def python_version(command):
    """The (major, minor) of a Python command, or None when it does not run."""
    try:
        result = subprocess.run([*command, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def find_python(machine, which=shutil.which, version_of=python_version):
    """How to make the environment: ("uv", [uv]) when uv is here (it can provide Python itself),
    else ("python", [command]) for the first Python 3.10-3.12 found; SetupError if none."""
    uv = which("uv")
    if uv:
        return "uv", [uv]
    candidates = []
    if machine.windows and which("py"):
        candidates += [[which("py"), f"-{version}"] for version in PYTHON_VERSIONS]
    candidates += [[which(f"python{version}")] for version in PYTHON_VERSIONS if which(f"python{version}")]
    for command in candidates:
        if version_of(command) in PYTHON_VERSIONS:
            return "python", command
    raise SetupError("Set Up Engine needs Python 3.10, 3.11 or 3.12 (or uv): install one from python.org "
                     "(or uv from astral.sh), then press Set Up Engine again")


def shipped_wheel(folder=SHIPPED_WHEELS):
    """The engine wheel the extension carries, or None (a checkout: no wheel built)."""
    wheels = sorted(Path(folder).glob("blockcast_engine-*.whl")) if Path(folder).is_dir() else []
    return wheels[-1] if wheels else None


@dataclass
class Step:
    label: str
    argv: list


@dataclass
class InstallPlan:
    """The commands that make one engine environment, in order."""

    venv: Path
    python: Path
    build: str  # the torch build: cuda, rocm, mps, cpu
    steps: list = field(default_factory=list)

    def commands(self, machine):
        """The steps as lines to paste into this platform's terminal."""
        quote = subprocess.list2cmdline if machine.windows else shlex.join
        return [quote([str(arg) for arg in step.argv]) for step in self.steps]


def plan_install(parent, machine, maker, wheel=None, wheel_folder=None, stamp=None):
    """The plan for a new environment `engine-<stamp>` under `parent`. maker is find_python's
    answer; wheel the engine wheel (else `blockcast-engine` from the index or wheel folder)."""
    kind, command = maker
    venv = Path(parent) / f"engine-{stamp or time.strftime('%Y%m%d-%H%M%S')}"
    python, script = venv_paths(venv, machine)
    build = machine.torch_build()
    if wheel_folder:
        source = ["--no-index", "--find-links", str(wheel_folder)]
    else:
        source = []
    torch_source = source or ([] if build == "mps" else ["--index-url", PYTORCH_INDEX + TORCH_INDEX_TAGS[build]])
    if kind == "uv":
        create = [*command, "venv", "--python", PYTHON_VERSIONS[0], *(["--offline"] if wheel_folder else []), str(venv)]
        install = [*command, "pip", "install", "--python", str(python)]
    else:
        create = [*command, "-m", "venv", str(venv)]
        install = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    engine = f"{wheel}[serve]" if wheel else "blockcast-engine[serve]"
    steps = [Step("Creating the engine's environment", create),
             Step(f"Installing torch ({build})", [*install, *TORCH_PINS, *torch_source]),
             Step("Installing the engine", [*install, *source, engine]),
             Step("Checking the engine", [str(script), "backends"])]
    return InstallPlan(venv, python, build, steps)


class InstallRun:
    """Runs a plan's steps as child processes; poll() from a timer, never blocks. Output goes to a
    log beside the environment; a failed or cancelled run removes the environment it made."""

    def __init__(self, plan, env=None):
        self.plan, self.index, self.state, self.error = plan, -1, "running", ""
        self.log_path = Path(plan.venv).parent / f"{Path(plan.venv).name}.log"
        self._env = {k: v for k, v in (os.environ if env is None else env).items()
                     if k not in ("PYTHONHOME", "PYTHONPATH")}
        self._process, self._log = None, None
        if Path(plan.venv).exists():
            raise SetupError(f"{plan.venv} exists already: press Set Up Engine again")
        self._next()

    @property
    def label(self):
        return self.plan.steps[self.index].label if 0 <= self.index < len(self.plan.steps) else ""

    def progress(self):
        """(steps done, steps in all)."""
        return min(max(self.index, 0), len(self.plan.steps)), len(self.plan.steps)

    def _next(self):
        self.index += 1
        if self.index == len(self.plan.steps):
            Path(self.plan.venv, MARKER).write_text("made by Blockcast's Set Up Engine; it may remove this folder\n")
            self.state = "finished"
            return
        step = self.plan.steps[self.index]
        self._log = open(self.log_path, "a", encoding="utf-8")
        self._log.write(f"$ {' '.join(map(str, step.argv))}\n")
        self._log.flush()
        try:
            self._process = subprocess.Popen([str(arg) for arg in step.argv], stdout=self._log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self._env,
                                             cwd=Path(self.plan.venv).parent)
        except OSError as exc:
            self._fail(f"{step.label}: could not run {step.argv[0]}: {exc}")
        self._started = time.monotonic()

    def poll(self):
        """Advance when the current step is done; returns the state (running|finished|failed|cancelled)."""
        if self.state != "running":
            return self.state
        code = self._process.poll()
        if code is None:
            if time.monotonic() - self._started > STEP_TIMEOUT_S:
                self._process.kill()
                self._fail(f"{self.label}: took over {STEP_TIMEOUT_S // 60} minutes")
            return self.state
        self._log.close()
        if code != 0:
            self._fail(f"{self.label} failed (exit code {code}): {self.last_line()} — the whole log: {self.log_path}")
        else:
            self._next()
        return self.state

    def last_line(self):
        try:
            lines = [line for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
                     if line.strip()]
        except OSError:
            return ""
        return lines[-1].strip()[:200] if lines else ""

    def cancel(self):
        if self.state != "running":
            return
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._fail("cancelled: the previous engine is kept", state="cancelled")

    def _fail(self, message, state="failed"):
        if self._log is not None and not self._log.closed:
            self._log.close()
        self.state, self.error = state, message
        shutil.rmtree(self.plan.venv, ignore_errors=True)  # ours: the folder was new when we began


def old_environments(parent, keep):
    """Environments an earlier Set Up Engine made under parent (its marker inside), except keep."""
    return [folder for folder in sorted(Path(parent).glob("engine-*"))
            if folder.is_dir() and (folder / MARKER).is_file() and folder.resolve() != Path(keep).resolve()]
