"""Gradient cases of the convolutions: every mode, flip and plane form (small sizes: fast)."""

from __future__ import annotations

from gradcase import GradCase, arr


def _cases(d: int) -> list[GradCase]:
    n, k = (4,) * d if d == 2 else (3,) * d, (2,) * d
    out = []
    for mode in ("V", "F"):
        out += [
            GradCase((arr(*n), arr(*k), mode), label=f"{mode} plain"),
            GradCase((arr(2, *n), arr(2, *k), mode), label=f"{mode} planes"),
            GradCase((arr(2, *n), arr(3, 2, *k), mode), label=f"{mode} mv"),
        ]
    out.append(GradCase((arr(*n), arr(*k), "full"), label="mode word"))
    return out


CASES = {"conv2": _cases(2), "xcorr2": _cases(2), "conv3": _cases(3), "xcorr3": _cases(3)}
