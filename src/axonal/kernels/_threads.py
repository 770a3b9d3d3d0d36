"""The worker threads the compiled CPU loops (neuron scans, event-driven layers) run on."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

PARALLEL_MIN = 1 << 16
"""Work items (neuron-steps, input elements) below which one thread is faster."""

_pools: dict[int, ThreadPoolExecutor] = {}


def worker_pool() -> ThreadPoolExecutor:
    """One pool of ``os.cpu_count()`` threads per process (a forked child must not reuse its
    parent's threads); callers bound how many tasks they submit by ``torch.get_num_threads()``."""
    pid = os.getpid()
    if pid not in _pools:
        _pools.clear()
        _pools[pid] = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="axonal")
    return _pools[pid]
