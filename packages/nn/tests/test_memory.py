"""Memory: 1,000 training steps of an nn model leave it flat.

The talk's MLP as flambeau.nn modules (Sequential of Linear 784-50-50-10 with Tanh, LogSoftMax),
ClassNLLCriterion, and Torch's training step: ``zero_grad_parameters``, ``forward``,
``backward``, ``update_parameters``. With ``tracemalloc`` on from before the warm-up, the memory
Python's allocators hold after 1,000 steps (and ``gc.collect()``) is within a small bound of what
they held after the warm-up; the objects the collector tracks do not grow; and the resident set
size (Linux) stays within a bound. Modules keep their ``output`` and ``grad_input`` buffers
between steps by design: those are re-used (or replaced), never accumulated.
"""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.tensor.testing import rss

KIB = 1024
MIB = 1024 * KIB


def _mlp() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(784, 50), nn.Tanh(), nn.Linear(50, 50), nn.Tanh(), nn.Linear(50, 10), nn.LogSoftMax()
    )


def _steps(model: nn.Sequential, crit: nn.ClassNLLCriterion, x: ft.Tensor, y: ft.Tensor, n: int) -> float:
    loss = 0.0
    for _ in range(n):
        model.zero_grad_parameters()
        out = model.forward(x)
        loss = float(crit.forward(out, y))
        model.backward(x, crit.backward(out, y))
        model.update_parameters(0.01)
    return loss


def test_1000_nn_training_steps_leave_memory_flat() -> None:
    rng = np.random.default_rng(0)
    x = ft.from_numpy(rng.standard_normal((8, 784)))
    y = ft.from_numpy(rng.integers(0, 10, 8))
    model, crit = _mlp(), nn.ClassNLLCriterion()
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        first = _steps(model, crit, x, y, 100)
        gc.collect()
        before, objects, rss_before = tracemalloc.get_traced_memory()[0], len(gc.get_objects()), rss()
        last = _steps(model, crit, x, y, 1_000)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
        grown_objects = len(gc.get_objects()) - objects
        rss_after = rss()
    finally:
        if started:
            tracemalloc.stop()
    assert last < first  # it did train
    assert grown < 64 * KIB, f"traced memory grew by {grown / KIB:.1f} KiB over 1,000 nn training steps"
    assert grown_objects < 50, f"{grown_objects} more objects tracked by gc after 1,000 nn training steps"
    if rss_before is not None and rss_after is not None:
        assert rss_after - rss_before < 2 * MIB, (
            f"RSS grew by {(rss_after - rss_before) / MIB:.2f} MiB over 1,000 nn training steps"
        )
