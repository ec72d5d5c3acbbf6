"""``check_grads``: gradients against central finite differences, first and second order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError

from .differentiate import grad
from .tracer import Box, detach


class GradientCheckError(AssertionError):
    """The gradient and the finite difference disagree."""


def _leaves(x: Any) -> list[Any]:
    if isinstance(x, Tensor):
        return [x] if x.dtype.kind == "f" else []
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _leaves(v)]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _leaves(v)]
    return []


def _project(out: Any, us: list[Any]) -> Any:
    """Sum of ``out``'s float tensors weighted element-wise by ``us`` (a scalar tensor)."""
    total: Any = 0.0
    for o, u in zip(_leaves(out), us, strict=True):
        total = total + (o * u).sum()
    return total


def _inner(xs: Sequence[Any], vs: Sequence[Any]) -> float:
    return sum(float(detach((x * v).sum()).item()) for x, v in zip(xs, vs, strict=True))


def check_grads(
    f: Callable[..., Any],
    *args: Any,
    order: int = 2,
    wrt: Sequence[int] | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    """Check ``f``'s reverse-mode gradients at ``args`` against central finite differences.

    For random directions ``v`` (inputs) and ``u`` (outputs), compares ``<u, J v>`` computed by
    differences of step ``eps`` with ``<J^T u, v>`` from :func:`grad`; with ``order=2`` it checks
    the gradient function itself the same way (the gradient of the gradient), and so on.
    ``wrt`` lists the positions of the arguments to check (default: every float tensor among
    ``args``); float64 inputs give the most telling results. ``f`` may return a tensor or a
    tuple or list of tensors. Raises :class:`GradientCheckError` on disagreement.

    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import check_grads
    >>> check_grads(lambda x, y: ft.sin(x) * y, ft.randn(3), ft.randn(3), order=2)
    """
    if order < 1:
        raise ArgumentError(f"check_grads: order must be 1 or more, got {order}")
    positions = (
        list(wrt)
        if wrt is not None
        else [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.dtype.kind == "f"]
    )
    if not positions:
        raise ArgumentError("check_grads: no float tensor argument to check")

    def fx(xs: Sequence[Any]) -> Any:
        full = list(args)
        for i, x in zip(positions, xs, strict=True):
            full[i] = x
        return f(*full)

    _check(fx, [args[i] for i in positions], order, eps, rtol, atol, "f")


def _check(
    fx: Callable[[Sequence[Any]], Any], xs: list[Any], order: int, eps: float, rtol: float, atol: float, what: str
) -> None:
    out = fx(xs)
    us = [ft.randn(*o.size(), dtype=o.dtype, device=o.device) for o in _leaves(out)]
    if not us:
        raise ArgumentError(f"check_grads: {what} returned no float tensor")
    vs = [ft.randn(*x.size(), dtype=x.dtype, device=x.device) for x in xs]

    def scalar(xs: Sequence[Any]) -> Any:
        return _project(fx(xs), us)

    plus = scalar([x + eps * v for x, v in zip(xs, vs, strict=True)])
    minus = scalar([x - eps * v for x, v in zip(xs, vs, strict=True)])
    numeric = (float(detach(plus)) - float(detach(minus))) / (2 * eps)
    gs = grad(lambda xs: scalar(xs))(list(xs))[0]
    analytic = _inner(gs, vs)
    if abs(numeric - analytic) > atol + rtol * max(abs(numeric), abs(analytic)):
        raise GradientCheckError(
            f"check_grads: the gradient of {what} disagrees with finite differences: <J^T u, v> = {analytic!r}"
            f" but (<u, f(x + eps v)> - <u, f(x - eps v)>) / (2 eps) = {numeric!r} (eps={eps})"
        )
    if order > 1:

        def gradient(xs: Sequence[Any]) -> Any:
            return grad(lambda ys: scalar(ys))(list(xs))[0]

        _check(gradient, xs, order - 1, eps, rtol, atol, f"the gradient of {what}")


__all__ = ["Box", "GradientCheckError", "check_grads"]
