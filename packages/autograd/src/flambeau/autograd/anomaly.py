"""Anomaly detection: find the op, and the line of your code, where a NaN or an infinity appears.

Under ``with detect_anomaly():`` every traced op remembers the line of the user's code that called
it, its result is checked for NaN/Inf, and in the backward pass each gradient a rule returns is
checked too. The first non-finite value raises :class:`~flambeau.autograd.AnomalyError` naming
the op, the argument (backward) and that line. Off, it costs the tracer one ``is None`` test per
op and per backward node (see :mod:`flambeau.autograd.monitor`).
"""

from __future__ import annotations

import contextlib
from typing import Any

from .monitor import MONITOR


class AnomalyMode(contextlib.ContextDecorator):
    """The context manager (and decorator) :func:`detect_anomaly` returns.

    Modes nest; the innermost one's ``forward`` setting is in force.

    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import grad, detect_anomaly
    >>> mode = detect_anomaly(forward=False)
    >>> with mode:
    ...     dx, y = grad(lambda x: ft.log(x).sum())(ft.Tensor([-1.0, 1.0]))
    >>> mode.forward, dx.tolist()  # forward results are not checked: log(-1) passes
    (False, [-1.0, 1.0])
    """

    def __init__(self, forward: bool = True) -> None:
        self.forward = forward

    def __enter__(self) -> AnomalyMode:
        MONITOR.add("anomaly", self)
        return self

    def __exit__(self, *exc: Any) -> None:
        MONITOR.remove("anomaly", self)

    def __repr__(self) -> str:
        return f"detect_anomaly(forward={self.forward})"


def detect_anomaly(forward: bool = True) -> AnomalyMode:
    """Raise :class:`~flambeau.autograd.AnomalyError` at the first NaN or infinity that differentiation meets.

    Use it as ``with detect_anomaly(): ...`` around the ``grad`` call (or as a decorator). While it
    is on, every op ``grad`` traces notes the line of your code that called it (the first stack
    frame outside flambeau) and

    - its forward result is checked: the first non-finite one raises, naming the op and the line
      (``forward=False`` skips this check, for code that uses ``-inf`` on purpose, e.g. masks);
    - in the backward pass, each gradient a rule returns is checked: the first non-finite one
      raises, naming the op whose rule produced it, the argument, and the line where that op was
      called in the forward pass.

    A checkpointed segment is checked as a whole in the forward pass (its ops run untraced there),
    op by op when the backward pass recomputes it. Checking costs time (each result is scanned);
    when off, the tracer pays one test per op.

    Parameters
    ----------
    forward : bool, default True
        Also check the results of the forward pass (not only the gradients).

    Returns
    -------
    AnomalyMode
        A context manager, also usable as a decorator.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import AnomalyError, grad, detect_anomaly
    >>> f = lambda x: ft.sqrt(x).sum()
    >>> with detect_anomaly():
    ...     try:
    ...         grad(f)(ft.Tensor([0.0, 4.0]))
    ...     except AnomalyError as e:
    ...         print(e)  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    the gradient rule of sqrt for argument 0 ('input') returned non-finite values (1 infinite of 2
    elements) in the backward pass; that sqrt was called at <doctest ...>:1: f = lambda x:
    ft.sqrt(x).sum(); the gradient flowing into it was finite
    """
    return AnomalyMode(forward)
