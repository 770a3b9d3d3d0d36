"""Speed and memory of axonal against peer libraries (``python -m benchmarks.lif``)."""
