"""CUDA graphs in optimized mode (``optimize(..., cuda_graph=True)``) and ``train_step``.

The CPU tests cover what does not need a GPU: the option's plumbing and what it says on the cpu,
which programs can be captured, and ``train_step`` against flambeau.optim (through
``autograd.optim``) step by step. The tests marked ``gpu`` capture and replay real graphs on a cuda
device (skipped, with the reason, where there is none).
"""

from __future__ import annotations

import ast
import collections
import contextlib
import functools
import gc
import re
import sys
import types
import warnings
from typing import Any

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau import autograd
from flambeau.autograd import capture, compiler, grad, optimize
from flambeau.autograd.capture import RetraceSignal
from flambeau.autograd.graphs import CapturedGraph, GraphCaptureError, Packed, refusal, segments
from flambeau.autograd.model import _conv2d, _max_pool2d
from flambeau.tensor.errors import ArgumentError, DomainError
from flambeau.tensor.optable import trusted_values
from flambeau.tensor.testing import cuda_reason

# -- helpers --------------------------------------------------------------------------------------


_REASON = cuda_reason()
gpu = pytest.mark.skipif(bool(_REASON), reason=f"no cuda here: {_REASON}")


def _mlp_loss(p: dict[str, Any], x: Any, y: Any) -> Any:
    h = ft.tanh(x @ p["W1"] + p["b1"])
    z = h @ p["W2"] + p["b2"]
    logp = z - ft.logsumexp(z, 1, keepdim=True)
    return -ft.sum(logp * y)


def _mlp(rng: np.random.Generator, dtype: Any, batch: int = 16) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    p = {
        "W1": rng.standard_normal((12, 8)) / 4,
        "b1": rng.standard_normal(8) * 0.1,
        "W2": rng.standard_normal((8, 5)) / 3,
        "b2": rng.standard_normal(5) * 0.1,
    }
    x = rng.standard_normal((batch, 12))
    y = np.eye(5)[rng.integers(0, 5, batch)]
    return {k: v.astype(dtype) for k, v in p.items()}, x.astype(dtype), y.astype(dtype)


def _tensors(p: dict[str, np.ndarray], device: str = "cpu") -> dict[str, Any]:
    return {k: ft.from_numpy(v.copy()).to(device) for k, v in p.items()}


def _host(t: Any) -> np.ndarray:
    return np.asarray(t.to("cpu").numpy(), dtype=np.float64)


def _close(a: Any, b: Any, rtol: float, atol: float = 0.0) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _close(a[k], b[k], rtol, atol)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            _close(u, v, rtol, atol)
    else:
        np.testing.assert_allclose(_host(a), _host(b), rtol=rtol, atol=atol)


# -- the option on the cpu ------------------------------------------------------------------------


def test_on_the_cpu_cuda_graph_changes_no_result_and_says_why_it_has_no_graph() -> None:
    p, x, y = _mlp(np.random.default_rng(0), np.float64)
    params = _tensors(p)
    plain = grad(_mlp_loss)
    dg = grad(_mlp_loss, optimize=True, cuda_graph=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning on the cpu: running without a graph is expected there
        for k in range(3):
            xs, ys = ft.from_numpy(x + k), ft.from_numpy(y)
            _close(dg(params, xs, ys), plain(params, xs, ys), 1e-12)
    assert dg.cuda_graph and dg.recordings == 1 and dg.replays == 2 and dg.captures == 0
    assert dg.graph_fallbacks == ["not on a cuda device (CUDA graphs need one; the program runs as it is)"]
    assert dg.fallbacks == []


def test_grad_refuses_a_graph_without_optimize() -> None:
    with pytest.raises(ArgumentError, match="cuda_graph=True needs optimize=True"):
        grad(_mlp_loss, cuda_graph=True)


def test_a_program_with_guards_is_cut_at_them_into_parts_that_together_are_its_run() -> None:
    def branchy(p: dict[str, Any], x: Any) -> Any:
        h = ft.tanh(x @ p["W"])
        if bool(h.sum() > 0):  # two guards: three stretches of device work
            h = h * 2
        return (h * h).sum() if bool(h.max() < 1.5) else h.sum()

    rng = np.random.default_rng(2)
    p = {"W": ft.from_numpy(rng.standard_normal((3, 2)))}
    x = ft.from_numpy(np.abs(rng.standard_normal((4, 3))))
    p["W"].abs_()
    df = optimize(grad(branchy))
    df(p, x)
    (prog,) = next(iter(df.programs.values()))
    assert refusal(prog) is None and prog.reads["guards"]
    parts = segments(prog)
    assert len(parts) == 3 and [guard is None for _, guard in parts] == [False, False, True]
    leaves = [p["W"], x]
    env: dict[str, Any] = {}
    for segment, guard in parts:
        res = segment(leaves, env)
        if guard is not None:
            guard(env)
    _close(res, prog.run(leaves), 0.0)
    _close(res, grad(branchy)(p, x), 1e-12)
    # A value a segment hands on stays in env; one no later part reads does not.
    assert "v0" not in env and all(re.fullmatch(r"v\d+", k) for k in env)
    env = {}
    parts[0][0]([p["W"], -x], env)  # the other branch: the first guard stops it
    with pytest.raises(RetraceSignal):
        parts[0][1](env)
    plain = optimize(grad(lambda a: (a.exp() * a).sum()))
    plain(x)
    ((segment, guard),) = segments(next(iter(plain.programs.values()))[0])  # no guard: one part
    assert guard is None and "E[" not in segment.source
    _close(segment([x], {}), grad(lambda a: (a.exp() * a).sum())(x), 1e-12)


def test_packed_results_come_out_as_disjoint_fresh_views_of_one_copy_per_dtype() -> None:
    rng = np.random.default_rng(0)
    arrays = [
        rng.standard_normal((3, 4)),
        np.array(2.5),
        np.arange(5),
        rng.standard_normal((0, 2)),
        rng.standard_normal(7).T,
    ]
    arrays.append(rng.standard_normal((4, 3)).T)  # a non-contiguous result: copied into its part in C order
    p = Packed(np, arrays)
    assert {str(k): v.size for k, v in p.blocks.items()} == {"float64": 12 + 1 + 0 + 7 + 12, "int64": 5}
    p.fill(np, arrays)
    first, second = p.fresh(), p.fresh()
    for a, f, g in zip(arrays, first, second, strict=True):
        assert f.shape == a.shape and f.dtype == a.dtype and f.flags.c_contiguous
        np.testing.assert_array_equal(f, a)
        assert not np.shares_memory(f, g)  # each replay's copies are its own
    blocks = {k: v.copy() for k, v in p.blocks.items()}
    first[0][...] = -1  # writing one result changes no other, nor the graph's block
    np.testing.assert_array_equal(first[5], arrays[5])
    for k, v in p.blocks.items():
        np.testing.assert_array_equal(v, blocks[k])
    assert sum(f.base is not None for f in first) == len(first)  # views: one allocation per dtype


def test_packed_refuses_results_that_changed_since_the_warm_up() -> None:
    p = Packed(np, [np.zeros(3), np.zeros(2, np.float32)])
    with pytest.raises(GraphCaptureError, match=r"from \(2,\) float32 in the warm-up to \(2,\) float64"):
        p.fill(np, [np.zeros(3), np.zeros(2)])


def _stand_in_cupy(end_fails: bool = False) -> types.ModuleType:
    """The parts of cupy CapturedGraph calls, over numpy; its graphs launch nothing (see below)."""
    cp = types.ModuleType("cupy")
    cp.empty, cp.empty_like, cp.copyto = np.empty, np.empty_like, np.copyto  # type: ignore[attr-defined]
    cp.ndarray = type("ndarray", (), {})  # type: ignore[attr-defined]  # (the cuda backend asks: no array is one)
    cp.capturing = False  # type: ignore[attr-defined]  # whether a stream is capturing

    class Stream:
        def __init__(self, non_blocking: bool = False):
            self.capturing = False

        def __enter__(self) -> Stream:
            return self

        def __exit__(self, *exc: Any) -> None:
            return None

        def wait_event(self, event: Any) -> None: ...
        def record(self) -> object:
            return object()

        def synchronize(self) -> None: ...
        def begin_capture(self, mode: int) -> None:
            self.capturing = cp.capturing = True  # type: ignore[attr-defined]

        def end_capture(self) -> Any:
            self.capturing = cp.capturing = False  # type: ignore[attr-defined]
            if end_fails:
                raise RuntimeError("cudaErrorStreamCaptureInvalidated")
            return types.SimpleNamespace(launch=None)

    pool = types.SimpleNamespace(malloc=None, total_bytes=lambda: 0)
    cp.cuda = types.SimpleNamespace(  # type: ignore[attr-defined]
        MemoryPool=lambda: pool,
        Stream=Stream,
        get_current_stream=Stream,
        using_allocator=lambda malloc: contextlib.nullcontext(),
        runtime=types.SimpleNamespace(streamCaptureModeThreadLocal=1),
    )
    return cp


def _simulated(prog: Any, leaves: list[Any], copied: set[int], writeback: Any = None) -> CapturedGraph:
    """A CapturedGraph built on the CPU (see :class:`_SimulatedGraph`)."""
    return _SimulatedGraph(prog, leaves, copied, writeback=writeback)


class _SimulatedGraph(CapturedGraph):
    """A CapturedGraph on the stand-in cupy whose "graphs" re-run what they captured on the same
    static memory when launched, which is what a CUDA graph's launch does (counted in ``runs``).
    What it checks: the replay reads its inputs and writes its results only through the graph's
    static memory and the values its segments hand on, as real graphs need. What it cannot: a
    launch re-runs its segment in Python and puts new arrays into ``env``, where a real graph
    writes into the arrays captured there; that the guards read those very arrays rests on
    :func:`segments` storing them (tested on its own) and on the GPU tests."""

    def __init__(self, prog: Any, leaves: list[Any], copied: Any, stable: bool = False, writeback: Any = None) -> None:
        before = [t.clone() for t in leaves]
        super().__init__(prog, leaves, copied, stable, writeback)
        for t, b in zip(leaves, before, strict=True):
            t.copy_(b)  # a real capture records the body without running it: undo its updates
        self.runs = [0] * len(self.parts)
        for i, graph in enumerate(self.graphs):
            if graph is not None:
                graph.launch = functools.partial(self._launch, i, writeback)

    def _launch(self, i: int, writeback: Any) -> None:
        self.runs[i] += 1
        segment = self.parts[i][0]
        if i < len(self.parts) - 1:
            segment(self.static, self.env)
        else:
            self._body(segment, writeback)


@pytest.fixture
def stand_in_graphs(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Optimized's own flow on the cpu as on cuda, with :class:`_SimulatedGraph` graphs (gives the stand-in cupy)."""
    cp = _stand_in_cupy()
    monkeypatch.setitem(sys.modules, "cupy", cp)
    monkeypatch.setattr(compiler, "is_cuda", lambda leaves, device: True)
    monkeypatch.setattr(compiler, "CapturedGraph", _SimulatedGraph)
    return cp


def test_a_simulated_graph_replays_new_inputs_through_its_static_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", _stand_in_cupy())
    rng = np.random.default_rng(3)
    p, x, y = _mlp(rng, np.float64)
    params = _tensors(p)
    dg, plain = grad(_mlp_loss, optimize=True), grad(_mlp_loss)
    xs, ys = ft.from_numpy(x), ft.from_numpy(y)
    dg(params, xs, ys)
    (prog,) = next(iter(dg.programs.values()))
    leaves = [*params.values(), xs, ys]
    g = _simulated(prog, leaves, copied={4})  # x copied into a static array, the rest read in place
    seen = []
    for k in range(3):
        xk = ft.from_numpy(x * (1 + k))  # a new tensor each call: copied in
        out = g.replay([*params.values(), xk, ys])
        _close(out, plain(params, xk, ys), 1e-12)
        seen.append(out)
    assert g.launches == 3 and not np.shares_memory(seen[0][0]["W1"].numpy(), seen[1][0]["W1"].numpy())
    _close(seen[0], plain(params, xs, ys), 1e-12)  # an earlier result is not overwritten by later replays
    params["W1"].mul_(2)  # read in place: the replay sees it
    _close(g.replay([*params.values(), xs, ys]), plain(params, xs, ys), 1e-12)
    assert g.fits(leaves) and g.moved([ft.zeros(12, 8), *leaves[1:]]) == {0}


@pytest.mark.parametrize(
    ("failing", "message"),
    [
        ("namespace", r"its capture namespace could not be made \(OSError: no libcublas\)"),
        ("warm-up", r"its warm-up run failed \(RuntimeError: GEMM 1\)"),
        ("capture", r"capturing it failed \(RuntimeError: GEMM 3\); an op probably read a device value"),
        ("layout", r"input 0 \(size \(2, 3\), strides \(48, 16\)\) changes tensor from call to call"),
        ("end", r"ending its capture failed \(RuntimeError: cudaErrorStreamCaptureInvalidated\)"),
    ],
)
def test_a_graph_that_cannot_be_set_up_says_why(monkeypatch: pytest.MonkeyPatch, failing: str, message: str) -> None:
    monkeypatch.setitem(sys.modules, "cupy", _stand_in_cupy(end_fails=failing == "end"))
    f = optimize(lambda a, b: a @ b)
    a, b = ft.from_numpy(np.ones((2, 6))[:, ::2]), ft.ones(3, 2)
    f(a, b)
    (prog,) = next(iter(f.programs.values()))
    calls = []

    def gemm(x: Any, y: Any) -> Any:  # the namespace's products: the warm-ups are calls 1 and 2, the capture 3
        calls.append(1)
        if failing == "warm-up" or (failing == "capture" and len(calls) == 3):
            raise RuntimeError(f"GEMM {len(calls)}")
        return np.dot(x, y)

    def make() -> Any:
        if failing == "namespace":
            raise OSError("no libcublas")
        return types.SimpleNamespace(wrapped=np, OVERRIDES=("dot", "matmul"), dot=gemm, matmul=gemm)

    monkeypatch.setattr(a._d.backend, "capture_namespace", make, raising=False)
    with pytest.raises(GraphCaptureError, match=message):
        CapturedGraph(prog, [a, b], copied={0} if failing == "layout" else set())


def _two_paths(p: dict[str, Any], x: Any) -> Any:
    h = ft.tanh(x @ p["W"])
    if bool(h.sum() > 0):
        return (h * 2).sum()
    return (h * h).sum()


def test_each_path_of_a_function_with_guards_gets_its_graphs_and_a_failed_guard_moves_on(
    stand_in_graphs: Any,
) -> None:
    # Optimized's own flow, with stand-in graphs that run what they captured: the first replay of a
    # path captures its program (after a plain run shows the arguments take it); a later call on
    # the other path launches the first graph up to its guard, then the other program's graphs.
    rng = np.random.default_rng(6)
    p = {"W": ft.from_numpy(np.abs(rng.standard_normal((3, 2))))}
    x = np.abs(rng.standard_normal((4, 3)))
    xb = ft.from_numpy(x.copy())  # a batch tensor refilled in place: the graphs read it where it is
    dg, direct = grad(_two_paths, optimize=True, cuda_graph=True), grad(_two_paths)
    signs = [1, -1, -1, 1, 1, -1, 0.5, -2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no graph falls back
        for sign in signs:
            xb.copy_(ft.from_numpy(sign * x))
            _close(dg(p, xb), direct(p, xb), 1e-12)
    assert dg.recordings == 2 and dg.captures == 2 and dg.graph_fallbacks == []
    (k,) = dg.programs
    first, second = dg.graphs[k, 0], dg.graphs[k, 1]
    assert isinstance(first, CapturedGraph) and isinstance(second, CapturedGraph)
    # The 1st call records the first path, the 2nd (negative) the second. The 3rd captures the
    # second path only: the first program, run plainly, fails its guard, so it is not captured for
    # arguments on the other path. The 4th captures the first path; the 5th and 7th replay it; the
    # 6th and 8th launch its first segment, fail its guard and replay the second path's graphs.
    assert first.runs == [5, 3] and second.runs == [3, 3]
    assert first.launches == 3 and second.launches == 3


def test_a_guard_on_an_input_itself_needs_no_graph_before_it(stand_in_graphs: Any) -> None:
    # The first segment only reads the flag's array: nothing to capture (no empty graph is made),
    # and the guard reads the flag where the graph's input is, copied in or read in place.

    def f(flag: Any, w: Any) -> Any:
        return (w * 2).sum() if bool(flag) else (w * w).sum()

    df, direct = grad(f, argnum=1, optimize=True, cuda_graph=True), grad(f, argnum=1)
    w = ft.tensor([1.0, -3.0])
    flag = ft.tensor([1.0])
    for value in [1.0, 1.0, 0.0, 0.0, 1.0, 0.0]:
        flag.fill_(value)  # the same tensor: read in place
        _close(df(flag, w), direct(flag, w), 1e-12)
    for value in [1.0, 0.0, 1.0]:
        fresh = ft.tensor([value])  # a new tensor each call: copied in
        _close(df(fresh, w), direct(fresh, w), 1e-12)
    graphs = [g for g in df.graphs.values() if isinstance(g, CapturedGraph)]
    assert len(graphs) == 2 and all(g.graphs[0] is None and g.graphs[1] is not None for g in graphs)
    assert df.graph_fallbacks == []


def _nll(p: dict[str, Any], x: Any, t: Any) -> Any:
    z = x @ p["W"]
    logp = z - ft.logsumexp(z, 1, keepdim=True)
    return -logp.gather(1, t.view(-1, 1)).mean()


def test_an_index_range_check_is_a_guard_and_a_train_step_indexing_with_targets_is_captured(
    stand_in_graphs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # gather checks its indices by reading them back, which no graph can hold: the recording makes
    # the check a guard before the gather (here on an input: nothing to capture before it), the
    # gather skips its own, and the whole step is one graph. A bad target raises gather's error
    # before that graph runs: the parameters are not updated.
    rng = np.random.default_rng(8)
    p = {"W": ft.from_numpy(rng.standard_normal((3, 4)))}
    x, t = ft.from_numpy(rng.standard_normal((5, 3))), ft.from_numpy(np.array([0, 3, 1, 2, 3]))
    step = autograd.train_step(_nll, p, "sgd", {"learning_rate": 0.1}, cuda_graph=True)
    mine = {"W": p["W"].clone()}
    want = autograd.train_step(_nll, mine, "sgd", {"learning_rate": 0.1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no graph falls back
        for _ in range(4):
            assert abs(float(step(x, t)) - float(want(x, t))) < 1e-12
            _close(p, mine, 1e-12)
    (k,) = step.fn.programs
    (prog,) = step.fn.programs[k]
    assert prog.guarded_ranges and "if not _same(" in prog.source and refusal(prog) is None
    g = step.fn.graphs[k, 0]
    assert isinstance(g, CapturedGraph) and g.graphs[0] is None and g.runs == [0, 3] and step.fn.graph_fallbacks == []
    before = p["W"].clone()
    with pytest.raises(
        ft.IndexError, match=r"gather: index out of range for a dimension of size 4 \(indices from 0 to 4\)"
    ):
        step(x, ft.from_numpy(np.array([0, 4, 1, 2, 3])))
    assert p["W"].equal(before) and g.runs == [0, 3]  # nothing after the guard ran
    assert abs(float(step(x, t)) - float(want(x, t))) < 1e-12 and g.runs == [0, 4]
    reads: list[int] = []
    monkeypatch.setattr(capture, "require_in_range", lambda i, n, op: reads.append(n))
    step(x, t)
    with trusted_values():  # no checks: the guard reads nothing either
        step(x, t)
    assert reads == [4] and g.runs == [0, 6]


def test_the_ops_check_their_indices_where_a_recording_cannot_guard_them() -> None:
    # Indices that are no argument's array (made inside the op), or the array of two arguments,
    # keep the op's own check; a constant's (a plain tensor's memory, read on each replay) get a guard.
    from flambeau.tensor.optable import checked_range, range_checks_to

    cap = capture.Capture()
    i, c, both = cap.sym(np.array([0, 1]), ft.device("cpu")), np.array([1]), np.array([0])
    items = [("c", np), ("v", i._g.id), ("c", c), ("c", both), ("c", both)]
    hook = capture._range_hook(cap, items, [np, i._a, c, both, both], {}, {})
    with range_checks_to(hook):
        checked_range(i._a, 3, "gather")
        checked_range(c, 2, "index_select")
        assert not cap.unguarded_ranges
        checked_range(both, 3, "index_put")
        assert cap.unguarded_ranges
        cap.unguarded_ranges = False
        checked_range(np.array([2]), 3, "index_select")
    assert cap.range_guards == 2 and cap.unguarded_ranges
    assert [ins.args for ins in cap.code] == [
        [("v", i._g.id), ("c", 3), ("c", "gather")],
        [("c", c), ("c", 2), ("c", "index_select")],
    ]
    assert all(ins.kind == "guard" and ins.fn is capture._range_ok and ins.expect is True for ins in cap.code)


def test_a_bad_index_raises_the_ops_error_at_its_guard_without_recording_again() -> None:
    f = optimize(lambda x, i: x.index_select(0, i) * 2)
    x, i = ft.arange(0, 6).view(3, 2), ft.LongTensor([2, 0])
    f(x, i)
    f(x, i)
    for bad in ([3, 0], [0, -4]):
        with pytest.raises(ft.IndexError, match=r"index_select: index out of range for a dimension of size 3"):
            f(x, ft.LongTensor(bad))
    assert f.recordings == 1 and f.fallbacks == []
    assert f(x, ft.LongTensor([1, 1])).tolist() == [[4.0, 6.0], [4.0, 6.0]] and f.replays == 2


def test_indices_held_by_a_plain_tensor_are_guarded_and_two_arguments_sharing_an_array_keep_the_ops_check() -> None:
    perm = ft.LongTensor([1, 0])  # reached by the function, not passed: read again on each replay
    f = optimize(lambda x, t: x.gather(1, t.view(-1, 1)).sum() + x.index_select(0, perm).sum())
    x, t = ft.arange(0, 6).view(2, 3), ft.LongTensor([2, 0])
    assert float(f(x, t)) == float(f(x, t)) == 20.0
    ((prog,),) = f.programs.values()
    assert prog.guarded_ranges and prog.source.count("_range_ok") == 0 and prog.source.count("raise _Retrace") == 2
    perm.fill_(7)
    with pytest.raises(ft.IndexError, match="index_select: index out of range for a dimension of size 2"):
        f(x, t)
    g = optimize(lambda a, i, j: a[i, j])
    a, k = ft.arange(0, 9).view(3, 3), ft.LongTensor([0, 2])
    g(a, k, k)  # recorded with one array for both index arguments: which guard is whose is unknown
    ((prog,),) = g.programs.values()
    assert not prog.guarded_ranges and "raise _Retrace" not in prog.source
    with pytest.raises(ft.IndexError):
        g(a, k, ft.LongTensor([0, 5]))


def test_two_guards_in_a_row_and_each_path_of_them_replay_through_graphs(stand_in_graphs: Any) -> None:
    def f(x: Any) -> Any:
        s = 1.0 if bool(x.sum() > 0) else -1.0
        t = 2.0 if bool((x * x).sum() > 3) else 0.5
        return (x * (s * t)).exp().sum()

    dg, direct = grad(f, optimize=True, cuda_graph=True), grad(f)
    xb = ft.tensor([1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for v in [[1, 2], [1, 2], [0.1, 0.2], [0.1, 0.2], [-1, -2], [-1, -2], [1, 2], [0.1, 0.2], [-0.1, -0.2]] * 2:
            xb.copy_(ft.tensor(v, dtype=xb.dtype))
            _close(dg(xb), direct(xb), 1e-12)
    graphs = [g for g in dg.graphs.values() if isinstance(g, CapturedGraph)]
    assert dg.recordings == 4 and dg.captures == 4 and all(len(g.parts) == 3 for g in graphs)


def test_a_segment_takes_from_the_env_what_it_reads_before_writing_it() -> None:
    from flambeau.autograd.graphs import _read_first

    piece = ast.parse("v4 = f(v1)\nv4 = g(v4)\nv1 = v1 + v4\nv5 = h(v1, v2)").body
    assert _read_first(piece) == {"v1", "v2"}  # v4 is its own; v1 is read before it is written


def test_a_program_constant_named_like_a_parameter_does_not_hide_it() -> None:
    pair = collections.namedtuple("E", "a b")  # its class is a program constant named E

    def f(x: Any) -> Any:
        return pair(x * 2, x.exp()) if bool(x.sum() > 0) else pair(x, x)

    g = optimize(f)
    x = ft.tensor([0.5, 1.0])
    g(x)
    (prog,) = next(iter(g.programs.values()))
    env: dict[str, Any] = {}
    (first, guard), (last, _) = segments(prog)
    first([x], env)
    guard(env)
    got = last([x], env)
    assert type(got) is pair and got.b.tolist() == x.exp().tolist()


def test_the_capture_mode_exchange_returns_the_old_mode_and_names_a_failing_status() -> None:
    from flambeau.autograd.graphs import _driver_exchange

    class Driver:  # cuThreadExchangeStreamCaptureMode: sets the mode, writes the old one back
        def __init__(self) -> None:
            self.mode, self.status = 1, 0
            outer = self

            class Fn:
                argtypes: Any = None
                restype: Any = None

                def __call__(self, ref: Any) -> int:
                    ref._obj.value, outer.mode = outer.mode, ref._obj.value
                    return outer.status

            self.cuThreadExchangeStreamCaptureMode = Fn()

    driver = Driver()
    exchange = _driver_exchange(driver)
    assert exchange is not None and exchange(2) == 1 and driver.mode == 2 and exchange(1) == 2
    driver.status = 900
    with pytest.raises(
        GraphCaptureError, match=r"cuThreadExchangeStreamCaptureMode\(2\) failed with CUDA driver status 900"
    ):
        exchange(2)
    assert _driver_exchange(object()) is None  # no such function: plain allocation, as without a driver


def test_the_garbage_collector_waits_until_every_thread_has_captured() -> None:
    from flambeau.autograd.graphs import _gc_paused

    was = gc.isenabled()
    gc.enable()
    try:
        with _gc_paused():
            with _gc_paused():  # another thread's capture starts, and ends first
                assert not gc.isenabled()
            assert not gc.isenabled()  # still capturing
        assert gc.isenabled()
        gc.disable()
        with _gc_paused():
            pass
        assert not gc.isenabled()  # off before: left off
    finally:
        (gc.enable if was else gc.disable)()


def test_a_signature_given_up_lets_its_graphs_and_their_memory_go(stand_in_graphs: Any) -> None:
    df = optimize(lambda x: x * 2 if bool(x.sum() > x.numel()) else x * 3, cuda_graph=True)
    xb = ft.tensor([1.0, 2.0])
    for v in [1, 1, 5, 5]:
        xb.fill_(v)
        df(xb)
    assert len([g for g in df.graphs.values() if isinstance(g, CapturedGraph)]) == 2
    (k,) = df.programs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        df._give_up(k, "a test", (xb,), {})
    assert df.graphs == {} and isinstance(df.programs[k], compiler._Fallback)


def test_a_graph_another_thread_set_up_meanwhile_is_used_not_captured_again(
    stand_in_graphs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    df = optimize(lambda a, b: a @ b + 1.0, cuda_graph=True)
    a, b = ft.ones(2, 3), ft.ones(3, 2)
    df(a, b)  # recorded
    ((k, (prog,)),) = df.programs.items()
    other = _SimulatedGraph(prog, [a, b], set())  # what the other thread captured
    refusal_ = compiler.refusal

    def meanwhile(p: Any) -> Any:  # after this call read "no graph", before it takes the program's lock
        df.graphs[k, 0] = other
        return refusal_(p)

    monkeypatch.setattr(compiler, "refusal", meanwhile)
    assert df(a, b).tolist() == [[4.0, 4.0], [4.0, 4.0]]
    assert df.captures == 0 and df.graphs[k, 0] is other and other.launches == 1


@pytest.mark.parametrize("copy_w", [False, True], ids=["in place", "copied"])
def test_a_simulated_graph_writes_updates_back_into_the_callers_tensors(
    monkeypatch: pytest.MonkeyPatch, copy_w: bool
) -> None:
    monkeypatch.setitem(sys.modules, "cupy", _stand_in_cupy())
    f = optimize(lambda w, x: ((w * x).sum(), w - 0.5 * x))
    w, x = ft.tensor([1.0, 2.0]), ft.tensor([2.0, 4.0])
    f(w, x)
    (prog,) = next(iter(f.programs.values()))
    g = _simulated(prog, [w, x], copied={0} if copy_w else set(), writeback=lambda r: (r[0], [(r[1], 0)]))
    for want_loss, want_w in [(10.0, [0.0, 0.0]), (0.0, [-1.0, -2.0])]:
        got = g.replay([w, x])
        assert float(got.value) == want_loss and w.tolist() == want_w


def test_a_program_returning_a_python_number_from_the_device_cannot_be_captured() -> None:
    f = optimize(grad(lambda a, b: a * b))  # float arguments: the gradient is a Python float
    assert f(2.0, ft.Tensor([3.0]))[0] == 3.0
    f(2.0, ft.Tensor([3.0]))
    (prog,) = next(iter(f.programs.values()))
    assert "Python number" in (refusal(prog) or "")


# -- train_step on the cpu: flambeau.optim's updates, step by step ---------------------------------


def _need_optim() -> None:
    pytest.importorskip("flambeau.optim", reason="flambeau.optim (the optim extra) is not installed")


def _net(p: dict[str, Any], x: Any, y: Any) -> Any:
    pred = (x @ p["W"] + p["b"][0]).tanh()
    d = pred - y
    return (d * d).sum()


def _net_params(rng: np.random.Generator) -> dict[str, Any]:
    return {"W": ft.from_numpy(rng.standard_normal((3, 2))), "b": [ft.from_numpy(rng.standard_normal(2))]}


def _copy(p: dict[str, Any]) -> dict[str, Any]:
    return {"W": p["W"].clone(), "b": [p["b"][0].clone()]}


CONFIGS = [
    ("sgd", {"learning_rate": 0.1}),
    ("sgd", {"learning_rate": 0.05, "momentum": 0.9}),  # Torch's dampening = momentum
    ("sgd", {"learning_rate": 0.05, "momentum": 0.9, "dampening": 0, "nesterov": True, "weight_decay": 0.01}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.5, "dampening": 0.1, "learning_rate_decay": 0.3}),
    ("adam", {"learning_rate": 0.05}),
    ("adam", {"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6, "weight_decay": 0.1}),
    ("adam", {"learning_rate": 0.05, "learning_rate_decay": 0.2}),
    ("adagrad", {"learning_rate": 0.1}),
    ("adagrad", {"learning_rate": 0.2, "learning_rate_decay": 0.3, "weight_decay": 0.05}),
    ("adadelta", {}),
    ("adadelta", {"rho": 0.5, "eps": 1e-4, "weight_decay": 0.1}),
    ("adamax", {"learning_rate": 0.05}),
    ("adamax", {"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-6, "weight_decay": 0.1}),
    ("nag", {"learning_rate": 0.05}),
    ("nag", {"learning_rate": 0.05, "momentum": 0.5, "learning_rate_decay": 0.2, "weight_decay": 0.05}),
    ("rmsprop", {"learning_rate": 0.01}),
    ("rmsprop", {"learning_rate": 0.02, "alpha": 0.9, "epsilon": 1e-4, "weight_decay": 0.1, "initial_mean": 1.0}),
    ("asgd", {"eta0": 0.1, "t0": 2}),  # averaging from the 3rd step: mu_t 1, then below 1
    ("asgd", {"eta0": 0.05, "lambda": 0.1, "alpha": 0.5, "t0": 0}),
    ("rprop", {}),
    ("rprop", {"stepsize": 0.5, "etaplus": 1.5, "etaminus": 0.3, "stepsizemax": 0.6, "stepsizemin": 0.1}),
]


def test_train_step_knows_flambeau_optims_config_keys_and_defaults() -> None:
    _need_optim()
    from flambeau.autograd.train import OPTIMIZERS
    from flambeau.optim import first_order

    for name, defaults in OPTIMIZERS.items():
        torch_defaults = dict(getattr(first_order, f"{name.upper()}_DEFAULTS"))
        for per_element in ("learning_rates", "weight_decays"):  # tensors: autograd.optim's alone
            torch_defaults.pop(per_element, None)
        assert defaults == torch_defaults, name


@pytest.mark.parametrize("optimize_it", [True, False], ids=["optimized", "plain"])
@pytest.mark.parametrize(("name", "config"), CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_train_step_equals_flambeau_optim_step_by_step(name: str, config: dict[str, Any], optimize_it: bool) -> None:
    _need_optim()
    rng = np.random.default_rng(1)
    mine = _net_params(rng)
    theirs = _copy(mine)
    step = autograd.train_step(_net, mine, name, config, optimize=optimize_it)
    optimfn, state = getattr(autograd.optim, name)(grad(_net), dict(config), theirs)
    for _ in range(6):
        x, y = ft.from_numpy(rng.standard_normal((4, 3))), ft.from_numpy(rng.standard_normal((4, 2)))
        loss = step(x, y)
        _, want = optimfn(x, y)
        assert abs(float(loss) - float(want)) <= 1e-12 * max(1.0, abs(float(want)))
        _close(mine, theirs, 1e-12, 1e-14)
        if name == "asgd":  # the averaged iterate: flambeau.optim's is flat, train_step's a tree like params
            ax = step.state["ax"]
            _close(ft.cat([ax["W"].view(-1), ax["b"][0]]), state["ax"], 1e-12, 1e-14)
    if optimize_it:
        assert step.fn.recordings == 1 and step.fn.replays == 5 and step.fn.fallbacks == []


def test_train_step_updates_the_callers_tensors_in_place_and_keeps_its_state_like_params() -> None:
    rng = np.random.default_rng(2)
    params = _net_params(rng)
    w, b = params["W"], params["b"][0]
    before = w.clone()
    step = autograd.train_step(_net, params, "adam", {"learning_rate": 0.1})
    x, y = ft.from_numpy(rng.standard_normal((4, 3))), ft.from_numpy(rng.standard_normal((4, 2)))
    for _ in range(3):
        step(x, y)
    assert params["W"] is w and params["b"][0] is b  # the same tensors, new values
    assert not bool((w - before).abs().max() == 0)
    assert float(step.state["t"]) == 3.0 and step.state["t"].dim() == 0
    assert step.state["m"].keys() == params.keys() and step.state["m"]["W"].size() == w.size()


def test_train_step_results_are_fresh_every_call() -> None:
    rng = np.random.default_rng(3)
    params = _net_params(rng)
    step = autograd.train_step(lambda p, x, y: (_net(p, x, y), p["W"] * 1.0), params, "sgd", {"learning_rate": 0.1})
    x, y = ft.from_numpy(rng.standard_normal((4, 3))), ft.from_numpy(rng.standard_normal((4, 2)))
    first = [step(x, y) for _ in range(2)]
    kept = [(float(loss), pred.clone()) for loss, pred in first]
    later = [step(x, y) for _ in range(2)]  # replays must not write into what earlier calls returned
    for (loss, pred), (v, p) in zip(first, kept, strict=True):
        assert float(loss) == v and bool((pred - p).abs().max() == 0)
    arrays = [r[1]._a for r in first + later]
    assert all(not np.shares_memory(a, c) for i, a in enumerate(arrays) for c in arrays[i + 1 :])
    assert all(not np.shares_memory(a, params["W"]._a) for a in arrays)


def test_train_step_records_again_for_a_new_signature_or_config() -> None:
    rng = np.random.default_rng(4)
    params = _net_params(rng)
    step = autograd.train_step(_net, params, "sgd", {"learning_rate": 0.1})
    batch = [
        (ft.from_numpy(rng.standard_normal((n, 3))), ft.from_numpy(rng.standard_normal((n, 2)))) for n in (4, 4, 5)
    ]
    for x, y in batch:
        step(x, y)
    assert step.fn.recordings == 2 and step.fn.replays == 1  # batch 5 is a new signature
    step.config["learning_rate"] = 0.2
    theirs = _copy(params)
    step(*batch[0])
    x, y = batch[0]
    g, _ = grad(_net)(theirs, x, y)
    assert step.fn.recordings == 3
    _close(params, {"W": theirs["W"] - 0.2 * g["W"], "b": [theirs["b"][0] - 0.2 * g["b"][0]]}, 1e-12)


def test_train_step_updates_a_parameter_tensor_the_caller_put_in_its_place() -> None:
    rng = np.random.default_rng(11)
    params = _net_params(rng)
    step = autograd.train_step(_net, params, "sgd", {"learning_rate": 0.1})
    x, y = ft.from_numpy(rng.standard_normal((4, 3))), ft.from_numpy(rng.standard_normal((4, 2)))
    step(x, y)
    old = params["b"][0]
    params["b"][0] = new = old.clone()
    kept = old.clone()
    g, _ = grad(_net)(_copy(params), x, y)
    step(x, y)
    assert bool((old - kept).abs().max() == 0)  # the tensor taken out is left alone
    _close(new, kept - 0.1 * g["b"][0], 1e-12)


def test_train_step_turning_momentum_on_later_starts_its_buffer_as_flambeau_optim_does() -> None:
    _need_optim()
    rng = np.random.default_rng(5)
    mine = _net_params(rng)
    theirs = _copy(mine)
    step = autograd.train_step(_net, mine, "sgd", {"learning_rate": 0.1})
    optimfn, state = autograd.optim.sgd(grad(_net), {"learning_rate": 0.1}, theirs)
    for k in range(4):
        if k == 2:
            step.config["momentum"] = state["momentum"] = 0.5
        x, y = ft.from_numpy(rng.standard_normal((4, 3))), ft.from_numpy(rng.standard_normal((4, 2)))
        step(x, y)
        optimfn(x, y)
        _close(mine, theirs, 1e-12, 1e-14)


def test_train_step_says_what_is_wrong_with_its_arguments() -> None:
    params = {"W": ft.randn(3, 2)}
    with pytest.raises(ArgumentError, match="unknown optimizer 'lbfgs'"):
        autograd.train_step(_net, params, "lbfgs")
    with pytest.raises(ArgumentError, match="sgd has no config key.*'learning_rates'"):
        autograd.train_step(_net, params, "sgd", {"learning_rates": ft.ones(6)})
    with pytest.raises(DomainError, match="Nesterov"):
        autograd.train_step(_net, params, "sgd", {"momentum": 0.9, "nesterov": True})
    with pytest.raises(DomainError, match=r"nag needs momentum > 0 .*\(got 0.0\)"):
        autograd.train_step(_net, params, "nag", {"momentum": 0})
    with pytest.raises(
        ArgumentError, match="updates exist for sgd, adam, adagrad, adadelta, adamax, nag, rmsprop, asgd"
    ):
        autograd.train_step(_net, params, "cg")
    with pytest.raises(ArgumentError, match=r"rprop evaluates the gradient once per step here \(niter=1, got 3\)"):
        autograd.train_step(_net, params, "rprop", {"niter": 3})
    with pytest.raises(ArgumentError, match="cuda_graph=True needs optimize=True"):
        autograd.train_step(_net, params, "sgd", optimize=False, cuda_graph=True)
    with pytest.raises(ArgumentError, match="floating-point tensors, found a Tensor of dtype int64"):
        autograd.train_step(_net, {"W": ft.LongTensor([1])}, "sgd")
    with pytest.raises(ArgumentError, match="params holds no tensor to train"):
        autograd.train_step(_net, {"W": []}, "sgd")


def test_train_step_with_cuda_graph_on_the_cpu_runs_the_program() -> None:
    rng = np.random.default_rng(6)
    mine = _net_params(rng)
    theirs = _copy(mine)
    a = autograd.train_step(_net, mine, "adam", {"learning_rate": 0.1}, cuda_graph=True)
    b = autograd.train_step(_net, theirs, "adam", {"learning_rate": 0.1})
    x, y = ft.from_numpy(rng.standard_normal((4, 3))), ft.from_numpy(rng.standard_normal((4, 2)))
    for _ in range(3):
        assert float(a(x, y)) == float(b(x, y))
    _close(mine, theirs, 0.0)
    assert a.fn.captures == 0 and len(a.fn.graph_fallbacks) == 1


# -- on a cuda device ------------------------------------------------------------------------------


def _convnet_loss(p: dict[str, Any], x: Any, y: Any) -> Any:
    h = _max_pool2d(ft.tanh(_conv2d(x, p["W1"], p["b1"], 1, 0)), 2)
    h = _conv2d(h, p["W2"], p["b2"], 1, 0).reshape(x.size(0), 6)
    z = h @ p["W3"] + p["b3"]
    logp = z - ft.logsumexp(z, 1, keepdim=True)
    return -logp.gather(1, y.view(-1, 1)).mean()


def _convnet(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    p = {
        "W1": rng.uniform(-0.3, 0.3, (4, 3, 3, 3)),
        "b1": rng.uniform(-0.1, 0.1, 4),
        "W2": rng.uniform(-0.3, 0.3, (6, 4, 3, 3)),
        "b2": rng.uniform(-0.1, 0.1, 6),
        "W3": rng.uniform(-0.3, 0.3, (6, 3)),
        "b3": rng.uniform(-0.1, 0.1, 3),
    }
    x = rng.standard_normal((5, 3, 8, 8))  # 8 -> conv 6 -> pool 3 -> conv 1: 6 values per sample
    return {k: v.astype(np.float32) for k, v in p.items()}, x.astype(np.float32), rng.integers(0, 3, 5)


@pytest.mark.parametrize("model", ["mlp", "convnet", "convnet-checked"])
def test_the_replay_test_passes_on_stand_in_graphs(model: str, stand_in_graphs: Any) -> None:
    # The cuda test below, on the cpu with graphs that run what they captured: its models, its
    # data and Optimized's flow get checked everywhere, not only where there is a GPU.
    with trusted_values() if model == "convnet" else contextlib.nullcontext():
        _graph_against_direct(model, "cpu")


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("model", ["mlp", "convnet", "convnet-checked"])
def test_graph_replays_equal_direct_mode_with_new_inputs(model: str) -> None:
    # The convnet's gather of the targets checks its index range on the host: inside
    # trusted_values() the check is skipped and the step is one graph; outside ("checked") the
    # check is a guard before the graph, one read per call.
    with trusted_values() if model == "convnet" else warnings.catch_warnings():
        _graph_against_direct(model)


def _graph_against_direct(model: str, device: str = "cuda") -> None:
    rng = np.random.default_rng(7)
    if model == "mlp":
        p, x, y = _mlp(rng, np.float32)
        loss = _mlp_loss
        batches = [(x * (1 + 0.1 * k), y) for k in range(4)]
    else:  # convnet, convnet-checked
        p, x, yi = _convnet(rng)
        loss = _convnet_loss
        batches = [(x * (1 + 0.1 * k), yi) for k in range(4)]
    params = _tensors(p, device)
    direct = grad(loss)
    dg = grad(loss, optimize=True, cuda_graph=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a graph falling back would warn
        seen = []
        for xb, yb in batches:  # new tensors every call: the second capture copies them in
            xs, ys = ft.from_numpy(xb.copy()).to(device), ft.from_numpy(yb.copy()).to(device)
            got, want = dg(params, xs, ys), direct(params, xs, ys)
            _close(got, want, 1e-4, 1e-6)
            seen.append(float(got[1]))
    assert dg.captures >= 1 and dg.graph_fallbacks == []
    assert len(set(seen)) == len(seen)  # new inputs, new results
    # The same tensors refilled in place: read where they are, no new capture.
    xs, ys = ft.from_numpy(batches[0][0].copy()).to(device), ft.from_numpy(batches[0][1].copy()).to(device)
    dg(params, xs, ys)
    dg(params, xs, ys)
    captures = dg.captures
    for xb, _ in batches[1:]:
        xs.copy_(ft.from_numpy(xb.copy()).to(device))
        _close(dg(params, xs, ys), direct(params, xs, ys), 1e-4, 1e-6)
    assert dg.captures == captures


@pytest.mark.gpu
@gpu
def test_graph_results_are_not_aliased_across_replays_unless_asked() -> None:
    p, x, y = _mlp(np.random.default_rng(8), np.float32)
    params = _tensors(p, "cuda")
    xs, ys = ft.from_numpy(x).to("cuda"), ft.from_numpy(y).to("cuda")
    dg = grad(_mlp_loss, optimize=True, cuda_graph=True)
    dg(params, xs, ys)  # recorded
    first = dg(params, xs, ys)  # captured and launched
    kept = _host(first[0]["W1"]), float(first[1])
    xs.mul_(2.0)
    second = dg(params, xs, ys)
    assert dg.captures == 1
    np.testing.assert_array_equal(_host(first[0]["W1"]), kept[0])
    assert float(first[1]) == kept[1] != float(second[1])
    assert first[0]["W1"]._a.data.ptr != second[0]["W1"]._a.data.ptr
    stable = optimize(grad(_mlp_loss), stable_buffers=True, cuda_graph=True)
    outs = [stable(params, xs, ys) for _ in range(3)]
    assert outs[1][0]["W1"]._a.data.ptr == outs[2][0]["W1"]._a.data.ptr  # the graph's own output arrays


@pytest.mark.gpu
@gpu
def test_a_capture_that_reads_the_host_ends_cleanly_and_the_program_runs_without_a_graph(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _host_read_falls_back("cuda", monkeypatch)


def test_on_stand_in_graphs_a_capture_that_reads_the_host_falls_back(
    stand_in_graphs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flambeau.tensor.ops import indexing

    cp = stand_in_graphs
    check = indexing._check_range

    def reading(index: Any, n: int, op: str) -> None:  # a cupy array's bool() while capturing: refused
        if cp.capturing and indexing.value_checks():  # type: ignore[attr-defined]
            raise RuntimeError("cudaErrorStreamCaptureUnsupported: operation not permitted when stream is capturing")
        check(index, n, op)

    monkeypatch.setattr(indexing, "_check_range", reading)
    _host_read_falls_back("cpu", monkeypatch)


def _host_read_falls_back(device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A range check the recording cannot make a guard (as for indices made inside an op) stays in
    # the op: outside trusted_values() the convnet's gather then reads the device while capturing.
    def unguarded(cap: Any, *args: Any) -> Any:
        def hook(index: Any, n: int, op: str) -> None:
            cap.unguarded_ranges = True

        return hook

    monkeypatch.setattr(capture, "_range_hook", unguarded)
    p, x, yi = _convnet(np.random.default_rng(10))
    params = _tensors(p, device)
    direct = grad(_convnet_loss)
    dg = grad(_convnet_loss, optimize=True, cuda_graph=True)
    xs, ys = ft.from_numpy(x.copy()).to(device), ft.from_numpy(yi.copy()).to(device)
    dg(params, xs, ys)
    with pytest.warns(RuntimeWarning, match="without a CUDA graph: capturing it failed"):
        got = dg(params, xs, ys)
    _close(got, direct(params, xs, ys), 1e-4, 1e-6)
    assert dg.captures == 0 and len(dg.graph_fallbacks) == 1 and "trusted_values" in dg.graph_fallbacks[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once
        xs.mul_(0.5)
        _close(dg(params, xs, ys), direct(params, xs, ys), 1e-4, 1e-6)


@pytest.mark.gpu
@gpu
def test_a_function_with_a_guard_is_captured_per_path_with_its_guard_checked_between_graphs() -> None:
    _guard_paths("cuda")


def test_on_stand_in_graphs_a_function_with_a_guard_is_captured_per_path(stand_in_graphs: Any) -> None:
    _guard_paths("cpu")


def _guard_paths(device: str) -> None:
    rng = np.random.default_rng(12)
    # |x @ W| about 0.6: tanh away from saturation, so the gradients are not all 0 in float32
    p = {"W": ft.from_numpy((np.abs(rng.standard_normal((30, 20))) / 30).astype(np.float32)).to(device)}
    x = np.abs(rng.standard_normal((16, 30))).astype(np.float32)
    xb = ft.from_numpy(x.copy()).to(device)  # refilled in place: read where it is
    dg, direct = grad(_two_paths, optimize=True, cuda_graph=True), grad(_two_paths)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every path gets its graphs: no fallback warning
        for sign in [1, -1, -1, 1, 1, -1, 0.5, -2]:
            xb.copy_(ft.from_numpy(sign * x).to(device))
            got, want = dg(p, xb), direct(p, xb)
            assert float(abs(want[0]["W"]).max()) > 1e-2  # gradients worth comparing
            _close(got, want, 1e-4, 1e-6)
    assert dg.recordings == 2 and dg.captures == 2 and dg.graph_fallbacks == []
    graphs = [g for g in dg.graphs.values() if isinstance(g, CapturedGraph)]
    assert [len(g.graphs) for g in graphs] == [2, 2] and [g.launches for g in graphs] == [3, 3]


# train_step with and without a graph (the update inside it): one case per kind of state.
GRAPH_CONFIGS = [
    ("sgd", {"learning_rate": 0.05, "momentum": 0.9, "dampening": 0, "nesterov": True}),
    ("adam", {"learning_rate": 0.01}),
    ("nag", {"learning_rate": 0.02, "learning_rate_decay": 0.1}),
    ("rmsprop", {"learning_rate": 0.01, "initial_mean": 0.5}),
    ("rprop", {"stepsize": 0.01}),
]


@pytest.mark.parametrize(("name", "config"), GRAPH_CONFIGS, ids=[n for n, _ in GRAPH_CONFIGS])
def test_train_step_on_stand_in_graphs_equals_it_without(
    name: str, config: dict[str, Any], stand_in_graphs: Any
) -> None:
    _train_step_graph_against_plain(name, config, "cpu")


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize(("name", "config"), GRAPH_CONFIGS, ids=[n for n, _ in GRAPH_CONFIGS])
def test_train_step_with_a_graph_equals_it_without(name: str, config: dict[str, Any]) -> None:
    _train_step_graph_against_plain(name, config, "cuda")


def _train_step_graph_against_plain(name: str, config: dict[str, Any], device: str) -> None:
    rng = np.random.default_rng(9)
    p, x, y = _mlp(rng, np.float32)
    with_graph, without = _tensors(p, device), _tensors(p, device)
    a = autograd.train_step(_mlp_loss, with_graph, name, config, cuda_graph=True)
    b = autograd.train_step(_mlp_loss, without, name, config)
    xs, ys = ft.from_numpy(x.copy()).to(device), ft.from_numpy(y.copy()).to(device)
    w1 = with_graph["W1"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for k in range(5):
            xs.copy_(ft.from_numpy(x * (1 + 0.1 * k)).to(device))
            la, lb = a(xs, ys), b(xs, ys)
            np.testing.assert_allclose(float(la), float(lb), rtol=1e-4)
            _close(with_graph, without, 1e-4, 1e-6)
    assert a.fn.captures == 1 and a.fn.graph_fallbacks == [] and with_graph["W1"] is w1
    _close(a.state, b.state, 1e-4, 1e-6)
