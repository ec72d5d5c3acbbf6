"""Factories and random sampling: values, dtypes, devices, out=, seeding and generator state."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as stats

import flambeau.tensor as ft
from flambeau.tensor.optable import OPS

RANDOM_OPS = {
    "rand",
    "randn",
    "randperm",
    "bernoulli",
    "uniform_",
    "normal_",
    "bernoulli_",
    "random_",
    "exponential_",
    "cauchy_",
    "log_normal_",
    "geometric_",
}
FACTORIES = {"zeros", "ones", "empty", "full", "eye", "range", "arange", "linspace", "logspace"}


def test_every_factory_and_random_op_is_covered_here() -> None:
    names = {n for n, op in OPS.items() if op.kind in ("factory", "fill") or op.rng}
    assert names == RANDOM_OPS | FACTORIES


@pytest.mark.parametrize(
    ("call", "expected", "dtype"),
    [
        (lambda: ft.zeros(2, 3), np.zeros((2, 3)), np.float64),
        (lambda: ft.zeros((2,), dtype=ft.IntTensor), np.zeros(2, np.int32), np.int32),
        (lambda: ft.ones([3]), np.ones(3), np.float64),
        (lambda: ft.ones(ft.Size([1, 2]), dtype="float32"), np.ones((1, 2), np.float32), np.float32),
        (lambda: ft.full(2, 2, fill_value=1.5), np.full((2, 2), 1.5), np.float64),
        (lambda: ft.eye(3), np.eye(3), np.float64),
        (lambda: ft.eye(2, 3, dtype=ft.LongTensor), np.eye(2, 3, dtype=np.int64), np.int64),
        (lambda: ft.range(0, 4), np.arange(5.0), np.float64),
        (lambda: ft.range(1, 2, 0.25), np.array([1, 1.25, 1.5, 1.75, 2.0]), np.float64),
        (lambda: ft.range(5, 1, -2), np.array([5.0, 3.0, 1.0]), np.float64),
        (lambda: ft.arange(5), np.arange(5), np.int64),
        (lambda: ft.arange(1, 2, 0.5), np.array([1.0, 1.5]), np.float64),
        (lambda: ft.arange(3, dtype=ft.FloatTensor), np.arange(3, dtype=np.float32), np.float32),
        (lambda: ft.linspace(-1, 1, 5), np.linspace(-1, 1, 5), np.float64),
        (lambda: ft.linspace(0, 1), np.linspace(0, 1, 100), np.float64),
        (lambda: ft.logspace(-1, 1, 3), np.array([0.1, 1, 10]), np.float64),
        (lambda: ft.logspace(0, 3, 4, base=2), np.array([1.0, 2, 4, 8]), np.float64),
    ],
)
def test_factories(call, expected, dtype) -> None:  # noqa: ANN001
    t = call()
    assert t.dtype == dtype and t.device == "cpu"
    np.testing.assert_allclose(t.numpy(), expected, rtol=1e-12)


def test_empty_has_size_and_type() -> None:
    t = ft.empty(3, 2, dtype=ft.ShortTensor)
    assert t.size() == (3, 2) and t.type() == "flambeau.ShortTensor"


def test_factory_out_resizes_and_keeps_identity() -> None:
    out = ft.zeros(1)
    r = ft.ones(2, 2, out=out)
    assert r is out and out.tolist() == [[1, 1], [1, 1]]


def test_factory_honours_the_device_context_and_argument() -> None:
    with ft.device("cpu"):
        assert ft.zeros(1).device == "cpu"
    assert ft.zeros(1, device="cpu").device is ft.device("cpu")


def test_manual_seed_makes_draws_repeatable() -> None:
    ft.manual_seed(42)
    a = ft.rand(5), ft.randn(5), ft.randperm(5), ft.zeros(5).uniform_(-1, 1)
    ft.manual_seed(42)
    b = ft.rand(5), ft.randn(5), ft.randperm(5), ft.zeros(5).uniform_(-1, 1)
    assert all(x.equal(y) for x, y in zip(a, b, strict=False))
    assert ft.initial_seed() == 42


def test_rng_state_round_trip() -> None:
    state = ft.get_rng_state()
    assert state.type() == "flambeau.ByteTensor" and state.nelement() == 2500
    x = ft.randn(4)
    ft.set_rng_state(state)
    assert ft.randn(4).equal(x)
    with pytest.raises(ft.ArgumentError, match="ByteTensor"):
        ft.set_rng_state(ft.zeros(3))


def test_generators_are_independent() -> None:
    g1, g2 = ft.Generator(seed=5), ft.Generator(seed=5)
    a = ft.rand(3, generator=g1)
    ft.rand(3)  # the default generator does not disturb g2
    assert ft.rand(3, generator=g2).equal(a)
    assert ft.zeros(3).normal_(generator=g1).nelement() == 3  # fills take a generator too
    s = ft.Generator().seed()
    assert isinstance(s, int)


def test_rand_and_uniform_are_uniform() -> None:
    assert stats.kstest(ft.rand(4000).numpy(), "uniform").pvalue > 1e-3
    x = ft.zeros(4000).uniform_(2, 5).numpy()
    assert stats.kstest((x - 2) / 3, "uniform").pvalue > 1e-3  # standardised: no loc/scale args
    assert ft.rand(3, 2, dtype=ft.FloatTensor).dtype == np.float32


def test_randn_and_normal_are_normal() -> None:
    assert stats.kstest(ft.randn(4000).numpy(), "norm").pvalue > 1e-3
    assert stats.kstest((ft.zeros(4000).normal_(3, 2).numpy() - 3) / 2, "norm").pvalue > 1e-3
    with pytest.raises(ft.DomainError, match="std must be non-negative"):
        ft.zeros(2).normal_(0, -1)


def test_exponential_cauchy_log_normal_geometric_follow_their_laws() -> None:
    assert stats.kstest(ft.zeros(4000).exponential_(2).numpy(), "expon", args=(0, 0.5)).pvalue > 1e-3
    assert stats.kstest(ft.zeros(4000).cauchy_(1, 2).numpy(), "cauchy", args=(1, 2)).pvalue > 1e-3
    assert (
        stats.kstest(ft.zeros(4000).log_normal_(0.5, 0.3).numpy(), "lognorm", args=(0.3, 0, np.exp(0.5))).pvalue > 1e-3
    )
    g = ft.zeros(4000).geometric_(0.25).numpy()
    assert g.min() >= 1 and abs(g.mean() - 4) < 0.3


def test_random_integers_in_half_open_range() -> None:
    x = ft.zeros(1000, dtype=ft.LongTensor).random_(3, 7).numpy()
    assert set(np.unique(x)) == {3, 4, 5, 6}
    assert ft.zeros(100, dtype=ft.ByteTensor).random_().numpy().max() <= 255
    assert set(np.unique(ft.zeros(500).random_(3).numpy())) == {0.0, 1.0, 2.0}
    with pytest.raises(ft.DomainError, match="empty range"):
        ft.zeros(2).random_(5, 5)


def test_bernoulli_fill_and_function() -> None:
    x = ft.zeros(10000).bernoulli_(0.3)
    assert set(np.unique(x.numpy())) == {0.0, 1.0} and abs(x.mean().item() - 0.3) < 0.02
    p = ft.tensor([0.0, 1.0, 0.0])
    assert ft.zeros(3).bernoulli_(p).tolist() == [0, 1, 0]
    assert ft.bernoulli(ft.full(2000, fill_value=0.8)).mean().item() == pytest.approx(0.8, abs=0.04)
    with pytest.raises(ft.DomainError, match=r"probabilities must lie in \[0, 1\]"):
        ft.zeros(2).bernoulli_(1.5)


def test_randperm_is_a_permutation() -> None:
    p = ft.randperm(50)
    assert p.type() == "flambeau.LongTensor" and sorted(p.tolist()) == list(range(50))
