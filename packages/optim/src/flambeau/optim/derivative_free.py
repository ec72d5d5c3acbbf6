"""Derivative-free optimizers: CMA-ES (``cmaes``) and differential evolution (``de``), as Torch's optim has them.

Both take Torch's interface ``optim.name(opfunc, x, config=None, state=None)``; ``opfunc(x)``
returns ``(f, df/dx)`` as for every optimizer, but only ``f`` is used (a bare ``f`` is accepted
too when ``x`` is a flat tensor). Each call is a whole run: nothing is kept in the state between
calls. Both write the best point found into ``x`` in place and return it first.

Randomness:

- ``cmaes`` draws its samples with ``ft.randn`` from the default generator of ``x``'s device, as
  Torch's drew from the global generator: ``ft.manual_seed(s)`` before the call makes a run
  reproducible, and a run advances the default generator.
- ``de`` keeps Torch's quirk of seeding a generator of its own with seed 1
  (``ft.Generator(x.device, seed=1)``) on every call: every run with the same settings and the
  same ``x`` gives the same result, whatever the global seed, and the default generator is left
  untouched.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError

from .core import Config, optimizer

__all__ = ["cmaes", "de"]


def _value(out: Any) -> float:
    """The function value of what ``opfunc`` returned: ``(f, df/dx)`` or a bare ``f``."""
    f = out[0] if isinstance(out, (tuple, list)) else out
    return float(f.item()) if isinstance(f, Tensor) else float(f)


def _lua_number(v: float) -> str:
    """A number as Lua's ``tostring`` prints it (``%.14g``)."""
    return format(v, ".14g")


# --------------------------------------------------------------------------------------------------
# CMA-ES

CMAES_DEFAULTS: dict[str, Any] = {
    "sigma": None,  # required
    "max_eval": None,  # 1e3 * N^2
    "ftarget": None,
    "popsize": None,  # 4 + floor(3 ln N)
    "verb_disp": 0,
    "min_iterations": 1,
}


@optimizer
def cmaes(opfunc: Callable[[Tensor], Any], x: Tensor, config: dict[str, Any], state: dict[str, Any]) -> Any:
    """CMA-ES (covariance matrix adaptation evolution strategy), Torch's port of Hansen's barecmaes2.

    Parameters
    ----------
    opfunc : callable
        ``opfunc(x) -> (f, df/dx)``; the gradient is ignored (a bare ``f`` is accepted for a flat
        ``x``). Candidates are passed in ``x``'s type; the search itself runs in double precision.
    x : Tensor or tree of tensors
        The starting point (the initial mean); overwritten in place with the best point found.
    config, state : dict
        As Torch, the keys are read from ``state`` (``config`` doubles as the state when omitted);
        keys missing from a separate ``state`` are taken from ``config``.

        - ``sigma`` (required): initial step size, the standard deviation in each coordinate.
        - ``max_eval`` (``1e3 * N**2``): stop once this many candidates have been evaluated.
        - ``ftarget`` (None): stop once the best value of a generation is ``<= ftarget``.
        - ``popsize`` (``4 + floor(3 ln N)``): candidates per generation (lambda).
        - ``verb_disp`` (0): print progress every ``verb_disp`` generations and a summary at the
          end; 0 prints nothing. (Torch has no default and fails on its third generation when it
          is left unset; 0 is chosen here.)
        - ``min_iterations`` (1): run at least this many generations whatever the stop tests say.

    Returns
    -------
    (x, f_hist, n_evals)
        ``x`` holding the best candidate ever evaluated (Torch returns it as a new double tensor
        and leaves ``x`` alone; here it is written into ``x`` so that flat tensors and parameter
        trees behave alike); ``f_hist``: ``f`` at the starting point, then the best value of each
        generation, then the best value overall; ``n_evals``: candidates evaluated (the first
        evaluation at the starting point is not counted), a multiple of ``popsize``.

    Notes
    -----
    Stops when any of Torch's tests holds: ``max_eval`` reached, ``ftarget`` reached, the
    condition number of C above 1e14 (``max(D) > 1e7 min(D)``), the generation's values spread
    below 1e-12 (``tolfun``), or ``sigma * max(D) < 1e-11`` (``tolx``). Quirk kept: Torch takes
    ``mu = popsize / 2`` without rounding, so for an odd ``popsize`` the ``floor(mu)`` recombination
    weights are ``log(mu + 0.5) - log(i + 1)`` with the unrounded ``mu`` (Hansen rounds first).
    Each generation draws ``ft.randn(popsize, N)`` (one row per candidate) from the default
    generator of ``x``'s device; seed it with ``ft.manual_seed`` for a reproducible run.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> ft.manual_seed(1)
    >>> sphere = lambda x: ((x * x).sum().item(), None)
    >>> x = ft.Tensor([1.0, -2.0, 0.5])
    >>> x, f_hist, n_evals = optim.cmaes(sphere, x, {"sigma": 0.5, "ftarget": 1e-10})
    >>> f_hist[-1] <= 1e-10, x.abs().max().item() < 1e-4, n_evals % 7
    (True, True, 0)
    """
    c = Config("cmaes", {**config, **state}, CMAES_DEFAULTS)
    if c.sigma is None:
        raise ArgumentError("cmaes: the initial step size 'sigma' is required (set state['sigma'] or config['sigma'])")
    dev = x.device
    dbl = ft.float64
    xmean = x.clone().double()  # distribution mean
    n = xmean.nelement()
    sigma = float(c.sigma)
    ftarget = None if c.ftarget is None else float(c.ftarget)
    max_eval = float(c.max_eval) if c.max_eval is not None else 1e3 * n**2
    verb_disp = int(c.verb_disp or 0)
    min_iterations = int(c.min_iterations if c.min_iterations is not None else 1)
    lam = int(c.popsize) if c.popsize is not None else 4 + math.floor(3 * math.log(n))

    # Selection. Torch's quirk: mu = lam / 2 unrounded; floor(mu) parents.
    mu = lam / 2
    n_mu = max(1, math.floor(mu))
    w = [math.log(mu + 0.5) - math.log(i + 1) for i in range(n_mu)]
    w = [wi / sum(w) for wi in w]
    mueff = sum(w) ** 2 / sum(wi * wi for wi in w)
    weights = ft.tensor(w, dtype=dbl, device=dev)

    # Adaptation.
    cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n)  # cumulation for C
    cs = (mueff + 2) / (n + mueff + 5)  # cumulation for sigma
    c1 = 2 / ((n + 1.3) ** 2 + mueff)  # rank-one update
    cmu = min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((n + 2) ** 2 + mueff))  # rank-mu update
    damps = 2 * mueff / lam + 0.3 + cs  # damping for sigma

    pc = ft.zeros(n, dtype=dbl, device=dev)
    ps = ft.zeros(n, dtype=dbl, device=dev)
    b_mat = ft.eye(n, dtype=dbl, device=dev)  # eigenvectors of C
    d_vec = ft.ones(n, dtype=dbl, device=dev)  # square roots of C's eigenvalues
    c_mat = ft.eye(n, dtype=dbl, device=dev)
    invsqrt_c = ft.eye(n, dtype=dbl, device=dev)
    d_max = d_min = 1.0
    eigeneval = 0
    counteval = 0
    f_hist = [_value(opfunc(x))]
    fitvals: list[float] = []  # the last generation's values, sorted
    best_x: Tensor | None = None
    best_f = math.inf
    best_evals = 0
    iteration = 0

    def stop() -> dict[str, float]:
        res: dict[str, float] = {}
        if counteval > 0:
            if counteval >= max_eval:
                res["evals"] = max_eval
            if ftarget is not None and fitvals and fitvals[0] <= ftarget:
                res["ftarget"] = ftarget
            if d_max > 1e7 * d_min:
                res["condition"] = 1e7
            if len(fitvals) > 1 and fitvals[-1] - fitvals[0] < 1e-12:
                res["tolfun"] = 1e-12
            if sigma * d_max < 1e-11:
                res["tolx"] = 1e-11
        return res

    while not stop() or iteration < min_iterations:
        iteration += 1
        # ask: lam candidates m + sigma * B * D * N(0, I), after refreshing B and D when due
        if counteval - eigeneval > lam / (c1 + cmu) / n / 10:
            eigeneval = counteval
            c_mat = ft.triu(c_mat) + ft.triu(c_mat, 1).t()  # enforce symmetry
            evals, b_mat = ft.symeig(c_mat)
            d_vec = evals.sqrt()
            invsqrt_c = (b_mat * d_vec.pow(-1)).mm(b_mat.t())
            d_max, d_min = float(d_vec.max().item()), float(d_vec.min().item())
        z = ft.randn(lam, n, dtype=dbl, device=dev) * d_vec
        arx = xmean + z.mm(b_mat.t()) * sigma
        values = [_value(opfunc(arx[k].clone().type_as(x))) for k in range(lam)]

        # tell: sort, recombine, update the evolution paths, C and sigma
        counteval += lam
        xold = xmean
        order = sorted(range(lam), key=values.__getitem__)
        fitvals = [values[k] for k in order]
        sel = arx.index_select(0, ft.tensor(order[:n_mu], dtype=ft.int64, device=dev))
        f_hist.append(fitvals[0])
        if best_x is None or fitvals[0] < best_f:
            best_x, best_f, best_evals = sel[0].clone(), fitvals[0], counteval
        xmean = sel.t().mv(weights)
        y = xmean - xold
        zc = invsqrt_c.mv(y)  # C^(-1/2) (xnew - xold)
        ps = ps - ps * cs + zc * (math.sqrt(cs * (2 - cs) * mueff) / sigma)
        ps2 = float((ps * ps).sum().item())
        hsig = 1.0 if ps2 / (1 - (1 - cs) ** (2 * counteval / lam)) / n < 2 + 4.0 / (n + 1) else 0.0
        pc = pc - pc * cc + y * (math.sqrt(cc * (2 - cc) * mueff) / sigma * hsig)
        c1a = c1 - (1 - hsig**2) * c1 * cc * (2 - cc)
        dev_y = sel - xold
        c_mu = dev_y.t().mm(dev_y * weights.view(n_mu, 1)) / sigma**2  # rank-mu update
        c_mat = c_mat + (c_mat * (-c1a - cmu) + ft.ger(pc, pc) * c1 + c_mu * cmu)
        sigma = sigma * math.exp(min(0.6, (cs / damps) * (ps2 / n - 1) / 2))

        if verb_disp > 0:  # disp
            it = counteval / lam
            if it == 1 or it % (10 * verb_disp) == 0:
                print("evals:\t ax-ratio max(std)   f-value")
            if it <= 2 or it % verb_disp == 0:
                max_std = math.sqrt(float(c_mat.diag().max().item()))
                print(f"{counteval}:  {d_max / d_min:6.1f} {sigma * max_std:8.1e} {_lua_number(fitvals[0])}")

    assert best_x is not None
    if verb_disp > 0:
        for k, v in stop().items():
            print("termination by", k, "=", _lua_number(v), sep="\t")
        print("best f-value =", _lua_number(best_f), sep="\t")
        print("solution = ")
        print(best_x)
        print("best found at iteration: ", _lua_number(best_evals / lam), " , total iterations: ", iteration, sep="\t")
    f_hist.append(best_f)
    x.copy_(best_x.type_as(x))
    return x, f_hist, counteval


# --------------------------------------------------------------------------------------------------
# Differential evolution

DE_DEFAULTS: dict[str, Any] = {
    "popsize": None,  # 10 * D
    "scale_factor": None,  # required
    "crossover_rate": None,  # required
    "max_fes": None,  # required
    "max_region": 30,
    "min_region": -30,
}


@optimizer
def de(opfunc: Callable[[Tensor], Any], x: Tensor, config: dict[str, Any], state: dict[str, Any]) -> Any:
    """Differential evolution (DE/best/1 with binomial crossover), as Torch's undocumented ``optim.de``.

    Parameters
    ----------
    opfunc : callable
        ``opfunc(x) -> (f, df/dx)``; the gradient is ignored (a bare ``f`` is accepted for a flat
        ``x``). Each candidate is passed as a new tensor of ``x``'s type.
    x : Tensor or tree of tensors
        Gives the dimension and type only: Torch's starting population is drawn uniformly in
        ``[min_region, max_region)``, not around ``x``. Overwritten in place with the best point.
    config : dict
        Read from ``config`` (as Torch; ``state`` is not used):

        - ``popsize`` (``10 * D``): population size, at least 3.
        - ``scale_factor`` (required): the differential weight F, usually 0.4 to 1.
        - ``crossover_rate`` (required): the crossover probability CR, usually 0.1 to 0.9.
        - ``max_fes`` (required): the budget of function evaluations.
        - ``max_region`` (30), ``min_region`` (-30): bounds of the initial population (not
          enforced afterwards).

    Returns
    -------
    (x, fx)
        ``x`` holding the best solution, and ``fx``: every function value computed, in order (the
        initial population, then each generation's children).

    Notes
    -----
    Each generation makes one child per member ``i``: ``best + F * (pop[r1] - pop[r2])`` with
    ``r1 != i`` and ``r2 != r1, i``, crossed with ``pop[i]`` coordinate-wise with probability CR
    (and always at one random coordinate); a child that is no worse than its parent replaces it.
    Generations run while fewer than ``max_fes - 1`` evaluations were made, so the last generation
    may go past ``max_fes`` (Torch then fails writing past the end of its ``max_fes``-sized ``fx``
    tensor; here ``fx`` just holds every value).

    Quirks kept from Torch:

    - Every call seeds a generator of its own with seed 1 (``ft.Generator(x.device, seed=1)``), so
      runs are reproducible whatever the global seed, and the default generator is not touched.
    - The initial "best" solution is the *worst* member of the initial population (Torch takes the
      ``max`` of the fitness); it is replaced by the first child that beats it.

    Draws, in order, from that generator: the initial population (``uniform_`` on a
    ``popsize x D`` tensor), then per generation ``r1``, ``r2`` and the forced crossover
    coordinate (``random_`` on ``popsize``-vectors, ``r1``/``r2`` drawn among the allowed indices
    rather than by Torch's rejection loop) and the crossover uniforms (``popsize x D``).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> sphere = lambda x: ((x - 1) * (x - 1)).sum().item()
    >>> x = ft.zeros(2)
    >>> config = {"scale_factor": 0.5, "crossover_rate": 0.9, "max_fes": 2000}
    >>> x, fx = optim.de(sphere, x, config)
    >>> len(fx), [round(v, 4) for v in x.tolist()]
    (2000, [1.0, 1.0])
    """
    c = Config("de", config, DE_DEFAULTS)
    for key, torch_name in (
        ("scale_factor", "scaleFactor"),
        ("crossover_rate", "crossoverRate"),
        ("max_fes", "maxFEs"),
    ):
        if c.get(key) is None:
            raise ArgumentError(f"de: config key {key!r} (Torch's {torch_name}) is required")
    dev = x.device
    d = x.nelement()
    popsize = int(c.popsize) if c.popsize is not None else 10 * d
    if popsize < 3:
        raise ArgumentError(f"de: popsize must be at least 3 (two distinct partners per member), got {popsize}")
    scale = float(c.scale_factor)
    cr = float(c.crossover_rate)
    max_fes = float(c.max_fes)
    long = ft.int64

    gen = ft.Generator(dev, seed=1)  # Torch's quirk: a generator of its own, seeded with 1
    pop = ft.empty(popsize, d, dtype=x.dtype, device=dev).uniform_(
        float(c.min_region), float(c.max_region), generator=gen
    )
    fitness = [_value(opfunc(pop[i].clone())) for i in range(popsize)]
    fx = list(fitness)
    best_i = max(range(popsize), key=fitness.__getitem__)  # Torch's quirk: the worst member
    best_fitness = fitness[best_i]
    best = pop[best_i].clone()

    members = ft.arange(popsize, dtype=long, device=dev)
    coords = ft.arange(d, dtype=long, device=dev).view(1, d)
    while len(fx) + 1 < max_fes:
        r1 = ft.empty(popsize, dtype=long, device=dev).random_(0, popsize - 1, generator=gen)
        r1 = r1 + r1.ge(members).long()  # uniform over the indices other than i
        lo, hi = ft.cmin(members, r1), ft.cmax(members, r1)
        r2 = ft.empty(popsize, dtype=long, device=dev).random_(0, popsize - 2, generator=gen)
        r2 = r2 + r2.ge(lo).long()
        r2 = r2 + r2.ge(hi).long()  # uniform over the indices other than i and r1
        jrand = ft.empty(popsize, dtype=long, device=dev).random_(0, d, generator=gen)
        u = ft.empty(popsize, d, dtype=x.dtype, device=dev).uniform_(0, 1, generator=gen)
        cross = u.lt(cr) | coords.eq(jrand.view(popsize, 1))
        mutant = best.view(1, d) + (pop.index_select(0, r1) - pop.index_select(0, r2)) * scale
        children = ft.where(cross, mutant, pop)
        children_fitness = [_value(opfunc(children[i].clone())) for i in range(popsize)]
        fx.extend(children_fitness)

        keep = [cf <= f for cf, f in zip(children_fitness, fitness, strict=True)]
        improved = None
        for i in range(popsize):
            if keep[i]:
                fitness[i] = children_fitness[i]
                if fitness[i] < best_fitness:
                    best_fitness, improved = fitness[i], i
        keep_mask = ft.tensor([1 if k else 0 for k in keep], dtype=ft.uint8, device=dev)
        pop = ft.where(keep_mask.view(popsize, 1), children, pop)
        if improved is not None:
            best = children[improved].clone()

    x.copy_(best)
    return x, fx
