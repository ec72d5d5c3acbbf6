"""Coverage of Torch7's maths and random names: each one mapped to flambeau or marked not provided.

:data:`ENTRIES` lists every name of Torch7's maths (torch7 ``doc/maths.md``: construction, element-wise,
BLAS, dimension-wise, tensor-wide, convolution, LAPACK, comparison), its random sampling and RNG
management (``doc/random.md``), the undocumented ``match``, and the tensor functions of Torch7's
tensor API that the maths chapter leans on (``zero``, ``fill``, ``gather``, ``view``, ...). Each
:class:`Entry` names the flambeau attribute that provides it (``ft.<name>`` or ``ft.Tensor.<name>``)
or holds a :class:`NotProvided` with the reason, plus a note where the behaviour differs.
:data:`COVERAGE` is the same as a dict. ``docs/coverage.md`` is rendered from it::

    python -m flambeau.tensor.coverage > docs/coverage.md

>>> from flambeau.tensor.coverage import COVERAGE, NotProvided, resolve
>>> COVERAGE["cmul"], COVERAGE["logNormal"], COVERAGE["manualSeed"]
('cmul', 'log_normal_', 'manual_seed')
>>> isinstance(COVERAGE["multinomialAlias"], NotProvided)
True
>>> resolve("repeat_tensor") is not None
True
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NotProvided:
    """A Torch7 name flambeau deliberately leaves out, and why."""

    reason: str


@dataclass(frozen=True)
class Entry:
    torch7: str  # the Torch7 name (``torch.<name>`` and/or the tensor method)
    flambeau: str | NotProvided  # an attribute of flambeau.tensor or of flambeau.tensor.Tensor
    section: str  # the section of the inventory (reference/torch7-inventory.md) it comes from
    note: str = ""  # what differs from Torch7, if anything


# Section titles, in order (numbers follow the inventory: 2.x maths, 2.9 random, 1.x tensor API).
SECTIONS: dict[str, str] = {
    "2.1": "Construction and extraction",
    "2.2": "Element-wise unary",
    "2.3": "Basic binary, scalar and BLAS operations",
    "2.4": "Dimension-wise operations",
    "2.5": "Tensor-wide operations",
    "2.6": "Convolutions",
    "2.7": "Linear algebra (LAPACK)",
    "2.8": "Comparisons and logical operations",
    "2.9": "Random sampling and generators",
    "1": "Tensor functions used with the maths (from the tensor API)",
}

_ALIAS = NotProvided(
    "alias-method tables are a C-level speed-up of Torch7 for many draws with replacement;"
    " multinomial(..., replacement=True) is already vectorized (inverse CDF)"
)
_SCALAR = (
    "the scalar form `torch.{t}()` returning a Lua number is not kept:"
    " draw into a 0-d tensor, `ft.empty(()).{f}(...).item()`"
)
_INDEX = "0-based indices"

_ROWS: list[Entry] = []


def _add(section: str, *rows: str | tuple[str, str | NotProvided] | tuple[str, str | NotProvided, str]) -> None:
    """Rows: ``"name"`` (same name in flambeau), ``(torch7, flambeau)`` or ``(torch7, flambeau, note)``."""
    for r in rows:
        if isinstance(r, str):
            _ROWS.append(Entry(r, r, section))
        else:
            _ROWS.append(Entry(r[0], r[1], section, r[2] if len(r) == 3 else ""))


_add(
    "2.1",
    ("cat", "cat", "takes a list or tuple; the default dim is 0 (Torch7: the last dim)"),
    "diag",
    "eye",
    "histc",
    "bhistc",
    "linspace",
    "logspace",
    (
        "multinomial",
        "multinomial",
        "0-based indices; `replacement=False` by default as in Torch7; returns a LongTensor in draw order",
    ),
    ("multinomialAliasSetup", _ALIAS),
    ("multinomialAlias", _ALIAS),
    "ones",
    "zeros",
    "rand",
    "randn",
    ("range", "range", "kept inclusive of `end`; `ft.arange` is numpy's exclusive one"),
    ("randperm", "randperm", "a permutation of 0..n-1 (Torch7: 1..n)"),
    ("reshape", "reshape", "always a copy, as in Torch7"),
    "tril",
    "triu",
)
_add(
    "2.2",
    "abs",
    "sign",
    "acos",
    "asin",
    "atan",
    ("atan2", "atan2", "the first argument is the numerator, as in Torch7 and numpy"),
    "ceil",
    "floor",
    ("round", "round", "rounds half away from zero (C `round`), as in Torch7 (numpy rounds half to even)"),
    "trunc",
    "frac",
    "cos",
    "sin",
    "tan",
    "cosh",
    "sinh",
    "tanh",
    "exp",
    "log",
    "log1p",
    "sqrt",
    "rsqrt",
    ("neg", "neg", "`t.neg()` returns a new tensor; `t.neg_()` is in place (Torch7's method was in place)"),
    "cinv",
    ("pow", "pow", "`ft.pow(n, x)` with a number first gives n**x, as in Torch7"),
    "sigmoid",
)
_add(
    "2.3",
    ("equal", "equal", "a Python bool"),
    ("add", "add", "`add(t1, value, t2)` is `ft.add(t1, t2, alpha=value)`"),
    ("csub", "csub", "also `sub` (with one argument; with two or more integers `sub` is Torch7's view, `sub_view`)"),
    "mul",
    "div",
    "clamp",
    "cmul",
    "cdiv",
    "cpow",
    "cmax",
    "cmin",
    ("addcmul", "addcmul", "the scale is the keyword `value=`"),
    ("addcdiv", "addcdiv", "the scale is the keyword `value=`"),
    "fmod",
    "cfmod",
    "remainder",
    "cremainder",
    ("mod", "fmod", "Torch7's deprecated alias of fmod is not kept: use `fmod` (or `remainder`)"),
    ("cmod", "cfmod", "Torch7's deprecated alias of cfmod is not kept: use `cfmod` (or `cremainder`)"),
    "lshift",
    "rshift",
    "clshift",
    "crshift",
    "bitand",
    "bitor",
    "bitxor",
    "cbitand",
    "cbitor",
    "cbitxor",
    ("dot", "dot", "a 0-d tensor (Torch7: a Lua number)"),
    "mv",
    "mm",
    "bmm",
    "ger",
    ("addmv", "addmv", "the scales are the keywords `beta=` (of the added tensor) and `alpha=`"),
    ("addmm", "addmm", "the scales are the keywords `beta=` and `alpha=`"),
    ("addr", "addr", "the scales are the keywords `beta=` and `alpha=`"),
    ("addbmm", "addbmm", "the scales are the keywords `beta=` and `alpha=`"),
    ("baddbmm", "baddbmm", "the scales are the keywords `beta=` and `alpha=`"),
    "lerp",
)
_add(
    "2.4",
    ("cross", "cross", "default dim: the first of size 3, as in Torch7"),
    ("cumsum", "cumsum", "default dim 0 (Torch7's dim 1)"),
    ("cumprod", "cumprod", "default dim 0 (Torch7's dim 1)"),
    ("max", "max", f"{_INDEX}; with no dim a 0-d tensor; with a dim the dim is dropped unless `keepdim=True`"),
    ("min", "min", f"{_INDEX}; with no dim a 0-d tensor; with a dim the dim is dropped unless `keepdim=True`"),
    ("mean", "mean", "`keepdim=False` by default"),
    ("sum", "sum", "`keepdim=False` by default"),
    ("prod", "prod", "`keepdim=False` by default"),
    ("median", "median", _INDEX),
    ("mode", "mode", _INDEX),
    ("kthvalue", "kthvalue", _INDEX),
    ("sort", "sort", _INDEX),
    ("topk", "topk", "the k **largest**, sorted, by default (PyTorch); Torch7's default was the k smallest, unsorted"),
    ("std", "std", "`unbiased=True` (n-1) by default, as Torch7's `biased=false`"),
    ("var", "var", "`unbiased=True` (n-1) by default, as Torch7's `biased=false`"),
)
_add(
    "2.5",
    ("norm", "norm", "with no dim a 0-d tensor"),
    "renorm",
    ("dist", "dist", "a 0-d tensor"),
    ("numel", "numel", "a Python int"),
    ("trace", "trace", "a 0-d tensor"),
    ("match", "match", "undocumented in Torch7"),
)
_add("2.6", "conv2", "xcorr2", "conv3", "xcorr3")
_add(
    "2.7",
    ("gesv", "gesv", "`gesv(B, A)` as Torch7, returning (solution, lu); also `solve(A, B)` (numpy's order)"),
    ("trtrs", "trtrs", "returns (solution, cloned_coefficient)"),
    ("potrf", "potrf", "upper factor by default as Torch7; also `cholesky` (lower by default, PyTorch)"),
    ("pstrf", "pstrf", _INDEX + " in the pivots"),
    "potrs",
    "potri",
    ("gels", "gels", "returns (solution, QR); also `lstsq(A, B)` (numpy's order and results)"),
    ("symeig", "symeig", "eigenvectors by default (Torch7: eigenvalues only); also `eigh`"),
    ("eig", "eig", "eigenvectors by default (Torch7: eigenvalues only)"),
    ("svd", "svd", "returns (U, S, V) with V, not V transposed, as Torch7"),
    "inverse",
    "qr",
    "geqrf",
    "orgqr",
    "ormqr",
)
_add(
    "2.8",
    ("lt", "lt", "a 0/1 ByteTensor; operators `<` etc. too"),
    ("le", "le", "a 0/1 ByteTensor"),
    ("gt", "gt", "a 0/1 ByteTensor"),
    ("ge", "ge", "a 0/1 ByteTensor"),
    ("eq", "eq", "a 0/1 ByteTensor (`==` compares element-wise too)"),
    ("ne", "ne", "a 0/1 ByteTensor"),
    ("all", "all", "a 0-d ByteTensor; any type is accepted (non-zero is true)"),
    ("any", "any", "a 0-d ByteTensor; any type is accepted (non-zero is true)"),
)
_add(
    "2.9",
    (
        "random",
        "random_",
        "`random_(a, b)` draws from [a, b) and `random_(n)` from [0, n) (Torch7: [a, b] and [1, n]); "
        + _SCALAR.format(t="random", f="random_"),
    ),
    ("uniform", "uniform_", _SCALAR.format(t="uniform", f="uniform_")),
    ("normal", "normal_", _SCALAR.format(t="normal", f="normal_")),
    (
        "exponential",
        "exponential_",
        "`lambd` is a rate, as in Torch7; " + _SCALAR.format(t="exponential", f="exponential_"),
    ),
    ("cauchy", "cauchy_", _SCALAR.format(t="cauchy", f="cauchy_")),
    (
        "logNormal",
        "log_normal_",
        "mean and std of the underlying normal, defaults (1, 2) as in Torch7; "
        + _SCALAR.format(t="logNormal", f="log_normal_"),
    ),
    (
        "geometric",
        "geometric_",
        "`p` is the success probability (PyTorch): `geometric_(p)` is Torch7's `geometric(1 - p)`; "
        + _SCALAR.format(t="geometric", f="geometric_"),
    ),
    (
        "bernoulli",
        "bernoulli_",
        "also `ft.bernoulli(probs)`, a new tensor of draws; " + _SCALAR.format(t="bernoulli", f="bernoulli_"),
    ),
    ("seed", "seed", "seeds the default cpu generator; `Generator.seed()` for another"),
    ("manualSeed", "manual_seed", "seeds the default generator of every device; `Generator.manual_seed(n)` for one"),
    ("initialSeed", "initial_seed", "`Generator.initial_seed()` for a given generator"),
    ("getRNGState", "get_rng_state", "a ByteTensor; `Generator.get_state()` for a given generator"),
    ("setRNGState", "set_rng_state", "`Generator.set_state(state)` for a given generator"),
    (
        "Generator",
        "Generator",
        "a generator is passed as the keyword `generator=` to every sampler (Torch7: an optional first argument)",
    ),
)
_add(
    "1",
    ("zero", "zero_", "in place, as every `_` method"),
    ("fill", "fill_", "in place"),
    ("gather", "gather", _INDEX),
    ("scatter", "scatter", _INDEX + "; `scatter_` writes in place as Torch7's method did"),
    ("nonzero", "nonzero", _INDEX),
    ("squeeze", "squeeze", "always a tensor (0-d when no dim is left; Torch7 returned a Lua number)"),
    "expand",
    ("expandAs", "expand_as"),
    "view",
    ("viewAs", "view_as"),
    ("split", "split", "a list of views; the default dim is 0"),
    ("chunk", "chunk", "a list of views; the default dim is 0"),
    "permute",
    ("repeatTensor", "repeat_tensor"),
    ("totable", "tolist", "nested Python lists"),
    ("index", "index", "also `index_select`; " + _INDEX),
    ("indexCopy", "index_copy_"),
    ("indexAdd", "index_add_"),
    ("indexFill", "index_fill_"),
    ("maskedSelect", "masked_select"),
    ("maskedCopy", "masked_copy_"),
    ("maskedFill", "masked_fill_"),
    ("narrow", "narrow", _INDEX),
    ("select", "select", _INDEX + "; allowed on 1-D tensors (a 0-d view)"),
    ("sub", "sub_view", "`t.sub(...)` with two or more integers is still this view; with one argument it subtracts"),
    "transpose",
    "t",
    "unfold",
    ("apply", "apply_", "a Python callable, in place"),
    ("map", "map_", "a Python callable, in place"),
    ("map2", "map2_", "a Python callable, in place"),
    ("copy", "copy_", "in place"),
    "clone",
    "contiguous",
    ("resize", "resize_", "in place"),
    ("resizeAs", "resize_as_", "in place"),
    ("set", "set_", "in place"),
    ("typeAs", "type_as"),
)

ENTRIES: tuple[Entry, ...] = tuple(_ROWS)
COVERAGE: dict[str, str | NotProvided] = {e.torch7: e.flambeau for e in ENTRIES}


def resolve(name: str) -> Any:
    """The callable that provides flambeau name ``name``: ``ft.<name>`` or else ``ft.Tensor.<name>``; None if neither.

    A submodule that happens to share the name (``flambeau.tensor.random``) does not count.
    """
    import types

    import flambeau.tensor as ft

    for owner in (ft, ft.Tensor):
        obj = getattr(owner, name, None)
        if obj is not None and callable(obj) and not isinstance(obj, types.ModuleType):
            return obj
    return None


def missing(entries: tuple[Entry, ...] = ENTRIES) -> list[str]:
    """Torch7 names whose flambeau name does not resolve (yet), as ``'torch7 -> flambeau'``."""
    return [
        f"{e.torch7} -> {e.flambeau}" for e in entries if isinstance(e.flambeau, str) and resolve(e.flambeau) is None
    ]


def problems(entries: tuple[Entry, ...] = ENTRIES) -> list[str]:
    """Everything wrong with a coverage list: a name listed twice (say once mapped and once marked
    not provided), a name neither mapped nor marked, an empty reason, an unknown section, or a
    flambeau name that does not resolve."""
    out = []
    seen: dict[str, Entry] = {}
    for e in entries:
        if e.torch7 in seen:
            out.append(f"{e.torch7}: listed twice ({seen[e.torch7].flambeau!r} and {e.flambeau!r})")
        seen[e.torch7] = e
        if isinstance(e.flambeau, NotProvided):
            if not e.flambeau.reason.strip():
                out.append(f"{e.torch7}: not provided, with no reason")
        elif not (isinstance(e.flambeau, str) and e.flambeau):
            out.append(f"{e.torch7}: neither mapped to a flambeau name nor marked not provided")
        if e.section not in SECTIONS:
            out.append(f"{e.torch7}: unknown section {e.section!r}")
    out += [f"{m}: no such flambeau function or Tensor method" for m in missing(entries)]
    return out


def render(entries: tuple[Entry, ...] = ENTRIES) -> str:
    """``docs/coverage.md``: one table per section; only the data above (not what is installed) shows."""
    provided = sum(isinstance(e.flambeau, str) for e in entries)
    out = [
        "# Torch7 coverage",
        "",
        "<!-- Generated from flambeau.tensor.coverage by"
        " `python -m flambeau.tensor.coverage > docs/coverage.md`; do not edit. -->",
        "",
        f"Every Torch7 maths and random name ({len(entries)} names: {provided} provided,"
        f" {len(entries) - provided} not provided), and where it lives in flambeau. `ft` is"
        " `flambeau.tensor`; a name is a function `ft.name`, a method `Tensor.name`, or both (see the"
        " [op reference](ops.md) for each op's forms). Differences that apply everywhere (0-based"
        " indices and dims, `x.op()` returning new while `x.op_()` works in place, `out=` for Torch7's"
        " result argument, numpy broadcasting, reductions dropping the dim) are in"
        " [Torch7 → flambeau](torch7-mapping.md); the notes below are per name.",
        "",
    ]
    for sec, title in SECTIONS.items():
        rows = [e for e in entries if e.section == sec]
        if not rows:
            continue
        label = f"{sec} {title}" if sec != "1" else title
        out += [f"## {label}", "", "| Torch7 | flambeau | notes |", "|---|---|---|"]
        for e in rows:
            if isinstance(e.flambeau, NotProvided):
                out.append(f"| `{e.torch7}` | *not provided* | {e.flambeau.reason} |")
            else:
                out.append(f"| `{e.torch7}` | `{e.flambeau}` | {e.note} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def main() -> int:
    """Print docs/coverage.md on stdout; report :func:`problems` on stderr (exit status 1 if any)."""
    sys.stdout.write(render())
    bad = problems()
    for m in bad:
        print(f"coverage: {m}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
