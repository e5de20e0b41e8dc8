"""The engine's backends report (`python -m engine backends --json`) read for the add-on
(bpy-free): which backend a shot uses, which passes Generate exports for it, which control
weights and request fields it takes, whether it can continue a take (Continue From Previous Shot).

The report is the engine's own account of its backends, asked through
engine_process.check_engine, so the add-on never keeps its own copy of a backend's rules;
without a report every helper here falls back to the artist's choice and the engine judges it.
"""

import re

CONTINUE_CHECKBOX = "Continue From Previous Shot"  # the Generate panel's checkbox (ui/properties.py)
# The engine's refusal (engine/generate.py checked_carry_over), for an engine asked before any report.
_ENGINE_CANNOT_CONTINUE = re.compile(r"--continue-from: (\S+) cannot continue a take"
                                     r"(?:.*\(e\.g\. ([^)]+)\))?")


def report_default_backend(report):
    """The backend the engine uses when none is named, from its `backends --json` report; "" if unknown."""
    entries = (report or {}).get("backends", [])
    return next((entry["name"] for entry in entries if entry.get("default")), "")


def generation_backend(shot_backend, preferred_backend, report):
    """The backend a shot is generated with: its own, else the preferences' default, else the
    engine's; "" leaves the choice to the engine (when it could not be asked)."""
    return shot_backend or preferred_backend or report_default_backend(report)


def backend_entry(report, backend):
    """The report's entry for `backend`; None without a report or when it does not list the backend."""
    entries = (report or {}).get("backends", [])
    return next((entry for entry in entries if entry["name"] == backend), None)


def control_passes(report, backend, weights=None):
    """The passes the controls a take uses read (the report entry's `control_passes`: edges reads depth
    and objects), and with several controls its `composite_passes` (VACE's composite: the mask pass).
    `weights` are the request's (None: the backend's `default_weights`); a weight of 0 drops a control."""
    entry = backend_entry(report, backend) or {}
    used = [kind for kind, weight in (entry.get("default_weights", {}) if weights is None else weights).items()
            if weight and kind in entry.get("controls", [])]
    needed = [name for kind in used for name in entry.get("control_passes", {}).get(kind, [])]
    return needed + (entry.get("composite_passes", []) if len(used) > 1 else [])


def added_passes(chosen, report, backend, with_references=False, weights=None):
    """The bundle passes `backend` cannot do without (its report entry's `passes`, with cast
    references its `reference_passes`, e.g. the objects pass that places each reference, and those
    the take's controls read: control_passes) that `chosen` lacks; none when the report is missing
    or does not list the backend."""
    entry = backend_entry(report, backend) or {}
    needed = (entry.get("passes", []) + (entry.get("reference_passes", []) if with_references else [])
              + control_passes(report, backend, weights))
    return [name for name in dict.fromkeys(needed) if name not in chosen]


def passes_to_export(chosen, report, backend, with_references=False, weights=None):
    """The artist's passes plus those `backend` and the take's control `weights` need, so Generate
    never exports a bundle the backend refuses. Without a report, the chosen ones alone: the engine
    then says what is missing."""
    return list(chosen) + added_passes(chosen, report, backend, with_references, weights)


def weighted_controls(offered, report, backend):
    """The controls of `offered` (those the add-on has weight settings for) whose weights the artist
    may set for `backend`: the ones it accepts, and none when it needs every control it accepts
    (previz: a weight could only switch a needed control off, which it refuses). A control reads
    the bundle pass of its name, so the needed ones are those among the entry's `passes`. Without
    a report, or for a backend it does not list, all of `offered`: the engine then says what it refuses."""
    entry = backend_entry(report, backend)
    if entry is None or "controls" not in entry:
        return list(offered)
    accepted = entry["controls"]
    if set(accepted) <= set(entry.get("passes", [])):
        return []
    return [kind for kind in offered if kind in accepted]


def control_weights(weights, report, backend):
    """The artist's weights (None: the backend's defaults) for the controls `backend` lets them set,
    so a request never names a control the backend refuses (previz takes no pose); None when none is left."""
    if weights is None:
        return None
    allowed = weighted_controls(weights, report, backend)
    return {kind: weight for kind, weight in weights.items() if kind in allowed} or None


def ignored_fields(report, backend):
    """The request fields `backend` does not use (its report entry's `ignores`: prompt,
    negative_prompt, guidance, references, shot_reference, descriptions); none without a report."""
    return set((backend_entry(report, backend) or {}).get("ignores", []))


def no_weights_note(report, backend):
    """Why no control weights are offered for `backend` (where weighted_controls gives none)."""
    controls = (backend_entry(report, backend) or {}).get("controls", [])
    if not controls:
        return f"{backend} takes no controls; no weights"
    return f"{backend} uses {', '.join(controls)}; no weights"


def _either(names):
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def continuing_backends(report):
    """The backends the report says can continue a take (their `carry_frames` above 0), in its order."""
    return [entry["name"] for entry in (report or {}).get("backends", []) if entry.get("carry_frames")]


def continue_problem(report, backend):
    """Why Continue From Previous Shot cannot go with `backend`, in the panel's words (its report
    entry's carry_frames is 0), naming the backends that can; None when it can, and without a
    report, for a backend it does not list or from an engine that reports no carry_frames: the
    engine then judges."""
    entry = backend_entry(report, backend)
    if entry is None or entry.get("carry_frames", 1):
        return None
    able = continuing_backends(report)
    choose = f", or choose {_either(able)} as Backend" if able else " (no backend of this engine can)"
    return f"{CONTINUE_CHECKBOX}: the {backend} backend cannot continue a take — untick {CONTINUE_CHECKBOX}{choose}"


def in_panel_words(message):
    """An engine error as the panel says it: the engine's --continue-from refusal (a backend that
    cannot continue a take, met when no report told the add-on beforehand) becomes the checkbox's
    words; any other message stays as the engine said it."""
    found = _ENGINE_CANNOT_CONTINUE.search(message or "")
    if found is None:
        return message
    backend, example = found.groups()
    example = f" (e.g. {example})" if example else ""
    return (f"{CONTINUE_CHECKBOX}: the {backend} backend cannot continue a take — untick "
            f"{CONTINUE_CHECKBOX}, or choose a backend that can{example} as Backend")
