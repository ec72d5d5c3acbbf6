"""Gradient cases of the element-wise ops (inputs kept inside each function's smooth domain)."""

from __future__ import annotations

from gradcase import GradCase, arr

A, B = arr(3, 4), arr(3, 4)
POS = arr(3, 4, lo=0.5, hi=2.0)
UNIT = arr(3, 4, lo=-0.9, hi=0.9)

CASES = {
    "abs": [GradCase((arr(3, 4, lo=0.2, hi=2.0) * (1 - 2 * (arr(3, 4) > 0)),))],
    "neg": [GradCase((A,))],
    "acos": [GradCase((UNIT,))],
    "asin": [GradCase((UNIT,))],
    "atan": [GradCase((A,))],
    "frac": [GradCase((arr(3, 4, lo=0.1, hi=0.9) + 2,))],
    "cos": [GradCase((A,))],
    "sin": [GradCase((A,))],
    "tan": [GradCase((UNIT,))],
    "cosh": [GradCase((A,))],
    "sinh": [GradCase((A,))],
    "tanh": [GradCase((A,))],
    "exp": [GradCase((A,))],
    "expm1": [GradCase((A,))],
    "log": [GradCase((POS,))],
    "log1p": [GradCase((POS,))],
    "log2": [GradCase((POS,))],
    "log10": [GradCase((POS,))],
    "sqrt": [GradCase((POS,))],
    "rsqrt": [GradCase((POS,))],
    "cinv": [GradCase((POS,))],
    "square": [GradCase((A,))],
    "sigmoid": [GradCase((A,))],
    "add": [
        GradCase((A, B)),
        GradCase((A, arr(4)), label="broadcast"),
        GradCase((A, arr(3, 1)), kwargs={"alpha": 2.5}, label="alpha, size-1 dim"),
        GradCase((A, 1.5), label="number"),
    ],
    "sub": [GradCase((A, B)), GradCase((arr(1, 4), B), kwargs={"alpha": -0.5}, label="broadcast alpha")],
    "mul": [GradCase((A, B)), GradCase((A, arr(4)), label="broadcast"), GradCase((2.5, A), label="number first")],
    "div": [GradCase((A, POS)), GradCase((2.0, POS), label="number first"), GradCase((A, 3.0), label="number")],
    "pow": [
        GradCase((POS, B)),
        GradCase((A, 3), label="integer exponent"),
        GradCase((POS, 2.5), label="number exponent"),
        GradCase((1.7, A), label="number base"),
    ],
    "fmod": [GradCase((arr(3, 4, lo=0.1, hi=0.9) + 3, 2.0))],
    "remainder": [GradCase((arr(3, 4, lo=0.1, hi=0.9) + 3, 2.0))],
    "atan2": [GradCase((A, B))],
    "cmax": [GradCase((A, B)), GradCase((A, 0.3), label="number")],
    "cmin": [GradCase((A, B)), GradCase((A, 0.3), label="number")],
    "clamp": [GradCase((A,), {"min": -0.5, "max": 0.5}), GradCase((A,), {"min": 0.1}, label="min only")],
    "lerp": [GradCase((A, B, POS * 0.4)), GradCase((A, B, 0.3), label="number weight")],
    "addcmul": [GradCase((A, B, arr(3, 4)), {"value": 0.5})],
    "addcdiv": [GradCase((A, B, POS), {"value": 0.5})],
    "where": [GradCase((arr(3, 4) > 0, A, B))],
}
