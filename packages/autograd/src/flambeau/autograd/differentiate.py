"""``grad`` and ``jacobian``: differentiate ordinary Python functions of tensors and numbers.

The differentiated argument may be a tensor, a Python number, or any nesting of dicts, lists
and tuples of them. Float tensors and Python floats are traced; ints, bools, integer tensors and
anything else are constants, and get a zero (or ``None``) in the gradient's structure.
``argnum`` is one position or a tuple of positions: with a tuple, every listed argument is traced
in the same recording (one backward pass) and the gradient is a tuple, one entry per position.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError

from .errors import NonScalarOutputError
from .tracer import Box, Node, Trace, backward, ensure_loaded, float_of, leaf, value_of
from .tree import tree_map

Argnum = int | Sequence[int]


def _box_tree(x: Any, trace: Trace, leaves: list[tuple[Node, Any]], device: Any = None) -> Any:
    """``x`` with every differentiable leaf boxed; ``leaves`` gets (node, original) per boxed leaf.

    A Python float becomes a 0-d tensor on ``device`` (None: the current device).
    """

    def box(v: Any) -> Any:
        if isinstance(v, Tensor):
            if v._a.dtype.kind not in "fc":
                return v
            b = leaf(trace, v)
        elif isinstance(v, float):
            b = leaf(trace, ft.tensor(v, device=device))
        else:
            return v
        leaves.append((b._g, v))
        return b

    return tree_map(box, x)


def _first_device(x: Any) -> Any:
    """The device of the first tensor in a nest of arguments (dicts, lists, tuples), or None."""
    if isinstance(x, Tensor):
        return x._d
    for v in x.values() if isinstance(x, dict) else x if isinstance(x, (list, tuple)) else ():
        d = _first_device(v)
        if d is not None:
            return d
    return None


def _grad_tree(x: Any, nodes: Any) -> Any:
    """The gradient in the structure of ``x`` (the argument as given), zeros where none arrived.

    ``nodes`` yields the leaf nodes in the order :func:`_box_tree` made them (the same walk).
    """

    def gradient(v: Any) -> Any:
        if isinstance(v, Tensor):
            g = next(nodes).g if v._a.dtype.kind in "fc" else None
            return ft.zeros_like(v) if g is None else g
        if isinstance(v, float):
            g = next(nodes).g
            return 0.0 if g is None else float_of(g)
        if isinstance(v, bool):
            return False
        return 0 if isinstance(v, int) else None

    return tree_map(gradient, x)


def _unbox_tree(x: Any, trace: Trace) -> Any:
    """Outputs with this trace's boxes replaced by their values."""
    return tree_map(lambda v: value_of(v, trace) if v.__class__ is Box else v, x)


def _describe(x: Any) -> str:
    if isinstance(x, Tensor):
        return f"a {x.type()} of size {x.size()}"
    return f"a {type(x).__name__}"


def _is_many(argnum: Any, name: str) -> bool:
    """Whether ``argnum`` is a tuple (or list) of positions; an ArgumentError unless it is ints."""
    many = isinstance(argnum, (tuple, list))
    for a in argnum if many else (argnum,):
        try:
            operator.index(a)
        except TypeError:
            raise ArgumentError(
                f"{name}: argnum must be an int or a tuple of ints, got {argnum!r} ({type(a).__name__})"
            ) from None
    if many and not argnum:
        raise ArgumentError(f"{name}: argnum=() names no argument; give a position or a non-empty tuple of positions")
    return many


def _argnums(argnum: Any, nargs: int, name: str) -> tuple[int, ...]:
    """The positions ``argnum`` names, made non-negative; an ArgumentError if one is out of range or repeated."""
    many = isinstance(argnum, (tuple, list))
    nums: list[int] = []
    for a in argnum if many else (argnum,):
        a = operator.index(a)
        if not -nargs <= a < nargs:
            raise ArgumentError(
                f"{name}: argnum={argnum!r} but the function was called with {nargs} positional argument(s)"
                + (f"; {a} is out of range" if many else "")
            )
        if a % nargs in nums:
            raise ArgumentError(
                f"{name}: argnum={argnum!r} names argument {a % nargs} twice (the function was called with"
                f" {nargs} positional argument(s)); list each position once"
            )
        nums.append(a % nargs)
    return tuple(nums)


def _trace_call(
    f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], nums: tuple[int, ...]
) -> tuple[Trace, list[list[tuple[Node, Any]]], Any]:
    """Run ``f`` with the arguments at ``nums`` boxed in one new trace: (trace, leaves per argument, outputs)."""
    ensure_loaded()
    trace = Trace()
    leaves: list[list[tuple[Node, Any]]] = [[] for _ in nums]
    # Python floats are traced as 0-d tensors on the device of the call's tensors (ops never mix devices)
    device = _first_device((args, kwargs))
    with trace:
        boxed = list(args)
        for k, i in enumerate(nums):
            boxed[i] = _box_tree(args[i], trace, leaves[k], device)
        outs = f(*boxed, **kwargs)
    return trace, leaves, outs


def _gradients(args: tuple[Any, ...], nums: tuple[int, ...], leaves: list[list[tuple[Node, Any]]], many: bool) -> Any:
    """The gradient of each argument at ``nums`` from its leaves' ``g``: a tuple when ``many``, else the one."""
    grads = tuple(_grad_tree(args[i], iter([node for node, _ in lv])) for i, lv in zip(nums, leaves, strict=True))
    return grads if many else grads[0]


def _end(first: Any, trace: Trace) -> Node | None:
    """The node of the output to differentiate, or None when it does not depend on the input."""
    while first.__class__ is Box and first._g.tid > trace.id:  # a box of a trace nested inside ours
        first = first._g.value
    if first.__class__ is Box and first._g.tid == trace.id:
        return first._g
    return None


def grad(
    f: Callable[..., Any], argnum: Argnum = 0, optimize: bool = False, cuda_graph: bool = False
) -> Callable[..., Any]:
    """The gradient function of ``f``, torch-autograd style.

    ``df = grad(f)``; ``df(*args)`` returns the gradient of ``f``'s first output (a scalar: one
    element) with respect to argument ``argnum``, then every value ``f`` returned:
    ``dparams, loss = df(params, x, y)``, or ``dparams, loss, pred = df(...)`` when ``f`` returns
    ``(loss, pred)``. The gradient has the structure of the argument (any nesting of dicts, lists
    and tuples of tensors and numbers), with zeros where the output does not depend on a leaf;
    ints, bools and integer tensors are constants. ``f`` is ordinary Python: loops, branches and
    recursion on traced values are recorded as they run. ``grad(grad(f))`` works for every op
    whose rule is itself differentiable.

    ``argnum`` may be a tuple of positions (negative ones count from the end), as HIPS
    autograd's ``argnum=(0, 1)`` and JAX's ``argnums``: the gradient is then a tuple with one
    entry per listed argument, in the order listed, all from one backward pass. A position out of
    range or listed twice raises ``ArgumentError``.

    ``optimize=True`` is torch-autograd's optimized mode, done safely: ``f`` and its backward pass
    are recorded once per input signature and replayed as straight-line backend code, with every
    branch taken on a tensor value checked on replay; see :func:`flambeau.autograd.optimize`.
    ``cuda_graph=True`` (with ``optimize=True``) also captures each signature's program as a CUDA
    graph on a cuda device and replays it with one launch (``optimize(df, cuda_graph=True)``).

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
    >>> (da, dc), value = grad(lambda a, b, c: a * b + c * c, argnum=(0, -1))(2.0, 3.0, 4.0)
    >>> da, dc
    (3.0, 8.0)
    """
    many = _is_many(argnum, "grad")

    def df(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnum, len(args), "grad")
        trace, leaves, outs = _trace_call(f, args, kwargs, nums)
        multi = isinstance(outs, tuple) and not hasattr(outs, "_fields")
        first = outs[0] if multi and outs else outs
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
        dx = _gradients(args, nums, leaves, many)
        values = _unbox_tree(outs, trace)
        return (dx, *values) if multi else (dx, values)

    name = getattr(f, "__name__", "f")
    df.__name__ = f"grad_{name}"
    which = f"arguments {tuple(argnum)}" if isinstance(argnum, (tuple, list)) else f"argument {argnum}"
    df.__doc__ = f"Gradient of {name} with respect to {which}, then its values."
    if optimize:
        from .compiler import optimize as _optimize

        return _optimize(df, cuda_graph=cuda_graph)
    if cuda_graph:
        raise ArgumentError("grad: cuda_graph=True needs optimize=True (a CUDA graph replays an optimized program)")
    return df


def jacobian(f: Callable[..., Any], argnum: Argnum = 0) -> Callable[..., Any]:
    """The Jacobian of a tensor-valued ``f`` with respect to tensor argument ``argnum``.

    ``jacobian(f)(*args)`` has size ``out.size() + x.size()``: one reverse sweep per output
    element. With a tuple ``argnum`` it is a tuple of Jacobians, one per listed argument (each
    ``out.size() + x_i.size()``), from the same sweeps.

    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import jacobian
    >>> jacobian(lambda x: x * x)(ft.Tensor([1.0, 2.0])).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    >>> Jx, Jy = jacobian(lambda x, y: x * y, argnum=(0, 1))(ft.Tensor([1.0, 2.0]), ft.Tensor([3.0, 4.0]))
    >>> Jx.tolist(), Jy.tolist()
    ([[3.0, 0.0], [0.0, 4.0]], [[1.0, 0.0], [0.0, 2.0]])
    """
    many = _is_many(argnum, "jacobian")

    def jf(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnum, len(args), "jacobian")
        for i in nums:
            if not isinstance(args[i], Tensor):
                raise ArgumentError(f"jacobian: argument {i} must be a tensor, got {type(args[i]).__name__}")
        trace, leaves, out = _trace_call(f, args, kwargs, nums)
        end = _end(out, trace)
        outv = value_of(out, trace)
        if not isinstance(outv, Tensor):
            raise ArgumentError(f"jacobian: f must return a tensor, got {type(outv).__name__}")
        n = outv._a.size
        rows: list[list[Any]] = [[] for _ in nums]
        for k in range(n):
            if end is not None:
                seed = ft.zeros(n, dtype=outv.dtype, device=outv.device)
                seed[k] = 1.0
                backward(trace, end, seed.view(*outv._a.shape) if outv._a.shape else seed.reshape(()), keep=True)
            for r, i, lv in zip(rows, nums, leaves, strict=True):
                node = lv[0][0] if lv else None  # an integer tensor has no leaf: a constant
                r.append(node.g if node is not None and node.g is not None else ft.zeros_like(args[i]))
                if node is not None:
                    node.g = None
        trace.tape.clear()
        jacs = tuple(ft.stack(r).view(*outv._a.shape, *args[i]._a.shape) for r, i in zip(rows, nums, strict=True))
        return jacs if many else jacs[0]

    return jf
