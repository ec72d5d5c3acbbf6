"""Element-wise ops (Torch7 2.2, 2.3 and 2.8): unary maths, binary arithmetic, comparisons.

All broadcast like numpy. Ops marked ``float`` promote integer tensors to the default float type
first (Torch7 defined them for Float/Double only; this is PyTorch's behaviour).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..optable import Op, declare, value_checks

_T = "import flambeau.tensor as ft\n>>> "


def unary(
    name: str,
    impl: Callable[..., Any] | str,
    doc: str,
    example: str,
    dtypes: str = "float",
    differentiable: bool = True,
    aliases: tuple[str, ...] = (),
) -> Op:
    """One record of the unary family; ``example`` is ``'input -> output'`` as Python lists."""
    given, expected = (s.strip() for s in example.split("->"))
    text = f">>> import flambeau.tensor as ft\n>>> ft.{name}(ft.tensor({given})).tolist()\n{expected}"
    ufunc = impl if isinstance(impl, str) else ""
    return Op(
        name,
        by_name(impl, "input") if isinstance(impl, str) else impl,
        ("input",),
        ufunc=ufunc,
        dtypes=dtypes,
        differentiable=("input",) if differentiable else (),
        aliases=aliases,
        group="pointwise",
        doc=doc,
        example=text,
    )


def by_name(fn: str, *params: str) -> Callable[..., Any]:
    """The forward ``lambda xp, <params>: xp.<fn>(<params>)``, made from the function's name.

    Written out rather than a closure over ``getattr`` so that it costs what a hand-written lambda costs.
    """
    args = ", ".join(params)
    return eval(f"lambda xp, {args}: xp.{fn}({args})")


def _keep_int(f: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Rounding ops leave integer tensors as they are (a copy, never the input itself)."""

    def impl(xp: Any, input: Any) -> Any:
        return input.copy() if input.dtype.kind in "iu" else f(xp, input)

    return impl


def _round(xp: Any, input: Any) -> Any:
    # C's round(): halves go away from zero (numpy's round goes to even).
    return xp.copysign(xp.floor(xp.abs(input) + 0.5), input)


def _sigmoid(xp: Any, input: Any) -> Any:
    # With e = exp(-|x|) <= 1 nothing overflows: 1/(1+e) for x >= 0, e/(1+e) below (7x faster
    # than exp(-logaddexp(0, -x)), which numpy computes with a slow log1p/exp pair).
    e = xp.exp(-xp.abs(input))
    r = 1 / (1 + e)
    return xp.where(input >= 0, r, e * r)


declare(
    unary("abs", "abs", "Absolute value.", "[-2, 3] -> [2, 3]", "any"),
    unary(
        "sign",
        "sign",
        "-1, 0 or +1 by the sign.",
        "[-2.5, 0.0, 3.0] -> [-1.0, 0.0, 1.0]",
        "any",
        False,
    ),
    unary(
        "neg",
        "negative",
        "Negation, ``-x``.",
        "[1, -2] -> [-1, 2]",
        "any",
        aliases=("negative",),
    ),
    unary("acos", "arccos", "Inverse cosine.", "[1.0] -> [0.0]"),
    unary("asin", "arcsin", "Inverse sine.", "[0.0] -> [0.0]"),
    unary("atan", "arctan", "Inverse tangent.", "[0.0] -> [0.0]"),
    unary(
        "ceil",
        _keep_int(lambda xp, x: xp.ceil(x)),
        "Smallest integer not less than x.",
        "[1.2, -1.2] -> [2.0, -1.0]",
        "any",
        False,
    ),
    unary(
        "floor",
        _keep_int(lambda xp, x: xp.floor(x)),
        "Largest integer not greater than x.",
        "[1.7, -1.2] -> [1.0, -2.0]",
        "any",
        False,
    ),
    unary(
        "round",
        _keep_int(_round),
        "Nearest integer; halves round away from zero (C ``round``, as Torch7).",
        "[0.5, 1.5, -2.5] -> [1.0, 2.0, -3.0]",
        "any",
        False,
    ),
    unary(
        "trunc",
        _keep_int(lambda xp, x: xp.trunc(x)),
        "Integer part, rounding towards zero.",
        "[1.7, -1.7] -> [1.0, -1.0]",
        "any",
        False,
    ),
    unary(
        "frac",
        lambda xp, input: input - xp.trunc(input),
        "Fractional part, ``x - trunc(x)``.",
        "[1.5, -1.25] -> [0.5, -0.25]",
    ),
    unary("cos", "cos", "Cosine.", "[0.0] -> [1.0]"),
    unary("sin", "sin", "Sine.", "[0.0] -> [0.0]"),
    unary("tan", "tan", "Tangent.", "[0.0] -> [0.0]"),
    unary("cosh", "cosh", "Hyperbolic cosine.", "[0.0] -> [1.0]"),
    unary("sinh", "sinh", "Hyperbolic sine.", "[0.0] -> [0.0]"),
    unary("tanh", "tanh", "Hyperbolic tangent.", "[0.0] -> [0.0]"),
    unary("exp", "exp", "Exponential.", "[0.0] -> [1.0]"),
    unary("expm1", "expm1", "``exp(x) - 1``, accurate near 0.", "[0.0] -> [0.0]"),
    unary("log", "log", "Natural logarithm.", "[1.0] -> [0.0]"),
    unary("log1p", "log1p", "``log(1 + x)``, accurate near 0.", "[0.0] -> [0.0]"),
    unary("log2", "log2", "Base-2 logarithm.", "[8.0] -> [3.0]"),
    unary("log10", "log10", "Base-10 logarithm.", "[100.0] -> [2.0]"),
    unary("sqrt", "sqrt", "Square root.", "[4.0, 9.0] -> [2.0, 3.0]"),
    unary("rsqrt", lambda xp, input: 1 / xp.sqrt(input), "Reciprocal square root, ``1/sqrt(x)``.", "[4.0] -> [0.5]"),
    unary(
        "cinv",
        lambda xp, input: 1 / input,
        "Reciprocal, ``1/x``.",
        "[2.0, 4.0] -> [0.5, 0.25]",
        aliases=("reciprocal",),
    ),
    unary("square", lambda xp, input: input * input, "``x * x``.", "[3, -2] -> [9, 4]", "any"),
    unary("sigmoid", _sigmoid, "Logistic sigmoid ``1/(1+exp(-x))``, stable for large ``|x|``.", "[0.0] -> [0.5]"),
)


def binary(
    name: str,
    impl: Callable[..., Any] | str,
    doc: str,
    example: str,
    dtypes: str = "any",
    differentiable: tuple[str, ...] = ("input", "other"),
    aliases: tuple[str, ...] = (),
    names: tuple[str, str] = ("input", "other"),
    result: str = "tensor",
    ufunc: str = "",
) -> Op:
    """One record of the binary family; ``example`` is ``'a, b -> output'`` as Python lists or numbers.

    ``impl`` is the forward, or the name of the ``xp`` function of two arrays that it is.
    """
    given, expected = (s.strip() for s in example.split("->"))
    a, b = (s.strip() for s in given.split(";"))
    text = f">>> import flambeau.tensor as ft\n>>> ft.{name}(ft.tensor({a}), {b}).tolist()\n{expected}"
    group = "comparison" if result == "byte" else "pointwise"
    return Op(
        name,
        by_name(impl, *names) if isinstance(impl, str) else impl,
        names,
        ufunc=impl if isinstance(impl, str) else ufunc,
        dtypes=dtypes,
        differentiable=differentiable,
        aliases=aliases,
        result=result,
        group=group,
        doc=doc,
        example=text,
    )


def _add(xp: Any, input: Any, other: Any, *, alpha: Any = 1) -> Any:
    return xp.add(input, other if alpha == 1 else alpha * other)


def _sub(xp: Any, input: Any, other: Any, *, alpha: Any = 1) -> Any:
    return xp.subtract(input, other if alpha == 1 else alpha * other)


def _integral(v: Any) -> bool:
    kind = getattr(getattr(v, "dtype", None), "kind", None)
    return kind in ("i", "u") if kind is not None else isinstance(v, int)


def _pow(xp: Any, input: Any, exponent: Any) -> Any:
    # numpy refuses integers to negative integer powers; cupy's kernel would give 0 silently: refuse
    # on devices too, with numpy's words (the array case reads the exponents back: a value check)
    if xp is not np and _integral(input) and _integral(exponent):
        if hasattr(exponent, "shape"):
            negative = value_checks() and bool((exponent < 0).any())
        else:
            negative = exponent < 0
        if negative:
            raise ValueError("Integers to negative integer powers are not allowed.")
    return xp.power(input, exponent)


declare(
    binary(
        "add",
        _add,
        "``input + alpha * other`` (Torch7's ``add(t1, value, t2)`` is ``add(t1, t2, alpha=value)``).",
        "[1, 2]; ft.tensor([10, 20]) -> [11, 22]",
        ufunc="add",
    ),
    binary(
        "sub",
        _sub,
        "``input - alpha * other``. With two or more integer positional arguments, "
        "``t.sub(...)`` is Torch7's view op (see :func:`sub_view`).",
        "[5.0, 7.0]; 2 -> [3.0, 5.0]",
        aliases=("csub",),
        ufunc="subtract",
    ),
    binary(
        "mul",
        "multiply",
        "Element-wise product (by a tensor or a number).",
        "[1, 2, 3]; ft.tensor([2, 2, 2]) -> [2, 4, 6]",
        aliases=("cmul",),
    ),
    binary(
        "div",
        "true_divide",
        "True division; integer tensors give the default float type (PyTorch, not Torch7's truncation).",
        "[1, 3]; 2 -> [0.5, 1.5]",
        dtypes="float",
        aliases=("cdiv",),
    ),
    binary(
        "pow",
        _pow,
        "``input ** exponent`` element-wise; with a number first, ``pow(n, t)`` is ``n ** t``.",
        "[1.0, 2.0, 3.0]; 2 -> [1.0, 4.0, 9.0]",
        aliases=("cpow",),
        names=("input", "exponent"),
        differentiable=("input", "exponent"),
    ),
    binary(
        "fmod",
        "fmod",
        "C ``fmod``: truncated remainder, with the sign of the dividend.",
        "[-3, 3]; 2 -> [-1, 1]",
        aliases=("cfmod",),
        differentiable=("input",),
    ),
    binary(
        "remainder",
        "remainder",
        "Floored remainder ``a - b*floor(a/b)`` (Python's ``%``), with the sign of the divisor.",
        "[-3, 3]; 2 -> [1, 1]",
        aliases=("cremainder",),
        differentiable=("input",),
    ),
    binary(
        "atan2",
        lambda xp, input, other: xp.arctan2(input, other),
        "``atan2(input, other)``: the angle of the point (other, input); ``input`` is the numerator.",
        "[0.0]; 1.0 -> [0.0]",
        dtypes="float",
    ),
    binary(
        "cmax",
        "maximum",
        "Element-wise maximum of a tensor and a tensor or number.",
        "[1, 5]; 3 -> [3, 5]",
        aliases=("maximum",),
    ),
    binary(
        "cmin",
        "minimum",
        "Element-wise minimum of a tensor and a tensor or number.",
        "[1, 5]; 3 -> [1, 3]",
        aliases=("minimum",),
    ),
    binary(
        "lt",
        "less",
        "``input < other`` as a 0/1 ByteTensor.",
        "[1, 2, 3]; 2 -> [1, 0, 0]",
        result="byte",
        differentiable=(),
    ),
    binary(
        "le",
        "less_equal",
        "``input <= other`` as a 0/1 ByteTensor.",
        "[1, 2, 3]; 2 -> [1, 1, 0]",
        result="byte",
        differentiable=(),
    ),
    binary(
        "gt",
        "greater",
        "``input > other`` as a 0/1 ByteTensor.",
        "[1, 2, 3]; 2 -> [0, 0, 1]",
        result="byte",
        differentiable=(),
    ),
    binary(
        "ge",
        "greater_equal",
        "``input >= other`` as a 0/1 ByteTensor.",
        "[1, 2, 3]; 2 -> [0, 1, 1]",
        result="byte",
        differentiable=(),
    ),
    binary(
        "eq",
        "equal",
        "``input == other`` as a 0/1 ByteTensor.",
        "[1, 2, 3]; 2 -> [0, 1, 0]",
        result="byte",
        differentiable=(),
    ),
    binary(
        "ne",
        "not_equal",
        "``input != other`` as a 0/1 ByteTensor.",
        "[1, 2, 3]; 2 -> [1, 0, 1]",
        result="byte",
        differentiable=(),
    ),
    binary(
        "logical_and",
        "logical_and",
        "Both non-zero, as a ByteTensor.",
        "[0, 1, 2]; 1 -> [0, 1, 1]",
        result="byte",
        differentiable=(),
    ),
    binary(
        "logical_or",
        "logical_or",
        "Either non-zero, as a ByteTensor.",
        "[0, 1, 0]; 0 -> [0, 1, 0]",
        result="byte",
        differentiable=(),
    ),
    binary(
        "logical_xor",
        "logical_xor",
        "Exactly one non-zero, as a ByteTensor.",
        "[0, 1]; 1 -> [1, 0]",
        result="byte",
        differentiable=(),
    ),
    binary(
        "bitand",
        "bitwise_and",
        "Bitwise and of integer tensors.",
        "[12, 10]; 6 -> [4, 2]",
        dtypes="integer",
        differentiable=(),
        aliases=("cbitand", "bitwise_and"),
    ),
    binary(
        "bitor",
        "bitwise_or",
        "Bitwise or of integer tensors.",
        "[12, 10]; 1 -> [13, 11]",
        dtypes="integer",
        differentiable=(),
        aliases=("cbitor", "bitwise_or"),
    ),
    binary(
        "bitxor",
        "bitwise_xor",
        "Bitwise exclusive or of integer tensors.",
        "[12, 10]; 6 -> [10, 12]",
        dtypes="integer",
        differentiable=(),
        aliases=("cbitxor", "bitwise_xor"),
    ),
)


def _logical_not(xp: Any, input: Any) -> Any:
    return xp.logical_not(input)


def _clamp(xp: Any, input: Any, min: Any = None, max: Any = None) -> Any:
    if min is None and max is None:
        raise ValueError("at least one of min and max must be given")
    return xp.clip(input, min, max)


def _lerp(xp: Any, input: Any, end: Any, weight: Any) -> Any:
    return input + weight * (end - input)


def _addcmul(xp: Any, input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
    return input + value * (tensor1 * tensor2)


def _addcdiv(xp: Any, input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
    return input + value * (tensor1 / tensor2)


def _where(xp: Any, condition: Any, input: Any, other: Any) -> Any:
    return xp.where(xp.asarray(condition).astype(bool), input, other)


declare(
    Op(
        "logical_not",
        _logical_not,
        result="byte",
        group="comparison",
        doc="Zero where non-zero and one where zero, as a ByteTensor.",
        example=">>> import flambeau.tensor as ft\n>>> ft.logical_not(ft.tensor([0, 3])).tolist()\n[1, 0]",
    ),
    Op(
        "clamp",
        _clamp,
        differentiable=("input",),
        group="pointwise",
        aliases=("clip",),
        doc="Clip every element to ``[min, max]`` (either bound may be omitted).",
        example=">>> import flambeau.tensor as ft\n>>> ft.clamp(ft.range(0, 4), 0, 2).tolist()\n[0.0, 1.0, 2.0, 2.0, 2.0]",
    ),
    Op(
        "lerp",
        _lerp,
        ("input", "end", "weight"),
        dtypes="float",
        differentiable=("input", "end", "weight"),
        group="pointwise",
        doc="Linear interpolation ``input + weight * (end - input)``.",
        example=">>> import flambeau.tensor as ft\n>>> ft.lerp(ft.tensor([0.0, 10.0]), ft.tensor([1.0, 20.0]), 0.5).tolist()\n[0.5, 15.0]",
    ),
    Op(
        "addcmul",
        _addcmul,
        ("input", "tensor1", "tensor2"),
        differentiable=("input", "tensor1", "tensor2"),
        group="pointwise",
        doc="``input + value * tensor1 * tensor2`` (Torch7's ``addcmul(x, value, t1, t2)`` takes ``value=`` here).",
        example=">>> import flambeau.tensor as ft\n>>> ft.addcmul(ft.ones(2), ft.tensor([1.0, 2.0]), ft.tensor([3.0, 4.0]), value=2).tolist()\n[7.0, 17.0]",
    ),
    Op(
        "addcdiv",
        _addcdiv,
        ("input", "tensor1", "tensor2"),
        dtypes="float",
        differentiable=("input", "tensor1", "tensor2"),
        group="pointwise",
        doc="``input + value * tensor1 / tensor2``.",
        example=">>> import flambeau.tensor as ft\n>>> ft.addcdiv(ft.ones(2), ft.tensor([1.0, 2.0]), ft.tensor([4.0, 4.0])).tolist()\n[1.25, 1.5]",
    ),
    Op(
        "where",
        _where,
        ("condition", "input", "other"),
        differentiable=("input", "other"),
        group="indexing",
        variants=frozenset({"function", "out"}),
        doc="Elements of ``input`` where ``condition`` is non-zero, of ``other`` elsewhere (all three broadcast).",
        example=">>> import flambeau.tensor as ft\n>>> ft.where(ft.tensor([1, 0]), ft.tensor([1.0, 2.0]), 0.0).tolist()\n[1.0, 0.0]",
    ),
)
