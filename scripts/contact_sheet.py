"""Contact sheet of a pass bundle: one row per sampled frame, one column per pass.

    python scripts/contact_sheet.py BUNDLE [--take TAKE_DIR ...] [--out sheet.png] [--rows 4] [--width 256]
    python scripts/contact_sheet.py --shots TAKE_DIR TAKE_DIR ... --out sheet.png     (one take per shot)

A picture to check a shot's passes at a glance; with --take, each take's generated frame
sits beside the passes it was made from. With --shots, takes of different shots of one
scene sit side by side (each shot's objects pass and frames) under the cast: each member's
name, description and the look it got in each take, so a continuity break shows at once.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.bundle import BundleError, read_bundle  # noqa: E402
from engine.bundle.cast import parse_hex  # noqa: E402
from engine.bundle.pose import people_keypoints  # noqa: E402
from engine.bundle.take_record import TakeRecordError, read_take  # noqa: E402

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


def _sampled(frames, rows):
    return [frames[round(i)] for i in np.linspace(0, len(frames) - 1, min(rows, len(frames)))]


def contact_sheet(bundle, rows=4, cell_width=256, takes=()):
    frames = _sampled(bundle.frames, rows)
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


def read_shot_take(take_dir):
    """(bundle, TakeRecord) of a take folder, its bundle found through the take's record."""
    try:
        record = read_take(take_dir)
    except TakeRecordError as exc:
        raise BundleError(f"{take_dir} is not a take folder with a readable take record ({exc})") from None
    return read_bundle(record.bundle.path), record


def _looks(record):
    return record.look.objects if record.look is not None else {}


def _look_colours(shots, objects):
    """Per shot, the first of `objects` whose look the take recorded (sRGB), else None."""
    colours = []
    for _, record, _ in shots:
        looks = _looks(record)
        colour = next((looks[o] for o in objects if o in looks), None)
        colours.append(parse_hex(colour) if colour else None)
    return colours


def cast_rows(shots):
    """([(name, role, description, [look colour per shot])] for every cast member of the first
    shot's bundle (its actors when it has no cast), [(object, [look colour per shot])] for the
    objects nobody put in the cast, which have a look too)."""
    bundle = shots[0][0]
    members = [(m.name, m.role, m.description, m.objects) for m in bundle.cast.members] or [
        (a.name, "actor", a.description, ()) for a in bundle.actors]
    rows = [(name, role, description, _look_colours(shots, objects)) for name, role, description, objects in members]
    owned = {o for m in bundle.cast.members for o in m.objects}
    looked = dict.fromkeys(o for _, record, _ in shots for o in _looks(record))
    others = [(name, _look_colours(shots, [name])) for name in looked if name not in owned]
    return rows, others


def _draw_swatches(draw, x, y, colours, size=16):
    """One square per shot (crossed out where a take recorded no look); returns the x after them."""
    for colour in colours:
        box = [x, y, x + size, y + size]
        draw.rectangle(box, fill=colour or (24, 24, 24), outline=(200, 200, 200))
        if colour is None:
            draw.line(box, fill=(200, 200, 200))
        x += size + 4
    return x


def shots_sheet(shots, rows=4, cell_width=256):
    """Shots side by side: per shot (bundle, TakeRecord, take folder) its objects pass and generated
    frames, one row per sampled frame (by position in each shot), and the cast with each member's
    look per take above."""
    font = ImageFont.load_default(size=13)
    height_of = lambda bundle: round(cell_width * bundle.height / bundle.width)  # noqa: E731
    cell_height = max(height_of(bundle) for bundle, _, _ in shots)
    members, others = cast_rows(shots)
    width, line, label_height = 2 * cell_width * len(shots), 20, 18
    other_width = [int(font.getlength(name)) + 12 + 20 * len(shots) for name, _ in others]
    other_lines, x = (1 if others else 0), 6
    for item in other_width:  # how many wrapped lines the other objects take
        if x + item > width and x > 6:
            other_lines, x = other_lines + 1, 6
        x += item
    cast_height = 8 + line * (len(members) + 1 + other_lines)
    row_count = min(rows, min(len(bundle.frames) for bundle, _, _ in shots))
    sheet = Image.new("RGB", (width, cast_height + label_height + row_count * cell_height), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    seeds = ", ".join(f"{bundle.name}: look seed {record.seed if record.look is None else record.look.look_seed}"
                      for bundle, record, _ in shots)
    draw.text((6, 4), f"cast: its look in each shot ({seeds})", font=font, fill=(235, 235, 235))
    for index, (name, role, description, colours) in enumerate(members):
        y = 4 + line * (index + 1)
        x = _draw_swatches(draw, 6, y, colours)
        draw.text((x + 4, y + 1), f"{name} ({role}): {description or 'no description'}", font=font,
                  fill=(235, 235, 235))
    x, y = 6, 4 + line * (len(members) + 1)
    for (name, colours), item in zip(others, other_width):
        if x + item > width and x > 6:
            x, y = 6, y + line
        end = _draw_swatches(draw, x, y, colours)
        draw.text((end, y + 1), name, font=font, fill=(190, 190, 190))
        x += item
    top = cast_height + label_height
    for number, (bundle, _, take) in enumerate(shots):
        left = 2 * cell_width * number
        take = Path(take)
        draw.text((left + 4, cast_height + 2), f"shot {bundle.name} ({bundle.record.shot.camera}): "
                  "objects | take", font=font, fill=(235, 235, 235))
        for row, frame in enumerate(_sampled(bundle.frames, row_count)):
            size = (cell_width, height_of(bundle))
            images = [object_colours(bundle.object_index(frame)) if bundle.has("objects")
                      else Image.fromarray(bundle.shading(frame)),
                      Image.open(take / "frames" / f"{frame:04d}.png")]
            for column, image in enumerate(images):
                sheet.paste(image.convert("RGB").resize(size), (left + column * cell_width, top + row * cell_height))
            draw.text((left + 4, top + row * cell_height + 2), f"frame {frame}", font=font, fill=(255, 255, 255))
    return sheet


def check_take(bundle, take):
    missing = [f for f in bundle.frames if not (Path(take) / "frames" / f"{f:04d}.png").is_file()]
    if missing:
        raise BundleError(f"{take} is not a take of {bundle.root}: it lacks frame(s) {missing[:3]}")


def main_shots(args, parser):
    if len(args.shots) < 2:
        parser.error("--shots needs at least two take folders (one per shot)")
    try:
        shots = []
        for take in args.shots:
            bundle, record = read_shot_take(take)
            check_take(bundle, take)
            shots.append((bundle, record, take))
    except BundleError as exc:
        print(f"contact_sheet: error: {exc}", file=sys.stderr)
        return 1
    shots_sheet(shots, args.rows, args.width).save(args.out)
    print(f"contact_sheet: wrote {args.out}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="contact_sheet", description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, nargs="?", help="the bundle (omit with --shots)")
    parser.add_argument("--shots", type=Path, nargs="+",
                        help="take folders of different shots of one scene, side by side with the cast")
    parser.add_argument("--out", type=Path, help="PNG to write (default: BUNDLE/contact_sheet.png)")
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--width", type=int, default=256, help="width of each cell in pixels")
    parser.add_argument("--take", type=Path, action="append", default=[],
                        help="a take folder made from this bundle: its frames become a column (repeatable)")
    args = parser.parse_args(argv)
    if args.shots:
        if args.out is None or args.bundle is not None or args.take:
            parser.error("--shots takes no BUNDLE or --take, and needs --out")
        return main_shots(args, parser)
    if args.bundle is None:
        parser.error("give a BUNDLE, or --shots TAKE_DIR TAKE_DIR")
    try:
        bundle = read_bundle(args.bundle)
        for take in args.take:
            check_take(bundle, take)
    except BundleError as exc:
        print(f"contact_sheet: error: {exc}", file=sys.stderr)
        return 1
    out = args.out or args.bundle.parent / f"{args.bundle.name}_contact_sheet.png"
    contact_sheet(bundle, args.rows, args.width, args.take).save(out)
    print(f"contact_sheet: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
