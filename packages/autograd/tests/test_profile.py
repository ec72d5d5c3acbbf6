"""profile(): exact call counts per op, forward and backward; own times that add up to the total."""

from __future__ import annotations

from typing import Any

import pytest

import flambeau.tensor as ft
from flambeau.autograd import grad, primitive, profile, tracer
from flambeau.autograd.profile import OpStats, Profile


def _three_tanh(x: Any) -> Any:
    for _ in range(3):
        x = ft.tanh(x)
    return (x * 2).sum()


@pytest.mark.device
def test_counts_are_exact() -> None:
    with profile() as prof:
        grad(_three_tanh)(ft.randn(5))
    assert isinstance(prof, Profile) and tracer.monitor is None
    counts = {s.op: (s.forward_calls, s.backward_calls) for s in prof.rows()}
    assert counts == {"tanh": (3, 3), "mul": (1, 1), "sum": (1, 1)}


@pytest.mark.device
def test_times_are_non_negative_and_sum_to_the_total() -> None:
    with profile() as prof:
        for _ in range(3):
            grad(_three_tanh)(ft.randn(50, 50))
    rows = prof.rows()
    assert all(s.forward_ns >= 0 and s.backward_ns >= 0 for s in rows)
    assert all(
        s.total_ns == s.forward_ns + s.backward_ns and s.calls == s.forward_calls + s.backward_calls for s in rows
    )
    assert prof.total_ns == sum(s.total_ns for s in rows) > 0
    assert [s.total_ns for s in rows] == sorted((s.total_ns for s in rows), reverse=True)
    assert prof.stats["tanh"] == next(s for s in rows if s.op == "tanh")
    assert prof.stats["tanh"].forward_calls == 9


@pytest.mark.device
def test_the_table() -> None:
    with profile() as prof:
        grad(_three_tanh)(ft.randn(5))
    lines = str(prof).splitlines()
    assert lines[0].split() == [
        "op",
        "calls",
        "forward",
        "ms",
        "rule",
        "calls",
        "backward",
        "ms",
        "total",
        "ms",
        "%",
        "of",
        "total",
    ]
    assert set(lines[1]) == {"-"} and set(lines[-2]) == {"-"}
    body = [line.split() for line in lines[2:-2]]
    assert [r[0] for r in body] == [s.op for s in prof.rows()]
    assert {r[0]: (r[1], r[3]) for r in body}["tanh"] == ("3", "3")
    assert all(float(r[2]) >= 0 and float(r[4]) >= 0 and float(r[5]) >= 0 for r in body)
    assert abs(sum(float(r[6]) for r in body) - 100) < 0.5
    total = lines[-1].split()
    assert total[0] == "total" and total[1] == "5" and total[3] == "5" and total[-1] == "100.0"
    assert repr(prof).startswith("<Profile of 3 ops, ")


@pytest.mark.device
def test_only_the_block_is_profiled_and_profiles_nest() -> None:
    grad(_three_tanh)(ft.randn(5))  # before: not counted
    with profile() as outer:
        grad(_three_tanh)(ft.randn(5))
        with profile() as inner:
            grad(_three_tanh)(ft.randn(5))
        assert tracer.monitor is not None
    grad(_three_tanh)(ft.randn(5))  # after: not counted
    assert tracer.monitor is None
    assert inner.stats["tanh"].forward_calls == 3 and outer.stats["tanh"].forward_calls == 6
    with inner:  # entered again: it collects more
        grad(_three_tanh)(ft.randn(5))
    assert inner.stats["tanh"].backward_calls == 6


@pytest.mark.device
def test_untraced_ops_are_not_counted() -> None:
    with profile() as prof:
        ft.tanh(ft.randn(5))
    assert prof.stats == {} and prof.total_ns == 0
    assert "total" in str(prof)


@pytest.mark.device
def test_primitives_and_sequence_rules_count_once_per_call() -> None:
    @primitive
    def double(x: Any) -> Any:
        return ft.tanh(x) * 0 + x * 2  # plain values inside: not traced, not counted

    double.defvjp(lambda g, ans, x: 2 * g)
    with profile() as prof:
        grad(lambda x, y: ft.cat([double(x), x, y]).sum())(ft.randn(2), ft.randn(2))
    assert (prof.stats[double.name].forward_calls, prof.stats[double.name].backward_calls) == (1, 1)
    assert "tanh" not in prof.stats
    # cat's rule gives the gradient of every traced element of its list in one call
    assert (prof.stats["cat"].forward_calls, prof.stats["cat"].backward_calls) == (1, 1)


@pytest.mark.device
def test_higher_order_times_are_own_times() -> None:
    d1 = lambda x: grad(lambda x: ft.tanh(x).sum())(x)[0]
    with profile() as prof:
        grad(lambda x: d1(x).sum())(ft.randn(4))
    t = prof.stats["tanh"]
    # tanh's forward is traced twice (the inner trace, whose forward runs on the outer trace's boxes);
    # its rule runs once in the inner backward pass (traced by the outer trace) and once in the outer one
    assert t.forward_calls == 2 and t.backward_calls == 2
    assert prof.total_ns == sum(s.total_ns for s in prof.rows())
    assert all(s.forward_ns >= 0 and s.backward_ns >= 0 for s in prof.rows())


def test_opstats() -> None:
    s = OpStats("x", 1, 10, 2, 5)
    assert (s.calls, s.total_ns) == (3, 15)
