"""Neuron layers: a sequence module (``LIF``) and a one-step cell (``LIFCell``) per model.

Sequence modules take ``[T, B, ...]`` and return spikes ``[T, B, ...]`` (``LI`` returns its
membrane). Cells take one step ``[B, ...]`` and return ``(out, state)``. Constants may be
floats or tensors that broadcast against one step (e.g. ``beta`` of shape ``[N]`` for per-neuron
leaks, ``[C, 1, 1]`` per conv channel); ``learn_beta``/``learn_threshold`` make them trainable.
``state_quant`` (optional, e.g. :class:`axonal.quant.StateQuantizer`) quantises the membrane
after each update, before firing; a module passed here becomes a submodule.
The maths is in :mod:`axonal.functional.neurons`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from axonal.functional import neurons as F
from axonal.functional.continuous import current_based, decay
from axonal.functional.surrogate import Surrogate, get_surrogate
from axonal.nn._checks import Value, check_range, check_threshold
from axonal.nn.base import CellMode, Neuron

__all__ = [
    "ALIF",
    "IF",
    "ILIF",
    "LI",
    "LIF",
    "ALIFCell",
    "CubaLIF",
    "CubaLIFCell",
    "IFCell",
    "ILIFCell",
    "LICell",
    "LIFCell",
]

StateQuant = Callable[[Tensor], Tensor] | None


class _Leaky(Neuron):
    """Shared constants of the spiking leaky neurons: leak, threshold, reset, surrogate."""

    def __init__(
        self,
        beta: Value,
        threshold: Value,
        reset: str,
        surrogate: str | Surrogate | None,
        learn_beta: bool,
        learn_threshold: bool,
        detach_reset: bool,
        v_reset: float,
        v_leak: float,
        input_scale: Value | None,
        state_quant: StateQuant,
    ) -> None:
        super().__init__(input_scale)
        check_range("beta", beta, 0.0, 1.0)
        check_threshold(threshold)
        self.state_quant = state_quant
        self.reset_mode = F.check_reset(reset)
        self.surrogate = None if surrogate is None else get_surrogate(surrogate)
        self.detach_reset = detach_reset
        self.v_reset = float(v_reset)
        self.v_leak = float(v_leak)
        self._value("beta", beta, learn_beta)
        self._value("threshold", threshold, learn_threshold)

    @classmethod
    def from_continuous(
        cls,
        *,
        tau: Value,
        dt: float,
        r: Value = 1.0,
        v_leak: float = 0.0,
        v_threshold: Value = 1.0,
        v_reset: float = 0.0,
        method: str = "exp",
        **kwargs,
    ):
        """Build from continuous parameters ``tau dv/dt = (v_leak - v) + r I`` (seconds).

        ``beta = exp(-dt/tau)`` (``method="exp"``) or ``1 - dt/tau`` (``"euler"``); the input is
        scaled by ``(1 - beta) * r``; see :mod:`axonal.functional.continuous`. ``v_reset`` is
        the value a ``reset="zero"`` neuron jumps to (pass ``reset=`` in ``kwargs``).
        """
        beta = decay(tau, dt, method)
        return cls(
            beta=beta,
            threshold=v_threshold,
            v_reset=v_reset,
            v_leak=v_leak,
            input_scale=(1 - beta) * torch.as_tensor(r, dtype=beta.dtype),
            **kwargs,
        )

    def extra_repr(self) -> str:
        return f"reset={self.reset_mode!r}, surrogate={self.surrogate}"


class LIF(_Leaky):
    """Leaky integrate-and-fire neurons over a sequence ``[T, B, ...] -> spikes [T, B, ...]``.

    ``v[t] = beta v'[t-1] + (1 - beta) v_leak + x[t]``, ``s[t] = H(v[t] - threshold)``, then a
    ``"subtract"`` (``v - s*threshold``), ``"zero"`` (to ``v_reset``) or ``"none"`` reset.
    """

    step_function = staticmethod(F.lif_step)
    state_type = F.LIFState

    def __init__(
        self,
        beta: Value = 0.9,
        threshold: Value = 1.0,
        reset: str = "subtract",
        surrogate: str | Surrogate = "atan",
        *,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        detach_reset: bool = True,
        v_reset: float = 0.0,
        v_leak: float = 0.0,
        input_scale: Value | None = None,
        state_quant: StateQuant = None,
    ) -> None:
        super().__init__(
            beta, threshold, reset, surrogate, learn_beta, learn_threshold, detach_reset,
            v_reset, v_leak, input_scale, state_quant,
        )  # fmt: skip

    def parameters_for(self, dtype: torch.dtype) -> F.LIFParameters:
        return F.LIFParameters(
            self._decay("beta", dtype), self.threshold.to(dtype), self.reset_mode, self.v_reset,
            self.v_leak, self.surrogate, self.detach_reset, self.state_quant,
        )  # fmt: skip


class ILIF(_Leaky):
    """Integer-valued LIF (I-LIF): emits ``k / max_spikes`` with ``k`` in ``{0..max_spikes}``.

    ``k = round(clamp(v / threshold, 0, D))`` with a straight-through gradient (SDTrack,
    Spike-driven Transformer v3). At inference each ``k`` stands for ``k`` binary spikes over
    ``D`` virtual sub-steps. Defaults ``beta=0.25, D=4`` follow SDTrack.
    """

    step_function = staticmethod(F.ilif_step)
    state_type = F.LIFState

    def __init__(
        self,
        beta: Value = 0.25,
        threshold: Value = 1.0,
        reset: str = "subtract",
        max_spikes: int = 4,
        *,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        detach_reset: bool = True,
        v_reset: float = 0.0,
        v_leak: float = 0.0,
        input_scale: Value | None = None,
        state_quant: StateQuant = None,
    ) -> None:
        if not isinstance(max_spikes, int) or max_spikes < 1:
            raise ValueError(f"max_spikes must be an int >= 1, got {max_spikes!r}")
        super().__init__(
            beta, threshold, reset, None, learn_beta, learn_threshold,
            detach_reset, v_reset, v_leak, input_scale, state_quant,
        )  # fmt: skip
        self.max_spikes = max_spikes

    def parameters_for(self, dtype: torch.dtype) -> F.ILIFParameters:
        return F.ILIFParameters(
            self._decay("beta", dtype), self.threshold.to(dtype), self.max_spikes, self.reset_mode,
            self.v_reset, self.v_leak, self.detach_reset, self.state_quant,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"reset={self.reset_mode!r}, max_spikes={self.max_spikes}"


class ALIF(_Leaky):
    """Adaptive-threshold LIF: each spike raises the threshold by ``adapt_strength``, decaying
    by ``adapt_decay`` per step (Bellec et al.'s LSNN neuron, discrete form)."""

    step_function = staticmethod(F.alif_step)
    state_type = F.ALIFState

    def __init__(
        self,
        beta: Value = 0.9,
        threshold: Value = 1.0,
        reset: str = "subtract",
        surrogate: str | Surrogate = "atan",
        *,
        adapt_decay: Value = 0.95,
        adapt_strength: Value = 0.2,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        detach_reset: bool = True,
        v_reset: float = 0.0,
        v_leak: float = 0.0,
        input_scale: Value | None = None,
        state_quant: StateQuant = None,
    ) -> None:
        super().__init__(
            beta, threshold, reset, surrogate, learn_beta, learn_threshold, detach_reset,
            v_reset, v_leak, input_scale, state_quant,
        )  # fmt: skip
        check_range("adapt_decay", adapt_decay, 0.0, 1.0)
        check_range("adapt_strength", adapt_strength, 0.0)
        self._value("adapt_decay", adapt_decay, False)
        self._value("adapt_strength", adapt_strength, False)

    @classmethod
    def from_continuous(cls, *, tau_adapt: Value = 0.02, dt: float, method: str = "exp", **kw):
        """As :meth:`LIF.from_continuous`, plus the adaptation time constant ``tau_adapt`` (s)."""
        adapt_decay = decay(tau_adapt, dt, method)
        return super().from_continuous(dt=dt, method=method, adapt_decay=adapt_decay, **kw)

    def parameters_for(self, dtype: torch.dtype) -> F.ALIFParameters:
        return F.ALIFParameters(
            self._decay("beta", dtype), self.threshold.to(dtype), self.adapt_decay.to(dtype),
            self.adapt_strength.to(dtype), self.reset_mode, self.v_reset, self.v_leak,
            self.surrogate, self.detach_reset, self.state_quant,
        )  # fmt: skip


class CubaLIF(_Leaky):
    """Current-based LIF: ``i[t] = alpha i[t-1] + x[t]`` feeds ``v[t] = beta v'[t-1] + i[t]``."""

    step_function = staticmethod(F.cuba_lif_step)
    state_type = F.CubaLIFState

    def __init__(
        self,
        alpha: Value = 0.8,
        beta: Value = 0.9,
        threshold: Value = 1.0,
        reset: str = "subtract",
        surrogate: str | Surrogate = "atan",
        *,
        learn_alpha: bool = False,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        detach_reset: bool = True,
        v_reset: float = 0.0,
        v_leak: float = 0.0,
        input_scale: Value | None = None,
        state_quant: StateQuant = None,
    ) -> None:
        super().__init__(
            beta, threshold, reset, surrogate, learn_beta, learn_threshold, detach_reset,
            v_reset, v_leak, input_scale, state_quant,
        )  # fmt: skip
        check_range("alpha", alpha, 0.0, 1.0)
        self._value("alpha", alpha, learn_alpha)

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
        v_threshold: Value = 1.0,
        v_reset: float = 0.0,
        method: str = "exp",
        **kwargs,
    ):
        """Build from ``tau_syn dI/dt = -I + w_in x`` and ``tau_mem dv/dt = (v_leak - v) + r I``.

        See :func:`axonal.functional.continuous.current_based` for the mapping.
        """
        alpha, beta, gain = current_based(tau_syn, tau_mem, dt, r, w_in, method)
        return cls(
            alpha=alpha, beta=beta, threshold=v_threshold, v_reset=v_reset, v_leak=v_leak,
            input_scale=gain, **kwargs,
        )  # fmt: skip

    def parameters_for(self, dtype: torch.dtype) -> F.CubaLIFParameters:
        return F.CubaLIFParameters(
            self._decay("alpha", dtype), self._decay("beta", dtype), self.threshold.to(dtype),
            self.reset_mode, self.v_reset, self.v_leak, self.surrogate, self.detach_reset,
            self.state_quant,
        )  # fmt: skip


class IF(Neuron):
    """Integrate-and-fire neurons (no leak): ``v[t] = v'[t-1] + x[t]``, fire, reset."""

    step_function = staticmethod(F.if_step)
    state_type = F.LIFState

    def __init__(
        self,
        threshold: Value = 1.0,
        reset: str = "subtract",
        surrogate: str | Surrogate = "atan",
        *,
        learn_threshold: bool = False,
        detach_reset: bool = True,
        v_reset: float = 0.0,
        input_scale: Value | None = None,
        state_quant: StateQuant = None,
    ) -> None:
        super().__init__(input_scale)
        check_threshold(threshold)
        self.reset_mode = F.check_reset(reset)
        self.surrogate = get_surrogate(surrogate)
        self.detach_reset = detach_reset
        self.v_reset = float(v_reset)
        self.state_quant = state_quant
        self._value("threshold", threshold, learn_threshold)

    @classmethod
    def from_continuous(
        cls,
        *,
        dt: float,
        r: Value = 1.0,
        v_threshold: Value = 1.0,
        v_reset: float = 0.0,
        **kwargs,
    ):
        """Build from ``dv/dt = r I``: the input is scaled by ``dt * r`` (exact for an input held
        constant over each step, so ``method`` does not matter)."""
        if dt <= 0:
            raise ValueError(f"dt must be > 0, got {dt}")
        kwargs.pop("method", None)
        scale = dt * torch.as_tensor(r, dtype=torch.get_default_dtype())
        return cls(threshold=v_threshold, v_reset=v_reset, input_scale=scale, **kwargs)

    def parameters_for(self, dtype: torch.dtype) -> F.IFParameters:
        return F.IFParameters(
            self.threshold.to(dtype), self.reset_mode, self.v_reset, self.surrogate,
            self.detach_reset, self.state_quant,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"reset={self.reset_mode!r}, surrogate={self.surrogate}"


class LI(Neuron):
    """Leaky integrators (non-spiking readout): returns the membrane ``[T, B, ...]``."""

    step_function = staticmethod(F.li_step)
    state_type = F.LIFState

    def __init__(
        self,
        beta: Value = 0.9,
        *,
        learn_beta: bool = False,
        v_leak: float = 0.0,
        input_scale: Value | None = None,
        state_quant: StateQuant = None,
    ) -> None:
        super().__init__(input_scale)
        check_range("beta", beta, 0.0, 1.0)
        self.v_leak = float(v_leak)
        self.state_quant = state_quant
        self._value("beta", beta, learn_beta)

    @classmethod
    def from_continuous(
        cls, *, tau: Value, dt: float, r: Value = 1.0, v_leak: float = 0.0, method: str = "exp"
    ):
        """Build from ``tau dv/dt = (v_leak - v) + r I`` (see :meth:`LIF.from_continuous`)."""
        beta = decay(tau, dt, method)
        return cls(beta=beta, v_leak=v_leak, input_scale=(1 - beta) * torch.as_tensor(r))

    def parameters_for(self, dtype: torch.dtype) -> F.LIParameters:
        return F.LIParameters(self._decay("beta", dtype), self.v_leak, self.state_quant)


class LIFCell(CellMode, LIF):
    """One LIF step: ``cell(x_t [B, ...], state=None) -> (spikes [B, ...], LIFState)``."""


class ILIFCell(CellMode, ILIF):
    """One I-LIF step: ``cell(x_t, state=None) -> (k / max_spikes, LIFState)``."""


class ALIFCell(CellMode, ALIF):
    """One adaptive LIF step: ``cell(x_t, state=None) -> (spikes, ALIFState)``."""


class CubaLIFCell(CellMode, CubaLIF):
    """One current-based LIF step: ``cell(x_t, state=None) -> (spikes, CubaLIFState)``."""


class IFCell(CellMode, IF):
    """One integrate-and-fire step: ``cell(x_t, state=None) -> (spikes, LIFState)``."""


class LICell(CellMode, LI):
    """One leaky-integrator step: ``cell(x_t, state=None) -> (membrane, LIFState)``."""
