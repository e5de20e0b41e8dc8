"""One contract every backend meets, inherited by a test class per backend (as diffusers'
PipelineTesterMixin serves every pipeline's test): frame and size rules, required passes,
progress and cancel hooks, determinism per seed, and the take record's fields.

Every registered backend, plug-ins included, must have a class here: a new backend that
does not opt in fails `test_every_registered_backend_runs_the_contract`.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import export_demo_bundle, read_frames, REPO_ROOT

from engine import backends
from engine.bundle import read_bundle
from engine.bundle.request import IGNORABLE_INPUTS, GenerateRequest
from engine.generate import Generation, RequestError
from engine.progress import Cancelled

PLUGIN_SOURCE = Path(__file__).parent / "plugin_backend"
TAKE_FIELDS = ("status", "created", "backend", "models", "prompt", "composed_prompt", "negative_prompt", "seed",
               "parameters", "bundle", "frames", "preview", "engine", "device", "timings")


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory):
    """The test plug-in, installed by pip (as a user would) into a folder put on sys.path; built
    from a copy, so the build leaves nothing in the repository."""
    source = tmp_path_factory.mktemp("plugin-source") / "plugin_backend"
    shutil.copytree(PLUGIN_SOURCE, source)
    target = tmp_path_factory.mktemp("plugin-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "--target", str(target), str(source)],
                   check=True, capture_output=True, timeout=300)
    sys.path.append(str(target))
    return target


@pytest.fixture(scope="session")
def bundle_all_passes(demo_blend, tmp_path_factory):
    """Frames 3-8 (6 frames: 4k+1 backends must pad and drop) with every pass a backend may need."""
    return export_demo_bundle(tmp_path_factory, demo_blend,
                              "shot_all", "depth,pose,camera,shading,normal,objects", frames="3-8")


class Recorder:
    """Collects progress events in this process; cancels once `cancel_after_steps` steps are seen."""

    def __init__(self, cancel_after_steps=None):
        self.events, self.cancel_after_steps = [], cancel_after_steps

    def emit(self, event):
        self.events.append(event.to_json())

    def check(self):
        steps = sum(1 for event in self.events if event["event"] == "step")
        if self.cancel_after_steps is not None and steps >= self.cancel_after_steps:
            raise Cancelled("cancelled by the test")

    def kinds(self):
        return [event["event"] for event in self.events]


class BackendContract:
    """Subclass with `backend_name` and, where the backend needs models, `model_roles`."""

    backend_name = ""
    model_roles = ()  # roles of the tiny_models fixture to pass as --model ROLE=PATH
    size = None       # generation size; None: the backend's default for the shot

    @pytest.fixture
    def models(self, request):
        if not self.model_roles:
            return {}
        tiny = request.getfixturevalue("tiny_models")
        return {role: str(tiny[role]) for role in self.model_roles}

    def generate(self, bundle, out, models, seed=0, recorder=None, **extra):
        request = GenerateRequest(backend=self.backend_name, seed=seed, steps=2, models=models, size=self.size, **extra)
        recorder = recorder or Recorder()
        return Generation(request, bundle, out, recorder, recorder).run(), recorder

    def test_declares_what_it_accepts(self):
        backend = backends.create(self.backend_name)
        assert backend.name == self.backend_name and backend.description and backend.controls
        assert set(backend.default_weights) <= set(backend.controls)
        assert set(backend.required_controls) <= set(backend.controls)
        assert all(role.default_id for role in backend.roles)
        assert backend.model_frames(6) >= 6 and backend.size_multiple >= 1
        assert set(backend.ignores) <= set(IGNORABLE_INPUTS)  # what the panel can show beside a field

    def test_take_has_the_shots_frames_at_the_shots_size(self, bundle_all_passes, models, tmp_path):
        (take,), recorder = self.generate(bundle_all_passes, tmp_path, models)
        bundle, record = read_bundle(bundle_all_passes), json.loads((take / "take.json").read_text())
        frames = read_frames(take)
        assert sorted(frames) == [f"{frame:04d}.png" for frame in bundle.frames]
        assert {image.shape for image in frames.values()} == {(bundle.height, bundle.width, 3)}
        width, height = record["parameters"]["generation_size"]
        multiple = backends.create(self.backend_name).size_multiple
        assert width % multiple == 0 and height % multiple == 0
        assert record["parameters"]["model_frames"] >= len(bundle.frames)
        assert [kind for kind in recorder.kinds() if kind in ("load", "start", "done")] == ["load", "start", "done"]
        assert recorder.kinds().count("frame") == len(bundle.frames)

    def test_take_record_has_every_field(self, bundle_all_passes, models, tmp_path):
        (take,), _ = self.generate(bundle_all_passes, tmp_path, models, seed=3)
        record = json.loads((take / "take.json").read_text())
        assert [field for field in TAKE_FIELDS if field not in record] == []
        assert record["status"] == "complete" and record["backend"] == self.backend_name and record["seed"] == 3
        assert set(record["parameters"]["controls"]) <= set(backends.create(self.backend_name).controls)
        assert len(record["bundle"]["hash"]) == 64

    def test_same_seed_same_frames_another_seed_differs(self, bundle_all_passes, models, tmp_path):
        runs = [self.generate(bundle_all_passes, tmp_path / name, models, seed=seed)[0][0]
                for name, seed in (("a", 5), ("b", 5), ("c", 6))]
        first, again, other = (np.stack(list(read_frames(take).values())) for take in runs)
        assert np.array_equal(first, again)
        assert not np.array_equal(first, other)

    def test_steps_report_progress_and_cancel_stops_at_a_step(self, bundle_all_passes, models, tmp_path):
        recorder = Recorder(cancel_after_steps=1)
        with pytest.raises(Cancelled):
            self.generate(bundle_all_passes, tmp_path, models, recorder=recorder, takes=2)
        steps = [event for event in recorder.events if event["event"] == "step"]
        assert len(steps) == 1 and steps[0]["total"] >= 1
        assert list(tmp_path.iterdir()) == []  # the unfinished take is removed

    def test_bundle_without_a_required_pass_is_refused_before_loading(self, bundle10, models, tmp_path):
        backend = backends.create(self.backend_name)
        if set(backend.required_controls) <= {"depth", "pose", "camera"}:
            pytest.skip(f"{self.backend_name} needs no pass beyond depth, pose and camera")
        recorder = Recorder()
        with pytest.raises(RequestError, match="re-export"):
            self.generate(bundle10, tmp_path, models, recorder=recorder)
        assert recorder.events == []


class TestPrevizContract(BackendContract):
    backend_name = "previz"


class TestAnimateDiffContract(BackendContract):
    backend_name = "animatediff"
    model_roles = ("base", "motion_adapter", "controlnet_depth", "controlnet_pose")
    size = (64, 36)


class TestWanVaceContract(BackendContract):
    backend_name = "wan-vace"
    model_roles = ("pipeline",)
    size = (64, 36)


class TestSanaWMContract(BackendContract):
    backend_name = "sana-wm"
    size = (128, 72)  # snapped to 128x64 (multiples of 32); the real model's is 1280x704

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls, tmp_path_factory):
        from engine.random_models_sana import save_sana_wm_models

        return {"pipeline": str(save_sana_wm_models(tmp_path_factory.mktemp("sana-wm"))["pipeline"])}


class TestWan22VaceContract(BackendContract):
    backend_name = "wan22-vace"
    size = (32, 18)  # snapped to 32x16: the smallest 16-multiple frame, for the time of the main CI job

    @pytest.fixture
    def models(self, wan22_models):
        return {"pipeline": str(wan22_models)}


class TestLtx2IcContract(BackendContract):
    backend_name = "ltx2-ic"
    size = (64, 36)  # snapped to 64x64 (multiples of 64: the control goes in at half size)

    @pytest.fixture
    def models(self, ltx2_models):
        return {role: str(path) for role, path in ltx2_models.items()}


class TestPluginContract(BackendContract):
    backend_name = "flat-grey"

    @pytest.fixture(autouse=True)
    def installed(self, plugin_path):
        return plugin_path


CONTRACT_CLASSES = [TestPrevizContract, TestAnimateDiffContract, TestWanVaceContract, TestPluginContract,
                    TestSanaWMContract, TestWan22VaceContract, TestLtx2IcContract]


def test_every_registered_backend_runs_the_contract(plugin_path):
    assert backends.names() == sorted(cls.backend_name for cls in CONTRACT_CLASSES)


def test_an_installed_plugin_is_listed_by_backends_json(plugin_path, engine_env):
    env = {**engine_env, "PYTHONPATH": f"{REPO_ROOT}:{plugin_path}"}
    result = subprocess.run([sys.executable, "-m", "engine", "backends", "--json"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    listed = {entry["name"]: entry for entry in json.loads(result.stdout)["backends"]}
    assert listed["flat-grey"]["description"].startswith("test plug-in") and not listed["flat-grey"]["default"]
    assert {"previz", "animatediff", "wan-vace"} <= set(listed)
