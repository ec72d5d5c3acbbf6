"""Gradient cases of the indexing ops (repeated indices, masks, mixed ``[]`` keys)."""

from __future__ import annotations

import numpy as np
from gradcase import GradCase, arr

A = arr(3, 4)
C = arr(2, 3, 4)
L = np.array  # LongTensor indices: int64 arrays


def _get(t, k):
    return t[k]


MASK = (arr(3, 4) > 0).astype(np.uint8)

CASES = {
    "getitem": [
        GradCase((A, 1), call=_get, label="int"),
        GradCase((A, (1, 2)), call=_get, label="ints to 0-d"),
        GradCase((C, (slice(None), slice(1, 3), -1)), call=_get, label="slices and a negative int"),
        GradCase((C, (None, Ellipsis, 2)), call=_get, label="None and Ellipsis"),
        GradCase((C, (slice(None, None, 2), None, slice(None, None, -1))), call=_get, label="steps, None"),
        GradCase((A, L([0, 2, 0, 0])), call=_get, label="LongTensor with repeats"),
        GradCase((A, (L([0, 0, 2]), slice(1, 3))), call=_get, label="LongTensor and slice"),
        GradCase((C, (slice(None), L([[1, 1], [0, 2]]), L([3, 3]))), call=_get, label="two index arrays"),
        GradCase((C, (L([1, 0]), slice(None), L([0, 0]))), call=_get, label="index arrays split by a slice"),
        GradCase((A, MASK), call=_get, label="ByteTensor mask"),
        GradCase((C, (slice(None), MASK[:, 0])), call=_get, label="1-d mask on a dim"),
        GradCase((C, (1, MASK[:, 1], slice(0, 2))), call=_get, label="int, mask, slice"),
    ],
    "index_put": [
        GradCase((A, (1,), arr(4))),
        GradCase((A, (slice(None), 1), arr(1)), label="broadcast value"),
        GradCase((A, (L([0, 2]),), arr(2, 4)), label="LongTensor"),
        GradCase((A, (L([0, 2, 0]),), arr(3, 4)), kwargs={"accumulate": True}, label="repeats accumulate"),
        GradCase((A, (MASK,), arr(int(MASK.sum()))), label="mask"),
        GradCase((A, (L([1, 0]), slice(1, 3)), 2.5), label="number value"),
        GradCase((A, (L([1, 1]), L([0, 0])), arr(2)), kwargs={"accumulate": True}, label="same element twice"),
    ],
    "index_select": [
        GradCase((A, 0, L([2, 0, 2, 2]))),
        GradCase((C, -1, L([3, 1, 3])), label="repeats, negative dim"),
    ],
    "gather": [
        GradCase((A, 1, L([[0, 0], [3, 1], [2, 2]]))),
        GradCase((A, 0, L([[0, 0, 2, 1], [0, 0, 2, 1]])), label="repeats along dim 0"),
        GradCase((C, -1, L([[[1, 1]], [[0, 3]]])), label="index smaller than input"),
    ],
    "scatter": [
        GradCase((A, 1, L([[0, 2], [1, 3], [3, 0]]), arr(3, 2))),
        GradCase((A, 0, L([[2, 0]]), arr(1, 4)), label="src larger than index"),
        GradCase((A, 1, L([[0], [2], [1]]), 4.0), label="number src"),
    ],
    "index_copy": [
        GradCase((A, 0, L([2, 0]), arr(2, 4))),
        GradCase((C, -1, L([3, 1]), arr(2, 3, 2)), label="negative dim"),
    ],
    "index_add": [
        GradCase((A, 0, L([2, 0, 2]), arr(3, 4)), label="repeats"),
        GradCase((C, 2, L([1, 1]), arr(2, 3, 2))),
    ],
    "index_fill": [GradCase((A, 1, L([0, 3]), 2.5)), GradCase((C, -3, L([1]), -1.0), label="negative dim")],
    "masked_select": [
        GradCase((A, MASK)),
        GradCase((C, MASK[:, :1].copy()), label="broadcast mask"),
    ],
    "masked_fill": [
        GradCase((A, MASK, 2.0)),
        GradCase((A, MASK, np.array(1.5)), wrt=(0, 2), label="0-d tensor value"),
    ],
    "masked_copy": [
        GradCase((A, MASK, arr(int(MASK.sum())))),
        GradCase((A, MASK, arr(4, 3)), label="larger source"),
    ],
}
