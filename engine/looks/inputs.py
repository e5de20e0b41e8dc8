"""The cast's inputs of one generate command, read and checked before any model loads:
every member's reference images (through Bundle.inside, so a bundle.json cannot make the
engine read elsewhere), the shot's --reference image, locked colours and colour words
against the bundle's objects; and what the chosen backend will not use of the request.
"""

from dataclasses import dataclass, field

from ..bundle.request import IGNORABLE_INPUTS
from .plan import check_cast
from .references import load_reference



class CastInputError(ValueError):
    """The cast or a reference image cannot be used; the message says what to do."""


@dataclass
class CastInputs:
    object_names: list = field(default_factory=list)
    references: dict = field(default_factory=dict)       # member name -> [PIL RGB images]
    reference_files: dict = field(default_factory=dict)  # member name -> [bundle-relative paths]
    shot_reference: object = None                        # PIL RGB image, or None
    shot_reference_path: str | None = None


def read_cast_inputs(bundle, shot_reference_path=None):
    """CastInputs of a bundle and an optional --reference FILE; CastInputError on the first
    problem (a missing, unreadable or huge image; a colour for an object not rendered)."""
    from ..bundle import BundleError

    inputs = CastInputs(object_names=bundle.object_names())
    problems = check_cast(bundle.cast, inputs.object_names)
    if problems:
        raise CastInputError(problems[0] if len(problems) == 1 else
                             f"{len(problems)} cast problems: " + "; ".join(problems))
    for member in bundle.cast.members:
        images = []
        for relative in member.references:
            what = f"cast member {member.name!r}'s reference {relative}"
            try:
                path = bundle.inside(relative)
            except BundleError as exc:
                raise CastInputError(str(exc)) from None
            if not path.is_file():
                raise CastInputError(f"{what} is missing from the bundle {bundle.root}: re-export the shot's passes "
                                     "(the export copies the cast's reference images)")
            images.append(load_reference(path, what))
        if images:
            inputs.references[member.name] = images
            inputs.reference_files[member.name] = list(member.references)
    if shot_reference_path is not None:
        inputs.shot_reference = load_reference(shot_reference_path, "--reference FILE")
        inputs.shot_reference_path = str(shot_reference_path)
    return inputs


def unused_by_backend(backend, request, inputs, cast):
    """['negative prompt (previz does not use it)', ...]: what the user gave that the
    backend's `ignores` says it drops."""
    given = request.given_inputs(cast_references=bool(inputs.references),
                                 descriptions=any(member.description.strip() for member in cast.members))
    return [f"{IGNORABLE_INPUTS[name]} ({backend.name} does not use it)" for name in backend.ignores if name in given]
