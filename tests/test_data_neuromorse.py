"""NeuroMorse: encoding, stream, noise, datasets, HDF5 files and stream metrics.

Expected times are derived by hand from the gaps 6 (inside a letter), 11 (between letters)
and 16 (between words), and end = start + last spike + 15.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from axonal.data import pad_time_major, time_major_collate
from axonal.data.neuromorse import (
    DROPOUT_LEVELS,
    KEYWORDS,
    MORSE_CODE,
    DataFormatError,
    NeuroMorse,
    NeuroMorseStream,
    NoiseConfig,
    StreamRecord,
    ToDense,
    WordRecord,
    add_noise,
    clean_words,
    detection_scores,
    drop_events,
    encode_stream,
    encode_word,
    exact_match_score,
    jitter_events,
    make_events,
    noise_grid,
    poisson_events,
    read_h5,
    write_h5,
)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- encoding


@pytest.mark.parametrize(
    ("word", "times", "channels"),
    [
        ("the", [0, 11, 17, 23, 29, 40], [1, 0, 0, 0, 0, 0]),  # - | .... | .
        ("a", [0, 6], [0, 1]),  # .-
        ("me", [0, 6, 17], [1, 1, 0]),  # -- | .
        ("5", [0, 6, 12, 18, 24], [0, 0, 0, 0, 0]),  # .....
        ("0", [0, 6, 12, 18, 24], [1, 1, 1, 1, 1]),  # -----
        # w .-- | h .... | i .. | c -.-. | h ....
        (
            "which",
            [0, 6, 12, 23, 29, 35, 41, 52, 58, 69, 75, 81, 87, 98, 104, 110, 116],
            [0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0],
        ),
    ],
)
def test_encode_word_by_hand(word: str, times: list[int], channels: list[int]) -> None:
    events = encode_word(word)
    assert events.dtype.names == ("t", "x", "p")
    assert events["t"].tolist() == times
    assert events["x"].tolist() == channels
    assert (events["p"] == 1).all()


def test_encode_word_start_and_case() -> None:
    assert encode_word("e", start=100)["t"].tolist() == [100]
    assert np.array_equal(encode_word("The"), encode_word("the"))


@pytest.mark.parametrize("word", ["caf#", "naïve", "two words"])
def test_unknown_character_is_named(word: str) -> None:
    bad = next(c for c in word if c.lower() not in MORSE_CODE)
    with pytest.raises(ValueError, match=repr(bad)):
        encode_word(word)


def test_empty_word_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        encode_word("")


def test_table_and_keywords() -> None:
    assert len(MORSE_CODE) == 26 + 10 + 13
    assert len(set(MORSE_CODE.values())) == len(MORSE_CODE)
    assert len(KEYWORDS) == 50 and len(set(KEYWORDS)) == 50
    assert (KEYWORDS[0], KEYWORDS[9], KEYWORDS[47], KEYWORDS[49]) == ("the", "i", "which", "me")
    # The paper: the longest keyword ends at 116, 7.54 spikes per keyword on average.
    assert max(encode_word(w)["t"][-1] for w in KEYWORDS) == 116
    assert sum(len(encode_word(w)) for w in KEYWORDS) / 50 == pytest.approx(7.54)


# ---------------------------------------------------------------- stream


def test_stream_by_hand() -> None:
    events, labels = encode_stream(["the", "cat", "a"])
    # the: 0..40; cat starts at 40 + 16 = 56: c 56 62 68 74, a 85 91, t 102; a starts at 118.
    expected = [0, 11, 17, 23, 29, 40, 56, 62, 68, 74, 85, 91, 102, 118, 124]
    assert events["t"].tolist() == expected
    assert labels.words["start"].tolist() == [0, 56, 118]
    assert labels.words["end"].tolist() == [40 + 15, 56 + 46 + 15, 118 + 6 + 15]
    assert labels.words["label"].tolist() == [0, -1, 5]
    assert labels.starts[0].tolist() == [0] and labels.ends[0].tolist() == [55]
    assert labels.starts[5].tolist() == [118] and labels.ends[5].tolist() == [139]
    assert labels.counts().sum() == 2


def test_stream_gap_is_16_between_words() -> None:
    words = ["which", "me", "x", "1"]
    events, labels = encode_stream(words)
    last = [encode_word(w)["t"][-1] for w in words]
    starts = labels.words["start"]
    np.testing.assert_array_equal(starts[1:] - (starts[:-1] + last[:-1]), 16)
    np.testing.assert_array_equal(labels.words["end"], starts + np.array(last) + 15)
    assert len(events) == sum(len(encode_word(w)) for w in words)


def test_clean_words() -> None:
    assert clean_words("Don't STOP-me now;  3.14 -- ") == ["dont", "stopme", "now", "314"]


# ---------------------------------------------------------------- noise


def test_named_levels() -> None:
    assert DROPOUT_LEVELS["low"] == pytest.approx(1 / 30)
    assert DROPOUT_LEVELS["high"] == pytest.approx(1 / 15)
    cfg = NoiseConfig.from_levels("Low", "HIGH", "low")
    assert cfg == NoiseConfig(dropout=1 / 30, jitter=2.0, poisson=0.05)
    assert cfg.levels == ("low", "high", "low")
    assert cfg.name == "Dropout-Low Jitter-High Poisson-Low"
    assert NoiseConfig.parse(cfg.name) == cfg
    assert NoiseConfig.parse(("high", 0, "none")) == NoiseConfig(dropout=1 / 15)
    assert NoiseConfig.parse(None) == NoiseConfig.parse("clean") == NoiseConfig()
    assert NoiseConfig(jitter=1.5).levels is None


def test_noise_grid() -> None:
    grid = noise_grid()
    assert len(set(grid)) == 27
    names = [c.name for c in grid]
    assert names[0] == "Clean" and "Dropout-None Jitter-None Poisson-None" not in names
    assert names[1] == "Dropout-None Jitter-None Poisson-Low"
    assert names[-1] == "Dropout-High Jitter-High Poisson-High"


@pytest.mark.parametrize(
    "make",
    [
        lambda: NoiseConfig(poisson=-0.1),
        lambda: NoiseConfig(dropout=1.5),
        lambda: NoiseConfig(jitter=math.nan),
        lambda: NoiseConfig.from_levels(jitter="medium"),
        lambda: NoiseConfig.parse("Dropout-Low Jitter-None"),
        lambda: poisson_events(100, -0.1, rng()),
        lambda: drop_events(encode_word("a"), -0.5, rng()),
        lambda: jitter_events(encode_word("a"), -1.0, rng()),
    ],
)
def test_bad_noise_rejected(make) -> None:
    with pytest.raises(ValueError):
        make()


def test_dropout_rate() -> None:
    n, p = 200_000, 0.2
    events = make_events(np.arange(n), np.zeros(n, dtype=np.int64))
    kept = drop_events(events, p, rng(1))
    assert abs(1 - len(kept) / n - p) < 0.005  # 5 standard errors
    assert np.isin(kept["t"], events["t"]).all()


def test_jitter_std_and_clipping() -> None:
    n, sigma = 50_000, 2.0
    events = make_events(np.arange(n) * 1000, np.zeros(n, dtype=np.int64))
    shift = jitter_events(events, sigma, rng(2))["t"] - events["t"]
    # Rounding a N(0, 4) adds variance ~1/12.
    assert abs(shift.std() - math.sqrt(sigma**2 + 1 / 12)) < 0.05
    assert abs(shift.mean()) < 0.05
    at_zero = make_events(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
    clipped = jitter_events(at_zero, sigma, rng(3), clip=True)["t"]
    assert clipped.min() == 0
    # P(round(N(0, 4)) <= 0) = Phi(0.25) = 0.5987
    assert abs((clipped == 0).mean() - 0.5987) < 0.01
    assert jitter_events(at_zero, sigma, rng(3), clip=False)["t"].min() < 0


def test_poisson_rate_per_step_per_channel() -> None:
    until, rate = 100_000, 0.1
    events = poisson_events(until, rate, rng(4))
    assert events["t"].min() >= 0 and events["t"].max() < until
    for channel in (0, 1):
        count = (events["x"] == channel).sum()
        assert abs(count / until - rate) < 0.004  # sd of the rate is 0.001


def test_add_noise_sorted_unique_and_bounded() -> None:
    clean = encode_word("which")
    assert np.array_equal(add_noise(clean, NoiseConfig(), rng(), clip_negative=True), clean)
    noisy = add_noise(clean, NoiseConfig(poisson=0.5), rng(5), clip_negative=True)
    keys = noisy["t"] * 2 + noisy["x"]
    assert (np.diff(keys) > 0).all()  # sorted by (t, x), no duplicates
    assert np.isin(clean, noisy).all()  # no dropout or jitter: clean spikes kept
    assert noisy["t"].max() == 116  # background only before the last clean spike
    assert len(noisy) > len(clean) + 40  # ~0.5 * 116 * 2 = 116 background spikes


# ---------------------------------------------------------------- datasets


def test_dataset_clean_matches_encoding() -> None:
    ds = NeuroMorse("train", samples_per_word=3)
    assert len(ds) == 150 and ds.sensor_size[0] == 2 and ds.classes == KEYWORDS
    for i in (0, 47, 50, 149):
        events, target = ds[i]
        assert target == i % 50
        assert np.array_equal(events, encode_word(KEYWORDS[i % 50]))


def test_dataset_deterministic_and_order_free() -> None:
    noise = ("high", "high", "high")
    a = NeuroMorse("train", noise=noise, samples_per_word=2, seed=7)
    b = NeuroMorse("train", noise=noise, samples_per_word=2, seed=7)
    forward = [a[i][0] for i in range(len(a))]
    backward = [b[i][0] for i in reversed(range(len(b)))][::-1]
    assert all(np.array_equal(f, g) for f, g in zip(forward, backward, strict=True))
    other_seed = NeuroMorse("train", noise=noise, samples_per_word=2, seed=8)
    test_split = NeuroMorse("test", noise=noise, samples_per_word=2, seed=7)
    assert any(not np.array_equal(forward[i], other_seed[i][0]) for i in range(100))
    assert any(not np.array_equal(forward[i], test_split[i][0]) for i in range(100))
    # Repeats of one word get fresh noise.
    assert not np.array_equal(a[0][0], a[50][0])


def test_dataset_jitter_clips_at_zero() -> None:
    ds = NeuroMorse("test", noise=NoiseConfig(jitter=4.0), samples_per_word=4)
    assert min(ds[i][0]["t"].min() for i in range(len(ds))) == 0


@pytest.mark.parametrize(
    "kwargs",
    [{"split": "valid"}, {"samples_per_word": 0}, {"seed": -1}, {"noise": "loud"}],
)
def test_dataset_bad_arguments(kwargs) -> None:
    with pytest.raises(ValueError):
        NeuroMorse(**kwargs)


def test_dataset_index_range() -> None:
    ds = NeuroMorse()
    assert ds[-1][1] == 49
    with pytest.raises(IndexError):
        ds[50]


def test_to_dense_and_padding() -> None:
    ds = NeuroMorse(transform=ToDense(), target_transform=torch.tensor)
    which, target = ds[47]
    assert which.shape == (132, 2) and which.dtype == torch.float32 and target.item() == 47
    expected = encode_word("which")
    assert which.sum() == len(expected)
    assert (which[expected["t"], expected["x"]] == 1).all()
    short = ToDense(num_steps=30)(expected)
    assert short.shape == (30, 2) and short.sum() == (expected["t"] < 30).sum()
    batch = [ds[i] for i in (5, 47)]  # "a" (22 steps) and "which" (132)
    padded = pad_time_major([x for x, _ in batch])
    assert padded.shape == (132, 2, 2)
    assert padded[22:, 0].sum() == 0 and torch.equal(padded[:22, 0], batch[0][0])
    inputs, targets = time_major_collate(batch)
    assert torch.equal(inputs, padded) and targets.tolist() == [5, 47]


def test_stream_from_text() -> None:
    stream = NeuroMorseStream(text="The cat, a DOG!")
    assert stream.text_words == ("the", "cat", "a", "dog")
    events, labels = stream[0]
    clean, expected = encode_stream(["the", "cat", "a", "dog"])
    assert np.array_equal(events, clean)
    assert np.array_equal(labels.words, expected.words)
    assert stream.num_steps == expected.words["end"][-1] + 1


def test_stream_from_corpus() -> None:
    stream = NeuroMorseStream(num_words=2000)
    words = stream.words
    assert len(words) == 2000
    np.testing.assert_array_equal(words["start"][1:], words["end"][:-1] + 1)  # 16 - 15 = 1
    assert stream.labels.counts()[0] > 0  # "the" occurs
    noisy = NeuroMorseStream(("low", "low", "high"), num_words=2000, seed=3)
    again = NeuroMorseStream(("low", "low", "high"), num_words=2000, seed=3)
    assert np.array_equal(noisy.events, again.events)
    assert not np.array_equal(noisy.events, stream.events)
    with pytest.raises(ValueError, match="num_words"):
        NeuroMorseStream(num_words=10**9)


def test_stream_background_density() -> None:
    clean = NeuroMorseStream(num_words=2000)
    noisy = NeuroMorseStream(("none", "none", "high"), num_words=2000, seed=5)
    assert np.isin(clean.events, noisy.events).all()
    slots = 2 * clean.events["t"].max()  # (step, channel) slots before the last clean spike
    # A slot receives >= 1 background spike with probability 1 - exp(-0.1) (rounded arrivals
    # of a rate-0.1 Poisson process); slots already holding a clean spike do not grow.
    free = 1 - len(clean.events) / slots
    density = (len(noisy.events) - len(clean.events)) / slots
    assert abs(density - (1 - math.exp(-0.1)) * free) < 0.002


# ---------------------------------------------------------------- HDF5


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("neuromorse")
    return out, write_h5(out, num_stream_words=300, seed=1)


def test_write_h5_names_and_layout(written) -> None:
    out, paths = written
    assert len(paths) == 54 and all(p.is_file() for p in paths)
    for split in ("Train", "Test"):
        names = sorted(os.listdir(out / split))  # also: no temp files left behind
        assert len(names) == 27 and "Clean.h5" in names
        assert "Dropout-Low Jitter-High Poisson-None.h5" in names
    with h5py.File(out / "Train" / "Clean.h5") as f:
        assert f["Spikes/Times"].shape == (50,) and f["Spikes/Channels"].shape == (50,)
        assert f["Spikes/Times"].dtype.metadata["vlen"] == np.float64
        assert f["Labels/Labels"].asstr()[()].tolist() == list(KEYWORDS)
    with h5py.File(out / "Test" / "Clean.h5") as f:
        assert f["Spikes/Times"].shape == (1,) and f["Labels/End Times"].shape == (50,)
        assert f["Labels/Start Times"][0][0] == 0.0  # the stream starts with "the"


def test_h5_round_trip(written) -> None:
    out, _ = written
    name = "Dropout-High Jitter-Low Poisson-High"
    train = read_h5(out / "Train" / f"{name}.h5")
    assert isinstance(train, WordRecord)
    ds = NeuroMorse("train", noise=name, seed=1)
    assert train.targets.tolist() == list(range(50))
    assert all(np.array_equal(train.events[i], ds[i][0]) for i in range(50))
    test = read_h5(out / "Test" / f"{name}.h5")
    assert isinstance(test, StreamRecord)
    stream = NeuroMorseStream(name, num_words=300, seed=1)
    assert np.array_equal(test.events, stream.events)
    for k in range(50):
        assert np.array_equal(test.labels.starts[k], stream.labels.starts[k])
        assert np.array_equal(test.labels.ends[k], stream.labels.ends[k])


def test_h5_truncated_file(written, tmp_path) -> None:
    data = (written[0] / "Test" / "Clean.h5").read_bytes()
    bad = tmp_path / "cut.h5"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"cut\.h5"):
        read_h5(bad)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_h5_flipped_bytes_raise_format_error(written, tmp_path, seed: int) -> None:
    data = bytearray((written[0] / "Test" / "Clean.h5").read_bytes())
    for pos in rng(seed).integers(0, 2048, 40):  # superblock, object headers, heaps
        data[pos] ^= 0xFF
    bad = tmp_path / "flipped.h5"
    bad.write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match=r"flipped\.h5"):
        read_h5(bad)


def test_h5_not_hdf5_and_missing(tmp_path) -> None:
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(DataFormatError, match=r"notes\.h5"):
        read_h5(text)
    with pytest.raises(FileNotFoundError):
        read_h5(tmp_path / "absent.h5")


@pytest.mark.parametrize(
    ("split", "field"), [("Test", "Labels/End Times"), ("Train", "Spikes/Channels")]
)
def test_h5_missing_dataset_is_named(written, tmp_path, split: str, field: str) -> None:
    bad = tmp_path / "bad.h5"
    bad.write_bytes((written[0] / split / "Clean.h5").read_bytes())
    with h5py.File(bad, "a") as f:
        del f[field]
    with pytest.raises(DataFormatError, match=field):
        read_h5(bad)


def test_h5_bad_channels(written, tmp_path) -> None:
    bad = tmp_path / "bad.h5"
    bad.write_bytes((written[0] / "Train" / "Clean.h5").read_bytes())
    with h5py.File(bad, "a") as f:
        f["Spikes/Channels"][3] = np.full(len(f["Spikes/Channels"][3]), 7.0)
    with pytest.raises(DataFormatError, match="sample 3"):
        read_h5(bad)


# ---------------------------------------------------------------- metrics


@pytest.fixture
def labels():
    # the: start 0, end 55 | a: start 56, end 77 | the: start 78, end 133 | cat: start 134
    return encode_stream(["the", "a", "the", "cat"])[1]


def test_labels_fixture_by_hand(labels) -> None:
    assert labels.ends[0].tolist() == [55, 133] and labels.ends[5].tolist() == [77]


def test_exact_match(labels) -> None:
    detections = [(55, 0), (133, 0), (56, 0), (77, 5), (77, 0), (200, 3), (55, 0)]
    score = exact_match_score(detections, labels)
    assert (score.correct, score.incorrect) == (4, 3)
    assert score.per_class.shape == (50, 2)
    assert score.per_class[0].tolist() == [3, 2]  # 55, 133, 55 correct; 56, 77 not
    assert score.per_class[5].tolist() == [1, 0]
    assert score.per_class[3].tolist() == [0, 1]
    assert score.per_class.sum() == 7
    empty = exact_match_score(np.empty((0, 2)), labels)
    assert (empty.correct, empty.incorrect) == (0, 0)


def test_detection_scores(labels) -> None:
    detections = np.array([(56, 0), (57, 0), (140, 0), (77, 5), (100, 7), (54, 5)])
    s = detection_scores(detections, labels, window=3)
    # the: 56 hits 55, 57 is a second hit on the same occurrence (fp), 140 > 133 + 3 (fp),
    # occurrence 133 missed. a: 77 hits; 54 is before the end (fp). have (7): fp.
    assert (s.tp[0], s.fp[0], s.fn[0]) == (1, 2, 1)
    assert (s.tp[5], s.fp[5], s.fn[5]) == (1, 1, 0)
    assert (s.tp[7], s.fp[7], s.fn[7]) == (0, 1, 0)
    assert s.precision[0] == pytest.approx(1 / 3) and s.recall[0] == pytest.approx(1 / 2)
    assert s.f1[0] == pytest.approx(0.4)
    assert s.f1[5] == pytest.approx(2 * 0.5 * 1 / 1.5)
    # Macro over the three active keywords (the, a, have); micro: tp 2, fp 4, fn 1.
    assert s.macro_f1 == pytest.approx((0.4 + 2 / 3 + 0) / 3)
    assert s.micro_precision == pytest.approx(2 / 6) and s.micro_recall == pytest.approx(2 / 3)
    assert s.micro_f1 == pytest.approx(2 * (1 / 3) * (2 / 3) / 1.0)
    exact = detection_scores([(55, 0), (133, 0), (77, 5)], labels, window=0)
    assert exact.micro_f1 == 1.0 and exact.macro_recall == 1.0


def test_metrics_bad_input(labels) -> None:
    with pytest.raises(ValueError, match="classes"):
        exact_match_score([(55, 50)], labels)
    with pytest.raises(ValueError, match="window"):
        detection_scores([(55, 0)], labels, window=-1)
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        detection_scores([1, 2, 3], labels, window=1)


def test_noise_that_drops_every_spike_gives_no_events():
    from axonal.data.neuromorse import NoiseConfig, add_noise, encode_word

    rng = np.random.default_rng(0)
    out = add_noise(encode_word("a"), NoiseConfig(dropout=1.0), rng, clip_negative=True)
    assert len(out) == 0


def test_one_level_name_sets_all_three_noises():
    from axonal.data.neuromorse import NoiseConfig

    assert NoiseConfig.parse("low") == NoiseConfig.from_levels("low", "low", "low")
    assert NoiseConfig.parse("HIGH") == NoiseConfig.from_levels("high", "high", "high")
    assert NoiseConfig.parse("none") == NoiseConfig()


def test_stream_is_cached_and_reloaded(cache):
    first = NeuroMorseStream(noise="low", num_words=300, seed=4)
    files = list((cache / "neuromorse").glob("*.npz"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    again = NeuroMorseStream(noise="low", num_words=300, seed=4)
    assert files[0].stat().st_mtime_ns == stamp  # loaded, not rewritten
    assert np.array_equal(first.events, again.events)
    assert np.array_equal(first.words, again.words)
    for a, b in zip(first.labels.ends, again.labels.ends, strict=True):
        assert np.array_equal(a, b)
    files[0].write_bytes(b"not a zip file")  # a damaged cache is regenerated
    repaired = NeuroMorseStream(noise="low", num_words=300, seed=4)
    assert np.array_equal(first.events, repaired.events)
    other = NeuroMorseStream(noise="low", num_words=300, seed=5, cache=False)
    assert len(list((cache / "neuromorse").glob("*.npz"))) == 1
    assert not np.array_equal(first.events, other.events)
