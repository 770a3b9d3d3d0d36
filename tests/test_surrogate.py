"""Surrogate spike functions: forward step, backward derivative, dtype preservation."""

import math

import pytest
import torch

from axonal.functional import (
    ATan,
    Custom,
    FastSigmoid,
    Sigmoid,
    StraightThrough,
    Surrogate,
    Triangle,
    get_surrogate,
)

WITH_PRIMITIVE = [ATan(), ATan(alpha=5.0), FastSigmoid(), Sigmoid(), Triangle(), Triangle(0.5)]
ALL = [*WITH_PRIMITIVE, StraightThrough(), StraightThrough(window=0.5)]


@pytest.mark.parametrize("sur", ALL, ids=repr)
def test_forward_is_heaviside(sur):
    x = torch.tensor([-1.0, -1e-6, 0.0, 1e-6, 2.0])
    assert sur(x).tolist() == [0, 0, 0, 1, 1]


@pytest.mark.parametrize("sur", ALL, ids=repr)
def test_backward_multiplies_grad_by_derivative(sur):
    x = torch.linspace(-2, 2, 41, dtype=torch.float64, requires_grad=True)
    g = torch.rand(41, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    sur(x).backward(g)
    assert torch.allclose(x.grad, g * sur.derivative(x.detach()))


@pytest.mark.parametrize("sur", WITH_PRIMITIVE, ids=repr)
def test_derivative_matches_finite_differences_of_primitive(sur):
    """gradcheck in float64: the analytic derivative equals the numerical slope of the smooth
    function the backward pass stands for."""
    x = torch.linspace(-1.9, 1.9, 77, dtype=torch.float64)
    eps = 1e-6
    numeric = (sur.primitive(x + eps) - sur.primitive(x - eps)) / (2 * eps)
    assert torch.allclose(sur.derivative(x), numeric, rtol=1e-4, atol=1e-6)
    assert torch.autograd.gradcheck(sur.primitive, (x.clone().requires_grad_(True),))


def test_atan_peak_value():
    assert ATan(alpha=2.0).derivative(torch.zeros(1)).item() == pytest.approx(1.0)
    assert ATan(alpha=2.0).derivative(torch.ones(1)).item() == pytest.approx(1 / (1 + math.pi**2))


def test_triangle_has_unit_area():
    x = torch.linspace(-2, 2, 40001, dtype=torch.float64)
    area = torch.trapezoid(Triangle(0.7).derivative(x), x).item()
    assert area == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("sur", ALL, ids=repr)
def test_dtype_is_preserved(sur, dtype):
    x = torch.randn(8, dtype=dtype, generator=None).requires_grad_(True)
    y = sur(x)
    y.sum().backward()
    assert y.dtype == dtype
    assert x.grad.dtype == dtype


def test_custom_surrogate():
    sur = Custom(fn=lambda x: torch.exp(-x.abs()))
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    sur(x).sum().backward()
    assert x.grad.tolist() == pytest.approx([1.0, math.exp(-1)])


def test_subclass_surrogate():
    class Box(Surrogate):
        def derivative(self, x):
            return (x.abs() < 0.5).to(x.dtype)

    x = torch.tensor([0.0, 1.0], requires_grad=True)
    Box()(x).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0]


def test_get_surrogate():
    assert get_surrogate("atan") == ATan()
    s = FastSigmoid(slope=3.0)
    assert get_surrogate(s) is s
    with pytest.raises(ValueError, match="unknown surrogate"):
        get_surrogate("tanh")


def test_integer_input_is_rejected():
    with pytest.raises(TypeError, match="floating-point"):
        ATan()(torch.tensor([1, 2]))
