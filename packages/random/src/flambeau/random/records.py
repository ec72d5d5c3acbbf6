"""One record per randomkit name: the single source of the functions, their docs and their tests.

Each :class:`Dist` names the numpy ``Generator`` method that draws it (or a small ``call`` that
adapts a randomkit convention to numpy's), its parameters with numpy's names and defaults, a
docstring and a runnable example, the theoretical mean and variance (used by the tests) and, for
continuous distributions, the matching ``scipy.stats`` distribution (the Kolmogorov-Smirnov test).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

REQUIRED: Any = object()  # marks a parameter without a default


@dataclass(frozen=True)
class Dist:
    name: str
    method: str  # the numpy Generator method (by that name on every backend's generator)
    params: tuple[tuple[str, Any], ...]  # (name, default or REQUIRED), numpy's names
    doc: str
    example: str  # doctest lines after the common preamble (flambeau.tensor as ft, random, seeded)
    kind: str = "float"  # "float" (new tensors get the default dtype) or "int" (LongTensor)
    family: str = ""
    note: str = ""  # where randomkit's convention differs from numpy's, or an alias
    call: Callable[..., Any] | None = None  # call(method, params, size) when not method(*params, size=size)
    int_params: tuple[str, ...] = ()  # parameters that must be integers
    mean: Callable[..., float] | None = None
    var: Callable[..., float] | None = None
    scipy: Callable[..., Any] | None = None  # scipy(stats, *params) -> frozen distribution (continuous only)
    test_params: tuple[Any, ...] = ()
    alias_of: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _zeta(s: float) -> float:
    """Riemann zeta for s > 1 (Euler-Maclaurin; enough for tests)."""
    n = 1000
    k = np.arange(1, n, dtype=np.float64)
    return float(np.sum(k**-s) + n ** (1 - s) / (s - 1) + 0.5 * n**-s + s * n ** (-s - 1) / 12)


def _vonmises_moment(mu: float, kappa: float, order: int) -> float:
    x = np.linspace(-np.pi, np.pi, 200001)
    w = np.exp(kappa * (np.cos(x - mu) - 1))
    w /= np.trapezoid(w, x)
    m = float(np.trapezoid(x * w, x))
    return m if order == 1 else float(np.trapezoid((x - m) ** 2 * w, x))


def _integers(low: int, high: int, dtype: Any) -> Callable[..., Any]:
    """Raw or bounded integers in [low, high) through ``integers`` (raw MT output for the full range)."""
    return lambda m, p, size: m(low, high, size=size, dtype=dtype)


_U32, _U63, _U64 = 2**32, 2**63, 2**64
_EG = 0.5772156649015329  # Euler-Mascheroni

_REPEAT = "``{0}`` draws exactly as ``{1}`` (numpy chooses the algorithm); the name is kept from randomkit."

_RECORDS: list[Dist] = []


def _d(name: str, method: str, params: Any, doc: str, example: str, **kw: Any) -> None:
    _RECORDS.append(Dist(name, method, tuple(params), doc, example, **kw))


R = REQUIRED

# --- Uniform ---------------------------------------------------------------------------------------
_U = "Uniform"
_d(
    "double",
    "random",
    (),
    "Uniform draws in [0, 1).",
    "0 <= random.double() < 1\nTrue",
    family=_U,
    mean=lambda: 0.5,
    var=lambda: 1 / 12,
    scipy=lambda st: st.uniform(),
    note="Same as ``random_sample``.",
)
_d(
    "random_sample",
    "random",
    (),
    "Uniform draws in [0, 1) (alias of ``double``).",
    "x = random.random_sample(ft.zeros(100)); bool((x >= 0).all() and (x < 1).all())\nTrue",
    family=_U,
    mean=lambda: 0.5,
    var=lambda: 1 / 12,
    scipy=lambda st: st.uniform(),
    alias_of="double",
)
_d(
    "uniform",
    "uniform",
    (("low", 0.0), ("high", 1.0)),
    "Uniform draws in [low, high).",
    "x = random.uniform(ft.zeros(1000), 2, 3); 2 <= x.min().item() <= x.max().item() < 3\nTrue",
    family=_U,
    note="Torch's wrapper declared ``int`` results, so ``uniform(paramTensor, ...)`` without an output "
    "truncated to integers; here new tensors are floating point.",
    mean=lambda lo, hi: (lo + hi) / 2,
    var=lambda lo, hi: (hi - lo) ** 2 / 12,
    scipy=lambda st, lo, hi: st.uniform(lo, hi - lo),
    test_params=(-2.0, 3.0),
)
_d(
    "randint",
    "integers",
    (("low", R), ("high", R)),
    "Integers uniformly in [low, high], **high included**.",
    "sorted(set(random.randint(ft.zeros(300), 1, 3).tolist()))\n[1.0, 2.0, 3.0]",
    family=_U,
    kind="int",
    note="randomkit includes ``high`` (numpy's ``integers`` excludes it; drawn with ``endpoint=True``).",
    call=lambda m, p, size: m(p[0], p[1], size=size, endpoint=True),
    int_params=("low", "high"),
    mean=lambda lo, hi: (lo + hi) / 2,
    var=lambda lo, hi: ((hi - lo + 1) ** 2 - 1) / 12,
    test_params=(-3, 7),
)
_d(
    "interval",
    "integers",
    (("max", R),),
    "Integers uniformly in [0, max], **max included** (``rk_interval``).",
    "sorted(set(random.interval(ft.zeros(300), 2).tolist()))\n[0.0, 1.0, 2.0]",
    family=_U,
    kind="int",
    note="randomkit's ``rk_interval``; drawn as numpy ``integers(0, max, endpoint=True)``.",
    call=lambda m, p, size: m(0, p[0], size=size, endpoint=True),
    int_params=("max",),
    mean=lambda mx: mx / 2,
    var=lambda mx: ((mx + 1) ** 2 - 1) / 12,
    test_params=(10,),
)
_d(
    "random",
    "integers",
    (),
    "A raw 32-bit Mersenne Twister output, an integer in [0, 2**32).",
    "0 <= random.random() < 2**32\nTrue",
    family=_U,
    kind="int",
    note="Not numpy's ``random()`` (a float): randomkit's ``rk_random``, the generator's raw 32-bit word.",
    call=_integers(0, _U32, np.uint32),
    mean=lambda: (_U32 - 1) / 2,
    var=lambda: (_U32**2 - 1) / 12,
)
_d(
    "long",
    "integers",
    (),
    "A random non-negative integer in [0, 2**63).",
    "0 <= random.long() < 2**63\nTrue",
    family=_U,
    kind="int",
    note="randomkit's ``rk_long``; drawn as numpy ``integers(0, 2**63, dtype=int64)``.",
    call=_integers(0, _U63, np.int64),
    mean=lambda: (_U63 - 1) / 2,
    var=lambda: (_U63**2 - 1) / 12,
)
_d(
    "ulong",
    "integers",
    (),
    "A random unsigned 64-bit integer in [0, 2**64) (two raw 32-bit words).",
    "0 <= random.ulong() < 2**64\nTrue",
    family=_U,
    kind="int",
    note="randomkit's ``rk_ulong``. A Python number holds the full range; a LongTensor (int64) holds the same "
    "64 bits, so values from 2**63 up read as negative.",
    call=_integers(0, _U64, np.uint64),
    mean=lambda: (_U64 - 1) / 2,
    var=lambda: (_U64**2 - 1) / 12,
)
_d(
    "bytes",
    "integers",
    (),
    "Random bytes: fills a ByteTensor (or any tensor) with integers in [0, 255].",
    "x = random.bytes(ft.ByteTensor(16)); x.type(), x.size()\n('flambeau.ByteTensor', Size([16]))\n"
    ">>> len(random.bytes(8))\n8",
    family=_U,
    kind="int",
    note="randomkit's output ByteTensor is mandatory; ``bytes(n)`` with a number (its README's form) "
    "returns a Python ``bytes`` of length n.",
    call=_integers(0, 256, np.uint8),
    mean=lambda: 127.5,
    var=lambda: (256**2 - 1) / 12,
)

# --- Normal family ---------------------------------------------------------------------------------
_N = "Normal family"
_d(
    "gauss",
    "standard_normal",
    (),
    "Standard normal draws (alias of ``standard_normal``).",
    "isinstance(random.gauss(), float)\nTrue",
    family=_N,
    mean=lambda: 0.0,
    var=lambda: 1.0,
    scipy=lambda st: st.norm(),
    note="numpy's ziggurat, not randomkit's cached polar Box-Muller.",
)
_d(
    "standard_normal",
    "standard_normal",
    (),
    "Standard normal draws.",
    "abs(random.standard_normal(ft.zeros(10000)).mean().item()) < 0.05\nTrue",
    family=_N,
    mean=lambda: 0.0,
    var=lambda: 1.0,
    scipy=lambda st: st.norm(),
    alias_of="gauss",
)
_d(
    "normal",
    "normal",
    (("loc", 0.0), ("scale", 1.0)),
    "Normal draws with mean ``loc`` and standard deviation ``scale``.",
    "x = random.normal(ft.zeros(3), ft.tensor([0.0, 100.0, 1000.0]), 1); [round(v / 100) for v in x.tolist()]\n"
    "[0, 1, 10]",
    family=_N,
    mean=lambda m, s: m,
    var=lambda m, s: s * s,
    scipy=lambda st, m, s: st.norm(m, s),
    test_params=(1.5, 2.0),
)
_d(
    "lognormal",
    "lognormal",
    (("mean", 0.0), ("sigma", 1.0)),
    "Log-normal draws: ``exp`` of a normal with ``mean`` and ``sigma`` (parameters of the underlying normal).",
    "bool((random.lognormal(ft.zeros(100), 0, 1) > 0).all())\nTrue",
    family=_N,
    mean=lambda m, s: math.exp(m + s * s / 2),
    var=lambda m, s: (math.exp(s * s) - 1) * math.exp(2 * m + s * s),
    scipy=lambda st, m, s: st.lognorm(s, scale=math.exp(m)),
    test_params=(0.2, 0.5),
)

# --- Exponential / gamma family --------------------------------------------------------------------
_G = "Exponential and gamma family"
_d(
    "standard_exponential",
    "standard_exponential",
    (),
    "Exponential draws with mean 1.",
    "random.standard_exponential() > 0\nTrue",
    family=_G,
    mean=lambda: 1.0,
    var=lambda: 1.0,
    scipy=lambda st: st.expon(),
)
_d(
    "exponential",
    "exponential",
    (("scale", 1.0),),
    "Exponential draws with mean ``scale`` (= 1/rate).",
    "1.9 < random.exponential(ft.zeros(20000), 2).mean().item() < 2.1\nTrue",
    family=_G,
    note="``scale`` is the mean, 1/λ (as numpy); ``Tensor.exponential_(lambd)`` takes the rate λ.",
    mean=lambda s: s,
    var=lambda s: s * s,
    scipy=lambda st, s: st.expon(scale=s),
    test_params=(2.5,),
)
_d(
    "standard_gamma",
    "standard_gamma",
    (("shape", R),),
    "Gamma draws with ``shape`` and scale 1.",
    "random.standard_gamma(2.0) > 0\nTrue",
    family=_G,
    mean=lambda k: k,
    var=lambda k: k,
    scipy=lambda st, k: st.gamma(k),
    test_params=(2.5,),
)
_d(
    "gamma",
    "gamma",
    (("shape", R), ("scale", 1.0)),
    "Gamma draws with ``shape`` k and ``scale`` θ (mean kθ).",
    "bool((random.gamma(ft.zeros(100), 2, 3) > 0).all())\nTrue",
    family=_G,
    mean=lambda k, t: k * t,
    var=lambda k, t: k * t * t,
    scipy=lambda st, k, t: st.gamma(k, scale=t),
    test_params=(3.0, 0.5),
)
_d(
    "beta",
    "beta",
    (("a", R), ("b", R)),
    "Beta draws in [0, 1].",
    "0 <= random.beta(2, 3) <= 1\nTrue",
    family=_G,
    mean=lambda a, b: a / (a + b),
    var=lambda a, b: a * b / ((a + b) ** 2 * (a + b + 1)),
    scipy=lambda st, a, b: st.beta(a, b),
    test_params=(2.0, 5.0),
)
_d(
    "chisquare",
    "chisquare",
    (("df", R),),
    "Chi-square draws with ``df`` degrees of freedom.",
    "random.chisquare(3) > 0\nTrue",
    family=_G,
    mean=lambda k: k,
    var=lambda k: 2 * k,
    scipy=lambda st, k: st.chi2(k),
    test_params=(4.0,),
)
_d(
    "noncentral_chisquare",
    "noncentral_chisquare",
    (("df", R), ("nonc", R)),
    "Noncentral chi-square draws with ``df`` degrees of freedom and non-centrality ``nonc``.",
    "random.noncentral_chisquare(3, 2) > 0\nTrue",
    family=_G,
    mean=lambda k, lam: k + lam,
    var=lambda k, lam: 2 * (k + 2 * lam),
    scipy=lambda st, k, lam: st.ncx2(k, lam),
    test_params=(3.0, 1.5),
)
_d(
    "f",
    "f",
    (("dfnum", R), ("dfden", R)),
    "F (Fisher-Snedecor) draws.",
    "random.f(5, 10) > 0\nTrue",
    family=_G,
    mean=lambda a, b: b / (b - 2),
    var=lambda a, b: 2 * b * b * (a + b - 2) / (a * (b - 2) ** 2 * (b - 4)),
    scipy=lambda st, a, b: st.f(a, b),
    test_params=(6.0, 20.0),
)
_d(
    "noncentral_f",
    "noncentral_f",
    (("dfnum", R), ("dfden", R), ("nonc", R)),
    "Noncentral F draws.",
    "random.noncentral_f(5, 10, 1) > 0\nTrue",
    family=_G,
    mean=lambda a, b, lam: b * (a + lam) / (a * (b - 2)),
    var=lambda a, b, lam: 2 * (b / a) ** 2 * ((a + lam) ** 2 + (a + 2 * lam) * (b - 2)) / ((b - 2) ** 2 * (b - 4)),
    scipy=lambda st, a, b, lam: st.ncf(a, b, lam),
    test_params=(6.0, 20.0, 2.0),
)

# --- Heavy-tailed and other continuous -------------------------------------------------------------
_C = "Heavy-tailed and other continuous"
_d(
    "standard_cauchy",
    "standard_cauchy",
    (),
    "Standard Cauchy draws (no mean or variance).",
    "isinstance(random.standard_cauchy(), float)\nTrue",
    family=_C,
    scipy=lambda st: st.cauchy(),
)
_d(
    "standard_t",
    "standard_t",
    (("df", R),),
    "Student's t draws with ``df`` degrees of freedom.",
    "isinstance(random.standard_t(5), float)\nTrue",
    family=_C,
    mean=lambda v: 0.0,
    var=lambda v: v / (v - 2),
    scipy=lambda st, v: st.t(v),
    test_params=(10.0,),
)
_d(
    "vonmises",
    "vonmises",
    (("mu", R), ("kappa", R)),
    "von Mises draws on [-π, π] with mode ``mu`` and concentration ``kappa``.",
    "import math; bool((random.vonmises(ft.zeros(100), 0, 1).abs() <= math.pi).all())\nTrue",
    family=_C,
    mean=lambda mu, k: _vonmises_moment(mu, k, 1),
    var=lambda mu, k: _vonmises_moment(mu, k, 2),
    scipy=lambda st, mu, k: st.vonmises(k, loc=mu),
    test_params=(0.0, 2.0),
)
_d(
    "pareto",
    "pareto",
    (("a", R),),
    "Pareto II (Lomax) draws with shape ``a``, support [0, ∞) (numpy's pareto).",
    "random.pareto(3) >= 0\nTrue",
    family=_C,
    note="Lomax, as numpy: add 1 for the classical Pareto with x_m = 1.",
    mean=lambda a: 1 / (a - 1),
    var=lambda a: a / ((a - 1) ** 2 * (a - 2)),
    scipy=lambda st, a: st.lomax(a),
    test_params=(9.0,),
)
_d(
    "weibull",
    "weibull",
    (("a", R),),
    "Weibull draws with shape ``a`` and scale 1.",
    "random.weibull(2) >= 0\nTrue",
    family=_C,
    mean=lambda a: math.gamma(1 + 1 / a),
    var=lambda a: math.gamma(1 + 2 / a) - math.gamma(1 + 1 / a) ** 2,
    scipy=lambda st, a: st.weibull_min(a),
    test_params=(1.5,),
)
_d(
    "power",
    "power",
    (("a", R),),
    "Power-function draws on [0, 1] with density ``a x**(a-1)``.",
    "0 <= random.power(3) <= 1\nTrue",
    family=_C,
    mean=lambda a: a / (a + 1),
    var=lambda a: a / ((a + 1) ** 2 * (a + 2)),
    scipy=lambda st, a: st.powerlaw(a),
    test_params=(3.0,),
)
_d(
    "laplace",
    "laplace",
    (("loc", 0.0), ("scale", 1.0)),
    "Laplace (double exponential) draws.",
    "isinstance(random.laplace(0, 1), float)\nTrue",
    family=_C,
    mean=lambda m, s: m,
    var=lambda m, s: 2 * s * s,
    scipy=lambda st, m, s: st.laplace(m, s),
    test_params=(1.0, 2.0),
)
_d(
    "gumbel",
    "gumbel",
    (("loc", 0.0), ("scale", 1.0)),
    "Gumbel (largest extreme value) draws.",
    "isinstance(random.gumbel(0, 1), float)\nTrue",
    family=_C,
    mean=lambda m, s: m + _EG * s,
    var=lambda m, s: math.pi**2 * s * s / 6,
    scipy=lambda st, m, s: st.gumbel_r(m, s),
    test_params=(1.0, 2.0),
)
_d(
    "logistic",
    "logistic",
    (("loc", 0.0), ("scale", 1.0)),
    "Logistic draws.",
    "isinstance(random.logistic(0, 1), float)\nTrue",
    family=_C,
    mean=lambda m, s: m,
    var=lambda m, s: s * s * math.pi**2 / 3,
    scipy=lambda st, m, s: st.logistic(m, s),
    test_params=(1.0, 2.0),
)
_d(
    "rayleigh",
    "rayleigh",
    (("scale", 1.0),),
    "Rayleigh draws with mode ``scale``.",
    "random.rayleigh(2) >= 0\nTrue",
    family=_C,
    mean=lambda s: s * math.sqrt(math.pi / 2),
    var=lambda s: (4 - math.pi) / 2 * s * s,
    scipy=lambda st, s: st.rayleigh(scale=s),
    test_params=(2.0,),
)
_d(
    "wald",
    "wald",
    (("mean", R), ("scale", R)),
    "Wald (inverse Gaussian) draws with ``mean`` μ and shape ``scale`` λ.",
    "random.wald(1, 2) > 0\nTrue",
    family=_C,
    mean=lambda m, s: m,
    var=lambda m, s: m**3 / s,
    scipy=lambda st, m, s: st.invgauss(m / s, scale=s),
    test_params=(1.5, 3.0),
)
_d(
    "triangular",
    "triangular",
    (("left", R), ("mode", R), ("right", R)),
    "Triangular draws on [left, right].",
    "0 <= random.triangular(0, 1, 4) <= 4\nTrue",
    family=_C,
    mean=lambda a, c, b: (a + b + c) / 3,
    var=lambda a, c, b: (a * a + b * b + c * c - a * b - a * c - b * c) / 18,
    scipy=lambda st, a, c, b: st.triang((c - a) / (b - a), loc=a, scale=b - a),
    test_params=(-1.0, 0.5, 3.0),
)

# --- Discrete --------------------------------------------------------------------------------------
_D = "Discrete"


def _binomial(name: str, alias: str = "") -> None:
    _d(
        name,
        "binomial",
        (("n", R), ("p", R)),
        "Binomial draws: successes in ``n`` trials of probability ``p``.",
        f"0 <= random.{name}(10, 0.5) <= 10\nTrue",
        family=_D,
        kind="int",
        int_params=("n",),
        note=_REPEAT.format(name, "binomial") if alias else "",
        mean=lambda n, p: n * p,
        var=lambda n, p: n * p * (1 - p),
        test_params=(20, 0.3),
        alias_of=alias,
    )


def _poisson(name: str, alias: str = "") -> None:
    _d(
        name,
        "poisson",
        (("lam", 1.0),),
        "Poisson draws with mean ``lam``.",
        f"random.{name}(3) >= 0\nTrue",
        family=_D,
        kind="int",
        note=_REPEAT.format(name, "poisson") if alias else "",
        mean=lambda lam: lam,
        var=lambda lam: lam,
        test_params=(4.5,),
        alias_of=alias,
    )


def _geometric(name: str, alias: str = "") -> None:
    _d(
        name,
        "geometric",
        (("p", R),),
        "Geometric draws: trials up to and including the first success (≥ 1).",
        f"random.{name}(0.5) >= 1\nTrue",
        family=_D,
        kind="int",
        note=_REPEAT.format(name, "geometric") if alias else "",
        mean=lambda p: 1 / p,
        var=lambda p: (1 - p) / p**2,
        test_params=(0.25,),
        alias_of=alias,
    )


def _hypergeometric(name: str, alias: str = "") -> None:
    _d(
        name,
        "hypergeometric",
        (("ngood", R), ("nbad", R), ("nsample", R)),
        "Hypergeometric draws: good items among ``nsample`` drawn without replacement.",
        f"0 <= random.{name}(5, 10, 4) <= 4\nTrue",
        family=_D,
        kind="int",
        int_params=("ngood", "nbad", "nsample"),
        note=_REPEAT.format(name, "hypergeometric") if alias else "",
        mean=lambda g, b, n: n * g / (g + b),
        var=lambda g, b, n: n * (g / (g + b)) * (b / (g + b)) * (g + b - n) / (g + b - 1),
        test_params=(30, 20, 15),
        alias_of=alias,
    )


_binomial("binomial")
_binomial("binomial_btpe", "binomial")
_binomial("binomial_inversion", "binomial")
_d(
    "negative_binomial",
    "negative_binomial",
    (("n", R), ("p", R)),
    "Negative binomial draws: failures before the ``n``-th success, each of probability ``p``.",
    "a = ft.zeros(10000); random.negative_binomial(a, 9, 0.3) is a\nTrue\n>>> 19 < a.mean().item() < 23\nTrue",
    family=_D,
    kind="int",
    mean=lambda n, p: n * (1 - p) / p,
    var=lambda n, p: n * (1 - p) / p**2,
    test_params=(9.0, 0.3),
)
_poisson("poisson")
_poisson("poisson_mult", "poisson")
_poisson("poisson_ptrs", "poisson")
_geometric("geometric")
_geometric("geometric_search", "geometric")
_geometric("geometric_inversion", "geometric")
_hypergeometric("hypergeometric")
_hypergeometric("hypergeometric_hyp", "hypergeometric")
_hypergeometric("hypergeometric_hrua", "hypergeometric")
_d(
    "zipf",
    "zipf",
    (("a", R),),
    "Zipf draws: P(k) = k**-a / ζ(a), k ≥ 1, for ``a`` > 1.",
    "random.zipf(2) >= 1\nTrue",
    family=_D,
    kind="int",
    mean=lambda a: _zeta(a - 1) / _zeta(a),
    var=lambda a: _zeta(a - 2) / _zeta(a) - (_zeta(a - 1) / _zeta(a)) ** 2,
    test_params=(6.0,),
)
_d(
    "logseries",
    "logseries",
    (("p", R),),
    "Logarithmic series draws (k ≥ 1) with parameter ``p`` in (0, 1).",
    "random.logseries(0.5) >= 1\nTrue",
    family=_D,
    kind="int",
    mean=lambda p: -p / ((1 - p) * math.log(1 - p)),
    var=lambda p: -p * (p + math.log(1 - p)) / ((1 - p) ** 2 * math.log(1 - p) ** 2),
    test_params=(0.6,),
)

DISTRIBUTIONS: tuple[Dist, ...] = tuple(_RECORDS)
BY_NAME: dict[str, Dist] = {d.name: d for d in DISTRIBUTIONS}
assert len(BY_NAME) == len(DISTRIBUTIONS) == 49
