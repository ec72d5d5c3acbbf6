"""Bit shifts and bitwise not (Torch7 2.3's ``lshift``/``rshift``; ``bitand``/``bitor``/``bitxor`` are
in :mod:`.pointwise`).

Shift amounts are a number or a tensor (broadcast like every binary op, so Torch7's element-wise
``clshift``/``crshift`` are the same ops). On integer tensors they shift bits; on float tensors
they multiply or divide by ``2**amount``, as Torch7 documents. Right shifts of negative integers
are arithmetic (Python's and numpy's ``>>``; Torch7 shifted the unsigned bit pattern). Amounts
outside ``[0, bits of the type)`` shift every bit out on numpy; other backends may differ.
"""

from __future__ import annotations

from typing import Any

from ..errors import DomainError
from ..optable import Op, declare


def _shift(name: str, bits: str, scale: str) -> Any:
    def impl(xp: Any, input: Any, other: Any) -> Any:
        input = xp.asarray(input)  # a number shifted by a tensor (``8 >> t``)
        if isinstance(other, (int, float)) and other < 0 and input.dtype.kind != "f":
            raise DomainError(f"{name}: the shift amount must be non-negative, got {other}")
        if input.dtype.kind == "f":
            return getattr(xp, scale)(input, xp.exp2(xp.asarray(other, dtype=input.dtype)))
        return getattr(xp, bits)(input, other)

    return impl


_E = ">>> import flambeau.tensor as ft\n>>> "

declare(
    Op(
        "lshift",
        _shift("lshift", "left_shift", "multiply"),
        ("input", "other"),
        aliases=("clshift", "bitwise_left_shift"),
        group="pointwise",
        doc="Shift the bits of an integer tensor left by ``other`` (a number or a tensor); on a float tensor, "
        "multiply by ``2**other``.",
        example=_E + "ft.lshift(ft.tensor([1, 3]), 2).tolist(), ft.tensor([1.5]).lshift(ft.tensor([3.0])).tolist()\n"
        "([4, 12], [12.0])",
    ),
    Op(
        "rshift",
        _shift("rshift", "right_shift", "divide"),
        ("input", "other"),
        aliases=("crshift", "bitwise_right_shift"),
        group="pointwise",
        doc="Shift the bits of an integer tensor right by ``other`` (arithmetic: the sign is kept); on a float "
        "tensor, divide by ``2**other``.",
        example=_E + "ft.rshift(ft.tensor([12, -8]), 2).tolist(), ft.tensor([3.0]).rshift(1).tolist()\n"
        "([3, -2], [1.5])",
    ),
    Op(
        "bitnot",
        lambda xp, input: xp.invert(input),
        dtypes="integer",
        aliases=("bitwise_not",),
        group="pointwise",
        doc="Bitwise not (``~x``: every bit flipped) of an integer tensor; for 0/1 masks use :func:`logical_not`.",
        example=_E + "ft.bitnot(ft.tensor([0, 5])).tolist(), ft.ByteTensor([0, 1]).bitnot().tolist()\n"
        "([-1, -6], [255, 254])",
    ),
)
