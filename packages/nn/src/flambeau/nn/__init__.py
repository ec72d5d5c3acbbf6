"""flambeau.nn: Torch's neural-network modules, containers and criteria, with hand-written backward passes.

Modules are written with flambeau tensor ops, so they run on every backend; convolution and
pooling use kernels a backend may replace. ``nn.image`` holds the kernels of the normalization
layers (``gaussian``, ``gaussian1D``); ``nn.jacobian`` the finite-difference checks;
``nn.datasets`` reads MNIST's idx files (``load_mnist``, ``read_idx``).

>>> import flambeau.tensor as ft
>>> import flambeau.nn as nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3), nn.LogSoftMax())
>>> crit = nn.ClassNLLCriterion()
>>> x, y = ft.randn(16, 4), ft.LongTensor([0, 1, 2, 0] * 4)
>>> loss = crit.forward(model.forward(x), y)
>>> _ = model.backward(x, crit.backward(model.output, y))
>>> isinstance(loss, float)
True
"""

from __future__ import annotations

from . import criteria, datasets, image, jacobian, simple, utils
from .container import *  # noqa: F403
from .containers import *  # noqa: F403
from .criteria_classification import *  # noqa: F403
from .criteria_composite import *  # noqa: F403
from .criteria_embedding import *  # noqa: F403
from .criteria_regression import *  # noqa: F403
from .criterion import *  # noqa: F403
from .elementwise import *  # noqa: F403
from .gpu import *  # noqa: F403
from .linear import *  # noqa: F403
from .module import Module
from .normalization import *  # noqa: F403
from .regularization import *  # noqa: F403
from .resample import *  # noqa: F403
from .reshaping import *  # noqa: F403
from .spatial import *  # noqa: F403
from .table import *  # noqa: F403
from .temporal import *  # noqa: F403
from .trainer import *  # noqa: F403
from .transfer import *  # noqa: F403
from .volumetric import *  # noqa: F403
