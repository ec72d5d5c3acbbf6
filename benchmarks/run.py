"""Side-by-side benchmarks: flambeau against numpy by hand (the floor), HIPS autograd and PyTorch.

    python benchmarks/run.py [--quick] [--only NAME[,NAME...]] [--json PATH] [--chart PATH]

Every workload runs in this one process. A workload is a small function, registered with
``@workload``, that returns its *variants*: one statement per peer (``ft.add(a, b)``,
``np.add(a, b)``, ...) with the names it needs. Each variant is timed with :mod:`timeit`
(``time.perf_counter_ns``, the garbage collector left on) after a warm-up: one *sample* runs
the statement ``number`` times back to back (``number`` is calibrated so that a sample lasts
about ``--sample-ms``), and ``repeat`` samples are taken, round-robin over the variants so
that machine noise falls on all of them alike. The table reports the **median of the samples**
(per call), their minimum, their spread, the ratio to the workload's numpy baseline and, for
overhead workloads, the extra microseconds per op over numpy.

Gradient workloads (``chain200_grad``, ``mlp_b1``, ``mlp_b128``, ``mlp_big``; ``grad=True``)
time value + gradient of a scalar loss: numpy runs the forward pass and a hand-written backward
pass (the floor), flambeau ``flambeau.autograd.grad(f)``, autograd ``autograd.value_and_grad(f)``
and torch ``loss.backward()`` on ``requires_grad`` leaves. Their build checks every peer's loss
and gradients against numpy's (``np.allclose``) and raises before timing a wrong one.
``convnet_b32`` times one SGD training step (forward, backward, update) of the talk's convnet
with flambeau.nn, numpy by hand, HIPS autograd (numpy's forward, ``value_and_grad``) and torch.nn,
in float32, after checking losses and gradients agree. This is a measurement, not a test: nothing
here asserts a time.

``--json PATH`` writes every row and the machine description; ``--chart PATH`` draws the table as
a PNG (matplotlib, no display needed): per workload, each peer's median time relative to numpy's.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
import timeit
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter_ns
from types import ModuleType
from typing import Any

import numpy as np

# --------------------------------------------------------------------------------------------
# Peers: each imported once; a missing one is skipped with its reason.

PEER_MODULES = {
    "flambeau": "flambeau.tensor",
    "flambeau.autograd": "flambeau.autograd",  # gradient workloads only: without it, no flambeau there
    "flambeau.nn": "flambeau.nn",  # the MLP workloads' nn variant and convnet_b32
    "autograd": "autograd.numpy",
    "torch": "torch",
}


def load_peers() -> tuple[dict[str, ModuleType], dict[str, str]]:
    """Import every peer; return (name -> module, name -> why it is skipped)."""
    found: dict[str, ModuleType] = {"numpy": np}
    skipped: dict[str, str] = {}
    for name, module in PEER_MODULES.items():
        try:
            found[name] = importlib.import_module(module)
        except Exception as e:  # any import failure: skip the peer
            skipped[name] = f"cannot import {module}: {type(e).__name__}: {e}"
    if "torch" in found:
        found["torch"].set_num_threads(blas_threads())
    return found, skipped


def blas_threads() -> int:
    """The thread count numpy's BLAS uses (its environment variables, else the usable cores)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# --------------------------------------------------------------------------------------------
# Workloads.


@dataclass
class Variant:
    """One peer's version of a workload: a statement timed in namespace ``ns``."""

    peer: str  # numpy | flambeau | flambeau-opt (grad(..., optimize=True)) | autograd | torch
    stmt: str
    ns: dict[str, Any]
    baseline: bool = False  # the numpy variant ratios and overheads are taken against
    held: Callable[[], int] | None = None  # bytes kept between calls (an optimized program's buffers)


@dataclass
class Workload:
    name: str
    what: str
    build: Callable[[dict[str, ModuleType]], list[Variant]]
    ops_per_call: int = 0  # > 0: an overhead workload; report extra µs per op over numpy
    heavy: bool = False  # one call is long: fewer repeats, no calibration loop, samples paused
    pause: bool = False  # multi-threaded BLAS calls: samples HEAVY_PAUSE_S apart (heavy implies it)
    grad: bool = False  # loss + all parameter gradients, checked against numpy's before timing


WORKLOADS: dict[str, Workload] = {}

# Named by DESIGN section 9; each becomes a @workload once its flambeau packages exist.
PLANNED: dict[str, str] = {}


def workload(
    name: str,
    what: str,
    *,
    ops_per_call: int = 0,
    heavy: bool = False,
    pause: bool = False,
    grad: bool = False,
) -> Callable[[Callable[[dict[str, ModuleType]], list[Variant]]], Any]:
    def register(build: Callable[[dict[str, ModuleType]], list[Variant]]) -> Any:
        WORKLOADS[name] = Workload(name, what, build, ops_per_call, heavy, pause or heavy, grad)
        return build

    return register


def _data(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def _elementwise(peers: dict[str, ModuleType], np_stmt: str, ft_stmt: str, ag_stmt: str, th_stmt: str) -> list[Variant]:
    """Variants of an op on two 10-element float64 vectors ``a`` and ``b``."""
    a, b = _data(10), _data(10, seed=1)
    vs = [Variant("numpy", np_stmt, {"np": np, "a": a, "b": b}, baseline=True)]
    if "flambeau" in peers:
        ft = peers["flambeau"]
        ns = {"ft": ft, "a": ft.from_numpy(a.copy()), "b": ft.from_numpy(b.copy())}
        vs.append(Variant("flambeau", ft_stmt, ns))
    if "autograd" in peers:
        vs.append(Variant("autograd", ag_stmt, {"anp": peers["autograd"], "a": a, "b": b}))
    if "torch" in peers:
        torch = peers["torch"]
        ns = {"torch": torch, "a": torch.from_numpy(a.copy()), "b": torch.from_numpy(b.copy())}
        vs.append(Variant("torch", th_stmt, ns))
    return vs


@workload("add10", "add two 10-element float64 vectors (function form)", ops_per_call=1)
def add10(peers: dict[str, ModuleType]) -> list[Variant]:
    return _elementwise(peers, "np.add(a, b)", "ft.add(a, b)", "anp.add(a, b)", "torch.add(a, b)")


@workload("tanh10", "tanh of a 10-element float64 vector (function form)", ops_per_call=1)
def tanh10(peers: dict[str, ModuleType]) -> list[Variant]:
    return _elementwise(peers, "np.tanh(a)", "ft.tanh(a)", "anp.tanh(a)", "torch.tanh(a)")


@workload("mul_scalar10", "a * 1.01 on 10 float64 elements (the operator)", ops_per_call=1)
def mul_scalar10(peers: dict[str, ModuleType]) -> list[Variant]:
    return _elementwise(peers, "a * 1.01", "a * 1.01", "anp.multiply(a, 1.01)", "a * 1.01")


def chain(m: Any, x: Any) -> Any:
    """DESIGN section 9's chain: 50 x tanh(sin(x)*1.01 + x), 200 ops, through module ``m``."""
    for _ in range(50):
        x = m.tanh(m.sin(x) * 1.01 + x)
    return x


@workload("chain200", "50 x tanh(sin(x)*1.01 + x) on 10 float64, forward", ops_per_call=200)
def chain200(peers: dict[str, ModuleType]) -> list[Variant]:
    x = _data(10)
    wrap = {
        "numpy": lambda a: a,
        "flambeau": lambda a: peers["flambeau"].from_numpy(a),
        "autograd": lambda a: a,  # forward only: anp on plain arrays (no tracing yet)
        "torch": lambda a: peers["torch"].from_numpy(a),
    }
    return [
        Variant(p, "chain(m, x)", {"chain": chain, "m": peers[p], "x": wrap[p](x.copy())}, baseline=p == "numpy")
        for p in wrap
        if p in peers
    ]


@workload("mm1000", "1000x1000 float64 matrix product", heavy=True)
def mm1000(peers: dict[str, ModuleType]) -> list[Variant]:
    a, b = _data(1000, 1000), _data(1000, 1000, seed=1)
    ns = {"np": np, "a": a, "b": b, "c": np.empty((1000, 1000))}
    vs = [
        Variant("numpy", "np.matmul(a, b)", ns, baseline=True),
        Variant("numpy", "np.dot(a, b)", ns),
        Variant("numpy", "np.matmul(a, b, out=c)", ns),
        Variant("numpy", "a @ b", ns),
    ]
    if "flambeau" in peers:
        ft = peers["flambeau"]
        ns = {"ft": ft, "a": ft.from_numpy(a), "b": ft.from_numpy(b), "c": ft.from_numpy(ns["c"])}
        vs += [Variant("flambeau", s, ns) for s in ("ft.mm(a, b)", "ft.mm(a, b, out=c)", "a @ b")]
    if "autograd" in peers:
        vs.append(Variant("autograd", "anp.matmul(a, b)", {"anp": peers["autograd"], "a": a, "b": b}))
    if "torch" in peers:
        th = peers["torch"]
        ns = {"torch": th, "a": th.from_numpy(a), "b": th.from_numpy(b), "c": th.empty(1000, 1000, dtype=th.float64)}
        vs += [Variant("torch", s, ns) for s in ("torch.mm(a, b)", "torch.mm(a, b, out=c)")]
    return vs


# --------------------------------------------------------------------------------------------
# Gradient workloads: value + gradient of a scalar loss. Each peer's variant is a ``step``
# function returning ``(loss, gradient)``; the build calls every step once and checks its loss
# and gradient against the numpy baseline's hand-written backward pass before anything is timed.


def _to_numpy(x: Any) -> Any:
    """A peer's loss or gradient (a tensor, a dict of them, a number) as numpy arrays."""
    if isinstance(x, dict):
        return {k: _to_numpy(v) for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(_to_numpy(v) for v in x)
    if hasattr(x, "detach"):  # torch
        x = x.detach()
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=np.float64)


def _check_grads(workload: str, peer: str, got: tuple[Any, Any], want: tuple[Any, Any]) -> None:
    """Raise if ``peer``'s (loss, gradient) differs from the baseline's: a wrong variant is not timed."""
    (loss, g), (want_loss, want_g) = _to_numpy(got), want
    if not np.allclose(loss, want_loss):
        raise AssertionError(f"{workload}: {peer}'s loss {float(loss)!r} != numpy's {float(want_loss)!r}")
    gs, wants = (g, want_g) if isinstance(want_g, dict) else ({"x": g}, {"x": want_g})
    if set(gs) != set(wants):
        raise AssertionError(f"{workload}: {peer}'s gradient has keys {sorted(gs)}, numpy's {sorted(wants)}")
    for k, w in wants.items():
        if np.shape(gs[k]) != w.shape:
            raise AssertionError(f"{workload}: {peer}'s gradient {k} has shape {np.shape(gs[k])}, numpy's {w.shape}")
        if not np.allclose(gs[k], w):
            err = np.max(np.abs(gs[k] - w))
            raise AssertionError(f"{workload}: {peer}'s gradient {k} differs from numpy's (max abs error {err:.3g})")


def _grad_variants(
    name: str, peers: dict[str, ModuleType], steps: dict[str, Callable[..., tuple[Any, Any]]], args: dict[str, tuple]
) -> list[Variant]:
    """One ``step(*args)`` variant per peer, each checked against the numpy baseline first."""
    want = _to_numpy(steps["numpy"](*args["numpy"]))
    vs = []
    for peer, step in steps.items():
        if peer != "numpy":
            _check_grads(name, peer, step(*args[peer]), want)
        names = ("x",) if len(args[peer]) == 1 else ("p", "x", "y")
        ns = {"step": step, **dict(zip(names, args[peer], strict=True))}
        vs.append(Variant(peer, f"step({', '.join(names)})", ns, baseline=peer == "numpy"))
        if peer == "flambeau-opt":
            vs[-1].held = _held_of(step)
    return vs


def _held_of(step: Callable[..., Any]) -> Callable[[], int] | None:
    """The ``buffer_bytes`` of the optimized function a step lambda calls (through its closure)."""
    for cell in getattr(step, "__closure__", None) or ():
        if hasattr(cell.cell_contents, "buffer_bytes"):
            fn = cell.cell_contents
            return lambda: int(fn.buffer_bytes)
    return None


def _np_chain_grad(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sum(chain(x)) and its gradient by hand: keep each step's input and output, then go back."""
    xs = [x]
    for _ in range(50):
        x = np.tanh(np.sin(x) * 1.01 + x)
        xs.append(x)
    g = np.ones_like(x)
    for i in range(50, 0, -1):  # d tanh(u) = 1 - tanh(u)^2; du/dx = 1.01 cos(x) + 1
        y, x = xs[i], xs[i - 1]
        g = g * (1.0 - y * y) * (np.cos(x) * 1.01 + 1.0)
    return xs[-1].sum(), g


@workload(
    "chain200_grad", "sum(chain200(x)) and its gradient, 10 float64 (µs per forward op)", ops_per_call=200, grad=True
)
def chain200_grad(peers: dict[str, ModuleType]) -> list[Variant]:
    x = _data(10)
    steps: dict[str, Callable[..., tuple[Any, Any]]] = {"numpy": _np_chain_grad}
    args: dict[str, tuple] = {"numpy": (x,)}
    if "flambeau" in peers and "flambeau.autograd" in peers:
        ft = peers["flambeau"]
        df = peers["flambeau.autograd"].grad(lambda x: ft.sum(chain(ft, x)))
        steps["flambeau"] = lambda x: df(x)[::-1]
        args["flambeau"] = (ft.from_numpy(x.copy()),)
        dfo = peers["flambeau.autograd"].grad(lambda x: ft.sum(chain(ft, x)), optimize=True)
        steps["flambeau-opt"] = lambda x: dfo(x)[::-1]
        args["flambeau-opt"] = (ft.from_numpy(x.copy()),)
    if "autograd" in peers:
        anp = peers["autograd"]
        steps["autograd"] = importlib.import_module("autograd").value_and_grad(lambda x: anp.sum(chain(anp, x)))
        args["autograd"] = (x.copy(),)
    if "torch" in peers:
        torch = peers["torch"]

        def torch_step(x: Any) -> tuple[Any, Any]:
            x.grad = None
            loss = chain(torch, x).sum()
            loss.backward()
            return loss, x.grad

        steps["torch"] = torch_step
        args["torch"] = (torch.from_numpy(x.copy()).requires_grad_(),)
    return _grad_variants("chain200_grad", peers, steps, args)


def mlp_loss(m: Any, lse: Callable[[Any], Any], p: dict[str, Any], x: Any, y: Any) -> Any:
    """The talk's tanh MLP, log-softmax + NLL summed over the batch (``y``: one-hot float targets).

    ``m`` is the peer's module (ft, anp, torch) and ``lse(z)`` its logsumexp over dim 1, kept.
    """
    h1 = m.tanh(x @ p["W1"] + p["b1"])
    h2 = m.tanh(h1 @ p["W2"] + p["b2"])
    z = h2 @ p["W3"] + p["b3"]
    logp = z - lse(z)
    return -m.sum(logp * y)


def np_mlp_grad(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[Any, dict[str, np.ndarray]]:
    """``mlp_loss`` and its gradient by hand in numpy: the forward keeps h1, h2 and the softmax."""
    h1 = np.tanh(x @ p["W1"] + p["b1"])
    h2 = np.tanh(h1 @ p["W2"] + p["b2"])
    z = h2 @ p["W3"] + p["b3"]
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = -((z - np.log(s)) * y).sum()
    dz = e / s - y  # d/dz of -sum(logsoftmax(z) * y) when each row of y sums to 1 (one-hot)
    da2 = (dz @ p["W3"].T) * (1.0 - h2 * h2)
    da1 = (da2 @ p["W2"].T) * (1.0 - h1 * h1)
    g = {"W1": x.T @ da1, "b1": da1.sum(0), "W2": h1.T @ da2, "b2": da2.sum(0), "W3": h2.T @ dz, "b3": dz.sum(0)}
    return loss, g


def _autograd_logsumexp() -> Callable[[Any], Any]:
    """logsumexp over dim 1, kept, as one HIPS autograd primitive (as ft.logsumexp and torch's are).

    The same definition as ``autograd.scipy.special.logsumexp`` (forward on plain arrays, vjp
    ``g * exp(z - ans)``), written here because that module needs scipy, which ``nox -s bench``
    does not install.
    """
    extend = importlib.import_module("autograd.extend")

    @extend.primitive
    def logsumexp(z: np.ndarray) -> np.ndarray:
        m = z.max(axis=1, keepdims=True)
        return m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))

    extend.defvjp(logsumexp, lambda ans, z: lambda g: g * np.exp(z - ans))
    return logsumexp


def _nn_mlp_step(
    peers: dict[str, ModuleType], p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray
) -> tuple[Callable[..., tuple[Any, Any]], tuple[Any, ...]]:
    """The same MLP as flambeau.nn modules: zero the gradients, forward, ClassNLL, backward.

    nn's Linear keeps W as out x in (Torch's layout): the step hands back transposed views, so the
    gradients compare with numpy's. The loss is summed (size_average off), as numpy's is.
    """
    ft, nn = peers["flambeau"], peers["flambeau.nn"]
    layers = [nn.Linear(784, p["W1"].shape[1]), nn.Linear(p["W2"].shape[0], p["W2"].shape[1])]
    layers.append(nn.Linear(p["W3"].shape[0], 10))
    for i, lin in enumerate(layers, 1):
        lin.weight.copy_(ft.from_numpy(np.ascontiguousarray(p[f"W{i}"].T)))
        lin.bias.copy_(ft.from_numpy(p[f"b{i}"]))
    model = nn.Sequential(layers[0], nn.Tanh(), layers[1], nn.Tanh(), layers[2], nn.LogSoftMax())
    layers[0].grad_input = None  # Torch's idiom: no gradient for the data (numpy's and torch's steps skip it too)
    crit = nn.ClassNLLCriterion(size_average=False)

    def step(p: Any, x: Any, y: Any) -> tuple[Any, Any]:
        model.zero_grad_parameters()
        out = model.forward(x)
        loss = crit.forward(out, y)
        model.backward(x, crit.backward(out, y))
        grads = {}
        for i, lin in enumerate(layers, 1):
            grads[f"W{i}"], grads[f"b{i}"] = lin.grad_weight.t(), lin.grad_bias
        return loss, grads

    return step, (None, ft.from_numpy(x.copy()), ft.from_numpy(y.argmax(1)))


def _mlp(name: str, peers: dict[str, ModuleType], batch: int, hidden: int) -> list[Variant]:
    """Variants of loss + all 6 parameter gradients of a 784-hidden-hidden-10 MLP on ``batch`` inputs."""
    rng = np.random.default_rng(0)
    sizes = [(784, hidden), (hidden, hidden), (hidden, 10)]
    p: dict[str, np.ndarray] = {}
    for i, (n_in, n_out) in enumerate(sizes, 1):
        p[f"W{i}"] = rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)
        p[f"b{i}"] = rng.standard_normal(n_out) * 0.1
    x = rng.standard_normal((batch, 784))
    y = np.eye(10)[rng.integers(0, 10, batch)]

    steps: dict[str, Callable[..., tuple[Any, Any]]] = {"numpy": np_mlp_grad}
    args: dict[str, tuple] = {"numpy": (p, x, y)}
    if "flambeau" in peers and "flambeau.autograd" in peers:
        ft = peers["flambeau"]
        df = peers["flambeau.autograd"].grad(
            lambda p, x, y: mlp_loss(ft, lambda z: ft.logsumexp(z, 1, keepdim=True), p, x, y)
        )
        steps["flambeau"] = lambda p, x, y: df(p, x, y)[::-1]
        args["flambeau"] = tuple(
            {k: ft.from_numpy(v.copy()) for k, v in a.items()} if isinstance(a, dict) else ft.from_numpy(a.copy())
            for a in (p, x, y)
        )
        dfo = peers["flambeau.autograd"].grad(
            lambda p, x, y: mlp_loss(ft, lambda z: ft.logsumexp(z, 1, keepdim=True), p, x, y), optimize=True
        )
        steps["flambeau-opt"] = lambda p, x, y: dfo(p, x, y)[::-1]
        args["flambeau-opt"] = args["flambeau"]
    if "flambeau" in peers and "flambeau.nn" in peers:
        steps["flambeau-nn"], args["flambeau-nn"] = _nn_mlp_step(peers, p, x, y)
    if "autograd" in peers:
        anp = peers["autograd"]
        lse = _autograd_logsumexp()
        steps["autograd"] = importlib.import_module("autograd").value_and_grad(
            lambda p, x, y: mlp_loss(anp, lse, p, x, y)
        )
        args["autograd"] = ({k: v.copy() for k, v in p.items()}, x.copy(), y.copy())
    if "torch" in peers:
        torch = peers["torch"]

        def torch_step(p: dict[str, Any], x: Any, y: Any) -> tuple[Any, Any]:
            for v in p.values():
                v.grad = None
            loss = mlp_loss(torch, lambda z: torch.logsumexp(z, 1, keepdim=True), p, x, y)
            loss.backward()
            return loss, {k: v.grad for k, v in p.items()}

        steps["torch"] = torch_step
        tp = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in p.items()}
        args["torch"] = (tp, torch.from_numpy(x.copy()), torch.from_numpy(y.copy()))
    return _grad_variants(name, peers, steps, args)


@workload("mlp_b1", "784-50-50-10 tanh MLP, log-softmax + NLL, batch 1: loss + 6 gradients", grad=True)
def mlp_b1(peers: dict[str, ModuleType]) -> list[Variant]:
    return _mlp("mlp_b1", peers, 1, 50)


# Its products are large enough for numpy's OpenBLAS and torch's OpenMP/MKL to use both cores, and
# each pool's threads spin after a call: run back to back, one peer's spinning threads slowed the
# next one's (numpy 30 % and torch 2x on 2 cores), so its samples are paused like heavy ones'.
@workload("mlp_b128", "the same MLP, batch 128: loss + 6 gradients", pause=True, grad=True)
def mlp_b128(peers: dict[str, ModuleType]) -> list[Variant]:
    return _mlp("mlp_b128", peers, 128, 50)


@workload("mlp_big", "784-2048-2048-10 tanh MLP, batch 512: loss + 6 gradients", heavy=True, grad=True)
def mlp_big(peers: dict[str, ModuleType]) -> list[Variant]:
    return _mlp("mlp_big", peers, 512, 2048)


# --------------------------------------------------------------------------------------------
# convnet_b32: one SGD training step (forward, backward, update) of the talk's convnet on a batch
# of 32 RGB 32x32 images, float32 (the type convnets train in; torch's CPU default):
#   conv 3->16 5x5, tanh, max-pool 2x2 /2, conv 16->64 5x5, tanh, max-pool 2x2 /2,
#   conv 64->256 5x5 (the 5x5 map left becomes 256x1x1), reshape to 256, linear 256->10,
#   log-softmax, class NLL (mean over the batch).
# Every peer starts from the same weights; the build runs each step once and checks its loss and
# gradients against the numpy baseline's (float32 tolerances) before anything is timed. No peer
# computes the gradient with respect to the images (flambeau: Torch's ``grad_input = None``).
# numpy's and flambeau's convolutions are OpenBLAS products, which follow OPENBLAS_CORETYPE (a
# Haswell setting means AVX2 kernels, about half the AVX-512 speed); torch uses oneDNN's kernels.

CONVNET_LR = 0.01
CONVNET_SHAPES = {
    "W1": (16, 3, 5, 5),
    "b1": (16,),
    "W2": (64, 16, 5, 5),
    "b2": (64,),
    "W3": (256, 64, 5, 5),
    "b3": (256,),
    "W4": (10, 256),
    "b4": (10,),
}


def _np_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Valid 5x5 cross-correlation by im2col: every window of ``x`` (a strided view) times the weight.

    Returns the output ``N x O x oh x ow`` and the columns ``(N oh ow) x (C kh kw)`` for the backward pass.
    """
    n, c = x.shape[:2]
    o, _, kh, kw = w.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))  # N x C x oh x ow x kh x kw
    oh, ow = win.shape[2:4]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)  # im2col (a copy)
    out = cols @ w.reshape(o, -1).T + b  # (N oh ow) x O
    return out.reshape(n, oh, ow, o).transpose(0, 3, 1, 2), cols


def _np_conv_back(
    g: np.ndarray, cols: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], need_input: bool = True
) -> tuple[Any, np.ndarray, np.ndarray]:
    """Gradients of :func:`_np_conv`: input (col2im: one add per kernel offset), weight and bias."""
    n, o, oh, ow = g.shape
    _, c, kh, kw = w.shape
    g2 = g.transpose(0, 2, 3, 1).reshape(-1, o)  # (N oh ow) x O
    gw = (g2.T @ cols).reshape(w.shape)
    gb = g2.sum(0)
    if not need_input:
        return None, gw, gb
    gcols = (g2 @ w.reshape(o, -1)).reshape(n, oh, ow, c, kh, kw)
    gx = np.zeros(x_shape, dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            gx[:, :, i : i + oh, j : j + ow] += gcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return gx, gw, gb


def _np_pool(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max pooling, stride 2: the maximum over two axes of a reshape; the mask of maxima for backward."""
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h // 2, 2, w // 2, 2)
    out = blocks.max(axis=(3, 5))
    return out, blocks == out[:, :, :, None, :, None]


def _np_pool_back(g: np.ndarray, mask: np.ndarray) -> np.ndarray:
    n, c, h2, _, w2, _ = mask.shape
    return (mask * g[:, :, :, None, :, None]).reshape(n, c, 2 * h2, 2 * w2)


def np_convnet_step(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[Any, dict[str, np.ndarray]]:
    """One SGD step by hand in numpy: forward, hand-written backward, ``p -= lr * grad``; returns the
    loss and the gradients (taken before the update)."""
    a1, c1 = _np_conv(x, p["W1"], p["b1"])
    h1 = np.tanh(a1)
    q1, m1 = _np_pool(h1)
    a2, c2 = _np_conv(q1, p["W2"], p["b2"])
    h2 = np.tanh(a2)
    q2, m2 = _np_pool(h2)
    a3, c3 = _np_conv(q2, p["W3"], p["b3"])
    f = a3.reshape(len(x), -1)
    z = f @ p["W4"].T + p["b4"]
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(len(x))
    loss = -(z[rows, y] - np.log(s[:, 0])).mean()
    dz = e / s
    dz[rows, y] -= 1.0
    dz /= len(x)
    g = {"W4": dz.T @ f, "b4": dz.sum(0)}
    df = (dz @ p["W4"]).reshape(a3.shape)
    dq2, g["W3"], g["b3"] = _np_conv_back(df, c3, p["W3"], q2.shape)
    da2 = _np_pool_back(dq2, m2) * (1.0 - h2 * h2)
    dq1, g["W2"], g["b2"] = _np_conv_back(da2, c2, p["W2"], q1.shape)
    da1 = _np_pool_back(dq1, m1) * (1.0 - h1 * h1)
    _, g["W1"], g["b1"] = _np_conv_back(da1, c1, p["W1"], x.shape, need_input=False)
    for k, v in g.items():
        p[k] -= CONVNET_LR * v
    return loss, g


def _check_convnet(peer: str, got: tuple[Any, Any], want: tuple[Any, dict[str, np.ndarray]]) -> None:
    """Raise if ``peer``'s loss or a gradient differs from numpy's beyond float32 rounding."""
    loss, g = _to_numpy(got)
    if not np.allclose(loss, want[0], rtol=1e-4):
        raise AssertionError(f"convnet_b32: {peer}'s loss {float(loss)!r} != numpy's {float(want[0])!r}")
    for k, w in want[1].items():
        if np.shape(g[k]) != w.shape or not np.allclose(g[k], w, rtol=1e-3, atol=1e-4 * np.abs(w).max()):
            err = np.max(np.abs(g[k] - w)) if np.shape(g[k]) == w.shape else float("nan")
            raise AssertionError(f"convnet_b32: {peer}'s gradient {k} differs from numpy's (max abs error {err:.3g})")


def _flambeau_convnet(ft: ModuleType, p: dict[str, np.ndarray]) -> tuple[Callable[..., Any], dict[str, Any]]:
    """The net as a flambeau.nn Sequential with numpy's weights, and its step."""
    nn = importlib.import_module("flambeau.nn")
    model = nn.Sequential(
        nn.SpatialConvolution(3, 16, 5, 5),
        nn.Tanh(),
        nn.SpatialMaxPooling(2, 2, 2, 2),
        nn.SpatialConvolution(16, 64, 5, 5),
        nn.Tanh(),
        nn.SpatialMaxPooling(2, 2, 2, 2),
        nn.SpatialConvolution(64, 256, 5, 5),
        nn.Reshape(256),
        nn.Linear(256, 10),
        nn.LogSoftMax(),
    ).float()
    # Torch's idiom for a first layer: no gradient with respect to the images (numpy's and torch's
    # steps do not compute it either)
    model.get(0).grad_input = None
    layers = {"1": model.get(0), "2": model.get(3), "3": model.get(6), "4": model.get(8)}
    for i, m in layers.items():
        m.weight.copy_(ft.from_numpy(p[f"W{i}"].copy()))
        m.bias.copy_(ft.from_numpy(p[f"b{i}"].copy()))
    crit = nn.ClassNLLCriterion()

    def step(model: Any, x: Any, y: Any) -> tuple[Any, dict[str, Any]]:
        model.zero_grad_parameters()
        out = model.forward(x)
        loss = crit.forward(out, y)
        model.backward(x, crit.backward(out, y))
        model.update_parameters(CONVNET_LR)
        grads = {}
        for i, m in layers.items():
            grads[f"W{i}"], grads[f"b{i}"] = m.grad_weight, m.grad_bias
        return loss, grads

    return step, model


def train_step_convnet(
    ft: ModuleType, ag: ModuleType, p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, device: str, graph: bool
) -> tuple[Callable[[], Any], Any]:
    """The convnet as flambeau ops, one SGD step per call through ``autograd.train_step`` (the
    forward, gradient and update recorded as one program; ``graph``: captured as a CUDA graph).

    Returns ``(call, step)``. The step returns the loss only (the gradients live inside the
    program); for the check, ``call``'s first call also returns the gradients read off the update:
    ``(before - after) / lr``. Two steps are taken and undone first (in place), so that the
    checked call is a replay (a graph launch, with ``graph``), not the recording. The steps run
    inside ``trusted_values()``: the targets' ``gather`` skips its range check, which reads the
    indices back to the host, a sync per step (outside, the program checks them in a guard before
    the graph) that PyTorch does not make.
    """
    from flambeau.autograd.model import _conv2d, _max_pool2d  # SpatialConvolutionMM / SpatialMaxPooling as ops
    from flambeau.tensor.optable import trusted_values

    def loss(q: Any, x: Any, y: Any) -> Any:
        h = _max_pool2d(ft.tanh(_conv2d(x, q["W1"], q["b1"], 1, 0)), 2)
        h = _max_pool2d(ft.tanh(_conv2d(h, q["W2"], q["b2"], 1, 0)), 2)
        h = _conv2d(h, q["W3"], q["b3"], 1, 0).reshape(x.size(0), 256)
        z = h @ q["W4"].t() + q["b4"]
        logp = z - ft.logsumexp(z, 1, keepdim=True)
        return -logp.gather(1, y.view(-1, 1)).mean()

    fp = {k: ft.from_numpy(v.copy()).to(device) for k, v in p.items()}
    fx = ft.from_numpy(x.copy()).to(device)
    fy = ft.from_numpy(y.astype(np.int64)).to(device)
    step = ag.train_step(loss, fp, "sgd", {"learning_rate": CONVNET_LR}, cuda_graph=graph)
    start = {k: v.clone() for k, v in fp.items()}
    with trusted_values():
        step(fx, fy), step(fx, fy)  # recorded, then replayed (captured and launched, with a graph)
    for k, v in fp.items():
        v.copy_(start[k])  # in place: the program (and graph) reads and writes these very arrays
    step.state["eval_counter"].zero_()
    first = [True]

    def call() -> Any:
        with trusted_values():
            if not first:
                return step(fx, fy)
            first.clear()
            before = {k: v.cpu().numpy().copy() for k, v in fp.items()}  # (on the cpu, .numpy() is a view)
            value = step(fx, fy)
        return value, {k: (before[k] - fp[k].cpu().numpy()) / CONVNET_LR for k in fp}

    return call, step


def _autograd_convnet(anp: ModuleType) -> Callable[..., tuple[Any, dict[str, Any]]]:
    """The same step in HIPS autograd: numpy's forward on ``autograd.numpy``, differentiated by
    ``value_and_grad`` with respect to the parameter dict, then ``p -= lr * grad`` in place.

    autograd has no convolution (``autograd.scipy.signal.convolve`` needs scipy, which ``nox -s
    bench`` does not install), so each one is numpy's im2col: the windows are one gather with an
    index array. Its gradient scatters back with ``np.add.at``, about half of this step's time
    (stacking the kh x kw shifted slices instead was slower still: a slice's gradient is an ``add.at``
    too).
    """
    ag = importlib.import_module("autograd")
    lse = _autograd_logsumexp()

    def conv(x: Any, w: Any, b: Any) -> Any:
        n, c, h, wd = x.shape
        o, _, kh, kw = w.shape
        oh, ow = h - kh + 1, wd - kw + 1
        rows = np.arange(oh)[:, None, None, None] + np.arange(kh)[None, None, :, None]  # oh x 1 x kh x 1
        cols = np.arange(ow)[None, :, None, None] + np.arange(kw)[None, None, None, :]  # 1 x ow x 1 x kw
        win = x[:, :, rows, cols]  # N x C x oh x ow x kh x kw
        flat = anp.reshape(anp.transpose(win, (0, 2, 3, 1, 4, 5)), (n * oh * ow, c * kh * kw))
        out = flat @ anp.reshape(w, (o, -1)).T + b
        return anp.transpose(anp.reshape(out, (n, oh, ow, o)), (0, 3, 1, 2))

    def pool(x: Any) -> Any:
        n, c, h, w = x.shape
        return anp.max(anp.reshape(x, (n, c, h // 2, 2, w // 2, 2)), axis=(3, 5))

    def loss(p: dict[str, Any], x: np.ndarray, y: np.ndarray) -> Any:
        q1 = pool(anp.tanh(conv(x, p["W1"], p["b1"])))
        q2 = pool(anp.tanh(conv(q1, p["W2"], p["b2"])))
        f = anp.reshape(conv(q2, p["W3"], p["b3"]), (len(x), -1))
        z = f @ p["W4"].T + p["b4"]
        return -anp.mean((z - lse(z))[np.arange(len(x)), y])

    value_and_grad = ag.value_and_grad(loss)

    def step(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[Any, dict[str, np.ndarray]]:
        value, g = value_and_grad(p, x, y)
        for k, v in g.items():
            p[k] -= CONVNET_LR * v
        return value, g

    return step


def _torch_convnet(torch: ModuleType, p: dict[str, np.ndarray]) -> tuple[Callable[..., Any], Any]:
    """The same net in torch.nn (eager, CPU) with numpy's weights, and its step (manual SGD update)."""
    tnn = torch.nn
    model = tnn.Sequential(
        tnn.Conv2d(3, 16, 5),
        tnn.Tanh(),
        tnn.MaxPool2d(2, 2),
        tnn.Conv2d(16, 64, 5),
        tnn.Tanh(),
        tnn.MaxPool2d(2, 2),
        tnn.Conv2d(64, 256, 5),
        tnn.Flatten(),
        tnn.Linear(256, 10),
        tnn.LogSoftmax(dim=1),
    )
    layers = {"1": model[0], "2": model[3], "3": model[6], "4": model[8]}
    with torch.no_grad():
        for i, m in layers.items():
            m.weight.copy_(torch.from_numpy(p[f"W{i}"]))
            m.bias.copy_(torch.from_numpy(p[f"b{i}"]))
    nll = torch.nn.functional.nll_loss

    def step(model: Any, x: Any, y: Any) -> tuple[Any, dict[str, Any]]:
        for q in model.parameters():
            q.grad = None
        loss = nll(model(x), y)
        loss.backward()
        with torch.no_grad():
            for q in model.parameters():
                q.sub_(q.grad, alpha=CONVNET_LR)
        grads = {}
        for i, m in layers.items():
            grads[f"W{i}"], grads[f"b{i}"] = m.weight.grad, m.bias.grad
        return loss, grads

    return step, model


def convnet_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The convnet's float32 parameters with Torch's init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    p: dict[str, np.ndarray] = {}
    for k, shape in CONVNET_SHAPES.items():
        fan_in = int(np.prod(CONVNET_SHAPES["W" + k[1:]][1:]))
        p[k] = rng.uniform(-1, 1, shape).astype(np.float32) / np.float32(np.sqrt(fan_in))
    return p


@workload("convnet_b32", "talk's conv/tanh/max-pool net, 32x32 RGB, batch 32, float32: one SGD step", pause=True)
def convnet_b32(peers: dict[str, ModuleType]) -> list[Variant]:
    rng = np.random.default_rng(0)
    p = convnet_params(rng)
    x = rng.standard_normal((32, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, 32)

    want = np_convnet_step({k: v.copy() for k, v in p.items()}, x, y)
    vs = [Variant("numpy", "step(p, x, y)", {"step": np_convnet_step, "p": p, "x": x, "y": y}, baseline=True)]
    nets: dict[str, tuple[Callable[..., Any], Any, tuple[Any, Any]]] = {}
    if "flambeau" in peers:
        ft = peers["flambeau"]
        try:
            step, model = _flambeau_convnet(ft, p)
        except ImportError as e:  # flambeau.nn is not installed: no flambeau row
            print(f"convnet_b32: skipping flambeau: {e}")
        else:
            nets["flambeau"] = (step, model, (ft.from_numpy(x.copy()), ft.from_numpy(y.astype(np.int64))))
    if "autograd" in peers:
        ap = {k: v.copy() for k, v in p.items()}
        nets["autograd"] = (_autograd_convnet(peers["autograd"]), ap, (x.copy(), y.copy()))
    if "torch" in peers:
        torch = peers["torch"]
        step, model = _torch_convnet(torch, p)
        nets["torch"] = (step, model, (torch.from_numpy(x.copy()), torch.from_numpy(y.astype(np.int64))))
    for peer, (step, model, (tx, ty)) in nets.items():
        _check_convnet(peer, step(model, tx, ty), want)
        vs.append(Variant(peer, "step(m, x, y)", {"step": step, "m": model, "x": tx, "y": ty}))
    if "flambeau" in peers and "flambeau.autograd" in peers:
        call, _ = train_step_convnet(peers["flambeau"], peers["flambeau.autograd"], p, x, y, "cpu", False)
        _check_convnet("flambeau-opt", call(), want)
        vs.append(Variant("flambeau-opt", "call()", {"call": call}))
    return vs


# --------------------------------------------------------------------------------------------
# Timing.


@dataclass
class Result:
    workload: str
    peer: str
    stmt: str
    number: int  # calls per sample
    samples_ns: list[float] = field(default_factory=list)  # per-call time of each sample

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ns)

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median."""
        q = statistics.quantiles(self.samples_ns, n=4) if len(self.samples_ns) > 1 else [0, 0, 0]
        return (q[2] - q[0]) / self.median


# BLAS and OpenMP worker threads busy-wait for a while after a call; on 2 cores that would be
# charged to whichever peer runs next, so heavy samples (and those of ``pause`` workloads, whose
# calls are short but multi-threaded) are separated by a pause.
HEAVY_PAUSE_S = 0.25


def _timer(v: Variant) -> timeit.Timer:
    return timeit.Timer(v.stmt, setup="gc.enable()", timer=perf_counter_ns, globals={**v.ns, "gc": gc})


def _calibrate(t: timeit.Timer, sample_ns: float) -> int:
    """Calls per sample so that one sample lasts about ``sample_ns``."""
    n = 1
    while True:
        took = t.timeit(n)
        if took >= sample_ns / 10:
            return max(1, round(n * sample_ns / took))
        n *= 10


def measure(w: Workload, variants: list[Variant], repeat: int, sample_ns: float) -> list[Result]:
    timers = [_timer(v) for v in variants]
    results = []
    for v, t in zip(variants, timers, strict=True):
        t.timeit(1 if w.heavy else 100)  # warm-up (and compile-on-first-use in the peers)
        n = 1 if w.heavy else _calibrate(t, sample_ns)
        results.append(Result(w.name, v.peer, v.stmt, n))
    for _ in range(repeat):  # round-robin: noise lands on every variant alike
        for r, t in zip(results, timers, strict=True):
            if w.pause:  # let the previous peer's BLAS/OpenMP threads stop spinning first
                time.sleep(HEAVY_PAUSE_S)
            r.samples_ns.append(t.timeit(r.number) / r.number)
    return results


def peak_memory(w: Workload, variants: list[Variant]) -> list[dict[str, Any]]:
    """Peak memory of one call per variant (tracemalloc: numpy's allocations), plus what it keeps.

    Each variant is called once first (an optimized program is recorded then). PyTorch allocates
    outside tracemalloc's view, so its row says so instead of showing a number.
    """
    base = None
    rows = []
    print(f"\n{w.name}: peak memory of one call (tracemalloc), plus bytes kept between calls")
    for v in variants:
        code = compile(v.stmt, "<bench>", "eval")
        eval(code, dict(v.ns))  # warm-up: recordings happen here
        gc.collect()
        tracemalloc.start()
        start = tracemalloc.get_traced_memory()[0]
        result = eval(code, dict(v.ns))
        peak = tracemalloc.get_traced_memory()[1] - start
        tracemalloc.stop()
        del result
        held = v.held() if v.held is not None else 0
        total = peak + held
        row: dict[str, Any] = {"workload": w.name, "peer": v.peer, "peak_bytes": peak, "held_bytes": held}
        line = f"  {v.peer:<12} "
        if v.peer == "torch":
            line += "not traced (torch allocates outside tracemalloc)"
        else:
            line += f"peak {total / 2**20:8.1f} MiB (held buffers {held / 2**20:.1f} MiB)"
            if v.baseline:
                base = total
            if base:
                row["ratio"] = total / base
                line += f"  {total / base:.2f}x numpy"
        print(line)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# Report.


def _fmt_time(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def report(w: Workload, variants: list[Variant], results: list[Result]) -> list[dict[str, Any]]:
    """Print the workload's table; return its rows for --json."""
    base = next((r for v, r in zip(variants, results, strict=True) if v.baseline), None)
    print(f"\n{w.name}: {w.what}")
    head = f"  {'peer':<12} {'statement':<24} {'median':>9} {'min':>9} {'IQR':>6}"
    head += " median/np min/np" + ("  extra µs/op" if w.ops_per_call else "")
    print(head)
    rows = []
    for r in results:
        lo = min(r.samples_ns)
        row: dict[str, Any] = {
            "workload": w.name,
            "peer": r.peer,
            "stmt": r.stmt,
            "calls_per_sample": r.number,
            "samples": len(r.samples_ns),
            "median_ns": r.median,
            "min_ns": lo,
            "iqr_rel": r.spread,
        }
        line = f"  {r.peer:<12} {r.stmt:<24} {_fmt_time(r.median):>9} {_fmt_time(lo):>9}"
        line += f" {r.spread:>6.1%}"
        if base is not None:
            row["ratio"] = r.median / base.median
            row["ratio_min"] = lo / min(base.samples_ns)
            line += f" {row['ratio']:>9.2f} {row['ratio_min']:>6.2f}"
            if w.ops_per_call:
                row["extra_us_per_op"] = (r.median - base.median) / w.ops_per_call / 1e3
                line += f"  {row['extra_us_per_op']:>+11.3f}"
        print(line)
        rows.append(row)
    return rows


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas_threads": blas_threads(),
    }


# The chart's peers, top to bottom within a workload's group, and their colours; numpy is the
# vertical line at 1 (every ratio is to its median).
CHART_PEERS = {
    "flambeau": "#1f77b4",
    "flambeau-opt": "#17becf",
    "flambeau-nn": "#9467bd",
    "autograd": "#ff7f0e",
    "torch": "#d62728",
}


def chart(rows: list[dict[str, Any]], info: dict[str, Any], path: str) -> None:
    """Draw each workload's peers' median time relative to numpy's (log scale) as a PNG at ``path``.

    One horizontal bar per peer and workload, labelled with its ratio; workloads run top to bottom
    in table order. A peer with several statements in a workload (``mm1000``) is drawn with its
    first one, the peer's main form. Rows without a ratio (memory rows, a workload without a numpy
    baseline) are left out.

    Examples
    --------
    >>> import tempfile, os
    >>> rows = [{"workload": "add10", "peer": "numpy", "stmt": "np.add(a, b)", "median_ns": 259.0, "ratio": 1.0},
    ...         {"workload": "add10", "peer": "flambeau", "stmt": "ft.add(a, b)", "median_ns": 567.0, "ratio": 2.19}]
    >>> out = os.path.join(tempfile.mkdtemp(), "bench.png")
    >>> chart(rows, {"cpu": "AMD EPYC", "cores": 2}, out)
    >>> open(out, "rb").read(4) == b"\\x89PNG"
    True
    """
    # Figure, not pyplot: no global backend or display is involved, savefig renders with Agg.
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    ratios: dict[str, dict[str, float]] = {}  # workload -> peer -> ratio
    numpy_ns: dict[str, float] = {}
    for r in rows:
        if "median_ns" in r and "ratio" in r and r["peer"] in CHART_PEERS:
            ratios.setdefault(r["workload"], {}).setdefault(r["peer"], r["ratio"])
            numpy_ns[r["workload"]] = r["median_ns"] / r["ratio"]  # every ratio is a median over numpy's
    if not ratios:
        raise ValueError(
            f"chart: rows has nothing to draw: none of its {len(rows)} rows has a median and a ratio to numpy"
        )
    peers = [p for p in CHART_PEERS if any(p in by for by in ratios.values())]
    bar = 0.8 / max(len(by) for by in ratios.values())
    fig = Figure(figsize=(10, 1.5 + 0.24 * sum(len(by) + 1 for by in ratios.values())), layout="constrained")
    ax = fig.add_subplot()
    ax.set_xscale("log")
    for i, by in enumerate(ratios.values()):
        present = [p for p in peers if p in by]  # centred on the workload's tick, no gaps
        for j, peer in enumerate(present):
            y = i + (j - (len(present) - 1) / 2) * bar
            ratio = by[peer]
            # Each bar runs from numpy's 1 to the peer's ratio: leftwards when the peer is faster,
            # and its label sits outside the bar's far end either way.
            ax.barh(y, ratio - 1.0, left=1.0, height=bar * 0.9, color=CHART_PEERS[peer])
            right = ratio >= 1.0
            ax.annotate(
                f"{ratio:.2f}×",
                (ratio, y),
                xytext=(3 if right else -3, 0),
                textcoords="offset points",
                ha="left" if right else "right",
                va="center",
                fontsize=7,
            )
    every = [r for by in ratios.values() for r in by.values()]
    lo, hi = min(0.5, min(every) / 1.6), max(every) * 1.8  # room for the labels at both ends
    ax.set_xlim(lo, hi)
    # Log-axis ticks at 1-2-5 steps, written as ratios (0.5×, 1×, 2×, ...), not powers of ten.
    ticks = [m * 10.0**e for e in range(-3, 5) for m in (1, 2, 5) if lo <= m * 10.0**e <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))
    ax.axvline(1.0, color="black", linewidth=1.0)
    ax.set_yticks(range(len(ratios)), [f"{n}\nnumpy {_fmt_time(numpy_ns[n])}" for n in ratios], fontsize=8)
    ax.set_ylim(len(ratios) - 0.5, -0.5)  # the table's order, top to bottom
    for i in range(1, len(ratios)):
        ax.axhline(i - 0.5, color="grey", linewidth=0.5, alpha=0.5)
    ax.tick_params(axis="x", top=True, labeltop=True)  # a tall chart: the scale at both ends
    ax.set_xlabel("median time per call relative to numpy by hand (log scale; 1× = numpy, left of it = faster)")
    ax.grid(axis="x", alpha=0.3)
    versions = ", ".join(f"{k} {info[k]}" for k in ("numpy", "flambeau", "autograd", "torch") if k in info)
    date = info.get("date", time.strftime("%Y-%m-%d"))  # the run's, when ``info`` is a JSON file's
    title = f"benchmarks/run.py, {date}: {info.get('cpu', '?')}, {info.get('cores', '?')} cores"
    ax.set_title(f"{title}\n{versions}", fontsize=10)
    handles = [Patch(color=CHART_PEERS[p], label=p) for p in peers]
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    fig.savefig(path, dpi=120)


def heavy_repeat(repeat: int) -> int:
    return max(5, repeat // 2)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer, shorter samples (a smoke run)")
    p.add_argument("--only", help="comma-separated workload names")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--chart", metavar="PATH", help="also draw the medians relative to numpy as a PNG (matplotlib)")
    p.add_argument("--repeat", type=int, help="samples per variant (default 21, quick 5)")
    p.add_argument("--sample-ms", type=float, help="length of one sample (default 20, quick 5)")
    p.add_argument("--memory", action="store_true", help="also report each gradient workload's peak memory")
    args = p.parse_args(argv)
    if args.chart and importlib.util.find_spec("matplotlib") is None:  # fail now, not after the run
        p.error(f"--chart {args.chart}: matplotlib is not installed (pip install matplotlib)")
    repeat = args.repeat or (5 if args.quick else 21)
    sample_ns = (args.sample_ms or (5.0 if args.quick else 20.0)) * 1e6

    names = args.only.split(",") if args.only else list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        planned = [n for n in unknown if n in PLANNED]
        for n in planned:
            print(f"{n}: not yet available ({PLANNED[n]})")
        if len(planned) < len(unknown):
            p.error(
                f"unknown workload(s) {', '.join(n for n in unknown if n not in PLANNED)};"
                f" known: {', '.join(WORKLOADS)}"
            )
        names = [n for n in names if n in WORKLOADS]
        if not names:
            return 0

    peers, skipped = load_peers()
    info = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **machine()}
    dists = (
        ("flambeau", "flambeau-tensor"),
        ("flambeau.autograd", "flambeau-autograd"),
        ("autograd", "autograd"),
        ("torch", "torch"),
    )
    for name, dist in dists:
        if name in peers:
            info[name] = _version(dist)
    print(", ".join(f"{k} {v}" for k, v in info.items()))
    for name, why in skipped.items():
        print(f"skipping {name}: {why}")
    heavy = ", ".join(n for n, w in WORKLOADS.items() if w.heavy)
    paused = ", ".join(n for n, w in WORKLOADS.items() if w.pause and not w.heavy)
    print(
        f"timing: median of {repeat} samples per variant, round-robin over the variants; a sample"
        f" is the mean of N back-to-back calls lasting ~{sample_ns / 1e6:g} ms; heavy workloads"
        f" ({heavy}): median of {heavy_repeat(repeat)} one-call samples, {HEAVY_PAUSE_S} s apart;"
        f" {paused}: samples {HEAVY_PAUSE_S} s apart;"
        " time.perf_counter_ns via timeit, after a warm-up, GC on"
    )

    rows: list[dict[str, Any]] = []
    for name in names:
        w = WORKLOADS[name]
        variants = w.build(peers)
        results = measure(w, variants, heavy_repeat(repeat) if w.heavy else repeat, sample_ns)
        rows += report(w, variants, results)
        if args.memory and w.grad:
            rows += peak_memory(w, variants)
    if not args.only and PLANNED:
        print("\nnot yet available: " + ", ".join(PLANNED) + " (needs flambeau.nn)")
    if args.json:
        _parent(args.json)
        with open(args.json, "w") as f:
            json.dump({"machine": info, "skipped": skipped, "results": rows}, f, indent=1)
        print(f"\nwrote {args.json}")
    if args.chart:
        _parent(args.chart)
        chart(rows, info, args.chart)
        print(f"wrote {args.chart}")
    return 0


def _parent(path: str) -> None:
    """Create the folder an output file goes in (``nox -s bench`` writes into benchmarks/results/)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


if __name__ == "__main__":
    sys.exit(main())
