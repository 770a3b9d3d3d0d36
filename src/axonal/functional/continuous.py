"""Map continuous-time neuron parameters (as in NIR) to the discrete per-step form.

A continuous leaky membrane ``tau dv/dt = (v_leak - v) + r * I`` sampled every ``dt`` with
the input held constant over a step becomes::

    v[t] = beta * v[t-1] + (1 - beta) * (v_leak + r * I[t])

- ``method="exp"`` (default, exact for piecewise-constant input): ``beta = exp(-dt / tau)``.
- ``method="euler"`` (forward Euler, what several peer libraries use): ``beta = 1 - dt / tau``.

Both share the input gain ``1 - beta``, so an axonal neuron (``v = beta v + (1-beta) v_leak + x``)
reproduces the continuous one with ``x = (1 - beta) * r * I``: the ``input_scale`` of the
modules' ``from_continuous``. A pure integrator ``dv/dt = r * I`` gives ``x = dt * r * I``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["METHODS", "current_based", "decay"]

METHODS = ("exp", "euler")


def _positive(name: str, value: Tensor | float) -> Tensor:
    t = torch.as_tensor(value, dtype=torch.float64)
    if not torch.isfinite(t).all() or (t <= 0).any():
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    return t


def decay(tau: Tensor | float, dt: float, method: str = "exp") -> Tensor:
    """Per-step decay factor (``beta`` or ``alpha``) of a time constant ``tau`` (seconds) at step
    ``dt`` (seconds). Returns a float tensor shaped like ``tau``."""
    tau_t = _positive("tau", tau)
    dt_t = _positive("dt", dt)
    if method == "exp":
        out = torch.exp(-dt_t / tau_t)
    elif method == "euler":
        if (dt_t > tau_t).any():
            raise ValueError(f"euler needs dt <= tau (else beta < 0), got dt={dt}, tau={tau}")
        out = 1 - dt_t / tau_t
    else:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return out.to(torch.get_default_dtype())


def current_based(
    tau_syn: Tensor | float,
    tau_mem: Tensor | float,
    dt: float,
    r: Tensor | float = 1.0,
    w_in: Tensor | float = 1.0,
    method: str = "exp",
) -> tuple[Tensor, Tensor, Tensor]:
    """``(alpha, beta, input_scale)`` of a current-based neuron
    ``tau_syn dI/dt = -I + w_in x``, ``tau_mem dv/dt = (v_leak - v) + r I``.

    Each equation is discretised on its own; both input gains ``(1 - alpha) w_in`` and
    ``(1 - beta) r`` fold into ``input_scale``, so the synaptic state is the current already
    multiplied by ``(1 - beta) r``.
    """
    alpha = decay(tau_syn, dt, method)
    beta = decay(tau_mem, dt, method)
    gain = (1 - alpha) * torch.as_tensor(w_in) * (1 - beta) * torch.as_tensor(r)
    return alpha, beta, gain
