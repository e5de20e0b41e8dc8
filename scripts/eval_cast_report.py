"""What scripts/eval_cast.py makes of its takes, without bpy: the mood and reference figures
(numpy), the tables it prints, and the reference part's picture (PIL)."""

import numpy as np

from engine.looks.colour_space import srgb8_to_lab
from engine.looks.measure import palette_distance

SHEET_SCALE = 2              # the reference picture's takes, enlarged (nearest) so pixels stay pixels


def mean_lab(frames):
    lab = srgb8_to_lab(frames.reshape(-1, 3))
    return float(lab[:, 0].mean()), float(lab[:, 2].mean())


def mood_figures(takes, moods):
    """Mean L* and b* per prompt, and at how many seeds night (moods[0]) is both darker and bluer
    than sunny (moods[1]). takes: {label: {seed: (record, frames)}}."""
    means = {label: np.mean([mean_lab(frames) for _, frames in takes[label].values()], axis=0)
             for label in ("no prompt", *moods)}
    night, sunny = (takes[mood] for mood in moods)
    darker_bluer = [all(n < s for n, s in zip(mean_lab(night[seed][1]), mean_lab(sunny[seed][1]))) for seed in night]
    return {"means": {label: {"L": float(m[0]), "b": float(m[1])} for label, m in means.items()},
            "night_darker_and_bluer": sum(darker_bluer), "seeds": len(darker_bluer), "passes": all(darker_bluer)}


def reference_figures(takes, picture, goal):
    """Palette distance of each seed's take to the reference picture, without and with it;
    passes when it is at least `goal` times smaller with it at every seed."""
    ratios = []
    for seed in takes["reference"]:
        without = palette_distance(takes["no prompt"][seed][1], picture)
        with_reference = palette_distance(takes["reference"][seed][1], picture)
        ratios.append({"seed": seed, "without": without, "with": with_reference,
                       "ratio": without / max(with_reference, 1e-9)})
    mean_without, mean_with = (float(np.mean([r[key] for r in ratios])) for key in ("without", "with"))
    return {"seeds": ratios, "min_ratio": min(r["ratio"] for r in ratios),
            "mean_ratio": mean_without / max(mean_with, 1e-9),
            "passes": all(r["ratio"] >= goal for r in ratios)}


def reference_sheet(takes, picture, path):
    """A PNG at `path`: one row per seed — the take's first frame without the reference, with it,
    and the reference — each take labelled with its palette distance to the reference (ΔE units).
    Written to a temp name, then renamed."""
    from PIL import Image, ImageDraw, ImageFont

    height, width = picture.shape[:2]
    tile = (width * SHEET_SCALE, height * SHEET_SCALE)
    font, header = ImageFont.load_default(size=12), 20
    seeds = sorted(takes["reference"])
    sheet = Image.new("RGB", (3 * tile[0], header + len(seeds) * (tile[1] + header)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for row, seed in enumerate(seeds):
        top = header + row * (tile[1] + header)
        cells = (("no reference", takes["no prompt"][seed][1]), ("with reference", takes["reference"][seed][1]))
        for column, (label, frames) in enumerate(cells):
            distance = palette_distance(frames, picture)
            draw.text((column * tile[0] + 4, top - 16), f"seed {seed}, {label}: distance {distance:.1f}",
                      fill="white", font=font)
            sheet.paste(Image.fromarray(frames[0]).resize(tile, Image.NEAREST), (column * tile[0], top))
        sheet.paste(Image.fromarray(picture).resize(tile, Image.NEAREST), (2 * tile[0], top))
    draw.text((2 * tile[0] + 4, 4), "the reference (--reference FILE)", fill="white", font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    sheet.save(partial, format="PNG")
    partial.replace(path)


def _mark(passed):
    return "pass" if passed else "FAIL"


def _table(rows):
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def continuity_table(cont, goals):
    seeds = f"{cont['seeds'][0]}..{cont['seeds'][-1]}"
    return "\n".join([
        f"Continuity: each object's albedo, ΔE76 between shot A and reverse shot B (separate engine runs, "
        f"same look seed; seeds {seeds}; goal ≤ {goals['delta_e']:g}): {_mark(cont['passes'])}",
        _table([("object", "previz mean", "previz max", "Blender, fixed materials")]
               + [(name, f"{row['previz_mean']:.2f}", f"{row['previz_max']:.2f}", f"{row['blender']:.2f}")
                  for name, row in cont["objects"].items()])])


def colour_table(words, actor, goals):
    asked = list(dict.fromkeys(case["asked"] for case in words["cases"]))
    seeds = [case["seed"] for case in words["cases"] if case["asked"] == asked[0]]
    nearest = {(case["asked"], case["seed"]): case["nearest"] or "-" for case in words["cases"]}
    return "\n".join([
        f"Colour words on {actor} ({len(asked)} names x {len(seeds)} seeds): the nearest of the {len(asked)} to "
        f"{actor}'s albedo is the named one in {words['hits']}/{words['total']} = {100 * words['fraction']:.0f} % "
        f"(goal ≥ {100 * goals['colour_words']:.0f} %, chance {100 * words['chance']:.1f} %): {_mark(words['passes'])}",
        _table([("asked", *(f"seed {seed}" for seed in seeds))]
               + [(name, *(nearest[(name, seed)] for seed in seeds)) for name in asked])])


def mood_table(mood):
    return "\n".join([
        f"Mood (same seeds): 'night' darker (L*) and bluer (b*) than 'sunny afternoon' at "
        f"{mood['night_darker_and_bluer']}/{mood['seeds']} seeds: {_mark(mood['passes'])}",
        _table([("prompt", "mean L*", "mean b*")]
               + [(label, f"{m['L']:.1f}", f"{m['b']:.1f}") for label, m in mood["means"].items()])])


def reference_table(ref, goals):
    return "\n".join([
        f"Reference image: the take's palette distance to it (sliced Wasserstein in CIELAB, ΔE units), "
        f"without / with --reference (goal ≥ {goals['reference_ratio']:g}x at every seed): {_mark(ref['passes'])}",
        _table([("seed", "without", "with", "ratio")]
               + [(str(r["seed"]), f"{r['without']:.1f}", f"{r['with']:.1f}", f"{r['ratio']:.2f}")
                  for r in ref["seeds"]]
               + [("mean", f"{sum(r['without'] for r in ref['seeds']) / len(ref['seeds']):.1f}",
                   f"{sum(r['with'] for r in ref['seeds']) / len(ref['seeds']):.1f}", f"{ref['mean_ratio']:.2f}")])])


def tables(result):
    """The tables of the measures in `result` (a run with --parts has only some)."""
    goals = result["goals"]
    made = {"continuity": lambda: continuity_table(result["continuity"], goals),
            "colour_words": lambda: colour_table(result["colour_words"], result["actor"], goals),
            "mood": lambda: mood_table(result["mood"]),
            "reference": lambda: reference_table(result["reference"], goals)}
    return "\n\n".join(table() for key, table in made.items() if key in result)
