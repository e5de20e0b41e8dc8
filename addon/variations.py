"""Variations of a shot, the add-on's side (bpy-free): the engine's `variations` command line,
its record read back as tiles, how picked seeds become takes, and the tile grid.

On the default backend (previz) `python -m engine variations` samples N looks at once and
writes a contact sheet (engine/bundle/variations_record.py); the diffusion backends have no
cheap variations, so the same button makes a capped number of full takes with distinct seeds.
A picked variation becomes a full take with `generate --seed <its seed>` and the variations'
own request, which gives that take the variation's look.
"""

import json
from dataclasses import dataclass, replace
from pathlib import Path

from ..engine.bundle.request import DEFAULT_BACKEND, GenerateRequest
from ..engine.bundle.variations_record import DEFAULT_COUNT, VariationsRecordError, read_variations

MAX_COUNT = 500
DIFFUSION_TAKES_CAP = 8  # full takes on a diffusion backend cost a minute or more each
VARIATIONS_DIR = "variations"  # inside the shot's takes folder: DIR of `--out DIR`
THUMBNAIL_PX = 96  # a tile's thumbnail width in the panel, at UI scale 1


def makes_sheet(backend):
    """Whether `backend` ("" for the engine's default) makes a contact sheet of variations; the
    diffusion backends make full takes instead."""
    return (backend or DEFAULT_BACKEND) == DEFAULT_BACKEND


def variations_arguments(request, bundle, out, count):
    """The `variations` command line (after `python -m engine`): generate's flags for the
    request (without --takes: a sheet is one run) plus --count."""
    args = request.to_arguments(bundle, out)
    args = ["variations", *args[1:3], *(arg for arg in args[3:] if not arg.startswith("--takes="))]
    return [*args, f"--count={count}"]


def diffusion_takes(request, count):
    """(the request for full takes standing in for `count` variations on a diffusion backend,
    the note saying so): distinct seeds from the shot's, at most DIFFUSION_TAKES_CAP."""
    takes = max(1, min(count, DIFFUSION_TAKES_CAP))
    seeds = f"seed {request.seed}" if takes == 1 else f"seeds {request.seed}–{request.seed + takes - 1}"
    note = (f"{request.backend_name} has no quick variations: making {takes} full take{'s' if takes > 1 else ''} "
            f"({seeds}) instead")
    if takes < count:
        note += f"; Count is capped at {DIFFUSION_TAKES_CAP} on diffusion backends"
    return replace(request, takes=takes), note


def seed_runs(seeds):
    """Picked seeds as (first seed, takes) runs of consecutive seeds, one engine call each (the
    engine's --seed S --takes K makes S..S+K-1)."""
    runs = []
    for seed in sorted(set(seeds)):
        if runs and runs[-1][0] + runs[-1][1] == seed:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((seed, 1))
    return runs


def run_requests(request, seeds):
    """The requests making one full take per picked seed: the variations' request, per run."""
    return [replace(request, seed=first, takes=takes) for first, takes in seed_runs(seeds)]


def request_text(request):
    """The variations' request as text, kept with the sheet so Make Takes asks for the same."""
    return json.dumps(request.to_json(), sort_keys=True)


def request_from_text(text):
    return GenerateRequest.from_json(json.loads(text))


@dataclass(frozen=True)
class Tile:
    """A variation as the panel shows it: its seed, its tile image (absolute) and its look."""

    seed: int
    path: Path
    look: dict


@dataclass(frozen=True)
class Sheet:
    """A finished variations run: its folder, contact sheet image and tiles, in seed order."""

    folder: Path
    sheet: Path
    bundle: Path
    tiles: tuple

    def tile(self, seed):
        return next((tile for tile in self.tiles if tile.seed == seed), None)


def read_sheet(folder):
    """The Sheet of a variations folder (VariationsRecordError when its record is unreadable).
    Tile and sheet paths stay inside the folder: a record naming anything else is refused."""
    folder = Path(folder).resolve()
    record = read_variations(folder)
    tiles = tuple(Tile(entry.seed, _inside(folder, entry.tile), dict(entry.look)) for entry in record.variations)
    return Sheet(folder, _inside(folder, record.sheet), Path(record.bundle.path), tiles)


def _inside(folder, relative):
    path = (folder / relative).resolve()
    if folder not in path.parents:
        raise VariationsRecordError(f"{folder / 'variations.json'} names {relative!r}, outside its folder: make the "
                                    "variations again")
    return path


def grid_columns(region_width, ui_scale=1.0, thumbnail_px=THUMBNAIL_PX):
    """How many tiles fit side by side in a sidebar `region_width` pixels wide (at least 1)."""
    return max(1, int(region_width // max(1.0, thumbnail_px * ui_scale + 8 * ui_scale)))


def tile_rows(tiles, columns):
    """`tiles` in rows of `columns`, left to right, top to bottom (the last row may be short)."""
    tiles = list(tiles)
    columns = max(1, columns)
    return [tiles[start:start + columns] for start in range(0, len(tiles), columns)]
