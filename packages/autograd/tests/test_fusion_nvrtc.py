"""The CUDA of fused kernels compiles: every fusable op on every dtype, with tensor and number
operands, and the kernels of the programs the GPU benchmarks run, compiled by NVRTC as cupy would
compile them on their first call (see ``nvrtc.py``). No GPU is needed, only cupy and NVRTC: ``nox -s
gpu-offline`` installs both. Elsewhere these tests skip, saying why."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from nvrtc import CompileError, compile_kernel, compile_kernels, compile_source, kernel_source, reason

import flambeau.tensor as ft
from flambeau import autograd
from flambeau.autograd import fusion, grad, optimize, program
from flambeau.autograd.model import _conv2d, _max_pool2d
from flambeau.tensor import optable

if os.environ.get("FLAMBEAU_NVRTC") == "required" and reason():
    raise RuntimeError(f"FLAMBEAU_NVRTC=required, but fused kernels cannot be compiled here: {reason()}")
pytestmark = pytest.mark.skipif(bool(reason()), reason=f"fused kernels cannot be compiled here: {reason()}")

DTYPES = ["int8", "int16", "int32", "int64", "uint8", "float32", "float64"]  # flambeau's, but float16


def _arity(name: str, op: Any) -> int:
    spec = fusion.UFUNCS.get(op.ufunc) or fusion.TABLE_OPS.get(name)
    return spec.nargs if spec else 0


UNARY = sorted(name for name, op in optable.OPS.items() if _arity(name, op) == 1)
BINARY = sorted(name for name, op in optable.OPS.items() if _arity(name, op) == 2)  # where and clamp: below
NUMBERS = (2, -1, 0.5, True)


@pytest.fixture(autouse=True)
def fuse_cpu(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The kernels are planned on the cpu: their CUDA source does not depend on the device.
    monkeypatch.setattr(program, "FUSE_ON", {"cuda", "cpu"})
    yield


def _kernels(f: Any) -> list[fusion.Kernel]:
    return [k for ps in f.programs.values() for p in ps for k in p.kernels]


def _compile_all(cases: list[tuple[str, Callable[[], list[fusion.Kernel]]]]) -> int:
    """Compile every kernel of every case; fail naming each case whose kernel NVRTC refused."""
    label_of: dict[str, str] = {}
    kernels: dict[str, fusion.Kernel] = {}
    for label, make in cases:
        for k in make():
            label_of.setdefault(k.name, label)
            kernels.setdefault(k.name, k)
    errors = compile_kernels(list(kernels.values()))
    failed = [f"{label_of[n]}: {kernels[n].source}\n{str(e).split('--- source ---')[0]}" for n, e in errors.items()]
    assert not failed, f"{len(failed)} of {len(kernels)} kernels do not compile:\n" + "\n".join(failed[:5])
    return len(kernels)


def _arr(dtype: str, seed: int) -> ft.Tensor:
    return ft.from_numpy((np.random.default_rng(seed).standard_normal((3, 4)) * 3).astype(dtype))


def _case(fn: Callable[..., Any], dtype: str) -> Callable[[], list[fusion.Kernel]]:
    """The kernels of ``fn(x, y)`` on two ``dtype`` tensors (none where direct mode refuses it)."""

    def kernels() -> list[fusion.Kernel]:
        x, y = _arr(dtype, 0), _arr(dtype, 1)
        try:
            with np.errstate(all="ignore"):
                fn(x, y)
        except Exception:  # this op refuses this dtype (tanh of bools, ...): nothing to fuse
            return []
        f = optimize(fn)
        with np.errstate(all="ignore"):
            f(x, y)
        return _kernels(f)

    return kernels


def _op_cases(dtype: str) -> list[tuple[str, Callable[[], list[fusion.Kernel]]]]:
    cases = []
    for name in UNARY:
        op = getattr(ft, name)
        cases.append((f"{name}(x + y)", _case(lambda x, y, op=op: op(x + y), dtype)))
        cases.append((f"{name}(x) * y", _case(lambda x, y, op=op: op(x) * y, dtype)))
    for name in BINARY:
        op = getattr(ft, name)
        cases.append((f"{name}(x + y, y)", _case(lambda x, y, op=op: op(x + y, y), dtype)))
        for n in NUMBERS:
            cases.append((f"{name}(x + y, {n!r})", _case(lambda x, y, op=op, n=n: op(x + y, n), dtype)))
        cases.append((f"{name}(-1, x + y)", _case(lambda x, y, op=op: op(-1, x + y), dtype)))
    for lo, hi in ((0, 3), (-1.5, None), (None, 2)):
        cases.append((f"clamp(x + y, {lo}, {hi})", _case(lambda x, y, lo=lo, hi=hi: ft.clamp(x + y, lo, hi), dtype)))
    cases += [
        ("where(x > y, x + y, x - y)", _case(lambda x, y: ft.where(x > y, x + y, x - y), dtype)),
        ("where(x > y, x * y, 1)", _case(lambda x, y: ft.where(x > y, x * y, 1), dtype)),
        ("(x > y).float() * y.float()", _case(lambda x, y: (x > y).float() * y.float(), dtype)),
        ("(x * y).sum()", _case(lambda x, y: (x * y).sum(), dtype)),
        ("(x * y).mean(1)", _case(lambda x, y: (x * y).mean(1), dtype)),
        ("(x * y).sum(0, keepdim=True)", _case(lambda x, y: (x * y).sum(0, keepdim=True), dtype)),
    ]
    return cases


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_fusable_op_compiles_on_every_dtype_with_tensors_and_numbers(dtype: str) -> None:
    n = _compile_all(_op_cases(dtype))
    assert n >= (20 if dtype == "bool" else 50)  # the cases did fuse: a planner fusing nothing fails here


# -- the programs of the GPU benchmarks and of train_step -------------------------------------------


def _mlp_loss(p: Any, x: Any, y: Any) -> Any:  # the talk's MLP, as benchmarks/gpu.py runs it
    h1 = ft.tanh(x @ p["W1"] + p["b1"])
    h2 = ft.tanh(h1 @ p["W2"] + p["b2"])
    z = h2 @ p["W3"] + p["b3"]
    return -(z - ft.logsumexp(z, 1, keepdim=True)).mul(y).sum()


def _convnet_loss(q: Any, x: Any, y: Any) -> Any:  # the talk's convnet, as benchmarks/run.py's train step
    h = _max_pool2d(ft.tanh(_conv2d(x, q["W1"], q["b1"], 1, 0)), 2)
    h = _max_pool2d(ft.tanh(_conv2d(h, q["W2"], q["b2"], 1, 0)), 2)
    h = _conv2d(h, q["W3"], q["b3"], 1, 0).reshape(x.size(0), -1)
    z = h @ q["W4"].t() + q["b4"]
    logp = z - ft.logsumexp(z, 1, keepdim=True)
    return -logp.gather(1, y.view(-1, 1)).mean()


def _mlp_args(dtype: str) -> tuple[Any, ...]:
    rng = np.random.default_rng(0)
    shapes = {"W1": (12, 5), "b1": (5,), "W2": (5, 5), "b2": (5,), "W3": (5, 10), "b3": (10,)}
    p = {k: ft.from_numpy(rng.standard_normal(s).astype(dtype)) for k, s in shapes.items()}
    x = ft.from_numpy(rng.standard_normal((4, 12)).astype(dtype))
    return p, x, ft.from_numpy(np.eye(10, dtype=dtype)[[1, 2, 3, 4]])


def _convnet_args(dtype: str) -> tuple[Any, ...]:
    rng = np.random.default_rng(0)
    shapes = {"W1": (3, 1, 3, 3), "b1": (3,), "W2": (4, 3, 3, 3), "b2": (4,), "W3": (6, 4, 2, 2), "b3": (6,)}
    shapes |= {"W4": (10, 6), "b4": (10,)}
    q = {k: ft.from_numpy((rng.standard_normal(s) * 0.3).astype(dtype)) for k, s in shapes.items()}
    return q, ft.from_numpy(rng.standard_normal((2, 1, 16, 16)).astype(dtype)), ft.from_numpy(np.array([3, 7]))


def _grad_case(loss: Callable[..., Any], args: Callable[[str], tuple[Any, ...]], dtype: str) -> Any:
    def kernels() -> list[fusion.Kernel]:
        df = grad(loss, optimize=True)
        df(*args(dtype))
        return _kernels(df)

    return kernels


def _step_case(loss: Callable[..., Any], args: Callable[[str], tuple[Any, ...]], dtype: str, name: str, config: Any) -> Any:  # fmt: skip
    def kernels() -> list[fusion.Kernel]:
        p, *batch = args(dtype)
        step = autograd.train_step(loss, p, name, config)
        step(*batch)
        return _kernels(step.fn)

    return kernels


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


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_benchmark_programs_and_every_train_step_compile(dtype: str) -> None:
    cases = [
        ("mlp gradient", _grad_case(_mlp_loss, _mlp_args, dtype)),
        ("convnet gradient", _grad_case(_convnet_loss, _convnet_args, dtype)),
    ]
    for name, config in STEP_CONFIGS:
        cases.append((f"mlp train_step {name} {config}", _step_case(_mlp_loss, _mlp_args, dtype, name, config)))
    cases.append(("convnet train_step sgd", _step_case(_convnet_loss, _convnet_args, dtype, "sgd", {})))
    assert _compile_all(cases) >= 40


# -- the check itself -------------------------------------------------------------------------------


def test_nvrtc_refuses_what_cuda_refuses_and_says_where() -> None:
    # The literal of an int16 chain typed as a plain int: flb_max(short, int) deduces no type.
    # (This was a real bug, found by the test above: fusion._literal now writes ((short)2).)
    f = optimize(lambda x, y: ft.cmax(x + y, 2))
    f(_arr("int16", 0), _arr("int16", 1))
    (k,) = _kernels(f)
    assert "flb_max(t0, ((short)2))" in k.operation
    compile_kernel(k)
    k.operation = k.operation.replace("((short)2)", "2")
    with pytest.raises(CompileError, match=r"(?s)flb_max.*argument types are: \(short, int\).*out0 = flb_max"):
        compile_kernel(k)


def test_the_source_is_cupys_for_the_kernels_parameters() -> None:
    f = optimize(lambda x, y: (ft.tanh(x * y) + 1).sum(1))
    x = ft.from_numpy(np.ones((3, 4), dtype=np.float32))
    f(x, x)
    (k,) = _kernels(f)
    src = kernel_source(k)
    assert f'extern "C" __global__ void {k.name}(' in src
    assert "const float v0 = _raw_v0[_in_ind.get()];" in src and "float &out0 = _raw_out0[_out_ind.get()];" in src
    assert "typedef float _type_reduce;" in src and k.map_expr in src
    assert "ld.global.f32" in compile_source(src)  # PTX that reads float32 arrays
