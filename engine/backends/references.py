"""Cast reference images and per-member masks, in the form the diffusion models take them.

A reference is just an RGB image of any size and shape: the artist's picture of an actor
or prop, or a frame (or a crop of one) from an earlier accepted take. Each model frames it
its own way, so nothing is stretched or cut off:
- Wan VACE: fitted inside the generation size on a white canvas, as diffusers' VACE
  pipeline and VACE's own reference examples do (the subject on white);
- IP-Adapter: padded to a square with its own border colour, because CLIP's image
  processor centre-crops a square (a tall full-body picture would lose head and feet).
The mask of a cast member is the pixels of its objects in the objects pass, per frame.
Numpy and PIL only: torch stays inside the backends.
"""

import numpy as np
from PIL import Image

from ..bundle.take_record import TakeNotes

MAX_REFERENCE_SIDE = 1024   # larger references are shrunk first: no model looks closer


def as_rgb(image):
    """An RGB copy no longer than MAX_REFERENCE_SIDE on its long side (alpha over white)."""
    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(canvas, image)
    image = image.convert("RGB")
    if max(image.size) > MAX_REFERENCE_SIDE:
        scale = MAX_REFERENCE_SIDE / max(image.size)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.BICUBIC)
    return image


def fit_on_canvas(image, width, height, fill=(255, 255, 255)):
    """The image scaled to fit inside (width, height), centred on a `fill` canvas."""
    image = as_rgb(image)
    scale = min(width / image.width, height / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    canvas = Image.new("RGB", (width, height), fill)
    canvas.paste(image.resize(size, Image.BICUBIC), ((width - size[0]) // 2, (height - size[1]) // 2))
    return canvas


def pad_square(image):
    """The whole image on a square canvas of its mean border colour (adds no new colour)."""
    image = as_rgb(image)
    pixels = np.asarray(image, np.float32)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    fill = tuple(int(round(v)) for v in border.mean(axis=0))
    side = max(image.size)
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return canvas


def member_of(request, name):
    """The cast member a reference belongs to; ValueError when the cast has no such member."""
    member = request.cast.member(name) if request.cast is not None else None
    if member is None:
        raise ValueError(f"a reference image is given for {name!r}, who is not in the bundle's cast")
    return member


def member_masks(request, id_frames):
    """{member name: (F, H, W) bool} for every member with references: the pixels of its
    objects in each frame of the objects control (16-bit ids, id k = object_names[k - 1]).
    None without an objects control: then nobody's pixels are known."""
    if id_frames is None:
        return None
    ids = np.stack([np.asarray(frame, np.int64) for frame in id_frames])
    masks = {}
    for name in request.references:
        member = member_of(request, name)
        wanted = [index + 1 for index, object_name in enumerate(request.object_names)
                  if object_name in member.objects]
        masks[name] = np.isin(ids, wanted)
    return masks


def ip_adapter_inputs(request, id_frames):
    """What one IP-Adapter takes for the cast: (images, owners, masks, absent). images are
    the square-padded references, owners[i] names whose image i is ("" for the shot's
    reference), masks is (F, len(images), H, W) float32 in 0/1 (None without images).
    Every reference of a member gets the member's pixels; the shot reference gets the
    pixels no referenced member covers. Members with no pixels in the shot are left out
    (listed in `absent`). Without an objects control every mask is the whole frame."""
    known = member_masks(request, id_frames)
    whole = np.ones((request.num_frames, request.height, request.width), bool)
    images, owners, columns, absent = [], [], [], []
    covered = np.zeros_like(whole)
    for name, references in request.references.items():
        member_of(request, name)
        mask = whole if known is None else known[name]
        covered |= mask
        if not mask.any():
            absent.append(name)
            continue
        for image in references:  # several references of one member share its mask
            images.append(pad_square(image))
            owners.append(name)
            columns.append(mask)
    if request.shot_reference is not None:
        rest = whole if known is None else ~covered
        if rest.any():
            images.append(pad_square(request.shot_reference))
            owners.append("")
            columns.append(rest)
    masks = np.stack(columns, axis=1).astype(np.float32) if columns else None
    return images, owners, masks, absent


def vace_reference_images(request, id_frames):
    """(images, counts, absent): the references of every member seen in the shot (every
    member without an objects control, since VACE cannot confine a reference to pixels),
    then the shot reference, each fitted on white at the generation size;
    counts = {member name: images used}, absent = members left out."""
    known = member_masks(request, id_frames)
    images, counts, absent = [], {}, []
    for name, references in request.references.items():
        member_of(request, name)
        if known is not None and not known[name].any():
            absent.append(name)
            continue
        images.extend(fit_on_canvas(image, request.width, request.height) for image in references)
        counts[name] = len(references)
    if request.shot_reference is not None:
        images.append(fit_on_canvas(request.shot_reference, request.width, request.height))
    return images, counts, absent


def reference_notes(absent, whole_frame=False):
    """TakeNotes whose `ignored` lists the references the model did not get, or got unmasked."""
    ignored = [f"{name}'s reference ({name} is not in the shot)" for name in absent]
    if whole_frame:
        ignored.append("per-actor reference masks (no objects pass: each reference covers the whole frame)")
    return TakeNotes(ignored=ignored)
