"""Draw docs/images/architecture.png: Blockcast's rooms and the four contracts between them.

    .venv-engine/bin/python scripts/draw_architecture.py [--out docs/images/architecture.png]

The picture in docs/architecture.md, kept as code so it changes with the design: each box a
room, each coloured arrow a contract (the module of engine/bundle/ that both ends import).
Pillow only, with its bundled font, so the PNG is the same wherever it is drawn.
"""

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
SIZE = (1680, 1000)
INK, GREY, PAPER = (34, 34, 34), (120, 120, 120), (255, 255, 255)
# One colour per contract, as in the legend.
MANIFEST, REQUEST, EVENTS, TAKE = (214, 110, 20), (40, 100, 200), (30, 140, 70), (130, 60, 170)
BLENDER_FILL, ENGINE_FILL, DISK_FILL = (226, 238, 252), (253, 236, 220), (240, 240, 240)
FARM_FILL, CONTRACTS_FILL = (232, 245, 233), (255, 250, 225)

CONTRACTS_BOX = (1160, 40, 1650, 250)
ROOMS = [  # (box, fill, title, lines)
    ((40, 60, 420, 210), BLENDER_FILL, "Blender add-on UI", [
        "addon/ui/: panels, operators,", "properties, preferences (bpy)"]),
    ((40, 330, 420, 580), BLENDER_FILL, "Add-on core and glue", [
        "addon/ (bpy-free): engine_request,", "engine_process, generation_progress,",
        "take_folders, strip_layout, cast", "addon/blender/: export, sequencer,", "generation job (bpy)"]),
    ((620, 60, 980, 230), DISK_FILL, "Pass bundle (a folder)", [
        "bundle.json + depth/ pose/ camera/", "shading/ normal/ flow/ mask/ objects/"]),
    ((1180, 330, 1560, 580), ENGINE_FILL, "Engine (its own process)", [
        "engine/: python -m engine generate", "backends (previz, animatediff,", "wan-vace, plug-ins), torch,",
        "diffusers: never inside Blender"]),
    ((620, 650, 980, 820), DISK_FILL, "Takes (folders)", [
        "take-NNN-backend-sS/: frames/,", "preview.mp4, take.json"]),
    ((40, 720, 420, 870), FARM_FILL, "Farm jobs", [
        "farm/ (stdlib): OpenJD, Flamenco;", "tasks run scripts/farm_*.py"]),
    (CONTRACTS_BOX, CONTRACTS_FILL, "Contracts: engine/bundle/ (stdlib only)", []),
]
LEGEND = [(MANIFEST, "1 manifest.py: BundleManifest (bundle.json)"),
          (REQUEST, "2 request.py: GenerateRequest (command line)"),
          (EVENTS, "3 events.py: progress events (JSON lines)"),
          (TAKE, "4 take_record.py: TakeRecord (take.json)")]

ARROWS = [  # (points, colour, dashed, label, label position)
    ([(230, 210), (230, 330)], GREY, False, "panel settings", (240, 258)),
    ([(420, 380), (560, 380), (560, 150), (620, 150)], MANIFEST, False, "1 writes bundle.json", (430, 352)),
    ([(980, 200), (1120, 200), (1120, 360), (1180, 360)], MANIFEST, False, "1 reads bundle.json", (990, 172)),
    ([(420, 430), (1180, 430)], REQUEST, False, "2 python -m engine generate BUNDLE --out TAKES ...", (600, 402)),
    ([(1180, 500), (420, 500)], EVENTS, False, "3 stdout: one JSON event a line (load, step, done ...)", (600, 472)),
    ([(1370, 580), (1370, 735), (980, 735)], TAKE, False, "4 writes take.json + frames", (1000, 745)),
    ([(620, 690), (330, 690), (330, 580)], TAKE, False, "4 reads take.json: strips", (440, 662)),
    ([(130, 720), (130, 580)], GREY, True, "export tasks", (140, 635)),
    ([(420, 920), (1470, 920), (1470, 580)], GREY, True,
     "generate tasks: the same command line (2); farm imports the contracts' defaults", (560, 930)),
]


def font(size):
    return ImageFont.load_default(size=size)


def draw_room(draw, box, fill, title, lines):
    draw.rounded_rectangle(box, radius=14, fill=fill, outline=INK, width=2)
    x0, y0 = box[0] + 16, box[1] + 12
    draw.text((x0, y0), title, fill=INK, font=font(22))
    for index, line in enumerate(lines):
        draw.text((x0, y0 + 38 + 24 * index), line, fill=INK, font=font(16))


def draw_legend(draw, box):
    x0, y0 = box[0] + 16, box[1] + 52
    for index, (colour, text) in enumerate(LEGEND):
        y = y0 + 36 * index
        draw.rectangle((x0, y + 4, x0 + 26, y + 16), fill=colour)
        draw.text((x0 + 38, y), text, fill=INK, font=font(17))


def _segment(draw, start, end, colour, dashed):
    if not dashed:
        draw.line([start, end], fill=colour, width=4)
        return
    (x0, y0), (x1, y1) = start, end
    length = max(abs(x1 - x0), abs(y1 - y0))
    for offset in range(0, length, 18):
        t0, t1 = offset / length, min(offset + 10, length) / length
        draw.line([(x0 + (x1 - x0) * t0, y0 + (y1 - y0) * t0), (x0 + (x1 - x0) * t1, y0 + (y1 - y0) * t1)],
                  fill=colour, width=3)


def draw_arrow(draw, points, colour, dashed, label, at):
    for start, end in zip(points, points[1:]):
        _segment(draw, start, end, colour, dashed)
    (xa, ya), (xb, yb) = points[-2], points[-1]
    dx, dy = (xb > xa) - (xb < xa), (yb > ya) - (yb < ya)  # segments are horizontal or vertical
    head = [(xb, yb), (xb - 16 * dx + 8 * dy, yb - 16 * dy + 8 * dx), (xb - 16 * dx - 8 * dy, yb - 16 * dy - 8 * dx)]
    draw.polygon(head, fill=colour)
    left, top, right, bottom = draw.textbbox(at, label, font=font(16))
    draw.rectangle((left - 4, top - 3, right + 4, bottom + 3), fill=PAPER)
    draw.text(at, label, fill=colour if colour != GREY else INK, font=font(16))


def draw_architecture():
    image = Image.new("RGB", SIZE, PAPER)
    draw = ImageDraw.Draw(image)
    for box, fill, title, lines in ROOMS:
        draw_room(draw, box, fill, title, lines)
    draw_legend(draw, CONTRACTS_BOX)
    for points, colour, dashed, label, at in ARROWS:
        draw_arrow(draw, points, colour, dashed, label, at)
    draw.text((40, 965), "Every room imports the contract it speaks from engine/bundle/; no field is spelled twice.",
              fill=GREY, font=font(16))
    return image


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "architecture.png")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_name(f".{args.out.name}.partial")
    draw_architecture().save(partial, format="PNG")
    partial.replace(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
