"""flambeau.autograd: gradients of ordinary Python code on flambeau tensors.

>>> import flambeau.tensor as ft
>>> from flambeau.autograd import grad
>>> def f(a):
...     for _ in range(2):
...         a = a * a
...     return a
>>> grad(f)(3.0)[:1], float(grad(f)(3.0)[1])
((108.0,), 81.0)
"""

from __future__ import annotations

from typing import Any

from . import loss, util
from .anomaly import detect_anomaly
from .checkpoint import checkpoint
from .checks import GradientCheckError, check_grads
from .compiler import optimize
from .differentiate import grad, jacobian
from .errors import AnomalyError, MissingGradientError, NonScalarOutputError, TracedValueError
from .profile import profile
from .registry import GradientInfo, defvjp, gradients_info, register_gradients, undefvjp
from .tracer import Box, Primitive, detach
from .transforms import (
    elementwise_grad,
    hessian,
    hessian_vector_product,
    hvp,
    jvp,
    make_jvp,
    make_vjp,
    value_and_grad,
)

__all__ = [
    "AnomalyError",
    "Box",
    "GradientCheckError",
    "GradientInfo",
    "MissingGradientError",
    "check_grads",
    "checkpoint",
    "NonScalarOutputError",
    "Primitive",
    "TracedValueError",
    "defvjp",
    "detach",
    "detect_anomaly",
    "elementwise_grad",
    "grad",
    "gradients_info",
    "hessian",
    "hessian_vector_product",
    "hvp",
    "jacobian",
    "jvp",
    "loss",
    "make_jvp",
    "make_vjp",
    "optimize",
    "primitive",
    "profile",
    "register_gradients",
    "undefvjp",
    "util",
    "value_and_grad",
]


# Reached lazily: flambeau.nn is an optional dependency (the ``nn`` extra), and the model
# builders are only imported when used.
_LAZY = {
    "nn": ("flambeau.autograd.nn", None),
    "functionalize": ("flambeau.autograd.nn", "functionalize"),
    "AutoModule": ("flambeau.autograd.automodule", "AutoModule"),
    "AutoCriterion": ("flambeau.autograd.automodule", "AutoCriterion"),
    "model": ("flambeau.autograd.model", None),
    "module": ("flambeau.autograd.module", None),
    "optim": ("flambeau.autograd.optim", None),
    "train_step": ("flambeau.autograd.train", "train_step"),
}


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'flambeau.autograd' has no attribute {name!r}")
    import importlib

    mod = importlib.import_module(where[0])
    return mod if where[1] is None else getattr(mod, where[1])


def primitive(fn: Any = None, *, name: str | None = None) -> Any:
    """Make ``fn`` one op for autograd: traced as a whole, its gradient given by rules you attach.

    Attach one rule per parameter with ``p.defvjp(vjp0, vjp1, ...)``, each ``vjp(g, ans, *args)``
    (``None`` for a parameter with no gradient). Inside ``fn`` the arguments are plain values.

    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import grad, primitive
    >>> @primitive
    ... def logsumexp(x):
    ...     m = x.max()
    ...     return m + (x - m).exp().sum().log()
    >>> _ = logsumexp.defvjp(lambda g, ans, x: g * (x - ans).exp())
    >>> grad(logsumexp)(ft.Tensor([0.0, 0.0]))[0].tolist()
    [0.5, 0.5]
    """
    if fn is None:
        return lambda f: Primitive(f, name)
    return Primitive(fn, name)
