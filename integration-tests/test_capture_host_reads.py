"""The programs the GPU benchmark captures read nothing back to the host, checked on the CPU.

A CUDA graph holds device work only: a program that reads a device value into Python while it
is captured (an index range check, a ``float()`` of a loss, a Python branch on a tensor) breaks
the capture and runs without a graph. The ``boxed`` test backend counts every such read
(``boxed_backend.HOST_READS``), so the programs of ``benchmarks/gpu.py``'s workloads (the MLP's
loss and gradients, the convnet's ``train_step`` under ``trusted_values()``, with every optimizer
``train_step`` offers) are recorded on boxed tensors and run again here, and must make none.
Recorded outside ``trusted_values()``, the targets' range check is a guard at the program's start:
one read, before all the device work.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.autograd import grad, train_step
from flambeau.autograd.graphs import refusal
from flambeau.autograd.model import _conv2d, _max_pool2d
from flambeau.autograd.train import OPTIMIZERS
from flambeau.tensor.optable import trusted_values

boxed_backend = pytest.importorskip("boxed_backend", reason="install ./integration-tests/plugins/boxed-backend")
HOST_READS = boxed_backend.HOST_READS


def _boxed(a: np.ndarray) -> Any:
    return ft.from_numpy(a).to("boxed")


def _mlp_loss(p: dict[str, Any], x: Any, y: Any) -> Any:  # benchmarks/run.py's mlp_loss, as flambeau ops
    h = ft.tanh(x @ p["W1"] + p["b1"])
    h = ft.tanh(h @ p["W2"] + p["b2"])
    z = h @ p["W3"] + p["b3"]
    return -ft.sum((z - ft.logsumexp(z, 1, keepdim=True)) * y)


def _convnet_loss(q: dict[str, Any], x: Any, y: Any) -> Any:  # benchmarks/gpu.py's _train_step_convnet
    h = _max_pool2d(ft.tanh(_conv2d(x, q["W1"], q["b1"], 1, 0)), 2)
    h = _max_pool2d(ft.tanh(_conv2d(h, q["W2"], q["b2"], 1, 0)), 2)
    h = _conv2d(h, q["W3"], q["b3"], 1, 0).reshape(x.size(0), -1)
    z = h @ q["W4"].t() + q["b4"]
    logp = z - ft.logsumexp(z, 1, keepdim=True)
    return -logp.gather(1, y.view(-1, 1)).mean()


def _convnet_params(rng: np.random.Generator) -> dict[str, Any]:
    shapes = {"W1": (4, 3, 5, 5), "b1": (4,), "W2": (6, 4, 3, 3), "b2": (6,), "W3": (8, 6, 2, 2), "b3": (8,)}
    p = {k: rng.uniform(-0.3, 0.3, s).astype(np.float32) for k, s in shapes.items()}
    p |= {"W4": rng.uniform(-0.3, 0.3, (5, 8)).astype(np.float32), "b4": np.zeros(5, np.float32)}
    return {k: _boxed(v) for k, v in p.items()}


def _replayed_without_reads(optimized: Any, call: Any) -> None:
    """Record ``call`` and replay it; the replay's program must read nothing and be capturable."""
    call()  # recorded
    HOST_READS.clear()
    call()  # the program: what a capture would hold
    assert not HOST_READS, f"the program read device values on the host: {dict(HOST_READS)}"
    programs = [prog for progs in optimized.programs.values() for prog in progs]
    assert len(programs) == 1 and refusal(programs[0]) is None
    assert not getattr(optimized, "fallbacks", None)


def test_the_mlp_benchmarks_program_reads_nothing_on_the_host() -> None:
    rng = np.random.default_rng(0)
    sizes = [(30, 16), (16, 16), (16, 10)]
    p = {f"W{i}": _boxed(rng.standard_normal(s).astype(np.float32) / 5) for i, s in enumerate(sizes, 1)}
    p |= {f"b{i}": _boxed(np.zeros(s[1], np.float32)) for i, s in enumerate(sizes, 1)}
    x = _boxed(rng.standard_normal((8, 30)).astype(np.float32))
    y = _boxed(np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)])
    df = grad(_mlp_loss, optimize=True)
    _replayed_without_reads(df, lambda: df(p, x, y))


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_the_convnet_train_step_reads_nothing_on_the_host_under_trusted_values(optimizer: str) -> None:
    rng = np.random.default_rng(1)
    p = _convnet_params(rng)
    x = _boxed(rng.standard_normal((4, 3, 16, 16)).astype(np.float32))
    y = _boxed(rng.integers(0, 5, 4))
    config = {"learning_rate": 0.01, "learning_rate_decay": 1e-3, "weight_decay": 1e-4, "t0": 1.0}
    if optimizer == "sgd":
        config |= {"momentum": 0.9, "nesterov": True, "dampening": 0.0}
    config = {k: v for k, v in config.items() if k in OPTIMIZERS[optimizer]}  # the keys it has
    step = train_step(_convnet_loss, p, optimizer, config)
    with trusted_values():
        _replayed_without_reads(step.fn, lambda: step(x, y))
    HOST_READS.clear()
    step(x, y)  # outside trusted_values() the targets' gather checks its indices' range: one read
    assert sum(HOST_READS.values()) >= 1, "the counter sees the read a capture could not hold"


def test_outside_trusted_values_the_targets_range_check_is_a_guard_before_all_device_work() -> None:
    # Recorded outside trusted_values(), gather's check of the targets becomes a guard, moved to the
    # program's start (the targets are an argument): the replay reads them once, there, and all the
    # step's device work is one segment after it, one CUDA graph.
    from flambeau.autograd.graphs import segments

    rng = np.random.default_rng(2)
    p = _convnet_params(rng)
    x = _boxed(rng.standard_normal((4, 3, 16, 16)).astype(np.float32))
    y = _boxed(rng.integers(0, 5, 4))
    step = train_step(_convnet_loss, p, "adam", {"learning_rate": 0.01})
    step(x, y)
    HOST_READS.clear()
    step(x, y)
    (prog,) = [prog for progs in step.fn.programs.values() for prog in progs]
    assert prog.guarded_ranges and refusal(prog) is None
    assert sum(HOST_READS.values()) == 1, dict(HOST_READS)
    parts = segments(prog, None)
    assert len(parts) == 2 and parts[0][0].idle and parts[0][1] is not None and parts[1][1] is None
    before = {k: v.clone() for k, v in p.items()}
    with pytest.raises(ft.IndexError, match="gather: index out of range for a dimension of size 5"):
        step(x, _boxed(np.array([0, 1, 5, 2])))
    assert all(p[k].equal(v) for k, v in before.items())  # the update after the guard was not made
