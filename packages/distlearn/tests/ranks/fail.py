"""Ranks stepping until one fails: ``fail.py MODE STEP``; MODE is die, hang, shape or dtype.

die: rank 1 exits at step STEP; hang: rank 1 sleeps there; shape/dtype: rank 1 (and 2 for dtype)
has a parameter tree that differs from rank 0's. Every rank prints the error it stops with.
"""

from __future__ import annotations

import os
import sys
import time

import common
import numpy as np

import flambeau.tensor as ft
from flambeau import distlearn

mode, at = common.args()
sgd = distlearn.AllReduceSGD(distlearn.Comm(timeout=2.0, linger=0.5))
r = sgd.comm.rank
grads = common.tensors(common.init())
if mode == "shape" and r == 1:
    grads["W2"] = ft.zeros(5, 6, dtype=ft.float64)
if mode == "dtype" and r in (1, 2):
    grads["b3"] = grads["b3"].float()
start = time.monotonic()
try:
    for step in range(1, 50):
        if step == int(at) and r == 1:
            if mode == "die":
                os._exit(3)
            if mode == "hang":
                time.sleep(600)
        sgd.all_reduce_gradients(grads)
        np.testing.assert_allclose(grads["b1"].numpy(), common.init()["b1"])
except (distlearn.RankLostError, distlearn.TreeMismatchError) as e:
    # one write per line: the ranks share the pipe, and print() writes the newline apart
    sys.stdout.write(
        f"rank {r} stopped after {time.monotonic() - start:.1f} s at step {step}: {type(e).__name__}: {e}\n"
    )
    sys.stdout.flush()
    raise
print(f"rank {r} finished", flush=True)
sys.exit(0)
