"""The array namespace a CUDA graph capture runs programs with: cupy, but GEMMs it can hold.

A program compiled by ``flambeau.autograd.optimize`` calls the ops' implementations with the
backend's array namespace (``matmul(cupy, a, b)``). To capture it as a CUDA graph, it is compiled
once more with a :class:`CaptureNamespace` in cupy's place (see
``flambeau.autograd.graphs.segments``): everything is cupy's, except ``matmul`` and ``dot`` on
float32 and float64, which go to cuBLAS through :mod:`.cublas` (cupy's own refuse to run during a
capture). Other dtypes keep cupy's functions: integer products are cupy kernels, which capture;
complex and half products call cupy's cuBLAS wrappers and make the capture fail, with cupy's
reason.

The class is written against any array namespace and BLAS, so the CPU tests run it on numpy:

>>> import numpy as np
>>> from flambeau.backends.cupy.gemm import NumpyBlas
>>> ns = CaptureNamespace(np, NumpyBlas())
>>> ns.matmul(np.eye(2), np.arange(4.0).reshape(2, 2)).tolist()
[[0.0, 1.0], [2.0, 3.0]]
>>> ns.float32 is np.float32, ns.matmul(np.eye(2, dtype=int), np.eye(2, dtype=int)).dtype
(True, dtype('int64'))
"""

from __future__ import annotations

from typing import Any

from . import gemm

__all__ = ["CaptureNamespace"]


class CaptureNamespace:
    """``xp`` with ``matmul`` and ``dot`` through ``blas`` for float32 and float64 operands.

    Parameters
    ----------
    xp : module
        The array namespace it stands for (cupy).
    blas : gemm.Blas
        The GEMM to call (:class:`.cublas.Cublas` on cupy).
    """

    OVERRIDES = ("matmul", "dot")  # the functions of ``xp`` it replaces

    def __init__(self, xp: Any, blas: gemm.Blas):
        self.wrapped = xp
        self.blas = blas

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)

    def __repr__(self) -> str:
        return f"<capture namespace over {getattr(self.wrapped, '__name__', self.wrapped)!r}>"

    def _through_gemm(self, a: Any, b: Any, max_dims: int | None) -> bool:
        dts = gemm.GEMM_DTYPES
        return (
            getattr(a, "dtype", None) in dts
            and getattr(b, "dtype", None) in dts
            and isinstance(a, self.wrapped.ndarray)
            and isinstance(b, self.wrapped.ndarray)
            and (max_dims is None or (a.ndim <= max_dims and b.ndim <= max_dims))
        )

    def matmul(self, a: Any, b: Any, out: Any = None) -> Any:
        """numpy's ``matmul`` (see :func:`.gemm.matmul`)."""
        if self._through_gemm(a, b, None):
            return gemm.matmul(self.wrapped, self.blas, a, b, out)
        return self.wrapped.matmul(a, b) if out is None else self.wrapped.matmul(a, b, out=out)

    def dot(self, a: Any, b: Any, out: Any = None) -> Any:
        """numpy's ``dot`` (see :func:`.gemm.dot`; operands of more than 2 dims keep ``xp.dot``)."""
        if self._through_gemm(a, b, 2):
            return gemm.dot(self.wrapped, self.blas, a, b, out)
        return self.wrapped.dot(a, b) if out is None else self.wrapped.dot(a, b, out=out)
