"""NeuroMorse (Walters et al., arXiv:2502.20729): Morse code as two-channel spike trains.

The 50 most common English words are the keywords to classify (:class:`NeuroMorse`) or to
spot in a long stream of running text (:class:`NeuroMorseStream`), under dropout, jitter and
Poisson background noise. Faithful to the authors' generator (github.com/Ben-E-Walters/
NeuroMorse): encoding and gaps in :mod:`.morse` and :mod:`.stream`, noise in :mod:`.noise`,
HDF5 files in :mod:`.h5`, stream scores in :mod:`.metrics`. The stream text is the CPython
documentation instead of Wikipedia (:mod:`.corpus`).
"""

from axonal.data.neuromorse.corpus import CORPUS_SOURCE, clean_words, corpus_words
from axonal.data.neuromorse.datasets import NeuroMorse, NeuroMorseStream
from axonal.data.neuromorse.h5 import (
    DataFormatError,
    StreamRecord,
    WordRecord,
    read_h5,
    write_h5,
    write_stream_h5,
    write_words_h5,
)
from axonal.data.neuromorse.metrics import (
    DetectionScores,
    ExactMatch,
    detection_scores,
    exact_match_score,
)
from axonal.data.neuromorse.morse import (
    EVENT_DTYPE,
    KEYWORDS,
    LETTER_GAP,
    MORSE_CODE,
    NUM_CHANNELS,
    NUM_CLASSES,
    SYMBOL_GAP,
    encode_word,
    keyword_index,
    make_events,
    word_pattern,
)
from axonal.data.neuromorse.noise import (
    DROPOUT_LEVELS,
    JITTER_LEVELS,
    LEVEL_NAMES,
    POISSON_LEVELS,
    NoiseConfig,
    NoiseSpec,
    add_noise,
    drop_events,
    jitter_events,
    noise_grid,
    poisson_events,
)
from axonal.data.neuromorse.stream import (
    END_OFFSET,
    WORD_GAP,
    WORD_SPAN_DTYPE,
    StreamLabels,
    encode_stream,
)
from axonal.data.neuromorse.transforms import ToDense

__all__ = [
    "CORPUS_SOURCE",
    "DROPOUT_LEVELS",
    "END_OFFSET",
    "EVENT_DTYPE",
    "JITTER_LEVELS",
    "KEYWORDS",
    "LETTER_GAP",
    "LEVEL_NAMES",
    "MORSE_CODE",
    "NUM_CHANNELS",
    "NUM_CLASSES",
    "POISSON_LEVELS",
    "SYMBOL_GAP",
    "WORD_GAP",
    "WORD_SPAN_DTYPE",
    "DataFormatError",
    "DetectionScores",
    "ExactMatch",
    "NeuroMorse",
    "NeuroMorseStream",
    "NoiseConfig",
    "NoiseSpec",
    "StreamLabels",
    "StreamRecord",
    "ToDense",
    "WordRecord",
    "add_noise",
    "clean_words",
    "corpus_words",
    "detection_scores",
    "drop_events",
    "encode_stream",
    "encode_word",
    "exact_match_score",
    "jitter_events",
    "keyword_index",
    "make_events",
    "noise_grid",
    "poisson_events",
    "read_h5",
    "word_pattern",
    "write_h5",
    "write_stream_h5",
    "write_words_h5",
]
