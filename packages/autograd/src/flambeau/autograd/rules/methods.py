"""Rules of the Tensor methods that are not ops (clone, type, to, copy_): autograd's own primitives."""

from __future__ import annotations

from typing import Any

from ..tracer import _cast, _clone, _copy_like, _move, unbroadcast
from ._table import rule


def _copy_src(g: Any, ans: Any, target: Any, src: Any) -> Any:
    shape, gs = src._a.shape, g._a.shape
    lead = len(gs) - len(shape)
    if lead >= 0 and all(n in (1, m) for n, m in zip(shape, gs[lead:], strict=True)):
        return unbroadcast(g, shape)
    return g.reshape(*shape)  # Torch7's copy between tensors of equal element counts


rule(_clone, lambda g, ans, x: g)
rule(_cast, lambda g, ans, x, dtype: g.type(x.dtype))
rule(_move, lambda g, ans, x, device: g.to(x.device))
rule(_copy_like, None, _copy_src)
