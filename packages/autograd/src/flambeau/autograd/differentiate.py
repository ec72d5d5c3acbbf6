"""``grad`` and ``jacobian``: differentiate ordinary Python functions of tensors and numbers.

The differentiated argument may be a tensor, a Python number, or any nesting of dicts, lists
and tuples of them. Float tensors and Python floats are traced; ints, bools, integer tensors and
anything else are constants, and get a zero (or ``None``) in the gradient's structure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError

from .errors import NonScalarOutputError
from .tracer import Box, Node, Trace, backward, ensure_loaded, float_of, leaf, value_of


def _box_tree(x: Any, trace: Trace, leaves: list[tuple[Node, Any]]) -> Any:
    """``x`` with every differentiable leaf boxed; ``leaves`` gets (node, original) per boxed leaf."""
    if isinstance(x, Tensor):
        if x._a.dtype.kind in "fc":
            b = leaf(trace, x)
            leaves.append((b._g, x))
            return b
        return x
    if isinstance(x, float):
        t = ft.tensor(x)
        b = leaf(trace, t)
        leaves.append((b._g, x))
        return b
    if isinstance(x, dict):
        return type(x)((k, _box_tree(v, trace, leaves)) for k, v in x.items())
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(_box_tree(v, trace, leaves) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(_box_tree(v, trace, leaves) for v in x)
    return x


def _grad_tree(x: Any, nodes: Any) -> Any:
    """The gradient in the structure of ``x`` (the argument as given), zeros where none arrived.

    ``nodes`` yields the leaf nodes in the order :func:`_box_tree` made them (the same walk).
    """
    if isinstance(x, Tensor):
        if x._a.dtype.kind not in "fc":
            return ft.zeros_like(x)
        g = next(nodes).g
        return ft.zeros_like(x) if g is None else g
    if isinstance(x, float):
        g = next(nodes).g
        if g is None:
            return 0.0
        return float_of(g)
    if isinstance(x, bool):
        return False
    if isinstance(x, int):
        return 0
    if isinstance(x, dict):
        return type(x)((k, _grad_tree(v, nodes)) for k, v in x.items())
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(_grad_tree(v, nodes) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(_grad_tree(v, nodes) for v in x)
    return None


def _unbox_tree(x: Any, trace: Trace) -> Any:
    """Outputs with this trace's boxes replaced by their values."""
    if x.__class__ is Box:
        return value_of(x, trace)
    if isinstance(x, dict):
        return type(x)((k, _unbox_tree(v, trace)) for k, v in x.items())
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(_unbox_tree(v, trace) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(_unbox_tree(v, trace) for v in x)
    return x


def _describe(x: Any) -> str:
    if isinstance(x, Tensor):
        return f"a {x.type()} of size {x.size()}"
    return f"a {type(x).__name__}"


def _trace_call(
    f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], argnum: int, name: str
) -> tuple[Trace, list[tuple[Node, Any]], Any]:
    if not -len(args) <= argnum < len(args):
        raise ArgumentError(
            f"{name}: argnum={argnum} but the function was called with {len(args)} positional argument(s)"
        )
    ensure_loaded()
    trace = Trace()
    leaves: list[tuple[Node, Any]] = []
    with trace:
        boxed = list(args)
        boxed[argnum] = _box_tree(args[argnum], trace, leaves)
        outs = f(*boxed, **kwargs)
    return trace, leaves, outs


def _end(first: Any, trace: Trace) -> Node | None:
    """The node of the output to differentiate, or None when it does not depend on the input."""
    while first.__class__ is Box and first._g.tid > trace.id:  # a box of a trace nested inside ours
        first = first._g.value
    if first.__class__ is Box and first._g.tid == trace.id:
        return first._g
    return None


def grad(f: Callable[..., Any], argnum: int = 0) -> Callable[..., Any]:
    """The gradient function of ``f``, torch-autograd style.

    ``df = grad(f)``; ``df(*args)`` returns the gradient of ``f``'s first output (a scalar: one
    element) with respect to argument ``argnum``, then every value ``f`` returned:
    ``dparams, loss = df(params, x, y)``, or ``dparams, loss, pred = df(...)`` when ``f`` returns
    ``(loss, pred)``. The gradient has the structure of the argument (any nesting of dicts, lists
    and tuples of tensors and numbers), with zeros where the output does not depend on a leaf;
    ints, bools and integer tensors are constants. ``f`` is ordinary Python: loops, branches and
    recursion on traced values are recorded as they run. ``grad(grad(f))`` works for every op
    whose rule is itself differentiable.

    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import grad
    >>> def f(a, b, c):
    ...     if b > c:
    ...         return a * ft.sin(b)
    ...     return a / c
    >>> da, value = grad(f)(3.5, 2.1, 1.1)
    >>> round(da, 10), round(float(value), 10)
    (0.8632093666, 3.0212327833)
    >>> dW, loss = grad(lambda W, x: (W @ x).tanh().sum())(ft.eye(2), ft.ones(2))
    >>> dW.size()
    Size([2, 2])
    """

    def df(*args: Any, **kwargs: Any) -> Any:
        trace, leaves, outs = _trace_call(f, args, kwargs, argnum, "grad")
        many = isinstance(outs, tuple) and not hasattr(outs, "_fields")
        first = outs[0] if many and outs else outs
        end = _end(first, trace)
        if end is not None:
            value = end.value
            if value._a.size != 1:
                raise NonScalarOutputError(
                    f"grad: the first value f returns must be a scalar (one element) to be differentiated, but it is"
                    f" {_describe(value)}; sum or index it to one number, or use autograd.jacobian(f) for the"
                    " derivative of every element"
                )
            backward(trace, end, ft.ones_like(value))
        trace.tape.clear()
        dx = _grad_tree(args[argnum], iter([node for node, _ in leaves]))
        values = _unbox_tree(outs, trace)
        return (dx, *values) if many else (dx, values)

    df.__name__ = f"grad_{getattr(f, '__name__', 'f')}"
    df.__doc__ = f"Gradient of {getattr(f, '__name__', 'f')} with respect to argument {argnum}, then its values."
    return df


def jacobian(f: Callable[..., Any], argnum: int = 0) -> Callable[..., Any]:
    """The Jacobian of a tensor-valued ``f`` with respect to tensor argument ``argnum``.

    ``jacobian(f)(*args)`` has size ``out.size() + x.size()``: one reverse sweep per output element.

    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import jacobian
    >>> jacobian(lambda x: x * x)(ft.Tensor([1.0, 2.0])).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """

    def jf(*args: Any, **kwargs: Any) -> Any:
        x = args[argnum]
        if not isinstance(x, Tensor):
            raise ArgumentError(f"jacobian: argument {argnum} must be a tensor, got {type(x).__name__}")
        trace, leaves, out = _trace_call(f, args, kwargs, argnum, "jacobian")
        end = _end(out, trace)
        outv = value_of(out, trace)
        if not isinstance(outv, Tensor):
            raise ArgumentError(f"jacobian: f must return a tensor, got {type(outv).__name__}")
        n = outv._a.size
        rows = []
        for k in range(n):
            if end is None:
                rows.append(ft.zeros_like(x))
                continue
            seed = ft.zeros(n, dtype=outv.dtype, device=outv.device)
            seed[k] = 1.0
            backward(trace, end, seed.view(*outv._a.shape) if outv._a.shape else seed.reshape(()), keep=True)
            node = leaves[0][0]
            rows.append(node.g if node.g is not None else ft.zeros_like(x))
            node.g = None
        trace.tape.clear()
        return ft.stack(rows).view(*outv._a.shape, *x._a.shape)

    return jf
