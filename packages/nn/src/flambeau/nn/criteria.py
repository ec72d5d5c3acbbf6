"""Criteria (Torch's criterion.md): the losses, each with its hand-written gradient.

Every criterion follows :class:`~flambeau.nn.criterion.Criterion`: ``forward(input, target)``
returns the loss as a Python float (kept in ``self.output``), ``backward(input, target)`` returns
``self.grad_input`` (a tensor, or a list for criteria over table inputs). Criteria with a
``size_average`` field average (over the elements, or the batch, as Torch does for each) when it is
true, the default, and sum otherwise.

Differences from Torch, all from flambeau's 0-based convention: class targets are ``0 .. C-1``
(ClassNLL, CrossEntropy, SpatialClassNLL, ClassSimplex, MultiMargin), and the target lists of
MultiLabelMarginCriterion end at the first ``-1`` (Torch's ended at the first ``0``, which is a
class here). ``get_top_prediction`` returns 0-based classes.

The criteria live in :mod:`.criteria_classification`, :mod:`.criteria_regression`,
:mod:`.criteria_embedding` and :mod:`.criteria_composite`; this module re-exports them, so
``from flambeau.nn.criteria import MSECriterion`` keeps working.
"""

from __future__ import annotations

from . import criteria_classification, criteria_composite, criteria_embedding, criteria_regression
from .criteria_classification import *  # noqa: F403
from .criteria_composite import *  # noqa: F403
from .criteria_embedding import *  # noqa: F403
from .criteria_regression import *  # noqa: F403

__all__ = [
    *criteria_classification.__all__,
    *criteria_regression.__all__,
    *criteria_embedding.__all__,
    *criteria_composite.__all__,
]
