"""The machinery behind the records: error level, backend dispatch, op generation.

Each record becomes one :class:`flambeau.tensor.optable.Op` (not declared into flambeau.tensor's
table, whose names it would clash with) whose forward calls ``scipy.special`` on numpy arrays,
``cupyx.scipy.special`` on cupy arrays (imported lazily) and the record's xp-written fallback
elsewhere or where there is no native kernel. :func:`flambeau.tensor.optable.generate` turns the
op into a function that autograd's boxes dispatch through, so gradients registered for the op (in
:mod:`flambeau.special.gradients`) apply.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from flambeau.tensor import optable
from flambeau.tensor.errors import ArgumentError, DomainError

if TYPE_CHECKING:
    from .records import Record

LEVELS = ("off", "warning", "error")
_CEPHES_CODES = {0: "off", 1: "error", 2: "warning"}
_state = threading.local()
_DEFAULT = ["warning"]


def set_error_level(level: str | int) -> None:
    """Set what the special functions do on a domain, singularity or overflow error.

    ``'off'`` (or cephes's 0): silently return NaN or inf; ``'warning'`` (2, the default):
    return NaN or inf and emit a ``RuntimeWarning`` (numpy) or ``scipy.special.SpecialFunctionWarning``;
    ``'error'`` (1): raise :class:`flambeau.tensor.DomainError`. Underflow is never reported.
    The level is per thread; new threads start at the level last set in any thread.

    >>> from flambeau import special
    >>> special.set_error_level('off'); special.gamma(0.0)
    inf
    >>> special.set_error_level('warning')
    """
    if isinstance(level, int) and not isinstance(level, bool):
        if level not in _CEPHES_CODES:
            raise ArgumentError(f"set_error_level: level must be 0, 1 or 2 (or {', '.join(LEVELS)}), got {level}")
        level = _CEPHES_CODES[level]
    if level not in LEVELS:
        raise ArgumentError(f"set_error_level: level must be one of {', '.join(map(repr, LEVELS))}, got {level!r}")
    _state.level = level
    _DEFAULT[0] = level


def get_error_level() -> str:
    """The current error level: ``'off'``, ``'warning'`` or ``'error'``.

    >>> from flambeau import special
    >>> special.get_error_level()
    'warning'
    """
    return str(getattr(_state, "level", _DEFAULT[0]))


@contextlib.contextmanager
def error_level(level: str | int) -> Iterator[None]:
    """Run a block at another error level (``with special.error_level('off'): ...``)."""
    old = get_error_level()
    set_error_level(level)
    try:
        yield
    finally:
        _state.level = old


_NP: dict[str, Any] = {"off": "ignore", "warning": "warn", "error": "raise"}


@contextlib.contextmanager
def _errstate() -> Iterator[None]:
    import scipy.special as sp

    mode = _NP[get_error_level()]
    with np.errstate(all=mode, under="ignore"), sp.errstate(all=mode, underflow="ignore"):
        yield


# --------------------------------------------------------------------------------------------
# Backend dispatch.


class Forwards:
    """``S.<name>(*args)``: the forward of another record on the same array namespace (for fallbacks)."""

    def __init__(self, xp: Any):
        self._xp = xp

    def __getattr__(self, name: str) -> Callable[..., Any]:
        from .records import BY_NAME

        rec = BY_NAME[name]
        fn = resolve(rec, self._xp)
        return fn


_RESOLVED: dict[tuple[str, int], Callable[..., Any]] = {}


def _is_cupy(xp: Any) -> bool:
    return str(getattr(xp, "__name__", "")).startswith("cupy")


def _host_roundtrip(fn: Callable[..., Any], xp: Any) -> Callable[..., Any]:
    """Run a numpy-only kernel on the host and bring the result back (no native kernel there)."""

    def run(*args: Any) -> Any:
        host = [a.get() if hasattr(a, "get") else (np.asarray(a) if hasattr(a, "__array__") else a) for a in args]
        r = fn(*host)
        return tuple(xp.asarray(x) for x in r) if isinstance(r, tuple) else xp.asarray(r)

    return run


def resolve(rec: Record, xp: Any) -> Callable[..., Any]:
    """The function computing ``rec`` on arrays of namespace ``xp`` (cached)."""
    key = (rec.name, id(xp))
    fn = _RESOLVED.get(key)
    if fn is not None:
        return fn
    fn = _resolve(rec, xp)
    _RESOLVED[key] = fn
    return fn


# Where cupyx.scipy.special's kernels part from cephes (seen with cupy 14.2 on an H200): the value
# at +-inf of these one-argument functions (j0(inf) is 0, i0e(inf) 0, sindg(inf) nan, ...) is taken
# from scipy once and patched in with one ``where`` per call.
_CUPYX_INF_EDGES = frozenset({"j0", "j1", "y0", "y1", "i0", "i1", "i0e", "i1e", "k0e", "k1e", "sindg", "cosdg", "ei"})
# cupyx's polygamma branches on ``n == 0`` with cupy.where: n must be an array, not a Python int.
_CUPYX_ARRAY_ARGS = frozenset({"polygamma"})


def _beta_poles(xp: Any, a: Any, b: Any, r: Any) -> Any:
    """beta(a, b) is 0 where a + b is a pole of gamma and a, b are not (cupyx gives nan there)."""

    def pole(v: Any) -> Any:
        return (v <= 0) & (v == xp.floor(v))

    return xp.where(pole(a + b) & ~pole(a) & ~pole(b), 0.0, r)


_CUPYX_FIXES: dict[str, Callable[..., Any]] = {"beta": _beta_poles}


def _cupyx_native(rec: Record, native: Callable[..., Any], xp: Any) -> Callable[..., Any]:
    """``native`` with the corrections above, where ``rec`` needs one."""
    if rec.name in _CUPYX_ARRAY_ARGS:
        inner = native

        def native(*args: Any) -> Any:
            return inner(*(a if hasattr(a, "shape") else xp.asarray(a) for a in args))

    if rec.name in _CUPYX_INF_EDGES:
        import scipy.special as sp

        ref = getattr(sp, rec.scipy or rec.name)
        hi, lo = float(ref(np.inf)), float(ref(-np.inf))
        plain = native

        def native(x: Any) -> Any:
            r = plain(x)
            return xp.where(x == np.inf, hi, xp.where(x == -np.inf, lo, r)).astype(r.dtype, copy=False)

    fix = _CUPYX_FIXES.get(rec.name)
    if fix is not None:
        unfixed = native

        def native(*args: Any) -> Any:
            return fix(xp, *args, unfixed(*args))

    return native


def _adapted(rec: Record, native: Callable[..., Any]) -> Callable[..., Any]:
    if rec.adapt is None:
        return native
    adapt = rec.adapt
    return lambda *args: native(*adapt(*args))


def _resolve(rec: Record, xp: Any) -> Callable[..., Any]:
    if xp is np:
        if rec.scipy:
            import scipy.special as sp

            return _adapted(rec, getattr(sp, rec.scipy))
        if rec.numpy:
            return _adapted(rec, getattr(np, rec.numpy))
        if rec.fallback is not None:
            fb = rec.fallback
            S = Forwards(np)  # noqa: N806
            return lambda *args: fb(np, S, *args)
        raise ArgumentError(f"special.{rec.name}: no implementation")
    if _is_cupy(xp) and rec.cupyx:
        try:
            import cupyx.scipy.special as csp

            native = getattr(csp, rec.cupyx, None)
        except ImportError:
            native = None
        if native is not None:
            return _adapted(rec, _cupyx_native(rec, native, xp))
    if rec.numpy and hasattr(xp, rec.numpy):
        return _adapted(rec, getattr(xp, rec.numpy))
    if rec.fallback is not None:
        fb = rec.fallback
        S = Forwards(xp)  # noqa: N806
        return lambda *args: fb(xp, S, *args)
    return _host_roundtrip(_resolve(rec, np), xp)


# --------------------------------------------------------------------------------------------
# The op and the public function.


def _result_dtype(args: tuple[Any, ...]) -> Any:
    dts = [a.dtype for a in args if hasattr(a, "dtype") and getattr(a, "ndim", None) is not None]
    if not dts:
        return None
    dt = np.result_type(*dts)
    return dt if dt.kind == "f" else None


def _cast(r: Any, dt: Any) -> Any:
    if dt is None or not hasattr(r, "dtype") or r.dtype.kind != "f" or r.dtype == dt:
        return r
    return r.astype(dt)


def make_impl(rec: Record) -> Callable[..., Any]:
    """The op's forward ``impl(xp, *params)``: the backend's kernel under the error level."""
    name = rec.name
    ints = tuple(i for i, p in enumerate(rec.params) if p in rec.ints)

    def impl(xp: Any, *args: Any) -> Any:
        fn = resolve(rec, xp)
        dt = _result_dtype(args)
        if ints:
            args = tuple(_as_int(xp, a) if i in ints else a for i, a in enumerate(args))
        try:
            with _errstate():
                r = fn(*args)
        except (ArithmeticError, ArgumentError) as e:
            raise DomainError(f"special.{name}: {e}") from e
        except Exception as e:
            if type(e).__name__ == "SpecialFunctionError":
                raise DomainError(f"special.{name}: {e}") from e
            raise
        if isinstance(r, tuple):
            return tuple(_cast(x, dt) for x in r)
        return _cast(r, dt)

    params = [inspect.Parameter("xp", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in rec.params]
    impl.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    impl.__name__ = name
    return impl


def _as_int(xp: Any, a: Any) -> Any:
    if isinstance(a, (int, np.integer)):
        return int(a)
    if isinstance(a, float):
        return int(a) if np.isfinite(a) else a
    arr = xp.asarray(a)
    return arr if arr.dtype.kind in "iu" else xp.trunc(arr).astype(np.int64)


def make_op(rec: Record) -> optable.Op:
    impl = make_impl(rec)
    result = {"tensor": "tensor", "byte": "byte", "tuple": "tuple"}[rec.result]
    return optable.Op(
        rec.name,
        impl,
        tensors=rec.params,
        variants=frozenset({"function"}),
        result=result,
        names=rec.names,
        dtypes="float" if rec.result != "byte" else "any",
        differentiable=rec.diff,
        group="special: " + rec.group,
        doc=rec.doc,
        kernel="special." + rec.name,
    )


_NUMBERS = (int, float, np.integer, np.floating, np.bool_)


def _scalar(x: Any) -> Any:
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x[()]
    if isinstance(x, (np.bool_, bool)):
        return int(x)
    if isinstance(x, np.generic):
        return x.item()
    return x


def make_function(rec: Record, op: optable.Op) -> Callable[..., Any]:
    """``special.<name>``: numbers give a Python number, tensors a tensor (autograd-visible)."""
    opfn = optable.generate(op)
    impl = op.impl
    n = len(rec.params)
    name = rec.name

    if rec.numbers_only:

        def fn(*args: Any) -> Any:
            if len(args) != n:
                raise ArgumentError(f"special.{name} takes {n} argument(s) ({', '.join(rec.params)}), got {len(args)}")
            r = impl(np, *args)
            return tuple(_scalar(x) for x in r) if isinstance(r, tuple) else _scalar(r)

    else:

        def fn(*args: Any) -> Any:
            if len(args) != n:
                raise ArgumentError(f"special.{name} takes {n} argument(s) ({', '.join(rec.params)}), got {len(args)}")
            for a in args:
                if not isinstance(a, _NUMBERS):
                    return opfn(*args)
            r = impl(np, *(float(a) if isinstance(a, (bool, np.bool_)) else a for a in args))
            if isinstance(r, tuple):
                return op.result_type(*(_scalar(x) for x in r))
            return _scalar(r)

    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = "flambeau.special"
    fn.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(p, inspect.Parameter.POSITIONAL_ONLY) for p in rec.params]
    )
    fn.__op__ = op  # type: ignore[attr-defined]
    fn.__record__ = rec  # type: ignore[attr-defined]
    return fn
