"""Contact sheet of a pass bundle: one row per sampled frame, one column per pass.

    python scripts/contact_sheet.py BUNDLE [--take TAKE_DIR ...] [--out sheet.png] [--rows 4] [--width 256]

A picture to check a shot's passes at a glance; with --take, each take's generated frame
sits beside the passes it was made from.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.bundle import BundleError, read_bundle  # noqa: E402
from engine.bundle.pose import people_keypoints  # noqa: E402

# OpenPose's body limbs (COCO-18 indices) and colours, as OpenPose ControlNets see them.
LIMBS = [(1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12),
         (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17)]
COLOURS = [(255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
           (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
           (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85)]


def draw_pose(document, width, height):
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    radius = max(2, round(min(width, height) / 128))
    for keypoints in people_keypoints(document):
        for index, (a, b) in enumerate(LIMBS):
            if keypoints[a, 2] > 0 and keypoints[b, 2] > 0:
                draw.line([tuple(keypoints[a, :2]), tuple(keypoints[b, :2])], fill=COLOURS[index], width=radius * 2)
        for index, (x, y, confidence) in enumerate(keypoints):
            if confidence > 0:
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=COLOURS[index])
    return image


def mask_colours(mask):
    palette = np.array([(0, 0, 0), (230, 80, 60), (70, 140, 230), (240, 200, 60), (120, 200, 90)], np.uint8)
    return Image.fromarray(palette[np.minimum(mask, len(palette) - 1)])


def object_colours(index):
    """A fixed pseudo-random colour per object id (the same object keeps its colour over time)."""
    rng = np.random.default_rng(0)
    palette = rng.integers(40, 256, size=(int(index.max()) + 1, 3), dtype=np.uint8)
    palette[0] = 0
    return Image.fromarray(palette[index])


def pass_images(bundle, frame):
    """(label, PIL image) for each pass the bundle has at `frame`."""
    images = []
    if bundle.has("depth"):
        images.append(("depth", Image.fromarray((bundle.depth_control(frame) >> 8).astype(np.uint8))))
    if bundle.has("pose"):
        images.append(("pose", draw_pose(bundle.openpose(frame), bundle.width, bundle.height)))
    if bundle.has("shading"):
        images.append(("shading", Image.fromarray(bundle.shading(frame))))
    if bundle.has("normal"):
        images.append(("normal", Image.open(bundle.path("normal", "preview", frame))))
    if bundle.has("mask"):
        images.append(("mask", mask_colours(bundle.actor_mask(frame))))
    if bundle.has("objects"):
        images.append(("objects", object_colours(bundle.object_index(frame))))
    return images


def take_images(take_dir, frame):
    """(label, PIL image) of a take's frame, labelled with the take's folder name."""
    return (Path(take_dir).name, Image.open(Path(take_dir) / "frames" / f"{frame:04d}.png"))


def contact_sheet(bundle, rows=4, cell_width=256, takes=()):
    frames = [bundle.frames[round(i)] for i in np.linspace(0, len(bundle.frames) - 1, min(rows, len(bundle.frames)))]
    cell_height = round(cell_width * bundle.height / bundle.width)
    label_height = 14
    grid = [pass_images(bundle, frame) + [take_images(take, frame) for take in takes] for frame in frames]
    columns = len(grid[0])
    sheet = Image.new("RGB", (columns * cell_width, label_height + len(frames) * cell_height), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for column, (label, _) in enumerate(grid[0]):
        draw.text((column * cell_width + 4, 1), label, fill=(220, 220, 220))
    for row, (frame, images) in enumerate(zip(frames, grid)):
        for column, (_, image) in enumerate(images):
            sheet.paste(image.convert("RGB").resize((cell_width, cell_height)),
                        (column * cell_width, label_height + row * cell_height))
        draw.text((4, label_height + row * cell_height + 2), f"frame {frame}", fill=(255, 255, 255))
    return sheet


def main(argv=None):
    parser = argparse.ArgumentParser(prog="contact_sheet", description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--out", type=Path, help="PNG to write (default: BUNDLE/contact_sheet.png)")
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--width", type=int, default=256, help="width of each cell in pixels")
    parser.add_argument("--take", type=Path, action="append", default=[],
                        help="a take folder made from this bundle: its frames become a column (repeatable)")
    args = parser.parse_args(argv)
    try:
        bundle = read_bundle(args.bundle)
        for take in args.take:
            missing = [f for f in bundle.frames if not (take / "frames" / f"{f:04d}.png").is_file()]
            if missing:
                raise BundleError(f"{take} is not a take of {args.bundle}: it lacks frame(s) {missing[:3]}")
    except BundleError as exc:
        print(f"contact_sheet: error: {exc}", file=sys.stderr)
        return 1
    out = args.out or args.bundle.parent / f"{args.bundle.name}_contact_sheet.png"
    contact_sheet(bundle, args.rows, args.width, args.take).save(out)
    print(f"contact_sheet: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
