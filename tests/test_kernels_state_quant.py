"""State quantisation (``state_quant=StateQuantizer``) inside the fused CPU kernels."""

import pytest
import torch
from kernel_cases import STEPS, assert_runs_on

import axonal.nn as ann
from axonal import kernels
from axonal.functional import neurons as F
from axonal.kernels import cpu, reference
from axonal.quant import StateQuantizer

T, B, N = 40, 3, 37  # T > loops.CHUNK: the backward replays two chunks
NEURONS = ("lif", "cuba_lif", "alif", "if")

@pytest.fixture(autouse=True)
def _restore_backend():
    before = kernels.get_backend()
    yield
    kernels.set_backend(before)


def learnable(value, gen, spread=0.1):
    """A per-neuron parameter ``[N]`` around ``value``, requiring gradients."""
    return (value + spread * (torch.rand(N, generator=gen) - 0.5)).requires_grad_()


def make_case(neuron, quantizer, reset="subtract", detach=True, seed=0):
    """Input, initial state and parameters (per-neuron, learnable) of one neuron model with
    ``state_quant=quantizer``; inputs drive the membrane across the whole range of levels."""
    gen = torch.Generator().manual_seed(seed)
    step, state_type = STEPS[neuron]
    x = (0.9 * torch.rand(T, B, N, generator=gen) - 0.25).requires_grad_()
    state = state_type(
        *(
            (0.4 * torch.rand(B, N, generator=gen)).requires_grad_()
            for _ in state_type._fields
        )
    )
    beta, threshold = learnable(0.8, gen), learnable(1.0, gen)
    common = {"reset": reset, "detach_reset": detach, "state_quant": quantizer}
    if neuron == "lif":
        params = F.LIFParameters(beta, threshold, **common)
    elif neuron == "if":
        params = F.IFParameters(threshold, **common)
    elif neuron == "cuba_lif":
        params = F.CubaLIFParameters(learnable(0.5, gen), beta, threshold, **common)
    elif neuron == "alif":
        params = F.ALIFParameters(beta, threshold, learnable(0.9, gen), learnable(0.2, gen),
                                  **common)  # fmt: skip
    elif neuron == "li":
        params = F.LIParameters(beta, state_quant=quantizer)
    else:
        params = F.ILIFParameters(beta, threshold, 3, **common)
    return step, x, state, params


def leaves(x, state, params):
    tensors = [x, *state, *(v for v in params if isinstance(v, torch.Tensor))]
    return [t for t in tensors if t.requires_grad]


def loss(out, state):
    """Weights that differ per element, also on the final state."""
    gen = torch.Generator().manual_seed(1)
    total = (out * torch.randn(out.shape, generator=gen)).sum()
    return total + sum((s * torch.randn(s.shape, generator=gen)).sum() for s in state)


def run_both(step, x, state, params):
    """Outputs, final state and gradients of the fused scan, then of the reference scan."""
    fused = cpu.lookup(step, x, state, params)
    assert fused is not None, "the CPU kernels should fuse a StateQuantizer"
    results = []
    for run in (fused, lambda *a: reference.scan(step, *a)):
        out, final = run(x, state, params)
        grads = torch.autograd.grad(loss(out, final), leaves(x, state, params))
        results.append((out, final, grads))
    return results


def assert_same(fused, ref):
    """Outputs and final states bitwise equal, every gradient (input, initial state, each
    parameter: per neuron, summed over time and batch) within 1e-5 relative."""
    (out, final, grads), (ref_out, ref_final, ref_grads) = fused, ref
    assert torch.equal(out, ref_out)
    for field, ref_field in zip(final, ref_final, strict=True):
        assert torch.equal(field, ref_field)
    assert len(grads) == len(ref_grads) > 1 + len(final)  # parameter gradients included
    for g, ref_g in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, ref_g, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("mode", ["uniform", "threshold"])
@pytest.mark.parametrize("neuron", NEURONS)
def test_quantised_scan_equals_reference(neuron, mode, bits):
    """Identical spikes and states (quantised membranes), gradients within 1e-5 relative
    (the straight-through gradient of the quantiser)."""
    quantizer = StateQuantizer.from_bits(bits, mode, lower=0.2)
    step, x, state, params = make_case(neuron, quantizer)
    fused, ref = run_both(step, x, state, params)
    assert ref[0].sum() > 0  # the case fires
    assert_same(fused, ref)


@pytest.mark.parametrize(("reset", "detach"), [("zero", False), ("none", True)])
@pytest.mark.parametrize("neuron", ["lif", "alif", "li", "ilif"])
def test_other_resets_and_models(neuron, reset, detach):
    quantizer = StateQuantizer.from_bits(3, "threshold")
    step, x, state, params = make_case(neuron, quantizer, reset, detach, seed=2)
    assert_same(*run_both(step, x, state, params))


def test_membrane_on_a_midpoint_outside_the_range_and_nan():
    """Ties go to the lower level, values beyond the ends to the end levels, NaN to the top
    level, as ``StateQuantizer`` (``searchsorted``) does."""
    quantizer = StateQuantizer(torch.tensor([-1.0, 0.0, 0.25, 1.5]))  # midpoints -0.5, .125, .875
    values = [-0.5, 0.125, 0.875, 0.8, -3.0, 7.0, float("nan"), float("inf"), -float("inf")]
    x = torch.tensor(values).reshape(len(values), 1, 1).expand(-1, 1, 2).contiguous()
    state = F.LIFState(torch.zeros(1, 2))
    params = F.LIParameters(0.0, state_quant=quantizer)  # v[t] = Q(x[t])
    out, final = cpu.lookup(F.li_step, x, state, params)(x, state, params)
    ref_out, ref_final = reference.scan(F.li_step, x, state, params)
    assert torch.equal(out, ref_out) and torch.equal(final.v, ref_final.v)
    expected = [-1.0, 0.0, 0.25, 0.25, -1.0, 1.5, 1.5, 1.5, -1.0]
    assert out[:, 0, 0].tolist() == expected == ref_out[:, 0, 0].tolist()


@pytest.mark.parametrize("count", [2, 5, 32, 33, 40, 256])
def test_any_number_of_levels_ties_and_ends(count):
    """Level counts that are not powers of two (the loops pad them) on both sides of the
    select / binary-search switch: every midpoint (a tie), every level, values beyond the
    ends, NaN and infinities land where ``StateQuantizer`` puts them."""
    gen = torch.Generator().manual_seed(count)
    quantizer = StateQuantizer(torch.randn(count, generator=gen).cumsum(0))
    levels, mids = quantizer.levels, quantizer.midpoints
    ends = torch.tensor([levels[0] - 1, levels[-1] + 1, float("nan"), float("inf"), -float("inf")])
    values = torch.cat([mids, levels, (mids + levels[1:]) / 2, ends])
    x = values.reshape(-1, 1, 1).expand(-1, 1, 3).contiguous()
    state = F.LIFState(torch.zeros(1, 3))
    params = F.LIParameters(0.0, state_quant=quantizer)  # v[t] = Q(x[t])
    out, _ = cpu.lookup(F.li_step, x, state, params)(x, state, params)
    assert torch.equal(out[:, 0, 0], quantizer(values))


def test_float64_membranes_with_float32_levels():
    quantizer = StateQuantizer.from_bits(4, "uniform")  # float32 levels
    step, x, state, params = make_case("lif", quantizer)
    up = [t.detach().double().requires_grad_() for t in (x, *state, params.beta, params.threshold)]
    params = params._replace(beta=up[2], threshold=up[3])
    assert_same(*run_both(step, up[0], F.LIFState(up[1]), params))


@pytest.mark.parametrize(
    "module", [ann.LIF, ann.IF, ann.ALIF, ann.CubaLIF, ann.LI, ann.ILIF], ids=lambda m: m.__name__
)
def test_modules_with_a_state_quantizer_use_the_cpu_kernels(module):
    x = torch.rand(T, B, N, generator=torch.Generator().manual_seed(3))
    assert_runs_on(module(state_quant=StateQuantizer.from_bits(4, "threshold")), x, "auto", "cpu")


def test_a_quantizer_subclass_or_function_falls_back_to_the_reference():
    class Shifted(StateQuantizer):
        def forward(self, v):
            return super().forward(v + 0.01)

    levels = torch.linspace(-1, 1.2, 8)
    for quant in (Shifted(levels), lambda v: torch.round(v * 4) / 4):
        step, x, state, params = make_case("lif", quant)
        assert cpu.lookup(step, x, state, params) is None
        kernels.set_backend("auto")
        out, _ = kernels.scan(step, x, state, params)
        assert kernels.last_backend() == "reference"
        assert torch.equal(out, reference.scan(step, x, state, params)[0])
