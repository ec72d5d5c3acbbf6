"""Fusion cases shared by the fused-kernel tests: small programs that fuse, per dtype.

- :func:`op_cases`: every fusable op (its ``Op.ufunc`` in ``fusion.UFUNCS``, or ``fusion.TABLE_OPS``)
  on tensors of one dtype or two (``SIGNATURES``), with a tensor or a number (``NUMBERS``, on
  either side) as operand,
  ``clamp``, ``where``, a mask made float, ``sum``/``mean`` closing a group;
- :func:`program_cases`: the gradient programs of the GPU benchmarks' MLP and convnet and their
  ``train_step`` for every optimizer.

Each case is ``(label, kernels)``, ``kernels()`` recording the case's optimized program and returning
its fused kernels (none where direct mode refuses the dtype). Fusion must be on for the cpu
(``program.FUSE_ON``) while they run: a kernel's source does not depend on its device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import flambeau.tensor as ft
from flambeau import autograd
from flambeau.autograd import fusion, grad, optimize
from flambeau.autograd.model import _conv2d, _max_pool2d
from flambeau.tensor import optable

Case = tuple[str, Callable[[], list[fusion.Kernel]]]
DTYPES = ["int8", "int16", "int32", "int64", "uint8", "float32", "float64"]  # flambeau's, but float16
# The dtypes of x and y in op_cases: each dtype with itself, and mixed pairs (casts in the kernels).
MIXED = [("int8", "float32"), ("uint8", "int8"), ("int32", "float64"), ("float32", "float64"), ("int16", "int64")]
SIGNATURES = [(t, t) for t in DTYPES] + MIXED
SIGNATURE_IDS = [t if t == u else f"{t}-{u}" for t, u in SIGNATURES]
NUMBERS = (2, -1, 0.5, True, 300, 1e300)  # 300: outside (u)int8; 1e300: float32's inf


def _arity(name: str, op: Any) -> int:
    spec = fusion.UFUNCS.get(op.ufunc) or fusion.TABLE_OPS.get(name)
    return spec.nargs if spec else 0


UNARY = sorted(name for name, op in optable.OPS.items() if _arity(name, op) == 1)
BINARY = sorted(name for name, op in optable.OPS.items() if _arity(name, op) == 2)  # where, clamp: below


def kernels_of(f: Any) -> list[fusion.Kernel]:
    """The fused kernels of every program of an optimized function."""
    return [k for ps in f.programs.values() for p in ps for k in p.kernels]


def arguments(dtype: str, other: str | None = None) -> tuple[ft.Tensor, ft.Tensor]:
    """3x4 tensors x of ``dtype`` and y of ``other`` (default the same): zeros, negative values,
    values past 1, a NaN in floats, and the type's limits in integers (where + and * overflow)."""
    out = []
    for seed, t in ((0, dtype), (1, other or dtype)):
        a = (np.random.default_rng(seed).standard_normal((3, 4)) * 3).astype(t)
        a[0, seed] = 0
        if t.startswith("float"):
            a[1, 2 + seed] = np.nan
        else:
            a[2, 2:] = np.iinfo(t).max, np.iinfo(t).min
        out.append(ft.from_numpy(a))
    return out[0], out[1]


def ops() -> list[tuple[str, Callable[[Any, Any], Any]]]:
    """``(label, fn(x, y))`` for every fusable op, each the root of a group of two or more."""
    fns: list[tuple[str, Callable[[Any, Any], Any]]] = []
    for name in UNARY:
        op = getattr(ft, name)
        fns += [(f"{name}(x + y)", lambda x, y, op=op: op(x + y)), (f"{name}(x) * y", lambda x, y, op=op: op(x) * y)]
    for name in BINARY:
        op = getattr(ft, name)
        fns.append((f"{name}(x + y, y)", lambda x, y, op=op: op(x + y, y)))
        fns += [(f"{name}(x + y, {n!r})", lambda x, y, op=op, n=n: op(x + y, n)) for n in NUMBERS]
        fns.append((f"{name}(-1, x + y)", lambda x, y, op=op: op(-1, x + y)))
    for lo, hi in ((0, 3), (-1.5, None), (None, 2), (-1, 3), (1, 300), (300, None)):
        fns.append((f"clamp(x + y, {lo}, {hi})", lambda x, y, lo=lo, hi=hi: ft.clamp(x + y, lo, hi)))
    return fns + [
        ("where(x > y, x + y, x - y)", lambda x, y: ft.where(x > y, x + y, x - y)),
        ("where(x > y, x * y, -1)", lambda x, y: ft.where(x > y, x * y, -1)),
        ("(x > y).float() * y.float()", lambda x, y: (x > y).float() * y.float()),
        ("(x * y).sum()", lambda x, y: (x * y).sum()),
        ("(x * y).mean(1)", lambda x, y: (x * y).mean(1)),
        ("(x * y).sum(0, keepdim=True)", lambda x, y: (x * y).sum(0, keepdim=True)),
    ]


def direct(fn: Callable[[Any, Any], Any], dtype: str, other: str | None = None) -> Any:
    """``fn`` on :func:`arguments` in direct mode, or None where the op refuses the dtypes."""
    try:
        with np.errstate(all="ignore"):
            return fn(*arguments(dtype, other))
    except Exception:  # tanh of int8s, a number out of uint8's range, ...: nothing to fuse
        return None


def op_cases(dtype: str, other: str | None = None) -> list[Case]:
    def case(fn: Callable[[Any, Any], Any]) -> Callable[[], list[fusion.Kernel]]:
        def kernels() -> list[fusion.Kernel]:
            if direct(fn, dtype, other) is None:
                return []
            f = optimize(fn)
            with np.errstate(all="ignore"):
                f(*arguments(dtype, other))
            return kernels_of(f)

        return kernels

    return [(label, case(fn)) for label, fn in ops()]


# -- the GPU benchmarks' programs ---------------------------------------------------------------------


def mlp_loss(p: Any, x: Any, y: Any) -> Any:
    """The talk's MLP, as benchmarks/gpu.py runs it (log-softmax + NLL of one-hot targets, summed)."""
    h1 = ft.tanh(x @ p["W1"] + p["b1"])
    h2 = ft.tanh(h1 @ p["W2"] + p["b2"])
    z = h2 @ p["W3"] + p["b3"]
    return -(z - ft.logsumexp(z, 1, keepdim=True)).mul(y).sum()


def convnet_loss(q: Any, x: Any, y: Any) -> Any:
    """The talk's convnet, as benchmarks/run.py's train step (class targets)."""
    h = _max_pool2d(ft.tanh(_conv2d(x, q["W1"], q["b1"], 1, 0)), 2)
    h = _max_pool2d(ft.tanh(_conv2d(h, q["W2"], q["b2"], 1, 0)), 2)
    h = _conv2d(h, q["W3"], q["b3"], 1, 0).reshape(x.size(0), -1)
    z = h @ q["W4"].t() + q["b4"]
    logp = z - ft.logsumexp(z, 1, keepdim=True)
    return -logp.gather(1, y.view(-1, 1)).mean()


def mlp_args(dtype: str) -> tuple[Any, ...]:
    rng = np.random.default_rng(0)
    shapes = {"W1": (12, 5), "b1": (5,), "W2": (5, 5), "b2": (5,), "W3": (5, 10), "b3": (10,)}
    p = {k: ft.from_numpy(rng.standard_normal(s).astype(dtype)) for k, s in shapes.items()}
    x = ft.from_numpy(rng.standard_normal((4, 12)).astype(dtype))
    return p, x, ft.from_numpy(np.eye(10, dtype=dtype)[[1, 2, 3, 4]])


def convnet_args(dtype: str) -> tuple[Any, ...]:
    rng = np.random.default_rng(0)
    shapes = {"W1": (3, 1, 3, 3), "b1": (3,), "W2": (4, 3, 3, 3), "b2": (4,), "W3": (6, 4, 2, 2), "b3": (6,)}
    shapes |= {"W4": (10, 6), "b4": (10,)}
    q = {k: ft.from_numpy((rng.standard_normal(s) * 0.3).astype(dtype)) for k, s in shapes.items()}
    return q, ft.from_numpy(rng.standard_normal((2, 1, 16, 16)).astype(dtype)), ft.from_numpy(np.array([3, 7]))


# One config per optimizer, with the options that add steps to its update (weight decay, decay).
STEP_CONFIGS = [
    ("sgd", {"learning_rate": 0.1}),
    ("sgd", {"learning_rate": 0.05, "momentum": 0.9, "dampening": 0, "nesterov": True, "weight_decay": 0.01}),
    ("adam", {"learning_rate": 0.02, "weight_decay": 0.1, "learning_rate_decay": 0.2}),
    ("adagrad", {"learning_rate": 0.2, "learning_rate_decay": 0.3, "weight_decay": 0.05}),
    ("adadelta", {"weight_decay": 0.1}),
    ("adamax", {"learning_rate": 0.02, "weight_decay": 0.1}),
    ("nag", {"learning_rate": 0.05, "learning_rate_decay": 0.2, "weight_decay": 0.05}),
    ("rmsprop", {"learning_rate": 0.02, "weight_decay": 0.1, "initial_mean": 1.0}),
    ("asgd", {"eta0": 0.05, "lambda": 0.1, "t0": 0}),
    ("rprop", {}),
]


def program_cases(dtype: str) -> list[Case]:
    def gradient(loss: Callable[..., Any], args: Callable[[str], tuple[Any, ...]]) -> Callable[[], list[fusion.Kernel]]:
        def kernels() -> list[fusion.Kernel]:
            df = grad(loss, optimize=True)
            df(*args(dtype))
            return kernels_of(df)

        return kernels

    def step(loss: Callable[..., Any], args: Callable[[str], tuple[Any, ...]], name: str, config: Any) -> Any:
        def kernels() -> list[fusion.Kernel]:
            p, *batch = args(dtype)
            s = autograd.train_step(loss, p, name, config)
            s(*batch)
            return kernels_of(s.fn)

        return kernels

    cases = [("mlp gradient", gradient(mlp_loss, mlp_args)), ("convnet gradient", gradient(convnet_loss, convnet_args))]
    cases += [(f"mlp train_step {n} {c}", step(mlp_loss, mlp_args, n, c)) for n, c in STEP_CONFIGS]
    return cases + [("convnet train_step sgd", step(convnet_loss, convnet_args, "sgd", {}))]


def collect(cases: list[Case]) -> tuple[dict[str, fusion.Kernel], dict[str, str]]:
    """The distinct kernels of ``cases`` by name, and the first case's label of each."""
    kernels: dict[str, fusion.Kernel] = {}
    labels: dict[str, str] = {}
    for label, make in cases:
        for k in make():
            kernels.setdefault(k.name, k)
            labels.setdefault(k.name, label)
    return kernels, labels
