"""Each object's look, decided from the cast, the look seed and the object's name only.

Never from the shot (its framing, which objects it sees) nor from the order shots are
generated in: that is what keeps an actor's look in every shot of the scene. Per object,
the first that applies:
  1. a colour locked in the cast (CastMember.colors),
  2. a colour word in its member's description (engine.looks.colours),
  3. the dominant colour of its member's reference image,
  4. a colour of the shot's reference image, drawn with a generator seeded by
     (look seed, object name), weighted by the colour's share of the image,
  5. the model's own choice (the previz backend samples it, conditioned on 1-3).
"""

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .colours import object_words, read_description
from .palette import dominant_colours

SOURCES = ("locked", "description", "member reference", "shot reference", "model")


def object_seed(look_seed, object_name, salt=""):
    """A 63-bit seed from (look seed, object name): the same object, the same seed, in every shot."""
    digest = hashlib.sha256(f"{int(look_seed)}\0{object_name}\0{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass
class ObjectLook:
    name: str
    member: str | None      # the cast member it belongs to, or None
    role: str               # "actor" or "prop"
    look_seed: int
    colour: str | None      # "#rrggbb" sRGB albedo when decided here; None: the model chooses
    source: str             # one of SOURCES


@dataclass
class LookPlan:
    look_seed: int                                   # the scene's (cast's, else the take's)
    objects: dict = field(default_factory=dict)      # object name -> ObjectLook
    understood: list = field(default_factory=list)
    ignored: list = field(default_factory=list)

    def known(self):
        """[(object name, role, '#rrggbb')] the cast itself fixes (sources 1-3), sorted by name:
        scene-wide, so conditioning the model on them keeps the look the same in every shot."""
        return [(look.name, look.role, look.colour) for name, look in sorted(self.objects.items())
                if look.source in SOURCES[:3]]

    def undecided(self):
        return [look for name, look in sorted(self.objects.items()) if look.colour is None]


def check_cast(cast, object_names):
    """Problems (sentences) of a cast against a bundle's objects pass: locked colours or colour
    words for objects the scene does not render. Empty when fine or without an objects pass."""
    if not object_names:
        return []
    present, problems = set(object_names), []
    for member in cast.members:
        for object_name in member.colors:
            if object_name not in present:
                problems.append(f"cast member {member.name!r} locks a colour for {object_name!r}, which is not "
                                "in the bundle's objects pass: rename it to a rendered object or unlock it")
        if read_description(member.description).colours and not present.intersection(member.objects):
            problems.append(f"cast member {member.name!r}'s description names a colour, but none of its objects "
                            f"({', '.join(member.objects) or 'none'}) is in the bundle's objects pass: add its "
                            "objects in the Cast panel and re-export")
    return problems


def _member_reference_colour(images):
    """Dominant colour of the central half of the member's first reference image."""
    image = images[0]
    width, height = image.size
    centre = image.crop((width // 4, height // 4, width - width // 4, height - height // 4))
    return dominant_colours(centre)[0][0]


def _decide_member(member, names, plan, references):
    """Colours for a member's objects from sources 1-3; notes what was understood and ignored."""
    colours = {name: (member.colors[name], "locked") for name in names if name in member.colors}
    for name in colours:
        plan.understood.append(f"locked {colours[name][0]} → {name}")
    reading = read_description(member.description)
    open_names = [name for name in names if name not in colours]
    general = None
    for word in reading.colours:
        matched = [name for name in open_names if name not in colours and set(word.nouns) & object_words(name)]
        for name in matched:
            colours[name] = (word.colour, "description")
            plan.understood.append(f"{word.phrase} → {member.name} ({name})")
        if not matched and general is None:
            general = word
        elif not matched:
            plan.ignored.append(f'"{word.phrase}" in {member.name}\'s description (a colour is already chosen)')
    rest = [name for name in open_names if name not in colours]
    if general is not None:
        if rest:
            colours.update({name: (general.colour, "description") for name in rest})
            noun = f" ({' '.join(general.nouns)})" if general.nouns else ""
            plan.understood.append(f"{general.phrase} → {member.name}{noun}")
        else:
            plan.ignored.append(f'"{general.phrase}" in {member.name}\'s description (every object has a colour)')
    if reading.not_understood:
        words = ", ".join(f'"{w}"' for w in dict.fromkeys(reading.not_understood))
        plan.ignored.append(f"{words} in {member.name}'s description")
    rest = [name for name in open_names if name not in colours]
    if rest and references.get(member.name):
        colour = _member_reference_colour(references[member.name])
        hex_colour = "#" + "".join(f"{int(v):02x}" for v in colour)
        colours.update({name: (hex_colour, "member reference") for name in rest})
        plan.understood.append(f"reference → {member.name}")
    return colours


def plan_looks(cast, object_names, take_seed, references=None, shot_reference=None):
    """The LookPlan of every object of the objects pass (object_names), for one take."""
    references = references or {}
    plan = LookPlan(look_seed=cast.look_seed_of(None, take_seed))
    decided = {}
    for member in cast.members:
        names = [name for name in member.objects if name in object_names]
        decided.update(_decide_member(member, names, plan, references))
    palette = dominant_colours(shot_reference) if shot_reference is not None else None
    drawn = 0
    for name in object_names:
        member = cast.member_of_object(name)
        seed = cast.look_seed_of(member, take_seed)
        colour, source = decided.get(name, (None, "model"))
        if colour is None and palette is not None:
            rng = np.random.default_rng(object_seed(seed, name, "palette"))
            shares = np.array([share for _, share in palette])
            chosen = palette[int(rng.choice(len(palette), p=shares / shares.sum()))][0]
            colour, source, drawn = "#" + "".join(f"{int(v):02x}" for v in chosen), "shot reference", drawn + 1
        plan.objects[name] = ObjectLook(name, member.name if member else None, member.role if member else "prop",
                                        seed, colour, source)
    if palette is not None:
        plan.understood.append(f"shot reference → palette of {drawn} object(s) and the grade")
    return plan
