"""Triton kernels (``axonal.kernels.gpu``) against the reference scan, without a GPU.

The kernels are written for CUDA tensors. With ``TRITON_INTERPRET=1`` set before they are
defined, Triton runs the same kernel code on CPU tensors with numpy, every operation rounded in
the tensor's dtype as on the GPU without fused multiply-add. That mode is fixed when the kernel
module is imported, so the checks run in a child process (this file run as a script, with a
3-step checkpoint interval so that 8 steps span three chunks); it reports one result per
check and the tests below assert them. This process checks what needs no interpreter: the
dispatch, and that the kernels compile for sm_90 without fused multiply-adds or approximate
divisions. Where a CUDA device is present the same checks also run on it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import traceback
from collections.abc import Callable

import pytest
import torch

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
from axonal.kernels import reference
from axonal.kernels._support import RESET_CODES, SURROGATE_CODES
from axonal.quant import StateQuantizer

if platform.system() != "Linux" or platform.machine() != "x86_64":  # not in the dev extra there
    pytest.skip("triton is installed on Linux x86_64 only", allow_module_level=True)

from kernel_cases import STEPS, assert_runs_on, run_python

from axonal.kernels import gpu  # fails loudly where triton is missing
from axonal.kernels.gpu import kernels as K

B, N = 3, 37
SPIKING = ("lif", "if", "cuba_lif", "alif", "ilif")
RESETS = ("subtract", "zero", "none")
# every neuron with every reset, detached or not; per-neuron parameters (with v_leak, v_reset)
# in half of them, so that each neuron and each reset meets both kinds
CASES = [
    (neuron, reset, detach, (i + detach) % 2 == 1)
    for neuron in SPIKING
    for i, reset in enumerate(RESETS)
    for detach in (True, False)
] + [(neuron, "none", True, per) for neuron in ("li", "cuba_li") for per in (False, True)]
SURROGATES = [ATan(3.0), FastSigmoid(10.0), Sigmoid(4.0), Triangle(0.5), StraightThrough(0.3),
              StraightThrough()]  # fmt: skip


def case_name(neuron, reset, detach, per_neuron):
    return f"{neuron}-{reset}-{'detach' if detach else 'attach'}-{'per' if per_neuron else 'one'}"


def constant(low, high, per_neuron, gen, dtype, device):
    """A learnable constant: one value, or one per neuron ``[N]``, in ``[low, high]``."""
    shape = (N,) if per_neuron else ()
    value = low + (high - low) * torch.rand(shape, generator=gen, dtype=dtype)
    return value.to(device).requires_grad_()


def make_case(neuron, reset, detach, per_neuron, dtype, device, steps, seed=0):
    """Input ``[steps, B, N]``, initial state and learnable parameters of one neuron model; with
    ``per_neuron`` also a nonzero ``v_leak`` and ``v_reset``."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0, shift=0.0):
        drawn = scale * torch.rand(*shape, generator=gen, dtype=dtype) + shift
        return drawn.to(device).requires_grad_()

    x = rand(steps, B, N, scale=3.0 if neuron == "ilif" else 1.2, shift=-0.1)
    v, i_or_a = rand(B, N, scale=0.5), rand(B, N, scale=0.5)
    beta = constant(0.6, 0.95, per_neuron, gen, dtype, device)
    threshold = constant(0.7, 1.3, per_neuron, gen, dtype, device)
    extra = {"v_leak": 0.2, "v_reset": -0.1} if per_neuron else {}
    common = {"reset": reset, "detach_reset": detach}
    if neuron == "lif":
        return x, F.LIFState(v), F.LIFParameters(beta, threshold, **common, **extra)
    if neuron == "if":
        return x, F.LIFState(v), F.IFParameters(threshold, **common, v_reset=-0.1 * per_neuron)
    if neuron == "li":
        return x, F.LIFState(v), F.LIParameters(beta, v_leak=0.2 * per_neuron)
    if neuron in ("cuba_li", "cuba_lif"):
        alpha = constant(0.5, 0.9, per_neuron, gen, dtype, device)
        if neuron == "cuba_li":
            return x, F.CubaLIFState(i_or_a, v), F.CubaLIParameters(alpha, beta, 0.2 * per_neuron)
        p = F.CubaLIFParameters(alpha, beta, threshold, **common, **extra)
        return x, F.CubaLIFState(i_or_a, v), p
    if neuron == "alif":
        decay = constant(0.8, 0.99, per_neuron, gen, dtype, device)
        strength = constant(0.1, 0.5, per_neuron, gen, dtype, device)
        p = F.ALIFParameters(beta, threshold, decay, strength, **common, **extra)
        return x, F.ALIFState(v, i_or_a), p
    return x, F.LIFState(v), F.ILIFParameters(beta, threshold, 3, **common, **extra)


def leaves(x, state, params):
    tensors = [x, *state, *(v for v in params if isinstance(v, torch.Tensor))]
    return [t for t in tensors if t.requires_grad]


def loss(out, state):
    """A loss whose gradient differs per element and step, also through the final state (the
    weights are drawn on the CPU in float32 whatever the dtype and device)."""
    gen = torch.Generator().manual_seed(1)

    def weights(t):
        return torch.randn(t.shape, generator=gen).to(t.dtype).to(t.device)

    return (out * weights(out)).sum() + sum((s * weights(s)).sum() for s in state)


def run(scan, x, state, params, loss_fn=loss):
    out, final = scan(x, state, params)
    return out, final, torch.autograd.grad(loss_fn(out, final), leaves(x, state, params))


def float64_gradients(step, x, state, params):
    """Reference gradients of the same case in float64: the arbiter of rounding."""

    def up(v):
        return v.detach().double().requires_grad_(v.requires_grad) if torch.is_tensor(v) else v

    x, state, params = up(x), type(state)(*map(up, state)), type(params)(*map(up, params))
    return run(lambda *a: reference.scan(step, *a), x, state, params)[2]


def compare(step, x, state, params, loss_fn=loss, exact=None):
    """The fused scan against the reference: outputs and final states bitwise equal, input and
    initial-state gradients within 1e-5 (float32) or 1e-10 (float64) relative; each parameter
    gradient as close to the float64 value as the reference's, within the same tolerance
    (they sum over time and batch with cancellation, and each kernel rounds differently)."""
    fused = gpu.lookup(step, x, state, params)
    assert fused is not None, "the Triton kernels should support this case"
    out, final, grads = run(fused, x, state, params, loss_fn)
    ref_out, ref_final, ref_grads = run(
        lambda *a: reference.scan(step, *a), x, state, params, loss_fn
    )
    assert torch.equal(out, ref_out), "outputs differ"
    assert ref_out.abs().sum() > 0, "the case should exercise firing"
    for field, ref_field in zip(final, ref_final, strict=True):
        assert torch.equal(field, ref_field), "final states differ"
    rtol, atol = (1e-5, 1e-6) if x.dtype == torch.float32 else (1e-10, 1e-12)
    n_elementwise = 1 + sum(s.requires_grad for s in state)  # x, then the initial state
    assert len(grads) == len(ref_grads) > n_elementwise
    for g, ref_g in zip(grads[:n_elementwise], ref_grads[:n_elementwise], strict=True):
        torch.testing.assert_close(g, ref_g, rtol=rtol, atol=atol)
    exact = float64_gradients(step, x, state, params) if exact is None else exact
    for g, ref_g, ex in zip(grads[n_elementwise:], ref_grads[n_elementwise:],
                            exact[n_elementwise:], strict=True):  # fmt: skip
        ours, theirs = (g.double() - ex).abs(), (ref_g.double() - ex).abs()
        assert (ours <= theirs + rtol * ex.abs() + atol).all(), (g, ref_g, ex)


def check_case(neuron, reset, detach, per_neuron, dtype, device, steps):
    x, state, params = make_case(neuron, reset, detach, per_neuron, dtype, device, steps)
    compare(STEPS[neuron][0], x, state, params)


def check_surrogate(surrogate, device, steps):
    x, state, params = make_case("lif", "subtract", False, True, torch.float32, device, steps)
    compare(F.lif_step, x, state, params._replace(surrogate=surrogate))


def check_constant_gradient_many_blocks(device, steps):
    """``out.sum()`` gives a gradient with stride 0 over time; 2 x 150 neurons span three
    programs of 128, the last one partial."""
    gen = torch.Generator().manual_seed(4)
    x = (1.2 * torch.rand(steps, 2, 150, generator=gen)).to(device).requires_grad_()
    beta = torch.rand(150, generator=gen).to(device).requires_grad_()
    state, params = initial_state(F.LIFState, x[0].detach()), F.LIFParameters(beta, 1.0)
    compare(F.lif_step, x, state, params, loss_fn=lambda out, _: out.sum())


def check_memory(device, steps):
    """Besides the input itself (same storage) only a state checkpoint per ``CHUNK`` steps and
    the six parameter rows are kept for the backward."""
    x = (1.2 * torch.rand(steps, 4, 50, generator=torch.Generator().manual_seed(7)))
    x = x.to(device).requires_grad_()
    state, params = initial_state(F.LIFState, x[0].detach()), F.LIFParameters(0.9, 1.0)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        gpu.FUSED[F.lif_step](x, state, params)
    pointer = x.untyped_storage().data_ptr()
    new = [t for t in saved if t.untyped_storage().data_ptr() != pointer]
    assert len(new) < len(saved), "the input should be kept, not copied"
    chunks = -(-steps // K.CHUNK)
    assert sum(t.numel() for t in new) == (chunks + 6) * x[0].numel()


def check_no_grad_python_floats(device, steps):
    """Python-number parameters, without autograd: I-LIF divides by a Python threshold (on
    CUDA torch multiplies by its reciprocal instead, which the kernels repeat)."""
    x = 2.5 * torch.rand(steps, B, N, generator=torch.Generator().manual_seed(5)).to(device)
    state = initial_state(F.LIFState, x[0])
    for step, params in (
        (F.lif_step, F.LIFParameters(0.9, 1.1, "zero", v_reset=0.3, v_leak=-0.2)),
        (F.ilif_step, F.ILIFParameters(0.3, 0.7, 3, "subtract", v_leak=0.1)),
        (F.ilif_step, F.ILIFParameters(0.3, 0.7, 3, "zero")),
    ):
        with torch.no_grad():
            out, final = gpu.lookup(step, x, state, params)(x, state, params)
        ref_out, ref_final = reference.scan(step, x, state, params)
        assert torch.equal(out, ref_out) and torch.equal(final.v, ref_final.v), step
        assert out.grad_fn is None


def check_dispatch(device, steps):
    """``set_backend("triton")`` runs every multi-step module on these kernels."""
    x = torch.rand(steps, B, N, generator=torch.Generator().manual_seed(6)).to(device)
    before = kernels.get_backend()
    try:
        for module in (ann.LIF(), ann.IF(), ann.LI(), ann.CubaLIF(), ann.ALIF(), ann.ILIF(),
                       ann.CubaLI()):  # fmt: skip
            assert_runs_on(module.to(device), x, "triton", "triton")
    finally:
        kernels.set_backend(before)


QUANTIZERS = {  # 8 levels (3 bits), 5 irregular levels (padded to 8), 40 levels (padded to 64)
    "3-bit": lambda: StateQuantizer.from_bits(3, "threshold", lower=0.2),
    "5-levels": lambda: StateQuantizer(torch.tensor([-0.8, -0.1, 0.3, 0.9, 1.3])),
    "40-levels": lambda: StateQuantizer(torch.linspace(-1.2, 1.4, 40)),
}


def check_state_quant(neuron, levels, device, steps):
    """A ``StateQuantizer`` runs inside the kernels: quantised membranes bitwise, the
    straight-through gradients as the reference's."""
    x, state, params = make_case(neuron, "subtract", False, True, torch.float32, device, steps)
    quantizer = QUANTIZERS[levels]().to(device)
    compare(STEPS[neuron][0], x, state, params._replace(state_quant=quantizer))


def check_quantised_ties_and_ends(device, steps):
    """Ties go to the lower level, values beyond the ends to the end levels, NaN to the top
    one (``v[t] = Q(x[t])`` with ``beta = 0``), as ``StateQuantizer`` puts them."""
    quantizer = StateQuantizer(torch.tensor([-1.0, 0.0, 0.25, 1.5, 2.0])).to(device)
    levels, mids = quantizer.levels, quantizer.midpoints
    ends = torch.tensor([-3.0, 7.0, float("nan"), float("inf"), -float("inf")], device=device)
    values = torch.cat([mids, levels, ends])
    x = values.reshape(-1, 1, 1).expand(-1, 1, 2).contiguous()
    state = initial_state(F.LIFState, x[0])
    params = F.LIParameters(0.0, state_quant=quantizer)
    with torch.no_grad():
        out, _ = gpu.lookup(F.li_step, x, state, params)(x, state, params)
    assert torch.equal(out[:, 0, 0], quantizer(values))


def check_unsupported(device, steps):
    """Cases the kernels do not cover are left to the reference scan."""
    x, state, params = make_case("lif", "zero", True, True, torch.float32, device, steps)
    custom = Custom(fn=lambda z: torch.exp(-z.abs()))
    variants = [
        (x, state, params._replace(surrogate=custom)),
        (x, state, params._replace(state_quant=lambda v: torch.round(v * 8) / 8)),
        (x.detach().bfloat16(), F.LIFState(state.v.detach().bfloat16()), F.LIFParameters()),
        (x, state, params._replace(v_reset=torch.tensor(-0.1, device=device).requires_grad_())),
        (x, F.LIFState(state.v[0]), params),
        (x, state, params._replace(beta=params.beta.double())),
    ]
    for case in variants:
        assert gpu.lookup(F.lif_step, *case) is None


def checks(device: str, steps: int) -> dict[str, Callable[[], None]]:
    """Every check by name, on tensors of ``device`` with ``steps`` time steps."""
    named: dict[str, Callable[[], None]] = {}
    for case in CASES:
        named[f"float32/{case_name(*case)}"] = lambda c=case: check_case(
            *c, torch.float32, device, steps
        )
    for case in (("lif", "zero", False, True), ("alif", "subtract", False, True),
                 ("ilif", "subtract", False, True)):  # fmt: skip
        named[f"float64/{case_name(*case)}"] = lambda c=case: check_case(
            *c, torch.float64, device, steps
        )
    for s in SURROGATES:
        named[f"surrogate/{s}"] = lambda s=s: check_surrogate(s, device, steps)
    for neuron in ("lif", "if", "li", "cuba_lif", "alif", "ilif"):
        for levels in QUANTIZERS:
            named[f"state_quant/{neuron}-{levels}"] = lambda n=neuron, q=levels: (
                check_state_quant(n, q, device, steps)
            )
    for name, fn in (
        ("constant_gradient_many_blocks", check_constant_gradient_many_blocks),
        ("memory", check_memory),
        ("no_grad_python_floats", check_no_grad_python_floats),
        ("quantised_ties_and_ends", check_quantised_ties_and_ends),
        ("dispatch", check_dispatch),
        ("unsupported", check_unsupported),
    ):
        named[name] = lambda fn=fn: fn(device, steps)
    return named


def run_checks(named: dict[str, Callable[[], None]]) -> dict[str, str]:
    """``"ok"`` or the failure's traceback, per check."""
    results = {}
    for name, check in named.items():
        try:
            check()
            results[name] = "ok"
        except Exception:
            results[name] = traceback.format_exc(limit=4)
    return results


INTERPRETED_STEPS, INTERPRETED_CHUNK = 8, 3  # chunks of 3, 3 and 2 steps
NAMES = list(checks("cpu", INTERPRETED_STEPS))


@pytest.fixture(scope="module")
def interpreted() -> dict[str, str]:
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run(
        [sys.executable, __file__], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", NAMES)
def test_interpreted_kernels(name, interpreted):
    assert interpreted[name] == "ok", interpreted[name]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_kernels():
    """On a GPU: the compiled kernels against the reference on the same device (T = 40: two
    checkpoints of 32 steps, the second partial)."""
    results = run_checks(checks("cuda", 40))
    assert all(r == "ok" for r in results.values()), {k: r for k, r in results.items() if r != "ok"}


def test_lookup_takes_tensors_of_the_kernels_device():
    x = torch.rand(5, 2, 3)
    state, params = initial_state(F.LIFState, x[0]), F.LIFParameters()
    found = gpu.lookup(F.lif_step, x, state, params)
    expected = ("cpu", True) if K.INTERPRET else ("cuda", False)
    assert (gpu.DEVICE_TYPE, found is not None) == expected
    before = kernels.get_backend()
    try:
        kernels.set_backend("triton")
        ann.LIF()(x)
        assert kernels.last_backend() == ("triton" if K.INTERPRET else "reference")
    finally:
        kernels.set_backend(before)


def test_environment_variable_selects_triton():
    code = "from axonal import kernels; print(kernels.get_backend())"
    assert run_python(code, AXONAL_BACKEND="triton") == (0, "triton\n")


def test_without_triton_auto_uses_cpu_and_triton_warns_once():
    """"auto" imports the Triton kernels only for CUDA tensors; "triton" without triton warns
    once and runs the reference scan."""
    code = (
        "import sys, warnings; sys.modules['triton'] = None\n"
        "import torch; import axonal.nn as ann; from axonal import kernels\n"
        "x = torch.ones(3, 2, 4)\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    ann.LIF()(x); auto = kernels.last_backend()\n"
        "    kernels.set_backend('triton'); ann.LIF()(x); ann.LIF()(x)\n"
        "print(auto, len(caught), kernels.last_backend(), 'triton' in str(caught[0].message))\n"
    )
    assert run_python(code, AXONAL_BACKEND="auto") == (0, "cpu 1 reference True\n")


def test_the_kernels_use_the_shared_surrogate_and_reset_codes():
    surrogates = (ATan, FastSigmoid, Sigmoid, Triangle, StraightThrough)
    codes = (K.ATAN, K.FAST_SIGMOID, K.SIGMOID, K.TRIANGLE, K.STRAIGHT_THROUGH)
    assert [SURROGATE_CODES[s] for s in surrogates] == [c.value for c in codes]
    assert {"subtract": K.SUBTRACT.value, "zero": K.ZERO.value,
                           "none": K.NONE.value} == RESET_CODES  # fmt: skip


def test_kernels_compile_for_sm90_without_fused_multiply_add():
    """The GPU code itself (no GPU needed): forward and backward compile for sm_90 with
    ``enable_fp_fusion=False``; the PTX has no fma and only correctly rounded divisions, and
    the half-to-even rounding's additions of 2^23 survive."""
    if K.INTERPRET:
        pytest.fail("run this file without TRITON_INTERPRET: it starts the interpreter itself")
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    flags = {"MODE": 0, "HAS_LEAK": 1, "D": 3, "RECIP_D": 0, "RECIP_THR": 0, "MAGIC": 2.0**23,
             "LOG2_LEVELS": 3, "CHUNK": 32, "BLOCK": 256}  # fmt: skip
    extra = {"forward": {"MODEL": 3, "SAVE": 1},  # I-LIF forward, ALIF backward (sigmoid)
             "backward": {"MODEL": 2, "DETACH": 0, "KIND": 2, "PER_STEP": 1,
                          "WANT_P": 1}}  # fmt: skip
    for name, fn in (("forward", K.forward), ("backward", K.backward)):
        constants = {**flags, **extra[name]}
        types = {"gp_ptr": "*fp64", "T": "i32", "M": "i32", "n_chunks": "i32"}
        signature = {arg: "constexpr" if arg in constants else types.get(arg, "*fp32")
                     for arg in fn.arg_names}  # fmt: skip
        source = ASTSource(fn, signature, constants)
        target = GPUTarget("cuda", 90, 32)
        ptx = triton.compile(source, target=target, options={"enable_fp_fusion": False}).asm["ptx"]
        assert "fma." not in ptx, name
        assert not re.search(r"div\.(approx|full)", ptx), name
        if name == "forward":
            assert "div.rn.f32" in ptx and "0f4B000000" in ptx  # u / thr; + 2^23


if __name__ == "__main__":  # the child process: run every check under the interpreter
    if not K.INTERPRET:
        sys.exit("set TRITON_INTERPRET=1 to run the Triton kernels' checks on the CPU")
    torch.set_num_threads(1)
    K.CHUNK = INTERPRETED_CHUNK
    print(json.dumps(run_checks(checks("cpu", INTERPRETED_STEPS))))
