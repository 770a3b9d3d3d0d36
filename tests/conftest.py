"""Test-wide settings: generated datasets are cached in a temporary folder, never in ~/.cache."""

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("AXONAL_CACHE", str(tmp_path_factory.getbasetemp() / "axonal-cache"))
