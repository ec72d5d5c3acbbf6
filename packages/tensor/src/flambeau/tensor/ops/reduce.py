"""Reductions and cumulative ops (Torch7 2.4, 2.5 and 2.8's ``all``/``any``).

``dim=None`` reduces the whole tensor to a 0-d tensor (no device sync: ``float(t)`` or
``t.item()`` gives the number). With ``dim``, the dim is dropped unless ``keepdim=True``
(Torch7 kept it). Sums and products of integer tensors accumulate in int64, as Torch7's long.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..optable import Op, declare


def _acc(x: Any) -> Any:
    """The accumulator dtype for sums and products: int64 for integer tensors, else the tensor's own."""
    return np.int64 if x.dtype.kind in "iu" else None


def _sum(xp: Any, input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    # The method skips the function's dispatch layer (a microsecond on small arrays).
    return input.sum(axis=dim, keepdims=keepdim, dtype=_acc(input))


def _prod(xp: Any, input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    return xp.prod(input, axis=dim, keepdims=keepdim, dtype=_acc(input))


def _mean(xp: Any, input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    return xp.mean(input, axis=dim, keepdims=keepdim)


def _var(xp: Any, input: Any, dim: Any = None, unbiased: bool = True, keepdim: bool = False) -> Any:
    return xp.var(input, axis=dim, ddof=1 if unbiased else 0, keepdims=keepdim)


def _std(xp: Any, input: Any, dim: Any = None, unbiased: bool = True, keepdim: bool = False) -> Any:
    return xp.std(input, axis=dim, ddof=1 if unbiased else 0, keepdims=keepdim)


def _extreme(arg: str, val: str) -> Any:
    def impl(xp: Any, input: Any, dim: Any = None, keepdim: bool = False) -> Any:
        if input.size == 0:
            raise ValueError("cannot take the max or min of an empty tensor (size mismatch: 0 elements)")
        if dim is None:
            return getattr(xp, val)(input)
        idx = getattr(xp, arg)(input, axis=dim, keepdims=True)
        values = xp.take_along_axis(input, idx, axis=dim)
        if not keepdim:
            idx, values = idx.squeeze(dim), values.squeeze(dim)
        return values, idx.astype(np.int64)

    return impl


def _argextreme(arg: str) -> Any:
    def impl(xp: Any, input: Any, dim: Any = None, keepdim: bool = False) -> Any:
        if input.size == 0:
            raise ValueError("cannot take the argmax or argmin of an empty tensor (size mismatch: 0 elements)")
        return getattr(xp, arg)(input, axis=dim, keepdims=keepdim).astype(np.int64)

    return impl


def _cum(name: str) -> Any:
    def impl(xp: Any, input: Any, dim: int = 0) -> Any:
        if input.ndim == 0:
            return input.copy()
        return getattr(xp, name)(input, axis=dim, dtype=_acc(input))

    return impl


def pnorm(xp: Any, input: Any, p: Any = 2, dim: Any = None, keepdim: bool = False) -> Any:
    a = xp.abs(input)
    if p == 2:
        return xp.sqrt(xp.sum(a * a, axis=dim, keepdims=keepdim))
    if p == 1:
        return xp.sum(a, axis=dim, keepdims=keepdim)
    if p == float("inf"):
        if a.size == 0:  # the largest of no values is 0 here (cupy's max has no ``initial=``)
            return xp.sum(a, axis=dim, keepdims=keepdim).astype(a.dtype)
        return xp.max(a, axis=dim, keepdims=keepdim)
    if p == 0:
        return xp.sum(a != 0, axis=dim, keepdims=keepdim).astype(input.dtype)
    return xp.sum(a**p, axis=dim, keepdims=keepdim) ** (1.0 / p)


def _dist(xp: Any, input: Any, other: Any, p: Any = 2) -> Any:
    return pnorm(xp, input - other, p)


def _all(xp: Any, input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    return xp.all(input, axis=dim, keepdims=keepdim)


def _any(xp: Any, input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    return xp.any(input, axis=dim, keepdims=keepdim)


def _logsumexp(xp: Any, input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    if input.ndim == 0:  # one number is its own logsumexp
        return input.copy()
    if input.size == 0:  # the log of an empty sum: -inf, as the sum of an empty tensor is 0
        return xp.full(input.sum(axis=dim, keepdims=keepdim).shape, -xp.inf, dtype=input.dtype)
    m = input.max(axis=dim, keepdims=True)  # methods, and in place on our own temporaries: small inputs
    if type(m) is np.ndarray:  # are common (a batch of one), where each call's overhead shows
        m[~xp.isfinite(m)] = 0
    else:  # cupy's boolean-mask write reads the mask's count on the host: a sync, and no CUDA graph
        m = xp.where(xp.isfinite(m), m, m.dtype.type(0))
    r = xp.exp(input - m).sum(axis=dim, keepdims=True)
    xp.log(r, out=r)
    r += m
    return r if keepdim else (r.reshape(()) if dim is None else r.squeeze(dim))


def _ex(call: str, out: str) -> str:
    return f">>> import flambeau.tensor as ft\n>>> x = ft.tensor([[1.0, 2.0], [3.0, 4.0]])\n>>> {call}\n{out}"


_R: dict[str, Any] = dict(group="reduction", variants=frozenset({"function", "method", "out"}))

declare(
    Op(
        "sum",
        _sum,
        differentiable=("input",),
        doc="Sum of all elements, or along ``dim``.",
        example=_ex(
            "ft.sum(x).item(), x.sum(0).tolist(), x.sum(1, keepdim=True).tolist()", "(10.0, [4.0, 6.0], [[3.0], [7.0]])"
        ),
        **_R,
    ),
    Op(
        "prod",
        _prod,
        differentiable=("input",),
        doc="Product of all elements, or along ``dim``.",
        example=_ex("x.prod().item(), x.prod(1).tolist()", "(24.0, [2.0, 12.0])"),
        **_R,
    ),
    Op(
        "mean",
        _mean,
        dtypes="float",
        differentiable=("input",),
        doc="Mean of all elements, or along ``dim``.",
        example=_ex("x.mean().item(), x.mean(0).tolist()", "(2.5, [2.0, 3.0])"),
        **_R,
    ),
    Op(
        "var",
        _var,
        dtypes="float",
        differentiable=("input",),
        doc="Variance; ``unbiased=True`` (the default) divides by n-1, ``False`` by n (Torch7's ``biased``).",
        example=_ex("x.var().item(), x.var(1, unbiased=False).tolist()", "(1.6666666666666667, [0.25, 0.25])"),
        **_R,
    ),
    Op(
        "std",
        _std,
        dtypes="float",
        differentiable=("input",),
        doc="Standard deviation, square root of :func:`var`.",
        example=_ex("x.std(0).tolist()", "[1.4142135623730951, 1.4142135623730951]"),
        **_R,
    ),
    Op(
        "max",
        _extreme("argmax", "max"),
        result="tuple",
        names=("values", "indices"),
        differentiable=("input",),
        doc="The largest element as a 0-d tensor, or with ``dim`` the (values, indices) of the maxima along it (0-based).",
        example=_ex(
            "ft.max(ft.FloatTensor([1, 3, 5])).item(), [t.tolist() for t in x.max(1)]", "(5.0, [[2.0, 4.0], [1, 1]])"
        ),
        **_R,
    ),
    Op(
        "min",
        _extreme("argmin", "min"),
        result="tuple",
        names=("values", "indices"),
        differentiable=("input",),
        doc="The smallest element as a 0-d tensor, or with ``dim`` the (values, indices) of the minima along it (0-based).",
        example=_ex("x.min().item(), [t.tolist() for t in x.min(0)]", "(1.0, [[1.0, 2.0], [0, 0]])"),
        **_R,
    ),
    Op(
        "argmax",
        _argextreme("argmax"),
        doc="Index of the largest element (of the flattened tensor when ``dim`` is None).",
        example=_ex("x.argmax().item(), x.argmax(0).tolist()", "(3, [1, 1])"),
        **_R,
    ),
    Op(
        "argmin",
        _argextreme("argmin"),
        doc="Index of the smallest element (of the flattened tensor when ``dim`` is None).",
        example=_ex("x.argmin().item(), x.argmin(1).tolist()", "(0, [0, 0])"),
        **_R,
    ),
    Op(
        "cumsum",
        _cum("cumsum"),
        differentiable=("input",),
        group="reduction",
        doc="Running sum along ``dim`` (default 0, Torch7's code default).",
        example=_ex(
            "x.cumsum(0).tolist(), x.cumsum(1).tolist()", "([[1.0, 2.0], [4.0, 6.0]], [[1.0, 3.0], [3.0, 7.0]])"
        ),
    ),
    Op(
        "cumprod",
        _cum("cumprod"),
        differentiable=("input",),
        group="reduction",
        doc="Running product along ``dim`` (default 0).",
        example=_ex("x.cumprod(1).tolist()", "[[1.0, 2.0], [3.0, 12.0]]"),
    ),
    Op(
        "norm",
        pnorm,
        dtypes="float",
        differentiable=("input",),
        doc="The p-norm of all elements, or of each slice along ``dim`` (p may be 0, 1, 2, any real or ``inf``).",
        example=_ex("ft.tensor([3.0, 4.0]).norm().item(), x.norm(1, dim=1).tolist()", "(5.0, [3.0, 7.0])"),
        **_R,
    ),
    Op(
        "dist",
        _dist,
        ("input", "other"),
        dtypes="float",
        differentiable=("input", "other"),
        doc="The p-norm of ``input - other``.",
        group="reduction",
        variants=frozenset({"function", "method", "out"}),
        example=">>> import flambeau.tensor as ft\n>>> ft.dist(ft.tensor([1.0, 1.0]), ft.tensor([4.0, 5.0])).item()\n5.0",
    ),
    Op(
        "all",
        _all,
        result="byte",
        doc="1 if every element is non-zero (along ``dim`` if given).",
        example=_ex("ft.all(ft.tensor([1, 1])).item(), (x > 1).all(1).tolist()", "(1, [0, 1])"),
        **_R,
    ),
    Op(
        "any",
        _any,
        result="byte",
        doc="1 if some element is non-zero (along ``dim`` if given).",
        example=_ex("(x > 3).any().item(), (x > 3).any(1).tolist()", "(1, [0, 1])"),
        **_R,
    ),
    Op(
        "logsumexp",
        _logsumexp,
        dtypes="float",
        differentiable=("input",),
        doc="``log(sum(exp(input)))`` computed without overflow, over all elements or along ``dim``.",
        example=_ex('f"{ft.tensor([1000.0, 1000.0]).logsumexp().item() - 1000:.6f}"', "'0.693147'"),
        **_R,
    ),
)
