"""Convolutions (Torch7 2.6): ``conv2``, ``xcorr2``, ``conv3``, ``xcorr3``.

``conv*`` is the true convolution (the kernel is flipped), ``xcorr*`` the cross-correlation. The
mode is ``'V'`` (valid, the default: output size ``n - k + 1``) or ``'F'`` (full: ``n + k - 1``);
lower case and the words ``'valid'`` / ``'full'`` are accepted too. With ``d`` the number of
convolved dims (2 or 3), the shapes are Torch7's:

- (d-D input, d-D kernel) -> d-D;
- ((d+1)-D input ``p x ...``, (d+1)-D kernel ``p x ...``) -> ``p x ...``: each plane with its kernel;
- ((d+1)-D input ``p x ...``, (d+2)-D kernel ``q x p x ...``) -> ``q x ...``: summed over ``p``, like ``mv``.

The kernel works im2col-style: a strided view holds every window of the (zero-padded, in full
mode) input, a block of output rows at a time is copied into a matrix, and one matrix product per
block does the sums. The result has the type numpy's ``matmul`` gives the two arguments; integer
tensors keep their type and, as in Torch7, wrap around on overflow.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import DomainError, ShapeError, size_text
from ..optable import Op, declare

_MODES = {"V": False, "VALID": False, "F": True, "FULL": True}

# Elements of the im2col matrix built per block of output rows: bounds the extra memory.
_BLOCK = 1 << 22


def _is_full(name: str, mode: Any) -> bool:
    full = _MODES.get(mode.upper()) if isinstance(mode, str) else None
    if full is None:
        raise DomainError(f"{name}: mode must be 'V' (valid) or 'F' (full), got {mode!r}")
    return full


def _check(name: str, d: int, input: Any, kernel: Any, full: bool) -> None:
    si, sk = size_text(input.shape), size_text(kernel.shape)
    if (input.ndim, kernel.ndim) not in ((d, d), (d + 1, d + 1), (d + 1, d + 2)):
        raise ShapeError(
            f"{name}: input of size {si} and kernel of size {sk} do not fit; expected a {d}-D input with a {d}-D"
            f" kernel, a {d + 1}-D input (planes) with a {d + 1}-D kernel (one per plane), or a {d + 1}-D input"
            f" with a {d + 2}-D kernel (output planes x input planes x ...)"
        )
    n, k = input.shape[-d:], kernel.shape[-d:]
    if 0 in n or 0 in k:
        raise ShapeError(f"{name}: input ({si}) and kernel ({sk}) must be non-empty in their last {d} dims")
    if input.ndim > d and input.shape[0] != kernel.shape[-d - 1]:
        raise ShapeError(
            f"{name}: the input has {input.shape[0]} planes but the kernel ({sk}) is for"
            f" {kernel.shape[-d - 1]} (dim {kernel.ndim - d - 1} of the kernel must equal dim 0 of the input)"
        )
    if not full and any(a < b for a, b in zip(n, k, strict=True)):
        raise ShapeError(
            f"{name}: the kernel ({sk}) is larger than the input ({si}) in valid mode; use mode 'F' (full)"
        )


def _conv(xp: Any, name: str, d: int, input: Any, kernel: Any, mode: Any, flip: bool) -> Any:
    full = _is_full(name, mode)
    input, kernel = xp.asarray(input), xp.asarray(kernel)  # a number arrives as is: refused as 0-d
    _check(name, d, input, kernel, full)
    k = kernel.shape[-d:]
    if flip:
        kernel = kernel[(Ellipsis,) + (slice(None, None, -1),) * d]
    x = input if input.ndim > d else input[None]  # planes first: p x n...
    mv = kernel.ndim == d + 2
    if not mv and input.ndim == d:
        kernel = kernel[None]
    if full:
        x = xp.pad(x, [(0, 0)] + [(m - 1, m - 1) for m in k])
    p, ks, o = x.shape[0], math.prod(k), tuple(a - b + 1 for a, b in zip(x.shape[1:], k, strict=True))
    dtype = xp.result_type(x, kernel)
    st = x.strides
    rows = max(1, _BLOCK // (p * ks * math.prod(o[1:])))  # output rows per block
    window = xp.lib.stride_tricks.as_strided
    if mv:  # out[q, o] = kernel[q, (p k)] @ cols[(p k), o]
        q = kernel.shape[0]
        w = window(x, o + (p,) + k, st[1:] + st[:1] + st[1:])  # o... x p x k...
        km = kernel.reshape(q, p * ks)
        out = xp.empty((q,) + o, dtype=dtype)
        for a in range(0, o[0], rows):
            cols = w[a : a + rows].reshape(-1, p * ks)
            out[:, a : a + rows] = xp.matmul(km, cols.T).reshape((q, -1) + o[1:])
    else:  # out[p, o] = cols[p, o, k] @ kernel[p, k]
        w = window(x, (p,) + o + k, st[:1] + st[1:] + st[1:])  # p x o... x k...
        km = kernel.reshape(p, ks, 1)
        out = xp.empty((p,) + o, dtype=dtype)
        for a in range(0, o[0], rows):
            cols = w[:, a : a + rows].reshape(p, -1, ks)
            out[:, a : a + rows] = xp.matmul(cols, km).reshape((p, -1) + o[1:])
    return out if input.ndim > d else out[0]


def _conv2(xp: Any, input: Any, kernel: Any, mode: Any = "V") -> Any:
    return _conv(xp, "conv2", 2, input, kernel, mode, True)


def _xcorr2(xp: Any, input: Any, kernel: Any, mode: Any = "V") -> Any:
    return _conv(xp, "xcorr2", 2, input, kernel, mode, False)


def _conv3(xp: Any, input: Any, kernel: Any, mode: Any = "V") -> Any:
    return _conv(xp, "conv3", 3, input, kernel, mode, True)


def _xcorr3(xp: Any, input: Any, kernel: Any, mode: Any = "V") -> Any:
    return _conv(xp, "xcorr3", 3, input, kernel, mode, False)


_SHAPES = """

Shapes (``d`` = {d}): a {d}-D input with a {d}-D kernel gives a {d}-D result; a {d1}-D input of
``p`` planes with a {d1}-D kernel of ``p`` kernels convolves each plane with its own kernel
(``p x ...`` result); a {d1}-D input of ``p`` planes with a {d2}-D kernel ``q x p x ...`` sums over
the ``p`` planes and gives ``q`` planes, like ``mv``. ``mode`` is ``'V'`` (valid, the default:
only where the kernel fits inside, size ``n - k + 1``) or ``'F'`` (full: every overlap, the input
zero-padded, size ``n + k - 1``); ``'v'``, ``'f'``, ``'valid'`` and ``'full'`` are accepted too.
``out=`` is Torch7's result argument. The result type is the one ``matmul`` gives the arguments:
integer tensors keep their type and wrap around on overflow."""

_X = (
    ">>> import flambeau.tensor as ft\n"
    ">>> x = ft.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])\n"
    ">>> k = ft.tensor([[1.0, 0.0], [0.0, 2.0]])\n"
)
_X3 = ">>> import flambeau.tensor as ft\n>>> x = ft.arange(0, 8).double().view(2, 2, 2)\n"


def _op(name: str, impl: Any, doc: str, d: int, example: str) -> Op:
    return Op(
        name,
        impl,
        ("input", "kernel"),
        variants=frozenset({"function", "method", "out"}),  # the result's size differs from the input's
        differentiable=("input", "kernel"),
        group="convolution",
        kernel=name,  # a backend may supply a native kernel (cuDNN, ...) under this name
        doc=doc + _SHAPES.format(d=d, d1=d + 1, d2=d + 2),
        example=example,
    )


declare(
    _op(
        "conv2",
        _conv2,
        "2-D convolution of ``input`` with ``kernel`` (the kernel flipped, as in signal processing).",
        2,
        _X + ">>> ft.conv2(x, k).tolist()\n[[7.0, 10.0], [16.0, 19.0]]\n"
        ">>> ft.conv2(x, k, 'F').tolist()[0]\n[1.0, 2.0, 3.0, 0.0]\n"
        ">>> ft.conv2(ft.ones(3, 5, 5), ft.ones(4, 3, 2, 2)).size()\nSize([4, 4, 4])",
    ),
    _op(
        "xcorr2",
        _xcorr2,
        "2-D cross-correlation of ``input`` with ``kernel`` (the kernel slides unflipped).",
        2,
        _X + ">>> ft.xcorr2(x, k).tolist()\n[[11.0, 14.0], [20.0, 23.0]]\n"
        ">>> ft.xcorr2(x, k, 'F').tolist()[0]\n[2.0, 4.0, 6.0, 0.0]",
    ),
    _op(
        "conv3",
        _conv3,
        "3-D convolution of ``input`` with ``kernel`` (the kernel flipped).",
        3,
        _X3 + ">>> ft.conv3(x, ft.ones(2, 2, 2)).tolist()\n[[[28.0]]]\n"
        ">>> ft.conv3(x, ft.ones(1, 1, 1), 'F').equal(x)\nTrue",
    ),
    _op(
        "xcorr3",
        _xcorr3,
        "3-D cross-correlation of ``input`` with ``kernel`` (the kernel unflipped).",
        3,
        _X3 + ">>> k = ft.zeros(2, 2, 2)\n>>> k[1, 1, 1] = 1\n>>> ft.xcorr3(x, k).tolist()\n[[[7.0]]]\n"
        ">>> ft.conv3(x, k).tolist()\n[[[0.0]]]",
    ),
)
