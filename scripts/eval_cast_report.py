"""The tables scripts/eval_cast.py prints, from its figures (plain Python, no bpy)."""


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
    goals = result["goals"]
    return "\n\n".join([continuity_table(result["continuity"], goals),
                        colour_table(result["colour_words"], result["actor"], goals),
                        mood_table(result["mood"]), reference_table(result["reference"], goals)])
