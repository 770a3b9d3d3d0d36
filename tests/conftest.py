"""Test-wide settings: generated datasets are cached in a temporary folder, never in ~/.cache;
an empty cache folder of a test's own (``cache``); a seeded single-thread fixture for the
model-zoo tests."""

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("AXONAL_CACHE", str(tmp_path_factory.getbasetemp() / "axonal-cache"))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder for this test alone (``AXONAL_CACHE``): the folder it returns."""
    monkeypatch.setenv("AXONAL_CACHE", str(tmp_path))
    return tmp_path


@pytest.fixture
def seeded_single_thread():
    """Deterministic parameter init without leaking the seed into other tests, on one thread:
    model-zoo tensors in tests are tiny, and on a busy 2-core machine intra-op threads only
    contend. Use with ``pytestmark = pytest.mark.usefixtures("seeded_single_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            yield
    finally:
        torch.set_num_threads(threads)
