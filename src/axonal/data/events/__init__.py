"""Event-camera data: file readers, dense representations and Tonic-style transforms.

Events are NumPy structured arrays (fields x, y, t [us], p in {0, 1}; :data:`EVENT_DTYPE`).
"""

from axonal.data.events.formats import FileInfo, probe
from axonal.data.events.moving_shapes import MovingShapes
from axonal.data.events.ndigits import NDigits
from axonal.data.events.readers import iter_chunks, read
from axonal.data.events.recording import (
    EVENT_DTYPE,
    EventFileError,
    EventRecording,
    as_events,
)
from axonal.data.events.representations import to_frames, to_time_surface, to_voxel_grid
from axonal.data.events.simulator import EventSimulator
from axonal.data.events.transforms import (
    CenterCrop,
    CropTime,
    Denoise,
    Downsample,
    DropEvent,
    MergePolarities,
    RandomCrop,
    RandomFlip,
    RefractoryPeriod,
    SpatialJitter,
    TimeJitter,
    UniformNoise,
)

__all__ = [
    "EVENT_DTYPE",
    "CenterCrop",
    "CropTime",
    "Denoise",
    "Downsample",
    "DropEvent",
    "EventFileError",
    "EventRecording",
    "EventSimulator",
    "FileInfo",
    "MergePolarities",
    "MovingShapes",
    "NDigits",
    "RandomCrop",
    "RandomFlip",
    "RefractoryPeriod",
    "SpatialJitter",
    "TimeJitter",
    "UniformNoise",
    "as_events",
    "iter_chunks",
    "probe",
    "read",
    "to_frames",
    "to_time_surface",
    "to_voxel_grid",
]
