"""What the kernel test files share: each neuron's step function and state type by name, a
check that a module runs on a given backend, and running Python in a fresh process (the
backend is chosen when ``axonal.kernels`` is imported)."""

from __future__ import annotations

import os
import subprocess
import sys

import torch
from torch import Tensor, nn

from axonal import kernels
from axonal.functional import neurons as F

STEPS = {
    "lif": (F.lif_step, F.LIFState),
    "if": (F.if_step, F.LIFState),
    "li": (F.li_step, F.LIFState),
    "cuba_lif": (F.cuba_lif_step, F.CubaLIFState),
    "cuba_li": (F.cuba_li_step, F.CubaLIFState),
    "alif": (F.alif_step, F.ALIFState),
    "ilif": (F.ilif_step, F.LIFState),
}


def run_python(code: str, **env: str) -> tuple[int, str]:
    """Exit status and output of ``python -c code`` with ``env`` added to the environment."""
    result = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True
    )
    return result.returncode, result.stdout + result.stderr


def assert_runs_on(module: nn.Module, x: Tensor, select: str, expected: str) -> None:
    """Under ``set_backend(select)`` the sequence module ``module`` runs on ``expected``, with
    the output of the reference scan, bit for bit. Leaves the backend at ``"reference"``."""
    name = type(module).__name__
    kernels.set_backend(select)
    fused = module(x)
    assert kernels.last_backend() == expected, name
    kernels.set_backend("reference")
    assert torch.equal(module(x), fused), name
    assert kernels.last_backend() == "reference", name
