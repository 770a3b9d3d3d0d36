"""Decoder for Prophesee EVT 3.0 words (16-bit, vectorised events), compiled with numba.

A word's top 4 bits give its type: 0x0 ADDR_Y (row), 0x2 ADDR_X (one event, bit 11 = polarity),
0x3 VECT_BASE_X (first column and polarity of the next vectors), 0x4 VECT_12 and 0x5 VECT_8
(a bit mask of events at consecutive columns), 0x6 TIME_LOW and 0x8 TIME_HIGH (the low and high
12 bits of a 24-bit microsecond clock), 0xA EXT_TRIGGER, 0xE OTHERS, 0x7 / 0xF CONTINUED.
Other types (0x1, 0x9, 0xB, 0xC, 0xD) do not occur in valid files and are reported as corrupt.
The 24-bit clock wraps every 16.78 s; a TIME_HIGH more than half a range below the previous
one counts as a wrap and adds 2**24 us.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# State slots carried from one block of words to the next.
TIME_HIGH, TIME_BASE, TIME_LOW, ROW, BASE_X, POLARITY = range(6)
STATE_SIZE = 6
_VALID_TYPES = np.array([1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 1, 1], dtype=np.bool_)


def new_state() -> np.ndarray:
    """A fresh decoder state ``[STATE_SIZE]`` int64 (all zeros)."""
    return np.zeros(STATE_SIZE, dtype=np.int64)


@njit(cache=True)
def _popcount(v: int) -> int:
    n = 0
    while v:
        v &= v - 1
        n += 1
    return n


@njit(cache=True)
def count_events(words: np.ndarray, valid_types: np.ndarray = _VALID_TYPES) -> tuple[int, int]:
    """Count the events in ``words`` ``[W]`` uint16; return ``(count, first bad word or -1)``."""
    n = 0
    for i in range(words.shape[0]):
        w = np.int64(words[i])
        kind = w >> 12
        if not valid_types[kind]:
            return n, i
        if kind == 0x2:
            n += 1
        elif kind == 0x4:
            n += _popcount(w & 0xFFF)
        elif kind == 0x5:
            n += _popcount(w & 0xFF)
    return n, -1


@njit(cache=True)
def decode(words: np.ndarray, state: np.ndarray, out: np.ndarray) -> int:
    """Decode ``words`` ``[W]`` uint16 into ``out`` (columns x, y, t, p; ``[N, 4]`` int64).

    ``out`` must hold :func:`count_events` rows; ``state`` ``[STATE_SIZE]`` is updated in place
    so that the next block continues where this one ended. Returns the number of events.
    """
    n = 0
    for i in range(words.shape[0]):
        w = np.int64(words[i])
        kind = w >> 12
        if kind == 0x0:
            state[ROW] = w & 0x7FF
        elif kind == 0x2 or kind == 0x3:
            x = w & 0x7FF
            pol = (w >> 11) & 1
            if kind == 0x3:
                state[BASE_X] = x
                state[POLARITY] = pol
            else:
                t = state[TIME_BASE] + (state[TIME_HIGH] << 12) + state[TIME_LOW]
                out[n, 0] = x
                out[n, 1] = state[ROW]
                out[n, 2] = t
                out[n, 3] = pol
                n += 1
        elif kind == 0x4 or kind == 0x5:
            width = 12 if kind == 0x4 else 8
            t = state[TIME_BASE] + (state[TIME_HIGH] << 12) + state[TIME_LOW]
            for bit in range(width):
                if (w >> bit) & 1:
                    out[n, 0] = state[BASE_X] + bit
                    out[n, 1] = state[ROW]
                    out[n, 2] = t
                    out[n, 3] = state[POLARITY]
                    n += 1
            state[BASE_X] += width
        elif kind == 0x6:
            state[TIME_LOW] = w & 0xFFF
        elif kind == 0x8:
            high = w & 0xFFF
            if state[TIME_HIGH] - high > 0x800:
                state[TIME_BASE] += 1 << 24
            state[TIME_HIGH] = high
    return n
