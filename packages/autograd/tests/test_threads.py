"""Threads: ops and ``grad`` calls running at the same time in several threads stay correct.

Each thread works on tensors of its own. A barrier lines the threads up before they start, so
their calls overlap (CPython switches threads every few microseconds; ``sys.setswitchinterval``
is lowered here to make switches inside the tracer and the op table likely). Checked:

* the op table's pointwise, reduction, blas and matrix ops (every case of ``opcases.py`` for them,
  in each case's dtypes) give their numpy reference in every thread;
* ``grad`` in different threads never sees another thread's tape: each thread differentiates its
  own function of its own tensors (some with nested ``grad``), and every result is bit for bit the
  one a single thread computed beforehand;
* the same with ``grad(..., optimize=True)`` (recording, then replays, from several threads);
* ``with ft.device(...)`` in one thread does not move another thread's new tensors (the device
  stack is per thread).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.autograd import grad
from flambeau.tensor.optable import OPS

TENSOR_TESTS = Path(__file__).resolve().parents[2] / "tensor" / "tests"
if str(TENSOR_TESTS) not in sys.path:
    sys.path.append(str(TENSOR_TESTS))  # opcases.py: every op's cases with numpy references

THREADS = 8
GROUPS = ("pointwise", "reduction", "blas", "matrix")


@contextmanager
def _fast_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def run_threads(work: Callable[[int], Any], n: int = THREADS) -> list[Any]:
    """``work(i)`` in ``n`` threads started together; their results, or the first error raised in one."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = work(i)
        except BaseException as e:  # reported in the main thread
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=body, args=(i,), name=f"worker-{i}") for i in range(n)]
    with _fast_switching():
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker thread hangs"
    if errors:
        raise errors[0]
    return results


# --------------------------------------------------------------------------------------------
# Ops of the table in several threads.


def _jobs() -> list[tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any], Any, float]]:
    """(label, function, numpy arguments, kwargs, expected, tolerance) for every case of the families tested."""
    from opcases import CASES

    jobs = []
    for name, cases in CASES.items():
        op = OPS.get(name)
        if op is None or op.group not in GROUPS or "function" not in op.variants or op.rng:
            continue
        fn = getattr(ft, name)
        for k, case in enumerate(cases):
            for dt in case.dtypes:
                args = tuple(
                    a.astype(dt) if isinstance(a, np.ndarray) and a.dtype == np.float64 else a for a in case.args
                )
                ref_args = tuple(
                    a.astype(np.float64) if isinstance(a, np.ndarray) and case.float_op and a.dtype.kind in "iu" else a
                    for a in args
                )
                try:
                    with np.errstate(all="ignore"):
                        expected = case.ref(*ref_args, **case.kwargs)
                except Exception:  # a case whose reference raises checks an error: not a threads matter
                    continue
                tol = max(case.tol, 1e-5) if np.dtype(dt) in (np.float32, np.float16) else case.tol
                jobs.append((f"{name}[{k}, {np.dtype(dt)}]", fn, args, case.kwargs, expected, tol))
    return jobs


def _to_tensor(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return ft.from_numpy(v.copy())
    if isinstance(v, list):
        return [_to_tensor(x) for x in v]
    return v


def _same(got: Any, want: Any, tol: float, what: str) -> None:
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), what
        for g, w in zip(got, want, strict=True):
            _same(g, w, tol, what)
        return
    want = np.asarray(want)
    got = got.numpy() if isinstance(got, ft.Tensor) else np.asarray(got)
    assert got.shape == want.shape, f"{what}: size {got.shape} != {want.shape}"
    if got.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the cases' log(0), var of one element: as numpy's
def test_ops_of_the_table_in_threads() -> None:
    jobs = _jobs()
    assert len(jobs) > 500, f"only {len(jobs)} op cases found: did opcases.py move?"

    def work(i: int) -> int:
        order = np.random.default_rng(i).permutation(len(jobs))  # each thread its own order
        for j in order:
            label, fn, args, kwargs, expected, tol = jobs[j]
            targs = [_to_tensor(a) for a in args]
            _same(fn(*targs, **kwargs), expected, tol, f"{label} in thread {i}")
        return len(order)

    assert run_threads(work) == [len(jobs)] * THREADS


# --------------------------------------------------------------------------------------------
# grad in several threads: each its own tape.


def _mlp(p: dict[str, Any], x: Any) -> Any:
    h = ft.tanh(x @ p["W1"] + p["b1"])
    z = h @ p["W2"] + p["b2"]
    return -ft.sum(z - ft.logsumexp(z, 1, keepdim=True))


def _chain(x: Any) -> Any:
    for _ in range(30):
        x = ft.tanh(ft.sin(x) * 1.01 + x)
    return ft.sum(x * x)


def _branchy(x: Any, y: Any) -> Any:
    total = 0.0
    for k in range(10):
        total = total + (ft.sum(x * y) if k % 2 else ft.sum(ft.exp(-x * x) / (1 + y * y)))
    return total


def _nested(x: Any) -> Any:
    """The sum of the gradient of a function of x: second order through an inner grad."""
    inner = grad(lambda u: ft.sum(ft.sin(u) * u * u))(x)[0]
    return ft.sum(inner * inner)


def _hvp_like(x: Any) -> Any:
    inner = grad(lambda u: ft.sum(ft.tanh(u @ u.t())))(x)[0]
    return ft.sum(inner * ft.cos(x))


FUNCTIONS: list[tuple[str, Callable[..., Any], Callable[[np.random.Generator], tuple[Any, ...]], Any]] = [
    (
        "mlp",
        _mlp,
        lambda r: (
            {
                "W1": r.standard_normal((12, 7)),
                "b1": r.standard_normal(7),
                "W2": r.standard_normal((7, 4)),
                "b2": r.standard_normal(4),
            },
            r.standard_normal((5, 12)),
        ),
        0,
    ),
    ("chain", _chain, lambda r: (r.standard_normal(9),), 0),
    ("branchy", _branchy, lambda r: (r.standard_normal((3, 4)), r.standard_normal((3, 4))), (0, 1)),
    ("nested", _nested, lambda r: (r.standard_normal((4, 3)),), 0),
    ("nested-matrix", _hvp_like, lambda r: (r.standard_normal((3, 3)),), 0),
]


def _tensors(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return ft.from_numpy(x.copy())
    if isinstance(x, dict):
        return {k: _tensors(v) for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(_tensors(v) for v in x)
    return x


def _numpy(x: Any) -> Any:
    if isinstance(x, ft.Tensor):
        return x.numpy().copy()
    if isinstance(x, dict):
        return {k: _numpy(v) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return tuple(_numpy(v) for v in x)
    return x


def _identical(a: Any, b: Any, what: str) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), what
        for k in a:
            _identical(a[k], b[k], f"{what}[{k}]")
    elif isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), what
        for k, (u, v) in enumerate(zip(a, b, strict=True)):
            _identical(u, v, f"{what}[{k}]")
    else:
        assert np.asarray(a).dtype == np.asarray(b).dtype, what
        assert np.array_equal(a, b), f"{what}: {a} != {b}"


def _task(i: int) -> tuple[str, Callable[..., Any], tuple[Any, ...], Any]:
    """Thread ``i``'s function and its own numpy inputs (two threads share a function, never inputs)."""
    name, f, make, argnum = FUNCTIONS[i % len(FUNCTIONS)]
    return f"{name}#{i}", f, make(np.random.default_rng(100 + i)), argnum


def _grad_results(optimize: bool, repeats: int) -> tuple[list[Any], list[Any]]:
    """Single-threaded results first, then the same calls from all threads at once."""
    tasks = [_task(i) for i in range(THREADS)]
    # One gradient function per thread (optimized ones keep their programs: the replays are checked too).
    dfs = [grad(f, argnum=argnum, optimize=optimize) for _, f, _, argnum in tasks]
    alone = [_numpy(dfs[i](*_tensors(tasks[i][2]))) for i in range(THREADS)]

    def work(i: int) -> list[Any]:
        name, f, args, argnum = tasks[i]
        df = dfs[i] if optimize else grad(f, argnum=argnum)
        return [_numpy(df(*_tensors(args))) for _ in range(repeats)]

    return alone, run_threads(work)


@pytest.mark.parametrize("optimize", [False, True], ids=["direct", "optimized"])
def test_grad_in_threads_sees_only_its_own_tape(optimize: bool) -> None:
    alone, together = _grad_results(optimize, repeats=25)
    for i, runs in enumerate(together):
        for k, r in enumerate(runs):
            _identical(r, alone[i], f"{_task(i)[0]} call {k}")


def test_one_optimized_grad_shared_by_racing_threads() -> None:
    """Threads racing on one fresh optimized function all get its gradient, from one recording.

    (Optimized._record once recorded again whatever thread had found no program before waiting for
    the recording lock: 16 racing threads made up to 16 copies of one path, past MAX_PATHS.)
    """
    f = FUNCTIONS[0][1]
    args = FUNCTIONS[0][2](np.random.default_rng(7))
    want = _numpy(grad(f)(*_tensors(args)))
    for _ in range(5):
        df = grad(f, optimize=True)
        results = run_threads(lambda i, df=df: [_numpy(df(*_tensors(args))) for _ in range(3)], 16)
        assert df.recordings == 1 and not df.fallbacks, df
        for runs in results:
            for r in runs:
                assert r[1] == pytest.approx(want[1], rel=1e-12)
                for k in want[0]:
                    np.testing.assert_allclose(r[0][k], want[0][k], rtol=1e-12, atol=1e-12)


def test_many_short_grad_calls_enter_and_leave_traces_safely() -> None:
    """Traces opened and closed by 8 threads at once: none left active, autograd's write watcher gone.

    (Trace.__enter__/__exit__ once tested and changed the shared list of traces without a lock:
    two threads could both add the watcher, or both remove it, a ValueError.)
    """
    from flambeau.autograd import tracer
    from flambeau.tensor import optable

    def work(i: int) -> float:
        x = ft.full(3, fill_value=float(i))
        df = grad(lambda u: ft.sum(u * u))
        total = 0.0
        for _ in range(1500):
            total += float(df(x)[0].sum())
        return total

    assert run_threads(work) == [1500 * 6.0 * i for i in range(THREADS)]
    assert tracer.active_traces == []
    assert tracer._check_write not in optable.write_watchers


FIRST_GRAD_IN_THREADS = """
import threading
import flambeau.tensor as ft
from flambeau.autograd import grad
barrier = threading.Barrier(8)
out = []
def work():
    barrier.wait()
    out.append(float(grad(lambda u: ft.sum(u * ft.sin(u)))(ft.ones(3))[0].sum()))
threads = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(len(out), len(set(out)))
"""


def test_first_grad_calls_race_on_loading_the_rules() -> None:
    """In a fresh process, 8 threads' first grad calls at once all find the rules loaded.

    (load_gradients once marked the rules loaded before registering them: the threads that did
    not load them raised MissingGradientError.)
    """
    import subprocess

    r = subprocess.run([sys.executable, "-c", FIRST_GRAD_IN_THREADS], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["8", "1"], r.stdout + r.stderr[-2000:]


# --------------------------------------------------------------------------------------------
# Device contexts are per thread.


def test_device_stack_is_per_thread() -> None:
    """Thread i nests i + 1 device contexts: each sees only its own, while the others enter and leave theirs."""
    from contextlib import ExitStack

    from flambeau.tensor.registry import _stack

    def work(i: int) -> list[int]:
        depths = []
        for _ in range(200):
            with ExitStack() as contexts:
                for _ in range(i + 1):
                    contexts.enter_context(ft.device("cpu"))
                depths.append(len(_stack()))
                x = ft.ones(3)
                depths.append(len(_stack()) if x.device == "cpu" else -1)
            depths.append(len(_stack()))
        return depths

    for i, depths in enumerate(run_threads(work)):
        assert depths == [i + 1, i + 1, 0] * 200, f"thread {i} saw another thread's device contexts"


def test_device_contexts_of_threads_on_two_devices() -> None:
    other = ft.device("boxed") if _has("boxed") else None
    if other is None:
        pytest.skip("needs a second device (the boxed test backend)")
    cpu = ft.device("cpu")
    r = np.random.default_rng(3)
    x0 = r.standard_normal((4, 3))

    def work(i: int) -> list[str]:
        dev = other if i % 2 else cpu
        seen = []
        with ft.device(dev):
            for _ in range(50):
                seen.append(str(ft.current_device()))
                x = ft.ones(4, 3) * ft.from_numpy(x0.copy()).to(dev)
                seen.append(str(x.device))
                g = grad(lambda u: ft.sum(ft.tanh(u) * u))(x)[0]
                seen.append(str(g.device))
                np.testing.assert_allclose(
                    (g.cpu() if g.device != cpu else g).numpy(),
                    np.tanh(x0) + x0 * (1 - np.tanh(x0) ** 2),
                    rtol=1e-12,
                )
        seen.append(str(ft.current_device()))  # back to the default once the context exits
        return seen

    for i, seen in enumerate(run_threads(work)):
        want = str(other if i % 2 else cpu)
        assert set(seen[:-1]) == {want}, f"thread {i} saw devices {sorted(set(seen))}"
        assert seen[-1] == "cpu"


def _has(kind: str) -> bool:
    try:
        ft.device(kind)
    except Exception:
        return False
    return True
