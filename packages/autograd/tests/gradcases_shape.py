"""Gradient cases of the view, shape, join and split ops."""

from __future__ import annotations

from gradcase import GradCase, arr

A = arr(3, 4)
C = arr(2, 3, 4)

CASES = {
    "select": [
        GradCase((A, 0, 1)),
        GradCase((C, -1, -2), label="negative dim and index"),
        GradCase((arr(4), 0, 2), label="to 0-d"),
    ],
    "narrow": [GradCase((A, 1, 1, 2)), GradCase((C, -2, -2, 2), label="negative dim and start")],
    "sub_view": [GradCase((C, 0, 1, 1, -1)), GradCase((A, 1, 2), label="one dim")],
    "transpose": [GradCase((C, 0, 2)), GradCase((C, -1, 1), label="negative dim")],
    "t": [GradCase((A,)), GradCase((arr(3),), label="1-d")],
    "permute": [GradCase((C, 2, 0, 1)), GradCase((C, (1, -1, 0)), label="tuple, negative")],
    "unfold": [
        GradCase((arr(7), 0, 3, 2)),
        GradCase((arr(3, 6, 2), 1, 3, 1), label="overlapping, middle dim"),
        GradCase((arr(2, 5), -1, 2, 3), label="gaps, negative dim"),
    ],
    "view": [GradCase((A, 2, 6)), GradCase((A, (-1,)), label="tuple, -1")],
    "view_as": [GradCase((A, arr(6, 2)), wrt=(0,)), GradCase((A, arr(6, 2)), label="other traced")],
    "expand": [GradCase((arr(3, 1), 3, 4)), GradCase((arr(1, 4), 2, -1, 4), label="new leading dim, -1")],
    "expand_as": [GradCase((arr(3, 1), A), wrt=(0,)), GradCase((arr(3, 1), A), label="other traced")],
    "squeeze": [
        GradCase((arr(3, 1, 4, 1),)),
        GradCase((arr(3, 1, 4), 1), label="dim"),
        GradCase((arr(3, 1, 4), -1), label="dim not 1"),
    ],
    "unsqueeze": [GradCase((A, 1)), GradCase((A, -1), label="negative dim")],
    "reshape": [GradCase((A.T, 2, 6), label="from a non-contiguous array"), GradCase((C, 4, -1))],
    "flatten": [GradCase((C,))],
    "cat": [
        GradCase(([arr(2, 3), arr(4, 3)],), wrt=(0,)),
        GradCase(([arr(2, 3), arr(2, 1), arr(2, 2)], -1), wrt=(0,), label="three, negative dim"),
    ],
    "stack": [
        GradCase(([arr(2, 3), arr(2, 3)],), wrt=(0,)),
        GradCase(([arr(2, 3), arr(2, 3), arr(2, 3)], -1), wrt=(0,), label="last"),
    ],
    "split": [
        GradCase((arr(7, 2), 3)),
        GradCase((arr(2, 5), 2, -1), label="negative dim"),
        GradCase((arr(7, 2), 3), call=lambda x, n: x.split(n)[1], label="one piece used"),
    ],
    "chunk": [GradCase((arr(2, 7), 3, 1)), GradCase((arr(5, 2), 2), call=lambda x, n: x.chunk(n)[0] * 2, label="one")],
    "repeat_tensor": [GradCase((A, 2, 3)), GradCase((arr(3), 2, 1, 2), label="new leading dims")],
}
