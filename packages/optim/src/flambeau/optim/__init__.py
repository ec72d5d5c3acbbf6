"""flambeau.optim: Torch's optimizers, ``x, fs = optim.sgd(opfunc, x, config, state)``, plus Logger and ConfusionMatrix.

``x`` is a flat 1-D tensor (as from ``model.get_parameters()``) or a nest of dicts and lists of
tensors, updated in place; ``opfunc(x)`` returns ``(f, df/dx)`` in the same form. Config keys are
Torch's in snake_case, with Torch's defaults; when ``state`` is omitted the config dict keeps the
state, so pass the same dict on every call.

>>> import flambeau.tensor as ft
>>> import flambeau.optim as optim
>>> x = ft.Tensor([3.0, -2.0])
>>> config = {"learning_rate": 0.1}
>>> for _ in range(100):
...     x, (f,) = optim.sgd(lambda x: ((x * x).sum().item(), 2 * x), x, config)
>>> round(f, 6) < 1e-6
True
"""

from __future__ import annotations

from . import confusion, derivative_free, first_order, fista, line_search, logger, quasi_newton
from .confusion import *  # noqa: F403
from .core import Config, flatten, leaves, optimizer, unflatten
from .derivative_free import *  # noqa: F403
from .first_order import *  # noqa: F403
from .fista import *  # noqa: F403
from .line_search import *  # noqa: F403
from .logger import *  # noqa: F403
from .quasi_newton import *  # noqa: F403

__all__ = ["Config", "flatten", "leaves", "optimizer", "unflatten"]
for _m in (first_order, quasi_newton, line_search, derivative_free, fista, logger, confusion):
    __all__ += _m.__all__
