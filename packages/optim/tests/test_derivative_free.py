"""cmaes and de: reference trajectories from numpy, convergence, seeding, trees, config errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import flambeau.optim as optim
import flambeau.tensor as ft
from flambeau.tensor.errors import ArgumentError
from flambeau.tensor.testing import device, host, on_device

pytestmark = pytest.mark.device


def sphere(x):
    return ((x - 0.5) * (x - 0.5)).sum().item(), None


def rosenbrock(x):
    a = x[1:] - x[:-1] * x[:-1]
    b = 1 - x[:-1]
    return (100 * (a * a).sum() + (b * b).sum()).item(), None


def np_sphere(x):
    return float(((x - 0.5) ** 2).sum())


def np_rosenbrock(x):
    return float((100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum())


# --------------------------------------------------------------------------------------------------
# cmaes


def np_cmaes(fun, x0, sigma, lam, draws):
    """Torch's cmaes.lua in numpy, for len(draws) generations, fed the given N(0, I) draws."""
    xmean = np.array(x0, dtype=float)
    n = xmean.size
    mu = lam / 2
    w = np.array([math.log(mu + 0.5) - math.log(i + 1) for i in range(int(math.floor(mu)))])
    w /= w.sum()
    mueff = w.sum() ** 2 / (w**2).sum()
    cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n)
    cs = (mueff + 2) / (n + mueff + 5)
    c1 = 2 / ((n + 1.3) ** 2 + mueff)
    cmu = min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((n + 2) ** 2 + mueff))
    damps = 2 * mueff / lam + 0.3 + cs
    pc, ps = np.zeros(n), np.zeros(n)
    B, D, C, invsqrtC = np.eye(n), np.ones(n), np.eye(n), np.eye(n)
    eigeneval = counteval = 0
    f_hist = [fun(xmean)]
    best_x, best_f = None, None
    for z in draws:
        if counteval - eigeneval > lam / (c1 + cmu) / n / 10:
            eigeneval = counteval
            C = np.triu(C) + np.triu(C, 1).T
            # the library's eigensolver on the device under test (on the cpu: numpy's eigh, UPLO="U"): the
            # eigenvectors' signs are the solver's choice (cuSOLVER's differ from LAPACK's) and they steer the samples
            D, B = (host(t) for t in ft.symeig(on_device(C), upper=True))
            D = np.sqrt(D)
            invsqrtC = B @ np.diag(1 / D) @ B.T
        arx = np.array([xmean + sigma * (B @ (D * z[k])) for k in range(lam)])
        fit = np.array([fun(a) for a in arx])
        counteval += lam
        xold = xmean.copy()
        order = np.argsort(fit, kind="stable")
        fit = fit[order]
        arx = arx[order][: len(w)]
        f_hist.append(fit[0])
        if best_f is None or fit[0] < best_f:
            best_x, best_f = arx[0].copy(), fit[0]
        xmean = arx.T @ w
        y = xmean - xold
        zz = invsqrtC @ y
        ps = (1 - cs) * ps + math.sqrt(cs * (2 - cs) * mueff) / sigma * zz
        hsig = float((ps**2).sum() / (1 - (1 - cs) ** (2 * counteval / lam)) / n < 2 + 4 / (n + 1))
        pc = (1 - cc) * pc + math.sqrt(cc * (2 - cc) * mueff) / sigma * hsig * y
        c1a = c1 - (1 - hsig**2) * c1 * cc * (2 - cc)
        Y = arx - xold
        Cmu = sum(w[k] * np.outer(Y[k], Y[k]) for k in range(len(w))) / sigma**2
        C = C + (-c1a - cmu) * C + c1 * np.outer(pc, pc) + cmu * Cmu
        sigma *= math.exp(min(0.6, (cs / damps) * ((ps**2).sum() / n - 1) / 2))
    f_hist.append(best_f)
    return best_x, f_hist, counteval


@pytest.mark.parametrize(
    ("fun", "np_fun", "x0"),
    [(sphere, np_sphere, [2.0, -1.0]), (rosenbrock, np_rosenbrock, [-1.0, 1.5, 0.5])],
)
def test_cmaes_matches_numpy_reference(fun, np_fun, x0):
    n = len(x0)
    lam = 4 + math.floor(3 * math.log(n))  # 6 for n=2, 7 (odd: Torch's unrounded mu) for n=3
    gens = 6
    ft.manual_seed(11)
    draws = [host(ft.randn(lam, n)).copy() for _ in range(gens)]
    ref_x, ref_hist, ref_evals = np_cmaes(np_fun, x0, 0.3, lam, draws)

    ft.manual_seed(11)
    x = ft.Tensor(x0)
    out, f_hist, n_evals = optim.cmaes(fun, x, {"sigma": 0.3, "max_eval": gens * lam})
    assert out is x
    assert n_evals == ref_evals == gens * lam
    assert len(f_hist) == gens + 2
    np.testing.assert_allclose(f_hist, ref_hist, rtol=0, atol=1e-10)
    np.testing.assert_allclose(host(x), ref_x, rtol=0, atol=1e-10)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_cmaes_converges_on_sphere_and_rosenbrock(n):
    ft.manual_seed(3)
    x = ft.zeros(n)
    x, f_hist, n_evals = optim.cmaes(sphere, x, {"sigma": 0.5, "ftarget": 1e-12})
    assert f_hist[-1] < 1e-11 and f_hist[-1] == min(f_hist) == sphere(x)[0]
    np.testing.assert_allclose(host(x), 0.5, atol=1e-5)
    assert n_evals < 1e3 * n**2

    x = ft.zeros(n)
    x, f_hist, _ = optim.cmaes(rosenbrock, x, {"sigma": 0.5, "ftarget": 1e-12})
    assert f_hist[-1] < 1e-11
    np.testing.assert_allclose(host(x), 1.0, atol=1e-4)


def test_cmaes_stops_on_max_eval_and_keeps_min_iterations():
    ft.manual_seed(0)
    _, f_hist, n_evals = optim.cmaes(sphere, ft.zeros(4), {"sigma": 1.0, "max_eval": 20, "popsize": 10})
    assert n_evals == 20 and len(f_hist) == 4
    # ftarget met at once, but min_iterations generations still run
    _, f_hist, n_evals = optim.cmaes(sphere, ft.zeros(4), {"sigma": 1.0, "ftarget": 1e9, "min_iterations": 3})
    assert n_evals == 3 * 8 and len(f_hist) == 5
    assert f_hist[0] == pytest.approx(1.0)  # f at the start: 4 * 0.25


def test_cmaes_reproducible_under_manual_seed():
    def run():
        x = ft.Tensor([1.0, 2.0, -1.0])
        return optim.cmaes(rosenbrock, x, {"sigma": 0.5, "max_eval": 200})

    ft.manual_seed(42)
    x1, h1, e1 = run()
    after1 = ft.get_rng_state()
    ft.manual_seed(42)
    x2, h2, e2 = run()
    assert x1.tolist() == x2.tolist() and h1 == h2 and e1 == e2
    assert ft.get_rng_state().equal(after1)
    ft.manual_seed(43)
    _, h3, _ = run()
    assert h3 != h1  # it draws from the default generator


def test_cmaes_reads_state_then_config():
    ft.manual_seed(5)
    x1, h1, _ = optim.cmaes(sphere, ft.zeros(2), {"sigma": 0.4, "max_eval": 60})
    ft.manual_seed(5)
    state = {"sigma": 0.4}
    x2, h2, _ = optim.cmaes(sphere, ft.zeros(2), {"max_eval": 60, "sigma": 9.0}, state)
    assert x1.tolist() == x2.tolist() and h1 == h2  # state's sigma wins; max_eval from config
    assert state == {"sigma": 0.4}  # nothing written to the state


def test_cmaes_tree_equals_flat():
    flat = ft.Tensor([0.3, -0.2, 1.5, 0.0, 2.0])
    tree = {"a": ft.Tensor([0.3, -0.2]), "b": [ft.Tensor([1.5, 0.0, 2.0])]}

    def tree_fun(t):
        return rosenbrock(ft.cat([t["a"], t["b"][0]]))[0], {"a": ft.zeros(2), "b": [ft.zeros(3)]}

    ft.manual_seed(9)
    _, h_flat, e_flat = optim.cmaes(rosenbrock, flat, {"sigma": 0.5, "max_eval": 300})
    ft.manual_seed(9)
    out, h_tree, e_tree = optim.cmaes(tree_fun, tree, {"sigma": 0.5, "max_eval": 300})
    assert out is tree and h_tree == h_flat and e_tree == e_flat
    assert ft.cat([tree["a"], tree["b"][0]]).tolist() == flat.tolist()


def test_cmaes_config_errors():
    with pytest.raises(ArgumentError, match="sigma"):
        optim.cmaes(sphere, ft.zeros(2), {"max_eval": 10})
    with pytest.raises(ArgumentError, match="did you mean 'max_eval'"):
        optim.cmaes(sphere, ft.zeros(2), {"sigma": 1.0, "maxeval": 10})


def test_cmaes_verbose_output(capsys):
    ft.manual_seed(1)
    optim.cmaes(sphere, ft.zeros(2), {"sigma": 0.5, "max_eval": 18, "verb_disp": 1})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "evals:\t ax-ratio max(std)   f-value"
    assert out[1].startswith("6:     1.0 ")
    assert "termination by\tevals\t=\t18" in out
    assert any(line.startswith("best f-value =\t") for line in out)


# --------------------------------------------------------------------------------------------------
# de


def np_de(fun, d, popsize, scale, cr, max_fes, lo=-30.0, hi=30.0):
    """Torch's de.lua in numpy, fed the draws documented by optim.de from a generator seeded with 1."""
    gen = ft.Generator(device(), seed=1)  # optim.de's generator: on x's device
    pop = host(ft.empty(popsize, d).uniform_(lo, hi, generator=gen)).copy()
    fitness = [fun(p) for p in pop]
    fx = list(fitness)
    i_best = int(np.argmax(fitness))  # Torch's quirk: the worst member
    best_f, best = fitness[i_best], pop[i_best].copy()
    while len(fx) + 1 < max_fes:
        d1 = host(ft.empty(popsize, dtype=ft.int64).random_(0, popsize - 1, generator=gen))
        d2 = host(ft.empty(popsize, dtype=ft.int64).random_(0, popsize - 2, generator=gen))
        jrand = host(ft.empty(popsize, dtype=ft.int64).random_(0, d, generator=gen))
        u = host(ft.empty(popsize, d).uniform_(0, 1, generator=gen))
        children = pop.copy()
        for i in range(popsize):
            r1 = [k for k in range(popsize) if k != i][d1[i]]
            r2 = [k for k in range(popsize) if k not in (i, r1)][d2[i]]
            for j in range(d):
                if u[i, j] < cr or j == jrand[i]:
                    children[i, j] = best[j] + scale * (pop[r1, j] - pop[r2, j])
        cfit = [fun(c) for c in children]
        fx.extend(cfit)
        for i in range(popsize):
            if cfit[i] <= fitness[i]:
                pop[i] = children[i]
                fitness[i] = cfit[i]
                if fitness[i] < best_f:
                    best_f, best = fitness[i], children[i].copy()
    return best, fx


@pytest.mark.parametrize(("fun", "np_fun", "d"), [(sphere, np_sphere, 2), (rosenbrock, np_rosenbrock, 3)])
def test_de_matches_numpy_reference(fun, np_fun, d):
    config = {"popsize": 8, "scale_factor": 0.7, "crossover_rate": 0.6, "max_fes": 40, "min_region": -2}
    ref_best, ref_fx = np_de(np_fun, d, 8, 0.7, 0.6, 40, lo=-2)
    x = ft.zeros(d)
    out, fx = optim.de(fun, x, config)
    assert out is x
    assert len(fx) == len(ref_fx) == 40  # 8 + 4 generations of 8
    np.testing.assert_allclose(fx, ref_fx, rtol=1e-14, atol=1e-10)
    np.testing.assert_allclose(host(x), ref_best, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    ("fun", "d", "target", "max_fes"),
    [(sphere, 2, 0.5, 4000), (sphere, 5, 0.5, 15000), (rosenbrock, 2, 1.0, 6000), (rosenbrock, 3, 1.0, 12000)],
)
def test_de_converges(fun, d, target, max_fes):
    config = {"scale_factor": 0.8, "crossover_rate": 0.9, "max_fes": max_fes, "min_region": -3, "max_region": 3}
    x, fx = optim.de(fun, ft.zeros(d), config)
    assert max_fes - 1 <= len(fx) < max_fes - 1 + 10 * d
    assert fun(x)[0] == min(fx) < 1e-10
    np.testing.assert_allclose(host(x), target, atol=1e-5)


def test_de_reproducible_and_leaves_the_global_generator_alone():
    config = {"scale_factor": 0.8, "crossover_rate": 0.9, "max_fes": 300}
    ft.manual_seed(1)
    before = ft.get_rng_state()
    x1, fx1 = optim.de(rosenbrock, ft.zeros(3), dict(config))
    assert ft.get_rng_state().equal(before)
    ft.manual_seed(999)
    x2, fx2 = optim.de(rosenbrock, ft.zeros(3), dict(config))
    assert x1.tolist() == x2.tolist() and fx1 == fx2
    ft.manual_seed(1)
    assert ft.get_rng_state().equal(before)


def test_de_tree_equals_flat():
    config = {"scale_factor": 0.8, "crossover_rate": 0.9, "max_fes": 250, "popsize": 12}
    flat = ft.zeros(5)
    tree = {"a": ft.zeros(2), "b": [ft.zeros(3)]}

    def tree_fun(t):
        return rosenbrock(ft.cat([t["a"], t["b"][0]]))[0], {"a": ft.zeros(2), "b": [ft.zeros(3)]}

    _, fx_flat = optim.de(rosenbrock, flat, dict(config))
    out, fx_tree = optim.de(tree_fun, tree, dict(config))
    assert out is tree and fx_tree == fx_flat
    assert ft.cat([tree["a"], tree["b"][0]]).tolist() == flat.tolist()


def test_de_config_errors():
    full = {"scale_factor": 0.5, "crossover_rate": 0.5, "max_fes": 100}
    for key, torch_name in [
        ("scale_factor", "scaleFactor"),
        ("crossover_rate", "crossoverRate"),
        ("max_fes", "maxFEs"),
    ]:
        config = {k: v for k, v in full.items() if k != key}
        with pytest.raises(ArgumentError, match=f"'{key}' \\(Torch's {torch_name}\\) is required"):
            optim.de(sphere, ft.zeros(2), config)
    with pytest.raises(ArgumentError, match="did you mean 'crossover_rate'"):
        optim.de(sphere, ft.zeros(2), {**full, "crossover_rat": 0.5})
    with pytest.raises(ArgumentError, match="popsize must be at least 3"):
        optim.de(sphere, ft.zeros(2), {**full, "popsize": 2})
