"""Morse code as spikes: the NeuroMorse code table, keywords and single-word encoder.

NeuroMorse (Walters et al., arXiv:2502.20729) writes Morse code on two input channels:
channel ``x = 0`` carries dots, ``x = 1`` dashes, and every symbol is exactly one spike
(polarity ``p = 1``). Dots and dashes differ by channel, not by duration. Times are integer
time steps. As in the authors' generator (``space = 5``, ``letter_space = 10``, each plus one
step for the spike itself) consecutive spikes are

* ``SYMBOL_GAP = 6`` steps apart inside a letter,
* ``LETTER_GAP = 11`` steps apart across a letter boundary.

Example: ``"the"`` -> t = [0, 11, 17, 23, 29, 40], x = [1, 0, 0, 0, 0, 0].
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = [
    "EVENT_DTYPE",
    "KEYWORDS",
    "LETTER_GAP",
    "MORSE_CODE",
    "NUM_CHANNELS",
    "NUM_CLASSES",
    "SYMBOL_GAP",
    "encode_word",
    "keyword_index",
    "make_events",
    "word_pattern",
]

SYMBOL_GAP = 6
LETTER_GAP = 11
NUM_CHANNELS = 2

EVENT_DTYPE = np.dtype([("t", np.int64), ("x", np.int64), ("p", np.int64)])
"""Tonic-style event record: time step ``t``, channel ``x`` (0 dot, 1 dash), polarity ``p``."""

MORSE_CODE: dict[str, str] = {
    "a": ".-", "b": "-...", "c": "-.-.", "d": "-..", "e": ".", "f": "..-.", "g": "--.",
    "h": "....", "i": "..", "j": ".---", "k": "-.-", "l": ".-..", "m": "--", "n": "-.",
    "o": "---", "p": ".--.", "q": "--.-", "r": ".-.", "s": "...", "t": "-", "u": "..-",
    "v": "...-", "w": ".--", "x": "-..-", "y": "-.--", "z": "--..",
    "0": "-----", "1": ".----", "2": "..---", "3": "...--", "4": "....-",
    "5": ".....", "6": "-....", "7": "--...", "8": "---..", "9": "----.",
    ".": ".-.-.-", ",": "--..--", "?": "..--..", ":": "---...", "'": ".----.",
    "-": "-....-", "/": "-..-.", "(": "-.--.", ")": "-.--.-", '"': ".-..-.",
    "=": "-...-", ";": "-.-.-.", "$": "...-..-",
}  # fmt: skip
"""International Morse code for every character NeuroMorse can encode."""

KEYWORDS: tuple[str, ...] = (
    "the", "be", "to", "of", "and", "a", "in", "that", "have", "i",
    "it", "for", "not", "on", "with", "he", "as", "you", "do", "at",
    "this", "but", "his", "by", "from", "they", "we", "say", "her", "she",
    "or", "an", "will", "my", "one", "all", "would", "there", "their", "what",
    "so", "up", "out", "if", "about", "who", "get", "which", "go", "me",
)  # fmt: skip
"""The 50 keywords in the paper's order; a keyword's class index is its position."""

NUM_CLASSES = len(KEYWORDS)
_KEYWORD_INDEX = {word: i for i, word in enumerate(KEYWORDS)}


def keyword_index(word: str) -> int:
    """Class index of ``word`` in :data:`KEYWORDS`, or ``-1`` when it is not a keyword."""
    return _KEYWORD_INDEX.get(word, -1)


def make_events(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Build a structured event array (dtype :data:`EVENT_DTYPE`, ``p = 1``) from ``[N]`` arrays."""
    events = np.empty(len(t), dtype=EVENT_DTYPE)
    events["t"] = t
    events["x"] = x
    events["p"] = 1
    return events


@lru_cache(maxsize=1 << 16)
def word_pattern(word: str) -> tuple[np.ndarray, np.ndarray]:
    """Relative spike times and channels of ``word`` (case-insensitive), both ``[N]`` int64.

    The first spike is at time 0, so the word's last spike is at ``times[-1]``. The arrays are
    cached and read-only. Raises ``ValueError`` for an empty word or a character with no Morse
    code.
    """
    if not isinstance(word, str):
        raise TypeError(f"expected a word as str, got {type(word).__name__}")
    if not word:
        raise ValueError("cannot encode an empty word")
    times: list[int] = []
    channels: list[int] = []
    now = 0
    for char in word.lower():
        code = MORSE_CODE.get(char)
        if code is None:
            raise ValueError(
                f"character {char!r} in word {word!r} has no Morse code; "
                "expected a-z, 0-9 or one of . , ? : ' - / ( ) \" = ; $"
            )
        for symbol in code:
            times.append(now)
            channels.append(1 if symbol == "-" else 0)
            now += SYMBOL_GAP
        now += LETTER_GAP - SYMBOL_GAP
    t = np.asarray(times, dtype=np.int64)
    x = np.asarray(channels, dtype=np.int64)
    t.flags.writeable = False
    x.flags.writeable = False
    return t, x


def encode_word(word: str, start: int = 0) -> np.ndarray:
    """Spike events of one word, first spike at time step ``start``.

    Returns a structured array ``[N]`` with fields ``t`` (time step), ``x`` (0 dot, 1 dash),
    ``p`` (always 1), sorted by time.
    """
    t, x = word_pattern(word)
    return make_events(t + int(start), x)
