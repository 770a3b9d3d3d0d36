"""Datasets and transforms (Tonic-style: ``dataset[i] -> (events or tensor, target)``)."""

from axonal.data.neuromorse import (
    KEYWORDS,
    DataFormatError,
    NeuroMorse,
    NeuroMorseStream,
    NoiseConfig,
    StreamLabels,
    ToDense,
    detection_scores,
    encode_stream,
    encode_word,
    exact_match_score,
    pad_time_major,
    read_h5,
    write_h5,
)

__all__ = [
    "KEYWORDS",
    "DataFormatError",
    "NeuroMorse",
    "NeuroMorseStream",
    "NoiseConfig",
    "StreamLabels",
    "ToDense",
    "detection_scores",
    "encode_stream",
    "encode_word",
    "exact_match_score",
    "pad_time_major",
    "read_h5",
    "write_h5",
]
