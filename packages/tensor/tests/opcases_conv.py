"""Cases of the convolutions (conv2, xcorr2, conv3, xcorr3), merged into opcases.CASES.

The reference is scipy.signal: ``convolve2d`` / ``correlate2d`` for the 2-D family and the n-D
``convolve`` / ``correlate`` (direct method) for the 3-D one, applied plane by plane and summed
for the ``mv`` form, in the arguments' own dtype.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.signal as ss
from opcases import ALL, FLOATS, Case, arr, ints


def _one(d: int, flip: bool) -> Callable[[np.ndarray, np.ndarray, str], np.ndarray]:
    """scipy's convolution (or correlation) of one d-D array with one d-D kernel."""
    if d == 2:
        f2 = ss.convolve2d if flip else ss.correlate2d
        return lambda a, b, mode: f2(a, b, mode=mode)
    fn = ss.convolve if flip else ss.correlate
    return lambda a, b, mode: fn(a, b, mode=mode, method="direct")


def reference(d: int, flip: bool) -> Callable[..., np.ndarray]:
    """Torch7's conv/xcorr of any of the three shape forms, computed with scipy.signal."""
    one = _one(d, flip)

    def ref(x: np.ndarray, k: np.ndarray, mode: str = "V") -> np.ndarray:
        m = "full" if mode.upper() in ("F", "FULL") else "valid"
        if x.ndim == d:
            return one(x, k, m)
        if k.ndim == d + 1:
            return np.stack([one(a, b, m) for a, b in zip(x, k, strict=True)])
        return np.stack([np.sum([one(a, b, m) for a, b in zip(x, kq, strict=True)], axis=0, dtype=x.dtype) for kq in k])

    return ref


def _cases(d: int, flip: bool) -> list[Case]:
    ref = reference(d, flip)
    n, k = ((6, 7), (2, 3)) if d == 2 else ((4, 5, 6), (2, 3, 2))
    forms = {"single": ((), ()), "planes": ((3,), (3,)), "mv": ((3,), (2, 3))}
    cases = []
    for label, (pi, pk) in forms.items():
        for mode in ("V", "F"):
            x, w = ints(*pi, *n, lo=0, hi=4), ints(*pk, *k, lo=0, hi=3)
            cases.append(Case((x, w, mode), ref, dtypes=ALL, label=f"{label}-{mode}"))
            x, w = arr(*pi, *n), arr(*pk, *k)
            cases.append(Case((x, w), ref, {"mode": mode}, dtypes=FLOATS, tol=1e-9, label=f"{label}-{mode}-kw"))
    # kernel as large as the input (one output point), and a 1x..x1 kernel (a scaled copy)
    cases.append(Case((arr(*n), arr(*n)), ref, dtypes=FLOATS, tol=1e-9, label="same-size"))
    cases.append(Case((arr(*n), arr(*(1,) * d)), ref, {"mode": "F"}, tol=1e-9, label="unit"))
    return cases


CASES: dict[str, list[Case]] = {
    "conv2": _cases(2, True),
    "xcorr2": _cases(2, False),
    "conv3": _cases(3, True),
    "xcorr3": _cases(3, False),
}
