"""The running English text behind the keyword-spotting stream.

The paper built its test stream from about 50k Wikipedia articles, which are not available
offline. We use the English prose of the Python documentation that ships with CPython:
``pydoc_data.topics.topics``, a dict of 79 help topics (about 465k characters, 62k words in
CPython 3.11). Topics are taken in sorted key order, so the word sequence is deterministic for
a given CPython version; different versions ship slightly different text.
"""

from __future__ import annotations

import platform
import re
from functools import lru_cache

__all__ = ["CORPUS_SOURCE", "clean_words", "corpus_words"]

CORPUS_SOURCE = f"pydoc_data.topics (CPython {platform.python_version()})"
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def clean_words(text: str) -> list[str]:
    """Lower-case, split on white space, delete every character outside a-z and 0-9 from each
    token (so ``"don't"`` -> ``"dont"``), and drop tokens left empty."""
    if not isinstance(text, str):
        raise TypeError(f"expected text as str, got {type(text).__name__}")
    tokens = (_NOT_ALNUM.sub("", token) for token in text.lower().split())
    return [token for token in tokens if token]


@lru_cache(maxsize=1)
def corpus_words() -> tuple[str, ...]:
    """All cleaned words of the CPython documentation topics, in sorted-topic order."""
    from pydoc_data.topics import topics

    return tuple(clean_words("\n".join(topics[key] for key in sorted(topics))))
