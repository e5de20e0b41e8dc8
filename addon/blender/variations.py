"""A finished variations run in Blender: its contact sheet loaded as an image (to open in the
Image Editor), its tiles as panel thumbnails (bpy.utils.previews) and as the shot's entry in
scene.blockcast_variations; and Lock Look from a variation."""

import bpy
import bpy.utils.previews

from ...engine.bundle.variations_record import VariationsRecordError
from ..variations import read_sheet, request_text
from . import errors
from .cast_edit import lock_colours

_THUMBNAILS = {}  # "previews": the add-on's one preview collection, made on first use


def thumbnails():
    """The preview collection holding the tiles' thumbnails (keyed by tile path)."""
    if "previews" not in _THUMBNAILS:
        _THUMBNAILS["previews"] = bpy.utils.previews.new()
    return _THUMBNAILS["previews"]


def thumbnail_icon(path):
    """The icon id of a tile image's thumbnail, loaded once per path."""
    previews, key = thumbnails(), str(path)
    preview = previews.get(key)
    if preview is None:
        preview = previews.load(key, key, "IMAGE")
    return preview.icon_id


def release_thumbnails():
    """Free the thumbnails (the add-on is unregistered)."""
    previews = _THUMBNAILS.pop("previews", None)
    if previews is not None:
        bpy.utils.previews.remove(previews)


def load_sheet_image(sheet, shot_name):
    """The contact sheet as an image of this file (the same one when loaded before), named after
    the shot and the first seed, so the Image Editor's list tells sheets apart."""
    image = bpy.data.images.load(str(sheet.sheet), check_existing=True)
    first = min((tile.seed for tile in sheet.tiles), default=0)
    image.name = f"{shot_name} variations s{first}"
    return image


def store_sheet(scene, shot_name, folder, request, takes_dir):
    """Show a finished variations folder: the sheet image, the thumbnails, and the shot's entry
    (replacing its earlier variations; their folders stay on disk). Returns the Sheet."""
    sheet = read_sheet(folder)
    image = load_sheet_image(sheet, shot_name)
    for tile in sheet.tiles:
        thumbnail_icon(tile.path)
    state = scene.blockcast_variations
    entry = state.sheet(shot_name)
    if entry is None:
        entry = state.sheets.add()
        entry.name = shot_name
    entry.folder, entry.takes_dir = str(sheet.folder), str(takes_dir)
    entry.request, entry.image = request_text(request), image.name
    entry.tiles.clear()
    for tile in sheet.tiles:
        item = entry.tiles.add()
        item.seed, item.tile = tile.seed, str(tile.path)
    return sheet


def shot_sheet(scene, shot_name):
    """(the shot's entry, its Sheet read from disk); UserError saying what to do when missing."""
    entry = scene.blockcast_variations.sheet(shot_name)
    if entry is None or not entry.folder:
        raise errors.UserError(f"{shot_name} has no variations yet: press Make Variations first")
    try:
        return entry, read_sheet(entry.folder)
    except VariationsRecordError as exc:
        raise errors.UserError(str(exc)) from None


def lock_variation_look(scene, shot_name, seed):
    """Lock the cast's colours to a variation's look (its seed as the look seed when the cast has
    none). Returns how many colours were locked."""
    _, sheet = shot_sheet(scene, shot_name)
    tile = sheet.tile(seed)
    if tile is None:
        raise errors.UserError(f"{shot_name}'s variations have no seed {seed}: pick one of the sheet's tiles")
    return lock_colours(scene, tile.look, seed)
