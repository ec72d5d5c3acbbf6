"""Gradient cases of the reductions, matrix ops and sorting ops (inputs away from ties and kinks)."""

from __future__ import annotations

import math

import numpy as np
from gradcase import GradCase, arr, distinct

import flambeau.tensor as ft

A = arr(3, 4)
A3 = arr(2, 3, 4)
NZ = arr(3, 4, lo=0.5, hi=1.5) * np.where(arr(3, 4) > 0, 1, -1)  # no zeros, mixed signs
D = distinct(3, 5)
D3 = distinct(2, 3, 4)
V = distinct(7)
S = np.array(0.7)  # a 0-d input

CASES = {
    "sum": [
        GradCase((A,)),
        GradCase((A, 1), label="dim"),
        GradCase((A3, -1, True), label="negative dim keepdim"),
        GradCase((A3, (0, 2)), label="dims"),
        GradCase((S,), label="0-d"),
    ],
    "mean": [
        GradCase((A,)),
        GradCase((A, 0), label="dim"),
        GradCase((A3, -2, True), label="negative dim keepdim"),
        GradCase((A3, (0, 1)), label="dims"),
    ],
    "prod": [
        GradCase((NZ,)),
        GradCase((NZ, 1), label="dim"),
        GradCase((NZ, -2), {"keepdim": True}, label="negative dim keepdim"),
        GradCase((np.array([[1.5, 0.0, -0.7], [0.0, 0.0, 1.2], [0.8, -1.1, 0.9]]), 1), label="zeros in rows"),
        GradCase((np.array([0.8, 0.0, -1.3, 1.1]),), label="one zero, whole"),
    ],
    "var": [
        GradCase((A,)),
        GradCase((A, 1), label="dim"),
        GradCase((A3, -1, False, True), label="biased negative dim keepdim"),
        GradCase((A3, (0, 2)), label="dims"),
    ],
    "std": [
        GradCase((A,)),
        GradCase((A, 0), label="dim"),
        GradCase((A3, -2, False, True), label="biased negative dim keepdim"),
    ],
    "max": [
        GradCase((D,)),
        GradCase((D, 1), call=lambda x, d: ft.max(x, d).values, label="dim values"),
        GradCase((D3, -1, True), label="negative dim keepdim, both outputs"),
    ],
    "min": [
        GradCase((D,)),
        GradCase((D, 0), call=lambda x, d: ft.min(x, d).values, label="dim values"),
        GradCase((D3, -2, True), label="negative dim keepdim, both outputs"),
    ],
    "cumsum": [
        GradCase((S,), label="0-d"),
        GradCase((A,)),
        GradCase((A, 1), label="dim 1"),
        GradCase((A3, -1), label="negative dim"),
    ],
    "cumprod": [GradCase((NZ,)), GradCase((NZ, 1), label="dim 1"), GradCase((arr(2, 3, 4, lo=0.5, hi=1.5), -1))],
    "norm": [
        GradCase((NZ,)),
        GradCase((NZ, 2, 1), label="p=2 dim"),
        GradCase((NZ, 1, 0), label="p=1 dim"),
        GradCase((NZ, 3, -1, True), label="p=3 negative dim keepdim"),
        GradCase((NZ, 1.5), label="p=1.5"),
        GradCase((D, math.inf, 1), label="p=inf dim"),
        GradCase((D, math.inf), label="p=inf"),
        GradCase((NZ, 0, 1), label="p=0 (constant)"),
        GradCase((arr(2, 3, 4, lo=0.5, hi=1.5), 2, (0, 2)), label="dims"),
    ],
    "dist": [
        GradCase((A, arr(3, 4))),
        GradCase((A, arr(4)), label="broadcast"),
        GradCase((A, arr(3, 4), 1), label="p=1"),
        GradCase((A, arr(3, 4), 3), label="p=3"),
        GradCase((D, D[::-1].copy() * 0.7), kwargs={"p": math.inf}, label="p=inf"),
    ],
    "logsumexp": [
        GradCase((A,)),
        GradCase((A, 1), label="dim"),
        GradCase((A3, -1, True), label="negative dim keepdim"),
    ],
    "diag": [
        GradCase((arr(4),)),
        GradCase((arr(3), 1), label="vector above"),
        GradCase((arr(3), -2), label="vector below"),
        GradCase((arr(4, 4),), label="matrix"),
        GradCase((arr(3, 5), 1), label="wide matrix above"),
        GradCase((arr(5, 3), -1), label="tall matrix below"),
        GradCase((arr(3, 5), -1), label="wide matrix below"),
    ],
    "trace": [GradCase((arr(4, 4),)), GradCase((arr(3, 5),), label="wide")],
    "tril": [GradCase((A,)), GradCase((A, 1), label="above"), GradCase((A3, -1), label="batched below")],
    "triu": [GradCase((A,)), GradCase((A, -1), label="below"), GradCase((A3, 2), label="batched above")],
    "renorm": [
        GradCase((A, 2, 0, 1.0)),
        GradCase((A3, 1, 1, 2.0), label="p=1 dim 1"),
        GradCase((A, 3, -1, 1.5), label="p=3 negative dim"),
        GradCase((arr(5), 2, 0, 1.0), label="vector"),
        GradCase((arr(3, 4) * 0.1, 2, 0, 5.0), label="all below maxnorm"),
    ],
    "match": [
        GradCase((arr(3, 4), arr(5, 4))),
        GradCase((arr(3, 2, 2), arr(2, 4)), {"gain": 0.5}, label="gain, multi-dim rows"),
    ],
    "sort": [
        GradCase((D,), call=lambda x: ft.sort(x).values),
        GradCase((D, 0, True), call=lambda x, d, desc: ft.sort(x, d, desc).values, label="dim 0 descending"),
        GradCase((D3, -2), label="negative dim, both outputs"),
        GradCase((S,), label="0-d"),
    ],
    "topk": [
        GradCase((D, 2), call=lambda x, k: ft.topk(x, k).values),
        GradCase((D, 2, 0, False), label="smallest dim 0"),
        GradCase((D3, 3, -1, True, False), label="unsorted"),
    ],
    "kthvalue": [
        GradCase((D, 2), call=lambda x, k: ft.kthvalue(x, k).values),
        GradCase((D, 3, 0, True), label="dim 0 keepdim"),
        GradCase((D3, 1, -2), label="negative dim"),
    ],
    "median": [
        GradCase((D,)),
        GradCase((V,), label="odd count"),
        GradCase((S,), label="0-d"),
        GradCase((D, 1), call=lambda x, d: ft.median(x, d).values, label="dim"),
        GradCase((D3, -1, True), label="even count, negative dim keepdim"),
    ],
    "mode": [
        # repeated values are where mode jumps (finite differences break the run): the tie split is
        # checked by value in test_rules_reduce.py; distinct values make mode the smallest one
        GradCase((D,)),
        GradCase((D, 0, True), label="no repeat, dim 0 keepdim"),
    ],
}
