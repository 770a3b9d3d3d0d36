"""Fused CPU kernels against the reference scan, and the backend dispatch."""


import pytest
import torch
from kernel_cases import STEPS, assert_runs_on, run_python

import axonal.nn as ann
from axonal import kernels
from axonal.functional import neurons as F
from axonal.functional.neurons import initial_state
from axonal.functional.surrogate import (
    ATan,
    Custom,
    FastSigmoid,
    Sigmoid,
    StraightThrough,
    Triangle,
)
from axonal.kernels import cpu, reference
from axonal.kernels._support import RESET_CODES, SURROGATE_CODES
from axonal.kernels.cpu import loops

T, B, N = 40, 3, 37  # T > loops.CHUNK: several checkpoints, the last chunk partial
SPIKING = ("lif", "if", "cuba_lif", "alif", "ilif")
CASES = [
    (neuron, reset, detach, per_neuron)
    for neuron in SPIKING
    for reset in ("subtract", "zero", "none")
    for detach in (True, False)
    for per_neuron in (False, True)
] + [
    (neuron, "none", True, per_neuron)
    for neuron in ("li", "cuba_li")
    for per_neuron in (False, True)
]

@pytest.fixture(autouse=True)
def _restore_backend():
    before = kernels.get_backend()
    yield
    kernels.set_backend(before)


def constant(low, high, per_neuron, gen, dtype):
    """A learnable constant: one value, or one per neuron ``[N]``, in ``[low, high]``."""
    shape = (N,) if per_neuron else ()
    return (low + (high - low) * torch.rand(shape, generator=gen, dtype=dtype)).requires_grad_()


def make_case(neuron, reset, detach, per_neuron, dtype, seed=0):
    """Inputs, initial state and parameters (learnable tensors) of one neuron model; with
    ``per_neuron`` also a nonzero ``v_leak`` and ``v_reset``."""
    gen = torch.Generator().manual_seed(seed)
    step, state_type = STEPS[neuron]
    gain = 3.0 if neuron == "ilif" else 1.2
    x = (gain * torch.rand(T, B, N, generator=gen, dtype=dtype) - 0.1).requires_grad_()
    state = state_type(
        *(
            (0.5 * torch.rand(B, N, generator=gen, dtype=dtype)).requires_grad_()
            for _ in state_type._fields
        )
    )
    beta = constant(0.6, 0.95, per_neuron, gen, dtype)
    threshold = constant(0.7, 1.3, per_neuron, gen, dtype)
    extra = {"v_leak": 0.2, "v_reset": -0.1} if per_neuron else {}
    common = {"reset": reset, "detach_reset": detach}
    if neuron == "lif":
        p = F.LIFParameters(beta, threshold, **common, **extra)
    elif neuron == "if":
        p = F.IFParameters(threshold, **common, v_reset=extra.get("v_reset", 0.0))
    elif neuron == "li":
        p = F.LIParameters(beta, v_leak=extra.get("v_leak", 0.0))
    elif neuron == "cuba_li":
        alpha = constant(0.5, 0.9, per_neuron, gen, dtype)
        p = F.CubaLIParameters(alpha, beta, v_leak=extra.get("v_leak", 0.0))
    elif neuron == "cuba_lif":
        alpha = constant(0.5, 0.9, per_neuron, gen, dtype)
        p = F.CubaLIFParameters(alpha, beta, threshold, **common, **extra)
    elif neuron == "alif":
        decay = constant(0.8, 0.99, per_neuron, gen, dtype)
        strength = constant(0.1, 0.5, per_neuron, gen, dtype)
        p = F.ALIFParameters(beta, threshold, decay, strength, **common, **extra)
    else:
        p = F.ILIFParameters(beta, threshold, 3, **common, **extra)
    return step, x, state, p


def leaves(x, state, params):
    tensors = [x, *state, *(v for v in params if isinstance(v, torch.Tensor))]
    return [t for t in tensors if t.requires_grad]


def loss(out, state, seed=1):
    """A loss whose gradient differs per element and step, also through the final state (the
    weights are drawn in float32 whatever the dtype, so that runs in two dtypes compare)."""
    gen = torch.Generator().manual_seed(seed)
    total = (out * torch.randn(out.shape, generator=gen).to(out.dtype)).sum()
    for s in state:
        total = total + (s * torch.randn(s.shape, generator=gen).to(s.dtype)).sum()
    return total


def float64_gradients(step, x, state, params):
    """Reference gradients of the same case computed in float64: the arbiter of rounding."""

    def up(v):
        return v.detach().double().requires_grad_(v.requires_grad) if torch.is_tensor(v) else v

    x, state, params = up(x), type(state)(*map(up, state)), type(params)(*map(up, params))
    out, final = reference.scan(step, x, state, params)
    return torch.autograd.grad(loss(out, final), leaves(x, state, params))


def fused_and_reference(step, x, state, params, loss_fn=loss):
    """Outputs, final states and gradients of the fused CPU scan and of the reference."""
    results = []
    for run in (cpu.lookup(step, x, state, params), lambda *a: reference.scan(step, *a)):
        assert run is not None, "the CPU kernels should support this case"
        out, final = run(x, state, params)
        grads = torch.autograd.grad(loss_fn(out, final), leaves(x, state, params))
        results.append((out, final, grads))
    return results


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("neuron", "reset", "detach", "per_neuron"), CASES)
def test_fused_equals_reference(neuron, reset, detach, per_neuron, dtype):
    """Outputs and states bitwise equal; input and initial-state gradients within 1e-5 (float32)
    or 1e-10 (float64) relative. Parameter gradients sum over time, batch (and neurons when
    scalar) with cancellation, so each kernel rounds them differently: the fused ones must be
    as close to exact (float64) values as the reference's, within the same tolerance."""
    step, x, state, params = make_case(neuron, reset, detach, per_neuron, dtype)
    (out, final, grads), (ref_out, ref_final, ref_grads) = fused_and_reference(
        step, x, state, params
    )
    assert torch.equal(out, ref_out)
    assert ref_out.sum() > 0  # the case exercises firing
    for field, ref_field in zip(final, ref_final, strict=True):
        assert torch.equal(field, ref_field)
    rtol, atol = (1e-5, 1e-6) if dtype == torch.float32 else (1e-10, 1e-12)
    n_elementwise = 1 + len(state)  # the input and initial-state gradients come first
    assert len(grads) == len(ref_grads) > n_elementwise
    for g, ref_g in zip(grads[:n_elementwise], ref_grads[:n_elementwise], strict=True):
        torch.testing.assert_close(g, ref_g, rtol=rtol, atol=atol)
    exact = float64_gradients(step, x, state, params) if dtype == torch.float32 else ref_grads
    for g, ref_g, ex in zip(
        grads[n_elementwise:], ref_grads[n_elementwise:], exact[n_elementwise:], strict=True
    ):
        ours, theirs = (g.double() - ex).abs(), (ref_g.double() - ex).abs()
        assert (ours <= theirs + rtol * ex.abs() + atol).all(), (g, ref_g, ex)


@pytest.mark.parametrize(
    "surrogate",
    [ATan(3.0), FastSigmoid(10.0), Sigmoid(4.0), Triangle(0.5), StraightThrough(0.3),
     StraightThrough()],
)  # fmt: skip
def test_every_builtin_surrogate_gradient(surrogate):
    _, x, state, params = make_case("lif", "subtract", False, True, torch.float32)
    params = params._replace(surrogate=surrogate)
    (_, _, grads), (_, _, ref_grads) = fused_and_reference(F.lif_step, x, state, params)
    for g, ref_g in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, ref_g, rtol=1e-5, atol=1e-6)


def test_gradient_constant_over_time_and_many_blocks_on_threads():
    """``out.sum()`` gives a gradient with stride 0 over time; 4000 neurons span several
    blocks, and 20 x 4000 neuron-steps run on all threads."""
    gen = torch.Generator().manual_seed(4)
    x = (1.2 * torch.rand(20, 4, 1000, generator=gen)).requires_grad_()
    state = initial_state(F.LIFState, x[0])
    params = F.LIFParameters(torch.rand(1000, generator=gen).requires_grad_(), 1.0)
    (out, _, grads), (ref_out, _, ref_grads) = fused_and_reference(
        F.lif_step, x, state, params, loss_fn=lambda out, _: out.sum()
    )
    assert torch.equal(out, ref_out)
    for g, ref_g in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, ref_g, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("neuron", ["lif", "alif", "ilif"])
def test_scalar_parameters_shared_by_many_blocks(neuron):
    """With every parameter one number, the loops read one block's worth of parameter columns
    for all blocks: 3 x 1500 neurons span five blocks (the last one partial), with learnable
    scalar tensors and a leak; also rows mixed with a per-neuron parameter (full rows)."""
    gen = torch.Generator().manual_seed(8)
    x = (1.5 * torch.rand(12, 3, 1500, generator=gen) - 0.1).requires_grad_()
    state = initial_state(STEPS[neuron][1], x[0].detach())
    beta, threshold = torch.tensor(0.85).requires_grad_(), torch.tensor(0.9).requires_grad_()
    per_neuron = (0.7 + 0.2 * torch.rand(1500, generator=gen)).requires_grad_()
    common = {"reset": "subtract", "detach_reset": False, "v_leak": 0.1}
    cases = {
        "lif": [F.LIFParameters(beta, threshold, **common),
                F.LIFParameters(per_neuron, threshold, **common)],
        "alif": [F.ALIFParameters(beta, threshold, 0.9, torch.tensor(0.2), **common)],
        "ilif": [F.ILIFParameters(beta, threshold, 3, **common)],
    }[neuron]  # fmt: skip
    for params in cases:
        step = STEPS[neuron][0]
        (out, final, grads), (ref_out, ref_final, ref_grads) = fused_and_reference(
            step, x, state, params
        )
        assert torch.equal(out, ref_out) and ref_out.sum() > 0
        for field, ref_field in zip(final, ref_final, strict=True):
            assert torch.equal(field, ref_field)
        torch.testing.assert_close(grads[0], ref_grads[0], rtol=1e-5, atol=1e-6)
        exact = float64_gradients(step, x, state, params)
        for g, ref_g, ex in zip(grads[1:], ref_grads[1:], exact[1:], strict=True):
            ours, theirs = (g.double() - ex).abs(), (ref_g.double() - ex).abs()
            assert (ours <= theirs + 1e-5 * ex.abs() + 1e-6).all(), (g, ref_g, ex)


def test_the_initial_state_is_read_not_written():
    """The scan reads a single state through a view: neither path may write into it."""
    gen = torch.Generator().manual_seed(9)
    x = 1.2 * torch.rand(T, B, N, generator=gen)
    v = torch.rand(B, N, generator=gen)
    kept = v.clone()
    with torch.no_grad():
        out, final = cpu.FUSED[F.lif_step](x, F.LIFState(v), F.LIFParameters(0.9, 1.0))
    assert torch.equal(v, kept) and not torch.equal(final.v, kept)
    v.requires_grad_()
    out, final = cpu.FUSED[F.lif_step](x, F.LIFState(v), F.LIFParameters(0.9, 1.0))
    (out.sum() + final.v.sum()).backward()
    assert torch.equal(v.detach(), kept) and v.grad is not None


def test_the_loops_use_the_shared_surrogate_and_reset_codes():
    assert [SURROGATE_CODES[s] for s in (ATan, FastSigmoid, Sigmoid, Triangle, StraightThrough)] \
        == [loops.ATAN, loops.FAST_SIGMOID, loops.SIGMOID, loops.TRIANGLE, loops.STRAIGHT_THROUGH]
    assert RESET_CODES == {"subtract": loops.SUBTRACT, "zero": loops.ZERO, "none": loops.NONE}


def saved_tensors(run):
    """The tensors autograd keeps for the backward while ``run()`` builds a graph."""
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        run()
    return saved


def test_backward_keeps_the_input_and_checkpoints_only():
    """Memory: besides the input itself (same storage), only a state checkpoint per 32 steps
    and the parameter rows; the reference scan keeps at least one tensor per step."""
    x = (1.2 * torch.rand(100, 4, 50, generator=torch.Generator().manual_seed(7))).requires_grad_()
    state, params = initial_state(F.LIFState, x[0]), F.LIFParameters(0.9, 1.0)
    fused = saved_tensors(lambda: cpu.FUSED[F.lif_step](x, state, params))
    new = [t for t in fused if t.untyped_storage().data_ptr() != x.untyped_storage().data_ptr()]
    assert len(new) < len(fused)  # the input is kept, not copied
    assert sum(t.numel() for t in new) == (4 + 6) * x[0].numel()  # ceil(100 / 32) = 4, 6 rows
    ref = saved_tensors(lambda: reference.scan(F.lif_step, x, state, params))
    assert sum(t.numel() for t in ref) >= x.numel()  # at least one [B, N] tensor per step


def test_python_float_parameters_and_no_grad():
    gen = torch.Generator().manual_seed(5)
    x = 1.2 * torch.rand(T, B, N, generator=gen)
    state = initial_state(F.LIFState, x[0])
    params = F.LIFParameters(0.9, 1.1, "zero", v_reset=0.3, v_leak=-0.2)
    with torch.no_grad():
        out, final = cpu.FUSED[F.lif_step](x, state, params)
    ref_out, ref_final = reference.scan(F.lif_step, x, state, params)
    assert torch.equal(out, ref_out) and torch.equal(final.v, ref_final.v)
    assert out.grad_fn is None


@pytest.mark.parametrize(
    "module", [ann.LIF(), ann.IF(), ann.LI(), ann.CubaLIF(), ann.ALIF(), ann.ILIF(), ann.CubaLI()],
    ids=lambda m: type(m).__name__,
)  # fmt: skip
def test_modules_use_the_cpu_kernels_under_auto(module):
    assert_runs_on(module, torch.rand(T, B, N, generator=torch.Generator().manual_seed(6)),
                   "auto", "cpu")  # fmt: skip


@pytest.mark.parametrize(
    "case",
    [
        "custom_surrogate", "state_quant", "bfloat16", "learnable_v_reset", "state_shape",
        "float_beta_dtype",
    ],
)  # fmt: skip
def test_unsupported_cases_fall_back_to_the_reference(case):
    _, x, state, params = make_case("lif", "zero", True, True, torch.float32)
    if case == "custom_surrogate":
        params = params._replace(surrogate=Custom(fn=lambda z: torch.exp(-z.abs())))
    elif case == "state_quant":
        params = params._replace(state_quant=lambda v: torch.round(v * 8) / 8)
    elif case == "bfloat16":
        x = x.detach().bfloat16()
        state = F.LIFState(state.v.detach().bfloat16())
        params = params._replace(beta=0.9, threshold=1.0)
    elif case == "learnable_v_reset":
        params = params._replace(v_reset=torch.tensor(-0.1, requires_grad=True))
    elif case == "state_shape":
        state = F.LIFState(state.v[0])  # [N] broadcasts against [B, N]: the reference handles it
    else:
        params = params._replace(beta=params.beta.double())
    assert cpu.lookup(F.lif_step, x, state, params) is None
    kernels.set_backend("auto")
    out, _ = kernels.scan(F.lif_step, x, state, params)
    assert kernels.last_backend() == "reference"
    assert torch.equal(out, reference.scan(F.lif_step, x, state, params)[0])


def test_set_backend_checks_names():
    x = torch.rand(T, B, N, generator=torch.Generator().manual_seed(8))
    for name in ("reference", "cpu"):
        kernels.set_backend(name)
        assert kernels.get_backend() == name
        ann.LIF()(x)
        assert kernels.last_backend() == name
    with pytest.raises(ValueError, match="backend must be one of"):
        kernels.set_backend("triton-please")


def test_environment_variable_selects_the_backend():
    code = "from axonal import kernels; print(kernels.get_backend())"
    assert run_python(code, AXONAL_BACKEND="reference") == (0, "reference\n")
    returncode, output = run_python(code, AXONAL_BACKEND="gpu")
    assert returncode != 0 and "AXONAL_BACKEND must be one of" in output


def test_without_numba_scan_warns_once_and_uses_the_reference():
    code = (
        "import sys, warnings; sys.modules['numba'] = None\n"
        "import torch; import axonal.nn as ann; from axonal import kernels\n"
        "x = torch.ones(3, 2, 4)\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    ann.LIF()(x); ann.LIF()(x)\n"
        "print(len(caught), kernels.last_backend(), 'numba' in str(caught[0].message))\n"
    )
    assert run_python(code, AXONAL_BACKEND="auto") == (0, "1 reference True\n")
