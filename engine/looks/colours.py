"""Colour words in free text: "a woman in a long red coat" -> red (#e50000), for the coat.

The vocabulary is the XKCD colour survey's 949 names (CC0, xkcd_colours.tsv beside this
file), which already holds most modified names ("dark red", "pale blue"); a modifier in
front of a name that has no entry of its own (light, dark, pale, deep, bright) moves the
colour in CIELAB. A few survey names that are mostly other words in a description
("rose", "sky", "dark", "tea") or slurs of taste are left out, so "a woman by the sea"
does not paint her sea blue. Words that are neither colours, modifiers, the thing a
colour is said of, nor small words are reported back as not understood.
"""

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .colour_space import hex_to_srgb8, lab_to_srgb8, srgb8_to_hex, srgb8_to_lab

VOCABULARY_FILE = Path(__file__).resolve().parent / "xkcd_colours.tsv"
MODIFIERS = ("light", "dark", "pale", "deep", "bright")
# (lightness shift, chroma factor) in CIELAB for a modifier without its own survey entry
_MODIFIER_SHIFTS = {"light": (15, 0.9), "dark": (-18, 1.0), "pale": (14, 0.55), "deep": (-10, 1.15),
                    "bright": (5, 1.3)}
# Survey names left out as single words: other meanings first, or words a description uses otherwise.
_NOT_ALONE = {"dark", "pale", "rose", "rosa", "sky", "sea", "tea", "pea", "ice", "earth", "forest", "ocean", "desert",
              "swamp", "bland", "drab", "dust", "marine", "camo", "iris", "royal", "twilight", "dusk", "midnight",
              "sepia", "barney", "heather", "hazel", "adobe", "bile", "booger", "poo", "poop", "puke", "shit", "snot",
              "vomit", "diarrhea", "bruise", "velvet", "leaf", "pine", "dirt", "mud", "bluish", "greenish",
              "greyish", "brownish", "pinkish", "purplish", "reddish", "yellowish", "orangish", "orangeish",
              "tealish", "purpley", "purply", "pinky", "purpleish", "burple", "blurple", "liliac", "toupe",
              "perrywinkle", "ocre", "terracota", "creme", "azul", "rouge"}
STOPWORDS = {"a", "an", "the", "in", "on", "of", "with", "and", "or", "her", "his", "their", "its", "is", "are",
             "at", "to", "for", "from", "by", "who", "that", "this", "has", "have", "wearing", "wears", "very",
             "some", "one", "two", "colour", "color", "coloured", "colored", "s", "into", "over", "under", "as"}
_NOUN_LOOKAHEAD = 2        # content words after a colour that say what it is the colour of


def normalise(text):
    """Lower-case words, British/American 'grey' alike, hyphens and slashes as spaces."""
    return [("grey" if word == "gray" else word) for word in re.findall(r"[a-z]+", text.lower())]


@lru_cache(maxsize=1)
def vocabulary():
    """{normalised name: '#rrggbb'} from the survey table."""
    names = {}
    for line in VOCABULARY_FILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        name, colour = line.split("\t")
        words = normalise(name)
        if words and not (len(words) == 1 and words[0] in _NOT_ALONE):
            names.setdefault(" ".join(words), colour)
    return names


_LONGEST_NAME = 4


def modified(colour_hex, modifier):
    """A survey colour moved by a modifier in CIELAB (lightness shift, chroma scale)."""
    lab = srgb8_to_lab(hex_to_srgb8(colour_hex))
    shift, chroma = _MODIFIER_SHIFTS[modifier]
    lab = np.array([np.clip(lab[0] + shift, 8, 96), lab[1] * chroma, lab[2] * chroma])
    return srgb8_to_hex(lab_to_srgb8(lab))


@dataclass(frozen=True)
class ColourWord:
    phrase: str        # as understood, e.g. "dark red"
    colour: str        # "#rrggbb" sRGB
    nouns: tuple = ()  # the words after it ("coat"), to match an object's name


@dataclass
class Reading:
    colours: list = field(default_factory=list)     # ColourWord in text order
    not_understood: list = field(default_factory=list)  # words read but not used, in text order


def _match_at(words, start):
    """(words used, name, colour) of the longest vocabulary name starting at `start`, or None."""
    names = vocabulary()
    for length in range(min(_LONGEST_NAME, len(words) - start), 0, -1):
        name = " ".join(words[start:start + length])
        if name in names:
            return length, name, names[name]
    return None


def _nouns_after(words, end):
    """Indices of the content words right after a colour (up to the next colour or modifier)."""
    found = []
    for index in range(end, min(end + _NOUN_LOOKAHEAD + 1, len(words))):
        if words[index] in MODIFIERS or _match_at(words, index) is not None or len(found) == _NOUN_LOOKAHEAD:
            break
        if words[index] not in STOPWORDS:
            found.append(index)
    return found


def read_description(text):
    """The colour words of a description and the words not understood."""
    words, reading, index, used = normalise(text), Reading(), 0, set()
    while index < len(words):
        found = _match_at(words, index)
        if found is None and words[index] in MODIFIERS and index + 1 < len(words):
            plain = _match_at(words, index + 1)
            if plain is not None:
                found = (plain[0] + 1, f"{words[index]} {plain[1]}", modified(plain[2], words[index]))
        if found is None:
            index += 1
            continue
        length, phrase, colour = found
        end = index + length
        nouns = _nouns_after(words, end)
        reading.colours.append(ColourWord(phrase, colour, tuple(words[i] for i in nouns)))
        used.update(range(index, end))
        used.update(nouns)
        index = end
    reading.not_understood = [w for i, w in enumerate(words) if i not in used and w not in STOPWORDS]
    return reading


def object_words(object_name):
    """Lower-case words of an object name: 'Anna_hatBrim.001' -> {'anna', 'hat', 'brim'}."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", object_name)
    return set(normalise(spaced))
