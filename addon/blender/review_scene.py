"""Side-by-side review: a "<scene> Review" scene where a take plays tiled beside its controls.

Why a scene of its own rather than insets or a grid in the edit: the edit stays exactly as
the editor left it (nothing covers the accepted take, no strip of theirs moves, playback and
renders of the cut are untouched), while the review is one switch away (the scene selector
in the top bar, or the Takes panel's Review button) and plays the same frames in sync: the
take top left, then each control the model saw (depth, pose, objects in colour...), left to
right and down, each labelled. The review scene has the edit's size, frame rate and colour
view; each shot's tiles sit at the shot's own frames, so reviewing shot B keeps shot A's
tiles. Reviewing another take of a shot replaces that shot's tiles (Blockcast's strips only).
"""

from pathlib import Path

import bpy

from .. import review_images, strip_layout
from ..strip_layout import PREFIX
from .sequencer import all_strips, new_image_strip, new_text_strip, occupied, sequence_editor, strip_collection

REVIEW_OF = PREFIX + "review_of"   # on the review scene: the name of the scene it reviews
REVIEW_SHOT = PREFIX + "review_shot"  # on review strips: their shot
LABEL_HEIGHT = 0.07  # of a tile's height


def review_scene(scene, create=False):
    """The scene reviewing `scene` (made, with `scene`'s output settings, when `create`)."""
    found = next((s for s in bpy.data.scenes if s.get(REVIEW_OF) == scene.name), None)
    if found is None and create:
        found = bpy.data.scenes.new(f"{scene.name} Review")
        found[REVIEW_OF] = scene.name
    if found is not None and create:
        source, target = scene.render, found.render
        target.resolution_x, target.resolution_y = source.resolution_x, source.resolution_y
        target.resolution_percentage = source.resolution_percentage
        target.fps, target.fps_base = source.fps, source.fps_base
        found.view_settings.view_transform = scene.view_settings.view_transform
        found.view_settings.look = scene.view_settings.look
    return found


def reviewed_scene(scene):
    """The scene `scene` reviews, when it is a review scene."""
    name = scene.get(REVIEW_OF)
    return bpy.data.scenes.get(name) if name else None


def _free_channels(editor, count, start, end):
    taken = occupied(editor)
    channels = []
    for channel in range(1, strip_layout.MAX_CHANNEL + 1):
        if not any(c == channel and s < end and start < e for c, s, e in taken):
            channels.append(channel)
            if len(channels) == count:
                return channels
    raise strip_layout.LayoutError(f"the review scene has no {count} channels free over frames {start}-{end - 1}: "
                                   "free some there")


def show_take(scene, strip, record, files_by_kind):
    """Tile the take `strip` and its control images (`files_by_kind`) in `scene`'s review
    scene over the take's frames; returns the review scene."""
    review = review_scene(scene, create=True)
    editor = sequence_editor(review, create=True)
    shot = strip[PREFIX + "shot"]
    for old in [s for s in strip_collection(editor) if s.get(REVIEW_SHOT) == shot]:
        strip_collection(editor).remove(old)
    first, last = record.bundle.frame_range()
    take_files = [Path(strip[PREFIX + "take_json"]).parent / f for f in record.frames]
    tiles = [(f"{record.take} (seed {record.seed})", take_files)]
    tiles += [(kind, files) for kind, files in files_by_kind.items()]
    channels = _free_channels(editor, 2 * len(tiles), first, last + 1)
    width = review.render.resolution_x * review.render.resolution_percentage / 100
    height = review.render.resolution_y * review.render.resolution_percentage / 100
    columns, rows = strip_layout.grid_shape(len(tiles))
    for index, (label, files) in enumerate(tiles):
        image = new_image_strip(editor, f"{shot} review {label}", files, channels[index], first,
                                sharp=label == review_images.OBJECTS)
        scale, offset_x, offset_y = strip_layout.grid_transform(index, len(tiles), width, height)
        image.transform.scale_x *= scale
        image.transform.scale_y *= scale
        image.transform.offset_x, image.transform.offset_y = offset_x, offset_y
        column, row = index % columns, index // columns
        corner = (column / columns + 0.01, 0.5 + (rows / 2 - row) / columns - 0.01)
        text = new_text_strip(editor, f"{shot} review label {label}", f"{shot} · {label}",
                              channels[len(tiles) + index], first, last - first + 1,
                              (corner[0], corner[1] - LABEL_HEIGHT / columns), height * LABEL_HEIGHT / columns)
        for made in (image, text):
            made[REVIEW_SHOT] = shot
            made[PREFIX + "review_tile"] = label
    review.frame_start, review.frame_end = first, last
    return review


def review_strips(review, shot):
    """The review scene's image tiles of `shot` (text labels left out), in tile order."""
    editor = sequence_editor(review)
    tiles = [s for s in (all_strips(editor) if editor else []) if s.get(REVIEW_SHOT) == shot and s.type == "IMAGE"]
    return sorted(tiles, key=lambda s: (-s.transform.offset_y, s.transform.offset_x))
