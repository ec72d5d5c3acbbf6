"""flambeau.special: torch-cephes re-made: every cephes special function, on numbers and tensors.

Each function is one record of :mod:`flambeau.special.records` (name, parameters in cephes's
order and convention, the native kernel, a fallback, documentation, an example, which arguments
are differentiable) from which ``special.<name>`` is generated:

- numbers in give a Python number out (a named tuple of numbers for the functions with several
  results: ``frexp``, ``airy``, ``fresnl``, ``sici``, ``shichi``, ``ellpj``, ...);
- a tensor anywhere among the arguments gives a new tensor, element-wise with broadcasting, for
  every argument count (cephes refused tensors for three arguments or more; flambeau does not);
  integer tensors are promoted to the default float type and float32 stays float32;
- the values come from ``scipy.special`` on the cpu, ``cupyx.scipy.special`` on cuda (imported
  when first used) and otherwise from the record's fallback written with the backend's array
  namespace (a backend may also replace any function through its ``kernels`` entry
  ``"special.<name>"``);
- the functions are ops autograd traces: the gradients of the differentiable ones are registered
  through the ``flambeau.gradients`` entry point (:mod:`flambeau.special.gradients`).

cephes's argument conventions are kept (and documented in each function): elliptic functions take
the parameter m = k**2, and ``ellpk``/``ellpe`` the complementary parameter m1 = 1 - m;
``incbet(a, b, x)``; ``igam(a, x)``; ``pdtr(k, m)``; ``stdtr(k, t)``; ``gdtr(rate, shape, x)``;
``fdtri`` inverts the upper tail ``fdtrc``.

Errors follow cephes's ``mtherr`` through :func:`set_error_level`: ``'warning'`` (the default)
returns NaN/inf and warns, ``'off'`` is silent, ``'error'`` raises
:class:`flambeau.tensor.DomainError`.

>>> from flambeau import special
>>> special.gamma(0.5)
1.7724538509055159
>>> special.atan2(3, 1)
1.2490457723982544
>>> import flambeau.tensor as ft
>>> tuple(special.igam(ft.tensor([1.0, 2.0]), ft.tensor([[0.5], [1.0]])).size())
(2, 2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import polynomial, records
from ._core import error_level, get_error_level, make_function, make_op, set_error_level
from .records import BY_NAME, RECORDS, Record

FUNCTIONS: dict[str, Callable[..., Any]] = {}
OPS: dict[str, Any] = {}


def _literal(v: Any) -> str:
    """``v`` as Python source: ``float('inf')`` where repr would give the bare name ``inf``."""
    if isinstance(v, float) and v != v:
        return "float('nan')"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "float('inf')" if v > 0 else "float('-inf')"
    return repr(v)


def _example_text(rec: Record, fn: Callable[..., Any]) -> str:
    call = f"special.{rec.name}({', '.join(map(_literal, rec.example))})"
    try:
        with error_level("off"):
            value = fn(*rec.example)
        return f">>> from flambeau import special\n>>> {call}\n{value!r}"
    except Exception as e:  # pragma: no cover - an example must not fail
        return f">>> from flambeau import special\n>>> {call}\n{type(e).__name__}: {e}"


def _docstring(rec: Record, fn: Callable[..., Any]) -> str:
    sig = f"special.{rec.name}({', '.join(rec.params)})"
    kind = {"tensor": "number or Tensor", "byte": "int or ByteTensor", "tuple": f"({', '.join(rec.names)})"}[rec.result]
    if rec.numbers_only:
        kind = "number"
    lines = [f"{sig} -> {kind}"]
    if rec.aliases:
        lines.append("Also named: " + ", ".join(rec.aliases))
    lines += ["", rec.doc, ""]
    lines.append(f"Computed by: {rec.kernel}.")
    if rec.diff:
        lines.append(f"Differentiable in: {', '.join(rec.diff)}.")
    lines += ["", "Examples", "--------", _example_text(rec, fn), ""]
    return "\n".join(lines)


def _build() -> None:
    for rec in RECORDS:
        op = make_op(rec)
        fn = make_function(rec, op)
        fn.__doc__ = _docstring(rec, fn)
        for n in (rec.name, *rec.aliases):
            FUNCTIONS[n] = fn
            OPS[n] = op
            globals()[n] = fn


_build()


def function(name: str) -> Callable[..., Any]:
    """The function named ``name`` (``special.function('gamma') is special.gamma``)."""
    return FUNCTIONS[name]


from .polynomial import *  # noqa: E402, F403  (cephes's polynomial and series helpers)


def __getattr__(name: str) -> Any:  # for type checkers: the generated functions
    raise AttributeError(f"module 'flambeau.special' has no attribute {name!r}")


__all__ = [
    "BY_NAME",
    "FUNCTIONS",
    "OPS",
    "RECORDS",
    "Record",
    "error_level",
    "function",
    "get_error_level",
    "records",
    "set_error_level",
    *FUNCTIONS,
    *polynomial.__all__,
]
