"""Layers that NIR has and PyTorch lacks: ``Scale``, ``Threshold``, ``SumPool2d`` (applied per
time step, like ``nn.Linear``), ``Delay`` and the current-based leaky integrator ``CubaLI``
(stateful, over ``[T, B, ...]`` sequences).

NIR's integrator ``I`` (``dv/dt = r I``) needs no layer of its own: it is
``LI(beta=1.0, input_scale=dt * r)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as TF
from torch import Tensor, nn

from axonal.functional import neurons as F
from axonal.functional.continuous import current_based
from axonal.functional.surrogate import Surrogate, get_surrogate
from axonal.nn._checks import check_range
from axonal.nn.base import Neuron, SpikingModule, check_sequence, check_step

__all__ = ["CubaLI", "Delay", "Scale", "SumPool2d", "Threshold"]

Value = Tensor | float
Pair = int | tuple[int, int]


def _constant(value: Value) -> Tensor:
    return torch.as_tensor(value, dtype=torch.get_default_dtype()).detach().clone()


class Scale(nn.Module):
    """Element-wise gain ``y = scale * x``; ``scale`` broadcasts against one sample
    (e.g. ``[N]``, or ``[C, 1, 1]`` per channel)."""

    def __init__(self, scale: Value) -> None:
        super().__init__()
        self.register_buffer("scale", _constant(scale))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale.to(x.dtype)


class Threshold(nn.Module):
    """Stateless spike ``z = H(x - threshold)``: 1 strictly above the threshold, else 0, with a
    surrogate gradient (NIR's ``Threshold``)."""

    def __init__(self, threshold: Value = 1.0, surrogate: str | Surrogate = "atan") -> None:
        super().__init__()
        self.register_buffer("threshold", _constant(threshold))
        self.surrogate = get_surrogate(surrogate)

    def forward(self, x: Tensor) -> Tensor:
        return self.surrogate(x - self.threshold.to(x.dtype))


class SumPool2d(nn.Module):
    """Sum over each pooling window of ``[N, C, H, W]`` (zero padding; ``stride`` defaults to
    ``kernel_size``): an average pool times the window area."""

    def __init__(self, kernel_size: Pair, stride: Pair | None = None, padding: Pair = 0) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, x: Tensor) -> Tensor:
        return TF.avg_pool2d(
            x, self.kernel_size, self.stride, self.padding, count_include_pad=True,
            divisor_override=1,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Delay(SpikingModule):
    """Per-neuron transmission delay ``y[t] = x[t - steps]`` (zero before the input arrives).

    ``steps`` is an int or an integer tensor that broadcasts against one sample (e.g. ``[N]``).
    Input ``[T, B, ...]``, output the same shape; the state is the last ``max(steps)`` inputs
    ``[max(steps), B, ...]``.
    """

    def __init__(self, steps: Tensor | int) -> None:
        super().__init__()
        steps_t = torch.as_tensor(steps)
        if steps_t.is_floating_point() and not torch.equal(steps_t, steps_t.round()):
            raise ValueError(f"steps must be whole numbers of time steps, got {steps}")
        if steps_t.numel() == 0 or (steps_t < 0).any():
            raise ValueError(f"steps must be >= 0 (and not empty), got {steps}")
        self.register_buffer("steps", steps_t.to(torch.long))
        self.max_steps = int(steps_t.max())

    def run(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_sequence(x, "Delay")
        if state is None:
            state = x.new_zeros((self.max_steps, *x.shape[1:]))
        full = torch.cat([state, x])
        time = torch.arange(x.shape[0], device=x.device).view(-1, *[1] * (x.dim() - 1))
        index = (self.max_steps + time - self.steps.to(x.device)).expand_as(x)
        return full.gather(0, index), full[full.shape[0] - self.max_steps :]

    def step(self, x_t: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_step(x_t, "Delay")
        out, state = self.run(x_t.unsqueeze(0), state)
        return out[0], state

    def extra_repr(self) -> str:
        return f"max_steps={self.max_steps}"


class CubaLI(Neuron):
    """Current-based leaky integrator (non-spiking readout): ``i[t] = alpha i[t-1] + x[t]``,
    ``v[t] = beta v[t-1] + (1 - beta) v_leak + i[t]``; returns the membrane ``[T, B, ...]``."""

    step_function = staticmethod(F.cuba_li_step)
    state_type = F.CubaLIFState

    def __init__(
        self,
        alpha: Value = 0.8,
        beta: Value = 0.9,
        *,
        v_leak: float = 0.0,
        input_scale: Value | None = None,
    ) -> None:
        super().__init__(input_scale)
        check_range("alpha", alpha, 0.0, 1.0)
        check_range("beta", beta, 0.0, 1.0)
        self.v_leak = float(v_leak)
        self._value("alpha", alpha, False)
        self._value("beta", beta, False)

    @classmethod
    def from_continuous(
        cls,
        *,
        tau_syn: Value,
        tau_mem: Value,
        dt: float,
        r: Value = 1.0,
        w_in: Value = 1.0,
        v_leak: float = 0.0,
        method: str = "exp",
    ) -> CubaLI:
        """Build from ``tau_syn dI/dt = -I + w_in x`` and ``tau_mem dv/dt = (v_leak - v) + r I``
        (seconds); the input gain is ``(1 - alpha) w_in (1 - beta) r`` as for
        :meth:`axonal.nn.CubaLIF.from_continuous`."""
        alpha, beta, gain = current_based(tau_syn, tau_mem, dt, r, w_in, method)
        return cls(alpha=alpha, beta=beta, v_leak=v_leak, input_scale=gain)

    def parameters_for(self, dtype: torch.dtype) -> F.CubaLIParameters:
        alpha, beta = self._decay("alpha", dtype), self._decay("beta", dtype)
        return F.CubaLIParameters(alpha, beta, self.v_leak)
