"""nn modules as functions for ``grad``: torch-autograd's ``autograd.nn`` and ``functionalize``.

:func:`functionalize` turns an existing :mod:`flambeau.nn` module (a layer, a pre-trained
container, a criterion) into a plain function that ``grad`` differentiates, with the module's own
hand-written ``update_grad_input`` / ``acc_grad_parameters`` supplying the gradient: each call is
one autograd op. ``flambeau.autograd.nn.<Name>(...)`` does the same for a new module of every nn
class, constructed with the given arguments:

- a module with parameters gives ``fn, params``, called as ``fn(params, input)``;
- a module without parameters gives ``fn``, called as ``fn(input)``;
- a criterion gives ``fn``, called as ``fn(input, target)``, returning the loss as a 0-dim tensor.

``params`` is the module's own parameter list (``module.parameters()[0]``, nn's layout: a
Linear's weight is ``out x in``). A call points the module's parameter tensors at the ``params``
it is given (sharing their memory, as torch-autograd's wrapper does), runs ``module.forward`` and
returns a copy of the output (modules reuse their output buffers); then it points them back, so
a call never changes the tensors the caller holds, and updating ``params`` in place (an SGD
step) updates the module. Its gradient zeroes the
module's gradient buffers, runs ``module.forward`` again when the module last ran another call
(the same layer used twice in one function), then one ``module.backward`` per call, which gives
the gradients of the parameters and of the input together. Inputs may be tables (nested lists of
tensors, for ``nn.CAddTable``, ``nn.MM``, ``nn.ParallelCriterion``...), and so may outputs.

The module follows the parameters' type and device (the input's, for a module without
parameters and for a criterion): when they change, the module's buffers are converted with
``module.type(dtype, device)``, its own parameter tensors being pointed at ``params`` meanwhile
(so they keep their type: cast ``params`` themselves, e.g. with ``autograd.util.cast``).

Limits: the gradient is first order only (``grad(grad(f))`` through a wrapped module raises
:class:`~flambeau.autograd.TracedValueError`); gradients flow to the parameters and to the
input, not to a criterion's target; a module that draws random numbers (Dropout) draws again
when the forward pass is re-run before its backward.

>>> import flambeau.tensor as ft
>>> from flambeau.autograd import grad
>>> from flambeau.autograd import nn as agnn
>>> _ = ft.manual_seed(0)
>>> linear, params = agnn.Linear(3, 2)
>>> tanh = agnn.Tanh()
>>> mse = agnn.MSECriterion()
>>> x, y = ft.ones(4, 3), ft.zeros(4, 2)
>>> def loss(params, x, y):
...     return mse(tanh(linear(params, x)), y)
>>> dparams, value = grad(loss)(params, x, y)
>>> [tuple(d.size()) for d in dparams], value.dim()
([(2, 3), (2,)], 0)
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import flambeau.nn as _fnn
import flambeau.tensor as _ft
from flambeau.tensor import Tensor as _Tensor
from flambeau.tensor.errors import ArgumentError as _ArgumentError
from flambeau.tensor.errors import ShapeError as _ShapeError

from .errors import TracedValueError as _TracedValueError
from .registry import defvjp as _defvjp
from .tracer import Box as _Box
from .tracer import Primitive as _Primitive
from .tree import tree_map as _tree_map

__all__ = ["FunctionalModule", "functionalize"]

_SLOT = object()  # where a tensor sat in an input or output table

# module -> (a weak reference to) the call whose forward pass the module's state holds now
_state_of: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _leaves(x: Any) -> list[Any]:
    found: list[Any] = []
    _tree_map(lambda v: found.append(v) if isinstance(v, _Tensor) else None, x)
    return found


def _template(x: Any) -> Any:
    return _tree_map(lambda v: _SLOT if isinstance(v, _Tensor) else v, x)


def _rebuild(template: Any, leaves: Sequence[Any]) -> Any:
    it = iter(leaves)
    return _tree_map(lambda v: next(it) if v is _SLOT else v, template)


def _is_float(t: Any) -> bool:
    return isinstance(t, _Tensor) and t._a.dtype.kind in "fc"


# --------------------------------------------------------------------------------------------
# One autograd op per call: primitives by the number of tensors they take.

_PRIMITIVES: dict[int, _Primitive] = {}


def _primitive(n: int) -> _Primitive:
    """The primitive ``run(call, t0, ..., t{n-1})``: one positional parameter per tensor, so the
    tracer unwraps each and gives each its own rule."""
    p = _PRIMITIVES.get(n)
    if p is not None:
        return p

    def run(call: _Call, *tensors: Any) -> Any:
        return call.forward(tensors)

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    names = ["call", *(f"t{i}" for i in range(n))]
    run.__signature__ = inspect.Signature([inspect.Parameter(name, kind) for name in names])  # type: ignore[attr-defined]
    p = _Primitive(run, "nn_module")

    def rule(k: int) -> Any:
        return lambda g, ans, call, *tensors: call.vjp(g, ans, tensors)[k]

    _defvjp(p, None, *(rule(k) for k in range(n)), source="flambeau.autograd.nn")
    _PRIMITIVES[n] = p
    return p


def _no_boxes(values: Sequence[Any], what: str, module: Any) -> None:
    for v in values:
        if v.__class__ is _Box or (isinstance(v, (list, tuple)) and any(u.__class__ is _Box for u in _leaves(v))):
            raise _TracedValueError(
                f"{module!r} (wrapped by flambeau.autograd.nn): {what} is traced by an outer grad. The module's"
                " hand-written backward pass gives first-order gradients only: grad(grad(f)) through an nn module"
                " is not supported. Write that part with tensor ops (flambeau.autograd.util) to differentiate twice."
            )


class _Call:
    """One call of a functionalized module: its recorded node's argument, and the cache of its backward."""

    __slots__ = (
        "fm",
        "n_params",
        "n_input",
        "in_template",
        "target_template",
        "out_template",
        "x",
        "cache",
        "__weakref__",
    )

    def __init__(self, fm: FunctionalModule, n_params: int, n_input: int, in_template: Any, target_template: Any):
        self.fm = fm
        self.n_params = n_params
        self.n_input = n_input
        self.in_template = in_template
        self.target_template = target_template
        self.out_template: Any = None
        self.x: Any = None
        self.cache: Any = None

    def _split(self, tensors: Sequence[Any]) -> tuple[Sequence[Any], Any, Any]:
        p, n = self.n_params, self.n_input
        params = tensors[:p]
        x = _rebuild(self.in_template, tensors[p : p + n])
        target = None if self.target_template is None else _rebuild(self.target_template, tensors[p + n :])
        return params, x, target

    def run_forward(self, tensors: Sequence[Any]) -> Any:
        """Make the module's state this call's (type, then ``forward`` with this call's parameters)."""
        fm = self.fm
        params, x, target = self._split(tensors)
        if fm.inplace:  # an in-place module would overwrite values the trace still needs
            x = _tree_map(lambda v: v.clone() if isinstance(v, _Tensor) else v, x)
        self.x = x
        m = fm.module
        with fm.using(params, tensors[self.n_params :]):
            out = m.forward(x) if target is None else m.forward(x, target)
        _state_of[m] = weakref.ref(self)
        return out

    def forward(self, tensors: Sequence[Any]) -> Any:
        _no_boxes(tensors, "an argument", self.fm.module)
        out = self.run_forward(tensors)
        if self.fm.is_criterion:
            ref = next((t for t in _leaves(self.x) if _is_float(t)), None)
            if ref is None:
                return _ft.tensor(float(out))
            return _ft.tensor(float(out), dtype=ref._a.dtype, device=ref._d)
        if isinstance(out, _Tensor):
            self.out_template = None
            return out.clone()
        self.out_template = _template(out)
        return [t.clone() for t in _leaves(out)]

    def vjp(self, g: Any, ans: Any, tensors: Sequence[Any]) -> tuple[Any, ...]:
        """Every argument's gradient from one backward pass of the module, cached for the other rules."""
        cache = self.cache
        if cache is not None and cache[0] is g:
            return cache[1]
        grads = self._backward(g, ans, tensors)
        self.cache = (g, grads)
        return grads

    def _backward(self, g: Any, ans: Any, tensors: Sequence[Any]) -> tuple[Any, ...]:
        fm, m = self.fm, self.fm.module
        gs = list(g) if isinstance(g, tuple) else [g]
        _no_boxes([v for v in gs if v is not None], "the gradient flowing into it", m)
        last = _state_of.get(m)
        if last is None or last() is not self or fm.follows != _key_of(tensors, self.n_params):
            self.run_forward(tensors)  # the module ran another call since: restore this one's state
        with fm.using(tensors[: self.n_params], tensors[self.n_params :]):
            return self._module_backward(g, gs, ans, tensors)

    def _module_backward(self, g: Any, gs: list[Any], ans: Any, tensors: Sequence[Any]) -> tuple[Any, ...]:
        fm, m = self.fm, self.fm.module
        n_rest = len(tensors) - self.n_params
        if fm.is_criterion:
            gin = m.backward(self.x, _rebuild(self.target_template, tensors[self.n_params + self.n_input :]))
            gin_leaves = [None if t is None else t * g for t in _leaves(gin)] if gin is not None else None
            return (*([None] * self.n_params), *self._input_grads(gin_leaves, n_rest))
        if self.out_template is None:
            gout = g
        else:
            outs = ans if isinstance(ans, (list, tuple)) else [ans]
            gout = _rebuild(
                self.out_template, [_ft.zeros_like(o) if v is None else v for v, o in zip(gs, outs, strict=True)]
            )
        if fm.inplace:
            gout = _tree_map(lambda v: v.clone() if isinstance(v, _Tensor) else v, gout)
        m.zero_grad_parameters()
        gin = m.backward(self.x, gout)
        pgrads = [t.clone() for t in m.parameters()[1]]
        gin_leaves = [t.clone() for t in _leaves(gin)] if gin is not None else None
        return (*pgrads, *self._input_grads(gin_leaves, n_rest))

    def _input_grads(self, leaves: list[Any] | None, n_rest: int) -> list[Any]:
        """Gradients for the input's tensors (then None for a target's)."""
        n = self.n_input
        if leaves is None:  # grad_input = None: the module declares its input needs no gradient
            return [None] * n_rest
        if len(leaves) != n:
            raise _ShapeError(
                f"{self.fm.module!r} (wrapped by flambeau.autograd.nn): its grad_input holds {len(leaves)}"
                f" tensor(s) but its input held {n}; cannot match them to the input"
            )
        return [*leaves, *([None] * (n_rest - n))]


def _key_of(tensors: Sequence[Any], n_params: int) -> Any:
    ref = tensors[0] if n_params else next((t for t in tensors if _is_float(t)), None)
    return None if ref is None else (ref._a.dtype, ref._d)


class FunctionalModule:
    """An nn module (or criterion) as a function of its parameters and input, for ``grad``.

    Made by :func:`functionalize`; ``module`` is the wrapped module. Calling it runs the module
    as one autograd op: ``f(params, input)`` for a module with parameters, ``f(input)`` for one
    without, ``f(input, target)`` for a criterion (a 0-dim tensor).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> from flambeau.autograd.nn import functionalize
    >>> f, params = functionalize(nn.Linear(2, 1))
    >>> f
    <functionalized nn.Linear(2 -> 1)>
    >>> _ = [p.fill_(1.0) for p in params]
    >>> f(params, ft.ones(3, 2)).tolist()
    [[3.0], [3.0], [3.0]]
    """

    def __init__(self, module: Any):
        self.module = module
        self.is_criterion = isinstance(module, _fnn.Criterion)
        if not self.is_criterion and not isinstance(module, _fnn.Module):
            raise _ArgumentError(
                f"functionalize: expected a flambeau.nn Module or Criterion, got {type(module).__name__}"
            )
        self.n_params = 0 if self.is_criterion else len(module.parameters()[0])
        mods = module.list_modules() if not self.is_criterion else [module]
        self.inplace = any(getattr(m, "inplace", False) is True for m in mods)
        own = module.parameters()[0] if self.n_params else []
        self.follows: Any = (own[0]._a.dtype, own[0]._d) if own else None

    def __repr__(self) -> str:
        return f"<functionalized {self.module!r}>"

    # -- the module's state ----------------------------------------------------------------------
    def follow(self, ref: Any) -> None:
        """Convert the module to ``ref``'s type and device when they differ from the last ones."""
        if ref is None:
            return
        key = (ref._a.dtype, ref._d)
        if key != self.follows:
            self.module.type(ref._a.dtype, ref._d)
            self.follows = key

    @contextlib.contextmanager
    def using(self, params: Sequence[Any], rest: Sequence[Any]) -> Iterator[None]:
        """Within: the module's parameter tensors view ``params``' memory and the module has their
        type and device (the first float tensor's of ``rest`` when there are no parameters). The
        module's own parameter tensors are pointed back on leaving, so a call never changes them."""
        own = self.module.parameters()[0] if params else []
        saved = []
        try:
            for i, (mine, p) in enumerate(zip(own, params, strict=True)):
                if mine is p:
                    continue
                self._check(i, mine, p, params[0])
                saved.append((mine, _ft.Tensor().set_(mine)))
                mine.set_(p)
            self.follow(params[0] if params else next((t for t in rest if _is_float(t)), None))
            yield
        finally:
            for mine, back in saved:
                mine.set_(back)

    def _check(self, i: int, mine: Any, p: Any, first: Any) -> None:
        if not isinstance(p, _Tensor):
            raise _ArgumentError(f"{self!r}: params[{i}] must be a tensor, got {type(p).__name__}")
        if tuple(p._a.shape) != tuple(mine._a.shape):
            raise _ShapeError(
                f"{self!r}: params[{i}] has size {tuple(p._a.shape)} but the module's parameter {i} has size"
                f" {tuple(mine._a.shape)} (params follow module.parameters()[0]: a Linear's weight is out x in)"
            )
        if p._a.dtype != first._a.dtype or p._d is not first._d:
            raise _ArgumentError(
                f"{self!r}: params[{i}] is a {p.type()} but params[0] is a {first.type()}; give every"
                " parameter one type and device"
            )

    # -- calling -----------------------------------------------------------------------------------
    def __call__(self, *args: Any) -> Any:
        if self.is_criterion:
            if len(args) != 2:
                raise _ArgumentError(
                    f"{self!r}: a criterion is called as f(input, target), got {len(args)} argument(s)"
                )
            params: Sequence[Any] = []
            x, target = args
        elif self.n_params:
            if len(args) != 2:
                raise _ArgumentError(f"{self!r}: call it as f(params, input), got {len(args)} argument(s)")
            params, x = args
            target = None
            if not isinstance(params, (list, tuple)) or len(params) != self.n_params:
                got = f"{len(params)} tensors" if isinstance(params, (list, tuple)) else type(params).__name__
                raise _ArgumentError(
                    f"{self!r}: params must be a list of the module's {self.n_params} parameter tensors"
                    f" (module.parameters()[0]), got {got}"
                )
        else:
            if len(args) != 1:
                raise _ArgumentError(
                    f"{self!r}: a module without parameters is called as f(input), got {len(args)} argument(s)"
                )
            params, (x,), target = [], args, None
        ins = _leaves(x)
        tgt = _leaves(target) if target is not None else []
        call = _Call(self, len(params), len(ins), _template(x), None if target is None else _template(target))
        tensors = [*params, *ins, *tgt]
        out = _primitive(len(tensors))(call, *tensors)
        if call.out_template is not None:
            return _rebuild(call.out_template, out)
        return out


def functionalize(module: Any) -> tuple[FunctionalModule, list[Any]]:
    """``(f, params)``: an nn module, container or criterion as a function for ``grad``.

    Parameters
    ----------
    module : flambeau.nn.Module or flambeau.nn.Criterion
        Any module, e.g. a pre-trained ``nn.Sequential``.

    Returns
    -------
    f : FunctionalModule
        ``f(params, input)`` (``f(input)`` for a module without parameters, ``f(input, target)``
        for a criterion): the module's output for those parameters, as one autograd op whose
        gradient is the module's own backward pass (first order).
    params : list of Tensor
        The module's parameter tensors themselves, ``module.parameters()[0]`` (empty for a module
        without parameters and for a criterion).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> from flambeau.autograd import grad
    >>> from flambeau.autograd.nn import functionalize
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    >>> f, params = functionalize(model)
    >>> x = ft.randn(5, 3)
    >>> dparams, loss = grad(lambda p, x: f(p, x).sum())(params, x)
    >>> _ = model.zero_grad_parameters(), model.forward(x), model.backward(x, ft.ones(5, 1))
    >>> all(bool((d - g).abs().max() < 1e-12) for d, g in zip(dparams, model.parameters()[1]))
    True
    """
    f = FunctionalModule(module)
    params = [] if f.is_criterion else list(module.parameters()[0])
    return f, params


# --------------------------------------------------------------------------------------------
# flambeau.autograd.nn.<Name>(...): every nn class.


def _nn_class(name: str) -> type | None:
    cls = getattr(_fnn, name, None)
    if isinstance(cls, type) and issubclass(cls, (_fnn.Module, _fnn.Criterion)):
        return cls
    return None


def _constructor(name: str, cls: type) -> Any:
    def make(*args: Any, **kwargs: Any) -> Any:
        f, params = functionalize(cls(*args, **kwargs))
        if f.is_criterion or not params:
            return f
        return f, params

    make.__name__ = make.__qualname__ = name
    make.__doc__ = (
        f"nn.{name}(*args, **kwargs) as a function for grad: ``fn, params`` for a module with parameters"
        f" (``fn(params, input)``), ``fn`` for one without (``fn(input)``) or for a criterion"
        f" (``fn(input, target)``).\n\n{cls.__doc__ or ''}"
    )
    return make


def __getattr__(name: str) -> Any:
    cls = None if name.startswith("_") else _nn_class(name)
    if cls is None:
        what = getattr(_fnn, name, None)
        hint = (
            f"; flambeau.nn.{name} is a {type(what).__name__}, not a module or criterion class"
            if what is not None and not name.startswith("_")
            else ""
        )
        raise AttributeError(
            f"module 'flambeau.autograd.nn' has no attribute {name!r}: it offers every flambeau.nn module and"
            f" criterion class by name (e.g. Linear, Tanh, ClassNLLCriterion) and functionalize{hint}"
        )
    return _constructor(name, cls)


def __dir__() -> list[str]:
    names = {n for n in dir(_fnn) if not n.startswith("_") and _nn_class(n) is not None}
    return sorted(names | set(__all__))
