"""Rules of the convolutions ``conv2``, ``xcorr2``, ``conv3``, ``xcorr3``, written with the same ops.

With ``X`` the cross-correlation, ``C`` the convolution and ``~`` a flip of the last ``d`` dims, for
one plane (``d``-D input and kernel):

============  ======================  ============================
forward       gradient of the input   gradient of the kernel
============  ======================  ============================
X(x, k, 'V')  C(g, k, 'F')            X(x, g, 'V')
X(x, k, 'F')  C(g, k, 'V')            ~X(g, x, 'V')
C(x, k, 'V')  X(g, k, 'F')            ~X(x, g, 'V')
C(x, k, 'F')  X(g, k, 'V')            X(g, x, 'V')
============  ======================  ============================

Planes follow the forward's forms: ``p x ...`` input with ``p x ...`` kernel is the table plane by
plane; with a ``q x p x ...`` kernel the input's gradient is the same op on ``g`` (``q`` planes)
with the kernel's first two dims swapped, and the kernel's gradient pairs every output plane with
every input plane (both expanded to ``q*p`` planes). The flip is a small primitive whose gradient
is itself, so every rule differentiates again to any order.
"""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft

from ..tracer import Primitive
from ._table import rule


def _flip_fn(x: Any, d: int) -> Any:
    """``x`` reversed along its last ``d`` dims (a copy)."""
    return x[(Ellipsis,) + (slice(None, None, -1),) * d].clone()


_flip = Primitive(_flip_fn, "conv_flip")
rule(_flip, lambda g, ans, x, d: _flip(g, d))


def _full(mode: Any) -> bool:
    return isinstance(mode, str) and mode.upper() in ("F", "FULL")


def _makers(d: int, flip: bool) -> tuple[Any, Any]:
    xcorr = ft.xcorr2 if d == 2 else ft.xcorr3
    conv = ft.conv2 if d == 2 else ft.conv3

    def input_vjp(g: Any, ans: Any, x: Any, k: Any, mode: Any) -> Any:
        back = xcorr if flip else conv  # the adjoint slides the kernel the other way
        if k.dim() == d + 2:  # q x p x ... kernel: g has q planes, the result p
            k = k.transpose(0, 1)
        return back(g, k, "V" if _full(mode) else "F")

    def kernel_vjp(g: Any, ans: Any, x: Any, k: Any, mode: Any) -> Any:
        full = _full(mode)
        a, b = (g, x) if full else (x, g)  # X(a, b, 'V'): the larger one is the input
        if k.dim() == d + 2:  # every output plane q with every input plane p
            q, p = g.size(0), x.size(0)
            gq = g.unsqueeze(1).expand(q, p, *g.size()[1:]).reshape(q * p, *g.size()[1:])
            xp = x.unsqueeze(0).expand(q, p, *x.size()[1:]).reshape(q * p, *x.size()[1:])
            a, b = (gq, xp) if full else (xp, gq)
            out = xcorr(a, b, "V")
            out = out.reshape(q, p, *out.size()[1:])
        else:
            out = xcorr(a, b, "V")
        return _flip(out, d) if flip != full else out

    return input_vjp, kernel_vjp


rule("xcorr2", *_makers(2, False))
rule("conv2", *_makers(2, True))
rule("xcorr3", *_makers(3, False))
rule("conv3", *_makers(3, True))
