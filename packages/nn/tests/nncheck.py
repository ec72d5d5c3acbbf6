"""``check_module``: a module's backward pass against finite differences, and a save/load round trip."""

from __future__ import annotations

from typing import Any

import numpy as np

from flambeau.nn import jacobian
from flambeau.nn.module import Module
from flambeau.tensor.testing import host, on_device

TOL = 1e-6  # on float64, central differences with h = 1e-6 agree with exact gradients to ~1e-9


def check_module(module: Module, input: Any, tol: float = TOL, params: bool = True, io: bool = True) -> None:
    """Jacobian checks of ``update_grad_input`` and of every parameter's ``acc_grad_parameters``.

    ``input`` is a float64 tensor (batch or single sample, as the module accepts). Also checks
    that ``backward``'s ``scale`` scales the accumulated gradients, and that a saved and loaded copy
    gives the same output.
    """
    err = jacobian.test_jacobian(module, input)
    assert err < tol, f"{module!r}: d(output)/d(input) differs from finite differences by {err:.3g}"
    if params:
        for p, g in zip(*module.parameters(), strict=True):
            err = jacobian.test_jacobian_parameters(module, input, p, g)
            assert err < tol, f"{module!r}: d(output)/d(param {tuple(p.size())}) differs by {err:.3g}"
        _check_scale(module, input)
    if io:
        assert jacobian.test_io(module, input) == 0.0, f"{module!r}: a saved and loaded copy differs"


def _check_scale(module: Module, input: Any) -> None:
    params, grads = module.parameters()
    if not params:
        return
    out = module.forward(input)
    g = on_device(np.random.default_rng(0).standard_normal(tuple(out.size())))
    module.zero_grad_parameters()
    module.backward(input, g, 1.0)
    once = [x.clone() for x in grads]
    module.zero_grad_parameters()
    module.backward(input, g, 0.5)
    for a, b in zip(once, grads, strict=True):
        np.testing.assert_allclose(host(b), 0.5 * host(a), rtol=1e-12, atol=1e-14)
