"""FISTA / ISTA with backtracking line search (Beck and Teboulle, 2009), as Torch's ``optim.FistaLS``.

Minimises ``F(x) = f(x) + g(x)`` with ``f`` smooth and ``g`` non-smooth but with an easy proximal
step ``pl``. Torch's parameter names map to snake_case as follows:

=================  ===================  =========
Torch              here                 default
=================  ===================  =========
``L``              ``l``                0.1
``Lstep``          ``l_step``           1.5
``maxiter``        ``max_iter``         50
``maxline``        ``max_line``         20
``errthres``       ``err_thres``        1e-4
``doFistaUpdate``  ``do_fista_update``  None (ISTA; see below)
``verbose``        ``verbose``          False
=================  ===================  =========

and the keys of each history entry ``nline, L, F, Fply, Gply, Q, xk, y`` to
``nline, l, f, fply, gply, q, xk, y``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError

from .core import Config

__all__ = ["FistaLS"]

DEFAULTS: dict[str, Any] = {
    "l": 0.1,
    "l_step": 1.5,
    "max_iter": 50,
    "max_line": 20,
    "err_thres": 1e-4,
    "do_fista_update": None,  # Torch's quirk: no default, so ISTA runs
    "verbose": False,
}
STATE_KEYS = ("xkm", "y", "ply")


def _num(v: Any) -> float:
    if isinstance(v, (tuple, list)):
        v = v[0]
    return float(v.item()) if isinstance(v, Tensor) else float(v)


def _dot(a: Tensor, b: Tensor) -> float:
    return float((a * b).sum().item())


def _buffer(params: dict[str, Any], key: str, like: Tensor) -> Tensor:
    """The work tensor ``params[key]``, reused when it fits ``like`` (Torch keeps them in params), zeroed."""
    t = params.get(key)
    if not (isinstance(t, Tensor) and t.size() == like.size() and t.dtype == like.dtype and t.device == like.device):
        t = ft.zeros_like(like)
        params[key] = t
    return t.zero_()


def FistaLS(  # noqa: N802 - Torch's name
    f: Callable[..., Any],
    g: Callable[[Tensor], Any],
    pl: Callable[[Tensor, float], Any],
    xinit: Tensor,
    params: dict[str, Any] | None = None,
) -> tuple[Tensor, list[dict[str, Any]]]:
    """FISTA, or ISTA, with backtracking line search on ``L`` (1 / step size).

    Parameters
    ----------
    f : callable
        The smooth part: ``f(x)`` returns its value, ``f(x, "dx")`` returns ``(value, gradient)``
        (Torch's mode argument; a tuple returned without the mode is accepted, its first item
        taken).
    g : callable
        The non-smooth part: ``g(x)`` returns its value.
    pl : callable
        ``pl(x, L)`` replaces ``x`` in place with the minimiser of the auxiliary problem, the
        proximal step of ``g / L`` (for ``g = lam * |x|_1``, soft-thresholding by ``lam / L``).
    xinit : Tensor
        Receives the solution (in place). Quirk kept from Torch: its values are **not** used as the
        starting point; the iteration always starts from zeros (and ``xinit`` is overwritten with
        the candidate points during the run).
    params : dict, optional
        Settings (see the module for Torch's names): ``l`` (0.1), ``l_step`` (1.5), ``max_iter``
        (50, at least 1), ``max_line`` (20), ``err_thres`` (1e-4), ``do_fista_update``,
        ``verbose`` (print each line-search step and iteration, and keep ``xk`` and ``y`` in the
        history). On return ``params["l"]`` holds the last ``L``, so a second call with the same
        dict starts from it; the work tensors ``xkm``, ``y`` and ``ply`` are kept in ``params``
        and reused.

    Returns
    -------
    (x, history)
        ``x`` is ``xinit`` holding the final point; ``history`` holds one dict per iteration:
        ``nline`` (line-search steps), ``l``, ``f`` (``F`` at the new point), ``fply``, ``gply``
        (its smooth and non-smooth parts) and ``q`` (the quadratic model's value).

    Notes
    -----
    Each iteration takes ``p = pl(y - grad f(y) / L, L)``, multiplying ``L`` by ``l_step`` until
    ``f(p) <= f(y) + <p - y, grad f(y)> + L/2 |p - y|^2`` (``L`` never decreases). It stops when
    ``|F_k - F_(k-1)| <= err_thres`` or after ``max_iter`` iterations. Quirks kept from Torch:

    - ``do_fista_update``: Torch's documentation gives it a default of true, but its code leaves it
      unset, so plain **ISTA** runs unless it is set to true (then ``y`` is extrapolated with
      FISTA's momentum ``t_(k+1) = (1 + sqrt(1 + 4 t_k^2)) / 2``).
    - The result is the last ``y``: with FISTA the extrapolated point, not the last ``x_k``.
    - The sufficient-decrease test compares values that differ by rounding once the steps are
      tiny, so with a very small ``err_thres`` ``L`` eventually grows spuriously and progress
      stalls: expect ``x`` to about ``1e-6`` relative, not to machine precision.
    - When the line search gives up (after ``max_line`` increases of ``L``) the iterate falls back
      to the previous one, which under ISTA is always zero (Torch only tracks it for FISTA).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> b = ft.Tensor([3.0, -0.2, 1.0])
    >>> def f(x, mode=None):  # 0.5 |x - b|^2, and its gradient in mode "dx"
    ...     value = 0.5 * ((x - b) ** 2).sum().item()
    ...     return (value, x - b) if mode == "dx" else value
    >>> g = lambda x: 0.5 * x.abs().sum().item()
    >>> def pl(x, L):  # soft-threshold by 0.5 / L, in place
    ...     x.copy_(x.sign() * (x.abs() - 0.5 / L).clamp(min=0))
    >>> x, history = optim.FistaLS(f, g, pl, ft.zeros(3), {"max_iter": 200, "err_thres": 1e-12})
    >>> [round(v, 6) + 0.0 for v in x.tolist()]
    [2.5, 0.0, 0.5]
    """
    if params is None:
        params = {}
    c = Config("FistaLS", params, DEFAULTS, state_keys=STATE_KEYS)
    lip = float(c.l)
    l_step = float(c.l_step)
    max_iter = int(c.max_iter)
    max_line = int(c.max_line)
    err_thres = float(c.err_thres)
    fista = bool(c.do_fista_update)
    verbose = bool(c.verbose)
    if max_iter < 1:
        raise ArgumentError(f"FistaLS: max_iter must be at least 1, got {max_iter}")

    xk = xinit
    xkm = _buffer(params, "xkm", xk)  # previous iterate (FISTA only)
    y = _buffer(params, "y", xk)  # the point the step is taken from: zeros to start
    ply = _buffer(params, "ply", xk)

    history: list[dict[str, Any]] = []
    tk, tkp = 1.0, 0.0
    fval = math.inf
    g(y)  # Torch evaluates g at the start (and does not use it)
    while True:
        fy, gfy = f(y, "dx")
        fy = _num(fy)
        q = 0.0
        nline = 0
        while True:  # line search on L
            ply.copy_(y).add_(gfy, alpha=-1 / lip)
            pl(ply, lip)
            xk.copy_(ply)
            fply = _num(f(ply))
            ply.sub_(y)
            q2 = _dot(gfy, ply)
            q3 = lip / 2 * _dot(ply, ply)
            q = fy + q2 + q3
            if verbose:
                print(f"nline={nline} L={lip:g} fply={fply:g} Q={q:g} fy={fy:g} Q2={q2:g} Q3={q3:g}")
            if fply <= q:
                nline += 1
                break
            if nline >= max_line:
                xk.copy_(xkm)  # give up: back to the previous iterate
                nline += 1
                break
            lip *= l_step
            nline += 1

        if fista:
            tkp = (1 + math.sqrt(1 + 4 * tk * tk)) / 2
            xkm.sub_(xk)  # x(k-1) - x(k)
            y.copy_(xk).add_(xkm, alpha=(1 - tk) / tkp)
            xkm.copy_(xk)
        else:
            y.copy_(xk)
        tk = tkp
        fply = _num(f(y))
        gply = _num(g(y))
        if verbose:
            print(f"iter={len(history)} eold={fval:g} enew={fply + gply:g}")
        fval = fply + gply
        entry: dict[str, Any] = {"nline": nline, "l": lip, "f": fval, "fply": fply, "gply": gply, "q": q}
        if verbose:
            entry["xk"] = xk.clone()
            entry["y"] = y.clone()
        history.append(entry)
        params["l"] = lip
        niter = len(history)
        if (niter > 1 and abs(history[-1]["f"] - history[-2]["f"]) <= err_thres) or niter >= max_iter:
            xinit.copy_(y)
            return xinit, history
