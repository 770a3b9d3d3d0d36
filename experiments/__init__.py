"""Experiment scripts: each reruns a result recorded in docs/."""
