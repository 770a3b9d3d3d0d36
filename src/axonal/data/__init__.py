"""Datasets and transforms (Tonic-style: ``dataset[i] -> (events or tensor, target)``)."""

from axonal.data.collate import pad_time_major, time_major_collate
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
    "time_major_collate",
    "write_h5",
]
