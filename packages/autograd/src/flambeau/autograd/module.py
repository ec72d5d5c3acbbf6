"""Building blocks as plain functions: torch-autograd's ``autograd.module``.

Each builder returns ``(f, params)`` (``MaskedBatchNormalization`` also a state dict) with
``params`` a list holding one parameter dict; ``f`` accepts that list or the dict itself, so a
block's parameters can be stored anywhere in a larger parameter tree. Everything is written with
flambeau ops, so ``grad`` differentiates through it.

* :func:`LayerNormalization`: normalise each row by its own mean and standard deviation.
* :func:`MaskedBatchNormalization`: batch normalization of padded sequences, with a validity mask.
* :func:`SoftAttention`: soft attention over a set of subject vectors given a hidden state.

>>> import flambeau.tensor as ft
>>> from flambeau.autograd import grad, module
>>> layer_norm, params = module.LayerNormalization(3)
>>> y = layer_norm(params, ft.tensor([[1.0, 2.0, 3.0]]))
>>> [round(v, 4) for v in y[0].tolist()]
[-1.2247, 0.0, 1.2247]
>>> dparams, value = grad(lambda p, x: layer_norm(p, x).pow(3).sum())(params, ft.tensor([[1.0, 2.0, 4.0]]))
>>> sorted(dparams[0])
['bias', 'gain']
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor.errors import ArgumentError, ShapeError

from .tracer import detach

__all__ = ["LayerNormalization", "MaskedBatchNormalization", "SoftAttention"]


def _params_of(params: Any) -> dict[str, Any]:
    """The parameter dict: ``params`` itself, or its first entry (torch-autograd's ``params[1] or params``)."""
    return params if isinstance(params, dict) else params[0]


def _size(n: Any, what: str) -> int:
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n <= 0:
        raise ArgumentError(f"{what} must be a positive integer, got {n!r}")
    return int(n)


def _layer_norm(gain: Any, bias: Any, x: Any, eps: float) -> Any:
    """``(x - mean) / (std + eps) * gain + bias`` per row of ``x`` (population std over the last dim)."""
    x_in = x.view(1, x.size(0)) if x.dim() == 1 else x
    centered = x_in - x_in.mean(1, keepdim=True)
    std = ft.sqrt((centered * centered).mean(1, keepdim=True))
    out = centered / (std + eps) * gain + bias
    return out.view(*x.size())


def LayerNormalization(  # noqa: N802
    n_outputs: int = 10,
    *,
    dtype: Any = None,
    device: Any = None,
    params: list[Any] | None = None,
) -> tuple[Callable[..., Any], list[Any]]:
    """Layer normalization (Ba, Kiros and Hinton 2016): torch-autograd's ``module.LayerNormalization``.

    Each row of ``x`` is centred by its mean and divided by its standard deviation (the population
    one: divided by ``n_outputs``) plus ``eps``, then scaled by ``gain`` and shifted by ``bias``.

    Parameters
    ----------
    n_outputs : int, optional
        The number of features of each row (default 10).
    dtype, device : optional
        Of the parameters (default the default dtype and the current device).
    params : list, optional
        An existing list to append the parameter dict to.

    Returns
    -------
    f : callable
        ``f(params, x, eps=1e-5) -> Tensor`` of ``x``'s size, for ``x`` of ``[batch x] n_outputs``.
    params : list
        ``[{"gain": ones 1 x n_outputs, "bias": zeros 1 x n_outputs}]``.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import module
    >>> f, params = module.LayerNormalization(4)
    >>> params[0]["gain"].size(), params[0]["bias"].size()
    (Size([1, 4]), Size([1, 4]))
    >>> y = f(params, ft.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 0.0, 8.0]]))
    >>> [round(v, 4) for v in y.mean(1).tolist()], [round(v, 4) for v in y.var(1, unbiased=False).tolist()]
    ([0.0, 0.0], [1.0, 1.0])
    """
    n = _size(n_outputs, "LayerNormalization: n_outputs")
    p = {"gain": ft.ones(1, n, dtype=dtype, device=device), "bias": ft.zeros(1, n, dtype=dtype, device=device)}
    params = [] if params is None else params
    params.append(p)

    def layer_norm(params: Any, x: Any, eps: float = 1e-5) -> Any:
        q = _params_of(params)
        if x.dim() not in (1, 2) or x.size(-1) != n:
            raise ShapeError(f"LayerNormalization: expected an input of [batch x] {n}, got size {tuple(x.size())}")
        return _layer_norm(q["gain"], q["bias"], x, eps)

    return layer_norm, params


def MaskedBatchNormalization(  # noqa: N802
    n_outputs: int = 10,
    momentum: float = 0.1,
    *,
    dtype: Any = None,
    device: Any = None,
    params: list[Any] | None = None,
) -> tuple[Callable[..., Any], list[Any], dict[str, Any]]:
    """Batch normalization of padded sequences: torch-autograd's ``module.MaskedBatchNormalization``.

    Sequence-wise batch normalization (Laurent et al. 2015) where ``mask`` marks the valid
    entries. The statistics are taken over every valid row (batch and time together) and blended
    into the running estimates, which then normalise: with ``m = momentum`` when
    ``state["train"]`` is true and 0 otherwise,

    * ``running_mean <- m * mean + (1 - m) * running_mean``, ``mean`` the masked batch mean;
    * ``running_std <- m * std + (1 - m) * running_std``, ``std = sqrt(var + eps)`` with ``var``
      the masked mean of ``(x - running_mean)^2``;
    * ``y = (x - running_mean) * mask / running_std * gain + bias``.

    The gradient flows through the ``m``-weighted batch terms (the stored running values are
    constants). torch-autograd centred on ``running_std`` by mistake; the mean is used here.

    Parameters
    ----------
    n_outputs : int, optional
        The number of features (default 10).
    momentum : float, optional
        The weight of the batch statistics in the running ones (default 0.1).
    dtype, device, params : optional
        As in :func:`LayerNormalization`.

    Returns
    -------
    f : callable
        ``f(params, x, mask, state, eps=1e-5) -> Tensor`` of ``x``'s size, for ``x`` of
        ``[batch x [time x]] n_outputs`` and ``mask`` of 1 (valid) and 0 (padding) of the same
        size, or with a last dim of 1 (one flag per row). Updates ``state`` in place when
        ``state["train"]`` is true.
    params : list
        ``[{"gain": 0.1 (1 x n_outputs), "bias": zeros 1 x n_outputs}]`` (a gain below 1 is
        recommended for an LSTM, as torch-autograd notes).
    state : dict
        ``{"momentum": momentum, "train": True, "running_mean": zeros 1 x n, "running_std":
        ones 1 x n}``; set ``state["train"] = False`` to evaluate with the running statistics.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import module
    >>> f, params, state = module.MaskedBatchNormalization(2, momentum=1.0)
    >>> x = ft.tensor([[[1.0, 4.0], [3.0, 8.0]], [[2.0, 6.0], [99.0, 99.0]]])  # 2 x 2 x 2, last step padding
    >>> mask = ft.tensor([[[1.0], [1.0]], [[1.0], [0.0]]])
    >>> _ = f(params, x, mask, state)
    >>> state["running_mean"].tolist()  # over the three valid rows
    [[2.0, 6.0]]
    """
    n = _size(n_outputs, "MaskedBatchNormalization: n_outputs")
    p = {
        "gain": ft.full(1, n, fill_value=0.1, dtype=dtype, device=device),
        "bias": ft.zeros(1, n, dtype=dtype, device=device),
    }
    params = [] if params is None else params
    params.append(p)
    like = p["bias"]
    state: dict[str, Any] = {
        "momentum": momentum,
        "train": True,
        "running_mean": ft.zeros(1, n, dtype=like.dtype, device=like.device),
        "running_std": ft.ones(1, n, dtype=like.dtype, device=like.device),
    }

    def masked_batch_norm(params: Any, x: Any, mask: Any, state: dict[str, Any], eps: float = 1e-5) -> Any:
        q = _params_of(params)
        if x.dim() not in (1, 2, 3) or x.size(-1) != n:
            raise ShapeError(
                f"MaskedBatchNormalization: expected an input of [batch x [time x]] {n}, got size {tuple(x.size())}"
            )
        if mask.dim() != x.dim() or tuple(mask.size())[:-1] != tuple(x.size())[:-1] or mask.size(-1) not in (1, n):
            raise ShapeError(
                f"MaskedBatchNormalization: the mask must have the input's size {tuple(x.size())} (or a last dim of 1),"
                f" got {tuple(mask.size())}"
            )
        train = bool(state.get("train", True))
        m = float(state.get("momentum", 0.1)) if train else 0.0
        x_in = x.reshape(-1, n)
        mask_in = detach(mask).reshape(-1, mask.size(-1)).expand(x_in.size(0), n).type_as(detach(x_in))
        count = mask_in.sum(0, keepdim=True)
        mean = (x_in * mask_in).sum(0, keepdim=True) / count
        running_mean = m * mean + (1 - m) * state["running_mean"]
        centered = (x_in - running_mean) * mask_in
        std = ft.sqrt((centered * centered).sum(0, keepdim=True) / count + eps)
        running_std = m * std + (1 - m) * state["running_std"]
        if train:
            state["running_mean"] = detach(running_mean)
            state["running_std"] = detach(running_std)
        out = centered / running_std * q["gain"] + q["bias"]
        return out.view(*x.size())

    return masked_batch_norm, params, state


def SoftAttention(  # noqa: N802
    hidden_features: int = 10,
    subject_features: int = 15,
    subject_choices: int = 20,
    layer_normalization: bool = False,
    *,
    dtype: Any = None,
    device: Any = None,
    params: list[Any] | None = None,
) -> tuple[Callable[..., Any], list[Any]]:
    """Deterministic soft attention (Xu et al. 2015, Show, Attend and Tell): torch-autograd's ``module.SoftAttention``.

    The score of each subject choice ``j`` is ``W_att_subject . subject[:, j] + (h W_att_h)_j +
    b_att_j``; ``focus = softmax(scores)`` over the choices, and ``attention = sum_j focus_j
    subject[:, j]``, the expected subject vector.

    Parameters
    ----------
    hidden_features : int, optional
        The size of the hidden state ``h`` (default 10).
    subject_features : int, optional
        The size of each subject vector (default 15).
    subject_choices : int, optional
        The number of subject vectors to choose among (default 20).
    layer_normalization : bool, optional
        Layer-normalise the scores (with a gain ``focus_ln_gain`` and a bias ``focus_ln_bias``,
        which replaces ``b_att``) before the softmax (default False).
    dtype, device, params : optional
        As in :func:`LayerNormalization`.

    Returns
    -------
    f : callable
        ``f(params, subject, h) -> (attention, focus)`` for ``subject`` of ``[batch x]
        subject_features x subject_choices`` and ``h`` of ``[batch x] hidden_features``:
        ``attention`` is ``[batch x] subject_features``, ``focus`` ``[batch x] subject_choices``
        (each row sums to 1).
    params : list
        ``[{"W_att_subject": 1 x 1 x subject_features, "W_att_h": hidden_features x
        subject_choices, "b_att": 1 x subject_choices}]``, zeros (so the focus starts uniform),
        with ``focus_ln_gain`` (ones) and ``focus_ln_bias`` (zeros) instead of ``b_att`` under
        layer normalization.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import module
    >>> f, params = module.SoftAttention(hidden_features=2, subject_features=3, subject_choices=4)
    >>> subject = ft.arange(12.0).view(3, 4)
    >>> attention, focus = f(params, subject, ft.ones(2))
    >>> focus.tolist(), attention.tolist()  # zero parameters: a uniform focus, the mean subject vector
    ([0.25, 0.25, 0.25, 0.25], [1.5, 5.5, 9.5])
    """
    h_size = _size(hidden_features, "SoftAttention: hidden_features")
    s_size = _size(subject_features, "SoftAttention: subject_features")
    choices = _size(subject_choices, "SoftAttention: subject_choices")
    p = {
        "W_att_subject": ft.zeros(1, 1, s_size, dtype=dtype, device=device),
        "W_att_h": ft.zeros(h_size, choices, dtype=dtype, device=device),
    }
    if layer_normalization:
        p["focus_ln_gain"] = ft.ones(1, choices, dtype=dtype, device=device)
        p["focus_ln_bias"] = ft.zeros(1, choices, dtype=dtype, device=device)
    else:
        p["b_att"] = ft.zeros(1, choices, dtype=dtype, device=device)
    params = [] if params is None else params
    params.append(p)

    def soft_attention(params: Any, subject: Any, h: Any) -> tuple[Any, Any]:
        q = _params_of(params)
        single = subject.dim() == 2
        subject_in = subject.view(1, *subject.size()) if single else subject
        h_in = h.view(1, h.size(0)) if h.dim() == 1 else h
        if subject_in.dim() != 3 or tuple(subject_in.size())[1:] != (s_size, choices):
            raise ShapeError(
                f"SoftAttention: expected a subject of [batch x] {s_size} x {choices}, got size {tuple(subject.size())}"
            )
        batch = subject_in.size(0)
        if h_in.dim() != 2 or tuple(h_in.size()) != (batch, h_size):
            raise ShapeError(
                f"SoftAttention: expected h of size {batch} x {h_size} (or {h_size} for one subject),"
                f" got {tuple(h.size())}"
            )
        subject_logit = (subject_in * q["W_att_subject"].view(1, s_size, 1)).sum(1)
        logit = subject_logit + h_in @ q["W_att_h"]
        if layer_normalization:
            logit = _layer_norm(q["focus_ln_gain"], q["focus_ln_bias"], logit, 1e-5)
        else:
            logit = logit + q["b_att"]
        focus = ft.exp(logit - ft.logsumexp(logit, 1, True))
        attention = (subject_in * focus.view(batch, 1, choices)).sum(2)
        if single:
            return attention[0], focus[0]
        return attention, focus

    return soft_attention, params
