"""Matrix and vector products (the BLAS group of Torch7 2.3) and ``cross``.

Shapes are checked up front so that errors name both operands' sizes. Torch7's optional leading
scalars (``addmm(v1, M, v2, m1, m2)``) are the keywords ``beta`` (on the added tensor) and
``alpha`` (on the product), as in PyTorch.
"""

from __future__ import annotations

from typing import Any

from ..errors import ShapeError
from ..optable import ALL_VARIANTS, Op, declare


def _need(op: str, **arrays: Any) -> None:
    """Check each named array has the given number of dims: ``_need('mm', input=(a, 2))``."""
    for name, (a, nd) in arrays.items():
        if a.ndim != nd:
            raise ShapeError(f"{op}: {name} must be {nd}-D, got size {'x'.join(map(str, a.shape)) or '[] (0-d)'}")


def _fit(op: str, a: Any, b: Any, da: int, db: int, an: str, bn: str) -> None:
    if a.shape[da] != b.shape[db]:
        raise ShapeError(
            f"{op}: size mismatch, {an} is {'x'.join(map(str, a.shape))} and {bn} is {'x'.join(map(str, b.shape))}"
            f" (dim {da} of {an} must equal dim {db} of {bn})"
        )


def _mm(xp: Any, input: Any, mat2: Any) -> Any:
    _need("mm", input=(input, 2), mat2=(mat2, 2))
    _fit("mm", input, mat2, 1, 0, "input", "mat2")
    return xp.dot(input, mat2)  # dot: numpy's matmul skips BLAS when the inner size is 1 (4x slower)


def _mv(xp: Any, input: Any, vec: Any) -> Any:
    _need("mv", input=(input, 2), vec=(vec, 1))
    _fit("mv", input, vec, 1, 0, "input", "vec")
    return xp.matmul(input, vec)


def _bmm(xp: Any, input: Any, mat2: Any) -> Any:
    _need("bmm", input=(input, 3), mat2=(mat2, 3))
    _fit("bmm", input, mat2, 0, 0, "input", "mat2")
    _fit("bmm", input, mat2, 2, 1, "input", "mat2")
    return xp.matmul(input, mat2)


def _dot(xp: Any, input: Any, other: Any) -> Any:
    if input.size != other.size:
        raise ShapeError(f"dot: the tensors have {input.size} and {other.size} elements; they must have as many")
    return xp.dot(input.reshape(-1), other.reshape(-1))


def _ger(xp: Any, input: Any, vec2: Any) -> Any:
    _need("ger", input=(input, 1), vec2=(vec2, 1))
    return xp.multiply.outer(input, vec2)


def _matmul(xp: Any, input: Any, other: Any) -> Any:
    if input.ndim == 0 or other.ndim == 0:
        raise ShapeError("matmul: both arguments need at least one dimension (use * to scale)")
    if input.ndim == 2 and other.ndim == 2:
        return xp.dot(input, other)  # see _mm
    return xp.matmul(input, other)


def _scaled(input: Any, beta: Any, prod: Any, alpha: Any) -> Any:
    return (input if beta == 1 else beta * input) + (prod if alpha == 1 else alpha * prod)


def _addmm(xp: Any, input: Any, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
    return _scaled(input, beta, _mm(xp, mat1, mat2), alpha)


def _addmv(xp: Any, input: Any, mat: Any, vec: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
    return _scaled(input, beta, _mv(xp, mat, vec), alpha)


def _addr(xp: Any, input: Any, vec1: Any, vec2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
    return _scaled(input, beta, _ger(xp, vec1, vec2), alpha)


def _addbmm(xp: Any, input: Any, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
    return _scaled(input, beta, _bmm(xp, batch1, batch2).sum(axis=0), alpha)


def _baddbmm(xp: Any, input: Any, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
    return _scaled(input, beta, _bmm(xp, batch1, batch2), alpha)


def _cross(xp: Any, input: Any, other: Any, dim: Any = None) -> Any:
    if input.shape != other.shape:
        raise ShapeError(f"cross: sizes differ, {input.shape} and {other.shape}")
    if dim is None:  # Torch7: the first dimension of size 3
        dim = next((d for d, s in enumerate(input.shape) if s == 3), None)
        if dim is None:
            raise ShapeError(f"cross: no dimension of size 3 in a tensor of size {'x'.join(map(str, input.shape))}")
    elif input.shape[dim] != 3:
        raise ShapeError(f"cross: dimension {dim} has size {input.shape[dim]}, not 3")
    return xp.cross(input, other, axis=dim)


_M = ">>> import flambeau.tensor as ft\n>>> a = ft.tensor([[1.0, 2.0], [3.0, 4.0]])\n>>> "


_PRODUCT = frozenset({"function", "method", "out"})  # a product's size differs from its inputs': no in-place form


def _blas(name: str, impl: Any, tensors: tuple[str, ...], doc: str, example: str, **kw: Any) -> Op:
    kw.setdefault("variants", _PRODUCT)
    return Op(name, impl, tensors, differentiable=tensors, group="blas", doc=doc, example=_M + example, **kw)


declare(
    _blas(
        "mm",
        _mm,
        ("input", "mat2"),
        "Matrix product of two 2-D tensors.",
        "ft.mm(a, a).tolist()\n[[7.0, 10.0], [15.0, 22.0]]",
        ufunc="dot",
    ),
    _blas(
        "mv", _mv, ("input", "vec"), "Matrix-vector product.", "ft.mv(a, ft.tensor([1.0, 1.0])).tolist()\n[3.0, 7.0]"
    ),
    _blas(
        "bmm",
        _bmm,
        ("input", "mat2"),
        "Batched matrix product: b x n x m times b x m x p gives b x n x p.",
        "ft.bmm(a.view(1, 2, 2), a.view(1, 2, 2)).tolist()\n[[[7.0, 10.0], [15.0, 22.0]]]",
        ufunc="matmul",
    ),
    _blas(
        "dot",
        _dot,
        ("input", "other"),
        "Sum of the element-wise product, both tensors taken as flat; a 0-d tensor.",
        "ft.dot(a, a).item()\n30.0",
    ),
    _blas(
        "ger",
        _ger,
        ("input", "vec2"),
        "Outer product of two vectors.",
        "ft.ger(ft.tensor([1.0, 2.0]), ft.tensor([3.0, 4.0])).tolist()\n[[3.0, 4.0], [6.0, 8.0]]",
        aliases=("outer",),
    ),
    _blas(
        "matmul",
        _matmul,
        ("input", "other"),
        "numpy's matmul: dot, mv, mm or batched mm by the ranks; ``a @ b``.",
        "(a @ ft.tensor([1.0, 0.0])).tolist()\n[1.0, 3.0]",
    ),
    _blas(
        "addmm",
        _addmm,
        ("input", "mat1", "mat2"),
        "``beta * input + alpha * (mat1 @ mat2)``.",
        "ft.addmm(ft.ones(2, 2), a, a, alpha=2).tolist()\n[[15.0, 21.0], [31.0, 45.0]]",
        variants=ALL_VARIANTS,
    ),
    _blas(
        "addmv",
        _addmv,
        ("input", "mat", "vec"),
        "``beta * input + alpha * (mat @ vec)``.",
        "ft.addmv(ft.ones(2), a, ft.tensor([1.0, 0.0]), beta=0).tolist()\n[1.0, 3.0]",
        variants=ALL_VARIANTS,
    ),
    _blas(
        "addr",
        _addr,
        ("input", "vec1", "vec2"),
        "``beta * input + alpha * outer(vec1, vec2)``.",
        "ft.addr(a, ft.tensor([1.0, 0.0]), ft.tensor([1.0, 1.0])).tolist()\n[[2.0, 3.0], [3.0, 4.0]]",
        variants=ALL_VARIANTS,
    ),
    _blas(
        "addbmm",
        _addbmm,
        ("input", "batch1", "batch2"),
        "``beta * input + alpha * sum_i batch1[i] @ batch2[i]``.",
        "ft.addbmm(ft.zeros(2, 2), ft.stack([a, a]), ft.stack([a, a])).tolist()\n[[14.0, 20.0], [30.0, 44.0]]",
        variants=ALL_VARIANTS,
    ),
    _blas(
        "baddbmm",
        _baddbmm,
        ("input", "batch1", "batch2"),
        "``beta * input[i] + alpha * batch1[i] @ batch2[i]`` for each i.",
        "ft.baddbmm(ft.zeros(1, 2, 2), a.view(1, 2, 2), a.view(1, 2, 2)).tolist()\n[[[7.0, 10.0], [15.0, 22.0]]]",
        variants=ALL_VARIANTS,
    ),
    _blas(
        "cross",
        _cross,
        ("input", "other"),
        "Cross product of 3-vectors along ``dim`` (default: the first dim of size 3).",
        "ft.cross(ft.tensor([1.0, 0.0, 0.0]), ft.tensor([0.0, 1.0, 0.0])).tolist()\n[0.0, 0.0, 1.0]",
        variants=ALL_VARIANTS,
    ),
)
