"""The scene's cast as the bundle carries it, built from plain values (bpy-free).

`addon/blender/cast.py` gathers the values from the scene (the Cast panel's stored data and
the actors' custom properties) and this module turns them into one `engine.bundle.cast.Cast`
plus the reference images to copy into the bundle's `cast/` folder. Nothing here depends on
the shot, so every shot of a scene carries the same cast.

Stored values (`scene.blockcast_cast`, read as plain dicts so a .blend exports headless
without the add-on registered; keys the artist never set are absent and take the defaults):

    {"use_look_seed": 0|1, "look_seed": int,
     "members": [{"name": str, "role": 0 (actor) | 1 (prop), "actor": armature name | None,
                  "description": str,                       # props; an actor's lives on its armature
                  "objects": [{"object": name | None, "use_color": 0|1, "color": [r, g, b] sRGB 0..1}],
                  "references": [{"filepath": absolute path}], "use_look_seed": 0|1, "look_seed": int}]}
"""

import os
import struct
from dataclasses import dataclass, field, replace

from ..engine.bundle.cast import CAST_DIR, Cast, CastError, CastMember, to_hex
from .take_folders import safe_name

ROLE_NUMBERS = {"actor": 0, "prop": 1}  # how the panel's Role enum is stored in the .blend
ROLE_NAMES = {number: role for role, number in ROLE_NUMBERS.items()}
# The engine's own limits (engine/looks/references.py), so no export passes an image the engine refuses.
MAX_REFERENCE_BYTES = 64 * 2**20
MAX_REFERENCE_PIXELS = 50_000_000


class CastInputError(ValueError):
    """The cast cannot be exported as set up; the message names the member and what to do."""


@dataclass(frozen=True)
class ActorValues:
    """One actor of the scene as its armature's custom properties describe it."""

    armature: str
    name: str
    description: str
    meshes: tuple


@dataclass(frozen=True)
class ReferenceCopy:
    """A reference image to copy into the bundle: `source` (a checked file) -> `relative`."""

    source: str
    relative: str


def _png_size(data):
    if len(data) < 33 or data[12:16] != b"IHDR" or data[-8:-4] != b"IEND":
        return None  # no header, or cut short (a PNG ends with its IEND chunk)
    return struct.unpack(">II", data[16:24])


def _jpeg_size(data):
    if not data.endswith(b"\xff\xd9"):
        return None  # cut short: a JPEG ends with its EOI marker
    pos = 2
    while pos + 9 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start-of-frame segment
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height
        pos += 2 + length
    return None


def check_reference_image(path, where):
    """The image type ("png" or "jpg") of a reference file that exists, is a whole PNG or JPEG and
    is not huge; CastInputError otherwise. `where` names the field in the user's words."""
    try:
        size = os.path.getsize(path)
        if size > MAX_REFERENCE_BYTES:
            raise CastInputError(f"{where}: {path} is {size / 2**20:.0f} MiB, larger than the "
                                 f"{MAX_REFERENCE_BYTES // 2**20} MiB a reference may be: pick a smaller image")
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise CastInputError(f"{where}: {path} does not exist: pick the image again") from None
    except IsADirectoryError:
        raise CastInputError(f"{where}: {path} is a folder: pick an image file") from None
    except OSError as exc:
        raise CastInputError(f"{where}: {path} cannot be read ({exc.strerror}): pick another image") from None
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind, dimensions = "png", _png_size(data)
    elif data.startswith(b"\xff\xd8"):
        kind, dimensions = "jpg", _jpeg_size(data)
    else:
        raise CastInputError(f"{where}: {path} is not a PNG or JPEG image: pick a .png or .jpg file")
    if dimensions is None or 0 in dimensions:
        raise CastInputError(f"{where}: {path} is damaged (cut short or unreadable): pick the image again")
    if dimensions[0] * dimensions[1] > MAX_REFERENCE_PIXELS:
        raise CastInputError(f"{where}: {path} is {dimensions[0]}x{dimensions[1]} pixels, more than "
                             f"{MAX_REFERENCE_PIXELS // 1_000_000} MP: pick a smaller image")
    return kind


def _look_seed(values):
    return int(values.get("look_seed", 0)) if values.get("use_look_seed") else None


def _colors(member_name, entries, objects):
    colors = {}
    for entry in entries:
        name = entry.get("object")
        if not entry.get("use_color") or name is None:
            continue
        if name not in objects:
            raise CastInputError(f"Cast panel: {member_name} has a locked colour for {name!r}, which is not one "
                                 f"of its objects: untick Lock Colour on it or add it back to {member_name}")
        colors[name] = to_hex(255 * float(c) for c in entry.get("color", (0.8, 0.8, 0.8)))
    return colors


@dataclass
class _MemberDraft:
    """A member gathered from the scene, before its reference images have their bundle names."""

    member: CastMember
    armature: str | None
    reference_files: list = field(default_factory=list)


def _actor_draft(actor, stored):
    """An actor's draft: name, description and meshes from its armature, its look from `stored`
    (its Cast panel entry; {} for an actor the panel never listed)."""
    objects = tuple(actor.meshes)
    name = actor.name or actor.armature
    member = CastMember(name=name, role="actor", objects=objects, description=actor.description,
                        colors=_colors(name, stored.get("objects", []), objects), look_seed=_look_seed(stored))
    return _MemberDraft(member, actor.armature, _reference_files(stored))


def _reference_files(stored):
    return [reference["filepath"] for reference in stored.get("references", []) if reference.get("filepath")]


def _member_draft(stored, actors_by_armature):
    """The draft of one stored member; None for one with nothing left in the scene
    (an actor whose armature is gone or no longer renders, a prop whose objects are all gone). An
    actor found is taken out of `actors_by_armature`: it is listed once."""
    role = ROLE_NAMES.get(int(stored.get("role", ROLE_NUMBERS["prop"])), "prop")
    if role == "actor":
        actor = actors_by_armature.pop(stored.get("actor"), None)
        return None if actor is None else _actor_draft(actor, stored)
    name, description = stored.get("name", ""), stored.get("description", "")
    objects = list(dict.fromkeys(entry["object"] for entry in stored.get("objects", []) if entry.get("object")))
    if not objects:
        return None
    if not name.strip():
        raise CastInputError(f"Cast panel: the prop made of {', '.join(objects)} has no name: give it one")
    member = CastMember(name=name, role=role, objects=tuple(objects), description=description,
                        colors=_colors(name, stored.get("objects", []), objects), look_seed=_look_seed(stored))
    return _MemberDraft(member, None, _reference_files(stored))


def _reference_copies(drafts):
    """Check every member's reference files and give each a deterministic name under cast/."""
    copies, used = [], set()
    for draft in drafts:
        stem = safe_name(draft.member.name).lower()
        while stem in used:
            stem += "_"
        used.add(stem)
        references = []
        for number, source in enumerate(draft.reference_files, start=1):
            kind = check_reference_image(source, f"Cast panel: {draft.member.name}'s reference image")
            relative = f"{CAST_DIR}/{stem}-{number}.{kind}"
            copies.append(ReferenceCopy(source, relative))
            references.append(relative)
        draft.member = replace(draft.member, references=tuple(references))
    return copies


def _distinct_actor_names(drafts):
    """Two actors given the same name (allowed before the cast existed) keep exporting: the later
    one is told apart by its armature's name."""
    seen = set()
    for draft in (d for d in drafts if d.member.role == "actor"):
        if draft.member.name in seen:
            draft.member = replace(draft.member, name=f"{draft.member.name} ({draft.armature})")
        seen.add(draft.member.name)


def build_cast(stored, actors):
    """(Cast, [ReferenceCopy]) for a scene: its stored cast (None: the add-on never stored one) and
    its actors. Actors without a cast entry join with their description and no locked look, so files
    made before the Cast panel export their descriptions as before. Order: the stored members, then
    the other actors in the scene's actor order. Raises CastInputError."""
    stored = stored or {}
    actors_by_armature = {actor.armature: actor for actor in actors}
    drafts = [draft for draft in (_member_draft(member, actors_by_armature)
                                  for member in stored.get("members", [])) if draft is not None]
    drafts += [_actor_draft(actor, {}) for actor in actors if actor.armature in actors_by_armature]
    _distinct_actor_names(drafts)
    copies = _reference_copies(drafts)
    try:
        cast = Cast(members=tuple(draft.member for draft in drafts), look_seed=_look_seed(stored)).checked()
    except CastError as exc:
        raise CastInputError(f"Cast panel: {exc}") from None
    return cast, copies
