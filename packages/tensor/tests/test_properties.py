"""Property tests driven by the op table: every op at random shapes, dtypes and memory layouts.

The cases of ``opcases*.py`` are the templates. For each op the :class:`~flambeau.tensor.optable.Op`
record decides how far its arguments can be varied:

* point-wise ops (unary, binary, ternary): every array argument gets a random shape of up to 5
  dims (0-d, empty and size-1 dims included), the shapes of the arguments forming a broadcasting
  group; the values are drawn from the template's own values (so a case's domain, ``log`` on
  positive numbers, no zero divisor, is kept);
* reductions: a random shape and a random ``dim`` (``None``, in range, or out of range) and
  ``keepdim``;
* every other op: its fixed cases, under random dtypes (those the case lists) and layouts.

Every tensor argument is built in a random memory layout: contiguous, non-contiguous (every other
element of a larger storage), transposed, expanded (stride 0) or offset into a larger storage;
memory around a view holds NaN (or a sentinel integer), so an op reading past its view shows.

The properties, for each generated call through each form the op has:

* the function and method forms equal the numpy/scipy reference (tolerances as ``test_ops.check``)
  or raise a :class:`ft.FlambeauError` whose message names the op, never another exception; when
  the reference itself refuses the arguments, the op must refuse them too;
* the ``out=`` form writes exactly what the function form returns (or raises as it does);
* the in-place form, when it fails, leaves its target and the storage around it bit-for-bit unchanged;
  when it succeeds it holds the function's result;
* no form modifies an input.

``FLAMBEAU_FUZZ=long`` selects a long profile (many more examples per op); the default profile is
derandomized and sized for CI.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import warnings
from collections import Counter
from typing import Any

import numpy as np
import pytest
import test_ops
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opcases import CASES, Case

import flambeau.tensor as ft
from flambeau.tensor.optable import OPS, Op
from flambeau.tensor.testing import host, on_device

# Empty reductions and zero divisors are among the inputs: numpy's warnings about them are expected.
pytestmark = [pytest.mark.device, pytest.mark.filterwarnings("ignore::RuntimeWarning")]

for _name, _examples, _fixed in (("flambeau-ci", "10", True), ("flambeau-long", "400", False)):
    settings.register_profile(
        _name,
        max_examples=int(os.environ.get("FLAMBEAU_FUZZ_EXAMPLES", _examples)),
        deadline=None,
        derandomize=_fixed,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
PROFILE = settings.get_profile("flambeau-long" if os.environ.get("FLAMBEAU_FUZZ") == "long" else "flambeau-ci")

# Random ops are checked statistically in test_creation.py; factories have no tensor to vary.
RECORDS: dict[str, Op] = {op.name: op for op in OPS.values() if op.kind == "op" and not op.rng}
# What the runs reached, by kind of event (examples, refusals, failed in-place forms...): see ``-s`` output.
STATS: Counter[str] = Counter()
ELEMENTWISE_GROUPS = ("pointwise", "comparison")
MAX_DIMS = 5
DIM_SIZES = (0, 1, 1, 2, 2, 3, 3, 4)


def _family(op: Op) -> str:
    """How far the op's arguments can be varied: 'elementwise', 'reduction' or 'fixed'."""
    names = [p.name for p in op.params]
    if (op.group in ELEMENTWISE_GROUPS or op.name == "where") and op.result in ("tensor", "byte"):
        return "elementwise"
    if op.group == "reduction" and len(op.tensors) == 1 and "dim" in names:
        return "reduction"
    return "fixed"


FAMILIES = {name: _family(op) for name, op in RECORDS.items()}


def _templates(name: str) -> list[Case]:
    """The op's cases usable as templates of its family (the fixed family uses them all)."""
    cases = CASES[name]
    if FAMILIES[name] == "elementwise":
        return [c for c in cases if any(isinstance(a, np.ndarray) for a in c.args)]
    if FAMILIES[name] == "reduction":
        # a reference that takes ``dim`` computes from its input (not a constant written for one case)
        return [
            c
            for c in cases
            if len(c.args) == 1 and isinstance(c.args[0], np.ndarray) and "dim" in inspect.signature(c.ref).parameters
        ]
    return cases


def _pools(name: str) -> dict[int, np.ndarray]:
    """Per argument position, every value the op's cases give that argument (the fallback domain for
    a template whose array at that position is empty)."""
    pools: dict[int, list[np.ndarray]] = {}
    for c in CASES[name]:
        for i, a in enumerate(c.args):
            if isinstance(a, np.ndarray) and a.size:
                pools.setdefault(i, []).append(a.reshape(-1))
    return {i: np.concatenate(v) for i, v in pools.items()}


POOLS = {name: _pools(name) for name in RECORDS if FAMILIES[name] != "fixed"}


# --------------------------------------------------------------------------------------------
# Layouts.


def _contig(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy that keeps 0-d arrays 0-d (``np.ascontiguousarray`` makes them 1-d)."""
    return np.array(a, order="C", copy=True)


def _filler(dt: np.dtype) -> Any:
    return np.nan if dt.kind == "f" else 77


@dataclasses.dataclass
class Arg:
    """A tensor argument: its values, the tensor (a view in some layout) and the storage it views."""

    values: np.ndarray
    tensor: ft.Tensor
    root: ft.Tensor
    layout: str


def _layouts_for(shape: tuple[int, ...]) -> list[str]:
    out = ["contiguous"]
    if shape:
        out += ["strided", "offset"]
    if len(shape) >= 2:
        out.append("transposed")
    if any(n > 1 for n in shape):
        out.append("expanded")
    return out


def build(a: np.ndarray, layout: str, rng: np.random.Generator) -> Arg:
    """``a``'s values as a tensor of the given layout (``expanded`` first replaces ``a`` by an
    expansion of one of its slices, whose values repeat along the expanded dims)."""
    fill = _filler(a.dtype)
    if layout == "strided":
        big = np.full(a.shape[:-1] + (a.shape[-1] * 2,), fill, dtype=a.dtype)
        big[..., ::2] = a
        root = on_device(big)
        t = root[..., ::2]
    elif layout == "transposed":
        i, j = sorted(rng.choice(a.ndim, 2, replace=False).tolist())
        root = on_device(_contig(np.swapaxes(a, i, j)))
        t = root.transpose(i, j)
    elif layout == "offset":
        k = int(rng.integers(1, 5))
        flat = np.concatenate([np.full(k, fill, dtype=a.dtype), a.reshape(-1), np.full(2, fill, dtype=a.dtype)])
        root = on_device(flat)
        t = root.narrow(0, k, a.size).view(*a.shape)
    elif layout == "expanded":
        dims = [d for d, n in enumerate(a.shape) if n > 1]
        keep = rng.random(len(dims)) < 0.5
        keep[int(rng.integers(len(dims)))] = False  # at least one dim expanded
        small = a[tuple(slice(0, 1) if d in dims and not keep[dims.index(d)] else slice(None) for d in range(a.ndim))]
        root = on_device(_contig(small))
        t = root.expand(*a.shape)
        a = np.broadcast_to(small, a.shape).copy()
    else:
        root = t = on_device(_contig(a))
    got = host(t)
    assert got.shape == a.shape and np.array_equal(got, a, equal_nan=a.dtype.kind == "f"), layout
    return Arg(a, t, root, layout)


# --------------------------------------------------------------------------------------------
# Drawing calls.


@dataclasses.dataclass
class Call:
    case: Case  # args hold numpy values (already cast), as the reference takes them
    targs: list[Any]  # the arguments given to flambeau: tensors in their layouts
    roots: list[ft.Tensor]
    dtype: np.dtype
    what: str
    out: str = "fresh"  # the out= tensor: fresh (wrong size, resized) | expanded (read-only) | int (cannot hold floats)


def _pool(name: str, template: Case, i: int) -> np.ndarray:
    """The values to draw argument ``i`` from: the template's own (keeping its domain), else the op's."""
    a = template.args[i]
    return a.reshape(-1) if a.size else POOLS[name].get(i, np.zeros(0))


def _values(pool: np.ndarray, shape: tuple[int, ...], dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(pool, size=shape).astype(dtype) if pool.size else np.zeros(shape, dtype)


def _broadcast_shapes(draw: Any, n: int) -> list[tuple[int, ...]]:
    full = draw(st.lists(st.sampled_from(DIM_SIZES), min_size=0, max_size=MAX_DIMS))
    out = []
    for _ in range(n):
        k = draw(st.integers(0, len(full)))
        suffix = full[len(full) - k :]
        ones = draw(st.lists(st.booleans(), min_size=k, max_size=k))
        out.append(tuple(1 if one else s for s, one in zip(suffix, ones, strict=True)))
    # one argument spans the full shape, so that in-place forms can succeed
    out[0] = tuple(full) if draw(st.booleans()) else out[0]
    return out


def _shape(draw: Any) -> tuple[int, ...]:
    return tuple(draw(st.lists(st.sampled_from(DIM_SIZES), min_size=0, max_size=MAX_DIMS)))


@st.composite
def calls(draw: Any, name: str) -> Call:
    op = RECORDS[name]
    family = FAMILIES[name]
    template = draw(st.sampled_from(_templates(name)))
    dt = np.dtype(draw(st.sampled_from(template.dtypes)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    args = list(template.args)
    kwargs = dict(template.kwargs)
    if family == "elementwise":
        positions = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
        shapes = _broadcast_shapes(draw, len(positions))
        for i, s in zip(positions, shapes, strict=True):
            args[i] = _values(_pool(name, template, i), s, args[i].dtype, rng)
    elif family == "reduction":
        shape = _shape(draw)
        args[0] = _values(_pool(name, template, 0), shape, args[0].dtype, rng)
        kwargs.pop("dim", None)
        kwargs.pop("keepdim", None)
        nd = len(shape)
        choice = draw(st.sampled_from(("none", "in", "in", "in", "out") if nd else ("none",)))
        if choice == "in":
            kwargs["dim"] = draw(st.integers(-nd, nd - 1))
        elif choice == "out":
            kwargs["dim"] = draw(st.sampled_from((nd, -nd - 1)))
        if "dim" in kwargs and any(p.name == "keepdim" for p in op.params):
            kwargs["keepdim"] = draw(st.booleans())
    case = dataclasses.replace(template, args=tuple(args), kwargs=kwargs, dtypes=(dt,))
    cast = [test_ops._cast(a, dt) for a in case.args]
    targs: list[Any] = []
    roots: list[ft.Tensor] = []
    layouts = []
    values: list[Any] = []
    for i, a in enumerate(cast):
        if isinstance(a, np.ndarray):
            choices = _layouts_for(a.shape)
            if template.contiguous_only and i == 0:
                choices = ["contiguous"]
            if family == "fixed":
                choices = [c for c in choices if c != "expanded"]  # would change a fixed case's values
            layout = draw(st.sampled_from(choices))
            arg = build(a, layout, rng)
            targs.append(arg.tensor)
            roots.append(arg.root)
            values.append(arg.values)
            STATS[f"layout {layout}"] += 1
            STATS[f"{a.ndim}-d argument"] += 1
            STATS["empty argument"] += a.size == 0
            STATS[f"dtype {dt}"] += 1
            layouts.append(f"{layout}{'x'.join(map(str, a.shape)) or '[]'}")
        elif isinstance(a, list) and a and all(isinstance(x, np.ndarray) for x in a):
            built = [
                build(x, draw(st.sampled_from([c for c in _layouts_for(x.shape) if c != "expanded"])), rng) for x in a
            ]
            targs.append([b.tensor for b in built])
            roots += [b.root for b in built]
            values.append([b.values for b in built])
            layouts.append("[" + ",".join(b.layout for b in built) + "]")
        else:
            targs.append(a)
            values.append(a)
    case = dataclasses.replace(case, args=tuple(values))
    what = f"{name}[{dt}; {', '.join(layouts)}; {kwargs}]"
    out = draw(st.sampled_from(("fresh", "fresh", "expanded", "int")))
    return Call(case, targs, roots, dt, what, out)


# --------------------------------------------------------------------------------------------
# The properties.


# References for empty inputs, where the case's own reference fails (scipy.special.logsumexp raises
# IndexError on an empty array of 2 or more dims; the log of an empty sum is -inf).
EMPTY_REFS: dict[str, Any] = {
    "logsumexp": lambda a, dim=None, keepdim=False: np.asarray(np.log(np.sum(np.exp(a), axis=dim, keepdims=keepdim))),
}


def _reference(name: str, case: Case) -> tuple[Any, BaseException | None]:
    ref = case.ref
    if name in EMPTY_REFS and isinstance(case.args[0], np.ndarray) and case.args[0].size == 0:
        ref = EMPTY_REFS[name]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return ref(*[test_ops._ref_args(a, case) for a in case.args], **case.kwargs), None
        except Exception as e:  # the reference refuses the arguments
            return None, e


def _attempt(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, ft.FlambeauError | None]:
    """``fn``'s result, or the flambeau error it raised; any other exception propagates (a failure)."""
    try:
        return fn(*args, **kwargs), None
    except ft.FlambeauError as e:
        return None, e


def _names_op(op: Op, e: BaseException, what: str) -> None:
    names = (op.name, *op.aliases)
    assert any(n in str(e) for n in names), f"{what}: the error does not name the op: {type(e).__name__}: {e}"


def _snapshot(ts: list[Any]) -> list[bytes]:
    return [_contig(host(t)).tobytes() for t in ts]


def _same(a: Any, b: Any, what: str) -> None:
    """``a`` and ``b`` hold exactly the same values, sizes and dtypes (tensors or tuples of them)."""
    if isinstance(b, (tuple, list)):
        assert isinstance(a, (tuple, list)) and len(a) == len(b), what
        for x, y in zip(a, b, strict=True):
            _same(x, y, what)
        return
    x, y = host(a), host(b)
    assert x.dtype == y.dtype and x.shape == y.shape, f"{what}: {x.dtype}{x.shape} != {y.dtype}{y.shape}"
    assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), what


def _function(name: str) -> Any:
    op = RECORDS[name]
    return getattr(ft, name) if "function" in op.variants else test_ops.SYNTAX.get(name)


def check_call(name: str, call: Call) -> None:
    op = RECORDS[name]
    case, targs, what = call.case, call.targs, call.what
    expected, refused = _reference(name, case)
    STATS["examples"] += 1
    STATS[f"family {FAMILIES[name]}"] += 1
    STATS["reference refuses"] += refused is not None
    fn = _function(name)
    inputs = [t for t in targs if isinstance(t, ft.Tensor)] + [x for t in targs if isinstance(t, list) for x in t]
    before = _snapshot(inputs + call.roots)
    result, error = None, None
    forms = []
    if fn is not None:
        forms.append(("function", lambda: fn(*targs, **case.kwargs)))
    if "method" in op.variants and isinstance(targs[0], ft.Tensor):
        forms.append(("method", lambda: getattr(targs[0], name)(*targs[1:], **case.kwargs)))
    for form, run in forms:
        r, e = _attempt(run)
        STATS[f"{form} form"] += 1
        if e is not None:
            STATS[f"{form} raises {type(e).__name__}"] += 1
            _names_op(op, e, f"{what} {form}")
            if refused is None:
                STATS[f"{form} refuses what the reference accepts"] += 1
                STATS[f"{form} refuses: {name}: {e}"[:160]] += 1
        else:
            assert refused is None, f"{what} {form}: accepted arguments the reference refuses ({refused!r})"
            test_ops.check(r, expected, case, f"{what} {form}")
        if form == forms[0][0]:
            result, error = r, e
        else:
            assert (e is None) == (error is None), f"{what}: the {form} form and the {forms[0][0]} form disagree"
    assert _snapshot(inputs + call.roots) == before, f"{what}: an out-of-place form modified an input"
    if "out" in op.variants and fn is not None and op.result in ("tensor", "byte", "tuple"):
        _check_out(op, fn, call, result, error)
    if "inplace" in op.variants and isinstance(targs[0], ft.Tensor):
        _check_inplace(name, call, result, error)


def _check_out(op: Op, fn: Any, call: Call, result: Any, error: Any) -> None:
    what = call.what + " out="
    if error is not None:
        out: Any = on_device(np.zeros((2, 3)))
        saved = _snapshot([out])
        r, e = _attempt(fn, *call.targs, **call.case.kwargs, out=out)
        assert e is not None, f"{what}: succeeded where the function form raised {error!r}"
        _names_op(op, e, what)
        assert _snapshot([out]) == saved, f"{what}: a failed out= form changed its out tensor"
        return
    if not isinstance(result, tuple):
        refused = _refused_out(call.out, result)
        if refused is not None:  # out= cannot take the result: a flambeau error, out untouched
            saved = _snapshot([refused])
            _, e = _attempt(fn, *call.targs, **call.case.kwargs, out=refused)
            assert e is not None, f"{what} ({call.out}): wrote into an out tensor that cannot take the result"
            STATS[f"out= ({call.out}) raises {type(e).__name__}"] += 1
            _names_op(op, e, what)
            assert _snapshot([refused]) == saved, f"{what} ({call.out}): a failed out= form changed its out tensor"
            return
    if isinstance(result, tuple):
        out = tuple(ft.empty(2, 7, dtype=x.dtype, device=x.device) for x in result)
    else:
        out = ft.empty(2, 7, dtype=result.dtype, device=result.device)  # the wrong size: out= resizes
    r = fn(*call.targs, **call.case.kwargs, out=out)
    STATS["out= form"] += 1
    if isinstance(out, tuple):
        assert all(a is b for a, b in zip(r, out, strict=True)), f"{what}: must return the given tensors"
    else:
        assert r is out, f"{what}: must return the given tensor"
    _same(out, result, what)


def _refused_out(kind: str, result: ft.Tensor) -> ft.Tensor | None:
    """An out= tensor that cannot take ``result`` (read-only, or of a dtype floats do not cast to), or None."""
    shape = tuple(result.size())
    if kind == "expanded" and any(n > 1 for n in shape):
        return on_device(np.full((1,) * len(shape), 5, dtype=host(result).dtype)).expand(*shape)
    if kind == "int" and result.dtype.kind == "f":
        return on_device(np.full((2, 7), 5, dtype=np.int32))
    return None


def _check_inplace(name: str, call: Call, result: Any, error: Any) -> None:
    op = RECORDS[name]
    what = call.what + " in-place"
    target = call.targs[0]
    others = [t for t in call.targs[1:] if isinstance(t, ft.Tensor)]
    watched = [target, *call.roots]
    before = _snapshot(watched)
    others_before = _snapshot(others)
    r, e = _attempt(getattr(target, name + "_"), *call.targs[1:], **call.case.kwargs)
    STATS["in-place form"] += 1
    if e is not None:
        STATS[f"in-place raises {type(e).__name__}"] += 1
        _names_op(op, e, what)
        assert _snapshot(watched) == before, f"{what}: a failed in-place op changed its target ({e})"
        return
    assert r is target, f"{what}: in-place forms return self"
    assert error is None, f"{what}: succeeded where the function form raised {error!r}"
    assert _snapshot(others) == others_before or any(t is target for t in others), f"{what}: modified an argument"
    want = host(result)
    assert tuple(target.size()) == want.shape, what
    np.testing.assert_allclose(
        host(target).astype(np.float64),
        want.astype(target.dtype).astype(np.float64),
        rtol=max(call.case.tol, 1e-5) if target.dtype in (np.float32, np.float16) else call.case.tol,
        atol=max(call.case.tol, 1e-5) if target.dtype in (np.float32, np.float16) else call.case.tol,
        equal_nan=True,
        err_msg=what,
    )


# --------------------------------------------------------------------------------------------
# The tests: one per op, parametrized over the table.

NAMES = sorted(n for n in RECORDS if n in CASES and _templates(n))


def test_every_op_is_fuzzed() -> None:
    missing = sorted(n for n in RECORDS if n not in NAMES)
    assert not missing, f"ops the property tests do not reach: {missing}"
    assert {FAMILIES[n] for n in NAMES} == {"elementwise", "reduction", "fixed"}


@pytest.mark.parametrize("name", NAMES)
def test_op_properties(name: str) -> None:
    @PROFILE
    @given(calls(name))
    def run(call: Call) -> None:
        check_call(name, call)

    run()


def test_logsumexp_of_empty_is_minus_inf() -> None:
    """Found by the properties: an empty logsumexp raised numpy's 'zero-size array' error; it is -inf."""
    x = on_device(np.zeros((0, 3)))
    assert host(ft.logsumexp(x)).tolist() == -np.inf
    assert host(ft.logsumexp(x, 0)).tolist() == [-np.inf] * 3
    assert tuple(ft.logsumexp(x, 1, keepdim=True).size()) == (0, 1)
