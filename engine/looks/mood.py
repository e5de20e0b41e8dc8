"""Mood words in a shot's prompt -> one colour grade of the composed frames (numpy).

A grade is exposure, white balance, saturation and contrast in linear light (plus a
monochrome step for noir and sepia): a previz look of the time of day and light, on top
of the blocking's own lights. A prompt with no mood word gets no grade at all, so its
frames are byte for byte those of a take without a prompt.
"""

from dataclasses import dataclass

import numpy as np

from .colour_space import linear_to_srgb, srgb_to_linear
from .colours import STOPWORDS, normalise

_LUMA = np.array([0.2126, 0.7152, 0.0722])
_MID_GREY = 0.18


@dataclass(frozen=True)
class Grade:
    name: str
    exposure: float = 1.0
    white_balance: tuple = (1.0, 1.0, 1.0)   # linear RGB gains, applied after saturation
    saturation: float = 1.0                 # 0: black and white
    contrast: float = 1.0                   # power around mid grey in linear light

    def apply(self, frames8):
        """(..., 3) uint8 sRGB frames graded, as uint8."""
        linear = srgb_to_linear(np.asarray(frames8, np.float64) / 255.0) * self.exposure
        grey = (linear @ _LUMA)[..., None]
        linear = grey + self.saturation * (linear - grey)
        linear = np.clip(linear, 0, None) * np.asarray(self.white_balance)
        linear = _MID_GREY * (np.maximum(linear, 0) / _MID_GREY) ** self.contrast
        return np.clip(np.rint(linear_to_srgb(linear) * 255), 0, 255).astype(np.uint8)


GRADES = {
    "night": Grade("night", exposure=0.3, white_balance=(0.55, 0.8, 1.45), saturation=0.6, contrast=1.1),
    "dusk": Grade("dusk", exposure=0.55, white_balance=(1.05, 0.82, 1.12), saturation=0.85),
    "golden hour": Grade("golden hour", exposure=1.05, white_balance=(1.35, 1.0, 0.58), saturation=1.15),
    "overcast": Grade("overcast", exposure=0.85, white_balance=(0.95, 1.0, 1.08), saturation=0.6, contrast=0.85),
    "sunny": Grade("sunny", exposure=1.2, white_balance=(1.06, 1.0, 0.92), saturation=1.15, contrast=1.1),
    "neon": Grade("neon", exposure=0.65, white_balance=(1.15, 0.7, 1.35), saturation=1.7, contrast=1.2),
    "candlelight": Grade("candlelight", exposure=0.5, white_balance=(1.45, 0.85, 0.38), contrast=1.05),
    "noir": Grade("noir", exposure=0.95, saturation=0.0, contrast=1.35),
    "sepia": Grade("sepia", saturation=0.0, white_balance=(1.22, 1.0, 0.68), contrast=0.95),
}
# Words and phrases of each mood (normalised words, longest first wins).
MOOD_WORDS = {
    "night": ("night", "nighttime", "midnight", "moonlight", "moonlit", "moon"),
    "dusk": ("dusk", "twilight", "evening", "blue hour"),
    "golden hour": ("golden hour", "sunset", "sunrise", "dawn", "magic hour"),
    "overcast": ("overcast", "cloudy", "grey day", "gloomy", "rainy", "rain", "fog", "foggy"),
    "sunny": ("sunny", "noon", "midday", "sunshine", "sunlit", "daylight", "sunny afternoon"),
    "neon": ("neon", "cyberpunk"),
    "candlelight": ("candlelight", "candlelit", "candle", "candles", "firelight"),
    "noir": ("noir", "black and white", "monochrome"),
    "sepia": ("sepia",),
}


def find_moods(prompt):
    """[(mood, phrase as found)] in the order the prompt says them."""
    words = normalise(prompt)
    phrases = sorted(((tuple(p.split()), mood) for mood, ps in MOOD_WORDS.items() for p in ps),
                     key=lambda item: -len(item[0]))
    found, index = [], 0
    while index < len(words):
        for phrase, mood in phrases:
            if tuple(words[index:index + len(phrase)]) == phrase:
                found.append((mood, " ".join(phrase)))
                index += len(phrase)
                break
        else:
            index += 1
    return found


def grade_for(prompt):
    """(Grade or None, understood, ignored): the first mood the prompt names sets the grade;
    a second, different mood and the prompt's other words are reported as ignored."""
    found = find_moods(prompt)
    mood_words = {word for _, phrase in found for word in phrase.split()}
    rest = [w for w in dict.fromkeys(normalise(prompt)) if w not in mood_words and w not in STOPWORDS]
    ignored = [", ".join(f'"{w}"' for w in rest) + " in the prompt"] if rest else []
    if not found:
        return None, [], ignored
    mood = found[0][0]
    ignored += [f'"{phrase}" in the prompt (one grade per take: {mood})' for other, phrase in found[1:]
                if other != mood]
    return GRADES[mood], [f"{found[0][1]} → grade {mood}"], ignored
