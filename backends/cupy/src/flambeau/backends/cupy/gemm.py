"""numpy's ``matmul`` and ``dot`` for float32 and float64 as column-major GEMM calls on raw pointers.

cupy refuses to call cuBLAS while a stream is being captured into a CUDA graph (every one of its
cuBLAS wrappers checks first), although cuBLAS itself can be captured. So a captured program
multiplies matrices through this module instead, with :mod:`.cublas` as the BLAS. It is written
against an array namespace and a BLAS object, so the same code runs on numpy in the CPU tests
with a reference BLAS that reads and writes the same raw pointers.

How a row-major product goes to a column-major GEMM: the memory of a row-major ``r x c`` matrix
``X`` with row stride ``ld`` is, read column-major, the ``c x r`` matrix ``X^T`` with leading
dimension ``ld``; the memory of a column-major one (column stride ``ld``, what ``X.T`` of a
row-major array is) is ``X`` itself. ``C = A B`` is computed as ``C^T = B^T A^T``: GEMM's first
operand is ``B``, passed untransposed (``N``) when its memory already holds ``B^T``, else
transposed (``T``); its second is ``A``, likewise; the result is a C-contiguous ``m x n`` array,
``ldc = n``. Operands of any other layout (non-unit strides on both axes, negative or zero
strides) are copied to C order first.

>>> import numpy as np
>>> operand((3, 4), (32, 8), 8)     # C-contiguous float64: its memory is X^T, ld 4
('N', 4)
>>> operand((4, 3), (8, 32), 8)     # the transpose of the above: X itself, column-major
('T', 4)
>>> operand((3, 4), (64, 16), 8) is None  # every other column: needs a copy
True
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

__all__ = ["GEMM_DTYPES", "Blas", "dot", "matmul", "operand"]

GEMM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Blas(Protocol):
    """A column-major GEMM: ``C = op(A) op(B)`` (alpha 1, beta 0) on raw pointers."""

    def gemm(
        self, dtype: np.dtype, transa: str, transb: str, m: int, n: int, k: int,
        a: int, lda: int, b: int, ldb: int, c: int, ldc: int,
    ) -> None: ...  # fmt: skip

    def pointer(self, array: Any) -> int: ...  # the address of ``array``'s first element


def operand(shape: tuple[int, int], strides: tuple[int, int], itemsize: int) -> tuple[str, int] | None:
    """How to hand the row-major matrix of ``shape``/``strides`` (bytes) to a column-major GEMM
    as its transpose: ``('N', ld)`` when its memory holds ``X^T``, ``('T', ld)`` when it holds
    ``X``, ``None`` when it must be copied first (see the module's description).

    A size-1 axis's stride is never read, so it does not count.
    """
    r, c = shape
    if any(s % itemsize for s in strides):
        return None
    s0, s1 = (s // itemsize for s in strides)
    if c == 1 or s1 == 1:  # rows are contiguous
        ld = s0 if r > 1 else max(c, 1)
        if ld >= max(c, 1):
            return ("N", ld)
    if r == 1 or s0 == 1:  # columns are contiguous
        ld = s1 if c > 1 else max(r, 1)
        if ld >= max(r, 1):
            return ("T", ld)
    return None


def _mm2(xp: Any, blas: Blas, a: Any, b: Any, out: Any) -> None:
    """``out[...] = a @ b`` for 2-D ``a`` (m x k) and ``b`` (k x n) of out's dtype, out C-contiguous."""
    m, k = a.shape
    n = b.shape[1]
    if m == 0 or n == 0:
        return
    if k == 0:
        out.fill(0)
        return
    isz = out.dtype.itemsize
    pa, pb = operand(a.shape, a.strides, isz), operand(b.shape, b.strides, isz)
    if pa is None:
        a = xp.ascontiguousarray(a)
        pa = operand(a.shape, a.strides, isz)
    if pb is None:
        b = xp.ascontiguousarray(b)
        pb = operand(b.shape, b.strides, isz)
    assert pa is not None and pb is not None  # a C-contiguous matrix always fits
    # C^T (n x m) = B^T (n x k) A^T (k x m): GEMM's A is our b, its B our a.
    blas.gemm(out.dtype, pb[0], pa[0], n, m, k, blas.pointer(b), pb[1], blas.pointer(a), pa[1], blas.pointer(out), n)


def matmul(xp: Any, blas: Blas, a: Any, b: Any, out: Any = None) -> Any:
    """numpy's ``matmul(a, b, out=out)`` for real floating operands through ``blas``.

    Both operands are float32 or float64; the result is float32 when both are, else float64 (the
    float32 one is cast first). 1-D operands are promoted to matrices and the
    added axis dropped afterwards, as numpy does; leading (batch) axes broadcast, each product of
    a batch is one GEMM call.

    Parameters
    ----------
    xp : module
        The array namespace of ``a`` and ``b`` (cupy, or numpy in the tests).
    blas : Blas
        The column-major GEMM to call.
    a, b : array
        The operands, at least 1-D.
    out : array, optional
        Where to write the result (any layout of the right shape).

    Returns
    -------
    array
        ``out``, or a new C-contiguous array.
    """
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: a 0-d operand (use * to scale)")
    if a.dtype not in GEMM_DTYPES or b.dtype not in GEMM_DTYPES:
        raise TypeError(f"matmul through GEMM: operands of dtypes {a.dtype} and {b.dtype} (float32 or float64 only)")
    dtype = np.result_type(a.dtype, b.dtype)
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(
            f"matmul: size mismatch, {a.shape} and {b.shape} (the last axis of the first must equal the"
            f" {'only' if b.ndim == 1 else 'second-to-last'} axis of the second)"
        )
    a2, b2 = a2.astype(dtype, copy=False), b2.astype(dtype, copy=False)
    batch = tuple(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]))
    m, n = a2.shape[-2], b2.shape[-1]
    shape = batch + ((m,) if a.ndim > 1 else ()) + ((n,) if b.ndim > 1 else ())
    res = xp.empty(batch + (m, n), dtype=dtype)
    if batch:
        a2 = xp.broadcast_to(a2, batch + a2.shape[-2:])
        b2 = xp.broadcast_to(b2, batch + b2.shape[-2:])
        for i in range(math.prod(batch)):
            idx = np.unravel_index(i, batch)
            _mm2(xp, blas, a2[idx], b2[idx], res[idx])
    else:
        _mm2(xp, blas, a2, b2, res)
    res = res.reshape(shape)
    if out is None:
        return res
    if out.shape != shape:
        raise ValueError(f"matmul: out has size {out.shape}, the product {shape}")
    xp.copyto(out, res, casting="same_kind")
    return out


def dot(xp: Any, blas: Blas, a: Any, b: Any, out: Any = None) -> Any:
    """numpy's ``dot`` for real floating operands of at most 2 dims (``matmul`` there).

    >>> import numpy as np
    >>> from flambeau.backends.cupy.gemm import NumpyBlas
    >>> dot(np, NumpyBlas(), np.arange(3.0), np.arange(3.0))
    array(5.)
    """
    if a.ndim > 2 or b.ndim > 2:
        raise ValueError(f"dot through GEMM: operands of {a.ndim} and {b.ndim} dims (at most 2 each)")
    return matmul(xp, blas, a, b, out)


class NumpyBlas:
    """A column-major GEMM in numpy on raw host pointers: the reference the CPU tests check against.

    It rebuilds each operand from its address, leading dimension and transposition exactly as a
    BLAS reads memory, so a wrong pointer, ``ld`` or flag gives a wrong product (or reads the
    wrong elements), not the right one by accident.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def pointer(self, array: Any) -> int:
        return int(array.ctypes.data)

    def gemm(
        self, dtype: np.dtype, transa: str, transb: str, m: int, n: int, k: int,
        a: int, lda: int, b: int, ldb: int, c: int, ldc: int,
    ) -> None:  # fmt: skip
        self.calls.append((np.dtype(dtype).name, transa, transb, m, n, k, lda, ldb, ldc))
        opa = _colmajor(dtype, a, *((m, k) if transa == "N" else (k, m)), lda)
        opb = _colmajor(dtype, b, *((k, n) if transb == "N" else (n, k)), ldb)
        opa = opa if transa == "N" else opa.T
        opb = opb if transb == "N" else opb.T
        _colmajor(dtype, c, m, n, ldc)[...] = opa @ opb


def _colmajor(dtype: np.dtype, address: int, rows: int, cols: int, ld: int) -> np.ndarray:
    """The column-major ``rows x cols`` matrix with leading dimension ``ld`` at ``address``."""
    import ctypes

    if ld < max(rows, 1):
        raise ValueError(f"GEMM: leading dimension {ld} < {rows} rows")  # what BLAS rejects too
    isz = np.dtype(dtype).itemsize
    span = ((cols - 1) * ld + rows) * isz
    buf = memoryview((ctypes.c_char * span).from_address(address)).cast("B")
    return np.ndarray((rows, cols), dtype=dtype, buffer=buf, strides=(isz, ld * isz))
