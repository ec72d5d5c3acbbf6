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
from .checks import GradientCheckError, check_grads
from .differentiate import grad, jacobian
from .errors import MissingGradientError, NonScalarOutputError, TracedValueError
from .registry import GradientInfo, defvjp, gradients_info, register_gradients, undefvjp
from .tracer import Box, Primitive, detach

__all__ = [
    "Box",
    "GradientCheckError",
    "GradientInfo",
    "MissingGradientError",
    "check_grads",
    "NonScalarOutputError",
    "Primitive",
    "TracedValueError",
    "defvjp",
    "detach",
    "grad",
    "gradients_info",
    "jacobian",
    "loss",
    "primitive",
    "register_gradients",
    "undefvjp",
    "util",
]


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
