"""Simple layers (Torch's simple.md): Linear and the shape, arithmetic and reduction layers.

The layers live in :mod:`.linear`, :mod:`.reshaping`, :mod:`.elementwise` and :mod:`.regularization`;
this module re-exports them, so ``from flambeau.nn.simple import Linear`` keeps working.
"""

from __future__ import annotations

from . import elementwise, linear, regularization, reshaping
from .elementwise import *  # noqa: F403
from .linear import *  # noqa: F403
from .regularization import *  # noqa: F403
from .reshaping import *  # noqa: F403

__all__ = [*linear.__all__, *reshaping.__all__, *elementwise.__all__, *regularization.__all__]
