"""Sampling from randomkit (flambeau.random) and the talk's histogram (flambeau.plot's Plot).

torch-randomkit's samplers with Torch's fill convention: `random.negative_binomial(a, 9, 0.3)`
fills tensor `a` in place; numbers only give one number. They draw from flambeau's generators, so
`ft.manual_seed` makes them reproducible. The sample moments of a few distributions are checked
against the distributions' own (scipy.stats), and the talk's histogram of 10000
negative-binomial(9, 0.3) draws is written to `negative_binomial.png` and `negative_binomial.html`
in the current directory.

Run it with `python examples/random_sampling.py` where flambeau is installed
(`python3 -m nox -s examples` runs every example; `MPLBACKEND=Agg` when there is no display).
"""

import math
import os

import scipy.stats as st

import flambeau.tensor as ft
from flambeau import random
from flambeau.plot import Plot

N = 10000


def check_moments(name: str, sample: ft.Tensor, dist: st.rv_continuous | st.rv_discrete) -> None:
    """Assert that the sample mean and variance are within 5 standard errors of ``dist``'s."""
    mean, var = dist.stats(moments="mv")
    m, v = sample.mean().item(), sample.var().item()
    # standard errors of the sample mean and (roughly, from the 4th moment) of the sample variance
    se_m = math.sqrt(var / N)
    kurt = float(dist.stats(moments="k"))
    se_v = var * math.sqrt((kurt + 2) / N)
    print(f"{name:32s} mean {m:9.4f} (exact {float(mean):9.4f})   variance {v:9.4f} (exact {float(var):9.4f})")
    assert abs(m - mean) < 5 * se_m, (name, m, mean)
    assert abs(v - var) < 5 * se_v, (name, v, var)


def sample_moments() -> None:
    print(f"== {N} draws each: sample moments against the distributions'")
    ft.manual_seed(42)
    a = ft.zeros(N)
    assert random.negative_binomial(a, 9, 0.3) is a  # filled in place, as in Torch
    check_moments("negative_binomial(9, 0.3)", a, st.nbinom(9, 0.3))
    check_moments("gamma(shape 2.5, scale 1.5)", random.gamma(ft.zeros(N), 2.5, 1.5), st.gamma(2.5, scale=1.5))
    check_moments("beta(2, 5)", random.beta(ft.zeros(N), 2.0, 5.0), st.beta(2, 5))
    check_moments("poisson(3.5)", random.poisson(ft.zeros(N), 3.5), st.poisson(3.5))
    check_moments("standard_t(7)", random.standard_t(ft.zeros(N), 7.0), st.t(7))

    # numbers only: one number; the same seed gives the same stream
    ft.manual_seed(7)
    x = random.normal(5.0, 2.0)
    ft.manual_seed(7)
    assert isinstance(x, float) and random.normal(5.0, 2.0) == x
    # tensor parameters broadcast: one draw per rate
    rates = ft.tensor([0.5, 50.0, 5000.0])
    draws = random.poisson(rates)
    print("poisson([0.5, 50, 5000]) ->", draws.tolist(), draws.type())
    assert draws.type() == "flambeau.LongTensor" and draws.size() == ft.Size([3])
    assert abs(draws[2].item() - 5000) < 5 * math.sqrt(5000)


def histogram() -> None:
    print("== the talk's histogram")
    ft.manual_seed(0)
    a = random.negative_binomial(ft.zeros(N), 9, 0.3)
    p = Plot().histogram(a, 80, 1, 80).title("Negative binomial(9, 0.3)")
    counts = p.glyphs[0].data["y1"]
    assert len(counts) == 80 and sum(counts) == ft.histc(a, 80, 1, 80).sum().item()
    # the tallest bar sits at the distribution's mode, (r - 1)(1 - p)/p = 18.67 -> 18
    mode_bin = int(ft.argmax(ft.tensor(list(counts))).item())
    lefts = p.glyphs[0].data["x0"]
    print(f"tallest bar: left edge {lefts[mode_bin]:.2f} with {counts[mode_bin]:.0f} draws")
    assert 14 <= lefts[mode_bin] <= 22
    p.save("negative_binomial.png").save("negative_binomial.html")
    for f in ("negative_binomial.png", "negative_binomial.html"):
        print(f"wrote {os.path.abspath(f)} ({os.path.getsize(f)} bytes)")
    assert open("negative_binomial.png", "rb").read(4) == b"\x89PNG"
    assert "Negative binomial(9, 0.3)" in open("negative_binomial.html").read()


if __name__ == "__main__":
    sample_moments()
    histogram()
    print("random_sampling.py: all checks passed")
