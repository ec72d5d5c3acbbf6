"""flambeau.random: names, streams, state, the fill convention, and moments/KS against theory.

All but the docs pages' tests are device suites: the samplers draw on the device under test, from
its generators (``ft.get_rng_state(device())``); where that generator is numpy's MT19937 (the cpu,
the boxed test device) the draws are also checked to be numpy's, value for value.
"""

from __future__ import annotations

import doctest
import math
import re
from pathlib import Path

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau import random
from flambeau.random.records import DISTRIBUTIONS, Dist
from flambeau.random.reference import markdown
from flambeau.tensor.errors import ArgumentError, DomainError, ShapeError
from flambeau.tensor.random import generator_for
from flambeau.tensor.testing import device, host

IDS = [d.name for d in DISTRIBUTIONS]
ROOT = Path(__file__).resolve().parents[3]


def _numpy_draws(d: Dist, seed: int, size: tuple[int, ...]) -> np.ndarray:
    """The same draws from numpy, seeded as flambeau's numpy backend seeds its generator."""
    g = np.random.Generator(np.random.MT19937(seed))
    m = getattr(g, d.method)
    p = list(d.test_params)
    return np.asarray(d.call(m, p, size) if d.call else m(*p, size=size))


def _typename(name: str) -> str:
    """Torch7's name of the type ``name`` (``'LongTensor'``) on the device under test."""
    kind = device().type
    return f"flambeau.{name}" if kind == "cpu" else f"flambeau.{kind}.{name}"


def _numpy_stream() -> bool:
    """Whether the device under test draws from numpy's MT19937 (then its draws are numpy's)."""
    g = generator_for(device(), None)
    return isinstance(g, np.random.Generator) and isinstance(g.bit_generator, np.random.MT19937)


def _out(d: Dist, n: int) -> ft.Tensor:
    if d.name == "bytes":
        return ft.zeros(n, dtype=ft.ByteTensor)
    return ft.zeros(n, dtype=ft.LongTensor if d.kind == "int" else ft.DoubleTensor)


def _values(d: Dist, t: ft.Tensor) -> np.ndarray:
    a = host(t)
    if d.name == "ulong":
        a = a.view(np.uint64)
    return a.astype(np.float64)


@pytest.mark.device
def test_the_49_names() -> None:
    assert len(DISTRIBUTIONS) == 49
    for d in DISTRIBUTIONS:
        f = getattr(random, d.name)
        assert f.__name__ == d.name and d.doc in f.__doc__ and ">>> " in f.__doc__
    assert sorted(random.__all__) == sorted([*IDS, "DISTRIBUTIONS", "signature"])


@pytest.mark.device
@pytest.mark.parametrize("d", DISTRIBUTIONS, ids=IDS)
def test_stream_is_numpys_and_reproducible(d: Dist) -> None:
    ft.manual_seed(2024)
    a = getattr(random, d.name)(_out(d, 40), *d.test_params)
    ft.manual_seed(2024)
    b = getattr(random, d.name)(_out(d, 40), *d.test_params)
    assert a.equal(b) and a.device is device()
    if not _numpy_stream():
        return
    expected = _numpy_draws(d, 2024, (40,))
    if d.name == "ulong":
        expected = expected.astype(np.int64)
    np.testing.assert_array_equal(host(a), expected.astype(host(a).dtype))


@pytest.mark.device
@pytest.mark.parametrize("d", DISTRIBUTIONS, ids=IDS)
def test_numbers_give_a_python_number(d: Dist) -> None:
    ft.manual_seed(5)
    x = getattr(random, d.name)(*d.test_params)
    if d.name == "bytes":
        return  # bytes() with no output has nothing to draw into; bytes(n) is tested below
    assert type(x) is (int if d.kind == "int" else float)
    ft.manual_seed(5)
    assert getattr(random, d.name)(*d.test_params) == x


@pytest.mark.device
def test_state_save_and_restore_with_the_tensor_samplers() -> None:
    ft.manual_seed(11)
    ft.rand(3)
    state = ft.get_rng_state(device())
    first = [random.gauss(), random.binomial(10, 0.5), ft.rand(2).tolist(), random.gamma(ft.zeros(4), 2.0).tolist()]
    ft.set_rng_state(state, device())
    again = [random.gauss(), random.binomial(10, 0.5), ft.rand(2).tolist(), random.gamma(ft.zeros(4), 2.0).tolist()]
    assert first == again


@pytest.mark.device
def test_shared_stream_with_tensor_samplers() -> None:
    ft.manual_seed(3)
    a = ft.rand(5)
    ft.manual_seed(3)
    assert random.double(ft.zeros(5)).equal(a)


@pytest.mark.device
def test_generator_keyword() -> None:
    ft.manual_seed(1)
    before = ft.get_rng_state(device())
    g = ft.Generator(device(), seed=9)
    x = random.poisson(ft.zeros(6), 3.0, generator=g)
    assert ft.get_rng_state(device()).equal(before)  # the default generator is untouched
    assert random.poisson(ft.zeros(6), 3.0, generator=ft.Generator(device(), seed=9)).equal(x)
    assert isinstance(random.normal(generator=g), float)


@pytest.mark.device
def test_fill_convention_keeps_object_type_and_size() -> None:
    ft.manual_seed(0)
    a = ft.zeros(2, 3, dtype=ft.FloatTensor)
    assert random.normal(a, 0, 1) is a and a.type() == _typename("FloatTensor") and a.size() == ft.Size([2, 3])
    i = ft.zeros(4, dtype=ft.IntTensor)
    assert random.randint(i, 1, 6) is i and i.type() == _typename("IntTensor")
    assert all(1 <= v <= 6 for v in i.tolist())
    b = ft.zeros(5)
    assert random.normal(out=b) is b and bool(b.ne(0).all())
    c = ft.zeros(3)
    assert random.exponential(c, 2.0) is c and bool(c.gt(0).all())
    # one too few arguments: the tensor is a parameter, not the output (Torch's rule)
    t = ft.tensor([0.0, 1000.0])
    r = random.normal(t)
    assert r is not t and r.size() == ft.Size([2]) and t.tolist() == [0.0, 1000.0]


@pytest.mark.device
def test_tensor_parameters_broadcast() -> None:
    ft.manual_seed(0)
    a = random.normal(ft.zeros(2, 3), ft.tensor([[0.0], [1000.0]]), 0.001)
    assert [[round(v) for v in row] for row in a.tolist()] == [[0, 0, 0], [1000, 1000, 1000]]
    b = random.uniform(ft.tensor([0.0, 10.0, 20.0]), 100.0 + ft.tensor([[0.0], [10.0]]))  # new tensor, broadcast size
    assert b.size() == ft.Size([2, 3]) and b.type() == _typename("DoubleTensor")
    n = random.binomial(ft.tensor([5, 50]), 0.5)
    assert n.type() == _typename("LongTensor") and n.size() == ft.Size([2])
    flat = random.normal(ft.zeros(2, 2), ft.tensor([0.0, 0.0, 1e6, 1e6]), 1.0)  # N elements, other shape
    assert flat.gt(1e5).tolist() == [[False, False], [True, True]]
    with pytest.raises(ShapeError):
        random.normal(ft.zeros(2, 2), ft.zeros(3), 1.0)
    with pytest.raises(ShapeError):
        random.normal(ft.zeros(2), ft.zeros(3))


@pytest.mark.device
def test_errors() -> None:
    with pytest.raises(DomainError, match="integer"):
        random.randint(1, 2.5)
    with pytest.raises(ArgumentError, match="missing"):
        random.gamma()
    with pytest.raises(ArgumentError, match="takes 2"):
        random.normal(1, 2, 3)
    with pytest.raises(ArgumentError, match="unexpected"):
        random.normal(mu=1)
    g = ft.Generator(device())
    g._gen = object()  # a backend generator that lacks the method
    with pytest.raises(NotImplementedError, match="has no method 'zipf'"):
        random.zipf(2.0, generator=g)


def test_parameters_out_of_their_domain_are_domain_errors() -> None:  # numpy's own check: cpu only
    with pytest.raises(DomainError, match="random.binomial"):
        random.binomial(10, 1.5)


@pytest.mark.device
def test_bytes_forms() -> None:
    ft.manual_seed(0)
    b = random.bytes(16)
    assert isinstance(b, bytes) and len(b) == 16
    ft.manual_seed(0)
    assert host(random.bytes(ft.zeros(16, dtype=ft.ByteTensor))).tobytes() == b


@pytest.mark.device
def test_inclusive_high_conventions() -> None:
    ft.manual_seed(0)
    assert set(random.randint(ft.zeros(500, dtype=ft.LongTensor), 0, 1).tolist()) == {0, 1}
    assert set(random.interval(ft.zeros(500, dtype=ft.LongTensor), 1).tolist()) == {0, 1}


N = 100_000


@pytest.mark.device
@pytest.mark.parametrize("d", [d for d in DISTRIBUTIONS if d.mean is not None], ids=lambda d: d.name)
def test_mean_and_variance_within_5_standard_errors(d: Dist) -> None:
    assert d.mean is not None and d.var is not None
    ft.manual_seed(12345)
    x = _values(d, getattr(random, d.name)(_out(d, N), *d.test_params))
    mu, var = d.mean(*d.test_params), d.var(*d.test_params)
    m, s2 = x.mean(), x.var(ddof=1)
    m4 = np.mean((x - m) ** 4)
    assert abs(m - mu) < 5 * math.sqrt(var / N), (m, mu)
    assert abs(s2 - var) < 5 * math.sqrt(max(m4 - s2 * s2, 0.0) / N), (s2, var)


@pytest.mark.device
@pytest.mark.parametrize("d", [d for d in DISTRIBUTIONS if d.scipy is not None], ids=lambda d: d.name)
def test_kolmogorov_smirnov(d: Dist) -> None:
    stats = pytest.importorskip("scipy.stats")
    assert d.scipy is not None
    ft.manual_seed(777)
    x = host(getattr(random, d.name)(ft.zeros(20_000), *d.test_params))
    p = stats.kstest(x, d.scipy(stats, *d.test_params).cdf).pvalue
    assert p > 1e-3, p


@pytest.mark.skipif(not (ROOT / "docs").exists(), reason="the docs/ folder is not beside this checkout")
def test_docs_page_is_current() -> None:
    page = ROOT / "docs" / "randomkit.md"
    assert page.read_text() == markdown(), "regenerate: python -m flambeau.random.reference > docs/randomkit.md"


@pytest.mark.skipif(not (ROOT / "docs").exists(), reason="the docs/ folder is not beside this checkout")
def test_docs_page_examples_run() -> None:
    page = ROOT / "docs" / "randomkit.md"
    blocks = re.findall(r"```pycon\n(.*?)```", page.read_text(), flags=re.S)
    test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, "randomkit.md", str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert len(blocks) == 49 and result.failed == 0
