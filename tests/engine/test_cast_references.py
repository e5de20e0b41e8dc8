"""The cast's reference images reach the diffusion models (issue #13), on the real tiny
pipelines: wan-vace through `reference_images`, animatediff through a masked IP-Adapter
loaded from a local h94/IP-Adapter-layout folder by `load_ip_adapter`.

Requests are built directly (synthetic depth and object-id frames) so the test is about the
backend boundary; the pipeline's own __call__ is recorded by a subclass, never replaced.
"""

import numpy as np
import pytest
from PIL import Image

from engine.backends import create
from engine.backends.base import Hooks, Request
from engine.backends.device import pick_device
from engine.backends.models import resolve_model
from engine.backends.references import MAX_REFERENCE_SIDE, as_rgb, fit_on_canvas, pad_square
from engine.bundle.cast import Cast, CastMember

OBJECTS = ["Anna_body", "Ben_body", "Lamp"]          # objects pass ids 1, 2, 3
CAST = Cast(members=(
    CastMember("Anna", "actor", ("Anna_body",), "a woman in a long red coat", ("cast/anna.png",)),
    CastMember("Ben", "actor", ("Ben_body",), "a man in blue", ("cast/ben-1.png", "cast/ben-2.png")),
    CastMember("Lamp", "prop", ("Lamp",)),
    CastMember("Ghost", "actor", ("Ghost_body",), "", ("cast/ghost.png",)),   # not in this shot
))


def solid(colour, size):
    return Image.new("RGB", size, colour)


def take_frame(width=128, height=72):
    """Stands in for a frame of an earlier accepted take: an RGB picture of the shot's size."""
    return Image.fromarray(np.random.default_rng(5).integers(0, 256, (height, width, 3), dtype=np.uint8))


REFERENCES = {"Anna": [solid((200, 30, 30), (300, 120))],
              "Ben": [solid((30, 30, 200), (50, 200)), take_frame().crop((40, 0, 90, 72))],
              "Ghost": [solid((128, 128, 128), (64, 64))]}


def id_frames(frames, width, height):
    """Anna (id 1) walks right on the left, Ben (id 2) stands right, the lamp (id 3) at the top."""
    images = []
    for index in range(frames):
        ids = np.zeros((height, width), np.uint16)
        ids[height // 4:, 2 + index:14 + index] = 1
        ids[height // 3:, width - 20:width - 6] = 2
        ids[:6, width // 2 - 4:width // 2 + 4] = 3
        images.append(Image.fromarray(ids))
    return images


def depth_frames(frames, width, height):
    ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :].repeat(height, 0)
    return [Image.fromarray(np.repeat(np.uint8(ramp * (0.5 + 0.5 * i / frames))[:, :, None], 3, 2))
            for i in range(frames)]


def request(frames, width, height, seed=1, references=True, guidance=7.5):
    controls = {"depth": depth_frames(frames, width, height), "objects": id_frames(frames, width, height)}
    return Request(prompt="two people talk", negative_prompt="blurry", seed=seed, steps=2, guidance=guidance,
                   weights={"depth": 1.0}, controls=controls, num_frames=frames, width=width, height=height,
                   cast=CAST, object_names=OBJECTS, references=REFERENCES if references else {},
                   shot_reference=take_frame() if references else None)


def record_calls(pipe):
    """Make `pipe` an instance of a subclass of its own class whose __call__ records its
    keyword arguments and result, then runs the real pipeline."""
    calls, real = [], type(pipe)

    class Recording(real):
        def __call__(self, *args, **kwargs):
            result = real.__call__(self, *args, **kwargs)
            calls.append((kwargs, result))
            return result

    pipe.__class__ = Recording
    return calls


def loaded(backend_name, tiny_models, roles):
    backend = create(backend_name)
    backend.load({role: resolve_model(role, str(tiny_models[role])) for role in roles}, ["depth"], pick_device("cpu"))
    return backend, record_calls(backend.pipe)


@pytest.fixture(scope="module")
def animatediff(tiny_models):
    roles = [role.name for role in create("animatediff").required_roles(["depth", "references"])]
    assert roles == ["base", "motion_adapter", "controlnet_depth", "ip_adapter"]
    return loaded("animatediff", tiny_models, roles)


@pytest.fixture(scope="module")
def wan(tiny_models):
    return loaded("wan-vace", tiny_models, ["pipeline"])


def test_a_reference_of_any_size_and_mode_is_framed_without_stretching_or_cropping():
    tall = Image.new("RGBA", (10, 3000), (0, 200, 0, 255))
    assert max(as_rgb(tall).size) == MAX_REFERENCE_SIDE and as_rgb(tall).mode == "RGB"
    canvas = np.asarray(fit_on_canvas(tall, 64, 32))
    assert canvas.shape == (32, 64, 3)
    assert (canvas[:, 31] == [0, 200, 0]).all() and (canvas[:, :20] == 255).all()  # subject centred on white
    square = pad_square(Image.new("L", (40, 10), 90))
    assert square.size == (40, 40) and np.asarray(square).std() == 0   # padded with its own border colour
    frame = take_frame()
    assert pad_square(frame).size == (128, 128) and fit_on_canvas(frame, 64, 32).size == (64, 32)


def test_animatediff_gives_the_ip_adapter_one_image_per_reference_and_each_members_mask(animatediff):
    backend, calls = animatediff
    frames, width, height = 6, 64, 40
    video = backend.generate(request(frames, width, height), Hooks())
    assert video.shape == (frames, height, width, 3) and video.dtype == np.uint8
    kwargs, result = calls[-1]
    assert kwargs["num_frames"] == frames and len(result.frames[0]) == frames

    images = kwargs["ip_adapter_image"]
    expected = [REFERENCES["Anna"][0], *REFERENCES["Ben"], take_frame()]   # Ghost is not in the shot
    assert len(images) == 1 and len(images[0]) == len(expected)
    for given, reference in zip(images[0], expected):
        assert np.array_equal(np.asarray(given), np.asarray(pad_square(reference)))

    masks = kwargs["cross_attention_kwargs"]["ip_adapter_masks"]
    assert len(masks) == 1 and tuple(masks[0].shape) == (2 * frames, 4, height, width)  # guidance: two copies
    masks = masks[0].numpy()
    assert np.array_equal(masks[:frames], masks[frames:])
    ids = np.stack([np.asarray(image, np.int64) for image in id_frames(frames, width, height)])
    assert np.array_equal(masks[:frames, 0], (ids == 1).astype(np.float32))          # Anna, frame by frame
    assert np.array_equal(masks[:frames, 1], (ids == 2).astype(np.float32))          # Ben's two references
    assert np.array_equal(masks[:frames, 2], masks[:frames, 1])
    assert np.array_equal(masks[:frames, 3], ~np.isin(ids, [1, 2]))                   # shot reference: the rest
    scales = {tuple(map(tuple, p.scale)) for p in backend.pipe.unet.attn_processors.values() if hasattr(p, "to_k_ip")}
    assert scales == {((0.6, 0.3, 0.3, 0.6),)}
    settings = backend.settings
    assert settings["references"] == {"Anna": 1, "Ben": 2} and settings["shot_reference"] is True
    assert settings["references_not_in_shot"] == ["Ghost"] and settings["ip_adapter_scale"] == 0.6
    assert settings["reference_masks"] == "objects pass"
    assert backend.take_notes().ignored == ["Ghost's reference (Ghost is not in the shot)"]


def test_animatediff_references_change_the_take_and_masks_follow_the_guidance(animatediff):
    backend, calls = animatediff
    with_references = backend.generate(request(4, 64, 40), Hooks())
    without = backend.generate(request(4, 64, 40, references=False), Hooks())
    assert calls[-1][0]["ip_adapter_image"][0][0].size == (64, 64) and backend.settings["ip_adapter_scale"] == 0.0
    assert not np.array_equal(with_references, without)
    backend.generate(request(4, 64, 40, guidance=1.0), Hooks())
    assert tuple(calls[-1][0]["cross_attention_kwargs"]["ip_adapter_masks"][0].shape) == (4, 4, 40, 64)


def test_animatediff_without_the_objects_control_gives_every_reference_the_whole_frame(animatediff):
    backend, calls = animatediff
    bare = request(4, 64, 40)
    del bare.controls["objects"]
    backend.generate(bare, Hooks())
    masks = calls[-1][0]["cross_attention_kwargs"]["ip_adapter_masks"][0]
    assert tuple(masks.shape) == (8, 5, 40, 64) and bool((masks == 1).all())   # Ghost too: nobody's pixels known
    assert backend.settings["reference_masks"] == "whole frame"
    assert "per-actor reference masks" in backend.take_notes().ignored[-1]


def test_wan_vace_gets_every_reference_and_still_returns_the_shots_aligned_frames(wan):
    backend, calls = wan
    frames, width, height = 10, 64, 32
    video = backend.generate(request(frames, width, height), Hooks())
    kwargs, result = calls[-1]
    expected = [*REFERENCES["Anna"], *REFERENCES["Ben"], take_frame()]   # Ghost is nowhere in the shot
    assert len(kwargs["reference_images"]) == len(expected)
    for given, reference in zip(kwargs["reference_images"], expected):
        assert np.array_equal(np.asarray(given), np.asarray(fit_on_canvas(reference, width, height)))
    # 13 control frames (4k+1) in, 13 video frames out: the 4 reference latents are not decoded.
    assert len(kwargs["video"]) == kwargs["num_frames"] == 13 and len(result.frames[0]) == 13
    assert video.shape == (frames, height, width, 3)
    assert backend.settings["references"] == {"Anna": 1, "Ben": 2}
    assert backend.settings["references_not_in_shot"] == ["Ghost"]
    assert backend.take_notes().ignored == ["Ghost's reference (Ghost is not in the shot)"]
    assert backend.settings["reference_latent_frames"] == 4 and backend.settings["shot_reference"] is True
    plain = backend.generate(request(frames, width, height, references=False), Hooks())
    assert calls[-1][0]["reference_images"] is None and not np.array_equal(video, plain)


def test_backends_declare_what_they_use_and_load_the_adapter_only_for_references():
    for name in ("wan-vace", "animatediff"):
        assert create(name).ignores == () and create(name).reference_controls == ("objects",)
    assert "ip_adapter" not in [role.name for role in create("animatediff").required_roles(["depth"])]


@pytest.fixture(scope="module")
def bundle_with_cast(demo_blend, tmp_path_factory):
    """A real exported bundle (objects pass included) whose cast gives the first actor a reference
    image in cast/, as the add-on writes it."""
    import json
    import shutil

    from conftest import BLENDER_PYTHON, _run
    from engine.bundle import read_bundle

    exported = tmp_path_factory.mktemp("bundles") / "exported"
    _run([BLENDER_PYTHON, "scripts/export_passes.py", demo_blend, "--out", exported, "--frames", "3-6",
          "--passes", "depth,pose,camera,objects", "--quiet"])
    bundle = tmp_path_factory.mktemp("bundles") / "with_cast"
    shutil.copytree(exported, bundle)
    actor = read_bundle(bundle).actors[0]
    body = next(name for name in read_bundle(bundle).object_names() if name.startswith(actor.object))
    (bundle / "cast").mkdir()
    solid((200, 30, 30), (40, 60)).save(bundle / "cast" / "actor-1.png")
    manifest = json.loads((bundle / "bundle.json").read_text())
    manifest["cast"] = Cast(members=(CastMember(actor.name, "actor", (body,), actor.description,
                                                ("cast/actor-1.png",)),)).to_json()
    (bundle / "bundle.json").write_text(json.dumps(manifest))
    return bundle, actor.name


@pytest.mark.parametrize("backend, roles", [
    ("animatediff", ("base", "motion_adapter", "controlnet_depth", "ip_adapter")), ("wan-vace", ("pipeline",))])
def test_generate_sends_the_bundles_cast_references_and_places_them_by_the_objects_pass(
        engine_main, bundle_with_cast, tiny_models, tmp_path, backend, roles):
    """Through the command line: the references role loads only because the cast has references,
    and the objects pass is built (unweighted) to place them, although --control names only depth."""
    import json

    bundle, member = bundle_with_cast
    models = [arg for role in roles for arg in ("--model", f"{role}={tiny_models[role]}")]
    code, events = engine_main("generate", bundle, "--out", tmp_path, "--backend", backend, *models,
                               "--control", "depth=1", "--steps", "2", "--size", "64x36")
    assert code == 0, [e for e in events if e["event"] == "error"]
    record = json.loads(next(tmp_path.glob("take-*/take.json")).read_text())
    settings = record["parameters"]["backend_settings"]
    assert settings["references"] == {member: 1} and record["references"] == {member: ["cast/actor-1.png"]}
    assert record["parameters"]["controls"] == {"depth": 1.0}  # objects placed the reference, unweighted
    assert ("ip_adapter" in record["models"]) == (backend == "animatediff")
    if backend == "animatediff":
        assert settings["reference_masks"] == "objects pass"
