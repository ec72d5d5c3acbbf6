"""FistaLS: reference trajectories from numpy, lasso solutions, FISTA vs ISTA, Torch's quirks, params."""

from __future__ import annotations

import math

import numpy as np
import pytest

import flambeau.optim as optim
import flambeau.tensor as ft
from flambeau.tensor.errors import ArgumentError
from flambeau.tensor.testing import host, on_device

pytestmark = pytest.mark.device

RNG = np.random.default_rng(0)
A_NP = RNG.standard_normal((12, 6)) @ np.diag([2.0, 1.5, 1.0, 0.7, 0.5, 0.4])  # condition number of A'A: 130
X_TRUE = np.array([1.5, 0.0, -2.0, 0.0, 0.7, 0.0])
B_NP = A_NP @ X_TRUE + 0.05 * RNG.standard_normal(12)
LAM = 0.3


def lasso(a_np=A_NP, b_np=B_NP, lam=LAM):
    """f = 0.5 |Ax - b|^2 (value, and gradient in mode 'dx'), g = lam |x|_1, pl = soft-thresholding."""
    a, b = on_device(a_np), on_device(b_np)

    def f(x, mode=None):
        r = a.mv(x) - b
        value = 0.5 * (r * r).sum().item()
        return (value, a.t().mv(r)) if mode == "dx" else value

    def g(x):
        return lam * x.abs().sum().item()

    def pl(x, lip):
        x.copy_(x.sign() * (x.abs() - lam / lip).clamp(min=0))

    return f, g, pl


def np_lasso_solution(a=A_NP, b=B_NP, lam=LAM):
    """A long plain ISTA loop with the exact step 1 / |A|^2."""
    lip = np.linalg.norm(a, 2) ** 2
    x = np.zeros(a.shape[1])
    for _ in range(200000):
        v = x - a.T @ (a @ x - b) / lip
        new = np.sign(v) * np.maximum(np.abs(v) - lam / lip, 0)
        if np.abs(new - x).max() < 1e-15:
            break
        x = new
    return new


def np_fista_ls(f, grad, g, prox, n, lip=0.1, l_step=1.5, maxiter=50, maxline=20, errthres=1e-4, fista=False):
    """Torch's fista.lua in numpy: returns the final y and the history (F, L, nline, Q per iteration)."""
    xk, xkm, y = np.zeros(n), np.zeros(n), np.zeros(n)
    tk, tkp = 1.0, 0.0
    hist = []
    while True:
        fy, gfy = f(y), grad(y)
        nline = 0
        while True:
            ply = prox(y - gfy / lip, lip)
            xk = ply.copy()
            fply = f(ply)
            d = ply - y
            Q = fy + gfy @ d + lip / 2 * (d @ d)
            if fply <= Q:
                nline += 1
                break
            if nline >= maxline:
                xk = xkm.copy()
                nline += 1
                break
            lip *= l_step
            nline += 1
        if fista:
            tkp = (1 + math.sqrt(1 + 4 * tk * tk)) / 2
            y = xk + (1 - tk) / tkp * (xkm - xk)
            xkm = xk.copy()
        else:
            y = xk.copy()
        tk = tkp
        hist.append({"nline": nline, "l": lip, "f": f(y) + g(y), "q": Q})
        if (len(hist) > 1 and abs(hist[-1]["f"] - hist[-2]["f"]) <= errthres) or len(hist) >= maxiter:
            return y, hist


def np_lasso_parts(a=A_NP, b=B_NP, lam=LAM):
    def f(x):
        return 0.5 * float(((a @ x - b) ** 2).sum())

    def grad(x):
        return a.T @ (a @ x - b)

    def g(x):
        return lam * float(np.abs(x).sum())

    def prox(v, lip):
        return np.sign(v) * np.maximum(np.abs(v) - lam / lip, 0)

    return f, grad, g, prox


def rosenbrock_l1(lam=0.1):
    """Rosenbrock as the smooth part, with an L1 term."""

    def f(x, mode=None):
        a = x[1:] - x[:-1] * x[:-1]
        b = 1 - x[:-1]
        value = (100 * (a * a).sum() + (b * b).sum()).item()
        if mode != "dx":
            return value
        grad = ft.zeros_like(x)
        grad[:-1] = -400 * x[:-1] * a - 2 * b
        grad[1:] += 200 * a
        return value, grad

    def g(x):
        return lam * x.abs().sum().item()

    def pl(x, lip):
        x.copy_(x.sign() * (x.abs() - lam / lip).clamp(min=0))

    def np_f(x):
        return float((100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum())

    def np_grad(x):
        gr = np.zeros_like(x)
        a = x[1:] - x[:-1] ** 2
        gr[:-1] = -400 * x[:-1] * a - 2 * (1 - x[:-1])
        gr[1:] += 200 * a
        return gr

    def np_g(x):
        return lam * float(np.abs(x).sum())

    def np_prox(v, lip):
        return np.sign(v) * np.maximum(np.abs(v) - lam / lip, 0)

    return (f, g, pl), (np_f, np_grad, np_g, np_prox)


@pytest.mark.parametrize("fista", [False, True])
@pytest.mark.parametrize("problem", ["lasso", "rosenbrock"])
def test_matches_numpy_reference(problem, fista):
    if problem == "lasso":
        (f, g, pl), ref_parts, n = lasso(), np_lasso_parts(), 6
    else:
        (f, g, pl), ref_parts = rosenbrock_l1()
        n = 3
    ref_y, ref_hist = np_fista_ls(*ref_parts, n, maxiter=8, errthres=0, fista=fista)
    x = ft.Tensor(n).fill_(7.0)
    out, hist = optim.FistaLS(f, g, pl, x, {"max_iter": 8, "err_thres": 0, "do_fista_update": fista})
    assert out is x and len(hist) == len(ref_hist) == 8
    np.testing.assert_allclose(host(x), ref_y, rtol=0, atol=1e-10)
    for h, r in zip(hist, ref_hist, strict=True):
        assert h["nline"] == r["nline"] and h["l"] == pytest.approx(r["l"], rel=1e-14)
        assert h["f"] == pytest.approx(r["f"], rel=1e-12, abs=1e-10)
        assert h["q"] == pytest.approx(r["q"], rel=1e-12, abs=1e-10)
        assert h["f"] == pytest.approx(h["fply"] + h["gply"], rel=1e-15)
    assert any(h["nline"] > 1 for h in hist)  # the line search did raise L


@pytest.mark.parametrize("fista", [False, True])
def test_lasso_reaches_the_solution(fista):
    f, g, pl = lasso()
    ref = np_lasso_solution()
    x = ft.zeros(6)
    x, hist = optim.FistaLS(f, g, pl, x, {"max_iter": 5000, "err_thres": 1e-12, "do_fista_update": fista})
    assert len(hist) < 5000  # stopped on err_thres
    # Torch's sufficient-decrease test compares values rounded to ~1e-16, which limits x to ~1e-7 at best
    np.testing.assert_allclose(host(x), ref, rtol=0, atol=1e-5)
    np_f, _, np_g, _ = np_lasso_parts()
    assert hist[-1]["f"] == pytest.approx(np_f(ref) + np_g(ref), rel=1e-9)


def iterations_to(fista, tols):
    """Iterations each tolerance needs (history's y after iteration k is what max_iter=k returns)."""
    f, g, pl = lasso()
    ref = np_lasso_solution()
    _, hist = optim.FistaLS(
        f, g, pl, ft.zeros(6), {"max_iter": 1500, "err_thres": 0, "do_fista_update": fista, "verbose": True}
    )
    errs = [float(np.abs(host(h["y"]) - ref).max()) for h in hist]
    return [next(k + 1 for k, e in enumerate(errs) if e < tol) for tol in tols]


def test_fista_needs_fewer_iterations_than_ista(capsys):
    fista_its = iterations_to(True, [1e-3, 1e-6])
    ista_its = iterations_to(False, [1e-3, 1e-6])
    capsys.readouterr()
    assert fista_its[0] < ista_its[0] / 2 and fista_its[1] < ista_its[1] * 0.7
    f, g, pl = lasso()
    _, ista = optim.FistaLS(f, g, pl, ft.zeros(6), {"max_iter": 5000, "err_thres": 1e-12})
    _, fista = optim.FistaLS(f, g, pl, ft.zeros(6), {"max_iter": 5000, "err_thres": 1e-12, "do_fista_update": True})
    assert len(fista) < len(ista) * 0.8


def test_ista_is_the_default():
    f, g, pl = lasso()
    x0, h0 = optim.FistaLS(f, g, pl, ft.zeros(6))
    x1, h1 = optim.FistaLS(f, g, pl, ft.zeros(6), {"do_fista_update": False})
    x2, h2 = optim.FistaLS(f, g, pl, ft.zeros(6), {"do_fista_update": True})
    assert x0.tolist() == x1.tolist() and [h["f"] for h in h0] == [h["f"] for h in h1]
    assert x0.tolist() != x2.tolist()
    assert len(h0) <= 50  # max_iter's default


def test_starting_point_is_ignored():
    f, g, pl = lasso()
    x0, _ = optim.FistaLS(f, g, pl, ft.zeros(6), {"max_iter": 5})
    x1, _ = optim.FistaLS(f, g, pl, ft.randn(6) * 10, {"max_iter": 5})
    assert x0.tolist() == x1.tolist()


def test_failed_line_search_falls_back_to_zero_under_ista():
    f, g, pl = lasso()
    x, hist = optim.FistaLS(f, g, pl, ft.ones(6), {"max_line": 0, "l": 0.1})
    assert x.tolist() == [0.0] * 6
    assert [h["nline"] for h in hist] == [1, 1] and hist[0]["l"] == 0.1
    assert hist[0]["f"] == pytest.approx(0.5 * float((B_NP**2).sum()))


def test_params_keep_l_and_buffers_and_survive_save_load(tmp_path):
    f, g, pl = lasso()
    params = {"max_iter": 3}
    _, hist = optim.FistaLS(f, g, pl, ft.zeros(6), params)
    assert params["l"] == hist[-1]["l"] > 0.1
    assert set(params) == {"max_iter", "l", "xkm", "y", "ply"}
    ft.save(str(tmp_path / "params.t7"), params)
    loaded = ft.load(str(tmp_path / "params.t7"))
    x1, h1 = optim.FistaLS(f, g, pl, ft.zeros(6), params)
    x2, h2 = optim.FistaLS(f, g, pl, ft.zeros(6), loaded)
    assert x1.tolist() == x2.tolist() and h1 == h2
    assert h1[0]["l"] >= hist[-1]["l"]  # the second call starts from the last L
    assert params["l"] == loaded["l"]


def test_verbose(capsys):
    f, g, pl = lasso()
    _, hist = optim.FistaLS(f, g, pl, ft.zeros(6), {"max_iter": 2, "verbose": True})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("nline=0 L=0.1 fply=")
    assert any(line.startswith("iter=0 eold=inf enew=") for line in out)
    assert hist[0]["xk"].tolist() == hist[0]["y"].tolist()  # ISTA: y is x_k


def test_errors():
    f, g, pl = lasso()
    with pytest.raises(ArgumentError, match="did you mean 'max_iter'"):
        optim.FistaLS(f, g, pl, ft.zeros(6), {"maxiter": 3})
    with pytest.raises(ArgumentError, match="max_iter must be at least 1"):
        optim.FistaLS(f, g, pl, ft.zeros(6), {"max_iter": 0})
