"""Local plasticity rules bound to one weight: observe spike trains, then apply an update.

A rule is bound to exactly one weight: an ``nn.Linear`` (``weight [N_out, N_in]``), a 1x1
``nn.Conv2d`` (a linear map over channels, ``weight [C_out, C_in, 1, 1]``), an
:class:`axonal.nn.RLIF` (its ``recurrent`` weight) or a 2-D ``nn.Parameter``. Use::

    rule = SSDP(model.classifier, start_epoch=10)
    for epoch in range(epochs):
        for x, y in loader:
            out = model(x)                       # [T, B, ...]
            loss(out, y).backward()
            optimizer.step()
            rule.observe(pre_spikes, post_spikes)  # or rule.watch(...) hooks, see below
            rule.apply()                          # W += dW in place, no autograd
        rule.step_epoch()                         # warm-up counter and amplitude schedules

``observe`` only reads detached spike trains and ``apply`` changes only the bound weight
under ``torch.no_grad()``, so gradients and every other parameter are untouched. Spike
trains are ``[T, B, N]``; extra dimensions (tokens, pixels: *sites*) between ``B`` and the
neuron axis of a Linear, or after the channel axis of a 1x1 conv, are collapsed with "any
spike" (``sites="any"``, as the SSDP code does for the attention projection), or each site is
a sample of its own (``sites="samples"``: ``[T, B * sites, N]``, the weight acts on every site
separately, so a pair co-fires only when both neurons spike at the same site).

Amplitude schedules are small objects stepped once per epoch: :class:`CosineSchedule` and
:class:`EMASchedule` (the SSD-ViT code's move of 30% toward a cosine target each epoch).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from axonal.learning import functional as LF
from axonal.nn.recurrent import RLIF

__all__ = [
    "SITES",
    "SSDP",
    "STDP",
    "CausalSTDP",
    "CosineSchedule",
    "EMASchedule",
    "PlasticityRule",
    "Schedule",
    "WatchHandle",
    "bound_weight",
]

SITES = ("any", "samples")
"""How a rule reads trains with pixel or token axes; see :class:`PlasticityRule`."""


class Schedule:
    """An amplitude schedule: ``step(finished_epoch, current) -> value for the next epoch``."""

    def step(self, finished_epoch: int, current: float) -> float:
        raise NotImplementedError


class CosineSchedule(Schedule):
    """Cosine annealing from ``start`` (epoch 0) to ``end`` (epoch ``total_epochs`` and after).

    ``value(e) = end + (start - end) (1 + cos(pi min(e, E) / E)) / 2``; after epoch ``e``
    finishes, the next epoch uses ``value(e + 1)`` (the current value is ignored).
    """

    def __init__(self, start: float, end: float, total_epochs: int) -> None:
        if not isinstance(total_epochs, int) or total_epochs < 1:
            raise ValueError(f"total_epochs must be an int >= 1, got {total_epochs!r}")
        if not (math.isfinite(start) and math.isfinite(end)):
            raise ValueError(f"start and end must be finite, got {start}, {end}")
        self.start, self.end, self.total_epochs = float(start), float(end), total_epochs

    def value(self, epoch: int) -> float:
        """The annealed value at (0-based) ``epoch``."""
        progress = min(max(epoch, 0), self.total_epochs) / self.total_epochs
        return self.end + (self.start - self.end) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def step(self, finished_epoch: int, current: float) -> float:
        return self.value(finished_epoch + 1)


class EMASchedule(Schedule):
    """Move ``alpha`` of the way toward a cosine target each epoch, then clamp (SSD-ViT).

    After epoch ``e``: ``new = clamp((1 - alpha) current + alpha target.value(e), low, high)``.
    The SSD-ViT code uses ``alpha = 0.3``, bounds ``[1e-7, 1e-2]`` (``[0, 1e-2]`` for
    ``A_baseline``) and targets ``A+ 1e-4 -> 5e-5``, ``A_base 1e-4 -> 5e-5``.
    """

    def __init__(
        self, target: CosineSchedule, alpha: float = 0.3, low: float = 1e-7, high: float = 1e-2
    ) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must lie in (0, 1], got {alpha}")
        if not low <= high:
            raise ValueError(f"need low <= high, got low={low}, high={high}")
        self.target, self.alpha, self.low, self.high = target, float(alpha), low, high

    def step(self, finished_epoch: int, current: float) -> float:
        moved = (1.0 - self.alpha) * current + self.alpha * self.target.value(finished_epoch)
        return min(max(moved, self.low), self.high)


def bound_weight(target: nn.Module | nn.Parameter) -> nn.Parameter:
    """The weight a rule binds to: Linear / 1x1 Conv2d ``.weight``, RLIF ``.recurrent.weight``,
    or a 2-D Parameter itself."""
    if isinstance(target, nn.Parameter):
        if target.dim() != 2:
            raise ValueError(f"a bare weight must be 2-D [N_out, N_in], got {tuple(target.shape)}")
        return target
    if isinstance(target, RLIF):
        return target.recurrent.weight
    if isinstance(target, nn.Linear):
        return target.weight
    if isinstance(target, nn.Conv2d):
        if target.kernel_size != (1, 1) or target.groups != 1:
            raise ValueError(
                "only 1x1 Conv2d with groups=1 is a linear map over channels; got "
                f"kernel_size={target.kernel_size}, groups={target.groups}"
            )
        return target.weight
    raise TypeError(
        "a rule binds to nn.Linear, 1x1 nn.Conv2d, axonal.nn.RLIF or a 2-D nn.Parameter, "
        f"got {type(target).__name__}"
    )


def _neuron_axis_trains(
    spikes: Tensor, size: int, channels_first: bool, sites: str, name: str
) -> Tensor:
    """``[T, B, ...]`` spikes -> ``[T, B', size]`` (a value > 0 is a spike), detached.

    A float or bool ``[T, B, size]`` train is returned as it is (no copy); other dtypes become
    bool. Extra axes (sites: ``[T, B, C, *sites]`` for a conv, ``[T, B, *sites, N]`` for a
    linear map) are collapsed so that a neuron spikes where any of its sites do
    (``sites="any"``, ``B' = B``), or become samples (``sites="samples"``,
    ``B' = B * n_sites``, batch-major).
    """
    if not isinstance(spikes, Tensor) or spikes.dim() < 3:
        got = tuple(spikes.shape) if isinstance(spikes, Tensor) else type(spikes).__name__
        raise ValueError(f"{name} must be spikes [T, B, ..., N] (>= 3 dims), got {got}")
    size_axis = 2 if channels_first or spikes.dim() == 3 else -1
    if spikes.shape[size_axis] != size:
        raise ValueError(f"{name} must have {size} neurons, got shape {tuple(spikes.shape)}")
    x = spikes.detach()
    if x.dim() == 3 and (x.is_floating_point() or x.dtype == torch.bool):
        return x
    fired = x if x.dtype == torch.bool else x > 0
    if fired.dim() == 3:
        return fired
    if channels_first:  # [T, B, C, *sites] -> [T, B, *sites, C]
        fired = fired.flatten(3).transpose(2, 3)
    if sites == "any":
        return fired.flatten(2, -2).any(dim=2)
    return fired.reshape(fired.shape[0], -1, size)


def _binary(spikes: Tensor, dtype: torch.dtype) -> Tensor:
    """A train (value > 0, or bool) as ``{0, 1}`` in ``dtype``."""
    return (spikes if spikes.dtype == torch.bool else spikes > 0).to(dtype)


class WatchHandle:
    """Removes the forward hooks installed by :meth:`PlasticityRule.watch`."""

    def __init__(self, handles: list[Any]) -> None:
        self._handles = handles

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


class PlasticityRule:
    """Base of local rules bound to one weight (see the module docstring).

    Attributes:
        weight: the bound parameter. epoch: completed epochs (``step_epoch`` adds one).
        start_epoch: no observation or update while ``epoch < start_epoch``.
        sites: for trains with pixel or token axes, ``"any"`` (a neuron spikes when any of
            its sites does: one sample per batch entry) or ``"samples"`` (every site is a
            sample: batch-averaged rules then average over ``B x sites``; pre and post must
            have the same number of sites).
    """

    amplitude_names: tuple[str, ...] = ()

    def __init__(
        self,
        target: nn.Module | nn.Parameter,
        start_epoch: int,
        schedules: Mapping[str, Schedule] | None,
        sites: str = "any",
    ) -> None:
        if not isinstance(start_epoch, int) or start_epoch < 0:
            raise ValueError(f"start_epoch must be an int >= 0, got {start_epoch!r}")
        if sites not in SITES:
            raise ValueError(f"sites must be one of {SITES}, got {sites!r}")
        self.sites = sites
        self.weight = bound_weight(target)
        self.channels_first = isinstance(target, nn.Conv2d)
        self.start_epoch = start_epoch
        self.epoch = 0
        self.schedules = dict(schedules or {})
        unknown = set(self.schedules) - set(self.amplitude_names)
        if unknown:
            raise ValueError(
                f"schedules for unknown amplitudes {sorted(unknown)}; "
                f"this rule has {list(self.amplitude_names)}"
            )
        self._pending: Any = None
        self._pre: Tensor | None = None

    @property
    def active(self) -> bool:
        """Whether the warm-up is over (``epoch >= start_epoch``)."""
        return self.epoch >= self.start_epoch

    @property
    def shape(self) -> tuple[int, int]:
        """``(N_out, N_in)`` of the bound weight."""
        return int(self.weight.shape[0]), int(self.weight.shape[1])

    def observe(self, pre: Tensor, post: Tensor) -> None:
        """Record one forward pass: ``pre [T, B, ..., N_in]``, ``post [T, B, ..., N_out]``.

        Does nothing during the warm-up; several calls before :meth:`apply` add up.
        """
        if not self.active:
            return
        n_out, n_in = self.shape
        pre = _neuron_axis_trains(pre, n_in, self.channels_first, self.sites, "pre")
        post = _neuron_axis_trains(post, n_out, self.channels_first, self.sites, "post")
        if pre.shape[:2] != post.shape[:2]:
            raise ValueError(
                f"pre and post must have the same steps and samples, got [T, samples] = "
                f"{list(pre.shape[:2])} and {list(post.shape[:2])} (sites={self.sites!r}: "
                "with 'samples', both trains need the same pixels or tokens)"
            )
        with torch.no_grad():
            pending = self._measure(pre, post)
        if self._pending is None:
            self._pending = pending
        else:
            self._pending = tuple(a + b for a, b in zip(self._pending, pending, strict=True))

    def apply(self) -> Tensor | None:
        """Add the observed update to the bound weight in place (call after the optimizer step).

        Returns:
            The applied ``dW [N_out, N_in]``, or ``None`` when nothing was observed.
        """
        if self._pending is None:
            return None
        with torch.no_grad():
            delta = self._delta(self._pending, self.weight.detach().view(self.shape))
            self.weight.add_(delta.to(self.weight.dtype).view_as(self.weight))
        self._pending = None
        return delta

    def step_epoch(self) -> None:
        """End of an epoch: count it and step each amplitude schedule."""
        for name, schedule in self.schedules.items():
            setattr(self, name, float(schedule.step(self.epoch, getattr(self, name))))
        self.epoch += 1

    def watch(
        self,
        pre_module: nn.Module,
        post_module: nn.Module,
        *,
        pre_from: str = "output",
        pre_map: Callable[[Tensor], Tensor] | None = None,
        post_map: Callable[[Tensor], Tensor] | None = None,
    ):
        """Observe every training-mode forward pass through forward hooks.

        The pre train is ``pre_module``'s output (``pre_from="output"``) or its first input
        (``"input"``, e.g. the network input for a first layer); the post train is
        ``post_module``'s output. Both must be time-major ``[T, B, ...]`` (hook spiking
        modules, not plain layers, which a :class:`axonal.nn.Sequential` runs on ``[T*B, ...]``).
        ``pre_map`` / ``post_map`` turn a captured train into what the bound weight sees, e.g.
        ``lambda s: s.amax(dim=(-2, -1))`` for a Linear after global pooling of a
        ``[T, B, C, H, W]`` feature map. The captured train lives on this rule only; nothing
        is observed in eval mode.

        Returns:
            A :class:`WatchHandle`; ``handle.remove()`` uninstalls the hooks.
        """
        if pre_from not in ("output", "input"):
            raise ValueError(f"pre_from must be 'output' or 'input', got {pre_from!r}")

        def first(value: Any) -> Tensor:
            return value[0] if isinstance(value, (tuple, list)) else value

        def keep_pre(module: nn.Module, args: tuple[Any, ...], output: Any = None) -> None:
            self._pre = first(args if pre_from == "input" else output).detach()

        def on_post(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if not module.training:
                return
            if self._pre is None:
                raise RuntimeError("post spikes arrived before any pre spikes were captured")
            pre, self._pre = self._pre, None
            post = first(output).detach()
            self.observe(
                pre if pre_map is None else pre_map(pre),
                post if post_map is None else post_map(post),
            )

        if pre_from == "input":
            pre_hook = pre_module.register_forward_pre_hook(keep_pre)
        else:
            pre_hook = pre_module.register_forward_hook(keep_pre)
        return WatchHandle([pre_hook, post_module.register_forward_hook(on_post)])

    def state_dict(self) -> dict[str, float | int]:
        """Epoch and amplitudes, to checkpoint with the model."""
        return {"epoch": self.epoch, **{n: getattr(self, n) for n in self.amplitude_names}}

    def load_state_dict(self, state: Mapping[str, float | int]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.epoch = int(state["epoch"])
        for name in self.amplitude_names:
            setattr(self, name, float(state[name]))

    def _measure(self, pre: Tensor, post: Tensor) -> tuple[Tensor, ...]:
        """The pending update of one pass from detached trains ``pre [T, B, N_in]``,
        ``post [T, B, N_out]`` (float, value > 0 is a spike; or bool)."""
        raise NotImplementedError

    def _delta(self, pending: tuple[Tensor, ...], weight: Tensor) -> Tensor:
        raise NotImplementedError


class SSDP(PlasticityRule):
    """Spike-synchrony-dependent plasticity (:func:`axonal.learning.functional.ssdp_delta`).

    Defaults follow the SSDP code: ``A+ = 1.5e-4``, ``A_base = 5e-5``, ``sigma = 1`` step,
    warm-up of 10 epochs. ``schedules`` maps ``"a_plus"``, ``"a_baseline"`` or ``"sigma"``
    to a :class:`Schedule`. The change is computed at :meth:`observe` with the amplitudes of
    that moment.
    """

    amplitude_names = ("a_plus", "a_baseline", "sigma")

    def __init__(
        self,
        target: nn.Module | nn.Parameter,
        a_plus: float = 1.5e-4,
        a_baseline: float = 5e-5,
        sigma: float = 1.0,
        spike_time: str = "first",
        start_epoch: int = 10,
        schedules: Mapping[str, Schedule] | None = None,
        sites: str = "any",
    ) -> None:
        super().__init__(target, start_epoch, schedules, sites)
        if spike_time not in LF.SPIKE_TIMES:
            raise ValueError(f"spike_time must be one of {LF.SPIKE_TIMES}, got {spike_time!r}")
        self.a_plus, self.a_baseline, self.sigma = float(a_plus), float(a_baseline), float(sigma)
        self.spike_time = spike_time

    def _measure(self, pre: Tensor, post: Tensor) -> tuple[Tensor, ...]:
        delta = LF.ssdp_delta(pre, post, self.a_plus, self.a_baseline, self.sigma, self.spike_time)
        return (delta,)

    def _delta(self, pending: tuple[Tensor, ...], weight: Tensor) -> Tensor:
        return pending[0]


class STDP(PlasticityRule):
    """Trace-based pair STDP (:func:`axonal.learning.functional.stdp_pairings`).

    Additive or ``multiplicative`` (``A+ (w_max - W)``, ``A- (W - w_min)``), with hard bounds
    ``[w_min, w_max]`` when given. The pairings are accumulated at :meth:`observe`; the
    weight dependence uses the weight at :meth:`apply`. ``schedules`` may cover ``"a_plus"``
    and ``"a_minus"``. No warm-up by default.
    """

    amplitude_names = ("a_plus", "a_minus")

    def __init__(
        self,
        target: nn.Module | nn.Parameter,
        a_plus: float = 1e-2,
        a_minus: float = 1e-2,
        tau_plus: float = 20.0,
        tau_minus: float = 20.0,
        *,
        mode: str = "all_to_all",
        multiplicative: bool = False,
        w_min: float | None = None,
        w_max: float | None = None,
        start_epoch: int = 0,
        schedules: Mapping[str, Schedule] | None = None,
        sites: str = "any",
    ) -> None:
        super().__init__(target, start_epoch, schedules, sites)
        if mode not in LF.STDP_MODES:
            raise ValueError(f"mode must be one of {LF.STDP_MODES}, got {mode!r}")
        if multiplicative and (w_min is None or w_max is None):
            raise ValueError("multiplicative STDP needs w_min and w_max")
        self.a_plus, self.a_minus = float(a_plus), float(a_minus)
        self.tau_plus, self.tau_minus = float(tau_plus), float(tau_minus)
        self.mode, self.multiplicative = mode, multiplicative
        self.w_min, self.w_max = w_min, w_max

    def _measure(self, pre: Tensor, post: Tensor) -> tuple[Tensor, ...]:
        dtype = torch.promote_types(self.weight.dtype, torch.float32)
        return LF.stdp_pairings(
            _binary(pre, dtype), _binary(post, dtype), self.tau_plus, self.tau_minus, self.mode
        )

    def _delta(self, pending: tuple[Tensor, ...], weight: Tensor) -> Tensor:
        ltp, ltd = pending
        return LF.stdp_update(
            ltp, ltd, self.a_plus, self.a_minus, weight=weight, w_min=self.w_min,
            w_max=self.w_max, multiplicative=self.multiplicative,
        )  # fmt: skip


class CausalSTDP(PlasticityRule):
    """Post-triggered STDP with a causal linear window, weight-dependent (Bethi et al. 2022).

    The rule of the NeuroMorse paper's STDP network
    (:func:`axonal.learning.functional.causal_stdp_pairings`): at each post spike of neuron
    ``j``, ``W[j, i] += eta (w(t_post - t_pre_i) - W[j, i])`` with the window
    ``w(d) = max(0, 1 - d / window)`` of pre neuron ``i``'s latest spike (``"nearest"``) and
    0 without one in the window; weights stay in ``[w_min, w_max]``. The post spikes of one
    :meth:`observe` are summed (batch-averaged) and applied together at :meth:`apply`, with
    the weight at that time. ``schedules`` may cover ``"eta"``. No warm-up by default.
    """

    amplitude_names = ("eta",)

    def __init__(
        self,
        target: nn.Module | nn.Parameter,
        eta: float = 0.1,
        window: int = 15,
        *,
        mode: str = "nearest",
        w_min: float | None = 0.0,
        w_max: float | None = 1.0,
        start_epoch: int = 0,
        schedules: Mapping[str, Schedule] | None = None,
        sites: str = "any",
    ) -> None:
        super().__init__(target, start_epoch, schedules, sites)
        if mode not in LF.STDP_MODES:
            raise ValueError(f"mode must be one of {LF.STDP_MODES}, got {mode!r}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an int >= 1 (steps), got {window!r}")
        if w_min is not None and w_max is not None and not w_min < w_max:
            raise ValueError(f"need w_min < w_max, got w_min={w_min}, w_max={w_max}")
        self.eta, self.window, self.mode = float(eta), window, mode
        self.w_min, self.w_max = w_min, w_max

    def _measure(self, pre: Tensor, post: Tensor) -> tuple[Tensor, ...]:
        dtype = torch.promote_types(self.weight.dtype, torch.float32)
        return LF.causal_stdp_pairings(
            _binary(pre, dtype), _binary(post, dtype), self.window, self.mode
        )

    def _delta(self, pending: tuple[Tensor, ...], weight: Tensor) -> Tensor:
        ltp, count = pending
        return LF.causal_stdp_update(
            ltp, count, self.eta, weight=weight, w_min=self.w_min, w_max=self.w_max
        )
