"""Function transforms in the style of HIPS autograd and JAX, built on :func:`grad`.

``value_and_grad``, ``elementwise_grad``, ``make_vjp``, ``make_jvp``/``jvp`` (forward-mode
products), ``hessian`` and ``hvp`` (Hessian-vector products). Each takes ``argnum`` as
:func:`~flambeau.autograd.grad` does: one position, or a tuple of positions (then gradients,
tangents and vectors are tuples with one entry per listed argument).

Forward mode is the *double-reverse* trick: ``J v`` is the gradient with respect to ``u`` of
``<J^T u, v>``, where ``J^T u`` is a reverse sweep seeded with a traced ``u``. It needs no table
of forward rules: every op whose gradient rule is made of differentiable flambeau ops (all the
built-in ones, and any ``primitive`` whose rule is) has a forward-mode product too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, ShapeError, size_text

from .differentiate import (
    Argnum,
    _argnums,
    _end,
    _gradients,
    _is_many,
    _trace_call,
    grad,
    jacobian,
)
from .tracer import backward, value_of

__all__ = [
    "elementwise_grad",
    "hessian",
    "hessian_vector_product",
    "hvp",
    "jvp",
    "make_jvp",
    "make_vjp",
    "value_and_grad",
]


def _first(outs: Any) -> Any:
    """``f``'s first output: the first element of a plain tuple, else the output itself."""
    if isinstance(outs, tuple) and not hasattr(outs, "_fields") and outs:
        return outs[0]
    return outs


def _name(f: Any) -> str:
    return str(getattr(f, "__name__", "f"))


def _picked(args: tuple[Any, ...], nums: tuple[int, ...], many: bool) -> Any:
    """The differentiated arguments: a tuple of them when ``many``, else the one."""
    return tuple(args[i] for i in nums) if many else args[nums[0]]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _vdot(x: Any, g: Any, v: Any, name: str, where: str) -> Any:
    """``<g, v>`` summed over the float leaves of ``x`` (``g`` and ``v`` have ``x``'s structure).

    ``v`` is checked against ``x`` leaf by leaf: a tensor of the same size for a float tensor, a
    number for a float. Constant leaves (ints, integer tensors, other objects) are skipped.
    """
    if isinstance(x, Tensor):
        if x._a.dtype.kind not in "fc":
            return 0.0
        if not isinstance(v, Tensor):
            raise ArgumentError(
                f"{name}: the vector for {where} must be a tensor of size {size_text(x._a.shape)}, got"
                f" {type(v).__name__}"
            )
        if v._a.shape != x._a.shape:
            raise ShapeError(
                f"{name}: the vector for {where} has size {size_text(v._a.shape)}, but the argument has size"
                f" {size_text(x._a.shape)}; it must have the argument's size"
            )
        return (g * v).sum()
    if isinstance(x, float):
        if isinstance(v, Tensor) and v._a.size == 1:
            return (g * v).sum()
        if not _is_number(v):
            raise ArgumentError(f"{name}: the vector for {where} (a float) must be a number, got {type(v).__name__}")
        return g * v
    if isinstance(x, dict):
        if not isinstance(v, dict) or set(v) != set(x):
            raise ArgumentError(f"{name}: the vector for {where} must be a dict with the same keys as the argument")
        total: Any = 0.0
        for k in x:
            total = total + _vdot(x[k], g[k], v[k], name, f"{where}[{k!r}]")
        return total
    if isinstance(x, (list, tuple)):
        if not isinstance(v, (list, tuple)) or len(v) != len(x):
            raise ArgumentError(
                f"{name}: the vector for {where} must be a list or tuple of {len(x)} entries, like the argument"
            )
        total = 0.0
        for k, (xk, gk, vk) in enumerate(zip(x, g, v, strict=True)):
            total = total + _vdot(xk, gk, vk, name, f"{where}[{k}]")
        return total
    return 0.0


def _where(nums: tuple[int, ...], many: bool) -> Any:
    """How :func:`_vdot` names the differentiated argument(s) in its messages."""
    return f"arguments {nums}" if many else f"argument {nums[0]}"


def _vjp_of(
    f: Callable[..., Any], argnum: Any, many: bool, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Callable[[Any], Any], Any, tuple[int, ...]]:
    """Trace ``f`` once at ``args``: (the vector-Jacobian product function, f's output, the positions)."""
    nums = _argnums(argnum, len(args), name)
    trace, leaves, out = _trace_call(f, args, kwargs, nums)
    end = _end(out, trace)
    ans = value_of(out, trace)
    if not isinstance(ans, Tensor) and not _is_number(ans):
        raise ArgumentError(f"{name}: f must return one tensor (or number), got {type(ans).__name__}")
    if end is None:
        trace.tape.clear()  # nothing depends on the input: the products are zeros
    nodes = [node for lv in leaves for node, _ in lv]
    shape = ans._a.shape if isinstance(ans, Tensor) else None

    def vjp(v: Any) -> Any:
        if isinstance(v, Tensor):
            if v._a.shape != shape and not (shape is None and v._a.size == 1):
                size = "a number" if shape is None else f"of size {size_text(shape)}"
                raise ShapeError(
                    f"{name}: the vector has size {size_text(v._a.shape)}, but f's output is {size}; it must"
                    " have the output's size"
                )
        elif not _is_number(v):
            raise ArgumentError(f"{name}: the vector must be a tensor of the output's size, got {type(v).__name__}")
        if end is not None:
            ref = end.value
            if isinstance(v, Tensor):
                seed = v.type(ref._a.dtype) if v._a.dtype != ref._a.dtype else v
            else:
                seed = ft.full(*ref._a.shape, fill_value=float(v), dtype=ref._a.dtype, device=ref._d)
            backward(trace, end, seed, keep=True)
            for node in nodes:
                if node.g is seed:  # f returned its input: give back a new tensor, not the caller's vector
                    node.g = seed.clone()
        try:
            return _gradients(args, nums, leaves, many)
        finally:
            for node in nodes:
                node.g = None

    vjp.__name__ = f"vjp_{_name(f)}"
    return vjp, ans, nums


def value_and_grad(f: Callable[..., Any], argnum: Argnum = 0) -> Callable[..., Any]:
    """``f``'s value and gradient in one call, JAX and HIPS order: ``value, gradient = value_and_grad(f)(*args)``.

    Parameters
    ----------
    f : callable
        A function whose first output is a scalar (one element). When ``f`` returns a tuple,
        ``value`` is its first element; the rest is dropped (use :func:`grad` to get them all).
    argnum : int or tuple of int
        The argument(s) to differentiate, as for :func:`grad`.

    Returns
    -------
    callable
        ``(*args, **kwargs) -> (value, gradient)``: ``value`` is the plain (untraced) first output,
        ``gradient`` has the structure of the argument (a tuple of them for a tuple ``argnum``).
        Built on :func:`grad`, which returns ``(gradient, *values)``: one trace, one backward pass.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import value_and_grad
    >>> value, g = value_and_grad(lambda x: (x * x).sum())(ft.Tensor([1.0, 2.0]))
    >>> float(value), g.tolist()
    (5.0, [2.0, 4.0])
    """
    df = grad(f, argnum)

    def vg(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        dx, *values = df(*args, **kwargs)
        return (values[0] if values else None), dx

    vg.__name__ = f"value_and_grad_{_name(f)}"
    return vg


def elementwise_grad(f: Callable[..., Any], argnum: Argnum = 0) -> Callable[..., Any]:
    """The gradient of the sum of ``f``'s output: for element-wise ``f``, each element's derivative.

    Parameters
    ----------
    f : callable
        A function returning a tensor (or number); when it returns a tuple, the first element.
    argnum : int or tuple of int
        The argument(s) to differentiate, as for :func:`grad`.

    Returns
    -------
    callable
        ``(*args, **kwargs) -> gradient`` (only the gradient, as in HIPS autograd): the
        vector-Jacobian product with a vector of ones, i.e. ``grad(lambda *a: f(*a).sum())``.
        When every output element depends only on the input element at the same place (``tanh``,
        ``x ** 3``, broadcasting arithmetic) this is the derivative of each element; for other
        functions it is the sum of the Jacobian's rows.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import elementwise_grad
    >>> elementwise_grad(lambda x: x**3)(ft.Tensor([1.0, 2.0, -1.0])).tolist()
    [3.0, 12.0, 3.0]
    """

    def total(*args: Any, **kwargs: Any) -> Any:
        out = _first(f(*args, **kwargs))
        return out.sum() if isinstance(out, Tensor) else out

    df = grad(total, argnum)

    def eg(*args: Any, **kwargs: Any) -> Any:
        return df(*args, **kwargs)[0]

    eg.__name__ = f"elementwise_grad_{_name(f)}"
    return eg


def make_vjp(f: Callable[..., Any], argnum: Argnum = 0) -> Callable[..., Any]:
    """Vector-Jacobian products of ``f``, HIPS style: ``vjp, ans = make_vjp(f)(*args)``.

    Parameters
    ----------
    f : callable
        A function returning one tensor (or number).
    argnum : int or tuple of int
        The argument(s) to differentiate, as for :func:`grad`.

    Returns
    -------
    callable
        ``(*args, **kwargs) -> (vjp, ans)``: ``ans`` is ``f``'s (plain) output and ``vjp(v)``
        returns ``v^T J`` (``J^T v``) for a cotangent ``v`` of ``ans``'s size (a number stands for
        a tensor of ``ans``'s size full of it), in the structure of the argument. ``f`` runs
        once; each call of ``vjp`` is one reverse sweep over the kept recording, so it may be
        called many times with different ``v``. The recording holds the values ``f`` computed
        with: do not modify in place the tensors it used while you still call ``vjp``.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import make_vjp
    >>> A = ft.Tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> vjp, ans = make_vjp(lambda x: A @ x)(ft.Tensor([1.0, 1.0]))
    >>> ans.tolist(), vjp(ft.Tensor([1.0, 0.0])).tolist(), vjp(ft.Tensor([0.0, 1.0])).tolist()
    ([3.0, 7.0], [1.0, 2.0], [3.0, 4.0])
    """
    many = _is_many(argnum, "make_vjp")

    def mv(*args: Any, **kwargs: Any) -> tuple[Callable[[Any], Any], Any]:
        vjp, ans, _ = _vjp_of(f, argnum, many, "make_vjp", args, kwargs)
        return vjp, ans

    mv.__name__ = f"make_vjp_{_name(f)}"
    return mv


def _jvp_maker(f: Callable[..., Any], argnum: Any, many: bool, name: str) -> Callable[..., Any]:
    def mj(*args: Any, **kwargs: Any) -> Callable[[Any], tuple[Any, Any]]:
        vjp, ans, nums = _vjp_of(f, argnum, many, name, args, kwargs)
        x = _picked(args, nums, many)
        where = _where(nums, many)

        def jvp_fn(v: Any) -> tuple[Any, Any]:
            if isinstance(ans, Tensor):
                u0: Any = ft.zeros(*ans._a.shape, dtype=ans._a.dtype, device=ans._d)
            else:
                u0 = 0.0 if isinstance(ans, float) else 0
            # J v = d/du <J^T u, v>: J^T u is linear in u, so any u (here zeros) gives the same answer.
            jv = grad(lambda u: _vdot(x, vjp(u), v, name, where))(u0)[0]
            return ans, jv

        jvp_fn.__name__ = f"jvp_{_name(f)}"
        return jvp_fn

    return mj


def make_jvp(f: Callable[..., Any], argnum: Argnum = 0) -> Callable[..., Any]:
    """Jacobian-vector products of ``f`` (forward mode), HIPS style: ``jvp = make_jvp(f)(*args)``.

    Parameters
    ----------
    f : callable
        A function returning one tensor (or number).
    argnum : int or tuple of int
        The argument(s) to perturb, as for :func:`grad`.

    Returns
    -------
    callable
        ``(*args, **kwargs) -> jvp``, where ``jvp(v)`` returns ``(ans, J v)``: ``ans`` is ``f``'s
        output and ``J v`` its directional derivative along the tangent ``v``, of ``ans``'s size.
        ``v`` has the structure and sizes of the argument (a number for a Python float; a tuple of
        tangents, one per argument, for a tuple ``argnum``). ``f`` runs once; each ``jvp(v)`` is
        computed by the double-reverse trick, ``J v = d/du <J^T u, v>``, so it works for every op
        whose gradient rule is differentiable, with no separate table of forward rules (and costs
        about two reverse sweeps).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import make_jvp
    >>> A = ft.Tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> jvp = make_jvp(lambda x: A @ x)(ft.Tensor([1.0, 1.0]))
    >>> ans, Jv = jvp(ft.Tensor([1.0, 0.0]))
    >>> ans.tolist(), Jv.tolist()
    ([3.0, 7.0], [1.0, 3.0])
    """
    maker = _jvp_maker(f, argnum, _is_many(argnum, "make_jvp"), "make_jvp")
    maker.__name__ = f"make_jvp_{_name(f)}"
    return maker


def jvp(f: Callable[..., Any], argnum: Argnum = 0) -> Callable[..., Any]:
    """A forward-mode product in one call: ``value, Jv = jvp(f)(*args, vector)``.

    Not JAX's ``jvp(f, primals, tangents)``: the tangent is passed after ``f``'s own arguments.

    Parameters
    ----------
    f : callable
        A function returning one tensor (or number).
    argnum : int or tuple of int
        The argument(s) to perturb, counted among ``f``'s arguments (the vector is not one).

    Returns
    -------
    callable
        ``(*args, vector, **kwargs) -> (value, J @ vector)``: ``f``'s output and its derivative
        along ``vector``, which has the argument's structure and sizes (a tuple of them for a tuple
        ``argnum``); the product has the output's size. Same as ``make_jvp(f, argnum)(*args)(vector)``,
        computed by the double-reverse trick (see :func:`make_jvp`).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import jvp
    >>> value, Jv = jvp(lambda x: (x * x).sum())(ft.Tensor([1.0, 2.0]), ft.Tensor([1.0, 1.0]))
    >>> float(value), float(Jv)
    (5.0, 6.0)
    >>> jvp(lambda a, b: a * b, argnum=1)(3.0, 2.0, 1.0)[1].tolist()
    3.0
    """
    maker = _jvp_maker(f, argnum, _is_many(argnum, "jvp"), "jvp")

    def fn(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        if not args:
            raise ArgumentError("jvp: call jvp(f)(*args, vector): the tangent vector comes last")
        return maker(*args[:-1], **kwargs)(args[-1])

    fn.__name__ = f"jvp_{_name(f)}"
    return fn


def hessian(f: Callable[..., Any], argnum: Argnum = 0) -> Callable[..., Any]:
    """The Hessian of a scalar ``f`` with respect to tensor argument ``argnum``: the Jacobian of its gradient.

    Parameters
    ----------
    f : callable
        A function whose first output is a scalar (one element).
    argnum : int or tuple of int
        The tensor argument(s) to differentiate twice.

    Returns
    -------
    callable
        ``(*args, **kwargs) -> H`` of size ``x.size() + x.size()``. With a tuple ``argnum`` it is
        a tuple of tuples of blocks, ``H[i][j]`` the derivative of the gradient with respect to
        argument ``argnum[i]`` by argument ``argnum[j]``, of size ``x_i.size() + x_j.size()``.
        One reverse sweep of the gradient per element of ``x``; for a product with one vector,
        :func:`hvp` is much cheaper.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import hessian
    >>> hessian(lambda x: (x**3).sum())(ft.Tensor([1.0, 2.0])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    many = _is_many(argnum, "hessian")

    def h(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnum, len(args), "hessian")
        for i in nums:
            if not isinstance(args[i], Tensor):
                raise ArgumentError(
                    f"hessian: argument {i} must be a tensor, got {type(args[i]).__name__} (for a Python number"
                    " use grad(grad(f)) or hvp)"
                )
        df = grad(f, argnum)
        if not many:
            return jacobian(lambda *a, **k: df(*a, **k)[0], argnum)(*args, **kwargs)
        return tuple(
            jacobian(lambda *a, i=i, **k: df(*a, **k)[0][i], argnum)(*args, **kwargs) for i in range(len(nums))
        )

    h.__name__ = f"hessian_{_name(f)}"
    return h


def hvp(f: Callable[..., Any], argnum: Argnum = 0) -> Callable[..., Any]:
    """A Hessian-vector product without the Hessian: ``hvp(f)(*args, vector)`` is ``H @ vector``.

    Parameters
    ----------
    f : callable
        A function whose first output is a scalar (one element).
    argnum : int or tuple of int
        The argument(s) to differentiate, counted among ``f``'s arguments (the vector is not one).

    Returns
    -------
    callable
        ``(*args, vector, **kwargs) -> H v``: the gradient of ``<grad f(x), vector>`` with
        respect to ``x``, in the argument's structure and sizes (``vector`` has them too; a tuple
        of them for a tuple ``argnum``, and the result is then a tuple). Two reverse sweeps,
        whatever the size of ``x``. Also exported as ``hessian_vector_product``.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import hvp
    >>> hvp(lambda x: (x**3).sum())(ft.Tensor([1.0, 2.0]), ft.Tensor([1.0, 1.0])).tolist()
    [6.0, 12.0]
    """
    many = _is_many(argnum, "hvp")
    df = grad(f, argnum)

    def fn(*args: Any, **kwargs: Any) -> Any:
        if not args:
            raise ArgumentError("hvp: call hvp(f)(*args, vector): the vector comes last")
        xs, v = args[:-1], args[-1]
        nums = _argnums(argnum, len(xs), "hvp")
        x = _picked(xs, nums, many)
        where = _where(nums, many)
        inner = lambda *a, **k: _vdot(x, df(*a, **k)[0], v, "hvp", where)
        return grad(inner, argnum)(*xs, **kwargs)[0]

    fn.__name__ = f"hvp_{_name(f)}"
    return fn


hessian_vector_product = hvp
