"""The console script: help, the data command, errors."""

import subprocess
import sys

import h5py

from axonal.cli import main


def test_help_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "axonal.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("demo", "train", "data"):
        assert command in out


def test_every_command_has_help(capsys):
    for argv in (["demo", "--help"], ["train", "morse", "--help"], ["data", "neuromorse", "-h"]):
        try:
            main(argv)
        except SystemExit as exit_:
            assert exit_.code == 0
    assert "--stream-words" in capsys.readouterr().out


def test_data_neuromorse_writes_the_paper_layout(tmp_path, capsys):
    assert main(["data", "neuromorse", "--out", str(tmp_path), "--stream-words", "50"]) == 0
    assert len(list((tmp_path / "Train").glob("*.h5"))) == 27
    assert len(list((tmp_path / "Test").glob("*.h5"))) == 27
    with h5py.File(tmp_path / "Train" / "Clean.h5") as f:
        assert len(f["Spikes/Times"]) == 50
    assert "wrote 54 files" in capsys.readouterr().out


def test_bad_option_value_is_a_clear_error(capsys):
    assert main(["train", "morse", "--hidden", "0"]) == 2
    assert "hidden must be >= 1" in capsys.readouterr().err


def test_train_morse_stdp_runs_a_tiny_job(tmp_path, capsys):
    argv = ["train", "morse-stdp", "--epochs", "1", "--stream-words", "30",
            "--test-samples-per-word", "1", "--test-conditions", "clean",
            "--runs-dir", str(tmp_path), "--name", "tiny", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "word accuracy" in out and "online exact/spikes" in out
    assert (tmp_path / "tiny" / "metrics.json").is_file()
    assert (tmp_path / "tiny" / "model.safetensors").is_file()
    assert main(["train", "morse-stdp", "--neurons", "0"]) == 2
    assert "neurons must be >= 1" in capsys.readouterr().err
