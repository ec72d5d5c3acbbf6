"""Torch's line-search helpers: ``polyinterp`` (minimum of an interpolating polynomial), ``lswolfe``
(a line search satisfying the strong Wolfe conditions) and ``checkgrad`` (finite-difference check).

These are helpers, not optimizers: they take a **flat 1-D tensor** ``x`` (and ``d``, ``g``) and an
``opfunc(x) -> (f, df/dx)`` on flat tensors, as Torch's do, and are not wrapped by
:func:`~flambeau.optim.core.optimizer` (no parameter trees, no config/state rule). Inside
:func:`~flambeau.optim.lbfgs` they receive the flat view that ``lbfgs`` works on, so a tree given to
``lbfgs`` works with ``line_search=optim.lswolfe``.

Scalar arithmetic follows Lua's IEEE rules (a division by zero gives ``inf``/``nan`` and the square
root of a negative number ``nan``) instead of raising, since Torch's control flow tests for them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError

from .core import Config

__all__ = ["checkgrad", "lswolfe", "polyinterp"]

LSWOLFE_DEFAULTS: dict[str, Any] = {"c1": 1e-4, "c2": 0.9, "tol_x": 1e-9, "max_iter": 20, "verbose": False}


# --------------------------------------------------------------------------------------------------
# Scalars with Lua's semantics.


def _num(v: Any) -> float:
    """A Python float from a number or a one-element tensor (what ``opfunc`` may return as f)."""
    return float(v.item()) if isinstance(v, Tensor) else float(v)


def _div(a: float, b: float) -> float:
    """``a / b`` as IEEE (and Lua) has it: ``x/0`` is ``±inf``, ``0/0`` is ``nan``."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _sqrt(v: float) -> float:
    """``math.sqrt`` giving ``nan`` for a negative argument, as Lua's ``math.sqrt``."""
    return math.sqrt(v) if v >= 0 else math.nan


def _dot(a: Tensor, b: Tensor) -> float:
    return float(ft.dot(a, b).item())


def _evaluate(opfunc: Callable[[Tensor], tuple[Any, Any]], x: Tensor) -> tuple[float, Tensor]:
    """``opfunc(x)`` with f as a float and a private copy of the gradient.

    Torch copies every gradient it keeps (an ``opfunc`` commonly returns the same buffer, e.g. the
    gradient half of ``get_parameters()``, on each call); copying once here does the same.
    """
    f, g = opfunc(x)
    if not isinstance(g, Tensor):
        raise ArgumentError(f"optim: opfunc must return (f, df/dx) with df/dx a tensor, got {type(g).__name__}")
    return _num(f), g.reshape(-1).clone()


# --------------------------------------------------------------------------------------------------
# polyinterp


def _polyval(params: Sequence[float], x: float) -> float:
    """Value at ``x`` of the polynomial with coefficients ``params`` (highest power first), as Torch sums it."""
    val = 0.0
    pwr = len(params)
    for pc in params:
        pwr -= 1
        val = val + pc * x**pwr
    return val


def _roots(c: list[float]) -> list[tuple[float, float]]:
    """Roots of the polynomial ``c`` (highest power first) as (real, imaginary) pairs, as Torch's ``roots``.

    Coefficients under 1e-12 in magnitude count as zero; leading zeros lower the degree and each
    trailing zero is a root at 0. The rest are the eigenvalues of the companion matrix, so a real root
    has an imaginary part of exactly 0.
    """
    c = [0.0 if abs(v) < 1e-12 else v for v in c]
    if not any(v != 0 for v in c):
        # Torch returns the number 0 here and then fails to concatenate it; a constant polynomial
        # has no critical point, so none is returned.
        return []
    c = c[next(i for i, v in enumerate(c) if v != 0) :]
    nz = 0
    while c[-1] == 0:
        c.pop()
        nz += 1
    zeros = [(0.0, 0.0)] * nz
    n = len(c) - 1
    if n == 1:
        return [(_div(-c[1], c[0]), 0.0), *zeros]
    if n > 1:  # a few numbers: computed on the cpu whatever the default device
        companion = ft.diag(ft.ones(n - 1, device="cpu"), -1)
        companion[0] = ft.Tensor([-v / c[0] for v in c[1:]], device="cpu")
        eigenvalues, _ = ft.eig(companion, eigenvectors=False)
        return [(float(re), float(im)) for re, im in eigenvalues.tolist()] + zeros
    return zeros


def polyinterp(points: Any, xmin: float | None = None, xmax: float | None = None) -> tuple[float, float]:
    """Minimum of the polynomial interpolating function values and derivatives, as Torch's ``optim.polyinterp``.

    Parameters
    ----------
    points : Tensor or nested list, shape (n, 3)
        Rows ``(x, f(x), f'(x))``. The interpolating polynomial has order ``2n - 1``.
    xmin, xmax : float, optional
        The interval searched for the minimum; each defaults to the smallest/largest ``x`` of the points.

    Returns
    -------
    (min_pos, f_min) : tuple of float
        The position of the minimum and the polynomial's value there.

    Notes
    -----
    Torch's two cases are kept:

    - **Two points, no bounds** (the case ``lswolfe``'s zoom phase uses): the closed form of the
      cubic's minimizer, ``d1 = g1 + g2 - 3(f1 - f2)/(x1 - x2)``, ``d2 = sqrt(d1² - g1·g2)``,
      ``t = x2 - (x2 - x1)(g2 + d2 - d1)/(g2 - g1 + 2·d2)`` (x1 the smaller x), clamped to
      ``[x1, x2]``. When ``d2`` is not real (the cubic has no local minimum) it returns the mean of
      the two x's. Torch returns no ``f_min`` in this case; here it is the cubic's value at ``min_pos``.
    - **Otherwise** (bounds given, or n != 2): the polynomial is fitted by least squares (``ft.gels``),
      coefficients under 1e-12 in magnitude are zeroed, and the candidates are the bounds, the
      points' x's and the real roots of the derivative (an exactly zero imaginary part, as LAPACK
      gives real eigenvalues); the in-bounds candidate with the smallest value wins, the first on
      ties. With no valid candidate it returns the midpoint of the bounds and ``inf``. Torch checks
      the derivative for ``nan`` and ``+inf`` only; here any non-finite coefficient skips the roots.

    A bound of 0 counts as given (Lua's ``0`` is true), so only ``None`` means "no bound".

    Examples
    --------
    The cubic ``x³ - 3x`` has its local minimum at 1:

    >>> import flambeau.tensor as ft
    >>> from flambeau.optim import polyinterp
    >>> pts = ft.Tensor([[0.0, 0.0, -3.0], [2.0, 2.0, 9.0]])
    >>> [round(v, 12) for v in polyinterp(pts)]
    [1.0, -2.0]
    >>> [round(v, 12) for v in polyinterp(pts, -1.0, 0.5)]  # bounded: the local min is outside
    [0.5, -1.375]
    """
    rows = points.tolist() if isinstance(points, Tensor) else [list(map(float, r)) for r in points]
    if not rows or any(len(r) != 3 for r in rows):
        raise ArgumentError("polyinterp: points must be an n x 3 tensor of (x, f, g) rows")
    n_points = len(rows)
    order = n_points * 2 - 1

    if n_points == 2 and xmin is None and xmax is None:
        lo = 1 if rows[1][0] < rows[0][0] else 0  # Torch's min(1): the first on ties
        (x1, f1, g1), (x2, f2, g2) = rows[lo], rows[1 - lo]
        d1 = g1 + g2 - 3 * _div(f1 - f2, x1 - x2)
        d2 = _sqrt(d1 * d1 - g1 * g2)
        if not math.isnan(d2):
            t = x2 - (x2 - x1) * _div(g2 + d2 - d1, g2 - g1 + 2 * d2)
            min_pos = min(max(t, x1), x2)
        else:
            min_pos = (x1 + x2) / 2
        return min_pos, _hermite(x1, f1, g1, x2, f2, g2, min_pos)

    xs = [r[0] for r in rows]
    lo_bound = min(xs) if xmin is None else float(xmin)
    hi_bound = max(xs) if xmax is None else float(xmax)

    # Constraints on the values, then on the derivatives (coefficients highest power first).
    a_rows = [[x**j for j in range(order, -1, -1)] for x, _, _ in rows]
    a_rows += [[(order - j) * x ** (order - j - 1) for j in range(order)] + [0.0] for x, _, _ in rows]
    b_rows = [[f] for _, f, _ in rows] + [[g] for _, _, g in rows]
    # A tiny system built from Python numbers: solved on the cpu whatever the default device.
    solution, _ = ft.gels(ft.Tensor(b_rows, device="cpu"), ft.Tensor(a_rows, device="cpu"))
    params = [0.0 if abs(v) <= 1e-12 else v for v in solution.reshape(-1).tolist()[: n_points * 2]]

    d_params = [params[i] * (order - i) for i in range(order)]
    candidates = [(lo_bound, 0.0), (hi_bound, 0.0)] + [(x, 0.0) for x in xs]
    if all(math.isfinite(v) for v in d_params):
        candidates += _roots(d_params)

    f_min = math.inf
    min_pos = (lo_bound + hi_bound) / 2  # bisection when no critical point is valid
    for re, im in candidates:
        if im == 0 and lo_bound <= re <= hi_bound:
            f_cp = _polyval(params, re)
            if f_cp < f_min:
                min_pos, f_min = re, f_cp
    return min_pos, f_min


def _hermite(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float, x: float) -> float:
    """Value at ``x`` of the cubic with values f1, f2 and slopes g1, g2 at x1, x2."""
    h = x2 - x1
    if h == 0:
        return min(f1, f2)
    s = (x - x1) / h
    h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
    h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * f1 + h10 * h * g1 + h01 * f2 + h11 * h * g2


# --------------------------------------------------------------------------------------------------
# lswolfe


def lswolfe(
    opfunc: Callable[[Tensor], tuple[Any, Any]],
    x: Tensor,
    t: float,
    d: Tensor,
    f: float,
    g: Tensor,
    gtd: float,
    options: dict[str, Any] | None = None,
) -> tuple[float, Tensor, Tensor, float, int]:
    """Line search along ``d`` satisfying the strong Wolfe conditions, as Torch's ``optim.lswolfe``.

    Brackets a step satisfying ``f(x + t·d) <= f + c1·t·gtd`` and ``|g(x + t·d)·d| <= -c2·gtd``
    (extrapolating with :func:`polyinterp` between ``t + 0.01·(t - t_prev)`` and ``10·t``), then
    zooms into the bracket with cubic interpolation (minFunc's ``WolfeLineSearch``).

    Parameters
    ----------
    opfunc : callable
        ``opfunc(x) -> (f, df/dx)`` on flat tensors.
    x : Tensor
        The flat 1-D starting point; **moved in place** to the accepted point.
    t : float
        The initial step size.
    d : Tensor
        The (descent) direction, flat like ``x``.
    f, g, gtd : float, Tensor, float
        ``f(x)``, the gradient at ``x`` and the directional derivative ``g·d``.
    options : dict, optional
        ``c1`` (sufficient decrease, 1e-4), ``c2`` (curvature, 0.9), ``tol_x`` (smallest progress,
        1e-9), ``max_iter`` (evaluations after the first, 20), ``verbose`` (False). Unknown keys raise.

    Returns
    -------
    (f_new, g_new, x, t, n_evals)
        The value and gradient at the new point, ``x`` itself (now ``x0 + t·d``), the step and the
        number of ``opfunc`` evaluations.

    Notes
    -----
    Torch's behaviour is kept: when the bracketing phase runs out of iterations the bracket becomes
    ``[0, t]``; the zoom phase forces a step 10% inside the bracket when interpolation makes too
    little progress twice (or lands on an end); the search stops once ``|(t_a - t_b)·gtd_new| <
    tol_x``; and the point returned is the bracket's lowest, which may not satisfy the conditions
    when the iterations ran out.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.optim import lswolfe
    >>> opfunc = lambda x: ((x * x).sum().item(), 2 * x)  # f = |x|², minimum along -x at t = 1/2
    >>> x = ft.Tensor([1.0, 2.0])
    >>> f, g = opfunc(x)
    >>> d = -g
    >>> f_new, g_new, x, t, n = lswolfe(opfunc, x, 1.0, d, f, g, ft.dot(g, d).item())
    >>> round(t, 12), round(f_new, 12), x.tolist(), n
    (0.5, 0.0, [0.0, 0.0], 2)
    """
    c = Config("lswolfe", options, LSWOLFE_DEFAULTS)
    c1, c2, tol_x, max_iter = float(c.c1), float(c.c2), float(c.tol_x), int(c.max_iter)

    def verbose(msg: str) -> None:
        if c.verbose:
            print("<optim.lswolfe> \t" + msg)

    t, f, gtd = _num(t), _num(f), _num(gtd)
    x_init = x.clone()
    x.add_(d, alpha=t)
    f_new, g_new = _evaluate(opfunc, x)
    n_evals = 1
    gtd_new = _dot(g_new, d)

    # Bracket an interval containing a point satisfying the Wolfe conditions.
    ls_iter, t_prev, done = 0, 0.0, False
    f_prev, g_prev, gtd_prev = f, g.reshape(-1).clone(), gtd
    bracket: list[float] = []
    bracket_f: list[float] = []
    bracket_g: list[Tensor] = []
    while ls_iter < max_iter:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f, bracket_g = [t_prev, t], [f_prev, f_new], [g_prev, g_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f, bracket_g = [t_prev, t], [f_prev, f_new], [g_prev, g_new]
            break

        # Extrapolate.
        tmp = t_prev
        t_prev = t
        min_step = t + 0.01 * (t - tmp)
        max_step = t * 10
        t, _ = polyinterp([[tmp, f_prev, gtd_prev], [t, f_new, gtd_new]], min_step, max_step)

        f_prev, g_prev, gtd_prev = f_new, g_new, gtd_new
        x.copy_(x_init)
        x.add_(d, alpha=t)
        f_new, g_new = _evaluate(opfunc, x)
        n_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1

    if ls_iter == max_iter:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g.reshape(-1).clone(), g_new]

    # Zoom: refine the bracket until a point satisfies the conditions.
    insuf_progress = False
    while not done and ls_iter < max_iter:
        lo = _argmin2(bracket_f)
        hi = 1 - lo
        f_lo = bracket_f[lo]

        t, _ = polyinterp(
            [[bracket[0], bracket_f[0], _dot(bracket_g[0], d)], [bracket[1], bracket_f[1], _dot(bracket_g[1], d)]]
        )

        # Make sure the step makes enough progress.
        b_max, b_min = max(bracket), min(bracket)
        if _div(min(b_max - t, t - b_min), b_max - b_min) < 0.1:
            if insuf_progress or t >= b_max or t <= b_min:
                if abs(t - b_max) < abs(t - b_min):
                    t = b_max - 0.1 * (b_max - b_min)
                else:
                    t = b_min + 0.1 * (b_max - b_min)
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        x.copy_(x_init)
        x.add_(d, alpha=t)
        f_new, g_new = _evaluate(opfunc, x)
        n_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= f_lo:
            # Armijo condition not met, or not below the lowest point: the new point is the high end.
            bracket[hi], bracket_f[hi], bracket_g[hi] = t, f_new, g_new
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[hi] - bracket[lo]) >= 0:
                # The old low end becomes the high end.
                bracket[hi], bracket_f[hi], bracket_g[hi] = bracket[lo], bracket_f[lo], bracket_g[lo]
            bracket[lo], bracket_f[lo], bracket_g[lo] = t, f_new, g_new

        if not done and abs((bracket[0] - bracket[1]) * gtd_new) < tol_x:
            break

    if ls_iter == max_iter:
        verbose("reached max number of iterations")

    lo = _argmin2(bracket_f) if len(bracket_f) == 2 else 0
    t, f_new, g_new = bracket[lo], bracket_f[lo], bracket_g[lo]
    x.copy_(x_init)
    x.add_(d, alpha=t)
    return f_new, g_new, x, t, n_evals


def _argmin2(values: list[float]) -> int:
    """Index of the smaller of two values, the first on ties (Torch's ``min(1)``)."""
    return 1 if not values[1] >= values[0] else 0


# --------------------------------------------------------------------------------------------------
# checkgrad


def checkgrad(
    opfunc: Callable[[Tensor], tuple[Any, Any]], x: Tensor, eps: float = 1e-7
) -> tuple[float, Tensor, Tensor]:
    """Compare ``opfunc``'s gradient with central finite differences, as Torch's ``optim.checkgrad``.

    Parameters
    ----------
    opfunc : callable
        ``opfunc(x) -> (f, df/dx)`` on flat tensors.
    x : Tensor
        The flat 1-D point of evaluation. Each element is moved by ``±eps`` in turn, then restored.
    eps : float
        The finite-difference step (1e-7).

    Returns
    -------
    (diff, dC, dC_est)
        ``diff = ‖dC - dC_est‖ / ‖dC + dC_est‖`` (small, near ``eps``, for a correct gradient), the
        gradient ``opfunc`` returned and the estimate ``(f(x + eps·e_i) - f(x - eps·e_i)) / 2eps``.

    Notes
    -----
    Two details differ from Torch, both to protect the result: ``dC`` is copied (Torch keeps the
    tensor ``opfunc`` returned, which an ``opfunc`` reusing one gradient buffer overwrites during the
    check), and each element of ``x`` is restored exactly (Torch adds ``eps``, subtracts ``2eps`` and
    adds ``eps`` back, which can leave an ulp of drift).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.optim import checkgrad
    >>> x = ft.Tensor([1.0, -2.0, 0.5])
    >>> diff, dC, dC_est = checkgrad(lambda x: ((x * x * x).sum().item(), 3 * x * x), x)
    >>> diff < 1e-8
    True
    >>> diff, _, _ = checkgrad(lambda x: ((x * x * x).sum().item(), 2 * x * x), x)  # a wrong gradient
    >>> round(diff, 6)
    0.2
    """
    if not isinstance(x, Tensor) or x.dim() != 1:
        raise ArgumentError("checkgrad: x must be a flat 1-D tensor")
    _, grad = opfunc(x)
    grad = grad.reshape(x.size()).clone()
    estimates: list[float] = []  # made into one tensor at the end (one transfer, not one per element)
    for i in range(x.nelement()):
        xi = x.select(0, i)  # a view of element i
        value = float(xi.item())
        xi.fill_(value + eps)
        c_plus = _num(opfunc(x)[0])
        xi.fill_(float(xi.item()) - 2 * eps)
        c_minus = _num(opfunc(x)[0])
        xi.fill_(value)
        estimates.append((c_plus - c_minus) / (2 * eps))
    grad_est = ft.tensor(estimates, dtype=grad.dtype, device=grad.device)
    diff = _div(float(ft.norm(grad - grad_est).item()), float(ft.norm(grad + grad_est).item()))
    return diff, grad, grad_est
