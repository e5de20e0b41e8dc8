"""The coverage report in words (bpy-free): the lines the Coverage panel and coverage_report.py print."""


def summary_lines(report):
    """A CoverageReport (addon.coverage) as a few lines a director reads."""
    if report.line is None:
        lines = ["No line of action: the scene needs two actors"]
    else:
        lines = [f"Line of action: {report.line.actor_a} → {report.line.actor_b} ({report.line.reason})"]
    reference = reference_shot(report)
    for index, shot in enumerate(report.shots):
        head = f"Shot {shot.name} ({shot.camera_name}, frames {shot.frames[0]}-{shot.frames[-1]})"
        if report.line is not None:
            head += f": camera {shot.side}" + (" of the line" if shot.side != "on the line" else "")
            if index == reference:
                head += " (sets the side)"
            elif shot.crosses_line:
                head += " — CROSSES THE LINE"
            if shot.side_changes:
                head += "; the camera crosses the line during the shot"
            if len(shot.screen_order) == 2:
                head += f"; {shot.screen_order[0]} screen-left of {shot.screen_order[1]}"
        lines.append(head)
        gazes = [f"{a.name} {a.gaze}" for a in shot.actors if a.framing != "out of frame"]
        if gazes:
            lines.append("  looking: " + ", ".join(gazes))
        if shot.eyeline is not None:
            verdict = {True: "match", False: "MISMATCH", None: "unclear"}[shot.eyeline.match]
            lines.append(f"  eyeline vs {shot.eyeline.previous_shot}: {verdict} — {shot.eyeline.note}")
        for actor in shot.actors:
            if actor.framing == "cut off":
                lines.append(f"  {framing_words(actor)} (frames {', '.join(map(str, actor.frames_cut))})")
    return lines


# Where the frame's edge crosses the legs, from the highest leg joint outside it.
LEG_FRAMINGS = (("hip", "framed above the waist"), ("knee", "framed above the knees"),
                ("ankle", "framed above the ankles"))


def framing_words(actor):
    """An actor the frame edge cuts, in a director's words: a head cut is the alert; legs out of frame
    are an ordinary framing ("Ana framed above the knees"), arms or others out are said plainly."""
    outside = list(actor.joints_outside)
    if actor.head_cut:
        return f"{actor.name} head cut by the frame edge: {body_parts(outside)}"
    framing = next((words for joint, words in LEG_FRAMINGS if any(kp.endswith(joint) for kp in outside)), None)
    others = [kp for kp in outside if not kp.endswith(("hip", "knee", "ankle"))]
    if framing is None:
        return f"{actor.name} partly out of frame: {body_parts(others)}"
    return f"{actor.name} {framing}" + (f"; {body_parts(others)} out of frame" if others else "")


def body_parts(keypoints):
    """"left_knee, right_knee, nose" -> "knees, nose": the sides folded together, in COCO-18 order."""
    parts = {}
    for kp in keypoints:
        part = kp.split("_", 1)[1] if kp.startswith(("left_", "right_")) else kp
        parts[part] = parts.get(part, 0) + 1
    return ", ".join(f"{part}s" if count > 1 else part for part, count in parts.items())


def reference_shot(report):
    """The index of the shot that sets the side: the first one off the line (None: all on it)."""
    return next((index for index, shot in enumerate(report.shots) if shot.side != "on the line"), None)
