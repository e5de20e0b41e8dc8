"""The VACE depth+pose composite (engine/vace_control.py): each actor's skeleton only inside its
silhouette, depth only outside every silhouette; on a hand-made case and a real exported bundle."""

import json
import shutil

import numpy as np
import pytest
from engine.bundle import read_bundle
from engine.bundle.cast import Cast, CastMember
from engine.controls import depth_frames, pose_frames
from engine.vace_control import actor_masks, compose, composite_frames, mask_source, person_canvas

W, H = 64, 48


def standing_person(x):
    """An OpenPose person standing at column x of a 64x48 canvas (neck, shoulders, hips, knees)."""
    points = {1: (x, 12), 2: (x - 5, 13), 5: (x + 5, 13), 8: (x - 3, 28), 11: (x + 3, 28), 9: (x - 3, 38),
              12: (x + 3, 38), 0: (x, 6)}
    values = []
    for index in range(18):
        u, v = points.get(index, (0, 0))
        values += [u, v, 1.0 if index in points else 0.0]
    return {"pose_keypoints_2d": values}


def test_a_hand_made_case_puts_each_skeleton_inside_its_box_and_depth_outside():
    document = {"people": [standing_person(16), standing_person(46)]}
    depth = np.tile(np.linspace(0, 255, W, dtype=np.float32).astype(np.uint8)[None, :, None], (H, 1, 3))
    skeletons = [person_canvas(document, k, W, H, W, H) for k in range(2)]
    boxes = [np.zeros((H, W), bool) for _ in range(2)]
    boxes[0][4:42, 8:25] = True
    boxes[1][4:42, 38:55] = True
    frame = compose(depth, skeletons, boxes)
    outside = ~(boxes[0] | boxes[1])
    assert np.array_equal(frame[outside], depth[outside])  # depth, untouched, outside both actors
    for skeleton, box, other in zip(skeletons, boxes, reversed(boxes)):
        assert np.array_equal(frame[box], skeleton[box])   # inside: that actor's skeleton on black
        limbs = skeleton.any(axis=2)
        assert limbs[box].sum() > 20 and not limbs[other].any()  # drawn alone: no other skeleton in its box
    # the limbs of person 0 that fall outside its box do not reach the frame
    cut = skeletons[0].any(axis=2) & ~boxes[0]
    assert np.array_equal(frame[cut], depth[cut])


@pytest.fixture(scope="module")
def actors_bundle(bundle_actors):
    bundle = read_bundle(bundle_actors)
    assert mask_source(bundle) == "mask" and len(bundle.actors) >= 1
    return bundle


def test_on_a_real_bundle_pose_is_inside_the_actor_masks_and_depth_outside(actors_bundle):
    bundle, width, height = actors_bundle, 64, 32
    depth = depth_frames(bundle, width, height)
    masks = actor_masks(bundle, width, height)
    frames = composite_frames(bundle, depth, width, height)
    everyone = pose_frames(bundle, width, height)  # all skeletons drawn on one canvas, as the pose control
    assert len(frames) == len(bundle.frames) and frames[0].size == (width, height)
    inside_pose = 0
    for index, frame in enumerate(frames):
        pixels, gray = np.asarray(frame), np.asarray(depth[index])
        union = np.zeros((height, width), bool)
        for mask in masks:
            union |= mask[index]
        assert np.array_equal(pixels[~union], gray[~union])               # depth only outside
        assert not np.array_equal(pixels[union], gray[union]) or not union.any()
        limbs = np.asarray(everyone[index]).any(axis=2)
        coloured = pixels.max(axis=2) != pixels.min(axis=2)              # depth is grey: colour is pose
        assert not (coloured & ~union).any()                              # pose only inside
        inside_pose += int((coloured & union).sum())
        assert (limbs & union).sum() >= (coloured & union).sum() * 0.5
    assert inside_pose > 0


def test_the_objects_pass_and_the_cast_give_the_same_silhouettes(actors_bundle, tmp_path):
    """Without the mask pass, the actor members' objects (the cast) make the silhouettes."""
    bundle_dir = tmp_path / "objects_only"
    shutil.copytree(actors_bundle.root, bundle_dir)
    manifest = json.loads((bundle_dir / "bundle.json").read_text())
    names = read_bundle(bundle_dir).object_names()
    members = tuple(CastMember(actor.name, "actor", tuple(n for n in names if n.startswith(actor.object)))
                    for actor in actors_bundle.actors)
    manifest["cast"] = Cast(members=members).to_json()
    del manifest["passes"]["mask"]
    shutil.rmtree(bundle_dir / "mask")
    (bundle_dir / "bundle.json").write_text(json.dumps(manifest))
    objects_bundle = read_bundle(bundle_dir)
    assert mask_source(objects_bundle) == "objects"
    from_objects, from_mask = actor_masks(objects_bundle, 64, 32), actor_masks(actors_bundle, 64, 32)
    for ours, theirs in zip(from_objects, from_mask):
        assert theirs.any() and (ours & theirs).sum() / (ours | theirs).sum() > 0.9


def test_a_bundle_without_silhouettes_is_refused_in_the_cli_words(bundle10):
    from engine.vace_control import missing_masks_message

    message = missing_masks_message(read_bundle(bundle10), "wan22-vace")
    assert "--passes including mask" in message and "--control depth=1.0" in message
    with pytest.raises(ValueError, match="silhouettes"):
        actor_masks(read_bundle(bundle10), 64, 32)
