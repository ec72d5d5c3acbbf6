"""Construction, fills and random sampling (Torch7 2.1 and 2.9).

Factories take sizes as ``f(2, 3)`` or ``f((2, 3))`` plus ``dtype=``, ``device=`` and ``out=``.
``range`` is Torch7's, inclusive of ``end``; ``arange`` is numpy's, exclusive.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..errors import ArgumentError, DomainError, ShapeError
from ..optable import Op, declare

_F = frozenset({"function", "out"})


def _zeros(xp: Any, size: Any, *, dtype: Any = None) -> Any:
    return xp.zeros(size, dtype=dtype)


def _ones(xp: Any, size: Any, *, dtype: Any = None) -> Any:
    return xp.ones(size, dtype=dtype)


def _empty(xp: Any, size: Any, *, dtype: Any = None) -> Any:
    return xp.empty(size, dtype=dtype)


def _full(xp: Any, size: Any, *, fill_value: Any = 0, dtype: Any = None) -> Any:
    return xp.full(size, fill_value, dtype=dtype)


def _eye(xp: Any, n: int, m: Any = None, *, dtype: Any = None) -> Any:
    return xp.eye(n, n if m is None else m, dtype=dtype)


def _range(xp: Any, start: Any, end: Any, step: Any = 1, *, dtype: Any = None) -> Any:
    if step == 0 or (end - start) * step < 0:
        raise DomainError(f"range: cannot go from {start} to {end} in steps of {step}")
    n = int(math.floor((end - start) / step + 1e-9)) + 1
    return (start + xp.arange(n, dtype=np.float64) * step).astype(dtype)


def _arange(xp: Any, start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None) -> Any:
    if end is None:
        start, end = 0, start
    if step == 0:
        raise DomainError("arange: step must not be 0")
    return xp.arange(start, end, step).astype(dtype)


def _arange_dtype(args: dict[str, Any]) -> np.dtype:
    nums = (args.get("start"), args.get("end"), args.get("step"))
    return _dt.int64 if all(isinstance(v, (int, type(None))) for v in nums) else _dt.default_dtype()


def _linspace(xp: Any, start: Any, end: Any, steps: int = 100, *, dtype: Any = None) -> Any:
    return xp.linspace(start, end, steps).astype(dtype)


def _logspace(xp: Any, start: Any, end: Any, steps: int = 100, base: float = 10.0, *, dtype: Any = None) -> Any:
    return xp.logspace(start, end, steps, base=base).astype(dtype)


def _rand(xp: Any, rng: Any, size: Any, *, dtype: Any = None) -> Any:
    return xp.asarray(rng.random(size)).astype(dtype, copy=False)


def _randn(xp: Any, rng: Any, size: Any, *, dtype: Any = None) -> Any:
    return xp.asarray(rng.standard_normal(size)).astype(dtype, copy=False)


def _randperm(xp: Any, rng: Any, n: int, *, dtype: Any = None) -> Any:
    return xp.asarray(rng.permutation(n)).astype(dtype)


def _float_dtype(args: dict[str, Any]) -> np.dtype:
    return _dt.default_dtype()


def _long_dtype(args: dict[str, Any]) -> np.dtype:
    return _dt.int64


_E = ">>> import flambeau.tensor as ft\n>>> "


def _factory(name: str, impl: Any, doc: str, example: str, **kw: Any) -> Op:
    return Op(name, impl, (), kind="factory", variants=_F, group="creation", doc=doc, example=_E + example, **kw)


declare(
    _factory(
        "zeros",
        _zeros,
        "A tensor of zeros.",
        "ft.zeros(2, 3).size(), ft.zeros((2,), dtype=ft.LongTensor).tolist()\n(Size([2, 3]), [0, 0])",
    ),
    _factory("ones", _ones, "A tensor of ones.", "ft.ones(2).tolist()\n[1.0, 1.0]"),
    _factory(
        "empty",
        _empty,
        "An uninitialized tensor (Torch7's ``torch.Tensor(sizes)``).",
        "ft.empty(2, 2).size()\nSize([2, 2])",
    ),
    _factory("full", _full, "A tensor filled with ``fill_value``.", "ft.full(2, fill_value=7).tolist()\n[7.0, 7.0]"),
    _factory(
        "eye",
        _eye,
        "Identity matrix, n x n or n x m.",
        "(ft.eye(3) * 4 - 2).tolist()\n[[2.0, -2.0, -2.0], [-2.0, 2.0, -2.0], [-2.0, -2.0, 2.0]]",
    ),
    _factory(
        "range",
        _range,
        "``floor((end-start)/step) + 1`` values from ``start``, **including** ``end`` (Torch7).",
        "ft.range(0, 4).tolist(), ft.range(1, 2, 0.5).tolist()\n([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 1.5, 2.0])",
    ),
    _factory(
        "arange",
        _arange,
        "numpy's arange: ``start`` up to but excluding ``end``; integer arguments give a LongTensor.",
        "ft.arange(4).tolist(), ft.arange(0, 1, 0.25).tolist()\n([0, 1, 2, 3], [0.0, 0.25, 0.5, 0.75])",
        default_dtype=_arange_dtype,
    ),
    _factory(
        "linspace",
        _linspace,
        "``steps`` evenly spaced points from ``start`` to ``end`` inclusive.",
        "ft.linspace(0, 1, 5).tolist()\n[0.0, 0.25, 0.5, 0.75, 1.0]",
    ),
    _factory(
        "logspace",
        _logspace,
        "``steps`` points from ``base**start`` to ``base**end``.",
        "ft.logspace(0, 2, 3).tolist()\n[1.0, 10.0, 100.0]",
    ),
    _factory(
        "rand",
        _rand,
        "Uniform draws in [0, 1).",
        "ft.manual_seed(1); x = ft.rand(1000)\n>>> 0 <= x.min().item() and x.max().item() < 1\nTrue",
        rng=True,
    ),
    _factory(
        "randn",
        _randn,
        "Standard normal draws.",
        "ft.manual_seed(1); -0.05 < ft.randn(10000).mean().item() < 0.05\nTrue",
        rng=True,
    ),
    _factory(
        "randperm",
        _randperm,
        "A random permutation of ``0 .. n-1`` (a LongTensor).",
        "sorted(ft.randperm(5).tolist())\n[0, 1, 2, 3, 4]",
        rng=True,
        default_dtype=_long_dtype,
    ),
)


def _like(fill: Any) -> Any:
    def impl(xp: Any, input: Any, *, dtype: Any = None) -> Any:
        return xp.full(input.shape, fill, dtype=input.dtype if dtype is None else _dt.as_dtype(dtype))

    return impl


declare(
    Op(
        "zeros_like",
        _like(0),
        group="creation",
        variants=frozenset({"function"}),
        doc="Zeros of the input's size, dtype and device.",
        example=_E + "ft.zeros_like(ft.ones(2)).tolist()\n[0.0, 0.0]",
    ),
    Op(
        "ones_like",
        _like(1),
        group="creation",
        variants=frozenset({"function"}),
        doc="Ones of the input's size, dtype and device.",
        example=_E + "ft.ones_like(ft.LongTensor([5, 6])).tolist()\n[1, 1]",
    ),
)


# -- in-place random fills: each draws a fresh array of the target's size, then writes it -----


def _uniform(xp: Any, rng: Any, input: Any, a: float = 0.0, b: float = 1.0) -> Any:
    return xp.asarray(rng.uniform(a, b, input.shape))


def _normal(xp: Any, rng: Any, input: Any, mean: float = 0.0, std: float = 1.0) -> Any:
    if std < 0:
        raise DomainError(f"normal_: std must be non-negative, got {std}")
    return xp.asarray(rng.normal(mean, std, input.shape))


def _bernoulli_fill(xp: Any, rng: Any, input: Any, p: Any = 0.5) -> Any:
    p = xp.asarray(p)
    if p.size and (float(p.min()) < 0 or float(p.max()) > 1):
        raise DomainError("bernoulli_: probabilities must lie in [0, 1]")
    if p.ndim and p.shape != input.shape:
        if p.size != input.size:
            raise ShapeError(f"bernoulli_: probabilities of size {p.shape} for a tensor of size {input.shape}")
        p = p.reshape(input.shape)
    return xp.asarray(rng.random(input.shape)) < p


def _random(xp: Any, rng: Any, input: Any, low: Any = None, high: Any = None) -> Any:
    if high is None:  # random_(n) draws from [0, n); random_() from [0, 2**mantissa] or the type's range
        low, high = 0, low
    if high is None:
        high = (
            2 ** (np.finfo(input.dtype).nmant + 1) + 1
            if input.dtype.kind == "f"
            else int(np.iinfo(input.dtype).max) + 1
        )
    if high <= low:
        raise DomainError(f"random_: empty range [{low}, {high})")
    return xp.asarray(rng.integers(low, high, input.shape))


def _exponential(xp: Any, rng: Any, input: Any, lambd: float = 1.0) -> Any:
    return xp.asarray(rng.exponential(1.0 / lambd, input.shape))


def _cauchy(xp: Any, rng: Any, input: Any, median: float = 0.0, sigma: float = 1.0) -> Any:
    return xp.asarray(median + sigma * rng.standard_cauchy(input.shape))


def _log_normal(xp: Any, rng: Any, input: Any, mean: float = 1.0, std: float = 2.0) -> Any:
    return xp.asarray(rng.lognormal(mean, std, input.shape))


def _geometric(xp: Any, rng: Any, input: Any, p: float) -> Any:
    return xp.asarray(rng.geometric(p, input.shape))


def _fill(name: str, impl: Any, doc: str, example: str) -> Op:
    return Op(
        name,
        impl,
        ("input",) if name != "bernoulli" else ("input", "p"),
        kind="fill",
        rng=True,
        group="random",
        doc=doc + " Fills the tensor in place and returns it.",
        example=_E + "ft.manual_seed(0)\n>>> " + example,
    )


declare(
    _fill(
        "uniform",
        _uniform,
        "Uniform draws in [a, b).",
        "x = ft.zeros(1000).uniform_(2, 3); 2 <= x.min().item() <= x.max().item() < 3\nTrue",
    ),
    _fill(
        "normal",
        _normal,
        "Normal draws with ``mean`` and ``std``.",
        "4.9 < ft.zeros(10000).normal_(5, 2).mean().item() < 5.1\nTrue",
    ),
    _fill(
        "bernoulli",
        _bernoulli_fill,
        "0/1 draws with probability ``p`` (a number or a tensor of probabilities).",
        "ft.zeros(4).bernoulli_(ft.tensor([0.0, 1.0, 0.0, 1.0])).tolist()\n[0.0, 1.0, 0.0, 1.0]",
    ),
    _fill(
        "random",
        _random,
        "Integers uniformly in ``[low, high)``; ``random_(n)`` draws from ``[0, n)``.",
        "sorted(set(ft.zeros(200).random_(0, 3).tolist()))\n[0.0, 1.0, 2.0]",
    ),
    _fill(
        "exponential",
        _exponential,
        "Exponential draws with rate ``lambd`` (density ``lambd*exp(-lambd*x)``).",
        "0.24 < ft.zeros(20000).exponential_(4).mean().item() < 0.26\nTrue",
    ),
    _fill(
        "cauchy",
        _cauchy,
        "Cauchy draws with ``median`` and scale ``sigma``.",
        "2.9 < ft.zeros(10001).cauchy_(3, 1).median().item() < 3.1\nTrue",
    ),
    _fill(
        "log_normal",
        _log_normal,
        "``exp`` of normal draws with ``mean`` and ``std`` (parameters of the underlying normal).",
        "bool(ft.zeros(100).log_normal_().gt(0).all())\nTrue",
    ),
    _fill(
        "geometric",
        _geometric,
        "Number of Bernoulli(p) trials up to the first success (PyTorch's convention).",
        "bool(ft.zeros(100).geometric_(0.5).ge(1).all())\nTrue",
    ),
)


def _bernoulli(xp: Any, rng: Any, input: Any) -> Any:
    return _bernoulli_fill(xp, rng, input, input).astype(input.dtype)


declare(
    Op(
        "bernoulli",
        _bernoulli,
        rng=True,
        group="random",
        variants=frozenset({"function", "method", "out"}),
        doc="0/1 draws, each with the probability given by the input's element (a tensor of the input's type).",
        example=_E + "ft.bernoulli(ft.tensor([1.0, 0.0])).tolist()\n[1.0, 0.0]",
    ),
)


# -- multinomial: rows of weights -> indices in draw order ----------------------------------------


def _multinomial(xp: Any, rng: Any, input: Any, num_samples: int, replacement: bool = False) -> Any:
    # Written against xp and the generator's ``random`` only, so that any backend (cupy's generator
    # included) runs it unchanged: inverse-CDF sampling with replacement, the exponential race
    # without (each category's key is Exp(1)/weight; sorting the keys gives successive draws
    # without replacement, each proportional to the remaining weights, exactly).
    if input.ndim not in (1, 2):
        raise ShapeError(f"multinomial: the weights must be 1-D or 2-D (rows of weights), got a {input.ndim}-D tensor")
    if isinstance(num_samples, (bool, np.bool_)) or not isinstance(num_samples, (int, np.integer)):
        raise ArgumentError(f"multinomial: num_samples must be an int, got {type(num_samples).__name__}")
    n = int(num_samples)
    k = input.shape[-1]
    if k == 0:
        raise DomainError("multinomial: there are no categories to draw from (the weights are empty)")
    w = xp.asarray(input, dtype=xp.float64).reshape(-1, k)
    rows = w.shape[0]
    if n < 1:
        raise DomainError(f"multinomial: num_samples must be at least 1, got {n}")
    if rows and not bool(xp.isfinite(w).all()):
        raise DomainError("multinomial: the weights must be finite (got inf or nan)")
    if rows and bool((w < 0).any()):
        raise DomainError("multinomial: the weights must be non-negative")
    nonzero = int((w > 0).sum(axis=1).min()) if rows else k
    if nonzero == 0:
        raise DomainError("multinomial: a row of weights sums to 0 (every weight is zero)")
    if not replacement and n > nonzero:
        why = f"{k} categories" if n > k else f"a row with only {nonzero} categories of non-zero weight"
        raise DomainError(f"multinomial: cannot draw {n} samples without replacement from {why}")
    if replacement:
        cdf = xp.cumsum(w, axis=1)
        cdf /= cdf[:, -1:]  # the last entry is exactly 1 and u < 1: the index is always valid
        u = xp.asarray(rng.random((rows, n)))
        idx = xp.empty((rows, n), dtype=xp.int64)
        for i in range(rows):  # side="right": a zero-weight category (a flat step of the cdf) is never hit
            idx[i] = xp.searchsorted(cdf[i], u[i], side="right")
    else:
        e = -xp.log1p(-xp.asarray(rng.random((rows, k))))  # Exp(1) draws, finite since u < 1
        positive = w > 0
        keys = xp.where(positive, e / xp.where(positive, w, 1.0), xp.inf)
        idx = xp.argsort(keys, axis=1)[:, :n].astype(xp.int64)
    return idx.reshape(n) if input.ndim == 1 else idx


declare(
    Op(
        "multinomial",
        _multinomial,
        rng=True,
        dtypes="float",
        group="random",
        variants=frozenset({"function", "method", "out"}),
        doc=(
            "Draw ``num_samples`` category indices from each row of weights ``input``.\n\n"
            "``input`` is 1-D (one row) or 2-D (one row of weights per line). A category's chance is\n"
            "proportional to its weight: the weights need not sum to 1 but must be finite and\n"
            "non-negative, with at least one positive per row; a zero-weight category is never drawn.\n"
            "Returns a LongTensor of 0-based indices in draw order, of size ``num_samples`` (or\n"
            "rows x ``num_samples``). Without replacement (the default) the indices of a row are all\n"
            "different, so ``num_samples`` may not exceed the number of categories of positive weight."
        ),
        example=(
            _E
            + "w = ft.tensor([0.0, 10.0, 3.0, 0.0])\n"
            + ">>> sorted(set(ft.multinomial(w, 100, replacement=True).tolist()))\n[1, 2]\n"
            + ">>> sorted(ft.multinomial(w, 2).tolist())\n[1, 2]\n"
            + ">>> ft.multinomial(ft.tensor([[1.0, 0.0], [0.0, 5.0]]), 1).tolist()\n[[0], [1]]"
        ),
    ),
)
