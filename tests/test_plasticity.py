"""Local plasticity: SSDP and STDP maths (hand-computed cases, dense formulas) and rule objects."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from axonal.learning.functional import (
    causal_stdp_pairings,
    causal_stdp_update,
    causal_window_trace,
    spike_latency,
    ssdp_delta,
    stdp_delta,
    stdp_pairings,
    stdp_update,
)
from axonal.learning.plasticity import (
    SSDP,
    STDP,
    CausalSTDP,
    CosineSchedule,
    EMASchedule,
    bound_weight,
)
from axonal.nn import LIF, RLIF, Sequential


def train(steps: int, batch: int, size: int, times: dict[tuple[int, int], list[int]]):
    """Spikes [steps, batch, size] with spikes at times[(b, n)]."""
    x = torch.zeros(steps, batch, size)
    for (b, n), ts in times.items():
        for t in ts:
            x[t, b, n] = 1.0
    return x


def random_trains(seed: int, steps: int, batch: int, n_in: int, n_out: int, p: float = 0.2):
    g = torch.Generator().manual_seed(seed)
    pre = (torch.rand(steps, batch, n_in, generator=g) < p).float()
    post = (torch.rand(steps, batch, n_out, generator=g) < p).float()
    return pre, post


# ---------------------------------------------------------------- SSDP maths


def test_cofiring_at_equal_times_gives_a_plus():
    pre = train(3, 1, 1, {(0, 0): [1]})
    post = train(3, 1, 1, {(0, 0): [1]})
    assert ssdp_delta(pre, post, 1.5e-4, 5e-5, 1.0).item() == pytest.approx(1.5e-4)


def test_silent_partner_gives_baseline_depression_times_kernel():
    pre = train(3, 1, 1, {(0, 0): [1]})
    post = torch.zeros(3, 1, 1)  # silent: latency T = 3, dt = 2
    expected = -5e-5 * math.exp(-(2**2) / 2)
    assert ssdp_delta(pre, post, 1.5e-4, 5e-5, 1.0).item() == pytest.approx(expected)
    # both silent: dt = 0, G = 1, full baseline depression (as the reference code does)
    silent = torch.zeros(3, 1, 1)
    assert ssdp_delta(silent, silent, 1.5e-4, 5e-5, 1.0).item() == pytest.approx(-5e-5)


def test_first_and_last_spike_latency():
    pre = train(3, 1, 1, {(0, 0): [0, 2]})
    post = train(3, 1, 1, {(0, 0): [2]})
    sigma = 2.0
    first = ssdp_delta(pre, post, 1.0, 0.0, sigma, spike_time="first").item()
    last = ssdp_delta(pre, post, 1.0, 0.0, sigma, spike_time="last").item()
    assert first == pytest.approx(math.exp(-4 / (2 * sigma**2)))
    assert last == pytest.approx(1.0)


def test_last_spike_time_reproduces_cumsum_argmax():
    pre, _ = random_trains(1, 7, 4, 9, 1, p=0.3)
    reference = pre.cumsum(dim=0).argmax(dim=0).float()
    reference[pre.sum(0) == 0] = 7.0
    assert torch.equal(spike_latency(pre, "last"), reference)
    first = spike_latency(pre, "first")
    assert bool((first <= spike_latency(pre, "last")).all())


def test_batch_mean_and_clamp():
    pre = train(2, 2, 1, {(0, 0): [0], (1, 0): [0]})
    post = train(2, 2, 1, {(0, 0): [0]})  # sample 1: post silent at T = 2
    expected = (0.3 - 0.1 * math.exp(-2.0)) / 2
    assert ssdp_delta(pre, post, 0.3, 0.1, 1.0).item() == pytest.approx(expected)
    assert ssdp_delta(pre, pre, 10.0, 0.0, 1.0).item() == 1.0
    # sample 0 co-fires (no depression), sample 1 is silent: mean -10 / 2 clamps to -1
    assert ssdp_delta(post, post, 0.0, 10.0, 1.0).item() == -1.0


@pytest.mark.parametrize(("sigma", "spike_time"), [(0.7, "first"), (2.5, "last")])
def test_ssdp_equals_dense_formula(sigma: float, spike_time: str):
    pre, post = random_trains(2, 6, 5, 7, 4)
    t_pre, t_post = spike_latency(pre, spike_time), spike_latency(post, spike_time)
    s_pre, s_post = pre.amax(0), post.amax(0)
    sync = s_post[:, :, None] * s_pre[:, None, :]
    gauss = torch.exp(-((t_post[:, :, None] - t_pre[:, None, :]) ** 2) / (2 * sigma**2))
    dense = (2e-2 * sync * gauss - 7e-3 * (1 - sync) * gauss).mean(0)
    got = ssdp_delta(pre, post, 2e-2, 7e-3, sigma, spike_time)
    assert got.shape == (4, 7)
    torch.testing.assert_close(got, dense)


def test_ssdp_rejects_bad_input():
    pre, post = random_trains(0, 4, 2, 3, 2)
    with pytest.raises(ValueError, match="share"):
        ssdp_delta(pre, post[:, :1])
    with pytest.raises(ValueError, match="sigma"):
        ssdp_delta(pre, post, sigma=0.0)
    with pytest.raises(ValueError, match="spike_time"):
        ssdp_delta(pre, post, spike_time="middle")
    with pytest.raises(TypeError, match="floating"):
        ssdp_delta(pre.long(), post)


# ---------------------------------------------------------------- STDP maths


def test_stdp_pre_before_post_potentiates():
    pre = train(5, 1, 1, {(0, 0): [1]})
    post = train(5, 1, 1, {(0, 0): [3]})
    dw = stdp_delta(pre, post, a_plus=0.5, a_minus=0.3, tau_plus=2.0, tau_minus=4.0)
    assert dw.item() == pytest.approx(0.5 * math.exp(-1.0))


def test_stdp_post_before_pre_depresses():
    pre = train(5, 1, 1, {(0, 0): [3]})
    post = train(5, 1, 1, {(0, 0): [1]})
    dw = stdp_delta(pre, post, a_plus=0.5, a_minus=0.3, tau_plus=2.0, tau_minus=4.0)
    assert dw.item() == pytest.approx(-0.3 * math.exp(-0.5))


def test_stdp_simultaneous_spikes_count_as_causal():
    both = train(3, 1, 1, {(0, 0): [1]})
    assert stdp_delta(both, both, 0.5, 0.3).item() == pytest.approx(0.5)


def test_stdp_nearest_pairs_only_with_latest_partner():
    pre = train(4, 1, 1, {(0, 0): [0, 2]})
    post = train(4, 1, 1, {(0, 0): [3]})
    ltp_all, _ = stdp_pairings(pre, post, 1.0, 1.0, "all_to_all")
    ltp_near, _ = stdp_pairings(pre, post, 1.0, 1.0, "nearest")
    assert ltp_all.item() == pytest.approx(math.exp(-3) + math.exp(-1))
    assert ltp_near.item() == pytest.approx(math.exp(-1))
    _, ltd_all = stdp_pairings(post, pre, 1.0, 1.0, "all_to_all")  # roles swapped
    _, ltd_near = stdp_pairings(post, pre, 1.0, 1.0, "nearest")
    # post spikes at 0 and 2 before the pre spike at 3
    assert ltd_all.item() == pytest.approx(math.exp(-3) + math.exp(-1))
    assert ltd_near.item() == pytest.approx(math.exp(-1))


def dense_pairs(pre, post, tau_plus, tau_minus, nearest):
    """Direct double loop over spike pairs (the formula, not the traces)."""
    steps, batch, n_in = pre.shape
    n_out = post.shape[2]
    ltp = torch.zeros(n_out, n_in, dtype=torch.float64)
    ltd = torch.zeros(n_out, n_in, dtype=torch.float64)
    for b in range(batch):
        for j in range(n_out):
            for i in range(n_in):
                tp = [t for t in range(steps) if pre[t, b, i] > 0]
                tq = [t for t in range(steps) if post[t, b, j] > 0]
                for t_post in tq:
                    partners = [t for t in tp if t <= t_post]
                    if nearest:
                        partners = partners[-1:]
                    ltp[j, i] += sum(math.exp(-(t_post - t) / tau_plus) for t in partners)
                for t_pre in tp:
                    partners = [t for t in tq if t < t_pre]
                    if nearest:
                        partners = partners[-1:]
                    ltd[j, i] += sum(math.exp(-(t_pre - t) / tau_minus) for t in partners)
    return ltp / batch, ltd / batch


@pytest.mark.parametrize("mode", ["all_to_all", "nearest"])
def test_event_driven_stdp_equals_dense_pairs(mode: str):
    pre, post = random_trains(3, 12, 3, 5, 4, p=0.3)
    ltp, ltd = stdp_pairings(pre.double(), post.double(), 3.0, 5.0, mode)
    ref_ltp, ref_ltd = dense_pairs(pre, post, 3.0, 5.0, mode == "nearest")
    torch.testing.assert_close(ltp, ref_ltp)
    torch.testing.assert_close(ltd, ref_ltd)
    dw = stdp_delta(pre.double(), post.double(), 0.2, 0.1, 3.0, 5.0, mode=mode)
    torch.testing.assert_close(dw, 0.2 * ref_ltp - 0.1 * ref_ltd)


def test_multiplicative_stdp_and_bounds():
    one = torch.ones(1, 1)
    zero = torch.zeros(1, 1)
    w = torch.tensor([[0.25]])
    dw = stdp_update(one, zero, 0.1, 0.1, weight=w, w_min=0.0, w_max=1.0, multiplicative=True)
    assert dw.item() == pytest.approx(0.1 * 0.75)
    dw = stdp_update(zero, one, 0.1, 0.1, weight=w, w_min=0.0, w_max=1.0, multiplicative=True)
    assert dw.item() == pytest.approx(-0.1 * 0.25)
    at_max = stdp_update(one, zero, 0.1, 0.1, weight=one, w_min=0.0, w_max=1.0,
                         multiplicative=True)  # fmt: skip
    assert at_max.item() == 0.0
    # additive with hard bounds: W + dW stays in [w_min, w_max]
    w = torch.tensor([[0.9]])
    assert stdp_update(one, zero, 1.0, 0.0, weight=w, w_max=1.0).item() == pytest.approx(0.1)
    with pytest.raises(ValueError, match="multiplicative"):
        stdp_update(one, zero, multiplicative=True)


# ---------------------------------------------------------------- schedules


def test_cosine_schedule_values():
    sched = CosineSchedule(1.0, 0.0, 4)
    assert sched.value(0) == pytest.approx(1.0)
    assert sched.value(2) == pytest.approx(0.5)
    assert sched.value(4) == pytest.approx(0.0)
    assert sched.value(9) == pytest.approx(0.0)
    assert sched.step(0, 123.0) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))


def test_ema_schedule_moves_thirty_percent_toward_cosine_target():
    sched = EMASchedule(CosineSchedule(1e-4, 5e-5, 10), alpha=0.3)
    assert sched.step(0, 2e-4) == pytest.approx(0.7 * 2e-4 + 0.3 * 1e-4)
    assert sched.step(5, 1e-4) == pytest.approx(0.7 * 1e-4 + 0.3 * 7.5e-5)
    assert EMASchedule(CosineSchedule(1.0, 1.0, 2), high=1e-2).step(0, 1.0) == 1e-2


def test_rule_steps_its_schedules_each_epoch():
    lin = nn.Linear(2, 2)
    rule = SSDP(lin, a_plus=1.0, start_epoch=0, schedules={"a_plus": CosineSchedule(1, 0, 2)})
    rule.step_epoch()
    assert rule.a_plus == pytest.approx(0.5) and rule.epoch == 1
    rule.step_epoch()
    assert rule.a_plus == pytest.approx(0.0)
    restored = SSDP(nn.Linear(2, 2))
    restored.load_state_dict(rule.state_dict())
    assert restored.epoch == 2 and restored.a_plus == pytest.approx(0.0)
    with pytest.raises(ValueError, match="unknown"):
        SSDP(lin, schedules={"a_minus": CosineSchedule(1, 0, 2)})


# ---------------------------------------------------------------- rule objects


def test_no_update_before_warm_up():
    lin = nn.Linear(3, 2)
    rule = SSDP(lin, a_plus=0.1, a_baseline=0.05, start_epoch=2)
    before = lin.weight.detach().clone()
    pre, post = random_trains(4, 5, 2, 3, 2, p=0.4)
    for _ in range(2):
        rule.observe(pre, post)
        assert rule.apply() is None
        torch.testing.assert_close(lin.weight, before, rtol=0, atol=0)
        rule.step_epoch()
    rule.observe(pre, post)
    delta = rule.apply()
    torch.testing.assert_close(delta, ssdp_delta(pre, post, 0.1, 0.05))
    torch.testing.assert_close(lin.weight.detach(), before + delta)


def test_conv1x1_rule_collapses_space_and_keeps_kernel_shape():
    conv = nn.Conv2d(3, 2, 1)
    rule = SSDP(conv, a_plus=0.1, a_baseline=0.02, start_epoch=0)
    g = torch.Generator().manual_seed(5)
    pre = (torch.rand(4, 2, 3, 2, 2, generator=g) < 0.2).float()
    post = (torch.rand(4, 2, 2, 2, 2, generator=g) < 0.2).float()
    before = conv.weight.detach().clone()
    rule.observe(pre, post)
    delta = rule.apply()
    expected = ssdp_delta(pre.amax(dim=(3, 4)), post.amax(dim=(3, 4)), 0.1, 0.02)
    torch.testing.assert_close(delta, expected)
    torch.testing.assert_close(conv.weight.detach(), before + expected.view(2, 3, 1, 1))
    with pytest.raises(ValueError, match="1x1"):
        SSDP(nn.Conv2d(3, 2, 3))


def test_sites_as_samples_treat_every_pixel_and_token_as_a_sample():
    g = torch.Generator().manual_seed(6)
    pre = (torch.rand(5, 2, 3, 2, 2, generator=g) < 0.3).float()  # [T, B, C, H, W]
    post = (torch.rand(5, 2, 2, 2, 2, generator=g) < 0.3).float()
    conv_rule = SSDP(nn.Conv2d(3, 2, 1), a_plus=0.1, a_baseline=0.02, start_epoch=0,
                     sites="samples")  # fmt: skip
    conv_rule.observe(pre, post)

    def per_site(x: torch.Tensor) -> torch.Tensor:  # [T, B, C, H, W] -> [T, B * H * W, C]
        return x.flatten(3).transpose(2, 3).reshape(x.shape[0], -1, x.shape[2])

    expected = ssdp_delta(per_site(pre), per_site(post), 0.1, 0.02)
    torch.testing.assert_close(conv_rule.apply(), expected)
    # the same sites as tokens of a Linear, [T, B, tokens, N]
    linear_rule = STDP(nn.Linear(3, 2), start_epoch=0, sites="samples")
    tokens = (pre.flatten(3).transpose(2, 3), post.flatten(3).transpose(2, 3))
    linear_rule.observe(*tokens)
    ltp, ltd = stdp_pairings(per_site(pre), per_site(post), 20.0, 20.0)
    torch.testing.assert_close(linear_rule.apply(), 1e-2 * ltp - 1e-2 * ltd)


def test_sites_decide_whether_spikes_at_different_pixels_co_fire():
    pre = torch.zeros(3, 1, 1, 1, 2)  # one pre channel firing at pixel 0, step 1
    post = torch.zeros(3, 1, 1, 1, 2)  # one post channel firing at pixel 1, step 1
    pre[1, 0, 0, 0, 0] = 1.0
    post[1, 0, 0, 0, 1] = 1.0
    merged = SSDP(nn.Conv2d(1, 1, 1), a_plus=0.1, a_baseline=0.02, start_epoch=0)
    merged.observe(pre, post)
    assert merged.apply().item() == pytest.approx(0.1)  # any pixel: co-firing at step 1
    separate = SSDP(nn.Conv2d(1, 1, 1), a_plus=0.1, a_baseline=0.02, start_epoch=0,
                    sites="samples")  # fmt: skip
    separate.observe(pre, post)
    # two samples, each with one silent partner (latency T = 3, dt = 2): -A_base G, averaged
    assert separate.apply().item() == pytest.approx(-0.02 * math.exp(-2.0))


def test_sites_option_is_checked():
    with pytest.raises(ValueError, match="sites must be one of"):
        SSDP(nn.Linear(2, 2), sites="pixels")
    rule = SSDP(nn.Linear(3, 2), start_epoch=0, sites="samples")
    with pytest.raises(ValueError, match="same pixels or tokens"):
        rule.observe(torch.ones(4, 2, 3), torch.ones(4, 2, 5, 2))


def test_binding_targets():
    rlif = RLIF(4)
    assert bound_weight(rlif) is rlif.recurrent.weight
    param = nn.Parameter(torch.zeros(3, 2))
    assert bound_weight(param) is param
    with pytest.raises(TypeError, match="binds to"):
        bound_weight(nn.ReLU())
    rule = STDP(nn.Linear(3, 2), start_epoch=0)
    with pytest.raises(ValueError, match="3 neurons"):
        rule.observe(torch.zeros(4, 1, 5), torch.zeros(4, 1, 2))


def test_stdp_rule_uses_weight_at_apply_time_and_bounds():
    param = nn.Parameter(torch.full((1, 1), 0.5))
    rule = STDP(param, a_plus=0.2, a_minus=0.0, multiplicative=True, w_min=0.0, w_max=1.0)
    both = train(3, 1, 1, {(0, 0): [1]})
    rule.observe(both, both)
    rule.observe(both, both)  # two passes: ltp = 2
    with torch.no_grad():
        param.fill_(0.75)  # e.g. an optimizer step between observe and apply
    assert rule.apply().item() == pytest.approx(0.2 * 0.25 * 2)
    assert param.item() == pytest.approx(0.85)
    assert rule.apply() is None  # the pending update was consumed


def test_rule_touches_only_its_weight_and_leaves_gradients_alone():
    g = torch.Generator().manual_seed(7)
    x = torch.rand(8, 5, 3, generator=g) * 1.5
    target = torch.rand(8, 5, 4, generator=g)
    grads = []
    for with_rule in (False, True):
        net = Sequential(nn.Linear(3, 6), LIF(0.8, 0.3), nn.Linear(6, 4), LIF(0.8, 0.3))
        with torch.no_grad():
            for i, p in enumerate(net.parameters()):
                p.copy_(torch.linspace(-0.6, 0.9, p.numel()).view_as(p) * (1 + 0.1 * i))
        rule = STDP(net[2], a_plus=0.05, a_minus=0.02, tau_plus=3.0, tau_minus=3.0)
        handle = rule.watch(net[1], net[3]) if with_rule else None
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        loss = ((net(x) - target) ** 2).mean()
        loss.backward()
        grads.append([p.grad.clone() for p in net.parameters()])
        opt.step()
        if with_rule:
            stepped = {k: v.clone() for k, v in net.state_dict().items()}
            delta = rule.apply()
            assert delta is not None and bool((delta != 0).any())
            for name, value in net.state_dict().items():
                if name == "2.weight":
                    torch.testing.assert_close(value, stepped[name] + delta)
                else:
                    assert torch.equal(value, stepped[name]), name
            handle.remove()
    for a, b in zip(*grads, strict=True):
        assert torch.equal(a, b)


def test_watch_equals_explicit_observe_and_skips_eval():
    g = torch.Generator().manual_seed(8)
    x = torch.rand(6, 3, 3, generator=g) * 1.5
    net = Sequential(nn.Linear(3, 5), LIF(0.8, 0.3), nn.Linear(5, 4), LIF(0.8, 0.3))
    hooked = SSDP(net[2], a_plus=0.1, a_baseline=0.01, start_epoch=0)
    explicit = SSDP(nn.Parameter(torch.zeros(4, 5)), a_plus=0.1, a_baseline=0.01, start_epoch=0)
    first = SSDP(net[0], a_plus=0.1, a_baseline=0.01, start_epoch=0)
    handle = hooked.watch(net[1], net[3])
    first_handle = first.watch(net, net[1], pre_from="input")
    net.eval()
    net(x)
    assert hooked.apply() is None and first.apply() is None
    net.train()
    with torch.no_grad():
        net(x)
    handle.remove()
    first_handle.remove()
    with torch.no_grad():  # the same trains, recomputed by hand before any weight changes
        hidden = net[1](net[0](x))
        out = net[3](net[2](hidden))
    got_hooked, got_first = hooked.apply(), first.apply()
    assert got_hooked is not None and bool((got_hooked != 0).any())
    explicit.observe(hidden, out)
    torch.testing.assert_close(got_hooked, explicit.apply())
    torch.testing.assert_close(got_first, ssdp_delta(x, hidden, 0.1, 0.01))
    net(x)
    assert hooked.apply() is None and first.apply() is None


def test_watch_maps_a_conv_feature_map_to_a_classifier():
    """A Linear fed by a flattened [T, B, C, H, W] spike map: pre_map flattens the train."""
    g = torch.Generator().manual_seed(9)
    x = (torch.rand(5, 2, 1, 4, 4, generator=g) < 0.5).float()
    conv = Sequential(nn.Conv2d(1, 3, 3, padding=1), LIF(0.8, 0.3))
    head = Sequential(nn.Flatten(), nn.Linear(48, 2), LIF(0.8, 0.3))
    pooled = SSDP(head[1], a_plus=0.1, a_baseline=0.01, start_epoch=0)
    handle = pooled.watch(conv, head, pre_map=lambda s: s.flatten(2))
    with torch.no_grad():
        features = conv(x)
        out = head(features)
    handle.remove()
    delta = pooled.apply()
    assert delta is not None and bool((delta != 0).any())
    torch.testing.assert_close(delta, ssdp_delta(features.flatten(2), out, 0.1, 0.01))


# ---------------------------------------------------------------- fast SSDP paths


def loop_latency(spikes: torch.Tensor, spike_time: str) -> torch.Tensor:
    """First / last spike step of each [B, N] entry by a plain loop (T when silent)."""
    steps = spikes.shape[0]
    out = torch.full(spikes.shape[1:], float(steps))
    for index in torch.cartesian_prod(*(torch.arange(n) for n in spikes.shape[1:])):
        times = [t for t in range(steps) if spikes[(t, *index.tolist())] > 0]
        if times:
            out[tuple(index.tolist())] = times[0] if spike_time == "first" else times[-1]
    return out


@pytest.mark.parametrize("spike_time", ["first", "last"])
def test_latency_is_the_same_on_every_path(spike_time: str):
    g = torch.Generator().manual_seed(11)
    values = torch.randn(300, 3, 4, generator=g) - 1.5  # "> 0" is a spike; T > 255
    values[:, 0, 0] = 0.0  # a silent neuron
    expected = loop_latency(values, spike_time)
    short = values[:40]
    for spikes, reference in (
        (values, expected),  # contiguous float: compiled loop
        (values.transpose(1, 2).contiguous().transpose(1, 2), expected),  # strided: torch
        (values > 0, expected),  # bool, T >= 256: int16 weights
        (short > 0, loop_latency(short, spike_time)),  # bool, T < 256: uint8 view
        (short.double(), loop_latency(short, spike_time).double()),
    ):
        torch.testing.assert_close(spike_latency(spikes, spike_time), reference.to(spikes.dtype)
                                   if spikes.is_floating_point() else reference)  # fmt: skip


def test_ssdp_takes_bool_trains_and_is_symmetric():
    pre, post = random_trains(12, 9, 6, 11, 3, p=0.15)
    dense_like = ssdp_delta(pre, post, 2e-2, 7e-3, 1.5)
    torch.testing.assert_close(ssdp_delta(pre > 0, post > 0, 2e-2, 7e-3, 1.5), dense_like)
    # swapping pre and post transposes dW: both orientations of the internal sum agree
    torch.testing.assert_close(ssdp_delta(post, pre, 2e-2, 7e-3, 1.5), dense_like.T)
    with pytest.raises(TypeError, match="floating point"):
        ssdp_delta(pre.long(), post)


@pytest.mark.parametrize(("n_in", "n_out"), [(40, 2), (2, 40)])
def test_ssdp_equals_dense_formula_for_lopsided_layers(n_in: int, n_out: int):
    pre, post = random_trains(13, 20, 7, n_in, n_out, p=0.1)
    t_pre, t_post = spike_latency(pre), spike_latency(post)
    sync = post.amax(0)[:, :, None] * pre.amax(0)[:, None, :]
    gauss = torch.exp(-((t_post[:, :, None] - t_pre[:, None, :]) ** 2) / 2)
    dense = (1e-2 * sync * gauss - 3e-3 * (1 - sync) * gauss).mean(0)
    torch.testing.assert_close(ssdp_delta(pre, post, 1e-2, 3e-3, 1.0), dense)


def test_rules_accept_integer_count_trains():
    lin = nn.Linear(3, 2)
    rule = SSDP(lin, a_plus=0.1, a_baseline=0.05, start_epoch=0)
    pre, post = random_trains(14, 5, 2, 3, 2, p=0.4)
    rule.observe((2 * pre).long(), post.long())
    torch.testing.assert_close(rule.apply(), ssdp_delta(pre, post, 0.1, 0.05))


# ---------------------------------------------------------------- causal-window STDP


def test_causal_window_trace_by_hand():
    spikes = train(8, 1, 1, {(0, 0): [1, 3]})
    nearest = causal_window_trace(spikes, 4, "nearest")[:, 0, 0]
    torch.testing.assert_close(nearest, torch.tensor([0, 1, 0.75, 1, 0.75, 0.5, 0.25, 0]))
    summed = causal_window_trace(spikes, 4, "all_to_all")[:, 0, 0]
    torch.testing.assert_close(summed, torch.tensor([0, 1, 0.75, 1.5, 1.0, 0.5, 0.25, 0]))
    with pytest.raises(ValueError, match="length"):
        causal_window_trace(spikes, 0)


def test_causal_stdp_pairings_equal_a_loop_over_spikes():
    pre, post = random_trains(15, 16, 3, 4, 5, p=0.25)
    ltp, count = causal_stdp_pairings(pre, post, 6, "nearest")
    expected = torch.zeros(5, 4)
    for t, b, j in post.nonzero().tolist():
        for i in range(4):
            earlier = [s for s in range(t + 1) if pre[s, b, i] > 0]
            if earlier:
                expected[j, i] += max(0.0, 1 - (t - earlier[-1]) / 6)
    torch.testing.assert_close(ltp, expected / 3)
    torch.testing.assert_close(count, post.sum((0, 1)) / 3)


def test_causal_stdp_rule_moves_rows_toward_the_window():
    param = nn.Parameter(torch.tensor([[0.5, 0.5], [0.2, 0.9]]))
    rule = CausalSTDP(param, eta=0.1, window=15)
    pre = train(20, 1, 2, {(0, 0): [2], (0, 1): [2]})
    pre[2, 0, 1] = 0.0  # channel 1 spikes only at 12: 16 steps before the post spike
    pre[12, 0, 1] = 0.0
    post = train(20, 1, 2, {(0, 0): [5]})  # neuron 0 spikes at 5; neuron 1 never
    rule.observe(pre, post)
    delta = rule.apply()
    # neuron 0: channel 0 spiked 3 steps earlier (w = 1 - 3/15 = 0.8), channel 1 never (w = 0)
    torch.testing.assert_close(delta, torch.tensor([[0.1 * (0.8 - 0.5), 0.1 * (0 - 0.5)],
                                                    [0.0, 0.0]]))  # fmt: skip
    torch.testing.assert_close(param.detach(), torch.tensor([[0.53, 0.45], [0.2, 0.9]]))
    up = causal_stdp_update(torch.ones(1, 1), torch.ones(1), 2.0, weight=torch.full((1, 1), 0.5))
    assert up.item() == pytest.approx(0.5)  # cut at w_max = 1
    with pytest.raises(ValueError, match="window"):
        CausalSTDP(param, window=0)
