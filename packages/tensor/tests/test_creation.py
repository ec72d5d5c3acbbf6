"""Factories and random sampling: values, dtypes, devices, out=, seeding and generator state.

Every test but the docs page's is a device suite: factories and samplers make their tensors on the
device under test, and draws come from that device's generators (``ft.get_rng_state(device())``).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as stats
from support import typename

import flambeau.tensor as ft
from flambeau.tensor.optable import OPS
from flambeau.tensor.random import Generator
from flambeau.tensor.testing import device, host, on_device

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
    "multinomial",
}
FACTORIES = {"zeros", "ones", "empty", "full", "eye", "range", "arange", "linspace", "logspace"}


@pytest.mark.device
def test_every_factory_and_random_op_is_covered_here() -> None:
    # (apply_/map_/map2_ are in-place-only "fill" ops too, but neither factories nor random)
    names = {n for n, op in OPS.items() if op.kind == "factory" or op.rng or op.group == "random"}
    assert names == RANDOM_OPS | FACTORIES


@pytest.mark.device
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
    assert t.dtype == dtype and t.device == device()
    np.testing.assert_allclose(host(t), expected, rtol=1e-12)


@pytest.mark.device
def test_empty_has_size_and_type() -> None:
    t = ft.empty(3, 2, dtype=ft.ShortTensor)
    assert t.size() == (3, 2) and t.type() == typename("ShortTensor")


@pytest.mark.device
def test_factory_out_resizes_and_keeps_identity() -> None:
    out = ft.zeros(1)
    r = ft.ones(2, 2, out=out)
    assert r is out and out.tolist() == [[1, 1], [1, 1]]


@pytest.mark.device
def test_factory_honours_the_device_context_and_argument() -> None:
    with ft.device("cpu"):
        assert ft.zeros(1).device == "cpu"
    assert ft.zeros(1, device="cpu").device is ft.device("cpu")
    with device():
        assert ft.zeros(1).device == device()
    assert ft.zeros(1, device=device()).device is device()


@pytest.mark.device
def test_manual_seed_makes_draws_repeatable() -> None:
    ft.manual_seed(42)
    a = ft.rand(5), ft.randn(5), ft.randperm(5), ft.zeros(5).uniform_(-1, 1)
    ft.manual_seed(42)
    b = ft.rand(5), ft.randn(5), ft.randperm(5), ft.zeros(5).uniform_(-1, 1)
    assert all(x.equal(y) for x, y in zip(a, b, strict=False))
    assert ft.initial_seed() == 42


@pytest.mark.device
def test_rng_state_round_trip() -> None:
    state = ft.get_rng_state(device())
    assert state.type() == "flambeau.ByteTensor"  # a cpu ByteTensor whatever the generator's device
    if device() == "cpu":
        assert state.nelement() == 2500  # MT19937: 624 32-bit words and the position
    x = ft.randn(4)
    ft.set_rng_state(state, device())
    assert ft.randn(4).equal(x)
    with pytest.raises(ft.ArgumentError, match="ByteTensor"):
        ft.set_rng_state(ft.zeros(3), device())


@pytest.mark.device
def test_generators_are_independent() -> None:
    g1, g2 = ft.Generator(device(), seed=5), ft.Generator(device(), seed=5)
    a = ft.rand(3, generator=g1)
    ft.rand(3)  # the default generator does not disturb g2
    assert ft.rand(3, generator=g2).equal(a)
    assert ft.zeros(3).normal_(generator=g1).nelement() == 3  # fills take a generator too
    s = ft.Generator(device()).seed()
    assert isinstance(s, int)


@pytest.mark.device
def test_rand_and_uniform_are_uniform() -> None:
    assert stats.kstest(host(ft.rand(4000)), "uniform").pvalue > 1e-3
    x = host(ft.zeros(4000).uniform_(2, 5))
    assert stats.kstest((x - 2) / 3, "uniform").pvalue > 1e-3  # standardised: no loc/scale args
    assert ft.rand(3, 2, dtype=ft.FloatTensor).dtype == np.float32


@pytest.mark.device
def test_randn_and_normal_are_normal() -> None:
    assert stats.kstest(host(ft.randn(4000)), "norm").pvalue > 1e-3
    assert stats.kstest((host(ft.zeros(4000).normal_(3, 2)) - 3) / 2, "norm").pvalue > 1e-3
    with pytest.raises(ft.DomainError, match="std must be non-negative"):
        ft.zeros(2).normal_(0, -1)


@pytest.mark.device
def test_exponential_cauchy_log_normal_geometric_follow_their_laws() -> None:
    assert stats.kstest(host(ft.zeros(4000).exponential_(2)), "expon", args=(0, 0.5)).pvalue > 1e-3
    assert stats.kstest(host(ft.zeros(4000).cauchy_(1, 2)), "cauchy", args=(1, 2)).pvalue > 1e-3
    assert stats.kstest(host(ft.zeros(4000).log_normal_(0.5, 0.3)), "lognorm", args=(0.3, 0, np.exp(0.5))).pvalue > 1e-3
    g = host(ft.zeros(4000).geometric_(0.25))
    assert g.min() >= 1 and abs(g.mean() - 4) < 0.3


@pytest.mark.device
def test_random_integers_in_half_open_range() -> None:
    x = host(ft.zeros(1000, dtype=ft.LongTensor).random_(3, 7))
    assert set(np.unique(x)) == {3, 4, 5, 6}
    assert host(ft.zeros(100, dtype=ft.ByteTensor).random_()).max() <= 255
    assert set(np.unique(host(ft.zeros(500).random_(3)))) == {0.0, 1.0, 2.0}
    with pytest.raises(ft.DomainError, match="empty range"):
        ft.zeros(2).random_(5, 5)


@pytest.mark.device
def test_bernoulli_fill_and_function() -> None:
    x = ft.zeros(10000).bernoulli_(0.3)
    assert set(np.unique(host(x))) == {0.0, 1.0} and abs(x.mean().item() - 0.3) < 0.02
    p = ft.tensor([0.0, 1.0, 0.0])
    assert ft.zeros(3).bernoulli_(p).tolist() == [0, 1, 0]
    assert ft.bernoulli(ft.full(2000, fill_value=0.8)).mean().item() == pytest.approx(0.8, abs=0.04)
    with pytest.raises(ft.DomainError, match=r"probabilities must lie in \[0, 1\]"):
        ft.zeros(2).bernoulli_(1.5)


@pytest.mark.device
def test_randperm_is_a_permutation() -> None:
    p = ft.randperm(50)
    assert p.type() == typename("LongTensor") and sorted(p.tolist()) == list(range(50))


# -- every sampler takes generator= ----------------------------------------------------------------

# One call per random op, drawing from the generator it is given (None: the default generator).
SAMPLERS = {
    "rand": lambda g: ft.rand(50, generator=g),
    "randn": lambda g: ft.randn(5, 10, generator=g),
    "randperm": lambda g: ft.randperm(50, generator=g),
    "bernoulli": lambda g: ft.bernoulli(ft.full(50, fill_value=0.5), generator=g),
    "multinomial": lambda g: ft.multinomial(ft.tensor([1.0, 2.0, 3.0, 4.0]), 50, True, generator=g),
    "uniform_": lambda g: ft.zeros(50).uniform_(-1, 1, generator=g),
    "normal_": lambda g: ft.zeros(50).normal_(2, 3, generator=g),
    "bernoulli_": lambda g: ft.zeros(50).bernoulli_(0.5, generator=g),
    "random_": lambda g: ft.zeros(50, dtype=ft.LongTensor).random_(0, 1000, generator=g),
    "exponential_": lambda g: ft.zeros(50).exponential_(2, generator=g),
    "cauchy_": lambda g: ft.zeros(50).cauchy_(generator=g),
    "log_normal_": lambda g: ft.zeros(50).log_normal_(generator=g),
    "geometric_": lambda g: ft.zeros(50).geometric_(0.3, generator=g),
}


@pytest.mark.device
def test_every_random_op_has_a_sampler_here() -> None:
    assert set(SAMPLERS) == {n for n, op in OPS.items() if op.rng}


@pytest.mark.device
@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_generator_argument_gives_its_own_repeatable_stream(name: str) -> None:
    draw = SAMPLERS[name]
    state = ft.get_rng_state(device())
    a, b = draw(Generator(device(), seed=99)), draw(Generator(device(), seed=99))
    assert a.equal(b)  # same seed, same draws
    assert not a.equal(draw(Generator(device(), seed=100)))  # another seed, other draws
    assert ft.get_rng_state(device()).equal(state)  # the default generator was not touched
    g = Generator(device(), seed=99)
    draw(g)
    assert not draw(g).equal(a)  # the generator advances
    ft.manual_seed(99)  # the default generator, seeded alike, gives the same stream
    assert draw(None).equal(a)
    assert not ft.get_rng_state(device()).equal(state)


@pytest.mark.device
@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_rng_state_restore_replays_every_sampler(name: str) -> None:
    state = ft.get_rng_state(device())
    a = SAMPLERS[name](None)
    ft.set_rng_state(state, device())
    assert SAMPLERS[name](None).equal(a)
    g = Generator(device(), seed=3)
    gstate = g.get_state()
    b = SAMPLERS[name](g)
    g.set_state(gstate)
    assert SAMPLERS[name](g).equal(b)


@pytest.mark.device
def test_seed_and_initial_seed() -> None:
    s = ft.seed()
    assert isinstance(s, int) and ft.initial_seed() == s
    g = Generator(device(), seed=11)
    assert g.initial_seed() == 11 and g.manual_seed(12) is g and g.initial_seed() == 12
    assert "initial_seed=12" in repr(g)


@pytest.mark.device
def test_a_generator_that_is_not_one_is_refused() -> None:
    with pytest.raises(ft.ArgumentError, match="generator= must be a flambeau Generator"):
        ft.rand(2, generator=np.random.default_rng(0))


# -- multinomial -----------------------------------------------------------------------------------


def _chi2_ok(counts: np.ndarray, weights: np.ndarray) -> bool:
    """Chi-square goodness of fit of draw counts to weights (categories of weight 0 excluded)."""
    pos = weights > 0
    if pos.sum() == 1:  # one category: nothing to fit, every draw must be it
        return bool(counts[pos].sum() == counts.sum())
    expected = weights[pos] / weights[pos].sum() * counts.sum()
    return bool(stats.chisquare(counts[pos], expected).pvalue > 1e-3)


@pytest.mark.device
def test_multinomial_with_replacement_follows_the_weights() -> None:
    w = np.array([1.0, 0.0, 3.0, 6.0, 0.0, 10.0])  # need not sum to 1
    x = ft.multinomial(on_device(w), 20000, replacement=True)
    assert x.type() == typename("LongTensor") and x.size() == (20000,)
    counts = np.bincount(host(x), minlength=len(w))
    assert counts[1] == 0 and counts[4] == 0  # zero-weight categories are never drawn
    assert _chi2_ok(counts, w)


@pytest.mark.device
def test_multinomial_rows_each_follow_their_own_weights() -> None:
    w = np.array([[1.0, 1.0, 2.0, 0.0], [0.0, 0.0, 0.0, 7.0], [5.0, 0.5, 0.0, 4.5]])
    x = host(ft.multinomial(on_device(w), 8000, replacement=True))
    assert x.shape == (3, 8000)
    assert (x[1] == 3).all()  # a single positive weight: always that category
    for row, weights in zip(x, w, strict=True):
        counts = np.bincount(row, minlength=4)
        assert counts[weights == 0].sum() == 0 and _chi2_ok(counts, weights)


@pytest.mark.device
def test_multinomial_without_replacement_draws_in_order_of_the_remaining_weights() -> None:
    w = np.array([1.0, 2.0, 0.0, 3.0, 4.0])
    p = w / w.sum()
    rows = on_device(w).expand(20000, 5)  # a stride-0 (non-contiguous) input
    x = host(ft.multinomial(rows, 2))
    assert x.shape == (20000, 2) and (x[:, 0] != x[:, 1]).all() and not (x == 2).any()
    assert _chi2_ok(np.bincount(x[:, 0], minlength=5), w)  # the first draw: proportional to w
    # the second draw: P(j) = sum over i != j of p_i * p_j / (1 - p_i)
    second = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(5) if i != j) for j in range(5)])
    assert _chi2_ok(np.bincount(x[:, 1], minlength=5), second)


@pytest.mark.device
def test_multinomial_without_replacement_can_draw_every_positive_category() -> None:
    w = ft.tensor([[0.0, 1.0, 1e-6, 5.0, 0.0], [3.0, 3.0, 3.0, 3.0, 3.0]])
    x = ft.multinomial(w, 3)
    assert sorted(x[0].tolist()) == [1, 2, 3] and len(set(x[1].tolist())) == 3
    assert sorted(ft.multinomial(ft.ones(7), 7).tolist()) == list(range(7))


@pytest.mark.device
def test_multinomial_accepts_integer_float32_and_non_contiguous_weights() -> None:
    ints = ft.multinomial(ft.LongTensor([0, 4, 0]), 5, replacement=True)
    assert ints.tolist() == [1] * 5
    f32 = ft.multinomial(ft.FloatTensor([[0, 1], [1, 0]]), 1)
    assert f32.tolist() == [[1], [0]]
    w = ft.tensor([[0.0, 1.0], [0.0, 0.0], [2.0, 0.0]]).t()  # transposed: rows [0, 0, 2], [1, 0, 0]
    assert ft.multinomial(w, 4, replacement=True).tolist() == [[2] * 4, [0] * 4]
    assert w.multinomial(1).tolist() == [[2], [0]]  # the method form


@pytest.mark.device
def test_multinomial_out_and_seeded_reproducibility() -> None:
    out = ft.LongTensor([7])
    r = ft.multinomial(ft.ones(10), 4, out=out)
    assert r is out and out.size() == (4,) and len(set(out.tolist())) == 4
    ft.manual_seed(5)
    a = ft.multinomial(ft.ones(3, 10), 6), ft.multinomial(ft.ones(10), 20, replacement=True)
    ft.manual_seed(5)
    b = ft.multinomial(ft.ones(3, 10), 6), ft.multinomial(ft.ones(10), 20, replacement=True)
    assert a[0].equal(b[0]) and a[1].equal(b[1])


@pytest.mark.device
@pytest.mark.parametrize(
    ("weights", "n", "replacement", "error", "match"),
    [
        ([1.0, 2.0, 3.0], 4, False, ft.DomainError, "cannot draw 4 samples without replacement from 3 categories"),
        ([1.0, 0.0, 3.0], 3, False, ft.DomainError, "only 2 categories of non-zero weight"),
        ([1.0, -2.0, 3.0], 1, True, ft.DomainError, "non-negative"),
        ([[1.0, 2.0], [0.0, 0.0]], 1, True, ft.DomainError, "sums to 0"),
        ([0.0, 0.0], 1, False, ft.DomainError, "sums to 0"),
        ([1.0, float("nan")], 1, True, ft.DomainError, "finite"),
        ([1.0, float("inf")], 1, True, ft.DomainError, "finite"),
        ([1.0, 2.0], 0, True, ft.DomainError, "at least 1"),
        ([1.0, 2.0], 1.5, True, ft.ArgumentError, "num_samples must be an int"),
        ([[[1.0]]], 1, True, ft.ShapeError, "1-D or 2-D"),
        (1.0, 1, True, ft.ShapeError, "1-D or 2-D"),
        ([], 1, True, ft.DomainError, "no categories"),
    ],
)
def test_multinomial_errors(weights, n, replacement, error, match) -> None:  # noqa: ANN001
    state = ft.get_rng_state(device())
    with pytest.raises(error, match=match):
        ft.multinomial(ft.tensor(weights), n, replacement)
    assert ft.get_rng_state(device()).equal(state)  # a refused call draws nothing


def test_random_guide_examples_run() -> None:
    import doctest
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[3] / "docs" / "guide" / "random.md"
    if not page.is_file():
        pytest.skip("docs/ is not next to the tests (not a repository checkout)")
    blocks = re.findall(r"^```pycon\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M)
    test = doctest.DocTestParser().get_doctest("\n\n".join(blocks), {}, "docs/guide/random.md", str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False) == (0, len(test.examples))
