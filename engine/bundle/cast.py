"""The cast: every actor and named prop of a scene and its look (bundle 1.2, docs/bundle.md).

One cast belongs to a scene, not to a shot: the add-on writes the same cast into every
shot's bundle, and the engine decides each object's look from the cast and a look seed
only, so an object looks the same in every shot however and in whatever order the shots
are generated. Stdlib only: Blender, the engine and farm tasks all read it.

In bundle.json (optional; a bundle without it has an empty cast):

    "cast": {"look_seed": 7,            # null: each take's seed is its look seed
             "members": [{"name": "Anna", "role": "actor", "objects": ["Anna_body"],
                          "description": "a woman in a long red coat",
                          "references": ["cast/anna-1.png"],  # copied into the bundle
                          "colors": {"Anna_body": "#b3261e"},  # locked albedo, sRGB hex
                          "look_seed": null}]}                 # null: the cast's
"""

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

CAST_DIR = "cast"          # reference images copied into the bundle live here
ROLES = ("actor", "prop")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_MAX_SEED = 2**63 - 1


class CastError(ValueError):
    """The cast in a bundle or a request is malformed; the message names the member."""


def parse_hex(text):
    """'#rrggbb' -> (r, g, b) ints 0..255 (sRGB)."""
    if not isinstance(text, str) or not _HEX.match(text):
        raise CastError(f"colour {text!r} is not #rrggbb")
    return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))


def to_hex(rgb):
    """(r, g, b) 0..255 -> '#rrggbb'."""
    return "#" + "".join(f"{max(0, min(255, int(round(v)))):02x}" for v in rgb)


def _seed(value, what):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_SEED:
        raise CastError(f"{what} {value!r} is not a whole number from 0 to {_MAX_SEED}")
    return value


def _reference_path(text, member):
    """A reference is a plain relative path under cast/: never absolute, never '..'."""
    path = PurePosixPath(text) if isinstance(text, str) else None
    if path is None or path.is_absolute() or ".." in path.parts or "\\" in text or not text \
            or path.parts[0] != CAST_DIR or len(path.parts) < 2:
        raise CastError(f"cast member {member!r}: reference {text!r} must be a path inside the bundle's "
                        f"{CAST_DIR}/ folder")
    return str(path)


@dataclass(frozen=True)
class CastMember:
    name: str                        # the character's or prop's name, as the artist gives it
    role: str                        # "actor" or "prop"
    objects: tuple = ()              # the objects pass's object names that make up this member
    description: str = ""
    references: tuple = ()           # bundle-relative reference images (cast/...)
    colors: dict = field(default_factory=dict)  # object name -> locked albedo "#rrggbb"
    look_seed: int | None = None     # None: the cast's look seed

    def to_json(self):
        return {"name": self.name, "role": self.role, "objects": list(self.objects),
                "description": self.description, "references": list(self.references),
                "colors": dict(self.colors), "look_seed": self.look_seed}

    @classmethod
    def from_json(cls, document):
        if not isinstance(document, dict):
            raise CastError(f"a cast member is {type(document).__name__}, not an object")
        name = document.get("name")
        if not isinstance(name, str) or not name.strip():
            raise CastError("a cast member has no name")
        role = document.get("role", "prop")
        if role not in ROLES:
            raise CastError(f"cast member {name!r}: role {role!r} is not one of {', '.join(ROLES)}")
        objects = document.get("objects", [])
        if not isinstance(objects, list) or not all(isinstance(o, str) and o for o in objects):
            raise CastError(f"cast member {name!r}: objects must be a list of object names")
        description = document.get("description", "")
        if not isinstance(description, str):
            raise CastError(f"cast member {name!r}: description must be text")
        references = document.get("references", [])
        if not isinstance(references, list):
            raise CastError(f"cast member {name!r}: references must be a list of paths")
        colors = document.get("colors", {})
        if not isinstance(colors, dict):
            raise CastError(f"cast member {name!r}: colors must map object names to #rrggbb")
        for object_name, colour in colors.items():
            if object_name not in objects:
                raise CastError(f"cast member {name!r}: a colour is locked for {object_name!r}, "
                                "which is not one of its objects")
            try:
                parse_hex(colour)
            except CastError as exc:
                raise CastError(f"cast member {name!r}: {exc}") from None
        return cls(name=name, role=role, objects=tuple(objects), description=description,
                   references=tuple(_reference_path(r, name) for r in references),
                   colors={str(k): v.lower() for k, v in colors.items()},
                   look_seed=_seed(document.get("look_seed"), f"cast member {name!r}: look_seed"))


@dataclass(frozen=True)
class Cast:
    members: tuple = ()
    look_seed: int | None = None     # None: each take's seed is its look seed

    def to_json(self):
        return {"look_seed": self.look_seed, "members": [member.to_json() for member in self.members]}

    @classmethod
    def from_json(cls, document):
        if document is None:
            return cls()
        if not isinstance(document, dict):
            raise CastError("cast must be an object with look_seed and members")
        members = document.get("members", [])
        if not isinstance(members, list):
            raise CastError("cast members must be a list")
        parsed = tuple(CastMember.from_json(member) for member in members)
        names = [member.name for member in parsed]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise CastError(f"cast names {', '.join(map(repr, duplicates))} are used twice: give each its own name")
        owners = {}
        for member in parsed:
            for object_name in member.objects:
                if object_name in owners:
                    raise CastError(f"object {object_name!r} belongs to both {owners[object_name]!r} and "
                                    f"{member.name!r}: an object has one look")
                owners[object_name] = member.name
        return cls(members=parsed, look_seed=_seed(document.get("look_seed"), "cast look_seed"))

    def checked(self):
        """This cast as a bundle reader would accept it (CastError naming the member otherwise):
        a cast built from values is validated by the same rules as one read from bundle.json."""
        return Cast.from_json(self.to_json())

    def member(self, name):
        return next((member for member in self.members if member.name == name), None)

    def member_of_object(self, object_name):
        """The member an object belongs to, or None (an object nobody named)."""
        return next((member for member in self.members if object_name in member.objects), None)

    def look_seed_of(self, member, take_seed):
        """The seed of a member's look: its own, else the cast's, else the take's."""
        for seed in (member.look_seed if member is not None else None, self.look_seed):
            if seed is not None:
                return seed
        return take_seed
