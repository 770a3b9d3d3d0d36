"""Spike-driven Transformer (Yao et al. 2023, SDSA version 1), time-major and conv-shaped.

``SpikeDrivenTransformer`` maps frames ``[T, B, C, H, W] -> logits [T, B, classes]``:

- patch embedding: ``conv3x3 -> BN -> SN -> maxpool2 -> conv3x3 -> BN`` (tokens are the
  ``H/2 x W/2`` pixels of a ``dim``-channel map), then a relative position embedding
  ``u + BN(conv3x3(SN(u)))``;
- ``depth`` blocks with membrane shortcuts: ``u = u + SDSA(u)``, ``u = u + MLP(u)``;
- head: ``SN -> global average over tokens -> Linear``.

Spike-driven self-attention (:class:`SpikeDrivenAttention`) uses no multiplications of real
values: ``Q, K, V = SN(BN(W s))`` are spikes, ``gate = SN_g(sum_tokens(K * V))`` (a per-channel
spike, threshold ``gate_threshold``), and the output is ``BN(W_o (Q * gate))``. Token-wise
linear maps are 1x1 convolutions; convolutions and BN fold time into batch.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from axonal.models.registry import register_model
from axonal.models.resnet import make_neuron
from axonal.models.sma import AttentionFactory, sma_factory
from axonal.nn import Neuron, Sequential, SpikingModule

__all__ = ["Residual", "SpikeDrivenAttention", "SpikeDrivenTransformer"]


class Residual(SpikingModule):
    """Membrane shortcut around a spiking module: ``x + inner(x)``; the state is ``inner``'s."""

    def __init__(self, inner: SpikingModule) -> None:
        super().__init__()
        self.inner = inner

    def run(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        out, state = self.inner(x, state, return_state=True)
        return x + out, state

    def step(self, x_t: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        out, state = self.inner.step(x_t, state)
        return x_t + out, state


def _projection(dim: int, kind: str, max_spikes: int) -> Sequential:
    conv = nn.Conv2d(dim, dim, 1, bias=False)
    return Sequential(conv, nn.BatchNorm2d(dim), make_neuron(kind, max_spikes))


class SpikeDrivenAttention(SpikingModule):
    """Spike-driven self-attention over the pixels of ``[T, B, dim, H, W]`` (membrane in,
    membrane out, same shape). ``neuron``/``max_spikes``: see
    :func:`~axonal.models.resnet.make_neuron`; ``gate_threshold``: threshold of the neuron
    that fires on the token-summed ``K * V``. The state is one entry per neuron stage
    ``(input, q, k, v, gate)``.
    """

    def __init__(
        self, dim: int, *, neuron: str = "lif", max_spikes: int = 4, gate_threshold: float = 0.5
    ) -> None:
        super().__init__()
        self.input = make_neuron(neuron, max_spikes)
        self.q = _projection(dim, neuron, max_spikes)
        self.k = _projection(dim, neuron, max_spikes)
        self.v = _projection(dim, neuron, max_spikes)
        self.gate = make_neuron(neuron, max_spikes, threshold=gate_threshold)
        self.out = Sequential(nn.Conv2d(dim, dim, 1, bias=False), nn.BatchNorm2d(dim))

    def run(self, x: Tensor, state: Any = None) -> tuple[Tensor, tuple[Any, ...]]:
        s_in, s_q, s_k, s_v, s_gate = (None,) * 5 if state is None else state
        spikes, s_in = self.input(x, s_in, return_state=True)
        q, s_q = self.q(spikes, s_q, return_state=True)
        k, s_k = self.k(spikes, s_k, return_state=True)
        v, s_v = self.v(spikes, s_v, return_state=True)
        gate, s_gate = self.gate((k * v).sum((3, 4), keepdim=True), s_gate, return_state=True)
        return self.out(q * gate), (s_in, s_q, s_k, s_v, s_gate)

    def step(self, x_t: Tensor, state: Any = None) -> tuple[Tensor, tuple[Any, ...]]:
        out, state = self.run(x_t[None], state)
        return out[0], state


class SpikeDrivenTransformer(Sequential):
    """A spike-driven Transformer ``[T, B, in_channels, H, W] -> logits [T, B, num_classes]``
    (``H`` and ``W`` even).

    ``dim``: token channels; ``depth``: number of attention + MLP blocks; ``mlp_ratio``: MLP
    hidden size over ``dim``; ``neuron``/``max_spikes``: ``"lif"`` or integer-valued
    ``"ilif"`` with ``D = max_spikes``; ``sma=True`` adds SMA + AZO
    (:class:`~axonal.models.sma.SMA`, ``time_steps`` required, ``sma_options`` passed on) to the
    conv stage. The state is one entry per layer.
    """

    def __init__(
        self,
        *,
        in_channels: int = 2,
        num_classes: int = 10,
        dim: int = 64,
        depth: int = 2,
        mlp_ratio: int = 4,
        neuron: str = "lif",
        max_spikes: int = 4,
        sma: bool = False,
        time_steps: int | None = None,
        sma_options: dict[str, Any] | None = None,
    ) -> None:
        attend = sma_factory(time_steps, sma_options) if sma else None
        if dim < 2 or dim % 2 or depth < 1 or mlp_ratio < 1:
            raise ValueError(
                f"need an even dim >= 2, depth >= 1 and mlp_ratio >= 1, "
                f"got dim={dim}, depth={depth}, mlp_ratio={mlp_ratio}"
            )

        def sn() -> Neuron:
            return make_neuron(neuron, max_spikes)

        def conv_bn(c_in: int, c_out: int, kernel: int) -> list[nn.Module]:
            conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False)
            return [conv, nn.BatchNorm2d(c_out)]

        embed = [
            *conv_bn(in_channels, dim // 2, 3),
            sn(),
            nn.MaxPool2d(2),
            *conv_bn(dim // 2, dim, 3),
        ]
        layers: list[nn.Module] = [*embed, Residual(Sequential(sn(), *conv_bn(dim, dim, 3)))]
        hidden = dim * mlp_ratio
        for _ in range(depth):
            attention = SpikeDrivenAttention(dim, neuron=neuron, max_spikes=max_spikes)
            mlp = Sequential(sn(), *conv_bn(dim, hidden, 1), sn(), *conv_bn(hidden, dim, 1))
            layers += [Residual(attention), Residual(mlp)]
        layers += [sn(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(dim, num_classes)]
        super().__init__(*layers)
        self.in_channels = in_channels
        if attend is not None:  # made last, so the other layers start as without SMA
            self._insert_sma(attend)

    def _insert_sma(self, attention: AttentionFactory) -> None:
        """SMA between a 3 x 3 convolution and its BN, as in the ResNets, in the conv stage: after
        the patch embedding's second convolution and after the position embedding's (the first
        convolution, on the raw input, gets none, as in the paper's VGG)."""
        embed = [i for i, layer in enumerate(self) if isinstance(layer, nn.Conv2d)][1]
        self.insert(embed + 1, attention(self[embed].out_channels))
        position = next(layer.inner for layer in self if isinstance(layer, Residual))
        conv = next(i for i, layer in enumerate(position) if isinstance(layer, nn.Conv2d))
        position.insert(conv + 1, attention(position[conv].out_channels))

    def run(self, x: Tensor, state: list[Any] | None = None) -> tuple[Tensor, list[Any]]:
        if x.dim() != 5 or x.shape[2] != self.in_channels:
            raise ValueError(
                f"SpikeDrivenTransformer expects [T, B, {self.in_channels}, H, W], "
                f"got {tuple(x.shape)}"
            )
        return super().run(x, state)


@register_model("sdt_tiny")
def sdt_tiny(**kwargs: Any) -> SpikeDrivenTransformer:
    """A two-block spike-driven Transformer with 64 token channels (override with kwargs)."""
    return SpikeDrivenTransformer(**{"dim": 64, "depth": 2, **kwargs})
