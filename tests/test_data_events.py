"""Event readers on real recordings, representations and transforms on hand-built arrays."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from axonal.data.events import (
    EVENT_DTYPE,
    CropTime,
    Denoise,
    Downsample,
    DropEvent,
    EventFileError,
    SpatialJitter,
    TimeJitter,
    iter_chunks,
    probe,
    read,
    to_frames,
    to_time_surface,
    to_voxel_grid,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "events"
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"real event recordings not found at {DATA} (shared data folder)"
)

# (file, format, event count, sensor size) from shared/data/README.md
RECORDINGS = [
    ("evt2.raw", "evt2", 521_252, (640, 480)),
    ("evt3.raw", "evt3", 1_218_618, (1280, 720)),
    ("gen4.dat", "dat", 1_218_618, (1280, 720)),
    ("davis346.aedat4", "aedat4", 78_830, (346, 260)),
]


def ev(*rows: tuple[int, int, int, int]) -> np.ndarray:
    """Events from (x, y, t, p) rows."""
    return np.array(list(rows), dtype=EVENT_DTYPE)


@pytest.fixture(scope="module")
def recordings() -> dict[str, object]:
    if not DATA.is_dir():
        pytest.skip(f"real event recordings not found at {DATA}")
    return {name: read(DATA / name) for name, *_ in RECORDINGS}


@needs_data
@pytest.mark.parametrize(("name", "fmt", "count", "size"), RECORDINGS)
def test_real_files_decode(recordings, name, fmt, count, size):
    rec = recordings[name]
    e = rec.events
    assert rec.format == fmt
    assert len(e) == count
    assert rec.sensor_size == size
    assert e.dtype == EVENT_DTYPE
    assert e["x"].min() >= 0 and e["x"].max() < size[0]
    assert e["y"].min() >= 0 and e["y"].max() < size[1]
    assert np.all(np.diff(e["t"]) >= 0)
    assert set(np.unique(e["p"]).tolist()) == {0, 1}
    events, sensor_size = rec
    assert events is e and sensor_size == size


@needs_data
def test_real_durations_match_readme(recordings):
    def span_s(name):
        t = recordings[name].events["t"]
        return (t[-1] - t[0]) / 1e6

    assert span_s("evt2.raw") == pytest.approx(0.096, abs=0.002)
    assert span_s("evt3.raw") == pytest.approx(10.77, abs=0.01)
    assert span_s("davis346.aedat4") == pytest.approx(2.36, abs=0.01)


@needs_data
def test_evt3_and_dat_are_the_same_recording(recordings):
    a, b = recordings["evt3.raw"].events, recordings["gen4.dat"].events
    for field in ("x", "y", "p"):
        np.testing.assert_array_equal(a[field], b[field])
    offsets = np.unique(a["t"] - b["t"])
    assert offsets.size == 1


@needs_data
def test_format_is_detected_from_content_not_extension(tmp_path):
    copy = tmp_path / "recording.bin"
    copy.write_bytes((DATA / "gen4.dat").read_bytes())
    assert probe(copy).format == "dat"
    assert len(read(copy).events) == 1_218_618


@needs_data
@pytest.mark.parametrize("name", [r[0] for r in RECORDINGS])
def test_chunks_concatenate_to_full_read(recordings, name):
    chunks = list(iter_chunks(DATA / name, chunk_events=100_000))
    assert all(len(c) == 100_000 for c in chunks[:-1]) and 0 < len(chunks[-1]) <= 100_000
    np.testing.assert_array_equal(np.concatenate(chunks), recordings[name].events)


@needs_data
@pytest.mark.parametrize(("name", "word"), [("evt2.raw", 4), ("evt3.raw", 2), ("gen4.dat", 8)])
def test_cut_mid_word_raises_with_offset(tmp_path, name, word):
    data = (DATA / name).read_bytes()
    start = probe(DATA / name).data_offset
    whole = start + (len(data) - start) // (2 * word) * word  # about half the words
    cut = tmp_path / name
    cut.write_bytes(data[: whole + 1])
    with pytest.raises(EventFileError, match=rf"{name} at byte offset {whole}: truncated"):
        read(cut)


@needs_data
def test_cut_aedat4_raises_with_offset(tmp_path):
    cut = tmp_path / "cut.aedat4"
    cut.write_bytes((DATA / "davis346.aedat4").read_bytes()[:3_000_000])
    with pytest.raises(EventFileError, match=r"cut\.aedat4 at byte offset \d+: truncated") as err:
        read(cut)
    assert err.value.offset < 3_000_000


@needs_data
def test_corrupt_evt3_word_is_reported(tmp_path):
    data = bytearray((DATA / "evt3.raw").read_bytes())
    start = probe(DATA / "evt3.raw").data_offset
    bad = start + 2 * 1000
    data[bad : bad + 2] = (0x9000).to_bytes(2, "little")  # type 0x9 is not defined
    path = tmp_path / "corrupt.raw"
    path.write_bytes(bytes(data))
    with pytest.raises(EventFileError, match=rf"offset {bad}: corrupt"):
        read(path)


def test_unknown_format_raises(tmp_path):
    path = tmp_path / "noise.raw"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(EventFileError, match="unknown event file format"):
        read(path)
    with pytest.raises(EventFileError, match="cannot open"):
        read(tmp_path / "missing.raw")


def test_evt3_vectors_and_time_wrap(tmp_path):
    words = [
        0x8FFF,  # TIME_HIGH 0xFFF
        0x6005,  # TIME_LOW 5  -> t = 0xFFF005
        0x0003,  # ADDR_Y row 3
        0x2800 | 7,  # ADDR_X x = 7, ON
        0x3000 | 10,  # VECT_BASE_X x = 10, OFF
        0x4000 | 0b1000_0000_0101,  # VECT_12: x = 10, 12, 21
        0x5000 | 0b1000_0001,  # VECT_8: x = 22, 29
        0x8000,  # TIME_HIGH 0 after 0xFFF: the 24-bit clock wrapped
        0x6001,  # TIME_LOW 1 -> t = 2**24 + 1
        0x2000 | 1,  # ADDR_X x = 1, OFF
    ]
    path = tmp_path / "tiny.raw"
    path.write_bytes(b"% evt 3.0\n% geometry 32x4\n% end\n" + np.array(words, "<u2").tobytes())
    rec = read(path)
    t0, t1 = 0xFFF005, (1 << 24) + 1
    expected = ev((7, 3, t0, 1), (10, 3, t0, 0), (12, 3, t0, 0), (21, 3, t0, 0),
                  (22, 3, t0, 0), (29, 3, t0, 0), (1, 3, t1, 0))
    assert rec.sensor_size == (32, 4)
    np.testing.assert_array_equal(rec.events, expected)


# ---------------------------------------------------------------- representations

TINY = ev((0, 0, 100, 1), (1, 0, 104, 0), (1, 1, 109, 1), (0, 1, 110, 1), (1, 1, 119, 0))


def test_frames_by_time_window():
    frames = to_frames(TINY, (2, 2), time_window_us=10)  # windows [100,110) [110,120)
    expected = torch.zeros(2, 2, 2, 2)
    expected[0, 1, 0, 0] = 1
    expected[0, 0, 0, 1] = 1
    expected[0, 1, 1, 1] = 1
    expected[1, 1, 1, 0] = 1
    expected[1, 0, 1, 1] = 1
    assert frames.dtype == torch.float32
    torch.testing.assert_close(frames, expected)


def test_frames_by_count_and_bins_keep_every_event():
    by_count = to_frames(TINY, (2, 2), event_count=2)
    assert by_count.shape == (3, 2, 2, 2)
    assert by_count.sum((1, 2, 3)).tolist() == [2, 2, 1]
    by_bins = to_frames(TINY, (2, 2), n_time_bins=2)  # span 20 us -> bins of 10 us
    assert by_bins.shape == (2, 2, 2, 2) and by_bins.sum((1, 2, 3)).tolist() == [3, 2]
    with pytest.raises(ValueError, match="exactly one"):
        to_frames(TINY, (2, 2), n_time_bins=2, event_count=2)


def test_voxel_grid_is_bilinear_in_time():
    events = ev((0, 0, 0, 1), (1, 0, 5, 0), (0, 0, 10, 1))  # tau = 0, 1, 2 for 3 bins
    events2 = ev((0, 0, 0, 1), (0, 0, 3, 1), (1, 0, 8, 0))  # tau = 0, 0.75, 2
    grid = to_voxel_grid(events, (2, 1), 3)
    torch.testing.assert_close(grid[:, 0, :], torch.tensor([[1.0, 0], [0, -1], [1, 0]]))
    grid2 = to_voxel_grid(events2, (2, 1), 3)
    torch.testing.assert_close(grid2[:, 0, :], torch.tensor([[1.25, 0], [0.75, 0], [0, -1]]))


def test_time_surface_decays_from_last_event():
    events = ev((0, 0, 0, 1), (0, 0, 4, 1), (1, 0, 12, 0))
    surface = to_time_surface(events, (2, 1), tau_us=5.0, time_window_us=10)
    assert surface.shape == (2, 2, 1, 2)
    # sampled at t = 10 and t = 20
    expected = torch.zeros(2, 2, 1, 2)
    expected[0, 1, 0, 0] = math.exp(-6 / 5)
    expected[1, 1, 0, 0] = math.exp(-16 / 5)
    expected[1, 0, 0, 1] = math.exp(-8 / 5)
    torch.testing.assert_close(surface, expected)


# ---------------------------------------------------------------- transforms


def test_denoise_keeps_only_supported_events():
    events = ev((5, 5, 100, 1), (5, 6, 103, 0), (5, 5, 200, 1), (9, 9, 201, 1), (5, 6, 250, 0))
    # (5,6)@103: neighbour (5,5)@100 within 10 -> kept; (5,5)@200: (5,6) last at 103 -> dropped
    kept = Denoise(filter_time_us=10)(events)
    np.testing.assert_array_equal(kept, events[[1]])


def test_downsample_and_crop_time():
    out = Downsample(0.5)(TINY)
    assert out["x"].tolist() == [0, 0, 0, 0, 0] and Downsample(0.5).sensor_size((640, 480)) == (
        320,
        240,
    )
    np.testing.assert_array_equal(CropTime(104, 110)(TINY), TINY[1:4])


def test_random_transforms_are_seeded_and_bounded():
    rng = np.random.default_rng(1)
    events = np.zeros(5000, dtype=EVENT_DTYPE)
    events["x"], events["y"] = rng.integers(0, 20, 5000), rng.integers(0, 10, 5000)
    events["t"] = np.sort(rng.integers(0, 10_000, 5000))
    a, b = DropEvent(0.3, seed=3)(events), DropEvent(0.3, seed=3)(events)
    np.testing.assert_array_equal(a, b)
    assert abs(len(a) / len(events) - 0.7) < 0.03
    jittered = SpatialJitter((20, 10), 1.0, 1.0, seed=4)(events)
    assert jittered["x"].max() < 20 and jittered["y"].max() < 10 and len(jittered) < len(events)
    assert len(SpatialJitter((20, 10), 1.0, 1.0, clip=True, seed=4)(events)) == len(events)
    timed = TimeJitter(50.0, seed=5)(events)
    assert np.all(np.diff(timed["t"]) >= 0) and timed["t"].min() >= 0
    assert not np.array_equal(timed["t"], events["t"])
    with pytest.raises(TypeError, match="seed"):
        DropEvent(0.1, seed=0.5)


# ---------------------------------------------------------------- Tonic interop



@pytest.fixture(scope="module")
def tonic_transforms():
    return importlib.import_module("tonic.transforms")  # installed by `make install`


def _random_events(n: int, seed: int, size: tuple[int, int] = (16, 12)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    events = np.zeros(n, dtype=EVENT_DTYPE)
    events["x"], events["y"] = rng.integers(0, size[0], n), rng.integers(0, size[1], n)
    events["t"] = np.sort(rng.integers(50_000, 60_000, n))
    events["p"] = rng.integers(0, 2, n)
    return events


def test_frames_equal_tonic_to_frame(tonic_transforms):
    events = _random_events(3000, 0)
    events = events[events["t"] < 59_950]  # span not a multiple of the window
    ours = to_frames(events, (16, 12), time_window_us=1000)
    theirs = tonic_transforms.ToFrame((16, 12, 2), time_window=1000, include_incomplete=True)
    torch.testing.assert_close(ours, torch.from_numpy(theirs(events.copy()).astype(np.float32)))
    ours = to_frames(events, (16, 12), event_count=700)
    theirs = tonic_transforms.ToFrame((16, 12, 2), event_count=700, include_incomplete=True)
    torch.testing.assert_close(ours, torch.from_numpy(theirs(events.copy()).astype(np.float32)))


def test_denoise_equals_tonic_and_tonic_applies_to_axonal_events(tonic_transforms):
    events = _random_events(2000, 1)
    ours = Denoise(filter_time_us=300)(events)
    theirs = tonic_transforms.Denoise(filter_time=300)(events)
    assert theirs.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(ours, theirs)
    assert 0 < len(ours) < len(events)


@needs_data
@pytest.mark.parametrize(("name", "encoding"), [("evt2.raw", "evt2"), ("gen4.dat", "dat")])
def test_own_decoders_agree_with_expelliarmus(recordings, name, encoding):
    expelliarmus = importlib.import_module("expelliarmus")  # dev extra
    theirs = expelliarmus.Wizard(encoding=encoding).read(DATA / name)
    ours = recordings[name].events
    for field in ("x", "y", "t", "p"):
        np.testing.assert_array_equal(ours[field], theirs[field])
