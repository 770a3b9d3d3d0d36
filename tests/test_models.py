"""Tests for axonal.models: registry, spiking ResNets (SEW / MS), SMA and AZO."""

from __future__ import annotations

import pytest
import torch
from model_cases import train_losses
from torch import Tensor, nn

from axonal.models import (
    SMA,
    SpikeDrivenAttention,
    SpikeDrivenTransformer,
    SpikingBasicBlock,
    SpikingResNet,
    attention_zoneout,
    create_model,
    list_models,
    register_model,
    zoneout_mask,
)
from axonal.nn import ILIF

T, B, C_IN, SIZE = 4, 2, 2, 16


pytestmark = pytest.mark.usefixtures("seeded_single_thread")


def frames(channels: int = C_IN, scale: float = 1.0, seed: int = 1) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(T, B, channels, SIZE, SIZE, generator=generator) * scale


# --- registry ---------------------------------------------------------------------------------


def small(name: str) -> dict[str, int]:
    """Options shrinking a registered model for fast tests."""
    return {"dim": 8} if name.startswith("sdt") else {"width": 4}


def test_registry_lists_the_models() -> None:
    for name in ("sew_resnet18", "sew_resnet_tiny", "ms_resnet18", "ms_resnet_tiny", "sdt_tiny"):
        assert name in list_models()
    assert list_models() == sorted(list_models())


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"known models: .*sew_resnet_tiny"):
        create_model("no_such_net")


def test_register_rejects_duplicates_and_empty_names() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_model("sew_resnet18")(lambda: nn.Identity())
    with pytest.raises(ValueError, match="non-empty"):
        register_model("")


# --- ResNets ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list_models())
def test_every_model_runs_forward_and_backward(name: str) -> None:
    model = create_model(name, in_channels=C_IN, num_classes=5, **small(name))
    out = model(frames())
    assert out.shape == (T, B, 5)
    out.mean(0).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("variant", ["sew", "ms"])
def test_resnet_with_sma_and_ilif_trains(variant: str) -> None:
    model = SpikingResNet(
        (1, 1), variant=variant, width=8, neuron="ilif", sma=True, time_steps=T, num_classes=3
    )
    assert sum(isinstance(m, SMA) for m in model.modules()) == 2
    x, target = frames(scale=2.0), torch.tensor([0, 2])
    losses = train_losses(model, x, target, steps=6)
    assert losses[-1] < losses[0]


def test_transformer_with_sma_sits_between_conv_and_bn_and_keeps_plain_init() -> None:
    torch.manual_seed(0)
    plain = SpikeDrivenTransformer(dim=8, depth=1, num_classes=3)
    torch.manual_seed(0)
    model = SpikeDrivenTransformer(dim=8, depth=1, num_classes=3, sma=True, time_steps=T)
    smas = [m for m in model.modules() if isinstance(m, SMA)]
    assert len(smas) == 2 and all(s.channels == 8 for s in smas)
    layers = list(model)
    at = next(i for i, m in enumerate(layers) if isinstance(m, SMA))
    assert isinstance(layers[at - 1], nn.Conv2d) and isinstance(layers[at + 1], nn.BatchNorm2d)
    in_sma = {id(p) for m in smas for p in m.parameters()}
    rest = [p for p in model.parameters() if id(p) not in in_sma]
    for a, b in zip(plain.parameters(), rest, strict=True):  # SMA made last: same init
        assert torch.equal(a, b)
    assert model(frames(scale=2.0)).shape == (T, 2, 3)
    with pytest.raises(ValueError, match="time_steps"):
        SpikeDrivenTransformer(dim=8, depth=1, sma=True)


def test_sew_block_adds_spikes_to_identity() -> None:
    block = SpikingBasicBlock(4, 4, variant="sew")
    spikes = (frames(4, seed=2) > 0.5).float()
    out = block(spikes)
    added = out - spikes
    assert torch.all((added == 0) | (added == 1))  # residual branch emits spikes
    assert added.sum() > 0
    last_bn = block.residual[-2]
    nn.init.constant_(last_bn.bias, -100.0)  # silence the branch's output neurons
    assert torch.equal(block(spikes), spikes)


def test_ms_block_adds_to_the_membrane() -> None:
    block = SpikingBasicBlock(4, 4, variant="ms")
    x = frames(4, scale=3.0, seed=3) - 1.0  # real-valued membrane input
    out = block(x)
    assert not torch.all(out == out.round())  # BN output added, not spikes
    last_bn = block.residual[-1]
    nn.init.zeros_(last_bn.weight)
    nn.init.zeros_(last_bn.bias)
    assert torch.equal(block(x), x)


def test_sew_and_ms_differ_with_the_same_weights() -> None:
    sew = SpikingBasicBlock(4, 4, variant="sew")
    ms = SpikingBasicBlock(4, 4, variant="ms")
    for p_ms, p_sew in zip(ms.parameters(), sew.parameters(), strict=True):
        p_ms.data.copy_(p_sew.data)
    x = frames(4, scale=2.0, seed=4)
    assert not torch.allclose(sew(x), ms(x))


def test_projection_shortcut_changes_shape() -> None:
    for variant in ("sew", "ms"):
        block = SpikingBasicBlock(2, 6, stride=2, variant=variant)
        assert block(frames()).shape == (T, B, 6, SIZE // 2, SIZE // 2)


@pytest.mark.parametrize("name", ["ms_resnet_tiny", "sew_resnet_tiny", "sdt_tiny"])
def test_step_matches_run_in_eval_mode(name: str) -> None:
    model = create_model(name, **small(name)).eval()
    x = frames(scale=2.0)
    state = None
    steps = []
    for x_t in x:
        out_t, state = model.step(x_t, state)
        steps.append(out_t)
    torch.testing.assert_close(torch.stack(steps), model(x))


@pytest.mark.parametrize("name", ["sew_resnet_tiny", "ms_resnet_tiny", "sdt_tiny"])
def test_ilif_models_emit_multiples_of_one_over_d(name: str) -> None:
    model = create_model(name, neuron="ilif", max_spikes=3, **small(name))
    outputs: list[Tensor] = []
    for module in model.modules():
        if isinstance(module, ILIF):
            assert module.max_spikes == 3
            module.register_forward_hook(lambda _m, _i, out: outputs.append(out[0].detach()))
    model(frames(scale=4.0))
    values = torch.cat([o.flatten() for o in outputs]) * 3
    assert torch.equal(values, values.round())
    assert values.min() >= 0 and values.max() <= 3
    assert ((values > 0) & (values < 3)).any()  # graded, not binary


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"neuron": "relu"}, "neuron must be one of"),
        ({"variant": "pre"}, "variant must be one of"),
        ({"layers": ()}, "layers must be"),
        ({"sma": True}, "needs time_steps"),
    ],
)
def test_resnet_rejects_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SpikingResNet(**kwargs)


def test_resnet_rejects_wrong_input_shape() -> None:
    model = create_model("sew_resnet_tiny", in_channels=2)
    with pytest.raises(ValueError, match=r"\[T, B, 2, H, W\]"):
        model(torch.rand(T, B, 3, SIZE, SIZE))


def test_spike_driven_attention_is_gated_by_key_value_spikes() -> None:
    attention = SpikeDrivenAttention(8)  # training mode: BN normalises with batch statistics
    x = frames(8, scale=4.0)
    assert attention(x).abs().sum() > 0
    nn.init.constant_(attention.v[1].bias, -100.0)  # V never fires, so the gate stays shut
    assert torch.equal(attention(x), torch.zeros_like(x))  # BN of an all-zero batch = bias 0


def test_transformer_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="even dim"):
        create_model("sdt_tiny", dim=7)


# --- SMA and AZO ------------------------------------------------------------------------------


def test_sma_keeps_shape_and_weights_sum_to_one() -> None:
    sma = SMA(16, time_steps=T)
    x = frames(16, scale=3.0)
    assert sma(x).shape == x.shape
    attention = sma.attend(x)
    assert attention.features.shape == (4, T, B, 16, SIZE, SIZE)
    assert attention.temporal.shape == (4, T, B)
    assert attention.channel.shape == (4, T, B, 16)
    torch.testing.assert_close(attention.temporal.sum(0), torch.ones(T, B))
    torch.testing.assert_close(attention.channel.sum(0), torch.ones(T, B, 16))


def test_azo_acts_in_training_only_and_at_masked_positions() -> None:
    sma = SMA(20, time_steps=T, rcr=10, rtr=2)  # zones out 2 steps x 2 channels per scale
    x = frames(20, scale=3.0)
    with_azo = sma(x)
    sma.azo = False
    without = sma(x)
    assert not torch.allclose(with_azo, without)
    attention = sma.attend(x)
    touched = zoneout_mask(attention.temporal, attention.channel, 2, 10).any(0)  # [T, C]
    untouched = ~touched[:, None, :, None, None].expand_as(x)
    torch.testing.assert_close(with_azo[untouched], without[untouched])
    sma.eval()
    off = sma(x)
    sma.azo = True
    torch.testing.assert_close(sma(x), off)


def _hand_built(first_step_attention: float) -> tuple[Tensor, Tensor, Tensor]:
    """One scale, T=4, B=2, C=3, 1x1 pixels. Batch-summed temporal attention per step:
    ``first_step_attention``, 0.9, 0.2, 0.5. Channel 1 is least attended at steps 0, 2 and 3;
    channel 0 is least attended at step 1 only."""
    half = first_step_attention / 2
    temporal = torch.tensor([[half, half], [0.4, 0.5], [0.1, 0.1], [0.2, 0.3]])[None]
    channel = torch.full((1, 4, 2, 3), 0.5)
    channel[0, [0, 2, 3], :, 1] = 0.1
    channel[0, 1, :, 0] = 0.0
    return torch.arange(24.0).reshape(1, 4, 2, 3, 1, 1), temporal, channel


def test_attention_zoneout_copies_the_previous_step() -> None:
    # t=0 is attended most, so rtr=2 picks steps 2 and 3; rcr=3 picks one channel: 1.
    features, temporal, channel = _hand_built(first_step_attention=2.0)
    out = attention_zoneout(features, temporal, channel, rtr=2, rcr=3)
    expected = features.clone()
    expected[0, 2, :, 1] = features[0, 1, :, 1]
    expected[0, 3, :, 1] = features[0, 2, :, 1]  # the value before step 2 was replaced
    assert torch.equal(out, expected)
    assert torch.equal(attention_zoneout(features, temporal, channel, rtr=5, rcr=3), features)


def test_attention_zoneout_skips_a_picked_first_step() -> None:
    # t=0 is attended least, so rtr=2 picks steps 0 and 2; step 0 has no predecessor.
    features, temporal, channel = _hand_built(first_step_attention=0.0)
    out = attention_zoneout(features, temporal, channel, rtr=2, rcr=3)
    expected = features.clone()
    expected[0, 2, :, 1] = features[0, 1, :, 1]
    assert torch.equal(out, expected)


def test_zoneout_never_touches_the_first_step() -> None:
    temporal = torch.zeros(2, 4, 1)
    channel = torch.zeros(2, 4, 1, 3)
    mask = zoneout_mask(temporal, channel, rtr=1, rcr=1)
    assert not mask[:, 0].any()
    assert mask[:, 1:].all()


def test_sma_rejects_bad_inputs() -> None:
    sma = SMA(8, time_steps=T)
    with pytest.raises(ValueError, match=r"T=4, B, C=8"):
        sma(torch.rand(T + 1, B, 8, 4, 4))
    with pytest.raises(ValueError, match="stateless"):
        sma(torch.rand(T, B, 8, 4, 4), state=[])
    with pytest.raises(ValueError, match="odd"):
        SMA(8, time_steps=T, kernel_sizes=(1, 2))
