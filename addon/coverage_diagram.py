"""The coverage report drawn from above as SVG (bpy-free, stdlib only): a director would rather
look than read. Actors are circles with their eyeline as an arrow and their path dotted; the line
of action is dashed, each side of it tinted; each shot's camera sits at its middle frame with its
frustum, coloured by the side it stands on and marked when it crosses the line."""

import os
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

from .coverage_text import reference_shot

SIDE_COLOURS = {"left": "#2b6cb0", "right": "#dd6b20", "on the line": "#718096"}
CROSSING = "#c53030"
FRUSTUM_M = 2.5               # how far a frustum's edges are drawn, in metres
ACTOR_RADIUS_M = 0.25
WIDTH_PX, MAX_DRAWING_PX, MARGIN_PX, LEGEND_ROW_PX = 720, 640, 48, 18
EYELINE = "#2f855a"
MARKER = "Blockcast coverage diagram"  # in every diagram, so Blockcast replaces only its own files


def _bounds(report):
    points = [p for actor in report.actors for p in [actor.position, *actor.path]]
    for shot in report.shots:
        points += [shot.camera_position, *shot.camera_path]
        points += [[shot.camera_position[0] + FRUSTUM_M * e[0], shot.camera_position[1] + FRUSTUM_M * e[1]]
                   for e in shot.frustum]
    xs, ys = [p[0] for p in points] or [0.0], [p[1] for p in points] or [0.0]
    pad = 0.6
    return min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad


class _Canvas:
    """World metres (Z up, seen from above) to SVG pixels (y down)."""

    def __init__(self, report):
        self.x0, self.y0, x1, y1 = _bounds(report)
        span_x, span_y = max(x1 - self.x0, 1e-6), max(y1 - self.y0, 1e-6)
        self.scale = min((WIDTH_PX - 2 * MARGIN_PX) / span_x, (MAX_DRAWING_PX - 2 * MARGIN_PX) / span_y)
        self.left = MARGIN_PX + ((WIDTH_PX - 2 * MARGIN_PX) - span_x * self.scale) / 2  # centred across
        self.legend_top = int(span_y * self.scale + 2 * MARGIN_PX)
        self.height = self.legend_top + LEGEND_ROW_PX * (len(report.shots) + 2)
        self.y1 = y1

    def at(self, point):
        return (self.left + (point[0] - self.x0) * self.scale, MARGIN_PX + (self.y1 - point[1]) * self.scale)

    def points(self, points):
        return " ".join("{:.1f},{:.1f}".format(*self.at(p)) for p in points)


def _text(xy, label, colour="#1a202c", size=13, anchor="middle", weight="normal"):
    return (f'<text x="{xy[0]:.1f}" y="{xy[1]:.1f}" font-family="sans-serif" font-size="{size}" fill="{colour}" '
            f'text-anchor="{anchor}" font-weight="{weight}">{escape(label)}</text>')


def _line_of_action(canvas, report):
    actors = {a.name: a for a in report.actors}
    a, b = actors.get(report.line.actor_a), actors.get(report.line.actor_b)
    if a is None or b is None:
        return []
    (ax, ay), (bx, by) = a.position, b.position
    dx, dy = bx - ax, by - ay
    length = max((dx * dx + dy * dy) ** 0.5, 1e-9)
    dx, dy = dx / length, dy / length
    far = 100.0
    ends = [[ax - far * dx, ay - far * dy], [bx + far * dx, by + far * dy]]
    svg = []
    for side, normal in (("left", (-dy, dx)), ("right", (dy, -dx))):
        half = ends + [[e[0] + far * normal[0], e[1] + far * normal[1]] for e in reversed(ends)]
        svg.append(f'<polygon points="{canvas.points(half)}" fill="{SIDE_COLOURS[side]}" fill-opacity="0.07"/>')
    svg.append(f'<polyline points="{canvas.points(ends)}" stroke="#4a5568" stroke-width="2" '
               'stroke-dasharray="10 6" fill="none"/>')
    beyond = canvas.at([bx + 1.2 * dx, by + 1.2 * dy])  # past B, clear of the actors
    svg.append(_text((beyond[0], beyond[1] - 8), f"line of action {a.name} → {b.name}", "#4a5568", 12, "start"))
    return svg


def _actor(canvas, actor):
    centre = canvas.at(actor.position)
    tip = canvas.at([actor.position[0] + 0.7 * actor.facing[0], actor.position[1] + 0.7 * actor.facing[1]])
    radius = ACTOR_RADIUS_M * canvas.scale
    return [
        f'<polyline points="{canvas.points(actor.path)}" stroke="#a0aec0" stroke-width="1.5" '
        'stroke-dasharray="2 4" fill="none"/>',
        f'<line x1="{centre[0]:.1f}" y1="{centre[1]:.1f}" x2="{tip[0]:.1f}" y2="{tip[1]:.1f}" stroke="{EYELINE}" '
        'stroke-width="3" marker-end="url(#arrow)"/>',
        f'<circle cx="{centre[0]:.1f}" cy="{centre[1]:.1f}" r="{radius:.1f}" fill="#edf2f7" stroke="#1a202c" '
        'stroke-width="2"/>',
        _text((centre[0], centre[1] + radius + 16), actor.name, weight="bold"),
    ]


def _camera(canvas, shot):
    colour = SIDE_COLOURS[shot.side]
    x, y = shot.camera_position
    wedge = [shot.camera_position] + [[x + FRUSTUM_M * e[0], y + FRUSTUM_M * e[1]] for e in shot.frustum]
    lens = canvas.at(shot.camera_position)
    label = f"{shot.name} ({shot.camera_name})"
    svg = [
        f'<polyline points="{canvas.points(shot.camera_path)}" stroke="{colour}" stroke-width="1.5" '
        'stroke-opacity="0.6" fill="none"/>',
        f'<polygon points="{canvas.points(wedge)}" fill="{colour}" fill-opacity="0.18" stroke="{colour}" '
        'stroke-width="1.5"/>',
        f'<rect x="{lens[0] - 7:.1f}" y="{lens[1] - 7:.1f}" width="14" height="14" fill="{colour}"/>',
        _text((lens[0], lens[1] + 24), label, colour, 13, weight="bold"),
    ]
    if shot.crosses_line:
        svg.append(_text((lens[0], lens[1] + 40), "crosses the line", CROSSING, 12, weight="bold"))
    return svg


def _shot_line(index, shot, reference):
    if index == reference:
        verdict = "sets the side"
    else:
        verdict = "CROSSES THE LINE" if shot.crosses_line else "keeps the side"
        if shot.eyeline is not None and shot.eyeline.match is not None:
            verdict += f"; eyeline {'matches' if shot.eyeline.match else 'MISMATCH'} {shot.eyeline.previous_shot}"
    cut = [a.name for a in shot.actors if a.framing == "cut off"]
    return f"{shot.name}: camera {shot.side}, {verdict}" + (f"; cut off: {', '.join(cut)}" if cut else "")


def _legend(canvas, report):
    """Under the drawing: the colours, then one line per shot."""
    x, y = MARGIN_PX / 2, canvas.legend_top + LEGEND_ROW_PX / 2
    band = [f'<rect y="{canvas.legend_top - LEGEND_ROW_PX / 2}" width="{WIDTH_PX}" height="{canvas.height}" '
            'fill="white"/>']
    if report.line is None:
        return band + [_text((x, y), "no line of action: the scene needs two actors", "#4a5568", 12, anchor="start")]
    svg = band + [_text((x, y), f"blue: left of {report.line.actor_a} → {report.line.actor_b}, orange: right; green "
                 "arrows: eyelines; the first shot off the line sets the side", "#4a5568", 12, anchor="start")]
    for index, shot in enumerate(report.shots):
        colour = CROSSING if shot.crosses_line else SIDE_COLOURS[shot.side]
        svg.append(_text((x, y + LEGEND_ROW_PX * (index + 1)), _shot_line(index, shot, reference_shot(report)), colour, 12, anchor="start"))
    return svg


def coverage_svg(report):
    """The SVG document (a str) of a CoverageReport."""
    canvas = _Canvas(report)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH_PX}" height="{canvas.height}" '
           f'viewBox="0 0 {WIDTH_PX} {canvas.height}">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="6" markerHeight="6" '
           f'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{EYELINE}"/></marker></defs>',
           f"<desc>{MARKER}</desc>",
           f'<rect width="{WIDTH_PX}" height="{canvas.height}" fill="white"/>']
    if report.line is not None:
        svg += _line_of_action(canvas, report)
    for shot in report.shots:
        svg += _camera(canvas, shot)
    for actor in report.actors:
        svg += _actor(canvas, actor)
    svg.append(_text((MARGIN_PX / 2, 24), f"Coverage of {report.scene}, seen from above", size=15,
                     anchor="start", weight="bold"))
    svg += _legend(canvas, report)
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


class DiagramPathError(ValueError):
    """The diagram cannot be written where asked; the message says what to do."""


def is_coverage_diagram(path):
    """Whether the file at `path` is a diagram Blockcast wrote (and may be replaced)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            return MARKER in stream.read(2000)
    except OSError:
        return False


def write_coverage_svg(path, report):
    """Write the report's diagram at `path` through a temporary file renamed into place; a file
    there that Blockcast did not write is never replaced (DiagramPathError)."""
    path = Path(path)
    if path.is_dir():
        raise DiagramPathError(f"{path} is a folder: give the .svg file to write")
    if path.exists() and not is_coverage_diagram(path):
        raise DiagramPathError(f"{path} exists and is not a Blockcast coverage diagram: choose another path")
    if not path.resolve().parent.is_dir():
        raise DiagramPathError(f"{path}: the folder {path.resolve().parent} does not exist")
    handle, temporary = tempfile.mkstemp(dir=path.resolve().parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(coverage_svg(report))
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return path
