"""Loss functions for models written as plain functions: torch-autograd's ``autograd.loss``.

Each takes the raw output of a network and a target and returns the loss as a 0-d tensor,
summed (not averaged) over every element as in torch-autograd; those that transform the output
first also return the transformed output, ``(loss, yhat)``, which ``grad`` passes through after
the gradient: ``dparams, loss, yhat = grad(f)(params, x, y)`` for an ``f`` that returns
``loss.cross_entropy(out, y)``.

============================  ===============================================  ==================
function                      loss                                             returns
============================  ===============================================  ==================
``log_multinomial_loss``      ``-sum(out * target)``, ``out`` log-probs        ``loss``
``log_bce_loss``              ``-sum(t log(out) + (1-t) log(1-out))``          ``loss``
``cross_entropy``             ``-sum(log_softmax(out) * target)``              ``(loss, yhat)``
``binary_cross_entropy``      BCE of ``yhat = sigmoid(out)(1-2p)+p``           ``(loss, yhat)``
``least_squares``             ``sum((out - target)^2)``                        ``(loss, out)``
``margin``                    pairwise hinge, positives over negatives         ``(loss, out)``
============================  ===============================================  ==================

Targets are tensors of ``out``'s size (one-hot rows for the multinomial losses, 0/1 for the
binary ones); the two multinomial losses also take a LongTensor of 0-based class indices.

>>> import flambeau.tensor as ft
>>> from flambeau.autograd import grad, loss, util
>>> W = ft.zeros(3, 2)
>>> x, y = ft.ones(4, 3), ft.LongTensor([0, 1, 1, 1])
>>> dW, value, yhat = grad(lambda W, x, y: loss.cross_entropy(x @ W, y))(W, x, y)
>>> round(value.item(), 4), dW[0].tolist()
(2.7726, [1.0, -1.0])
"""

from __future__ import annotations

import numbers
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, ShapeError

from . import util

__all__ = [
    "binary_cross_entropy",
    "cross_entropy",
    "least_squares",
    "log_bce_loss",
    "log_multinomial_loss",
    "margin",
]


def _class_target(out: Tensor, target: Any, who: str) -> Any:
    """``target`` as a tensor of ``out``'s dtype: class indices become one-hot rows along the last dim."""
    if isinstance(target, Tensor) and target.dtype.kind in "iub" and target.dim() == out.dim() - 1:
        if tuple(target.size()) != tuple(out.size())[:-1]:
            raise ShapeError(
                f"{who}: class indices of size {target.size()} do not match the output of size {out.size()}"
                " (expected the output's size without its last dim)"
            )
        return util.one_hot(target, out.size(-1), dtype=out.dtype, device=out.device)
    return _like(out, target)


def _like(out: Tensor, target: Any) -> Any:
    """``target`` converted to ``out``'s float dtype when it is an integer or byte tensor."""
    if isinstance(target, Tensor) and target.dtype.kind not in "fc":
        return target.type(out.dtype)
    return target


def log_multinomial_loss(out: Tensor, target: Any) -> Tensor:
    """The negative log-likelihood ``-sum(out * target)`` of log-probabilities ``out``.

    Parameters
    ----------
    out : Tensor
        Log-probabilities, e.g. ``util.log_softmax(scores)``: one row per example.
    target : Tensor
        One-hot rows of ``out``'s size (any weights work: the loss is linear in them), or a
        LongTensor of 0-based class indices of ``out``'s size without its last dim.

    Returns
    -------
    Tensor
        The loss, a 0-d tensor, summed over the batch (divide by the batch size for a mean).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import loss, util
    >>> out = util.log_softmax(ft.tensor([[0.0, 0.0], [0.0, 0.0]]))
    >>> round(loss.log_multinomial_loss(out, ft.tensor([[1.0, 0.0], [0.0, 1.0]])).item(), 6)
    1.386294
    >>> round(loss.log_multinomial_loss(out, ft.LongTensor([0, 1])).item(), 6)
    1.386294
    """
    return -(out * _class_target(out, target, "log_multinomial_loss")).sum()


def log_bce_loss(out: Tensor, target: Any, p: float | None = None) -> Tensor:
    """Binary cross-entropy of probabilities: ``-sum(t log(out) + (1 - t) log(1 - out))``.

    As in torch-autograd's ``logBCELoss``, ``p`` (when given) is first added to ``out``, and
    the shifted value is used in both logs: the loss is
    ``-sum(t log(out + p) + (1 - t) log(1 - out - p))``. It keeps ``log(out)`` finite for
    ``out = 0`` but not ``log(1 - out - p)`` for ``out`` near 1; :func:`binary_cross_entropy`,
    which takes scores rather than probabilities, is safe at both ends.

    Parameters
    ----------
    out : Tensor
        Probabilities in ``[0, 1]``, e.g. ``util.sigmoid(scores)``.
    target : Tensor
        0/1 targets (or probabilities) of ``out``'s size.
    p : float, optional
        A shift added to ``out`` before the logs (default none).

    Returns
    -------
    Tensor
        The loss, a 0-d tensor summed over every element (only the loss: no ``yhat``).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import loss
    >>> round(loss.log_bce_loss(ft.tensor([0.5, 0.9]), ft.tensor([1.0, 0.0])).item(), 6)
    2.995732
    >>> round(loss.log_bce_loss(ft.tensor([0.0, 0.5]), ft.tensor([1.0, 1.0]), 1e-6).item(), 4)
    14.5087
    """
    if p is not None:
        out = out + p
    t = _like(out, target)
    return -(t * ft.log(out) + (1 - t) * ft.log(1 - out)).sum()


def cross_entropy(out: Tensor, target: Any, dim: int = -1) -> tuple[Tensor, Tensor]:
    """Softmax cross-entropy of scores: ``(-sum(log_softmax(out) * target), log_softmax(out))``.

    Parameters
    ----------
    out : Tensor
        Unnormalised scores (logits), classes along ``dim``.
    target : Tensor
        One-hot rows of ``out``'s size (or class probabilities), or a LongTensor of 0-based
        class indices of ``out``'s size without its last dim.
    dim : int, optional
        The class dim (default the last). torch-autograd normalised over every element of
        ``out``, the same for a single example given as a 1-D tensor.

    Returns
    -------
    loss : Tensor
        A 0-d tensor, summed over the batch.
    yhat : Tensor
        The **log**-probabilities ``log_softmax(out, dim)``, as torch-autograd's
        ``crossEntropy`` returns them (``yhat.exp()`` gives the probabilities; ``argmax`` is the
        same either way).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import loss
    >>> value, yhat = loss.cross_entropy(ft.tensor([[0.0, 0.0]]), ft.tensor([[1.0, 0.0]]))
    >>> round(value.item(), 6), [round(v, 6) for v in yhat.exp()[0].tolist()]
    (0.693147, [0.5, 0.5])
    """
    yhat = util.log_softmax(out, dim)
    return -(yhat * _class_target(out, target, "cross_entropy")).sum(), yhat


def binary_cross_entropy(out: Tensor, target: Any) -> tuple[Tensor, Tensor]:
    """Binary cross-entropy of scores, through a sigmoid kept away from 0 and 1.

    With ``p = 1e-6``, ``yhat = sigmoid(out) * (1 - 2p) + p`` (in ``[p, 1 - p]``, so both logs
    stay finite) and the loss is ``-sum(t log(yhat) + (1 - t) log(1 - yhat))``, as in
    torch-autograd's ``binaryCrossEntropy``.

    Parameters
    ----------
    out : Tensor
        Unnormalised scores (logits).
    target : Tensor
        0/1 targets (or probabilities) of ``out``'s size.

    Returns
    -------
    loss : Tensor
        A 0-d tensor, summed over every element.
    yhat : Tensor
        The predicted probabilities ``sigmoid(out) * (1 - 2p) + p``.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import loss
    >>> value, yhat = loss.binary_cross_entropy(ft.tensor([0.0, 100.0]), ft.tensor([1.0, 1.0]))
    >>> round(value.item(), 5), [round(v, 9) for v in yhat.tolist()]
    (0.69315, [0.5, 0.999999])
    """
    p = 1e-6
    yhat = util.sigmoid(out) * (1 - 2 * p) + p
    t = _like(out, target)
    return -(t * ft.log(yhat) + (1 - t) * ft.log(1 - yhat)).sum(), yhat


def least_squares(out: Tensor, target: Any) -> tuple[Tensor, Tensor]:
    """The sum of squared errors ``sum((out - target)^2)`` (no factor 1/2, no mean).

    Parameters
    ----------
    out : Tensor
        Predictions.
    target : Tensor
        Targets of ``out``'s size (or one that broadcasts to it).

    Returns
    -------
    loss : Tensor
        A 0-d tensor.
    yhat : Tensor
        ``out`` itself.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import grad, loss
    >>> value, yhat = loss.least_squares(ft.tensor([1.0, 2.0]), ft.tensor([0.0, 4.0]))
    >>> value.item(), yhat.tolist()
    (5.0, [1.0, 2.0])
    >>> grad(lambda o: loss.least_squares(o, ft.tensor([0.0, 4.0])))(ft.tensor([1.0, 2.0]))[0].tolist()
    [2.0, -4.0]
    """
    d = out - _like(out, target)
    return (d * d).sum(), out


def margin(out: Tensor, target: Any, margin: float = 1.0) -> tuple[Tensor, Tensor]:
    """Pairwise (ranking) hinge loss: every positive should score ``margin`` above every negative.

    With ``P`` the scores where ``target == 1`` and ``N`` those where ``target == 0`` (other
    target values take no part), the loss is ``sum over i in P, j in N of max(0, margin -
    (out[i] - out[j]))``, as torch-autograd's ``loss.margin``. Its gradient for a pair that
    violates the margin is ``-1`` for the positive and ``+1`` for the negative (0 at the hinge
    itself). It is 0 when either set is empty.

    Parameters
    ----------
    out : Tensor
        Scores, of any size.
    target : Tensor
        Labels of ``out``'s size: 1 for positives, 0 for negatives.
    margin : float, optional
        The wanted gap (default 1).

    Returns
    -------
    loss : Tensor
        A 0-d tensor.
    yhat : Tensor
        ``out`` itself.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import grad, loss
    >>> out, target = ft.tensor([2.0, 0.5, 0.0, 1.0]), ft.tensor([1.0, 1.0, 0.0, 0.0])
    >>> loss.margin(out, target)[0].item()  # pairs (2, 1): 0, (0.5, 0): 0.5, (0.5, 1): 1.5
    2.0
    >>> grad(lambda o: loss.margin(o, target))(out)[0].tolist()
    [0.0, -2.0, 1.0, 1.0]
    """
    if not isinstance(target, Tensor):
        target = ft.tensor(target, device=out.device)
    if tuple(target.size()) != tuple(out.size()):
        raise ShapeError(f"margin: target of size {target.size()} does not match the output of size {out.size()}")
    if not isinstance(margin, numbers.Real):
        raise ArgumentError(f"margin: margin must be a number, got {type(margin).__name__}")
    positives = ft.masked_select(out, ft.eq(target, 1))
    negatives = ft.masked_select(out, ft.eq(target, 0))
    diffs = margin - (positives.unsqueeze(1) - negatives.unsqueeze(0))
    return ft.clamp(diffs, min=0).sum(), out
