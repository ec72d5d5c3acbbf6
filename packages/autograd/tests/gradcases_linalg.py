"""Gradient cases of the BLAS products, ``cross`` and the LAPACK group.

Structured inputs (symmetric positive definite, triangular factors) are built inside ``call`` from
a free argument, so that finite differences stay inside the op's domain.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gradcase import GradCase, arr, spd

import flambeau.tensor as ft

CASES = {
    "mm": [GradCase((arr(3, 4), arr(4, 2)))],
    "mv": [GradCase((arr(3, 4), arr(4)))],
    "bmm": [GradCase((arr(2, 3, 4), arr(2, 4, 2)))],
    "dot": [GradCase((arr(4), arr(4))), GradCase((arr(2, 3), arr(6)), label="flat")],
    "ger": [GradCase((arr(3), arr(4)))],
    "matmul": [
        GradCase((arr(3, 4), arr(4, 2)), label="2-D"),
        GradCase((arr(4), arr(4)), label="1-D 1-D"),
        GradCase((arr(4), arr(4, 2)), label="1-D 2-D"),
        GradCase((arr(3, 4), arr(4)), label="2-D 1-D"),
        GradCase((arr(4), arr(2, 4, 3)), label="1-D batched"),
        GradCase((arr(2, 3, 4), arr(4)), label="batched 1-D"),
        GradCase((arr(2, 1, 3, 4), arr(5, 4, 2)), label="batch broadcast"),
        GradCase((arr(2, 3, 4), arr(4, 2)), label="batched 2-D"),
        GradCase((arr(3, 4), arr(4, 2)), call=lambda a, b: a @ b, label="operator"),
    ],
    "addmm": [
        GradCase((arr(3, 2), arr(3, 4), arr(4, 2))),
        GradCase((arr(2), arr(3, 4), arr(4, 2)), {"beta": 0.5, "alpha": -2.0}, label="broadcast beta alpha"),
        GradCase((arr(3, 2), arr(3, 4), arr(4, 2)), {"beta": 0}, label="beta 0"),
        GradCase((arr(3, 2), arr(3, 4), arr(4, 2)), call=lambda x, a, b: x.addmm(a, b), label="method"),
    ],
    "addmv": [GradCase((arr(3), arr(3, 4), arr(4)), {"beta": 2.0, "alpha": 0.5})],
    "addr": [GradCase((arr(3, 4), arr(3), arr(4)), {"beta": 0.5, "alpha": 3.0})],
    "addbmm": [GradCase((arr(3, 2), arr(4, 3, 5), arr(4, 5, 2)), {"beta": 1.5, "alpha": 0.5})],
    "baddbmm": [
        GradCase((arr(2, 3, 2), arr(2, 3, 4), arr(2, 4, 2))),
        GradCase((arr(3, 1), arr(2, 3, 4), arr(2, 4, 2)), {"beta": -1.0, "alpha": 2.0}, label="broadcast"),
    ],
    "cross": [GradCase((arr(3, 4), arr(3, 4))), GradCase((arr(2, 3), arr(2, 3)), {"dim": 1}, label="dim")],
}


def _sq(n: int, *batch: int) -> np.ndarray:
    """A well-conditioned square matrix (or batch)."""
    return arr(*batch, n, n) + 3 * np.eye(n)


SPD = spd(3) + 0.1 * arr(3, 3)  # not symmetric: the ops read one triangle
_Q = np.linalg.qr(arr(3, 3))[0]
SYM = _Q @ np.diag([-1.5, 0.5, 2.5]) @ _Q.T + 0.05 * arr(3, 3)  # eigenvalues well apart, either triangle


def _eig_inv(r: Any) -> Any:
    """Functions of an eigendecomposition that do not depend on the eigenvectors' signs."""
    w, v = r
    return (v * w.unsqueeze(-2)) @ v.transpose(-1, -2), v * v


CASES.update(
    {
        "gesv": [
            GradCase((arr(3, 2), _sq(3)), call=lambda b, a: ft.gesv(b, a)[0]),
            GradCase((arr(3), _sq(3)), call=lambda b, a: ft.gesv(b, a).solution, label="vector"),
            GradCase((arr(2, 3, 2), _sq(3, 2)), call=lambda b, a: ft.gesv(b, a)[0], label="batched"),
        ],
        "solve": [
            GradCase((_sq(3), arr(3, 2))),
            GradCase((_sq(3), arr(3)), label="vector"),
            GradCase((_sq(3, 2), arr(3)), label="batched vector"),
            GradCase((_sq(3), arr(2, 3, 2)), label="broadcast"),
        ],
        "trtrs": [
            GradCase((arr(3, 2), _sq(3)), label="both outputs"),
            GradCase((arr(3, 2), _sq(3), "L", "T"), call=lambda *a: ft.trtrs(*a)[0], label="lower trans"),
            GradCase((arr(3), _sq(3), "U", "N", "U"), call=lambda *a: ft.trtrs(*a)[0], label="unit vector"),
            GradCase((arr(2, 3, 2), _sq(3, 2), "L"), call=lambda *a: ft.trtrs(*a)[0], label="batched"),
        ],
        "potrf": [
            GradCase((SPD,)),
            GradCase((SPD, "L"), label="lower"),
            GradCase(
                (arr(3, 3),), call=lambda a: ft.potrf(a @ a.t() + 3 * ft.eye(3, device=a.device)), label="symmetric"
            ),
        ],
        "cholesky": [
            GradCase((SPD,)),
            GradCase((SPD, True), label="upper"),
            GradCase((np.stack([spd(3), spd(3)]),), label="batched"),
        ],
        "potri": [GradCase((_sq(3),)), GradCase((_sq(3), "L"), label="lower")],
        "potrs": [
            GradCase((arr(3, 2), _sq(3))),
            GradCase((arr(3), _sq(3), "L"), label="lower vector"),
            GradCase(
                (arr(3, 2), arr(3, 3)),
                call=lambda b, a: ft.potrs(b, ft.potrf(a @ a.t() + 3 * ft.eye(3, device=a.device))),
                label="with potrf",
            ),
        ],
        "qr": [
            GradCase((arr(4, 3),), label="tall"),
            GradCase((arr(3, 3),), label="square"),
            GradCase((arr(3, 5),), label="wide"),
            GradCase((arr(2, 4, 3),), label="batched"),
            GradCase((arr(4, 3),), call=lambda a: ft.qr(a).R, label="R only"),
            GradCase((arr(4, 3),), call=lambda a: ft.qr(a).Q, label="Q only"),
        ],
        "svd": [
            GradCase((arr(4, 3),), label="tall"),
            GradCase((arr(3, 3),), label="square"),
            GradCase((arr(2, 4),), label="wide"),
            GradCase((arr(2, 3, 3),), label="batched"),
            GradCase((arr(4, 3),), call=lambda a: ft.svd(a).S, label="S only"),
            GradCase((arr(4, 3),), call=lambda a: ft.svd(a, False).S, label="some=False S"),
            GradCase((arr(3, 3), False), label="some=False square"),
            GradCase((arr(4, 3),), call=lambda a: (lambda u, s, v: u @ v.t())(*ft.svd(a)), label="U V^T"),
        ],
        "symeig": [
            GradCase((SYM,)),
            GradCase((SYM, True, False), label="lower"),
            GradCase((SYM,), call=lambda a: ft.symeig(a, False)[0], label="values only"),
            GradCase((SYM,), call=lambda a: _eig_inv(ft.symeig(a)), label="gauge invariant"),
        ],
        "eigh": [
            GradCase((SYM,)),
            GradCase((SYM, "U"), label="upper"),
            GradCase((np.stack([SYM, SYM.T]),), label="batched"),
            GradCase((arr(3, 3),), call=lambda a: _eig_inv(ft.eigh(a + a.t())), label="symmetrized"),
        ],
        "inverse": [GradCase((_sq(3),)), GradCase((_sq(3, 2),), label="batched")],
        "det": [GradCase((_sq(3),)), GradCase((arr(2, 3, 3),), label="batched")],
        "slogdet": [GradCase((-_sq(3),)), GradCase((arr(2, 3, 3),), label="batched")],
        "pinverse": [
            GradCase((arr(4, 3),), label="tall"),
            GradCase((arr(3, 4),), label="wide"),
            GradCase((_sq(3),), label="square"),
        ],
    }
)
