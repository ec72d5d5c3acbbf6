"""Ready-made models as plain functions: torch-autograd's ``autograd.model``.

Each builder returns ``(f, params)`` or ``(f, params, layers)``: ``f(params, x, ...)`` is an
ordinary function of flambeau tensors, so ``grad(loss_of(f))`` differentiates it, and ``params`` is
a nested list / dict of tensors to train. Every layer is written with flambeau ops (no
``flambeau.nn`` module is involved), with the parameter layout and initialisation of the Torch7
module it stands for:

==========================  =======================================================================
``NeuralNetwork``           [Dropout] -> Linear -> [BatchNormalization] -> activation, per layer
``SpatialNetwork``          [SpatialDropout] -> SpatialConvolutionMM -> [SpatialBatchNormalization]
                            -> activation -> [SpatialMaxPooling], per layer
``AlexNet``                 a ``SpatialNetwork`` followed by a ``NeuralNetwork`` classifier
``RecurrentNetwork``        ``h_t = tanh([x_t, h_{t-1}] W + b)``
``RecurrentLSTMNetwork``    an LSTM with one ``W`` for the four gates
``RecurrentGRUNetwork``     a GRU: ``W`` for the two gates, ``V`` and ``c`` for the candidate
==========================  =======================================================================

Feed-forward models take ``f(params, x, train=True)``: ``train=False`` turns dropout off and makes
batch normalization use its running statistics (Torch7's ``module:evaluate()``; torch-autograd's
functionalized modules kept that flag inside each module). The recurrent models take
``f(params, x, prev_state=None)`` with ``x`` of size ``batch x time x features`` (torch-autograd's
layout; a 2-D ``time x features`` sequence is a batch of one) and loop over time in Python, which
``grad`` records step by step.

>>> import flambeau.tensor as ft
>>> from flambeau.autograd import grad, loss, model
>>> _ = ft.manual_seed(0)
>>> f, params, layers = model.NeuralNetwork(input_features=4, hidden_features=[8, 3], classifier=True)
>>> x, y = ft.randn(5, 4), ft.LongTensor([0, 1, 2, 0, 1])
>>> def cost(params, x, y):
...     return loss.cross_entropy(f(params, x), y)[0]
>>> dparams, value = grad(cost)(params, x, y)
>>> [[tuple(g.size()) for g in layer] for layer in dparams]
[[(8, 4), (8,)], [(3, 8), (3,)]]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, ShapeError

from .rules.shape import embed_all
from .tracer import Primitive, detach
from .util import dropout as _dropout

__all__ = [
    "ACTIVATIONS",
    "AlexNet",
    "Layer",
    "NeuralNetwork",
    "RecurrentGRUNetwork",
    "RecurrentLSTMNetwork",
    "RecurrentNetwork",
    "SpatialNetwork",
    "activation",
    "sequence",
]


# --------------------------------------------------------------------------------------------
# Activations, by their nn names.


def _feature_dim(x: Tensor) -> int:
    """nn's feature dim: 0 for one sample (1-D, or C x H x W), 1 for a batch (N x n, N x C x H x W)."""
    return 0 if x.dim() in (1, 3) else 1


def _softplus(x: Tensor) -> Tensor:
    return ft.clamp(x, min=0) + ft.log1p(ft.exp(-ft.abs(x)))


ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "ReLU": lambda x: ft.clamp(x, min=0),
    "ReLU6": lambda x: ft.clamp(x, 0, 6),
    "LeakyReLU": lambda x: ft.clamp(x, min=0) + 0.01 * ft.clamp(x, max=0),
    "ELU": lambda x: ft.clamp(x, min=0) + ft.expm1(ft.clamp(x, max=0)),
    "Tanh": lambda x: ft.tanh(x),
    "HardTanh": lambda x: ft.clamp(x, -1, 1),
    "Sigmoid": lambda x: ft.sigmoid(x),
    "LogSigmoid": lambda x: -_softplus(-x),
    "SoftPlus": _softplus,
    "SoftSign": lambda x: x / (1 + ft.abs(x)),
    "SoftMax": lambda x: ft.exp(x - ft.logsumexp(x, _feature_dim(x), True)),
    "LogSoftMax": lambda x: x - ft.logsumexp(x, _feature_dim(x), True),
    "Abs": lambda x: ft.abs(x),
    "Square": lambda x: x * x,
    "Sqrt": lambda x: ft.sqrt(x),
    "Exp": lambda x: ft.exp(x),
    "Log": lambda x: ft.log(x),
    "Identity": lambda x: x,
}
"""The activations by nn module name, each written with flambeau ops (differentiable twice).

``SoftMax`` and ``LogSoftMax`` normalise over nn's feature dim: the only dim of a vector, each row
of a batch, the channels of an image (``C x H x W``) or of a batch of images. ``LeakyReLU`` has
nn's default slope 0.01 and ``ELU`` its ``alpha = 1``.
"""


def activation(name: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """The activation function called ``name`` (an nn module name), or ``name`` itself if callable.

    Parameters
    ----------
    name : str or callable
        One of :data:`ACTIVATIONS` (``"ReLU"``, ``"Tanh"``, ``"Sigmoid"``, ``"SoftMax"``,
        ``"LogSoftMax"``, ...), or a function of one tensor, returned as it is.

    Returns
    -------
    callable
        ``fn(x) -> Tensor``, made of flambeau ops (``grad`` differentiates it).

    Raises
    ------
    ArgumentError
        For a name that is not in :data:`ACTIVATIONS`.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import model
    >>> model.activation("ReLU")(ft.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    >>> [round(v, 4) for v in model.activation("SoftMax")(ft.tensor([0.0, 1.0])).tolist()]
    [0.2689, 0.7311]
    """
    if callable(name):
        return name
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ArgumentError(
            f"activation: unknown activation {name!r}; expected one of {', '.join(sorted(ACTIVATIONS))} or a function"
        ) from None


# --------------------------------------------------------------------------------------------
# Layers and sequences.


class Layer:
    """One stage of a sequential model: a function of (its parameters,) the input and the train flag.

    ``layer(params, x, train=True)`` applies the stage, reading its own entry ``params[index]``
    when it has parameters (``index`` is None for a parameter-free stage). ``kind`` is the name of
    the nn module it stands for and ``state`` holds what a batch normalization stage keeps between
    calls (``running_mean``, ``running_var``, ``momentum``, ``eps``), or None.

    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import model
    >>> f, params, layers = model.NeuralNetwork(input_features=3, hidden_features=[2])
    >>> layers
    [Reshape(3), Linear(3 -> 2), ReLU]
    >>> layers[1].index
    0
    """

    def __init__(
        self,
        kind: str,
        fn: Callable[..., Any],
        index: int | None = None,
        description: str = "",
        state: dict[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.fn = fn
        self.index = index
        self.description = description
        self.state = state

    def __call__(self, params: Any, x: Any, train: bool = True) -> Any:
        if self.index is None:
            return self.fn(x, train)
        return self.fn(params[self.index], x, train)

    def __repr__(self) -> str:
        return f"{self.kind}({self.description})" if self.description else self.kind


def sequence(layers: Sequence[Layer]) -> Callable[..., Any]:
    """The function applying ``layers`` in order: ``f(params, x, train=True)``.

    Parameters
    ----------
    layers : sequence of Layer
        The stages, each reading its own entry of ``params``.

    Returns
    -------
    callable
        ``f(params, x, train=True) -> Tensor``; the list is read at each call, so layers appended
        later are applied too (torch-autograd's ``model.common.sequence``).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import model
    >>> _, params, layers = model.NeuralNetwork(input_features=2, hidden_features=[2], activations="Tanh")
    >>> f = model.sequence(layers[:2])  # without the Tanh
    >>> params = [[ft.eye(2), ft.zeros(2)]]
    >>> f(params, ft.tensor([3.0, 4.0])).tolist()
    [3.0, 4.0]
    """

    def f(params: Any, x: Any, train: bool = True) -> Any:
        for layer in layers:
            x = layer(params, x, train)
        return x

    return f


def _fan_in_uniform(size: Sequence[int], fan_in: int, dtype: Any, device: Any) -> Tensor:
    """Torch's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    s = 1.0 / math.sqrt(fan_in)
    return ft.zeros(*size, dtype=dtype, device=device).uniform_(-s, s)


def _per_layer(value: Any, count: int, default: Any) -> list[Any]:
    """One value per layer: a single value for all, or a sequence (missing entries get ``default``).

    Entries past the last layer are ignored, as torch-autograd's ``poolings[i]`` lookups did (its
    default ``poolings={1,1,1}`` served networks of any depth).
    """
    if value is None:
        return [default] * count
    if isinstance(value, numbers.Number):
        return [value] * count
    values = list(value)[:count]
    return values + [default] * (count - len(values))


def _check_probability(p: Any, what: str) -> float:
    if not isinstance(p, numbers.Real) or not 0 <= float(p) < 1:
        raise ArgumentError(f"{what}: a dropout probability must satisfy 0 <= p < 1, got {p!r}")
    return float(p)


def _positive_ints(values: Any, what: str) -> list[int]:
    items = [values] if isinstance(values, numbers.Integral) else list(values)
    if not items or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) > 0 for v in items):
        raise ArgumentError(f"{what}: expected positive integers, got {values!r}")
    return [int(v) for v in items]


def _batch_norm(x: Any, weight: Any, bias: Any, state: dict[str, Any], train: bool, who: str) -> Any:
    """nn.BatchNormalization / SpatialBatchNormalization over dim 1 of ``N x C [x H x W]``.

    Training normalises with the batch mean and biased variance and moves the running statistics
    (running_var from the unbiased variance), as nn does; evaluation uses the running statistics.
    """
    c = state["running_mean"].size(0)
    if x.dim() < 2 or x.size(1) != c:
        raise ShapeError(f"{who}: expected a mini-batch N x {c} (x H x W), got an input of size {tuple(x.size())}")
    xf = x.reshape(x.size(0), c, -1)
    count = xf.size(0) * xf.size(2)
    if train:
        if count < 2:
            raise ShapeError(f"{who}: training needs more than one value per feature, got size {tuple(x.size())}")
        mean = xf.sum(2).sum(0) / count
        xc = xf - mean.view(1, c, 1)
        var = (xc * xc).sum(2).sum(0) / count
        m = state["momentum"]
        state["running_mean"] = (1 - m) * state["running_mean"] + m * detach(mean)
        state["running_var"] = (1 - m) * state["running_var"] + m * detach(var) * (count / (count - 1))
    else:
        mean, var = state["running_mean"], state["running_var"]
        xc = xf - mean.view(1, c, 1)
    out = xc * (weight / ft.sqrt(var + state["eps"])).view(1, c, 1) + bias.view(1, c, 1)
    return out.view(*x.size())


def _batch_norm_layer(
    kind: str, n: int, params: list[Any], layers: list[Layer], dtype: Any, device: Any, gain: float | None = None
) -> None:
    """Append a batch normalization stage (weight ~ U(0, 1) as nn, or ``gain``; bias 0) and its params."""
    weight = ft.zeros(n, dtype=dtype, device=device)
    weight = weight.fill_(gain) if gain is not None else weight.uniform_(0, 1)
    params.append([weight, ft.zeros(n, dtype=dtype, device=device)])
    state = _bn_state(n, dtype, device)
    layers.append(
        Layer(
            kind,
            lambda p, x, train: _batch_norm(x, p[0], p[1], state, train, kind),
            len(params) - 1,
            str(n),
            state,
        )
    )


def _bn_state(n: int, dtype: Any, device: Any) -> dict[str, Any]:
    return {
        "running_mean": ft.zeros(n, dtype=dtype, device=device),
        "running_var": ft.ones(n, dtype=dtype, device=device),
        "momentum": 0.1,
        "eps": 1e-5,
    }


def _activation_layer(name: Any, layers: list[Layer]) -> None:
    fn = activation(name)
    kind = name if isinstance(name, str) else getattr(name, "__name__", "activation")
    layers.append(Layer(kind, lambda x, train: fn(x)))


def _linear(p: Any, x: Any, train: bool) -> Any:
    weight, bias = p[0], p[1]
    if x.dim() == 1:
        return weight @ x + bias
    return x @ weight.t() + bias


def _reshape(n: int) -> Callable[..., Any]:
    """nn.Reshape(n): one sample when ``x`` has ``n`` elements and does not start with a dim of 1."""

    def reshape(x: Any, train: bool) -> Any:
        if x.numel() == n and x.size(0) != 1:
            return x.reshape(n)
        if x.numel() % n:
            raise ShapeError(f"Reshape: an input of size {tuple(x.size())} cannot be viewed as rows of {n} features")
        return x.reshape(-1, n)

    return reshape


# --------------------------------------------------------------------------------------------
# Feed-forward models.


def NeuralNetwork(  # noqa: N802
    input_features: int = 10,
    hidden_features: Sequence[int] | int = (100, 2),
    activations: str | Callable[[Tensor], Tensor] = "ReLU",
    classifier: bool = False,
    dropout_probs: float | Sequence[float] | None = None,
    batch_normalization: bool = False,
    *,
    dtype: Any = None,
    device: Any = None,
    params: list[Any] | None = None,
    layers: list[Layer] | None = None,
) -> tuple[Callable[..., Any], list[Any], list[Layer]]:
    """A multi-layer perceptron: torch-autograd's ``autograd.model.NeuralNetwork``.

    The input is first reshaped to ``input_features`` (nn.Reshape: one sample, or a batch of rows),
    then each layer is ``[Dropout] -> Linear -> [BatchNormalization] -> activation``.

    Parameters
    ----------
    input_features : int, optional
        The number of input features (default 10).
    hidden_features : sequence of int, optional
        The output size of each layer (default ``(100, 2)``).
    activations : str or callable, optional
        The activation after each layer, by nn name (see :data:`ACTIVATIONS`; default ``"ReLU"``)
        or a function of one tensor.
    classifier : bool, optional
        True leaves the last layer linear: no activation and no batch normalization after it, so
        its output are scores for a loss such as ``loss.cross_entropy`` (default False).
    dropout_probs : float or sequence of float, optional
        The dropout probability before each layer's Linear (one value for every layer, or one per
        layer; default no dropout). Dropout (nn.Dropout: the kept elements are scaled by
        ``1/(1-p)``) acts only when ``f`` is called with ``train=True``.
    batch_normalization : bool, optional
        Add nn.BatchNormalization after each Linear (default False). Its running statistics live
        in the layer's ``state``, updated by every call with ``train=True`` (with ``momentum``
        0.1) and used when ``train=False``.
    dtype, device : optional
        Of the parameters (default the default dtype and the current device); torch-autograd's
        ``cuda=true`` is ``device="cuda"``.
    params, layers : list, optional
        Existing lists to append to (as torch-autograd's extra arguments, used by :func:`AlexNet`).

    Returns
    -------
    f : callable
        ``f(params, x, train=True) -> Tensor``: ``N x hidden_features[-1]`` for a batch, a vector
        for one sample.
    params : list
        One ``[weight, bias]`` per Linear (weight ``out x in``, as nn.Linear, initialised
        U(-1/sqrt(in), 1/sqrt(in))) and per batch normalization (weight ~ U(0, 1), bias 0).
    layers : list of Layer
        The stages in order; ``f`` is :func:`sequence` of them.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import model
    >>> f, params, layers = model.NeuralNetwork(input_features=784, hidden_features=[50, 10], classifier=True)
    >>> layers
    [Reshape(784), Linear(784 -> 50), ReLU, Linear(50 -> 10)]
    >>> f(params, ft.randn(7, 28, 28)).size()
    Size([7, 10])
    """
    widths = _positive_ints(hidden_features, "NeuralNetwork: hidden_features")
    n_in = _positive_ints(input_features, "NeuralNetwork: input_features")[0]
    probs = [_check_probability(p, "NeuralNetwork") for p in _per_layer(dropout_probs, len(widths), 0.0)]
    activation(activations)  # an unknown name fails now, not at the first call
    params = [] if params is None else params
    layers = [] if layers is None else layers
    layers.append(Layer("Reshape", _reshape(n_in), description=str(n_in)))
    for i, (width, p) in enumerate(zip(widths, probs, strict=True)):
        last = classifier and i == len(widths) - 1
        if p > 0:
            layers.append(Layer("Dropout", lambda x, train, p=p: _dropout(x, p, train), description=f"{p:g}"))
        params.append(
            [
                _fan_in_uniform((width, n_in), n_in, dtype, device),
                _fan_in_uniform((width,), n_in, dtype, device),
            ]
        )
        layers.append(Layer("Linear", _linear, len(params) - 1, f"{n_in} -> {width}"))
        if batch_normalization and not last:
            _batch_norm_layer("BatchNormalization", width, params, layers, dtype, device)
        if not last:
            _activation_layer(activations, layers)
        n_in = width
    return sequence(layers), params, layers


def _pad2d(x: Any, ph: int, pw: int) -> Any:
    """Zero-pad the last two dims of ``x`` by ``ph`` rows and ``pw`` columns on each side."""
    if ph:
        z = ft.zeros(*x.size()[:-2], ph, x.size(-1), dtype=x.dtype, device=x.device)
        x = ft.cat([z, x, z], x.dim() - 2)
    if pw:
        z = ft.zeros(*x.size()[:-1], pw, dtype=x.dtype, device=x.device)
        x = ft.cat([z, x, z], x.dim() - 1)
    return x


def _conv2d(x: Any, weight: Any, bias: Any, stride: int, pad: int) -> Any:
    """SpatialConvolutionMM: cross-correlation of ``[N x] C x H x W`` with ``O x C x k x k`` (im2col + matmul)."""
    single = x.dim() == 3
    if single:
        x = x.view(1, *x.size())
    if x.dim() != 4 or x.size(1) != weight.size(1):
        raise ShapeError(
            f"SpatialConvolution: expected an input of {weight.size(1)} x H x W or N x {weight.size(1)} x H x W,"
            f" got size {tuple(x.size())}"
        )
    n, c = x.size(0), x.size(1)
    o, kh, kw = weight.size(0), weight.size(2), weight.size(3)
    x = _pad2d(x, pad, pad)
    if x.size(2) < kh or x.size(3) < kw:
        raise ShapeError(f"SpatialConvolution: the padded input {tuple(x.size())} is smaller than the {kh}x{kw} kernel")
    cols = x.unfold(2, kh, stride).unfold(3, kw, stride)  # N x C x oh x ow x kh x kw
    oh, ow = cols.size(2), cols.size(3)
    # The windows as a (C kh kw) x (N oh ow) matrix: the copy's inner loop runs along a row of
    # the image (ow), 2 to 4 times faster on the cpu than along a window's row (kw, 5 long).
    cols = cols.permute(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * oh * ow)
    out = (weight.view(o, c * kh * kw) @ cols + bias.view(o, 1)).view(o, n, oh, ow).permute(1, 0, 2, 3)
    return out[0] if single else out


def _max_pool2d(x: Any, k: int) -> Any:
    """SpatialMaxPooling(k, k): the maximum of each k x k block (floor mode: a remainder is dropped)."""
    oh, ow = x.size(-2) // k, x.size(-1) // k
    if oh == 0 or ow == 0:
        raise ShapeError(f"SpatialMaxPooling: an input of size {tuple(x.size())} is smaller than the {k}x{k} window")
    return _block_max(x.narrow(x.dim() - 2, 0, oh * k).narrow(x.dim() - 1, 0, ow * k), k)


def _block_keys(k: int) -> list[tuple[Any, ...]]:
    """The keys of the k*k strided views of a pooled input: view (i, j) holds each block's (i, j) element."""
    return [(Ellipsis, slice(i, None, k), slice(j, None, k)) for i in range(k) for j in range(k)]


@Primitive
def _block_max(x: Any, k: int) -> Any:
    # The blocks' maxima as the element-wise maximum of k*k strided views: a reduction over a
    # block's 2 or 3 elements is slow on the CPU (numpy's max along a short axis, 40x slower
    # for 2x2 blocks), and element-wise ops fuse into one kernel on a GPU.
    views = [x[key] for key in _block_keys(k)]
    m = views[0]
    for v in views[1:]:
        m = ft.cmax(m, v)
    return m


def _block_max_vjp(g: Any, ans: Any, x: Any, k: int) -> Any:
    # As max's own rule: a block's gradient is shared evenly among its elements equal to the maximum.
    keys = _block_keys(k)
    masks = [ft.eq(x[key], ans).type(g.dtype) for key in keys]
    count = masks[0]
    for m in masks[1:]:
        count = count + m
    share = g / count
    return embed_all(((key, share * m) for key, m in zip(keys, masks, strict=True)), x)


_block_max.defvjp(_block_max_vjp, None)


def _spatial_dropout(x: Any, p: float, train: bool) -> Any:
    """nn.SpatialDropout (Torch's v1 rule): drop whole feature maps, no scaling; ``(1-p) x`` at evaluation."""
    if not train:
        return x * (1 - p)
    size = list(x.size())[: x.dim() - 2] + [1, 1]
    keep = ft.full(*size, fill_value=1 - p, dtype=x.dtype, device=x.device)
    return x * ft.bernoulli(keep)


def SpatialNetwork(  # noqa: N802
    input_features: int = 3,
    hidden_features: Sequence[int] | int = (16, 32, 64),
    kernel_size: int = 5,
    padding: int | None = None,
    poolings: Sequence[int] | int = (1, 1, 1),
    activations: str | Callable[[Tensor], Tensor] = "ReLU",
    input_stride: int = 1,
    dropout_probs: float | Sequence[float] | None = None,
    batch_normalization: bool = False,
    *,
    dtype: Any = None,
    device: Any = None,
    params: list[Any] | None = None,
    layers: list[Layer] | None = None,
) -> tuple[Callable[..., Any], list[Any], list[Layer]]:
    """A convolutional network: torch-autograd's ``autograd.model.SpatialNetwork``.

    Each layer is ``[SpatialDropout] -> SpatialConvolutionMM -> [SpatialBatchNormalization] ->
    activation -> [SpatialMaxPooling]``. The convolution is computed as im2col (``unfold``) and
    one matrix product, the pooling as a maximum over the window dims of a reshaped input.

    Parameters
    ----------
    input_features : int, optional
        The number of input planes (default 3).
    hidden_features : sequence of int, optional
        The planes each layer outputs (default ``(16, 32, 64)``).
    kernel_size : int, optional
        The square kernel size of every convolution (default 5).
    padding : int, optional
        The zero padding of every convolution (default ``(kernel_size - 1) // 2``, which keeps the
        size for an odd kernel).
    poolings : sequence of int, optional
        Per layer, the window (and step) of a max pooling after the activation; 1 means none
        (default ``(1, 1, 1)``; missing entries are 1). A size that does not divide drops the
        remainder, as nn's floor mode.
    activations : str or callable, optional
        As in :func:`NeuralNetwork` (default ``"ReLU"``).
    input_stride : int, optional
        The stride of the first convolution (the others have stride 1; default 1).
    dropout_probs : float or sequence of float, optional
        The SpatialDropout probability before each convolution (default none). As nn's: whole
        feature maps are dropped with no rescaling when ``train=True``, and ``train=False``
        multiplies by ``1 - p``.
    batch_normalization : bool, optional
        Add SpatialBatchNormalization after each convolution (default False); see
        :func:`NeuralNetwork`.
    dtype, device, params, layers : optional
        As in :func:`NeuralNetwork`.

    Returns
    -------
    f : callable
        ``f(params, x, train=True)`` for ``x`` of ``[N x] input_features x H x W``.
    params : list
        One ``[weight, bias]`` per convolution (weight ``out x in x k x k``, initialised
        U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with ``fan_in = in * k * k``) and per batch
        normalization.
    layers : list of Layer
        The stages in order.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import model
    >>> f, params, layers = model.SpatialNetwork(input_features=1, hidden_features=[4, 8], kernel_size=3, poolings=[2, 2])
    >>> layers
    [SpatialConvolutionMM(1 -> 4, 3x3, 1,1, 1,1), ReLU, SpatialMaxPooling(2x2), SpatialConvolutionMM(4 -> 8, 3x3, 1,1, 1,1), ReLU, SpatialMaxPooling(2x2)]
    >>> f(params, ft.randn(2, 1, 12, 12)).size()
    Size([2, 8, 3, 3])
    """
    widths = _positive_ints(hidden_features, "SpatialNetwork: hidden_features")
    n_in = _positive_ints(input_features, "SpatialNetwork: input_features")[0]
    k = _positive_ints(kernel_size, "SpatialNetwork: kernel_size")[0]
    pad = (k - 1) // 2 if padding is None else int(padding)
    if pad < 0:
        raise ArgumentError(f"SpatialNetwork: padding must be 0 or more, got {padding!r}")
    pools = _positive_ints(_per_layer(poolings, len(widths), 1), "SpatialNetwork: poolings")
    probs = [_check_probability(p, "SpatialNetwork") for p in _per_layer(dropout_probs, len(widths), 0.0)]
    stride = _positive_ints(input_stride, "SpatialNetwork: input_stride")[0]
    activation(activations)
    params = [] if params is None else params
    layers = [] if layers is None else layers
    for width, pool, p in zip(widths, pools, probs, strict=True):
        if p > 0:
            layers.append(
                Layer("SpatialDropout", lambda x, train, p=p: _spatial_dropout(x, p, train), description=f"{p:g}")
            )
        fan_in = n_in * k * k
        params.append(
            [
                _fan_in_uniform((width, n_in, k, k), fan_in, dtype, device),
                _fan_in_uniform((width,), fan_in, dtype, device),
            ]
        )
        layers.append(
            Layer(
                "SpatialConvolutionMM",
                lambda q, x, train, s=stride: _conv2d(x, q[0], q[1], s, pad),
                len(params) - 1,
                f"{n_in} -> {width}, {k}x{k}, {stride},{stride}, {pad},{pad}",
            )
        )
        if batch_normalization:
            _batch_norm_layer("SpatialBatchNormalization", width, params, layers, dtype, device)
        _activation_layer(activations, layers)
        if pool > 1:
            layers.append(
                Layer(
                    "SpatialMaxPooling", lambda x, train, pool=pool: _max_pool2d(x, pool), description=f"{pool}x{pool}"
                )
            )
        n_in, stride = width, 1
    return sequence(layers), params, layers


def AlexNet(  # noqa: N802
    depth: int,
    height: int,
    width: int,
    conv_opt: dict[str, Any] | None = None,
    mlp_opt: dict[str, Any] | None = None,
    *,
    dtype: Any = None,
    device: Any = None,
) -> tuple[Callable[..., Any], list[Any], list[Layer]]:
    """A convolutional network followed by a classifier: torch-autograd's ``autograd.model.AlexNet``.

    Parameters
    ----------
    depth, height, width : int
        The size of one input image (``depth x height x width``).
    conv_opt : dict, optional
        Keyword arguments of :func:`SpatialNetwork` (its defaults otherwise); ``input_features``
        is ``depth``.
    mlp_opt : dict, optional
        Keyword arguments of :func:`NeuralNetwork` (its defaults otherwise, except
        ``classifier=True``); ``input_features`` is the size of the convolutional output and may
        not be given.
    dtype, device : optional
        Of the parameters.

    Returns
    -------
    f : callable
        ``f(params, x, train=True)`` for ``x`` of ``[N x] depth x height x width``: the scores,
        ``N x mlp_opt["hidden_features"][-1]``.
    params : list
        The convolutional layers' parameters, then the fully connected ones.
    layers : list of Layer
        Every stage in order.

    Raises
    ------
    ArgumentError
        If ``conv_opt`` names an ``input_features`` other than ``depth``, or ``mlp_opt`` any.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import model
    >>> f, params, layers = model.AlexNet(3, 8, 8, {"hidden_features": [4], "kernel_size": 3, "poolings": [2]},
    ...                                   {"hidden_features": [10, 5]})
    >>> [tuple(p[0].size()) for p in params]
    [(4, 3, 3, 3), (10, 64), (5, 10)]
    >>> f(params, ft.randn(2, 3, 8, 8)).size()
    Size([2, 5])
    """
    conv = dict(conv_opt or {})
    mlp = dict(mlp_opt or {})
    if conv.get("input_features", depth) != depth:
        raise ArgumentError(
            f"AlexNet: conv_opt input_features={conv['input_features']!r} differs from the image depth {depth}"
        )
    if "input_features" in mlp:
        raise ArgumentError(
            "AlexNet: the input features of the fully connected layers follow the convolutions;"
            " leave input_features out of mlp_opt"
        )
    conv["input_features"] = depth
    mlp.setdefault("classifier", True)
    params: list[Any] = []
    layers: list[Layer] = []
    spatial, _, _ = SpatialNetwork(**conv, dtype=dtype, device=device, params=params, layers=layers)
    probe = ft.zeros(1, depth, height, width, dtype=params[0][0].dtype, device=params[0][0].device)
    out = spatial(params, probe, train=False)
    mlp["input_features"] = out.numel()
    NeuralNetwork(**mlp, dtype=dtype, device=device, params=params, layers=layers)
    return sequence(layers), params, layers


# --------------------------------------------------------------------------------------------
# Recurrent models.


def _recurrent_params(params: Any) -> Any:
    """The parameter dict of a recurrent model: ``params`` itself, or its first entry (torch-autograd's ``params[1] or params``)."""
    return params if isinstance(params, dict) else params[0]


def _sequence_input(x: Any, features: int, who: str) -> tuple[Any, int, int]:
    """``x`` as ``batch x time x features`` (a 2-D ``time x features`` is a batch of one), batch, steps."""
    if x.dim() == 2:
        x = x.view(1, x.size(0), x.size(1))
    if x.dim() != 3 or x.size(2) != features:
        raise ShapeError(
            f"{who}: expected a sequence of batch x time x {features} (or time x {features}), got size {tuple(x.size())}"
        )
    return x, x.size(0), x.size(1)


def _initial(prev_state: Any, key: str, x: Any, batch: int, hidden: int) -> Any:
    if prev_state is not None and prev_state.get(key) is not None:
        return prev_state[key]
    return ft.zeros(batch, hidden, dtype=x.dtype, device=x.device)


def _outputs(hs: list[Any], output_type: str, batch: int, hidden: int) -> Any:
    if output_type == "last":
        return hs[-1]
    return ft.cat([h.view(batch, 1, hidden) for h in hs], 1)


def _check_recurrent(input_features: Any, hidden_features: Any, output_type: Any, who: str) -> tuple[int, int]:
    f = _positive_ints(input_features, f"{who}: input_features")[0]
    h = _positive_ints(hidden_features, f"{who}: hidden_features")[0]
    if output_type not in ("last", "all"):
        raise ArgumentError(f"{who}: output_type must be 'last' or 'all', got {output_type!r}")
    return f, h


def RecurrentNetwork(  # noqa: N802
    input_features: int = 10,
    hidden_features: int = 100,
    output_type: str = "last",
    *,
    dtype: Any = None,
    device: Any = None,
    params: list[Any] | None = None,
) -> tuple[Callable[..., Any], list[Any]]:
    """A plain recurrent network ``h_t = tanh([x_t, h_{t-1}] W + b)``: torch-autograd's ``RecurrentNetwork``.

    Parameters
    ----------
    input_features : int, optional
        The features of each step's input (default 10).
    hidden_features : int, optional
        The size ``H`` of the hidden state (default 100).
    output_type : {'last', 'all'}, optional
        Return the last hidden state (``batch x H``) or all of them (``batch x time x H``).
    dtype, device : optional
        Of the parameters.
    params : list, optional
        An existing list to append the parameter dict to.

    Returns
    -------
    f : callable
        ``f(params, x, prev_state=None) -> (h, {"h": last h})``; ``prev_state`` (a dict with
        ``"h"``, as ``f`` returns) continues a sequence, zeros otherwise. ``params`` may be the
        list or its parameter dict.
    params : list
        ``[{"W": (F + H) x H, "b": 1 x H}]``, zeros.

    Notes
    -----
    ``x`` is ``batch x time x input_features`` (torch-autograd's layout, batch first), or
    ``time x input_features`` for one sequence (a batch of one: the output is then ``1 x H``).
    The loop over time is Python's, recorded step by step by ``grad``. All parameters start at
    zero, as torch-autograd's do (the hidden state then stays zero until they are trained or
    re-initialised, e.g. ``p.normal_(0, 0.01)`` for each, as torch-autograd's tests do).
    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import model
    >>> f, params = model.RecurrentNetwork(input_features=3, hidden_features=4, output_type="all")
    >>> _ = [p.normal_(0, 0.1) for p in params[0].values()]
    >>> hs, state = f(params, ft.randn(2, 5, 3))
    >>> hs.size(), state["h"].size(), (hs[:, -1] - state["h"]).abs().max().item()
    (Size([2, 5, 4]), Size([2, 4]), 0.0)
    """
    n_in, hidden = _check_recurrent(input_features, hidden_features, output_type, "RecurrentNetwork")
    p = {
        "W": ft.zeros(n_in + hidden, hidden, dtype=dtype, device=device),
        "b": ft.zeros(1, hidden, dtype=dtype, device=device),
    }
    params = [] if params is None else params
    params.append(p)

    def f(params: Any, x: Any, prev_state: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        q = _recurrent_params(params)
        x, batch, steps = _sequence_input(x, n_in, "RecurrentNetwork")
        h = _initial(prev_state, "h", x, batch, hidden)
        hs = []
        for t in range(steps):
            h = ft.tanh(ft.cat([x.select(1, t), h], 1) @ q["W"] + q["b"])
            hs.append(h)
        return _outputs(hs, output_type, batch, hidden), {"h": h}

    return f, params


def RecurrentLSTMNetwork(  # noqa: N802
    input_features: int = 10,
    hidden_features: int = 100,
    output_type: str = "last",
    batch_normalization: bool = False,
    max_batch_normalization_layers: int = 10,
    *,
    dtype: Any = None,
    device: Any = None,
    params: list[Any] | None = None,
) -> tuple[Callable[..., Any], list[Any], dict[str, Any]]:
    """An LSTM: torch-autograd's ``RecurrentLSTMNetwork``.

    At each step ``[i, f, o, g] = [x_t, h_{t-1}] W + b`` (one ``W`` of width ``4H``, the gate
    blocks in the order input, forget, output, candidate), ``c_t = sigmoid(f) c_{t-1} +
    sigmoid(i) tanh(g)`` and ``h_t = sigmoid(o) tanh(c_t)``.

    Parameters
    ----------
    input_features, hidden_features, output_type, dtype, device, params
        As in :func:`RecurrentNetwork`.
    batch_normalization : bool, optional
        Batch-normalise the gate pre-activations and the cell (Cooijmans et al.'s recurrent batch
        normalization, as torch-autograd's): ``b`` is then replaced by the bias of the gate
        normalization, whose gain and the cell normalization's start at 0.1 (``lstm_bn_1``,
        ``lstm_bn_2``, ``cell_bn_1``, ``cell_bn_2`` in the parameter dict), shared across time,
        while each step keeps its own running statistics (default False).
    max_batch_normalization_layers : int, optional
        The number of steps with their own running statistics; later steps share the last
        (default 10).

    Returns
    -------
    f : callable
        ``f(params, x, prev_state=None, layers=None, train=True) -> (h, {"h": h, "c": c})``:
        ``h`` is the last hidden state, or all of them with ``output_type='all'``; ``prev_state``
        (a dict with ``"h"`` and ``"c"``) continues a sequence. ``layers`` defaults to the ones
        built here; ``train`` chooses batch or running statistics for batch normalization.
    params : list
        ``[{"W": (F + H) x 4H, "b": 1 x 4H}]`` (plus the batch normalization parameters), zeros.
    layers : dict
        ``{"lstm_bn": [state, ...], "cell_bn": [state, ...]}`` with the running statistics of each
        step's batch normalizations, or ``{}`` without batch normalization.

    Notes
    -----
    ``x`` is ``batch x time x input_features`` (torch-autograd's layout, batch first), or
    ``time x input_features`` for one sequence (a batch of one: the output is then ``1 x H``).
    The loop over time is Python's, recorded step by step by ``grad``. All parameters start at
    zero, as torch-autograd's do (the hidden state then stays zero until they are trained or
    re-initialised, e.g. ``p.normal_(0, 0.01)`` for each, as torch-autograd's tests do).
    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import model
    >>> f, params, layers = model.RecurrentLSTMNetwork(input_features=3, hidden_features=4)
    >>> _ = [p.normal_(0, 0.1) for p in params[0].values()]
    >>> h, state = f(params, ft.randn(2, 5, 3))
    >>> h.size(), sorted(state), params[0]["W"].size()
    (Size([2, 4]), ['c', 'h'], Size([7, 16]))
    >>> h2, _ = f(params, ft.randn(2, 3, 3), state)  # continues from the state
    """
    n_in, hidden = _check_recurrent(input_features, hidden_features, output_type, "RecurrentLSTMNetwork")
    p = {
        "W": ft.zeros(n_in + hidden, 4 * hidden, dtype=dtype, device=device),
        "b": ft.zeros(1, 4 * hidden, dtype=dtype, device=device),
    }
    built: dict[str, Any] = {}
    if batch_normalization:
        count = _positive_ints(max_batch_normalization_layers, "RecurrentLSTMNetwork: max_batch_normalization_layers")[
            0
        ]
        del p["b"]
        p["lstm_bn_1"] = ft.full(4 * hidden, fill_value=0.1, dtype=p["W"].dtype, device=p["W"].device)
        p["lstm_bn_2"] = ft.zeros(4 * hidden, dtype=p["W"].dtype, device=p["W"].device)
        p["cell_bn_1"] = ft.full(hidden, fill_value=0.1, dtype=p["W"].dtype, device=p["W"].device)
        p["cell_bn_2"] = ft.zeros(hidden, dtype=p["W"].dtype, device=p["W"].device)
        built["lstm_bn"] = [_bn_state(4 * hidden, p["W"].dtype, p["W"].device) for _ in range(count)]
        built["cell_bn"] = [_bn_state(hidden, p["W"].dtype, p["W"].device) for _ in range(count)]
    params = [] if params is None else params
    params.append(p)

    def f(
        params: Any,
        x: Any,
        prev_state: dict[str, Any] | None = None,
        layers: dict[str, Any] | None = None,
        train: bool = True,
    ) -> tuple[Any, dict[str, Any]]:
        q = _recurrent_params(params)
        bn = built if layers is None else layers
        x, batch, steps = _sequence_input(x, n_in, "RecurrentLSTMNetwork")
        h = _initial(prev_state, "h", x, batch, hidden)
        c = _initial(prev_state, "c", x, batch, hidden)
        hs = []
        for t in range(steps):
            dots = ft.cat([x.select(1, t), h], 1) @ q["W"]
            if batch_normalization:
                state = bn["lstm_bn"][min(t, len(bn["lstm_bn"]) - 1)]
                dots = _batch_norm(dots, q["lstm_bn_1"], q["lstm_bn_2"], state, train, "RecurrentLSTMNetwork")
            else:
                dots = dots + q["b"]
            dots = dots.view(batch, 4, hidden)
            gates = ft.sigmoid(dots.narrow(1, 0, 3))
            c = gates.select(1, 1) * c + gates.select(1, 0) * ft.tanh(dots.select(1, 3))
            if batch_normalization:
                state = bn["cell_bn"][min(t, len(bn["cell_bn"]) - 1)]
                c = _batch_norm(c, q["cell_bn_1"], q["cell_bn_2"], state, train, "RecurrentLSTMNetwork")
            h = gates.select(1, 2) * ft.tanh(c)
            hs.append(h)
        return _outputs(hs, output_type, batch, hidden), {"h": h, "c": c}

    return f, params, built


def RecurrentGRUNetwork(  # noqa: N802
    input_features: int = 10,
    hidden_features: int = 100,
    output_type: str = "last",
    *,
    dtype: Any = None,
    device: Any = None,
    params: list[Any] | None = None,
) -> tuple[Callable[..., Any], list[Any]]:
    """A GRU: torch-autograd's ``RecurrentGRUNetwork``.

    At each step ``[i, f] = sigmoid([x_t, h_{t-1}] W + b)`` (``W`` of width ``2H``: the reset
    gate ``i``, then the update gate ``f``) and ``h_t = (1 - f) h_{t-1} + f tanh([x_t, i h_{t-1}]
    V + c)``.

    Parameters
    ----------
    input_features, hidden_features, output_type, dtype, device, params
        As in :func:`RecurrentNetwork`.

    Returns
    -------
    f : callable
        ``f(params, x, prev_state=None) -> (h, {"h": h})``, as :func:`RecurrentNetwork`'s.
    params : list
        ``[{"W": (F + H) x 2H, "b": 1 x 2H, "V": (F + H) x H, "c": 1 x H}]``, zeros.

    Notes
    -----
    ``x`` is ``batch x time x input_features`` (torch-autograd's layout, batch first), or
    ``time x input_features`` for one sequence (a batch of one: the output is then ``1 x H``).
    The loop over time is Python's, recorded step by step by ``grad``. All parameters start at
    zero, as torch-autograd's do (the hidden state then stays zero until they are trained or
    re-initialised, e.g. ``p.normal_(0, 0.01)`` for each, as torch-autograd's tests do).
    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import model
    >>> f, params = model.RecurrentGRUNetwork(input_features=3, hidden_features=4)
    >>> sorted((k, tuple(v.size())) for k, v in params[0].items())
    [('V', (7, 4)), ('W', (7, 8)), ('b', (1, 8)), ('c', (1, 4))]
    >>> h, state = f(params, ft.randn(5, 3))  # one sequence of 5 steps
    >>> h.tolist()  # zero parameters: h stays at zero
    [[0.0, 0.0, 0.0, 0.0]]
    """
    n_in, hidden = _check_recurrent(input_features, hidden_features, output_type, "RecurrentGRUNetwork")
    p = {
        "W": ft.zeros(n_in + hidden, 2 * hidden, dtype=dtype, device=device),
        "b": ft.zeros(1, 2 * hidden, dtype=dtype, device=device),
        "V": ft.zeros(n_in + hidden, hidden, dtype=dtype, device=device),
        "c": ft.zeros(1, hidden, dtype=dtype, device=device),
    }
    params = [] if params is None else params
    params.append(p)

    def f(params: Any, x: Any, prev_state: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        q = _recurrent_params(params)
        x, batch, steps = _sequence_input(x, n_in, "RecurrentGRUNetwork")
        h = _initial(prev_state, "h", x, batch, hidden)
        hs = []
        for t in range(steps):
            xt = x.select(1, t)
            gates = ft.sigmoid(ft.cat([xt, h], 1) @ q["W"] + q["b"]).view(batch, 2, hidden)
            reset, update = gates.select(1, 0), gates.select(1, 1)
            candidate = ft.tanh(ft.cat([xt, h * reset], 1) @ q["V"] + q["c"])
            h = (1 - update) * h + update * candidate
            hs.append(h)
        return _outputs(hs, output_type, batch, hidden), {"h": h}

    return f, params
