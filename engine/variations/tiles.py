"""Key-frame tiles and the contact sheet of a Variations run (numpy and PIL only).

A tile is the shot's key frames side by side, each exactly what a full previz take writes for
that frame (clay shading x object colour at the generation size, graded, resized to the shot's
size) resized to the tile width the same way (engine.imaging.resize_cover): so a tile is the
picked take's frames in small. The sheet lays the tiles out in a grid, each labelled with its seed.
"""

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..imaging import resize_cover
from ..looks.palette import lab_statistics, take_statistics, transfer
from ..previz import appearance

LABEL_HEIGHT = 14     # px of the seed's strip under each tile
GAP = 4               # px between tiles
KEY_GAP = 1           # px between a tile's key frames
SHEET_ASPECT = 16 / 9
BACKGROUND = (24, 24, 24)


def key_frame_numbers(frames, count):
    """`count` Blender frame numbers spread evenly over the shot, first and last included (one: the middle)."""
    if count == 1:
        return [frames[len(frames) // 2]]
    return [frames[int(index * (len(frames) - 1) / (count - 1) + 0.5)] for index in range(count)]  # halves up


def tile_height(width, shot_w, shot_h):
    return max(1, round(width * shot_h / shot_w))


class KeyFrames:
    """The key frames' clay (linear light) and object ids at the generation size, read once and
    shared by every variation, the way engine.controls builds a take's shading and objects controls."""

    def __init__(self, bundle, numbers, width, height):
        self.numbers, self.shot_size = list(numbers), (bundle.width, bundle.height)
        self.linear_clay, self.ids = [], []
        for frame in self.numbers:
            pixels = bundle.shading(frame)
            clay = resize_cover(Image.fromarray(pixels[:, :, :3] if pixels.ndim == 3 else pixels).convert("RGB"),
                                width, height)
            ids = resize_cover(Image.fromarray(bundle.object_index(frame).astype(np.uint16)), width, height,
                               resample=Image.NEAREST)
            self.linear_clay.append(appearance.srgb_to_linear(np.asarray(clay.convert("RGB"))[..., :3]))
            self.ids.append(np.asarray(ids, np.int64))

    def frames(self, ratios, grade=None, shot_reference_stats=None):
        """(K, H, W, 3) uint8: the key frames of a take whose objects have `ratios` (previz's
        compose, then the mood grade, then the move toward the shot reference's statistics)."""
        frames = np.stack([appearance.linear_to_srgb8(clay * appearance.paint(ids, ratios))
                           for clay, ids in zip(self.linear_clay, self.ids)])
        if grade is not None:
            frames = np.stack([grade.apply(frame) for frame in frames])
        if shot_reference_stats is not None:
            stats = take_statistics(frames)  # the key frames' own: a full take's are its every frame's
            frames = np.stack([transfer(frame, stats, shot_reference_stats) for frame in frames])
        return frames

    def tile(self, frames, tile_width):
        """One tile (PIL RGB): each key frame at the shot's size, then at the tile's, side by side."""
        shot_w, shot_h = self.shot_size
        width, height = tile_width, tile_height(tile_width, shot_w, shot_h)
        tile = Image.new("RGB", (len(frames) * width + (len(frames) - 1) * KEY_GAP, height), BACKGROUND)
        for index, frame in enumerate(frames):
            small = resize_cover(resize_cover(Image.fromarray(frame), shot_w, shot_h), width, height)
            tile.paste(small, (index * (width + KEY_GAP), 0))
        return tile


def reference_statistics(image):
    """The shot reference's Lab statistics (computed once for every variation), or None."""
    return None if image is None else lab_statistics(image)


def sheet_columns(count, tile_w, tile_h):
    """How many tiles a row holds so the sheet is about SHEET_ASPECT wide."""
    cell_w, cell_h = tile_w + GAP, tile_h + LABEL_HEIGHT + GAP
    return max(1, min(count, round(math.sqrt(count * cell_h * SHEET_ASPECT / cell_w))))


def contact_sheet(tiles, seeds):
    """The sheet (PIL RGB): `tiles` in a grid, left to right, top to bottom, each over its seed."""
    tile_w, tile_h = tiles[0].size
    columns = sheet_columns(len(tiles), tile_w, tile_h)
    rows = -(-len(tiles) // columns)
    cell_w, cell_h = tile_w + GAP, tile_h + LABEL_HEIGHT + GAP
    sheet = Image.new("RGB", (columns * cell_w + GAP, rows * cell_h + GAP), BACKGROUND)
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default()
    for index, (tile, seed) in enumerate(zip(tiles, seeds)):
        x, y = GAP + (index % columns) * cell_w, GAP + (index // columns) * cell_h
        sheet.paste(tile, (x, y))
        draw.text((x + 2, y + tile_h + 1), f"seed {seed}", fill=(230, 230, 230), font=font)
    return sheet
