"""Tests for the Spiking MetaFormer (axonal.models.metaformer)."""

from __future__ import annotations

import pytest
import torch
from model_cases import train_losses
from torch import Tensor, nn

from axonal.models import (
    SMA,
    SpikeDrivenAttention,
    SpikingMetaFormer,
    conv_block,
    create_model,
    list_models,
)
from axonal.nn import ILIF, LIF

T, B, C_IN, SIZE, CLASSES = 4, 2, 2, 16, 5


pytestmark = pytest.mark.usefixtures("seeded_single_thread")


def frames(scale: float = 2.0, seed: int = 1, size: int = SIZE) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(T, B, C_IN, size, size, generator=generator) * scale


def tiny(**kwargs) -> SpikingMetaFormer:
    return create_model("spiking_metaformer_tiny", width=4, num_classes=CLASSES, **kwargs)


def test_registered_sizes() -> None:
    names = list_models()
    for name in ("spiking_metaformer_tiny", "spiking_metaformer_sdtrack_tiny"):
        assert name in names
    paper = create_model("spiking_metaformer_sdtrack_tiny")
    linears = [m for m in paper.modules() if isinstance(m, nn.Linear)]
    assert linears[-1].in_features == 360  # SDTrack-Tiny's last stage width
    assert sum(isinstance(m, SpikeDrivenAttention) for m in paper.modules()) == 6 + 2
    assert all(isinstance(m, ILIF) for m in paper.modules() if isinstance(m, (ILIF, LIF)))


@pytest.mark.parametrize("name", ["spiking_metaformer_tiny", "spiking_metaformer_sdtrack_tiny"])
def test_output_shape(name: str) -> None:
    model = create_model(name, width=4, num_classes=CLASSES)
    assert model(frames()).shape == (T, B, CLASSES)


def test_total_stride_of_the_sdtrack_shape() -> None:
    model = create_model("spiking_metaformer_sdtrack_tiny", width=4)
    shapes: list[tuple[int, ...]] = []
    for module in model.modules():
        if isinstance(module, SpikeDrivenAttention):
            module.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out[0].shape)))
    model(frames(size=64))
    assert set(shapes) == {(T, B, 16, 4, 4), (T, B, 22, 4, 4)}  # 64 / 16, dims scaled by 4/64


@pytest.mark.parametrize("neuron", ["ilif", "lif"])
def test_one_training_step_lowers_the_loss(neuron: str) -> None:
    model = tiny(neuron=neuron)
    x, target = frames(), torch.tensor([0, 3])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss() -> Tensor:
        return nn.functional.cross_entropy(model(x).mean(0), target)

    before = loss()
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = loss()
    assert after < before


def test_ilif_outputs_are_multiples_of_one_over_d() -> None:
    model = tiny(max_spikes=3)
    outputs: list[Tensor] = []
    neurons = [m for m in model.modules() if isinstance(m, ILIF)]
    assert neurons and all(n.max_spikes == 3 for n in neurons)
    for module in neurons:
        module.register_forward_hook(lambda _m, _i, out: outputs.append(out[0].detach()))
    model(frames(scale=4.0))
    k = torch.cat([o.flatten() for o in outputs]) * 3
    assert torch.equal(k, k.round())
    assert k.min() >= 0 and k.max() <= 3
    assert ((k > 0) & (k < 3)).any()  # graded, not binary


def test_lif_option_gives_binary_spikes() -> None:
    model = tiny(neuron="lif")
    assert not any(isinstance(m, ILIF) for m in model.modules())
    outputs: list[Tensor] = []
    for module in model.modules():
        if isinstance(module, LIF):
            module.register_forward_hook(lambda _m, _i, out: outputs.append(out[0].detach()))
    model(frames(scale=4.0))
    spikes = torch.cat([o.flatten() for o in outputs])
    assert set(spikes.unique().tolist()) == {0.0, 1.0}


def test_sma_plugs_into_every_conv_block_and_trains() -> None:
    model = tiny(sma=True, time_steps=T, sma_options={"rcr": 2, "rtr": 2})
    smas = [m for m in model.modules() if isinstance(m, SMA)]
    assert len(smas) == 3  # the stem block and one block in each of the two conv stages
    assert [s.channels for s in smas] == [2, 4, 8]
    x, target = frames(), torch.tensor([1, 4])
    losses = train_losses(model, x, target, steps=4)
    assert losses[-1] < losses[0]
    assert all(p.grad is not None for s in smas for p in s.parameters())


def test_azo_changes_training_outputs_only() -> None:
    model = tiny(sma=True, time_steps=T, sma_options={"rcr": 1, "rtr": 1})
    x = frames(scale=4.0)
    with_azo = model(x)
    for sma in model.modules():
        if isinstance(sma, SMA):
            sma.azo = False
    assert not torch.allclose(with_azo, model(x))
    model.eval()
    off = model(x)
    for sma in model.modules():
        if isinstance(sma, SMA):
            sma.azo = True
    torch.testing.assert_close(model(x), off)


def test_conv_block_places_the_attention_before_the_last_bn() -> None:
    block = conv_block(6, conv_ratio=2, attention=lambda c: SMA(c, time_steps=T))
    mlp = block[1].inner
    assert isinstance(mlp[-3], nn.Conv2d) and mlp[-3].out_channels == 6
    assert isinstance(mlp[-2], SMA) and isinstance(mlp[-1], nn.BatchNorm2d)


def test_step_matches_run_in_eval_mode() -> None:
    model = tiny().eval()
    x = frames(scale=3.0)
    state, steps = None, []
    for x_t in x:
        out_t, state = model.step(x_t, state)
        steps.append(out_t)
    torch.testing.assert_close(torch.stack(steps), model(x))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dims": (4, 8, 16)}, "dims must be 4 ints"),
        ({"dims": (3, 8, 16, 24)}, "even dims"),
        ({"depths": (1, 0, 1, 1)}, "depths must be"),
        ({"kernel": 4}, "odd kernel"),
        ({"neuron": "relu"}, "neuron must be one of"),
        ({"sma": True}, "needs time_steps"),
    ],
)
def test_rejects_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SpikingMetaFormer(**kwargs)


def test_rejects_wrong_input_shape() -> None:
    with pytest.raises(ValueError, match=r"\[T, B, 2, H, W\]"):
        tiny()(torch.rand(T, B, 3, SIZE, SIZE))
