"""Plots: spike rasters and training curves.

Figures are built with :class:`matplotlib.figure.Figure` directly, never through
``pyplot``, so importing or calling these functions changes no global matplotlib state
(backend, current figure) and figures are freed with their last reference. PNG files are
written atomically.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from axonal.io import atomic_open

__all__ = ["plot_curves", "plot_raster", "save_png", "spike_matrix"]


def save_png(figure: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Write ``figure`` to ``path`` as PNG, atomically; returns the path."""
    path = Path(path)
    with atomic_open(path, binary=True) as f:
        figure.savefig(f, format="png", dpi=dpi)
    return path


def spike_matrix(spikes: torch.Tensor | np.ndarray, *, sample: int | None = 0) -> np.ndarray:
    """Spikes as a ``[T, N]`` numpy array.

    ``[T, N]`` is kept; an input with more axes is time-major ``[T, B, ...]`` and sample
    ``sample`` is taken, its feature axes flattened. ``sample=None`` flattens every axis
    after time instead (for ``[T, ...]`` with no batch axis).
    """
    if isinstance(spikes, torch.Tensor):
        spikes = spikes.detach().cpu().numpy()
    if not isinstance(spikes, np.ndarray):
        raise TypeError(
            f"spikes must be a torch.Tensor or numpy array, got {type(spikes).__name__}"
        )
    if spikes.ndim < 2:
        raise ValueError(f"spikes must be [T, N] or [T, B, ...], got shape {spikes.shape}")
    if spikes.ndim > 2 and sample is not None:
        if not -spikes.shape[1] <= sample < spikes.shape[1]:
            raise ValueError(f"sample {sample} is out of range for batch size {spikes.shape[1]}")
        spikes = spikes[:, sample]
    return spikes.reshape(spikes.shape[0], -1)


def plot_raster(
    spikes: torch.Tensor | np.ndarray,
    ax: Axes | None = None,
    *,
    title: str | None = None,
    path: str | Path | None = None,
    max_neurons: int | None = None,
    sample: int | None = 0,
) -> Axes:
    """Raster plot: one dot at ``(t, neuron)`` for every non-zero entry of ``spikes``.

    ``spikes``: ``[T, N]`` or time-major ``[T, B, ...]`` (see :func:`spike_matrix` for
    ``sample``); integer (I-LIF) outputs get one dot per non-zero count. ``max_neurons``
    keeps the first neurons only. Draws on ``ax`` or on a new figure; saves the figure as
    PNG to ``path`` if given. Returns the axes (``ax.figure`` is the figure).
    """
    matrix = spike_matrix(spikes, sample=sample)
    if max_neurons is not None:
        if not isinstance(max_neurons, int) or max_neurons < 1:
            raise ValueError(f"max_neurons must be a positive int, got {max_neurons!r}")
        matrix = matrix[:, :max_neurons]
    if ax is None:
        ax = Figure(figsize=(8, 4), layout="constrained").add_subplot()
    times, neurons = np.nonzero(matrix)
    ax.scatter(times, neurons, s=4, marker="|" if matrix.shape[1] > 50 else "o", c="black")
    ax.set_xlim(-0.5, matrix.shape[0] - 0.5)
    ax.set_ylim(-0.5, matrix.shape[1] - 0.5)
    ax.set_xlabel("time step")
    ax.set_ylabel("neuron")
    if title is not None:
        ax.set_title(title)
    if path is not None:
        save_png(ax.figure, path)
    return ax


def _check_history(history: Mapping[str, Sequence[float]]) -> None:
    if not isinstance(history, Mapping) or not history:
        raise ValueError("history must be a non-empty dict of metric name -> list of values")
    for name, values in history.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"history[{name!r}] must be a non-empty list of numbers")


def plot_curves(
    history: Mapping[str, Sequence[float]],
    path: str | Path | None = None,
    title: str | None = None,
) -> Figure:
    """Training curves: one panel per metric, values against epoch ``1..n``.

    ``history`` maps a metric name to its per-epoch values, e.g.
    ``{"loss": [...], "accuracy": [...]}``. Saves a PNG to ``path`` if given; returns the
    figure.
    """
    _check_history(history)
    columns = min(len(history), 3)
    rows = math.ceil(len(history) / columns)
    figure = Figure(figsize=(4 * columns, 3 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, (name, values) in zip(axes, history.items(), strict=False):
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, np.asarray(values, dtype=float), marker="o" if len(values) < 30 else "")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    for ax in axes[len(history) :]:
        ax.set_visible(False)
    if title is not None:
        figure.suptitle(title)
    if path is not None:
        save_png(figure, path)
    return figure
