"""lbfgs, cg, lswolfe, polyinterp and checkgrad against references computed here with numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest

import flambeau.optim as optim
import flambeau.tensor as ft
from flambeau.tensor.errors import ArgumentError
from flambeau.tensor.testing import device

pytestmark = pytest.mark.device

# --------------------------------------------------------------------------------------------------
# Problems, in flambeau and in numpy.

A_NP = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, -0.5], [0.5, -0.5, 2.0]])
B_NP = np.array([1.0, -2.0, 0.5])


def quad_np(x: np.ndarray) -> tuple[float, np.ndarray]:
    return float(0.5 * x @ A_NP @ x - B_NP @ x), A_NP @ x - B_NP


def quad(x: ft.Tensor) -> tuple[float, ft.Tensor]:
    f, g = quad_np(np.array(x.tolist()))
    return f, ft.Tensor(g.tolist())


def rosen_np(x: np.ndarray) -> tuple[float, np.ndarray]:
    a, b = x[:-1], x[1:]
    f = float(np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2))
    g = np.zeros_like(x)
    g[:-1] = -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    g[1:] += 200.0 * (b - a * a)
    return f, g


def rosen(x: ft.Tensor) -> tuple[float, ft.Tensor]:
    """Rosenbrock in flambeau ops (any dimension)."""
    n = x.nelement()
    a, b = x.narrow(0, 0, n - 1), x.narrow(0, 1, n - 1)
    r = b - a * a
    f = float((100 * r * r + (1 - a) * (1 - a)).sum().item())
    g = ft.zeros(n)
    g.narrow(0, 0, n - 1).copy_(-400 * a * r - 2 * (1 - a))
    g.narrow(0, 1, n - 1).add_(200 * r)
    return f, g


def wave_np(x: np.ndarray) -> tuple[float, np.ndarray]:
    """Non-convex: fixed L-BFGS steps meet negative curvature (y·s <= 1e-10, the pair is skipped)."""
    return float(np.sum(np.sin(x)) + 0.05 * x @ x), np.cos(x) + 0.1 * x


def wave(x: ft.Tensor) -> tuple[float, ft.Tensor]:
    return float((ft.sin(x).sum() + 0.05 * ft.dot(x, x)).item()), ft.cos(x) + 0.1 * x


def counted(fn):
    calls = [0]

    def opfunc(x):
        calls[0] += 1
        return fn(x)

    return opfunc, calls


def test_rosen_gradient_is_right():
    x = ft.Tensor([-1.2, 1.0, 0.3, 2.0])
    f, g = rosen(x)
    f_np, g_np = rosen_np(np.array(x.tolist()))
    assert f == pytest.approx(f_np, abs=1e-12)
    np.testing.assert_allclose(g.tolist(), g_np, atol=1e-12)


# --------------------------------------------------------------------------------------------------
# polyinterp


def _hermite_coeffs(rows: list[list[float]]) -> np.ndarray:
    """Coefficients (highest first) of the polynomial through rows (x, f, g), solved exactly with numpy."""
    n = len(rows)
    order = 2 * n - 1
    A = [[x**j for j in range(order, -1, -1)] for x, _, _ in rows]
    A += [[(order - j) * x ** (order - j - 1) for j in range(order)] + [0.0] for x, _, _ in rows]
    b = [f for _, f, _ in rows] + [g for _, _, g in rows]
    return np.linalg.solve(np.array(A), np.array(b))


def _ref_min(rows: list[list[float]], lo: float, hi: float) -> tuple[float, float]:
    """The polynomial's minimum on [lo, hi]: the ends, the points inside and the real critical points."""
    p = _hermite_coeffs(rows)
    cands = [lo, hi] + [r[0] for r in rows]
    cands += [float(r.real) for r in np.roots(np.polyder(p)) if abs(r.imag) < 1e-12]
    cands = [c for c in cands if lo <= c <= hi]
    vals = [float(np.polyval(p, c)) for c in cands]
    k = int(np.argmin(vals))
    return cands[k], vals[k]


CUBIC_CASES = [
    [[0.0, 0.0, -3.0], [2.0, 2.0, 9.0]],
    [[1.0, 5.0, -2.0], [0.2, 4.0, 1.5]],  # rows in decreasing x
    [[0.0, 1.0, -1.0], [1.0, 0.8, 0.5]],
    [[-0.3, 2.5, -10.0], [0.7, -1.0, 0.1]],
]


@pytest.mark.parametrize("rows", CUBIC_CASES)
def test_polyinterp_cubic_two_points(rows):
    lo, hi = sorted(r[0] for r in rows)
    ref_pos, ref_f = _ref_min(rows, lo, hi)
    pos, fmin = optim.polyinterp(ft.Tensor(rows))
    assert pos == pytest.approx(ref_pos, abs=1e-10)
    assert fmin == pytest.approx(ref_f, abs=1e-10)


def test_polyinterp_against_scipy_minimizer():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    rows = CUBIC_CASES[3]
    p = _hermite_coeffs(rows)
    res = scipy_optimize.minimize_scalar(lambda t: np.polyval(p, t), bounds=(-0.3, 0.7), method="bounded")
    pos, fmin = optim.polyinterp(rows)
    assert pos == pytest.approx(res.x, abs=1e-5)
    assert fmin == pytest.approx(res.fun, abs=1e-9)


def test_polyinterp_no_local_minimum_gives_the_mean():
    # d1 = g1 + g2 - 3(f1 - f2)/(x1 - x2) = -0.4 and d1² - g1·g2 < 0: the cubic is monotone.
    pos, _ = optim.polyinterp(ft.Tensor([[0.0, 0.0, 1.0], [1.0, 0.8, 1.0]]))
    assert pos == 0.5


def test_polyinterp_clamps_to_the_interval():
    # Both slopes negative: the cubic's minimum lies beyond x2, the closed form is clamped to x2.
    rows = [[0.0, 1.0, -1.0], [1.0, 0.0, -0.5]]
    pos, fmin = optim.polyinterp(rows)
    assert pos == 1.0
    assert fmin == pytest.approx(0.0, abs=1e-14)


@pytest.mark.parametrize(
    ("rows", "lo", "hi"),
    [
        ([[0.0, 0.0, -3.0], [2.0, 2.0, 9.0]], -1.0, 0.5),  # min at the upper bound
        ([[0.0, 0.0, -3.0], [2.0, 2.0, 9.0]], -1.5, 3.0),  # interior critical point
        ([[0.0, 1.0, -2.0], [0.5, 0.3, -0.9]], 0.505, 5.0),  # extrapolation, as lswolfe asks
        ([[0.0, 1.0, -2.0], [0.1, 0.82, -1.6]], 0.101, 1.0),
        ([[0.0, 0.0, 1.0], [1.0, 0.8, 1.0]], -2.0, 2.0),
    ],
)
def test_polyinterp_bounded(rows, lo, hi):
    ref_pos, ref_f = _ref_min(rows, lo, hi)
    pos, fmin = optim.polyinterp(ft.Tensor(rows), lo, hi)
    assert pos == pytest.approx(ref_pos, abs=1e-10)
    assert fmin == pytest.approx(ref_f, abs=1e-10)


def test_polyinterp_three_points_and_one_bound():
    rows = [[0.0, 1.0, -1.0], [1.0, 0.2, 0.3], [2.5, 1.5, 2.0]]
    ref_pos, ref_f = _ref_min(rows, 0.0, 2.5)
    pos, fmin = optim.polyinterp(ft.Tensor(rows))
    assert pos == pytest.approx(ref_pos, abs=1e-9)
    assert fmin == pytest.approx(ref_f, abs=1e-9)
    # One bound only takes the general path, the other bound from the points.
    rows2 = CUBIC_CASES[0]
    ref_pos, ref_f = _ref_min(rows2, 0.0, 0.5)
    pos, fmin = optim.polyinterp(rows2, xmax=0.5)
    assert (pos, fmin) == (pytest.approx(ref_pos, abs=1e-10), pytest.approx(ref_f, abs=1e-10))


def test_polyinterp_no_valid_candidate_bisects():
    pos, fmin = optim.polyinterp([[0.0, 0.0, -3.0], [2.0, 2.0, 9.0]], 1.0, -1.0)  # empty interval
    assert (pos, fmin) == (0.0, math.inf)


# --------------------------------------------------------------------------------------------------
# lswolfe


def _check_wolfe(fn, x0_list, t0, options=None, c1=1e-4, c2=0.9):
    opfunc, calls = counted(fn)
    x = ft.Tensor(x0_list)
    f, g = fn(x)
    d = -g
    gtd = float(ft.dot(g, d).item())
    x0 = x.clone()
    f_new, g_new, x_out, t, n = optim.lswolfe(opfunc, x, t0, d, f, g, gtd, options)
    assert x_out is x
    assert n == calls[0]
    np.testing.assert_allclose(x.tolist(), (x0 + d * t).tolist(), atol=1e-15)
    f_chk, g_chk = fn(x)
    assert f_new == pytest.approx(f_chk, abs=1e-12)
    np.testing.assert_allclose(g_new.tolist(), g_chk.tolist(), atol=1e-12)
    # The strong Wolfe conditions.
    assert f_new <= f + c1 * t * gtd
    assert abs(float(ft.dot(g_new, d).item())) <= -c2 * gtd
    return t, n


@pytest.mark.parametrize("t0", [1e-3, 1.0, 10.0])
def test_lswolfe_quadratic(t0):
    _check_wolfe(quad, [1.0, 2.0, -1.0], t0)


def test_lswolfe_quadratic_strict_curvature_zooms():
    t, n = _check_wolfe(quad, [1.0, 2.0, -1.0], 1.0, {"c2": 0.1}, c2=0.1)
    assert n > 1
    # With c2 small the step is near the exact minimizer along d: t* = g·g / gᵀAg.
    g = quad_np(np.array([1.0, 2.0, -1.0]))[1]
    assert t == pytest.approx(g @ g / (g @ A_NP @ g), rel=0.1)


@pytest.mark.parametrize(("t0", "c2"), [(1.0, 0.9), (1e-4, 0.9), (1e-3, 0.1), (0.01, 0.5)])
def test_lswolfe_rosenbrock(t0, c2):
    _check_wolfe(rosen, [-1.2, 1.0], t0, {"c2": c2}, c2=c2)


def test_lswolfe_exact_first_step():
    # On |x|² the step 1/2 along -g lands on the minimum: the cubic is exact, two evaluations.
    x = ft.Tensor([1.0, 2.0])
    opfunc = lambda x: ((x * x).sum().item(), 2 * x)
    f, g = opfunc(x)
    f_new, _, x, t, n = optim.lswolfe(opfunc, x, 1.0, -g, f, g, float(ft.dot(g, -g).item()))
    assert (t, f_new, x.tolist(), n) == (0.5, 0.0, [0.0, 0.0], 2)


@pytest.mark.parametrize("max_iter", [0, 2])
def test_lswolfe_out_of_iterations_returns_the_lowest_bracket_end(max_iter):
    opfunc, calls = counted(rosen)
    x = ft.Tensor([-1.2, 1.0])
    f, g = rosen(x)
    x0 = x.clone()
    f_new, g_new, x, t, n = optim.lswolfe(opfunc, x, 1.0, -g, f, g, -float(ft.dot(g, g).item()), {"max_iter": max_iter})
    assert n == calls[0] == 1 + max_iter
    assert f_new <= f and f_new == rosen(x)[0]
    np.testing.assert_allclose(x.tolist(), (x0 - g * t).tolist(), atol=1e-15)
    if max_iter == 0:  # the bracket [0, 1]: t = 1 overshoots, so the start is the lowest end
        assert (t, f_new, x.tolist()) == (0.0, f, x0.tolist())
        assert g_new.tolist() == g.tolist()


def test_lswolfe_unknown_option():
    x = ft.Tensor([1.0, 2.0])
    f, g = quad(ft.Tensor([1.0, 2.0, 0.0]))
    with pytest.raises(ArgumentError, match="did you mean 'tol_x'"):
        optim.lswolfe(quad, x, 1.0, -g, f, g, -1.0, {"tolX": 1e-9})


# --------------------------------------------------------------------------------------------------
# lbfgs: reference trajectory of the published rule, in numpy.


def lbfgs_ref(fn, x, n_calls, max_iter, lr=1.0, n_correction=100, tol_fun=1e-5, tol_x=1e-9):
    """Torch's lbfgs without a line search, over n_calls calls: (x, [f_hist per call], final state)."""
    x = np.array(x, dtype=float)
    st = {"n_iter": 0, "dirs": [], "stps": [], "hdiag": 1.0, "d": None, "t": None, "g_old": None}
    hists = []
    max_eval = max_iter * 1.25
    for _ in range(n_calls):
        f, g = fn(x)
        hist, evals = [f], 1
        if np.abs(g).sum() <= tol_fun:
            hists.append(hist)
            continue
        for it in range(1, max_iter + 1):
            st["n_iter"] += 1
            if st["n_iter"] == 1:
                d = -g
                st["dirs"], st["stps"], st["hdiag"] = [], [], 1.0
            else:
                y, s = g - st["g_old"], st["d"] * st["t"]
                if y @ s > 1e-10:
                    if len(st["dirs"]) == n_correction:
                        st["dirs"].pop(0)
                        st["stps"].pop(0)
                    st["dirs"].append(s)
                    st["stps"].append(y)
                    st["hdiag"] = (y @ s) / (y @ y)
                S, Y = st["dirs"], st["stps"]
                rho = [1.0 / (Y[i] @ S[i]) for i in range(len(S))]
                q, alpha = -g, [0.0] * len(S)
                for i in reversed(range(len(S))):
                    alpha[i] = (S[i] @ q) * rho[i]
                    q = q - alpha[i] * Y[i]
                r = q * st["hdiag"]
                for i in range(len(S)):
                    r = r + S[i] * (alpha[i] - (Y[i] @ r) * rho[i])
                d = r
            st["d"], st["g_old"], f_old = d, g.copy(), f
            gtd = g @ d
            if gtd > -tol_x:
                break
            t = min(1.0, 1.0 / np.abs(g).sum()) * lr if st["n_iter"] == 1 else lr
            st["t"] = t
            x = x + t * d
            if it != max_iter:
                f, g = fn(x)
                evals += 1
                hist.append(f)
            if it == max_iter or evals >= max_eval or np.abs(g).sum() <= tol_fun:
                break
            if np.abs(d * t).sum() <= tol_x or abs(f - f_old) < tol_x:
                break
        hists.append(hist)
    return x, hists, st


@pytest.mark.parametrize(
    ("fn_np", "fn", "x0", "cfg"),
    [
        (quad_np, quad, [1.0, 2.0, -1.0], {"max_iter": 4}),
        (quad_np, quad, [1.0, 2.0, -1.0], {"max_iter": 3, "n_correction": 2, "learning_rate": 0.7}),
        (rosen_np, rosen, [-1.2, 1.0], {"max_iter": 5, "learning_rate": 0.05}),
        (rosen_np, rosen, [-1.2, 1.0, 0.5, 0.0], {"max_iter": 4, "n_correction": 3, "learning_rate": 0.02}),
        (wave_np, wave, [1.5, 1.2, 2.0], {"max_iter": 5}),
    ],
)
def test_lbfgs_reference_trajectory(fn_np, fn, x0, cfg):
    n_calls = 3
    ref_x, ref_hists, ref_st = lbfgs_ref(
        fn_np,
        x0,
        n_calls,
        cfg["max_iter"],
        lr=cfg.get("learning_rate", 1.0),
        n_correction=cfg.get("n_correction", 100),
    )
    x = ft.Tensor(x0)
    state: dict = {}
    for k in range(n_calls):
        x, f_hist, n = optim.lbfgs(fn, x, cfg, state)
        np.testing.assert_allclose(f_hist, ref_hists[k], rtol=0, atol=1e-10)
        assert n == len(ref_hists[k])
    np.testing.assert_allclose(x.tolist(), ref_x, rtol=0, atol=1e-10)
    assert state["n_iter"] == ref_st["n_iter"]
    assert state["func_eval"] == sum(len(h) for h in ref_hists)
    assert state["hdiag"] == pytest.approx(ref_st["hdiag"], abs=1e-10)
    assert len(state["old_dirs"]) == len(ref_st["dirs"])
    for mine, ref in zip(state["old_dirs"] + state["old_stps"], ref_st["dirs"] + ref_st["stps"], strict=True):
        np.testing.assert_allclose(mine.tolist(), ref, rtol=0, atol=1e-10)


def test_lbfgs_first_step_and_optimal_start():
    # The very first step is min(1, 1/Σ|g|)·lr along -g.
    x = ft.Tensor([1.0, 2.0, -1.0])
    g = quad_np(np.array(x.tolist()))[1]
    x, f_hist, n = optim.lbfgs(quad, x, {"max_iter": 1, "learning_rate": 0.5})
    np.testing.assert_allclose(x.tolist(), [1.0, 2.0, -1.0] - min(1, 1 / np.abs(g).sum()) * 0.5 * g, atol=1e-15)
    assert (len(f_hist), n) == (1, 1)  # the last iteration does not evaluate
    # At the optimum: one evaluation, nothing moves, no iteration counted.
    x_opt = ft.Tensor(np.linalg.solve(A_NP, B_NP).tolist())
    state: dict = {}
    x_out, f_hist, n = optim.lbfgs(quad, x_opt.clone(), {}, state)
    assert (n, len(f_hist), state["n_iter"], state["func_eval"]) == (1, 1, 0, 1)
    assert x_out.tolist() == x_opt.tolist()


def rosen_x0(n):
    return [-1.2 if i % 2 == 0 else 1.0 for i in range(n)]


@pytest.mark.parametrize("dim", [2, 10])
def test_lbfgs_converges_with_lswolfe(dim):
    x = ft.Tensor(rosen_x0(dim))
    cfg = {"max_iter": 200, "max_eval": 1000, "line_search": optim.lswolfe, "tol_x": 1e-14, "tol_fun": 1e-10}
    x, f_hist, _ = optim.lbfgs(rosen, x, cfg)
    np.testing.assert_allclose(x.tolist(), np.ones(dim), atol=1e-6)
    assert f_hist[-1] < 1e-12
    assert all(b <= a for a, b in zip(f_hist, f_hist[1:], strict=False))  # the line search only descends


@pytest.mark.parametrize(("dim", "lr"), [(2, 1.0), (10, 1.0)])
def test_lbfgs_converges_with_fixed_steps(dim, lr):
    x = ft.Tensor(rosen_x0(dim))
    cfg = {"max_iter": 100, "learning_rate": lr, "tol_x": 1e-14, "tol_fun": 1e-10}
    state: dict = {}
    for _ in range(10):
        x, f_hist, _ = optim.lbfgs(rosen, x, cfg, state)
    np.testing.assert_allclose(x.tolist(), np.ones(dim), atol=1e-6)
    assert rosen(x)[0] < 1e-12


def test_lbfgs_max_eval_and_n_correction():
    opfunc, calls = counted(rosen)
    x = ft.Tensor(rosen_x0(6))
    state: dict = {}
    x, f_hist, n = optim.lbfgs(opfunc, x, {"max_iter": 50, "max_eval": 7, "n_correction": 3}, state)
    assert n == calls[0] == 7 == len(f_hist)
    assert len(state["old_dirs"]) == len(state["old_stps"]) == 3


def test_lbfgs_unknown_key():
    with pytest.raises(ArgumentError, match="did you mean 'max_iter'"):
        optim.lbfgs(quad, ft.Tensor([1.0, 2.0, 3.0]), {"max_iters": 3})
    with pytest.raises(ArgumentError, match="did you mean 'n_correction'"):
        optim.lbfgs(quad, ft.Tensor([1.0, 2.0, 3.0]), {"nCorrection": 3})


# --------------------------------------------------------------------------------------------------
# cg


def test_cg_converges_on_a_quadratic():
    x = ft.zeros(3)
    x, f_hist, n = optim.cg(quad, x, {"max_eval": 100})
    np.testing.assert_allclose(x.tolist(), np.linalg.solve(A_NP, B_NP), atol=1e-8)
    # Strictly decreasing on the cpu. Each accepted step satisfies f2 <= f1 + rho*z*d1, which near the solution
    # rounds to f2 <= f1: with another summation order (a GPU's dot products) a last step can leave f unchanged.
    strict = device().type == "cpu"
    assert f_hist[0] == 0.0 and all(b < a if strict else b <= a for a, b in zip(f_hist, f_hist[1:], strict=False))
    assert n <= 100


@pytest.mark.parametrize("dim", [2, 10])
def test_cg_converges_on_rosenbrock(dim):
    opfunc, calls = counted(rosen)
    x = ft.Tensor(rosen_x0(dim))
    x, f_hist, n = optim.cg(opfunc, x, {"max_eval": 2000})
    assert n == calls[0]
    np.testing.assert_allclose(x.tolist(), np.ones(dim), atol=1e-5)
    assert f_hist[-1] < 1e-10


def test_cg_evaluation_budget_and_repeated_calls():
    opfunc, calls = counted(rosen)
    x = ft.Tensor([-1.2, 1.0])
    fs = []
    for _ in range(4):
        before = calls[0]
        x, f_hist, n = optim.cg(opfunc, x)  # default max_eval = 25
        assert n == calls[0] - before and n <= 26
        fs.append(f_hist[-1])
        assert rosen(x)[0] == pytest.approx(f_hist[-1], abs=0)
    assert fs == sorted(fs, reverse=True) and fs[-1] < fs[0]


def test_cg_unknown_key():
    with pytest.raises(ArgumentError, match="did you mean 'max_eval'"):
        optim.cg(quad, ft.zeros(3), {"maxEval": 3})


# --------------------------------------------------------------------------------------------------
# checkgrad


def test_checkgrad():
    x = ft.Tensor([-1.2, 1.0, 0.3, 2.0])
    x0 = x.tolist()
    diff, dC, dC_est = optim.checkgrad(rosen, x)
    assert diff < 1e-7
    assert x.tolist() == x0
    np.testing.assert_allclose(dC.tolist(), rosen_np(np.array(x0))[1], atol=1e-12)
    np.testing.assert_allclose(dC_est.tolist(), dC.tolist(), rtol=1e-6)

    def wrong(x):
        f, g = rosen(x)
        return f, g * 1.5

    diff, _, _ = optim.checkgrad(wrong, x, 1e-6)
    assert diff == pytest.approx(0.5 / 2.5, rel=1e-5)  # |1.5g - g| / |1.5g + g|


def test_checkgrad_with_a_reused_gradient_buffer():
    buf = ft.zeros(3)

    def opfunc(x):
        f, g = quad(x)
        buf.copy_(g)
        return f, buf

    diff, dC, _ = optim.checkgrad(opfunc, ft.Tensor([0.5, -0.5, 1.0]))
    assert diff < 1e-7
    assert dC is not buf


# --------------------------------------------------------------------------------------------------
# Trees and saved state.


def _tree_fn(fn):
    def opfunc(tree):
        flat = ft.cat([tree["a"], tree["b"][0]])
        f, g = fn(flat)
        return f, {"a": g.narrow(0, 0, 2).clone(), "b": [g.narrow(0, 2, 3).clone()]}

    return opfunc


@pytest.mark.parametrize(
    ("algo", "cfg"),
    [
        (optim.lbfgs, {"max_iter": 6, "learning_rate": 0.02}),
        (optim.lbfgs, {"max_iter": 6, "line_search": optim.lswolfe}),
        (optim.cg, {}),
    ],
)
def test_tree_equals_flat(algo, cfg):
    x0 = [-1.2, 1.0, 0.5, 0.2, -0.3]
    flat = ft.Tensor(x0)
    tree = {"a": ft.Tensor(x0[:2]), "b": [ft.Tensor(x0[2:])]}
    a_leaf = tree["a"]
    s_flat: dict = {}
    s_tree: dict = {}
    for _ in range(2):
        flat, fs_flat, n_flat = algo(rosen, flat, cfg, s_flat)
        tree_out, fs_tree, n_tree = algo(_tree_fn(rosen), tree, cfg, s_tree)
        assert tree_out is tree and tree["a"] is a_leaf
        assert fs_tree == fs_flat and n_tree == n_flat
        assert tree["a"].tolist() + tree["b"][0].tolist() == flat.tolist()


@pytest.mark.parametrize("line_search", [None, optim.lswolfe])
def test_lbfgs_state_save_load_resumes_identically(tmp_path, line_search):
    cfg = {"max_iter": 4, "learning_rate": 0.05 if line_search is None else 1, "line_search": line_search}
    x = ft.Tensor(rosen_x0(4))
    state: dict = {}
    x, _, _ = optim.lbfgs(rosen, x, cfg, state)
    path = str(tmp_path / "state.t7")
    ft.save(path, state)
    loaded = ft.load(path)
    assert set(loaded) == set(state)
    x2 = x.clone()
    for _ in range(2):
        x, fs1, n1 = optim.lbfgs(rosen, x, cfg, state)
        x2, fs2, n2 = optim.lbfgs(rosen, x2, cfg, loaded)
        assert fs1 == fs2 and n1 == n2
        assert x.tolist() == x2.tolist()
    assert loaded["n_iter"] == state["n_iter"] > 4
    assert loaded["func_eval"] == state["func_eval"]
