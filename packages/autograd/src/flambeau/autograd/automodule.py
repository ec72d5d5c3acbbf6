"""nn modules and criteria defined by a function, their backward derived by ``grad``.

torch-autograd's ``AutoModule(name)(fn, weight, bias)`` and ``AutoCriterion(name)(fn)``, in
Python as :class:`AutoModule` ``(fn, weight, bias, name=None)`` and :class:`AutoCriterion`
``(fn, name=None)``:

- an :class:`AutoModule` is an ``nn.Module`` whose output is ``fn(input, weight, bias, ...)``;
  the parameters are its own tensors (fields ``weight``, ``bias``, then ``param2``, ``param3``...,
  each with its gradient buffer ``grad_weight``...), returned by ``parameters()``;
  ``update_grad_input`` and ``acc_grad_parameters`` come from :func:`flambeau.autograd.grad`
  (one traced pass gives both), so it trains, converts, clones and nests in containers like any
  hand-written module;
- an :class:`AutoCriterion` is an ``nn.Criterion`` whose loss is ``fn(input, target)`` (a
  0-dim tensor or a float; when ``fn`` returns a tuple, as ``autograd.loss`` functions do, its
  first value) and whose ``grad_input`` comes from ``grad``.

Both save and load with ``ft.save`` / ``ft.load`` like built-in modules. A function cannot be
written into a file, so the function is stored by its import path (module and qualified name)
and imported again on load: define it with ``def`` at the top level of a module that the loading
program can import. A lambda or a function defined inside another one cannot be found that way:
saving it raises a :class:`~flambeau.tensor.errors.SerializationError` that says so. Loading
needs this module imported (``import flambeau.autograd.automodule``), as it registers the classes.

>>> import flambeau.tensor as ft
>>> from flambeau.autograd.automodule import AutoModule
>>> def linear(x, w, b):
...     return x @ w.t() + b
>>> m = AutoModule(linear, ft.ones(2, 3), ft.zeros(2), name="Linear")
>>> m
nn.AutoModule(Linear)
>>> m.forward(ft.ones(4, 3)).tolist()[0]
[3.0, 3.0]
>>> m.backward(ft.ones(4, 3), ft.ones(4, 2)).tolist()[0]
[2.0, 2.0, 2.0]
>>> m.grad_weight.tolist(), m.grad_bias.tolist()
([[4.0, 4.0, 4.0], [4.0, 4.0, 4.0]], [4.0, 4.0])
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import flambeau.tensor as ft
from flambeau.nn.criterion import Criterion
from flambeau.nn.module import Module
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, SerializationError

from .differentiate import grad
from .tree import tree_map

__all__ = ["AutoCriterion", "AutoModule"]


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, tuple) else value


def _leaves(x: Any) -> list[Any]:
    found: list[Any] = []
    tree_map(lambda v: found.append(v) if isinstance(v, Tensor) else None, x)
    return found


def _param_name(i: int) -> str:
    return ("weight", "bias")[i] if i < 2 else f"param{i}"


class AutoModule(Module):
    """An ``nn.Module`` whose output is ``fn(input, *params)``, its backward derived by ``grad``.

    Parameters
    ----------
    fn : callable
        ``fn(input, weight, bias, ...)``, written with flambeau tensor ops (differentiable by
        :func:`flambeau.autograd.grad`). To save the module, a function defined at the top level
        of an importable module.
    *params : Tensor or None
        The parameters, kept (not copied) as the fields ``weight``, ``bias``, then ``param2``,
        ``param3``...; each gets a zeroed gradient buffer ``grad_<field>``. ``None`` passes
        ``None`` to ``fn`` in that place and is no parameter.
    name : str, optional
        A name for printing (torch-autograd's ``AutoModule(name)``); defaults to ``fn``'s name.

    Notes
    -----
    ``update_grad_input`` traces ``fn`` once for the gradients of the input and of every
    parameter; ``acc_grad_parameters`` right after it (as ``backward`` calls it) reuses them and
    adds ``scale * dL/dparam`` into the buffers. Called alone, it traces ``fn`` itself.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd.automodule import AutoModule
    >>> def scale(x, w):
    ...     return x * w
    >>> m = AutoModule(scale, ft.tensor([2.0, 3.0]))
    >>> m, [p.tolist() for p in m.parameters()[0]]
    (nn.AutoModule(scale), [[2.0, 3.0]])
    >>> m.backward(ft.ones(2), ft.ones(2)).tolist(), m.grad_weight.tolist()
    ([2.0, 3.0], [1.0, 1.0])
    """

    def __init__(self, fn: Callable[..., Any], *params: Tensor | None, name: str | None = None):
        super().__init__()
        if not callable(fn):
            raise ArgumentError(f"AutoModule: fn must be a function fn(input, *params), got {type(fn).__name__}")
        self.fn = fn
        self.name = name
        self.param_names: list[str] = []
        for i, p in enumerate(params):
            field = _param_name(i)
            if p is not None and not (isinstance(p, Tensor) and p.dtype.kind in "fc"):
                got = p.type() if isinstance(p, Tensor) else type(p).__name__
                raise ArgumentError(f"AutoModule: parameter {i} ({field}) must be a float tensor or None, got {got}")
            self.param_names.append(field)
            self.__dict__[field] = p
            self.__dict__["grad_" + field] = None if p is None else ft.zeros_like(p)
        self._pending: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # nn registers a subclass as flambeau.nn.<Name>, saving its fields as they are: keep the
        # name, and save the function by its import path.
        super().__init_subclass__(**kwargs)
        _register_saving(cls, f"flambeau.nn.{cls.__name__}")

    def extra_repr(self) -> str:
        return self.name or str(getattr(self.fn, "__name__", type(self.fn).__name__))

    def _parameter_fields(self) -> list[tuple[str, str]]:
        return [(n, "grad_" + n) for n in self.param_names if isinstance(self.__dict__.get(n), Tensor)]

    def _args(self) -> list[Any]:
        return [self.__dict__[n] for n in self.param_names]

    def update_output(self, input: Any) -> Any:
        self._pending = None
        self.output = self.fn(input, *self._args())
        return self.output

    def _gradients(self, input: Any, grad_output: Any) -> tuple[Any, list[Any]]:
        """``(dL/dinput, [dL/dparam, ...])`` for ``L = <fn(input, *params), grad_output>``, one traced pass."""
        args = self._args()
        gs = _leaves(grad_output)

        def project(x: Any, traced: list[Any]) -> Any:
            it = iter(traced)
            out = self.fn(x, *(None if a is None else next(it) for a in args))
            outs = _leaves(out)
            if len(outs) != len(gs):
                raise ArgumentError(f"{self!r}: grad_output holds {len(gs)} tensor(s) but the output holds {len(outs)}")
            total: Any = 0.0
            for o, g in zip(outs, gs, strict=True):
                total = total + (o * g).sum()
            return total

        (gin, gparams), _ = grad(project, argnum=(0, 1))(input, [a for a in args if a is not None])
        return gin, gparams

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        gin, gparams = self._gradients(input, grad_output)
        self._pending = (input, grad_output, gparams)
        self.grad_input = gin
        return gin

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] is input and pending[1] is grad_output:
            gparams = pending[2]
        else:
            gparams = self._gradients(input, grad_output)[1]
        for buf, g in zip(self.parameters()[1], gparams, strict=True):
            buf.add_(g * scale)


class AutoCriterion(Criterion):
    """An ``nn.Criterion`` whose loss is ``fn(input, target)``, its gradient derived by ``grad``.

    Parameters
    ----------
    fn : callable
        ``fn(input, target)``: a 0-dim tensor or a float, or a tuple whose first value is one
        (``autograd.loss.least_squares``-style). To save the criterion, a function defined at
        the top level of an importable module.
    name : str, optional
        A name for printing; defaults to ``fn``'s name.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd.automodule import AutoCriterion
    >>> def mse(x, t):
    ...     return ((x - t) ** 2).mean()
    >>> crit = AutoCriterion(mse)
    >>> loss, g = crit(ft.tensor([1.0, 2.0]), ft.tensor([1.0, 4.0]))
    >>> crit, loss, g.tolist()
    (nn.AutoCriterion(mse), 2.0, [0.0, -2.0])
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None):
        super().__init__()
        if not callable(fn):
            raise ArgumentError(f"AutoCriterion: fn must be a function fn(input, target), got {type(fn).__name__}")
        self.fn = fn
        self.name = name

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # nn registers a subclass as flambeau.nn.<Name>, saving its fields as they are: keep the
        # name, and save the function by its import path.
        super().__init_subclass__(**kwargs)
        _register_saving(cls, f"flambeau.nn.{cls.__name__}")

    def extra_repr(self) -> str:
        return self.name or str(getattr(self.fn, "__name__", type(self.fn).__name__))

    def update_output(self, input: Any, target: Any) -> float:
        loss = _first(self.fn(input, target))
        self.output = float(loss)
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        self.grad_input = grad(lambda x: _first(self.fn(x, target)))(input)[0]
        return self.grad_input


# --------------------------------------------------------------------------------------------
# Saving and loading: the function by its import path.


def _resolve(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _function_ref(fn: Any, owner: Any) -> dict[str, str]:
    """``{"module": ..., "qualname": ...}`` naming ``fn``, checked to import back as ``fn`` itself."""
    named = fn if getattr(fn, "__qualname__", None) is not None else getattr(fn, "__wrapped__", fn)
    module = getattr(named, "__module__", None)
    qualname = getattr(named, "__qualname__", None)
    label = f"{module}.{qualname}" if module and qualname else repr(fn)
    advice = (
        " flambeau saves the function by its import path (module and qualified name) and imports it again on"
        " load; define it with def at the top level of a module that the loading program can import, and pass"
        f" that function to {type(owner).__name__}."
    )
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise SerializationError(f"{owner!r}: cannot save its function {fn!r}, which has no import path.{advice}")
    if "<lambda>" in qualname or "<locals>" in qualname:
        kind = "a lambda" if "<lambda>" in qualname else "a function defined inside another function"
        raise SerializationError(f"{owner!r}: cannot save its function {label}, {kind}.{advice}")
    try:
        found = _resolve(module, qualname)
    except (ImportError, AttributeError):
        found = None
    if found is not fn:
        raise SerializationError(
            f"{owner!r}: cannot save its function {label}: importing {qualname!r} from {module!r} does not give this"
            f" function back.{advice}"
        )
    return {"module": module, "qualname": qualname}


def _function_of(ref: Any, cls: type) -> Any:
    try:
        module, qualname = ref["module"], ref["qualname"]
    except (TypeError, KeyError):
        raise SerializationError(f"{cls.__name__}: the saved function reference {ref!r} is malformed") from None
    try:
        return _resolve(module, qualname)
    except (ImportError, AttributeError) as e:
        raise SerializationError(
            f"{cls.__name__}: cannot load its function {qualname!r} from module {module!r} ({e}); the saved file"
            " names the function by import path: make that module importable (and define the function in it)"
        ) from None


def _register_saving(cls: type, name: str) -> None:
    def to_state(obj: Any) -> dict[str, Any]:
        state = dict(obj.__dict__)
        state["fn"] = _function_ref(obj.fn, obj)
        if "_pending" in state:
            state["_pending"] = None
        return state

    def from_state(state: dict[str, Any], cls: type = cls) -> Any:
        state = dict(state)
        state["fn"] = _function_of(state.get("fn"), cls)
        obj: Any = object.__new__(cls)
        obj.__dict__.update(state)
        return obj

    ft.register_type(cls, name, to_state, from_state, override=True)


_register_saving(AutoModule, "flambeau.autograd.AutoModule")
_register_saving(AutoCriterion, "flambeau.autograd.AutoCriterion")
