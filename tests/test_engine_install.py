"""Set Up Engine's planning and running (addon/engine_install.py, bpy-free), and the engine's
package metadata: the plan per platform and GPU, paths with spaces and non-ASCII, the runner's
cleanup on failure and cancel, pins that match requirements-engine.txt."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from test_engine_process import REPO, load_bpy_free

inst = load_bpy_free("engine_install")
ep = load_bpy_free("engine_process")

LINUX_GPU = inst.Machine("Linux", "x86_64", nvidia=True)
WINDOWS = inst.Machine("Windows", "amd64")
MAC_ARM = inst.Machine("Darwin", "arm64")


def requirement_pins():
    lines = (line.split("#")[0].strip() for line in (REPO / "requirements-engine.txt").read_text().splitlines())
    return dict(line.split("==", 1) for line in lines if "==" in line)


def test_the_packages_pins_are_requirements_engine_txt():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = requirement_pins()
    declared = project["dependencies"] + project["optional-dependencies"]["serve"] + list(inst.TORCH_PINS)
    for requirement in declared:
        name, version = requirement.split("==")
        assert pins.get(name) == version, requirement
    assert project["scripts"] == {"blockcast-engine": "engine.cli:main"}


@pytest.mark.parametrize("machine, build", [
    (LINUX_GPU, "cuda"), (inst.Machine("Windows", "amd64", nvidia=True), "cuda"), (WINDOWS, "cpu"),
    (MAC_ARM, "mps"), (inst.Machine("Darwin", "x86_64"), "cpu"), (inst.Machine("Linux", "x86_64", rocm=True), "rocm"),
    (inst.Machine("Linux", "x86_64"), "cpu"),
])
def test_the_torch_build_follows_the_machine(machine, build):
    assert machine.torch_build() == build


def test_a_windows_plan_uses_scripts_and_quotes_a_users_folder_with_spaces_and_accents(tmp_path):
    parent = Path("C:/Users/Zoë Müller/AppData/Roaming/Blender/extensions/.user/user_default/blockcast/engines")
    plan = inst.plan_install(parent, WINDOWS, ("python", ["C:/Windows/py.exe", "-3.11"]), Path("C:/x/e.whl"),
                             stamp="1")
    assert plan.python == parent / "engine-1" / "Scripts" / "python.exe"
    assert plan.steps[-1].argv == [str(parent / "engine-1" / "Scripts" / "blockcast-engine.exe"), "backends"]
    torch_step = plan.steps[1].argv
    assert torch_step[-2:] == ["--index-url", inst.PYTORCH_INDEX + "cpu"] and "torch==2.14.1" in torch_step
    lines = plan.commands(WINDOWS)
    assert lines[0] == f'C:/Windows/py.exe -3.11 -m venv "{parent / "engine-1"}"'


def test_a_linux_gpu_plan_takes_the_cuda_index_and_a_wheel_folder_needs_no_index(tmp_path):
    parent = tmp_path / "user folder é"
    online = inst.plan_install(parent, LINUX_GPU, ("python", ["/usr/bin/python3.11"]), Path("/w/e.whl"), stamp="a")
    assert online.steps[1].argv[-2:] == ["--index-url", inst.PYTORCH_INDEX + "cu130"]
    assert online.steps[2].argv[-1] == "/w/e.whl[serve]"
    offline = inst.plan_install(parent, LINUX_GPU, ("python", ["python3.11"]), None, wheel_folder="/wheels", stamp="b")
    for step in offline.steps[1:3]:
        assert step.argv[step.argv.index("--no-index"):step.argv.index("--no-index") + 3] == \
            ["--no-index", "--find-links", "/wheels"]
    assert offline.steps[2].argv[-1] == "blockcast-engine[serve]"
    assert offline.python == parent / "engine-b" / "bin" / "python"
    assert inst.plan_install(parent, MAC_ARM, ("python", ["python3"]), None, stamp="c").steps[1].argv[-2:] == \
        list(inst.TORCH_PINS)  # Apple silicon: the default index's wheels carry MPS


def test_uv_makes_the_environment_and_installs_into_it():
    plan = inst.plan_install("/e", LINUX_GPU, ("uv", ["/bin/uv"]), None, wheel_folder="/w", stamp="u")
    assert plan.steps[0].argv == ["/bin/uv", "venv", "--python", "3.11", "--offline", "/e/engine-u"]
    assert plan.steps[2].argv[:5] == ["/bin/uv", "pip", "install", "--python", "/e/engine-u/bin/python"]


def test_finding_a_python_prefers_uv_then_the_launcher_then_path():
    found = {"uv": None, "py": "C:/py.exe", "python3.11": None, "python3.12": "/p312", "python3.10": None}
    versions = {("C:/py.exe", "-3.11"): None, ("C:/py.exe", "-3.12"): "3.12", ("/p312",): "3.12"}
    which = found.get
    version_of = lambda command: versions.get(tuple(command))  # noqa: E731
    assert inst.find_python(WINDOWS, which, version_of) == ("python", ["C:/py.exe", "-3.12"])
    assert inst.find_python(LINUX_GPU, which, version_of) == ("python", ["/p312"])
    assert inst.find_python(LINUX_GPU, {"uv": "/uv"}.get, version_of) == ("uv", ["/uv"])
    with pytest.raises(inst.SetupError, match="Python 3.10, 3.11 or 3.12"):
        inst.find_python(LINUX_GPU, {"python3.11": "/old"}.get, lambda _c: "3.9")


def _run_to_end(run, timeout=60):
    import time

    deadline = time.monotonic() + timeout
    while run.poll() == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return run.state


def _plan_of(tmp_path, *argvs):
    venv = tmp_path / "engines" / "engine-1"
    venv.parent.mkdir(exist_ok=True)
    return inst.InstallPlan(venv, venv / "bin" / "python", "cpu", [inst.Step(f"step {i}", argv)
                                                                 for i, argv in enumerate(argvs)])


def test_a_failing_step_removes_the_half_made_environment_and_says_why(tmp_path):
    make = [sys.executable, "-c", f"import os; os.makedirs({str(tmp_path / 'engines' / 'engine-1' / 'bin')!r})"]
    fail = [sys.executable, "-c", "import sys; print('no matching distribution for torch'); sys.exit(3)"]
    run = inst.InstallRun(_plan_of(tmp_path, make, fail, ["never-run"]))
    assert _run_to_end(run) == "failed"
    assert not (tmp_path / "engines" / "engine-1").exists()
    assert run.error.startswith("step 1 failed (exit code 3): no matching distribution for torch")
    assert "never-run" not in run.log_path.read_text()


def test_cancel_stops_the_step_and_removes_the_environment(tmp_path):
    make = [sys.executable, "-c", f"import os; os.makedirs({str(tmp_path / 'engines' / 'engine-1')!r})"]
    run = inst.InstallRun(_plan_of(tmp_path, make, [sys.executable, "-c", "import time; time.sleep(60)"]))
    while run.index < 1:
        run.poll()
    run.cancel()
    assert run.state == "cancelled" and not (tmp_path / "engines" / "engine-1").exists()


def test_a_finished_run_is_marked_and_older_set_ups_are_found_but_not_foreign_folders(tmp_path):
    venv = tmp_path / "engines" / "engine-1"
    run = inst.InstallRun(_plan_of(tmp_path, [sys.executable, "-c", f"import os; os.makedirs({str(venv)!r})"]))
    assert _run_to_end(run) == "finished" and run.progress() == (1, 1)
    older, foreign = tmp_path / "engines" / "engine-0", tmp_path / "engines" / "engine-mine"
    older.mkdir()
    (older / inst.MARKER).write_text("")
    foreign.mkdir()
    assert inst.old_environments(tmp_path / "engines", venv) == [older]


def test_an_installed_engines_script_is_found_beside_its_python(tmp_path):
    (tmp_path / "Scripts").mkdir()
    (tmp_path / "Scripts" / "python.exe").write_text("")
    assert ep.engine_script(tmp_path / "Scripts" / "python.exe") is None
    (tmp_path / "Scripts" / "blockcast-engine.exe").write_text("")
    assert ep.engine_script(tmp_path / "Scripts" / "python.exe") == tmp_path / "Scripts" / "blockcast-engine.exe"
    assert ep.EngineSetup(tmp_path / "Scripts" / "python.exe").working_dir == tmp_path / "Scripts"
