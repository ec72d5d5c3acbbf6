"""Memory: long runs of ``grad`` leave it flat, and nothing outlives a call.

The talk's MLP (784-50-50-10, tanh, log-softmax + NLL: ``benchmarks/run.py``'s ``mlp_loss``) on a
batch of one, trained by plain SGD for 10,000 steps:

* with ``tracemalloc`` on from before the warm-up, the memory Python's allocators hold at the end
  (after ``gc.collect()``) is within a small bound of what it held after the warm-up: a leak of
  more than a few bytes per step fails (10,000 steps make 100 B a step 1 MB);
* the count of objects the garbage collector tracks, and of autograd's ``Trace`` and ``Node``
  objects, does not grow (none are left at all between calls);
* the resident set size (Linux) stays within a bound too, for memory outside Python's allocators.

And each call frees its recording: weak references to every traced value and every value a
recorded op saved are dead once ``grad`` returns, by reference counting alone (no cycles left for
the collector); an optimized gradient keeps no reference to the arguments of its calls.

tracemalloc slows every allocation several times over: the direct mode's 10,000 steps run with
the object counts and RSS, and 1,000 of them under tracemalloc; the optimized mode (few
allocations a step) runs its 10,000 under tracemalloc.
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.autograd import grad
from flambeau.autograd.tracer import Box, Node, Trace
from flambeau.tensor.testing import rss

KIB = 1024
MIB = 1024 * KIB
WARMUP = 300
LR = 1e-3


def mlp_loss(p: dict[str, Any], x: Any, y: Any) -> Any:
    """benchmarks/run.py's mlp_loss: the talk's tanh MLP, log-softmax + NLL summed over the batch."""
    h1 = ft.tanh(x @ p["W1"] + p["b1"])
    h2 = ft.tanh(h1 @ p["W2"] + p["b2"])
    z = h2 @ p["W3"] + p["b3"]
    logp = z - ft.logsumexp(z, 1, keepdim=True)
    return -ft.sum(logp * y)


def mlp_problem(batch: int = 1) -> tuple[dict[str, Any], Any, Any]:
    rng = np.random.default_rng(0)
    p = {}
    for i, (n_in, n_out) in enumerate([(784, 50), (50, 50), (50, 10)], 1):
        p[f"W{i}"] = ft.from_numpy(rng.standard_normal((n_in, n_out)) / np.sqrt(n_in))
        p[f"b{i}"] = ft.from_numpy(rng.standard_normal(n_out) * 0.1)
    x = ft.from_numpy(rng.standard_normal((batch, 784)))
    y = ft.from_numpy(np.eye(10)[rng.integers(0, 10, batch)])
    return p, x, y


def sgd_steps(df: Callable[..., Any], p: dict[str, Any], x: Any, y: Any, n: int) -> float:
    loss = 0.0
    for _ in range(n):
        g, value = df(p, x, y)
        for k, v in p.items():
            v.add_(g[k], alpha=-LR)
        loss = float(value)
    return loss


def autograd_objects() -> int:
    return sum(1 for o in gc.get_objects() if type(o) in (Trace, Node))


@contextmanager
def traced() -> Iterator[Callable[[], int]]:
    """tracemalloc on (unless it already is); yields a function giving the traced bytes now, after a collection."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()

    def now() -> int:
        gc.collect()
        return tracemalloc.get_traced_memory()[0]

    try:
        yield now
    finally:
        if started:
            tracemalloc.stop()


def test_10000_direct_grad_steps_leave_objects_and_rss_flat() -> None:
    p, x, y = mlp_problem()
    df = grad(mlp_loss)
    first = sgd_steps(df, p, x, y, WARMUP)
    gc.collect()
    objects, before = len(gc.get_objects()), rss()
    assert autograd_objects() == 0
    last = sgd_steps(df, p, x, y, 10_000)
    gc.collect()
    assert last < first  # it did train
    assert autograd_objects() == 0, "a Trace or Node outlived its grad call"
    grown = len(gc.get_objects()) - objects
    assert grown < 50, f"{grown} more objects tracked by gc after 10,000 grad steps"
    after = rss()
    if before is not None and after is not None:
        assert after - before < 2 * MIB, f"RSS grew by {(after - before) / MIB:.2f} MiB over 10,000 grad steps"


def test_direct_grad_steps_leave_traced_memory_flat() -> None:
    p, x, y = mlp_problem()
    df = grad(mlp_loss)
    with traced() as now:
        sgd_steps(df, p, x, y, WARMUP)
        before = now()
        sgd_steps(df, p, x, y, 1_000)
        grown = now() - before
    assert grown < 64 * KIB, f"traced memory grew by {grown / KIB:.1f} KiB over 1,000 grad steps"


def test_10000_optimized_grad_steps_leave_traced_memory_flat() -> None:
    p, x, y = mlp_problem()
    df = grad(mlp_loss, optimize=True)
    with traced() as now:
        sgd_steps(df, p, x, y, WARMUP)
        before, objects = now(), len(gc.get_objects())
        sgd_steps(df, p, x, y, 10_000)
        grown = now() - before
        grown_objects = len(gc.get_objects()) - objects
    assert grown < 256 * KIB, f"traced memory grew by {grown / KIB:.1f} KiB over 10,000 optimized grad steps"
    assert grown_objects < 50, f"{grown_objects} more objects tracked by gc after 10,000 optimized grad steps"


@pytest.mark.parametrize("batch", [1, 16])
def test_a_grad_call_keeps_no_traced_or_saved_value(batch: int) -> None:
    """Weak references to every box made while tracing, and every value recorded ops saved, die with the call."""
    p, x, y = mlp_problem(batch)
    boxes: list[weakref.ref[Any]] = []
    saved: list[weakref.ref[Any]] = []
    inputs = [x, y, *p.values()]  # the caller's: they stay alive, of course

    def watched(p: dict[str, Any], x: Any, y: Any) -> Any:
        def note(t: Any) -> Any:
            if t.__class__ is Box:
                boxes.append(weakref.ref(t))
                node = t._g
                saved.append(weakref.ref(node.value))
                for a in node.args or ():
                    if isinstance(a, ft.Tensor) and not any(a is v for v in inputs):
                        saved.append(weakref.ref(a))
            return t

        h1 = note(ft.tanh(note(note(x @ p["W1"]) + p["b1"])))
        h2 = note(ft.tanh(note(note(h1 @ p["W2"]) + p["b2"])))
        z = note(note(h2 @ p["W3"]) + p["b3"])
        logp = note(z - note(ft.logsumexp(z, 1, keepdim=True)))
        return note(-note(ft.sum(note(logp * y))))

    g, loss = grad(watched)(p, x, y)
    assert len(boxes) == 13 and len(saved) > len(boxes)
    # Reference counting alone frees them: no cycle is left for the collector.
    alive = [t for t in (r() for r in boxes + saved) if t is not None and t is not loss]
    assert not alive, f"{len(alive)} traced or saved values outlived the grad call: {[tuple(a.size()) for a in alive]}"
    assert autograd_objects() == 0
    # The same values as the plain function.
    expected = grad(mlp_loss)(p, x, y)
    assert float(loss) == float(expected[1])
    for k in p:
        assert g[k].equal(expected[0][k])


def test_a_failing_grad_call_keeps_no_trace() -> None:
    p, x, y = mlp_problem()

    def broken(p: dict[str, Any], x: Any, y: Any) -> Any:
        mlp_loss(p, x, y)
        raise RuntimeError("in the middle of the forward pass")

    for _ in range(3):
        with pytest.raises(RuntimeError, match="in the middle"):
            grad(broken)(p, x, y)
    gc.collect()
    assert autograd_objects() == 0
    from flambeau.autograd import tracer
    from flambeau.tensor import optable

    assert tracer.active_traces == [] and tracer._check_write not in optable.write_watchers


def test_an_optimized_grad_keeps_no_reference_to_its_arguments() -> None:
    df = grad(mlp_loss, optimize=True)
    refs = []
    for _ in range(3):  # the recording, then replays
        p, x, y = mlp_problem()
        g, loss = df(p, x, y)
        refs += [weakref.ref(t) for t in (x, y, *p.values())]
        del p, x, y, g, loss
    gc.collect()
    assert not [r for r in refs if r() is not None], "an optimized program holds on to a call's arguments"
