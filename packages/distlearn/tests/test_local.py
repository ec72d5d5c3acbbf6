"""What one process can check: a job of one rank, the sharder, the argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau import distlearn
from flambeau.distlearn import tree


@pytest.fixture(scope="module")
def comm() -> distlearn.Comm:
    return distlearn.Comm(timeout=5)


def test_a_one_rank_job_reduces_to_the_values_themselves(comm):
    w = ft.from_numpy(np.arange(6.0).reshape(2, 3)).t()  # a non-contiguous view, written in place
    g = {"w": w, "b": [ft.Tensor([1.0]).float(), 3, 2.5]}
    before = w.numpy().copy()
    out = comm.all_reduce(g, op="mean")
    assert out["w"] is w and np.array_equal(w.numpy(), before)
    assert out["b"][1:] == [3.0, 2.5] and isinstance(out["b"][1], float)
    assert comm.all_reduce({"n": 3}, op="sum") == {"n": 3}


def test_a_flat_contiguous_tensor_is_its_own_buffer():
    t = ft.zeros(5)
    p = tree.Packed(t)
    assert np.shares_memory(p.buffers[np.dtype(np.float64)], t._a)
    v = ft.zeros(10)[::2]  # not contiguous: copied
    assert not np.shares_memory(tree.Packed(v).buffers[np.dtype(np.float64)], v._a)


def test_leaves_and_rebuild_keep_the_tree_structure():
    from collections import namedtuple

    pair = namedtuple("pair", "a b")
    t = {"x": [1, (2, pair(3, 4))], "y": 5}
    paths = [p for p, _ in tree.leaves(t)]
    assert paths == [("x", 0), ("x", 1, 0), ("x", 1, 1, 0), ("x", 1, 1, 1), ("y",)]
    back = tree.rebuild(t, [10, 20, 30, 40, 50])
    assert back == {"x": [10, (20, pair(30, 40))], "y": 50} and type(back["x"][1][1]) is pair


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: c.all_reduce([ft.zeros(2)], op="prod"), ft.ArgumentError, "op must be one of"),
        (
            lambda c: c.all_reduce({"i": ft.zeros(2, dtype=ft.int64)}, op="mean"),
            ft.DTypeError,
            "['i']: tensor of size (2,) and dtype int64",
        ),
        (lambda c: c.all_reduce({"e": ft.zeros(1).expand(3)}), ft.ArgumentError, "read-only (expanded) view"),
        (lambda c: c.all_reduce({"s": "text"}), TypeError, "leaf ['s'] is a str"),
        (lambda c: c.broadcast([ft.zeros(1)], root=1), ft.ArgumentError, "root must be a rank in [0, 1)"),
        (lambda c: c.broadcast_object({}, root=-1), ft.ArgumentError, "root must be a rank in [0, 1)"),
    ],
)
def test_bad_arguments_are_refused_before_anything_moves(comm, call, error, message):
    with pytest.raises(error) as e:
        call(comm)
    assert message in str(e.value)


def test_a_refused_all_reduce_leaves_the_tree_as_it_was(comm):
    good = ft.Tensor([1.0, 2.0])
    with pytest.raises(ft.DTypeError, match="int64"):
        comm.all_reduce([good, ft.zeros(2, dtype=ft.int64)], op="mean")
    assert good.tolist() == [1.0, 2.0]


def test_a_collective_into_a_value_a_gradient_still_needs_is_refused_as_copy_is(comm):
    from flambeau.autograd import grad
    from flambeau.autograd.errors import TracedValueError

    def f(p):
        c = ft.Tensor([1.0, 2.0])
        y = (p * c).sum()
        comm.broadcast([c])  # writes into c, which the gradient of p * c reads
        return y

    with pytest.raises(TracedValueError, match="distlearn.broadcast: this tensor .* recorded for the gradient"):
        grad(f)(ft.Tensor([1.0, 1.0]))


def test_a_collective_that_never_completes_though_every_rank_arrived_says_so(monkeypatch):
    # One rank: every peer (none) has arrived, so a request that never completes (a receive nobody
    # sends) is a collective that died inside; the deadline says that, naming no lost rank.
    from flambeau.distlearn import comm as comm_module

    monkeypatch.setattr(comm_module, "_broken", [])  # no abort at this test process's exit
    c = distlearn.Comm(timeout=0.05)
    buf = np.zeros(1)
    req = c.comm.Irecv(buf, source=0, tag=99)
    try:
        c._enter()
        with pytest.raises(
            distlearn.RankLostError, match="every rank arrived but the collective did not complete"
        ) as e:
            c.wait([req], "test")
        assert e.value.ranks == ()
    finally:
        req.Cancel()
        req.Wait()


def test_options_are_checked():
    with pytest.raises(ft.ArgumentError, match="timeout must be > 0"):
        distlearn.Comm(timeout=0)
    with pytest.raises(ValueError, match="tau must be an int >= 1"):
        distlearn.AllReduceEA(tau=0)
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\)"):
        distlearn.AllReduceEA(alpha=1.5)
    with pytest.raises(RuntimeError, match="call synchronize_parameters"):
        distlearn.AllReduceEA().average_parameters([ft.zeros(1)])
    with pytest.raises(ValueError, match="check must be"):
        distlearn.AllReduceSGD(check="never")


@pytest.mark.parametrize(("n", "b", "size"), [(100, 3, 4), (64, 8, 2), (10, 2, 5)])
def test_the_sharder_splits_every_global_batch_into_disjoint_parts(n, b, size):
    shards = [distlearn.Sharder(n, b, rank=r, size=size, seed=7) for r in range(size)]
    for epoch in (0, 1):
        parts = [list(s.batches(epoch)) for s in shards]
        for step, whole in enumerate(shards[0].global_batches(epoch)):
            pieces = np.concatenate([parts[r][step] for r in range(size)])
            assert np.array_equal(pieces, whole)  # the ranks together see exactly the global batch
        seen = np.concatenate([s.indices(epoch) for s in shards])
        assert len(set(seen.tolist())) == len(seen) == len(shards[0]) * b * size  # disjoint
    assert not np.array_equal(shards[0].indices(0), shards[0].indices(1))  # reshuffled per epoch
    again = distlearn.Sharder(n, b, rank=1, size=size, seed=7)
    assert np.array_equal(again.indices(1), shards[1].indices(1))  # from the shared seed alone


def test_the_sharder_refuses_what_cannot_be_split():
    with pytest.raises(ValueError, match="do not fill one global batch"):
        distlearn.Sharder(5, 3, rank=0, size=2)
    with pytest.raises(ValueError, match="rank 2 is not in"):
        distlearn.Sharder(50, 3, rank=2, size=2)


def test_a_comm_that_lost_a_rank_refuses_every_later_collective():
    c = distlearn.Comm(timeout=5)
    c._lost = distlearn.RankLostError("lost", [3])  # as Comm.wait leaves it after the deadline
    with pytest.raises(distlearn.RankLostError, match=r"already lost rank\(s\) \[3\]"):
        c.barrier()
    with pytest.raises(distlearn.RankLostError):
        c.all_reduce([ft.zeros(1)])


def test_signatures_say_what_differs():
    mine = tree.signature({"w": ft.zeros(2, 3), "n": 1})
    assert mine == ["['w']: tensor of size (2, 3) and dtype float64", "['n']: int number"]
    assert tree.first_difference(mine[:1], mine) == "1 leaves where rank 0 has 2"
    other = tree.signature({"w": ft.zeros(3, 2), "n": 1})
    assert tree.first_difference(other, mine) == (
        "\"['w']: tensor of size (3, 2) and dtype float64\" where rank 0 has"
        " \"['w']: tensor of size (2, 3) and dtype float64\""
    )


def test_easgd_refuses_params_that_are_not_the_synchronized_tree(comm):
    ea = distlearn.AllReduceEA(comm, tau=1, alpha=0.5)
    ea.synchronize_parameters([ft.zeros(2), ft.zeros(1)])
    with pytest.raises(ValueError, match="params has 1 tensors, the center 2"):
        ea.average_parameters([ft.zeros(2)])


def test_the_sharder_takes_rank_and_size_from_a_comm(comm):
    s = distlearn.Sharder(6, 2, comm=comm, shuffle=False)
    assert (s.rank, s.size, len(s)) == (0, 1, 3)
    assert [b.tolist() for b in s.batches(4)] == [[0, 1], [2, 3], [4, 5]]  # in order, every epoch
    with pytest.raises(ValueError, match="give rank and size, or comm"):
        distlearn.Sharder(6, 2)
