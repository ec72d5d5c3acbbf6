"""Optimized mode: recording, replay, guards, fallbacks, fresh results, higher order.

The table-driven comparison with plain mode for every differentiable op is in
``test_optimize_table.py``; this file checks the machinery around it.
"""

from __future__ import annotations

import threading
import warnings
from collections import namedtuple
from typing import Any

import numpy as np
import pytest
from same import assert_same

import flambeau.tensor as ft
from flambeau.autograd import detach, grad, optimize, program
from flambeau.tensor.testing import host, on_device


def _t(*values: float) -> ft.Tensor:
    return ft.Tensor(list(values))


def _address(a: Any) -> int:
    """Where a backend array's data starts (numpy's interface, or cupy's)."""
    face = getattr(a, "__array_interface__", None) or a.__cuda_array_interface__
    return int(face["data"][0])


def _mlp(params: dict[str, Any], x: Any, y: Any) -> Any:
    h = ft.tanh(x @ params["W1"] + params["b1"])
    z = h @ params["W2"] + params["b2"]
    logp = z - ft.logsumexp(z, 1, keepdim=True)
    return -(logp * y).sum(), logp


def _mlp_args(seed: int, batch: int = 4) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    p = {
        "W1": on_device(rng.standard_normal((6, 5))),
        "b1": on_device(rng.standard_normal(5)),
        "W2": on_device(rng.standard_normal((5, 3))),
        "b2": on_device(rng.standard_normal(3)),
    }
    y = on_device(np.eye(3)[rng.integers(0, 3, batch)])
    return p, on_device(rng.standard_normal((batch, 6))), y


@pytest.mark.device
def test_replays_equal_plain_mode_on_new_values_and_record_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(program, "FUSE_ON", set())  # the program's text and buffers, unfused on any device
    fast, plain = grad(_mlp, optimize=True), grad(_mlp)
    for seed in range(4):
        assert_same(fast(*_mlp_args(seed)), plain(*_mlp_args(seed)))
    assert (fast.recordings, fast.replays) == (1, 3)
    (prog,) = next(iter(fast.programs.values()))
    assert "def run(L):" in prog.source and "tanh" in prog.source


@pytest.mark.device
def test_a_new_signature_records_again() -> None:
    fast = grad(_mlp, optimize=True)
    fast(*_mlp_args(0, batch=4))
    fast(*_mlp_args(1, batch=7))  # other sizes
    fast(*_mlp_args(2, batch=4))
    assert (fast.recordings, fast.replays) == (2, 1)
    assert len(fast.programs) == 2


@pytest.mark.device
def test_numbers_are_part_of_the_signature() -> None:
    def f(x: Any, scale: float, *, power: int = 2) -> Any:
        return (x**power * scale).sum()

    fast = grad(f, optimize=True)
    x = _t(1.0, 2.0)
    assert fast(x, 2.0)[0].tolist() == [4.0, 8.0]
    assert fast(x, 3.0)[0].tolist() == [6.0, 12.0]
    assert fast(x, 3.0, power=3)[0].tolist() == [9.0, 36.0]
    assert fast(_t(2.0, 1.0), 3.0)[0].tolist() == [12.0, 6.0]
    assert (fast.recordings, fast.replays) == (3, 1)


@pytest.mark.device
def test_a_branch_on_a_tensor_value_is_a_guard_and_each_path_replays() -> None:
    def f(x: Any) -> Any:
        if x.sum() > 0:
            return (x * x).sum()
        return ft.sin(x).sum()

    fast, plain = grad(f, optimize=True), grad(f)
    calls = [_t(1.0, 2.0), _t(-1.0, -2.0), _t(3.0, 1.0), _t(-3.0, 0.5)]
    for x in calls:
        assert_same(fast(x), plain(x))
    assert (fast.recordings, fast.replays) == (2, 2)
    assert len(next(iter(fast.programs.values()))) == 2  # one program per path


@pytest.mark.device
def test_item_and_int_reads_are_guarded() -> None:
    def f(x: Any, n: Any) -> Any:
        out = x
        for _ in range(int(n.item())):  # a loop count read from an integer tensor argument
            out = out * x
        return out.sum()

    fast, plain = grad(f, optimize=True), grad(f)
    x = _t(1.5, 2.0)
    for k in (2, 2, 3, 2, 3):
        n = ft.LongTensor([k])
        assert_same(fast(x, n), plain(x, n))
    assert (fast.recordings, fast.replays) == (2, 3)


@pytest.mark.device
def test_changing_paths_too_often_falls_back_with_a_warning() -> None:
    def path_per_value(x: Any, n: Any) -> Any:
        return x.sum() * n.item()  # n's value decides the program: a new path every call

    fast = grad(path_per_value, optimize=True)
    x = _t(1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(12):
            assert fast(x, ft.LongTensor([k]))[0].tolist() == [float(k)]
    assert any("more than 8 paths" in str(w.message) for w in caught)
    assert fast.fallbacks and "paths" in fast.fallbacks[0]


@pytest.mark.device
def test_results_are_fresh_on_every_call() -> None:
    fast = grad(lambda x: (x * x).sum(), optimize=True)
    x = ft.ones(64, 64)
    g1, v1 = fast(x)
    g2, v2 = fast(x * 3)
    assert host(g1).max() == 2.0 and host(g2).max() == 6.0  # the first result was not overwritten
    assert float(v1) == 4096.0 and float(v2) == 9 * 4096.0


@pytest.mark.device
def test_stable_buffers_reuse_the_memory_of_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(program, "FUSE_ON", set())  # the program's text and buffers, unfused on any device
    fast = optimize(grad(lambda x: (ft.tanh(x) * 2).sum()), stable_buffers=True)
    x = on_device(np.linspace(-1, 1, 8192))
    fast(x)
    g1, _ = fast(x)
    ptr = g1.data_ptr()
    g2, _ = fast(x * 2)
    assert g2.data_ptr() == ptr  # the same buffer, overwritten
    np.testing.assert_allclose(host(g1), 2 * (1 - np.tanh(2 * np.linspace(-1, 1, 8192)) ** 2))


@pytest.mark.device
def test_intermediates_live_in_buffers_reused_across_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(program, "FUSE_ON", set())  # the program's text and buffers, unfused on any device
    fast = grad(lambda x: ft.tanh(ft.sin(x) * 1.01 + x).sum(), optimize=True)
    x = on_device(np.linspace(-1, 1, 10000))
    fast(x)
    (prog,) = next(iter(fast.programs.values()))
    assert prog.buffers and "out=" in prog.source
    before = [_address(b) for b in prog.buffers]
    fast(x * 0.5)
    assert [_address(b) for b in prog.buffers] == before


@pytest.mark.device
def test_a_chain_of_index_puts_into_the_programs_own_value_writes_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(program, "FUSE_ON", set())  # the program's text, unfused on any device
    # unfold's gradient: one strided index_put per window element, into zeros
    fast = grad(lambda x: (x.unfold(0, 3, 1) * ft.arange(3.0, device=x.device)).sum(), optimize=True)
    x = on_device(np.linspace(-1, 1, 9))
    want = [sum(j for j in range(3) if 0 <= i - j <= 6) for i in range(9)]  # the windows holding each element
    for _ in range(3):  # replays: the zeros the chain starts from (a constant) must stay zeros
        assert host(fast(x)[0]).tolist() == want
    (prog,) = next(iter(fast.programs.values()))
    # the first link copies the constant zeros, the two others write into what the first made
    assert prog.source.count("index_put(") == 1 and prog.source.count("index_put_into(") == 2, prog.source


@pytest.mark.device
def test_index_put_copies_a_callers_tensor_a_returned_value_and_one_read_later() -> None:
    key = (slice(0, 2),)
    f = optimize(lambda x, v: x.index_put(key, v, accumulate=True))  # the caller's tensor
    g = optimize(lambda x, v: (lambda z: (z, z.index_put(key, v)))(x * 2))  # z is returned
    h = optimize(lambda x, v: (lambda z: z.index_put(key, v) + z)(x * 2))  # z is read after
    x, v = on_device(np.arange(4.0)), on_device(np.array([10.0, 20.0]))
    for _ in range(3):
        assert host(f(x, v)).tolist() == [10.0, 21.0, 2.0, 3.0] and host(x).tolist() == [0.0, 1.0, 2.0, 3.0]
        z, put = g(x, v)
        assert host(z).tolist() == [0.0, 2.0, 4.0, 6.0] and host(put).tolist() == [10.0, 20.0, 4.0, 6.0]
        assert host(h(x, v)).tolist() == [10.0, 22.0, 8.0, 12.0]
    for fn in (f, g, h):
        assert "index_put_into" not in next(iter(fn.programs.values()))[0].source


@pytest.mark.device
def test_nested_arguments_kwargs_and_argnum_tuples() -> None:
    Pair = namedtuple("Pair", "a b")

    def f(p: Any, q: Any, *, bias: Any) -> Any:
        return (p["w"][0] * p["w"][1] * q.a + ft.exp(q.b) + bias).sum()

    for argnum in (0, (0, 1)):
        fast, plain = grad(f, argnum=argnum, optimize=True), grad(f, argnum=argnum)
        for k in range(3):
            p = {"w": [_t(1.0 + k, 2.0), _t(3.0, 4.0 - k)]}
            q = Pair(_t(0.5, k), _t(0.25, 1.5))
            assert_same(fast(p, q, bias=_t(k, 1.0)), plain(p, q, bias=_t(k, 1.0)))
        assert fast.recordings == 1


@pytest.mark.device
def test_float_arguments_and_float_gradients() -> None:
    def f(a: float, x: Any) -> Any:
        return a * (x * x).sum()

    fast = grad(f, optimize=True)
    da, value = fast(2.0, _t(1.0, 2.0))
    da2, _ = fast(2.0, _t(3.0, 0.0))  # same a: a replay, with a gradient that depends on x
    assert (da, float(value), da2) == (5.0, 10.0, 9.0)
    assert isinstance(da2, float) and fast.replays == 1


@pytest.mark.device
def test_second_order_through_the_optimized_mode() -> None:
    def f(x: Any) -> Any:
        return (ft.sin(x) * x).sum()

    def inner(x: Any) -> Any:
        return grad(f)(x)[0].sum()

    x = _t(0.3, -1.2, 2.0)
    want = (2 * np.cos(host(x)) - host(x) * np.sin(host(x))).tolist()
    fast2 = grad(inner, optimize=True)  # the recording holds the backward of the backward
    for v in (x, x * 2):
        w = (2 * np.cos(host(v)) - host(v) * np.sin(host(v))).tolist()
        np.testing.assert_allclose(host(fast2(v)[0]), w, rtol=1e-13)
    assert fast2.replays == 1

    # An optimized gradient inside a plain grad runs plainly there, so it can be differentiated.
    fast1 = grad(f, optimize=True)
    got = grad(lambda x: fast1(x)[0].sum())(x)[0]
    np.testing.assert_allclose(host(got), want, rtol=1e-13)


@pytest.mark.device
def test_random_draws_fall_back_to_plain_calls() -> None:
    def f(x: Any) -> Any:
        noise = ft.randn(2)
        return (x * noise).sum()

    fast = grad(f, optimize=True)
    with pytest.warns(RuntimeWarning, match="random"):
        g1, _ = fast(_t(1.0, 1.0))
    g2, _ = fast(_t(1.0, 1.0))
    assert g1.tolist() != g2.tolist()  # fresh draws every call, as in plain mode
    assert "random" in fast.fallbacks[0] and fast.replays == 0


@pytest.mark.device
def test_writing_into_an_argument_falls_back_and_writes_as_plain_mode_does() -> None:
    def f(w: Any, buf: Any) -> Any:
        buf.add_(1)
        return (w * buf).sum()

    fast = grad(f, optimize=True)
    buf = _t(1.0, 2.0)
    with pytest.warns(RuntimeWarning, match="argument"):
        g, _ = fast(_t(1.0, 1.0), buf)
    assert g.tolist() == [2.0, 3.0] and buf.tolist() == [2.0, 3.0]  # written once, not twice
    g, _ = fast(_t(1.0, 1.0), buf)
    assert g.tolist() == [3.0, 4.0] and buf.tolist() == [3.0, 4.0]


def test_numpy_on_a_recorded_tensor_falls_back() -> None:
    def f(x: Any) -> Any:
        ones = ft.from_numpy(x.numpy() * 0 + 1)  # an array a program could not follow
        return (x * ones).sum()

    fast = optimize(f)
    with pytest.warns(RuntimeWarning, match="numpy"):
        assert float(fast(_t(1.0, 2.0))) == 3.0
    assert float(fast(_t(2.0, 2.0))) == 4.0


@pytest.mark.device
def test_writing_into_a_global_tensor_falls_back() -> None:
    log = ft.zeros(2)

    def f(x: Any) -> Any:
        log.copy_(detach(x))  # a side effect a replay would skip
        return (x * x).sum()

    fast = grad(f, optimize=True)
    with pytest.warns(RuntimeWarning, match="outlives"):
        fast(_t(1.0, 2.0))
    fast(_t(3.0, 4.0))
    assert log.tolist() == [3.0, 4.0]


@pytest.mark.device
def test_temporary_buffers_written_inside_the_function_are_fine() -> None:
    def f(x: Any) -> Any:
        out = ft.zeros(3)
        out[0] = x[0] * x[1]
        out[2] = x[1].exp()
        h = x.clone()
        h[1] = 0.0
        return (out * 2).sum() + (h * h).sum()

    fast, plain = grad(f, optimize=True), grad(f)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x in (_t(1.0, 2.0), _t(-0.5, 0.25)):
            assert_same(fast(x), plain(x))
    assert fast.replays == 1


@pytest.mark.device
def test_constants_from_a_closure_are_read_through_their_memory() -> None:
    scale = _t(1.0, 2.0)
    fast = grad(lambda x: (x * scale).sum(), optimize=True)
    assert fast(_t(0.0, 0.0))[0].tolist() == [1.0, 2.0]
    scale.mul_(10)  # an in-place update is seen by the replay
    assert fast(_t(0.0, 0.0))[0].tolist() == [10.0, 20.0]
    assert fast.replays == 1


@pytest.mark.device
def test_errors_in_the_function_are_the_usual_ones_and_nothing_is_kept() -> None:
    fast = grad(lambda x, y: (x @ y).sum(), optimize=True)
    with pytest.raises(ft.ShapeError, match="matmul|mm"):
        fast(ft.ones(2, 3), ft.ones(2, 3))
    assert not any(fast.programs.values())
    assert fast(ft.ones(2, 3), ft.ones(3, 2))[0].tolist() == [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]


def test_threads_share_an_optimized_function_safely() -> None:
    fast, plain = grad(lambda x: (ft.tanh(x) ** 2).sum(), optimize=True), grad(lambda x: (ft.tanh(x) ** 2).sum())
    xs = [ft.from_numpy(np.linspace(-1, 1, 8192) * k) for k in range(1, 9)]
    fast(xs[0])
    want = [plain(x)[0].numpy() for x in xs]
    got: dict[int, Any] = {}

    def work(i: int) -> None:
        for _ in range(20):
            got[i] = fast(xs[i])[0].numpy().copy()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, w in enumerate(want):
        np.testing.assert_allclose(got[i], w, rtol=1e-13)


@pytest.mark.device
def test_a_value_stored_away_during_recording_is_a_plain_tensor_afterwards() -> None:
    kept: list[Any] = []

    def f(x: Any) -> Any:
        y = x * 2
        kept.append(y)
        return y.sum()

    fast = optimize(f)
    fast(_t(1.0, 2.0))
    (k,) = kept
    assert (k + 1).tolist() == [3.0, 5.0]
    assert type(k) is ft.Tensor  # no longer a symbol of a finished recording


@pytest.mark.device
def test_index_tensors_among_the_arguments_are_read_on_every_replay() -> None:
    def nll(w: Any, x: Any, labels: Any) -> Any:
        z = x @ w
        logp = z - ft.logsumexp(z, 1, keepdim=True)
        return -logp[ft.arange(x.size(0)), labels].sum()

    fast, plain = grad(nll, optimize=True), grad(nll)
    rng = np.random.default_rng(0)
    w, x = on_device(rng.standard_normal((5, 3))), on_device(rng.standard_normal((4, 5)))
    for _ in range(4):
        labels = on_device(rng.integers(0, 3, 4))
        assert_same(fast(w, x, labels), plain(w, x, labels))
    assert (fast.recordings, fast.replays) == (1, 3)

    table = on_device(rng.standard_normal((6, 2)))  # a closure tensor indexed by an argument
    emb = grad(lambda w, idx: (table[idx] * w).sum(), optimize=True)
    for idx in ([1, 3], [0, 0], [5, 2]):
        want = host(table)[idx].sum(0)
        np.testing.assert_allclose(host(emb(ft.ones(2), ft.LongTensor(idx))[0]), want)
    assert emb.replays == 2


@pytest.mark.device
def test_mask_indices_guard_their_count_and_are_read_on_replay() -> None:
    def f(x: Any, mask: Any) -> Any:
        return (x[mask] ** 2).sum()

    fast, plain = grad(f, optimize=True), grad(f)
    x = _t(1.0, 2.0, 3.0, 4.0)
    masks = [[1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 0], [0, 0, 1, 1]]
    for m in masks:
        assert_same(fast(x, ft.ByteTensor(m)), plain(x, ft.ByteTensor(m)))
    assert (fast.recordings, fast.replays) == (2, 2)  # a new count of ones records again


@pytest.mark.device
def test_bad_values_on_replay_raise_the_plain_error() -> None:
    fast = grad(lambda w, idx: w[idx].sum(), optimize=True)
    assert fast(_t(1.0, 2.0, 3.0), ft.LongTensor([0, 2]))[0].tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(IndexError) as caught:
        fast(_t(1.0, 2.0, 3.0), ft.LongTensor([0, 7]))
    assert isinstance(caught.value, ft.FlambeauError)  # the op table's error, not numpy's
