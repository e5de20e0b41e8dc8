"""One VACE control video from two controls: each actor's OpenPose skeleton inside that
actor's silhouette, the depth map everywhere else.

VACE takes a single control video, and its authors say several controls work in one
video when they are spatially separate. Pose and depth are made separate per frame:
the pixels of actor k (people[k] of the pose pass is actors[k]) show only actor k's
skeleton, drawn alone on black as controlnet_aux draws it, and every other pixel shows
the depth control. Actor silhouettes come from the bundle's `mask` pass (value
actors[k].mask_index, else k + 1), or else from its `objects` pass through the cast (the
objects of the actor member named like the actor). Numpy and PIL only: no torch, no bpy.
"""

import numpy as np
from PIL import Image

from .controls import _openpose_drawing, objects_frames, pose_results
from .imaging import resize_cover

COMPOSITE = "composite"   # the review folder's kind: BUNDLE/controls/composite/NNNN.png
PARTS = ("depth", "pose")  # the controls a composite is made of


def mask_source(bundle):
    """Which pass gives the actors' silhouettes ("mask" or "objects"), or None when neither can."""
    if bundle.has("mask"):
        return "mask"
    actors = bundle.cast.members if bundle.cast is not None else ()
    if bundle.has("objects") and any(member.role == "actor" and member.objects for member in actors):
        return "objects"
    return None


def missing_masks_message(bundle, backend_name):
    """The refusal when depth and pose are both asked of a bundle with no actor silhouettes, else None."""
    if mask_source(bundle) is not None:
        return None
    return (f"{backend_name} puts pose inside the actors and depth around them, which needs the actors' "
            f"silhouettes: re-export {bundle.root} with --passes including mask (or objects, with the actors "
            "in the cast), or choose one control, e.g. --control depth=1.0")


def actor_masks(bundle, width, height):
    """[(F, height, width) bool per bundle actor, in the actors' (and pose people's) order]."""
    source = mask_source(bundle)
    if source == "mask":
        ids = np.stack([np.asarray(resize_cover(Image.fromarray(bundle.actor_mask(frame)), width, height,
                                                resample=Image.NEAREST)) for frame in bundle.frames])
        return [ids == (actor.mask_index if actor.mask_index is not None else index + 1)
                for index, actor in enumerate(bundle.actors)]
    if source == "objects":
        ids = np.stack([np.asarray(frame, np.int64) for frame in objects_frames(bundle, width, height)])
        names = bundle.object_names()
        masks = []
        for actor in bundle.actors:
            member = bundle.cast.member(actor.name)
            owned = member.objects if member is not None and member.role == "actor" else ()
            masks.append(np.isin(ids, [index + 1 for index, name in enumerate(names) if name in owned]))
        return masks
    raise ValueError(missing_masks_message(bundle, "the composite control"))


def person_canvas(document, index, src_w, src_h, width, height):
    """(height, width, 3) uint8: person `index` of an OpenPose document drawn alone on black."""
    people = document.get("people", [])
    alone = {"people": [people[index]] if index < len(people) else []}
    poses = pose_results(alone, src_w, src_h, width, height)
    return _openpose_drawing()[3](poses, height, width, draw_body=True, draw_hand=False, draw_face=False)


def compose(depth, skeletons, masks):
    """One composite frame: depth (H, W, 3) uint8, skeletons [(H, W, 3) uint8 per actor],
    masks [(H, W) bool per actor, disjoint: a pixel is one actor's]; actor k's pixels show
    skeletons[k], the rest depth."""
    frame = np.array(depth, np.uint8, copy=True)
    for skeleton, mask in zip(skeletons, masks):
        frame[mask] = np.asarray(skeleton, np.uint8)[mask]
    return frame


def composite_frames(bundle, depth, width, height):
    """PIL RGB composite frames at (width, height) from the depth control frames `depth`."""
    masks = actor_masks(bundle, width, height)
    frames = []
    for index, frame in enumerate(bundle.frames):
        document = bundle.openpose(frame)
        skeletons = [person_canvas(document, person, bundle.width, bundle.height, width, height)
                     for person in range(len(masks))]
        pixels = compose(np.asarray(depth[index].convert("RGB")), skeletons, [mask[index] for mask in masks])
        frames.append(Image.fromarray(pixels))
    return frames
