"""Torch's second-order-ish optimizers: ``lbfgs`` (L-BFGS after minFunc) and ``cg`` (Rasmussen's ``minimize.m``).

Both have Torch's interface ``x, f_hist, n = optim.<name>(opfunc, x, config=None, state=None)``
through :func:`~flambeau.optim.core.optimizer`: ``x`` is a flat tensor or a tree of tensors,
updated in place, and one call runs up to ``max_iter`` iterations (not one step, unlike ``sgd``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from flambeau.tensor import Tensor

from .core import Config, optimizer
from .line_search import _div, _dot, _evaluate, _sqrt

__all__ = ["cg", "lbfgs"]

LBFGS_DEFAULTS: dict[str, Any] = {
    "max_iter": 20,
    "max_eval": None,  # max_iter * 1.25
    "tol_fun": 1e-5,
    "tol_x": 1e-9,
    "n_correction": 100,
    "line_search": None,
    "line_search_options": None,
    "learning_rate": 1,
    "verbose": False,
}
LBFGS_STATE_KEYS = ("func_eval", "n_iter", "old_dirs", "old_stps", "hdiag", "g_old", "f_old", "t", "d")


@optimizer
def lbfgs(opfunc: Callable[[Tensor], tuple[Any, Any]], x: Tensor, config: dict[str, Any], state: dict[str, Any]) -> Any:
    """L-BFGS, as Torch's ``optim.lbfgs`` (after Mark Schmidt's minFunc).

    Each call evaluates ``opfunc`` at ``x`` and runs up to ``max_iter`` iterations: the direction
    comes from the two-loop recursion over the last ``n_correction`` pairs ``(s, y)`` (a pair is kept
    only when ``y·s > 1e-10``) with the initial inverse Hessian ``hdiag·I``, ``hdiag = y·s / y·y``;
    the first direction is ``-g``. The step starts at ``learning_rate`` (``min(1, 1/Σ|g|)·learning_rate``
    on the very first iteration) and is refined by ``line_search`` when one is given; without one,
    fixed steps are taken.

    Parameters
    ----------
    opfunc : callable
        ``opfunc(x) -> (f, df/dx)``.
    x : Tensor or tree of tensors
        The starting point, updated in place.
    config : dict, optional
        ``max_iter`` (20), ``max_eval`` (``1.25·max_iter``), ``tol_fun`` (1e-5), ``tol_x`` (1e-9),
        ``n_correction`` (100), ``line_search`` (None, e.g. ``optim.lswolfe``), ``line_search_options``
        (passed to it), ``learning_rate`` (1), ``verbose`` (False).
    state : dict, optional
        Persists between calls (``config`` when omitted): ``func_eval``, ``n_iter``, ``old_dirs``,
        ``old_stps`` (lists of tensors), ``hdiag``, ``d``, ``t``, ``g_old``, ``f_old``. A later call
        continues the same L-BFGS memory.

    Returns
    -------
    (x, f_hist, n_evals)
        ``x``, the function values (``f_hist[0]`` at the starting point, then one per iteration) and
        the number of evaluations in this call.

    Notes
    -----
    Torch's rules are kept:

    - It stops when ``Σ|g| <= tol_fun`` (also checked before the first iteration), when the
      directional derivative is ``> -tol_x``, when the step ``Σ|t·d| <= tol_x``, when ``f`` changed by
      less than ``tol_x`` (``tol_x``, not ``tol_fun``), or on the iteration/evaluation limits.
    - Without a line search, the last iteration of a call moves ``x`` but does not evaluate ``opfunc``
      there, so ``f_hist[-1]`` is the value one step before the returned ``x`` (the next call
      evaluates it).
    - ``learning_rate`` scales the initial step given to the line search too.
    - ``line_search`` is called as ``line_search(opfunc, x, t, d, f, g, gtd, line_search_options)`` on
      the flat parameters and must return ``(f, g, x, t, n_evals)`` as :func:`lswolfe` does.
    - When the starting point is already optimal, Torch returns ``x, f_hist`` only; here the
      evaluation count (1) is returned as well, so the result always has three items.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> def rosenbrock(x):
    ...     a, b = x[0].item(), x[1].item()
    ...     f = (1 - a) ** 2 + 100 * (b - a * a) ** 2
    ...     return f, ft.Tensor([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])
    >>> x = ft.Tensor([-1.2, 1.0])
    >>> x, f_hist, n = optim.lbfgs(rosenbrock, x, {"max_iter": 100, "line_search": optim.lswolfe})
    >>> [round(v, 4) for v in x.tolist()], f_hist[-1] < 1e-9
    ([1.0, 1.0], True)
    """
    c = Config("lbfgs", config, LBFGS_DEFAULTS, state_keys=LBFGS_STATE_KEYS)
    max_iter = int(c.max_iter)
    max_eval = float(c.max_eval) if c.max_eval is not None else max_iter * 1.25
    tol_fun, tol_x = float(c.tol_fun), float(c.tol_x)
    n_correction = int(c.n_correction)
    line_search = c.line_search
    learning_rate = float(c.learning_rate)

    def verbose(msg: str) -> None:
        if c.verbose:
            print("<optim.lbfgs> \t" + msg)

    state["func_eval"] = state.get("func_eval", 0)
    state["n_iter"] = state.get("n_iter", 0)

    f, g = _evaluate(opfunc, x)
    f_hist = [f]
    current_func_eval = 1
    state["func_eval"] += 1

    if float(g.abs().sum().item()) <= tol_fun:
        verbose("optimality condition below tolFun")
        return x, f_hist, current_func_eval

    d: Tensor | None = state.get("d")
    t: float | None = state.get("t")
    old_dirs: list[Tensor] = list(state.get("old_dirs") or [])
    old_stps: list[Tensor] = list(state.get("old_stps") or [])
    hdiag: float = state.get("hdiag", 1.0)
    g_old: Tensor | None = state.get("g_old")
    f_old: float | None = state.get("f_old")

    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        state["n_iter"] += 1

        # Direction.
        if state["n_iter"] == 1 or d is None or g_old is None or t is None:
            d = -g
            old_dirs, old_stps = [], []
            hdiag = 1.0
        else:
            y = g - g_old
            s = d * t
            ys = _dot(y, s)
            if ys > 1e-10:
                if len(old_dirs) == n_correction:  # limited memory: drop the oldest pair
                    old_dirs.pop(0)
                    old_stps.pop(0)
                old_dirs.append(s)
                old_stps.append(y)
                hdiag = ys / _dot(y, y)

            # Two-loop recursion: d = -H g.
            k = len(old_dirs)
            ro = [1 / _dot(old_stps[i], old_dirs[i]) for i in range(k)]
            al = [0.0] * k
            q = -g
            for i in range(k - 1, -1, -1):
                al[i] = _dot(old_dirs[i], q) * ro[i]
                q.add_(old_stps[i], alpha=-al[i])
            r = q * hdiag
            for i in range(k):
                be_i = _dot(old_stps[i], r) * ro[i]
                r.add_(old_dirs[i], alpha=al[i] - be_i)
            d = r
        g_old = g.clone()
        f_old = f

        # Step length.
        gtd = _dot(g, d)
        if gtd > -tol_x:  # no progress possible along d
            break

        if state["n_iter"] == 1:
            t = min(1.0, 1 / float(g.abs().sum().item())) * learning_rate
        else:
            t = learning_rate

        ls_func_eval = 0
        if callable(line_search):
            f, g, x, t, ls_func_eval = line_search(opfunc, x, t, d, f, g, gtd, c.line_search_options)
            f, t, ls_func_eval = float(f), float(t), int(ls_func_eval)
            f_hist.append(f)
        else:
            x.add_(d, alpha=t)
            if n_iter != max_iter:
                # Torch skips this evaluation on a call's last iteration (useless in stochastic settings).
                f, g = _evaluate(opfunc, x)
                ls_func_eval = 1
                f_hist.append(f)

        current_func_eval += ls_func_eval
        state["func_eval"] += ls_func_eval

        # Stopping rules.
        if n_iter == max_iter:
            verbose("reached max number of iterations")
            break
        if current_func_eval >= max_eval:
            verbose("max nb of function evals")
            break
        if float(g.abs().sum().item()) <= tol_fun:
            verbose("optimality condition below tolFun")
            break
        if float((d * t).abs().sum().item()) <= tol_x:
            verbose("step size below tolX")
            break
        if abs(f - f_old) < tol_x:
            verbose("function value changing less than tolX")
            break

    state["old_dirs"] = old_dirs
    state["old_stps"] = old_stps
    state["hdiag"] = hdiag
    state["g_old"] = g_old
    state["f_old"] = f_old
    state["t"] = t
    state["d"] = d
    return x, f_hist, current_func_eval


CG_DEFAULTS: dict[str, Any] = {
    "rho": 0.01,
    "sig": 0.5,
    "int": 0.1,
    "ext": 3.0,
    "max_iter": 20,
    "ratio": 100,
    "max_eval": None,  # max_iter * 1.25
    "verbose": False,
}


def _bad(v: float) -> bool:
    return math.isnan(v) or math.isinf(v)


@optimizer
def cg(opfunc: Callable[[Tensor], tuple[Any, Any]], x: Tensor, config: dict[str, Any], state: dict[str, Any]) -> Any:
    """Nonlinear conjugate gradients, as Torch's ``optim.cg`` (a port of Carl E. Rasmussen's ``minimize.m``).

    Polak-Ribière directions with a line search that brackets by cubic extrapolation and refines by
    quadratic/cubic interpolation until the Wolfe-Powell conditions hold
    (``f2 <= f1 + rho·z·d1`` and ``|d2| <= -sig·d1``). Each call starts afresh from ``x``.

    Parameters
    ----------
    opfunc : callable
        ``opfunc(x) -> (f, df/dx)``.
    x : Tensor or tree of tensors
        The starting point, updated in place.
    config : dict, optional
        ``rho`` (0.01), ``sig`` (0.5), ``int`` (0.1: don't reevaluate within this fraction of the
        bracket's ends), ``ext`` (3.0: extrapolate at most this many times the current step),
        ``max_iter`` (20), ``ratio`` (100: the largest slope ratio for the next initial step),
        ``max_eval`` (``1.25·max_iter``), ``verbose`` (read but unused, as in Torch). The key ``int``
        keeps Torch's (and ``minimize.m``'s) name, a Python builtin's name but a fine dict key.
    state : dict, optional
        Accepted for the common interface; ``cg`` keeps nothing between calls (Torch only keeps
        scratch buffers there).

    Returns
    -------
    (x, f_hist, n_evals)
        ``x``, the function values (at the start, then after each successful line search) and the
        number of ``opfunc`` evaluations.

    Notes
    -----
    Torch's meanings are kept: ``max_eval`` bounds the evaluations of the call and ``max_iter``
    bounds the evaluations of one line search (``minimize.m``'s ``MAX``), not the number of
    iterations. ⚠ Torch tests ``if ls_failed or ...`` with ``ls_failed`` 0 or 1, both true in Lua,
    so the first failed line search ends the call (``minimize.m`` would retry once along ``-g``);
    this port ends it too.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> A = ft.Tensor([[3.0, 1.0], [1.0, 2.0]])
    >>> b = ft.Tensor([1.0, -1.0])
    >>> opfunc = lambda x: (0.5 * ft.dot(x, A.mv(x)).item() - ft.dot(b, x).item(), A.mv(x) - b)
    >>> x, f_hist, n = optim.cg(opfunc, ft.zeros(2))
    >>> [round(v, 8) for v in x.tolist()]  # the solution of A x = b
    [0.6, -0.8]
    """
    c = Config("cg", config, CG_DEFAULTS)
    rho, sig, intv, ext = float(c.rho), float(c.sig), float(c.int), float(c.ext)
    max_iter = c.max_iter
    ratio = float(c.ratio)
    max_eval = c.max_eval if c.max_eval is not None else max_iter * 1.25
    red = 1.0

    i = 0
    fx: list[float] = []

    f1, df1 = _evaluate(opfunc, x)
    fx.append(f1)
    i += 1

    s = -df1  # search direction
    d1 = -_dot(s, s)  # slope
    z1 = red / (1 - d1)  # initial step

    while i < abs(max_eval):
        x0 = x.clone()
        f0 = f1
        df0 = df1.clone()

        x.add_(s, alpha=z1)
        f2, df2 = _evaluate(opfunc, x)
        i += 1
        d2 = _dot(df2, s)
        f3, d3, z3 = f1, d1, -z1  # point 3 starts equal to point 1
        m = min(max_iter, max_eval - i)
        success = False
        limit = -1.0

        while True:
            while (f2 > f1 + z1 * rho * d1 or d2 > -sig * d1) and m > 0:
                # Tighten the bracket by interpolation.
                limit = z1
                if f2 > f1:
                    z2 = z3 - _div(0.5 * d3 * z3 * z3, d3 * z3 + f2 - f3)
                else:
                    a = _div(6 * (f2 - f3), z3) + 3 * (d2 + d3)
                    b = 3 * (f3 - f2) - z3 * (d3 + 2 * d2)
                    z2 = _div(_sqrt(b * b - a * d2 * z3 * z3) - b, a)
                if _bad(z2):
                    z2 = z3 / 2
                z2 = max(min(z2, intv * z3), (1 - intv) * z3)
                z1 = z1 + z2
                x.add_(s, alpha=z2)
                f2, df2 = _evaluate(opfunc, x)
                i += 1
                m -= 1
                d2 = _dot(df2, s)
                z3 = z3 - z2
            if f2 > f1 + z1 * rho * d1 or d2 > -sig * d1:
                break
            if d2 > sig * d1:
                success = True
                break
            if m == 0:
                break
            # Extrapolate (cubic).
            a = _div(6 * (f2 - f3), z3) + 3 * (d2 + d3)
            b = 3 * (f3 - f2) - z3 * (d3 + 2 * d2)
            z2 = _div(-d2 * z3 * z3, b + _sqrt(b * b - a * d2 * z3 * z3))
            if _bad(z2) or z2 < 0:
                z2 = z1 * (ext - 1) if limit < -0.5 else (limit - z1) / 2
            elif limit > -0.5 and z2 + z1 > limit:
                z2 = (limit - z1) / 2
            elif limit < -0.5 and z2 + z1 > z1 * ext:
                z2 = z1 * (ext - 1)
            elif z2 < -z3 * intv:
                z2 = -z3 * intv
            elif limit > -0.5 and z2 < (limit - z1) * (1 - intv):
                z2 = (limit - z1) * (1 - intv)
            f3, d3, z3 = f2, d2, -z2
            z1 = z1 + z2
            x.add_(s, alpha=z2)
            f2, df2 = _evaluate(opfunc, x)
            i += 1
            m -= 1
            d2 = _dot(df2, s)

        if success:
            f1 = f2
            fx.append(f1)
            # Polak-Ribière direction.
            ss = _div(_dot(df2, df2) - _dot(df2, df1), _dot(df1, df1))
            s = s * ss - df2
            df1, df2 = df2, df1
            d2 = _dot(df1, s)
            if d2 > 0:  # not a descent direction: restart along -g
                s = -df1
                d2 = -_dot(s, s)
            z1 = z1 * min(ratio, _div(d1, d2 - 1e-320))
            d1 = d2
        else:
            # The line search failed: back to the last point. Torch's `if ls_failed or i > maxEval`
            # is always true (0 is true in Lua), so the call ends here.
            x.copy_(x0)
            f1 = f0
            df1 = df0
            break
    return x, fx, i
