"""The embedded previz model: its shipped weights load and make takes that follow the blocking.

The test shots are two held-out scenes from the previz dataset generator (seeds the
training set never used), exported through our own exporter with the Blender venv.
"""

import json

import numpy as np
import pytest
from conftest import read_frames

from engine.backends import DEFAULT_BACKEND, create
from engine.bundle import read_bundle
from engine.previz import appearance, metrics
from engine.previz.model import WEIGHTS_DIR, PrevizSampler, native_size

SEEDS = ("--seed", "5", "--steps", "6")



@pytest.fixture(scope="module")
def previz_takes(engine_main_module, previz_shots, tmp_path_factory):
    """One take per shot with the default backend, and the first shot again with the same seed."""
    takes = []
    for index, bundle in enumerate(previz_shots + previz_shots[:1]):
        out = tmp_path_factory.mktemp(f"previz-takes-{index}")
        code, events = engine_main_module("generate", bundle, "--out", out, *SEEDS)
        assert code == 0, events
        takes.append(next(out.glob("take-001-previz-s5")))
    return takes


def test_shipped_weights_are_small_safetensors_and_load():
    files = [p for p in WEIGHTS_DIR.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 25 * 2 ** 20
    assert [p.name for p in files if p.suffix in (".safetensors", ".bin", ".ckpt", ".pt")] == [
        "diffusion_pytorch_model.safetensors"]
    sampler = PrevizSampler(WEIGHTS_DIR)
    assert sampler.info["training"]["steps"] > 0
    assert sampler.unet.config.in_channels == 11 and sampler.scheduler.config.prediction_type == "v_prediction"


def test_previz_is_the_default_and_needs_the_blocking_passes():
    backend = create(DEFAULT_BACKEND)
    assert backend.name == "previz"
    assert set(backend.required_controls) == {"shading", "depth", "normal", "objects"}
    assert native_size(1920, 1080) == (112, 64) and native_size(2048, 858) == (128, 56)
    assert backend.model_size(1280, 720) == (1280, 720) and backend.model_size(3840, 2160) == (1920, 1080)


def test_take_follows_its_own_blocking_better_than_another_shots(previz_takes, previz_shots):
    own, other = previz_takes[0], previz_takes[1]
    depth = np.stack([read_bundle(previz_shots[0]).depth(f) for f in read_bundle(previz_shots[0]).frames])
    own_frames = np.stack(list(read_frames(own).values()))
    other_frames = np.stack(list(read_frames(other).values()))
    assert own_frames.shape == (6, 64, 112, 3)
    own_f1, shuffled_f1 = metrics.edge_f1(own_frames, depth), metrics.edge_f1(other_frames, depth)
    assert own_f1 > 1.3 * shuffled_f1, (own_f1, shuffled_f1)
    record = json.loads((own / "take.json").read_text())
    assert record["backend"] == "previz" and record["parameters"]["controls"] == {
        "shading": 1.0, "depth": 1.0, "normal": 1.0, "objects": 1.0}
    assert record["models"]["previz"]["file_hashes"]["unet/diffusion_pytorch_model.safetensors"]


def test_each_object_keeps_one_colour_ratio_over_the_shot(previz_takes, previz_shots):
    bundle = read_bundle(previz_shots[0])
    frames = np.stack(list(read_frames(previz_takes[0]).values()))
    clay = np.stack([bundle.shading(f)[..., :3] for f in bundle.frames])
    ids = np.stack([bundle.object_index(f) for f in bundle.frames])
    lit = appearance.srgb_to_linear(clay).min(axis=-1) > 0.05
    ratio = appearance.srgb_to_linear(frames) / np.maximum(appearance.srgb_to_linear(clay), 1e-6)
    for object_id in np.unique(ids[lit]):
        inside = (ids == object_id) & lit
        if inside.sum() > 50:
            spread = np.percentile(ratio[inside], 90, axis=0) - np.percentile(ratio[inside], 10, axis=0)
            assert spread.max() < 0.35, (object_id, spread)


def test_same_seed_same_take_other_seed_other_look(previz_takes, previz_shots, engine_main, tmp_path):
    first, again = read_frames(previz_takes[0]), read_frames(previz_takes[2])
    assert all(np.array_equal(first[name], again[name]) for name in first)
    code, _ = engine_main("generate", previz_shots[0], "--out", tmp_path, "--seed", "6", "--steps", "6")
    assert code == 0
    other = read_frames(tmp_path / "take-001-previz-s6")
    assert any(np.abs(first[name].astype(int) - other[name]).mean() > 1 for name in first)


def test_a_bundle_without_the_blocking_passes_is_refused_before_loading(engine_main, bundle10, tmp_path):
    code, events = engine_main("generate", bundle10, "--out", tmp_path)
    assert code == 1
    message = events[-1]["message"]
    assert "previz needs" in message and "--passes" in message and "objects" in message
    assert not any(event["event"] == "load" for event in events)


def test_compose_keeps_the_clay_light_and_pools_one_colour_per_object():
    rng = np.random.default_rng(1)
    clay = rng.integers(20, 160, (2, 8, 10, 3)).astype(np.uint8)  # dark enough that x1.5 does not clip
    ids = np.zeros((2, 8, 10), np.int64)
    ids[:, :, 5:] = 3
    assert np.array_equal(appearance.compose(clay, ids, {}), clay)  # ratio 1 everywhere: the clay pass itself
    encoded = np.where(ids[..., None] == 3, appearance.encode_ratio(np.array([0.5, 1.0, 1.5])), 0.3)
    encoded = encoded + rng.normal(0, 0.02, encoded.shape)
    ratios = appearance.pool_by_object(encoded, ids)
    assert list(ratios) == [3] and np.allclose(ratios[3], [0.5, 1.0, 1.5], atol=0.05)
    beauty = appearance.compose(clay, ids, {3: np.array([0.5, 1.0, 1.5])})
    assert np.array_equal(beauty[ids == 0], clay[ids == 0])
    measured = appearance.object_ratios(beauty, clay, ids)
    assert np.allclose(measured[3], [0.5, 1.0, 1.5], atol=0.03) and np.allclose(measured[0], 1)


def test_metrics_on_known_cases():
    depth = np.full((2, 16, 20), 5.0)
    depth[:, :, 10:] = 2.0
    frames = np.zeros((2, 16, 20, 3), np.uint8)
    frames[:, :, 10:] = 200
    assert metrics.edge_f1(frames, depth) == 1.0
    assert metrics.edge_f1(np.zeros_like(frames), depth) == 0.0
    assert metrics.ssim(frames, frames) == pytest.approx(1.0)
    flows = np.zeros((2, 16, 20, 2), np.float32)
    assert metrics.warp_error(frames, flows) == 0.0
    shifted = np.stack([frames[0], np.roll(frames[0], 1, axis=1)])
    flows[0, ..., 0] = 1.0  # everything moved one pixel right
    assert metrics.warp_error(shifted, flows) < metrics.warp_error(shifted, np.zeros_like(flows))


def test_calibration_moves_hue_and_leaves_each_objects_brightness_to_the_spread():
    ratios = {1: np.array([0.4, 0.8, 1.2]), 2: np.array([1.0, 1.0, 1.0])}
    luma = {k: float(np.dot(v, appearance.LUMA)) for k, v in ratios.items()}
    vivid = appearance.calibrate(ratios, chroma_gain=1.5)
    assert all(np.dot(vivid[k], appearance.LUMA) == pytest.approx(luma[k]) for k in ratios)
    assert np.ptp(vivid[1]) == pytest.approx(1.5 * np.ptp(ratios[1]))
    even = appearance.calibrate(ratios, luminance_spread=0.0, luminance_gain=1.2)
    shot = np.mean(list(luma.values())) * 1.2
    assert all(np.dot(even[k], appearance.LUMA) == pytest.approx(shot) for k in ratios)


def test_the_prior_samples_a_half_size_canonical_shot_from_the_native_sizes_noise():
    """#14: the prior's canonical shot at 56x32 keeps every object, and its noise is the 112x64 noise
    summed over 2x2 blocks / 2: unit variance still, so the sampler starts where the model expects."""
    import torch

    from engine.previz.prior import CANONICAL_FILE, DEFAULT_SAMPLING, CanonicalShot, _downscaled_noise

    assert DEFAULT_SAMPLING.downscale == 2
    with np.load(WEIGHTS_DIR / CANONICAL_FILE) as data:
        for role in ("actor", "prop"):
            full, half = CanonicalShot(data, role), CanonicalShot(data, role, downscale=2)
            assert half.ids.shape == (32, 56) and half.condition.shape == (1, 8, 32, 56)
            assert set(np.unique(half.ids)) == set(np.unique(full.ids)) and half.target == full.target
    noise = _downscaled_noise(torch.randn((64, 3, 64, 112), generator=torch.Generator().manual_seed(0)), 2)
    assert noise.shape == (64, 3, 32, 56) and abs(float(noise.std()) - 1) < 0.01 and abs(float(noise.mean())) < 0.01


def test_a_look_is_sampled_on_one_thread_whatever_the_callers_threads():
    """#14: every look samples on one torch thread (oneDNN's sums change with the thread count), so
    looks made side by side in Variations' workers are the look a take makes alone, and the
    caller's thread count is given back."""
    import threading

    import torch

    from engine.looks.plan import ObjectLook
    from engine.previz.prior import ColourPrior

    prior = ColourPrior(PrevizSampler(WEIGHTS_DIR), WEIGHTS_DIR)
    looks = [ObjectLook(name, None, "prop", 11, None, "model") for name in ("Crate", "Table", "Pillar")]
    known = [("Ana_body", "actor", "#e50000")]
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        alone = prior.choose(looks, known, 3)
        assert torch.get_num_threads() == 2
        side_by_side = [None, None]

        def sample(index):
            side_by_side[index] = prior.choose(looks, known, 3)

        workers = [threading.Thread(target=sample, args=(index,)) for index in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        torch.set_num_threads(before)
    assert side_by_side == [alone, alone] and len(alone) == 3


def test_looks_side_by_side_leave_torchs_thread_count_as_it_was():
    """#14: one_thread in two workers, the second entering while the first has torch at one thread
    and leaving last, would leave 1 as the count new threads start with (a warm service's later
    takes on one core); thread_count_kept gives the caller's count back to it and to new threads."""
    import threading

    import torch

    from engine.previz.prior import one_thread, thread_count_kept

    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with one_thread():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second():
        first_in.wait(10)
        with one_thread():  # starts while torch is at 1 thread, so it gives back 1
            second_in.set()
            first_out.wait(10)

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with thread_count_kept():
            workers = [threading.Thread(target=first), threading.Thread(target=second)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        started_later = []
        later = threading.Thread(target=lambda: started_later.append(torch.get_num_threads()))
        later.start()
        later.join()
        assert torch.get_num_threads() == 2 and started_later == [2]
    finally:
        torch.set_num_threads(before)
