"""Finite-difference checks of modules: Torch's ``nn.Jacobian``.

``test_jacobian(module, input)`` compares the Jacobian of the output with respect to the input
that ``update_grad_input`` gives with central differences and returns the largest absolute
difference; ``test_jacobian_parameters`` does the same for a parameter and its gradient through
``acc_grad_parameters``. Tests call them on every module, batch and single inputs.
"""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor

from .module import Module


def _flat_out(module: Module, input: Any) -> Tensor:
    out = module.forward(input)
    return out.reshape(-1).clone()


def forward(module: Module, input: Tensor, param: Tensor | None = None, perturbation: float = 1e-6) -> Tensor:
    """The Jacobian d(output)/d(param or input) by central differences: ``n_param x n_out``."""
    target = input if param is None else param
    flat = target.view(-1) if target.is_contiguous() else None
    if flat is None:
        raise ValueError("forward: the perturbed tensor must be contiguous")
    rows = []
    for i in range(flat.size(0)):
        orig = float(flat[i])
        flat[i] = orig - perturbation
        lo = _flat_out(module, input)
        flat[i] = orig + perturbation
        hi = _flat_out(module, input)
        flat[i] = orig
        rows.append((hi - lo) / (2 * perturbation))
    return ft.stack(rows)


def backward(module: Module, input: Tensor, param: Tensor | None = None, dparam: Tensor | None = None) -> Tensor:
    """The same Jacobian from the module's backward pass: one ``update_grad_input`` (or
    ``acc_grad_parameters`` into ``dparam``) per output element."""
    out = module.forward(input)
    n_out = out.nelement()
    rows = []
    for j in range(n_out):
        g = ft.zeros(n_out, dtype=out.dtype, device=out.device)
        g[j] = 1.0
        g = g.view(*out.size()) if out.dim() else g.reshape(())
        module.zero_grad_parameters()
        if param is None:
            rows.append(module.update_grad_input(input, g).reshape(-1).clone())
        else:
            assert dparam is not None
            module.update_grad_input(input, g)
            dparam.zero_()
            module.acc_grad_parameters(input, g)
            rows.append(dparam.reshape(-1).clone())
    return ft.stack(rows).t()


def test_jacobian(module: Module, input: Tensor, perturbation: float = 1e-6) -> float:
    """Largest |backward - finite differences| of d(output)/d(input)."""
    fd = forward(module, input, perturbation=perturbation)
    bp = backward(module, input)
    return float((fd - bp).abs().max())


def test_jacobian_parameters(
    module: Module, input: Tensor, param: Tensor, dparam: Tensor, perturbation: float = 1e-6
) -> float:
    """Largest |acc_grad_parameters - finite differences| of d(output)/d(param)."""
    fd = forward(module, input, param, perturbation)
    bp = backward(module, input, param, dparam)
    return float((fd - bp).abs().max())


def test_io(module: Module, input: Any) -> float:
    """Largest difference between the outputs of ``module`` and of its saved-and-loaded copy."""
    copy = ft.deserialize(ft.serialize(module))
    a = module.forward(input)
    b = copy.forward(input)
    return float((a - b).abs().max())
