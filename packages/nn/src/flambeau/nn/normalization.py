"""Normalization layers: batch normalization, Torch's local (subtractive, divisive, contrastive)
normalization of images, and local response normalization across channels.

- ``BatchNormalization`` (``N x n``), ``SpatialBatchNormalization`` (``N x C x H x W``) and
  ``VolumetricBatchNormalization`` (``N x C x T x H x W``) share one implementation: statistics
  per feature / channel over every other dim.
- ``SpatialSubtractiveNormalization``, ``SpatialDivisiveNormalization`` and
  ``SpatialContrastiveNormalization`` follow Torch's nn (the undocumented ones included), kernel
  normalization in place and border coefficients included. Their local means are one zero-padded
  2-D cross-correlation of the input **summed over its planes** (Torch convolves each plane with
  the same kernel and sums the results; the sum is taken first here, which is the same linear map
  and ``n_input_plane`` times cheaper), vectorised over the batch with ``ft.xcorr2``.
- ``SpatialCrossMapLRN``: ``x / (k + alpha/size * sum of x^2 over size channels)^beta``.
"""

from __future__ import annotations

import math
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, DomainError, ShapeError, size_text

from .container import Sequential
from .module import Module

# --------------------------------------------------------------------------------------------------
# Batch normalization


class BatchNormalization(Module):
    """Batch normalization of a mini-batch ``N x n``: Torch's ``nn.BatchNormalization``.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` per feature. In training mode (the
    default) ``mean`` and ``var`` are the batch's mean and **biased** variance, and the running
    statistics are updated with ``momentum``: ``running_mean = (1 - momentum) * running_mean +
    momentum * mean`` and the same for ``running_var`` with the **unbiased** batch variance
    (Torch's THNN kernel does exactly this). In evaluation mode (``evaluate()``) the running
    statistics are used instead. ``affine=False`` drops ``weight`` and ``bias``.

    Initialisation as Torch's ``reset``: ``weight ~ U(0, 1)``, ``bias = 0``, ``running_mean = 0``,
    ``running_var = 1``; ``reset(stdv)`` ignores ``stdv``, as Torch's does. The backward pass in
    training mode is the full gradient through the batch statistics; in evaluation mode it is the
    affine map with the running statistics. Only mini-batches are accepted, as in Torch.
    ``running_mean`` and ``running_var`` survive ``clear_state()``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> bn = nn.BatchNormalization(2)
    >>> _ = bn.weight.fill_(1)
    >>> bn.forward(ft.Tensor([[1.0, 10.0], [3.0, 10.0]])).tolist()
    [[-0.999995000037..., 0.0], [0.999995000037..., 0.0]]
    >>> bn.running_mean.tolist(), bn.running_var.tolist()
    ([0.2, 1.0], [1.1, 0.9])
    """

    N_DIM = 2  # dims of the input (a mini-batch)
    SHAPE = ""  # the dims after the feature dim, for messages
    STATE = ("running_mean", "running_var")

    def __init__(self, n_output: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True) -> None:
        super().__init__()
        if not isinstance(n_output, int) or isinstance(n_output, bool) or n_output <= 0:
            raise ArgumentError(
                f"{type(self).__name__}: the number of features must be a positive integer, got {n_output!r}"
                " (affine=False turns the learnable weight and bias off)"
            )
        if not isinstance(affine, bool):
            raise ArgumentError(f"{type(self).__name__}: affine must be True or False, got {affine!r}")
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.running_mean = ft.zeros(n_output)
        self.running_var = ft.ones(n_output)
        if affine:
            self.weight = ft.Tensor(n_output)
            self.bias = ft.Tensor(n_output)
            self.grad_weight = ft.zeros(n_output)
            self.grad_bias = ft.zeros(n_output)
        self.save_mean = ft.Tensor()  # the mean and 1/std the last forward used (for backward)
        self.save_std = ft.Tensor()
        self.reset()

    def reset(self, stdv: float | None = None) -> BatchNormalization:
        """``weight ~ U(0, 1)``, ``bias = 0`` and fresh running statistics (``stdv`` is ignored, as in Torch)."""
        if self.affine:
            self.weight.uniform_(0, 1)
            self.bias.zero_()
        self.running_mean.zero_()
        self.running_var.fill_(1)
        return self

    def _flat(self, input: Any) -> Tensor:
        """The input as ``N x C x M`` (M = 1 for a 2-D input), after checking its size."""
        n = self.running_mean.size(0)
        if not isinstance(input, Tensor) or input.dim() != self.N_DIM or input.size(1) != n:
            got = size_text(tuple(input.size())) if isinstance(input, Tensor) else type(input).__name__
            raise ShapeError(
                f"size mismatch: expected a mini-batch of size N x {n}{self.SHAPE} (only mini-batches are"
                f" supported), got {got}"
            )
        return input.reshape(input.size(0), n, math.prod(tuple(input.size())[2:]))

    def update_output(self, input: Any) -> Any:
        x = self._flat(input)
        c = x.size(1)
        count = x.size(0) * x.size(2)
        if self.train:
            if count < 2:
                raise ShapeError(
                    f"{type(self).__name__}: training needs more than one value per feature to estimate a"
                    f" variance, got an input of size {size_text(tuple(input.size()))}"
                )
            mean = x.sum(2).sum(0) / count
            xc = x - mean.view(1, c, 1)
            var = (xc * xc).sum(2).sum(0) / count
            invstd = 1.0 / ft.sqrt(var + self.eps)
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(mean, alpha=m)
            self.running_var.mul_(1 - m).add_(var * (count / (count - 1)), alpha=m)
        else:
            mean = self.running_mean.type_as(x).clone()  # not an alias: clear_state empties save_mean
            xc = x - mean.view(1, c, 1)
            invstd = 1.0 / ft.sqrt(self.running_var.type_as(x) + self.eps)
        self.save_mean, self.save_std = mean, invstd
        if self.affine:
            out = xc * (invstd * self.weight).view(1, c, 1) + self.bias.view(1, c, 1)
        else:
            out = xc * invstd.view(1, c, 1)
        self.output = out.view(*input.size())
        return self.output

    def _centered(self, input: Any, grad_output: Any) -> tuple[Tensor, Tensor, int]:
        x = self._flat(input)
        if self.save_mean.nelement() != x.size(1):
            raise ArgumentError(f"{type(self).__name__}: call forward before backward")
        g = grad_output.reshape(*x.size())
        return x - self.save_mean.view(1, x.size(1), 1), g, x.size(0) * x.size(2)

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        xc, g, count = self._centered(input, grad_output)
        c = xc.size(1)
        invstd = self.save_std
        scale = invstd * self.weight if self.affine else invstd
        if self.train:
            grad_mean = g.sum(2).sum(0) / count
            k = (xc * g).sum(2).sum(0) * invstd * invstd / count
            gi = (g - grad_mean.view(1, c, 1) - xc * k.view(1, c, 1)) * scale.view(1, c, 1)
        else:
            gi = g * scale.view(1, c, 1)
        self.grad_input = gi.view(*input.size())
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        if not self.affine:
            return
        xc, g, _ = self._centered(input, grad_output)
        self.grad_weight.add_((xc * g).sum(2).sum(0) * self.save_std, alpha=scale)
        self.grad_bias.add_(g.sum(2).sum(0), alpha=scale)

    def extra_repr(self) -> str:
        text = f"{self.running_mean.size(0)}"
        if self.eps != 1e-5:
            text += f", eps={self.eps}"
        if self.momentum != 0.1:
            text += f", momentum={self.momentum}"
        return text if self.affine else text + ", affine=False"


class SpatialBatchNormalization(BatchNormalization):
    """Batch normalization per channel of ``N x C x H x W``: Torch's ``nn.SpatialBatchNormalization``.

    The statistics of channel ``c`` are taken over the batch and every pixel; everything else is
    :class:`BatchNormalization`'s (training/evaluation, running statistics, initialisation).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> bn = nn.SpatialBatchNormalization(3, affine=False)
    >>> y = bn.forward(ft.randn(4, 3, 5, 5) * 3 + 2)
    >>> abs(round(y.mean().item(), 12)), round(y.var(unbiased=False).item(), 3)
    (0.0, 1.0)
    """

    N_DIM = 4
    SHAPE = " x H x W"


class VolumetricBatchNormalization(BatchNormalization):
    """Batch normalization per channel of ``N x C x T x H x W``: Torch's ``nn.VolumetricBatchNormalization``.

    The statistics of channel ``c`` are taken over the batch, time and space; everything else is
    :class:`BatchNormalization`'s.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> bn = nn.VolumetricBatchNormalization(2).evaluate()
    >>> _ = bn.weight.fill_(2); _ = bn.bias.fill_(1)
    >>> bn.forward(ft.zeros(1, 2, 2, 2, 2)).view(-1).tolist()[:2]
    [1.0, 1.0]
    """

    N_DIM = 5
    SHAPE = " x T x H x W"


# --------------------------------------------------------------------------------------------------
# Local normalization of images (Torch's Spatial{Subtractive,Divisive,Contrastive}Normalization)


def _same(op: Any, maps: Tensor, k2: Tensor) -> Tensor:
    """``op`` (xcorr2 or conv2) of every ``M x H x W`` map with the odd 2-D kernel, zero-padded by
    ``k // 2``: the result is ``M x H x W``."""
    m, h, w = maps.size(0), maps.size(1), maps.size(2)
    kh, kw = k2.size(0), k2.size(1)
    full = op(maps, k2.expand(m, kh, kw), "F")
    return full.narrow(1, kh // 2, h).narrow(2, kw // 2, w)


def _filter(maps: Tensor, kernel: Tensor, adjoint: bool = False) -> Tensor:
    """The local weighted sums of each map (zero borders); a 1-D kernel is separable (rows, then
    columns). ``adjoint=True`` gives the transposed map (the true convolution), for backward."""
    op = ft.conv2 if adjoint else ft.xcorr2
    if kernel.dim() == 1:
        k = kernel.size(0)
        return _same(op, _same(op, maps, kernel.view(1, k)), kernel.view(k, 1))
    return _same(op, maps, kernel)


def _sum_planes(t: Tensor, d: int) -> Tensor:
    """``M x H x W``: the sum over the planes of a batch (``d = 1``) or of one image (``M = 1``)."""
    return t.sum(1) if d else t.sum(0, keepdim=True)


def _spread(maps: Tensor, d: int) -> Tensor:
    """``M x H x W`` maps shaped to broadcast over the planes of the input (``N x 1 x H x W`` or ``1 x H x W``)."""
    return maps.unsqueeze(1) if d else maps


def _planes_dim(n: int, input: Any) -> int:
    """1 for a batch ``N x n x H x W``, 0 for one image ``n x H x W``; a clear error for anything else."""
    if not isinstance(input, Tensor) or input.dim() not in (3, 4) or input.size(-3) != n:
        got = size_text(tuple(input.size())) if isinstance(input, Tensor) else type(input).__name__
        raise ShapeError(f"size mismatch: expected an input of size {n} x H x W or N x {n} x H x W, got {got}")
    return input.dim() - 3


def _check_kernel(name: str, kernel: Any) -> Tensor:
    if not isinstance(kernel, Tensor):
        raise ArgumentError(f"{name}: the averaging kernel must be a 1-D or 2-D tensor, got {type(kernel).__name__}")
    if kernel.dim() not in (1, 2) or kernel.nelement() == 0:
        raise ShapeError(
            f"{name}: the averaging kernel must be 2-D or 1-D (separable), got {size_text(tuple(kernel.size()))}"
        )
    if any(n % 2 == 0 for n in kernel.size()):
        raise ShapeError(f"{name}: the averaging kernel must have odd sizes, got {size_text(tuple(kernel.size()))}")
    if kernel.dtype.kind != "f":
        raise ArgumentError(f"{name}: the averaging kernel must be a floating tensor, got {kernel.type()}")
    return kernel


def _normalize_in_place(name: str, kernel: Tensor, factor: float) -> Tensor:
    """Torch's ``kernel:div(kernel:sum() * factor)`` on the caller's tensor; returns a copy of the result."""
    total = float(kernel.sum())
    if total == 0:
        raise DomainError(f"{name}: the averaging kernel sums to 0 and cannot be normalized")
    kernel.div_(total * factor)
    return kernel.clone()


class _LocalNormalization(Module):
    """What Subtractive and Divisive share: the kernel, the input checks, the border coefficients."""

    STATE = ("kernel", "mean_kernel")
    n_input_plane: int
    kernel: Tensor  # the caller's tensor, normalized in place
    mean_kernel: Tensor  # this module's normalized copy: the weights it uses

    def _setup(self, n_input_plane: int, kernel: Any) -> Tensor:
        name = type(self).__name__
        if not isinstance(n_input_plane, int) or isinstance(n_input_plane, bool) or n_input_plane <= 0:
            raise ArgumentError(f"{name}: n_input_plane must be a positive integer, got {n_input_plane!r}")
        self.n_input_plane = n_input_plane
        self.kernel = _check_kernel(name, ft.ones(9, 9) if kernel is None else kernel)
        self.coef = ft.Tensor()  # border coefficients for the last image size (a cache)
        return self.kernel

    def _planes_dim(self, input: Any) -> int:
        return _planes_dim(self.n_input_plane, input)

    def _kernel_for(self, input: Tensor) -> Tensor:
        k: Tensor = self.mean_kernel
        return k if k.dtype == input.dtype else k.type_as(input)

    def _coefficients(self, input: Tensor) -> Tensor:
        """``1 x H x W``: the local mean of an all-ones input (Torch's ``coef``), cached per size."""
        h, w = input.size(-2), input.size(-1)
        c = self.coef
        if c.dim() != 3 or c.size(1) != h or c.size(2) != w or c.dtype != input.dtype:
            ones = ft.full(1, h, w, fill_value=float(self.n_input_plane), dtype=input.dtype, device=input.device)
            self.coef = _filter(ones, self._kernel_for(input)).contiguous()
        return self.coef

    def _local_sums(self, maps: Tensor, input: Tensor) -> Tensor:
        """``M x H x W`` maps (already summed over the planes) -> their local weighted sums."""
        return _filter(maps, self._kernel_for(input))

    def extra_repr(self) -> str:
        return f"{self.n_input_plane}, {size_text(tuple(self.kernel.size()))} kernel"


class SpatialSubtractiveNormalization(_LocalNormalization):
    """Subtract the local weighted mean, over space **and all planes**: Torch's ``nn.SpatialSubtractiveNormalization``.

    ``y_i = x_i - S(x) / S(1)`` for every plane ``i``, where ``S(x)(p) = sum_j sum_q K(q) x_j(p + q)``
    sums the (normalized) kernel's window over every plane, with zero padding of ``kernel_size // 2``
    so the output has the input's size, and ``S(1)`` (Torch's coefficient map ``coef``) is the same
    sum of an all-ones input: near the borders, where part of the window falls outside, the mean is
    divided by the weight actually inside, so edges are not biased toward zero.

    ``kernel`` (default ``ones(9, 9)``): 2-D (a full kernel, ``kh x kw``) or 1-D (separable: applied
    along rows, then columns), odd sizes only. **Torch's trap, kept: the kernel tensor passed in is
    normalized in place**, divided by ``kernel.sum() * n_input_plane`` (so it sums to
    ``1/n_input_plane``); the module keeps ``kernel`` (the caller's tensor) and ``mean_kernel``, a
    copy of it as normalized here, which is what the module uses (Torch copies it into its
    convolution). Input ``C x H x W`` or ``N x C x H x W``, ``C = n_input_plane``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> k = ft.ones(3, 3)
    >>> m = nn.SpatialSubtractiveNormalization(2, k)
    >>> k.sum().item()  # normalized in place: 1 / n_input_plane
    0.5
    >>> m.forward(ft.full(2, 4, 4, fill_value=7.0)).abs().max().item() < 1e-14  # a constant image, borders too
    True
    """

    def __init__(self, n_input_plane: int = 1, kernel: Tensor | None = None) -> None:
        super().__init__()
        k = self._setup(n_input_plane, kernel)
        self.mean_kernel = _normalize_in_place(type(self).__name__, k, n_input_plane)

    def update_output(self, input: Any) -> Any:
        d = self._planes_dim(input)
        coef = self._coefficients(input)
        sums = self._local_sums(_sum_planes(input, d), input)
        self.adjusted_sums = sums / coef  # M x H x W: the local means
        self.output = input - _spread(self.adjusted_sums, d)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        d = self._planes_dim(input)
        coef = self._coefficients(input)
        g = _sum_planes(grad_output, d)
        back = _filter(g / coef, self._kernel_for(input), adjoint=True)
        self.grad_input = grad_output - _spread(back, d)
        return self.grad_input


class SpatialDivisiveNormalization(_LocalNormalization):
    """Divide by the local standard deviation, over space and all planes: Torch's (undocumented)
    ``nn.SpatialDivisiveNormalization``.

    As Torch's code computes it: ``s = sqrt(S(x^2)) / S(1)``, with ``S`` the zero-padded local
    weighted sum over every plane and ``S(1)`` the border coefficients of
    :class:`SpatialSubtractiveNormalization`; then ``t = s`` where ``s > threshold`` and
    ``thresval`` elsewhere (Torch's ``nn.Threshold(threshold, thresval)``), and ``y_i = x_i / t``
    for every plane. Inside the image ``S(1) = 1`` and ``s`` is the root of the weighted mean of
    ``x^2``; near the borders Torch divides the root of the sum by the coefficient itself (not by
    its root), and that is kept. Torch's nn code takes no maximum of the local std with the
    image's mean std (other LCN recipes do; torch/image's ``lcn`` instead raises stds under 1 to
    1), so neither does this module. The input is not centred first: put a
    :class:`SpatialSubtractiveNormalization` before it, as :class:`SpatialContrastiveNormalization` does.

    The kernel (default ``ones(9, 9)``, odd sizes) is **normalized in place** as Torch does: a 2-D
    kernel divided by ``sum * n_input_plane``, a 1-D (separable) one by ``sum * sqrt(n_input_plane)``
    (so either way the effective weights over all planes sum to 1); ``mean_kernel`` keeps this
    module's copy. ``thresval`` defaults to ``threshold``. Input ``C x H x W`` or ``N x C x H x W``.
    The backward pass is exact where ``s != threshold`` (the thresholded places pass no gradient
    through ``s``, as Torch's Threshold).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.SpatialDivisiveNormalization(1, ft.ones(3, 3))
    >>> m.forward(ft.full(1, 3, 3, fill_value=-2.0))[0, 1, 1].item()  # the centre: -2 / sqrt(mean of 4)
    -1.0
    >>> m.forward(ft.zeros(1, 3, 3)).abs().max().item()  # std 0 < threshold: divided by thresval
    0.0
    """

    def __init__(
        self,
        n_input_plane: int = 1,
        kernel: Tensor | None = None,
        threshold: float = 1e-4,
        thresval: float | None = None,
    ) -> None:
        super().__init__()
        k = self._setup(n_input_plane, kernel)
        self.threshold = threshold
        self.thresval = threshold if thresval is None else thresval
        factor = n_input_plane if k.dim() == 2 else math.sqrt(n_input_plane)
        self.mean_kernel = _normalize_in_place(type(self).__name__, k, factor)

    def update_output(self, input: Any) -> Any:
        d = self._planes_dim(input)
        coef = self._coefficients(input)
        sq = input * input
        self.local_stds = ft.sqrt(self._local_sums(_sum_planes(sq, d), input))
        self.adjusted_stds = self.local_stds / coef
        self.thresholded_stds = ft.where(self.adjusted_stds > self.threshold, self.adjusted_stds, self.thresval)
        self.output = input / _spread(self.thresholded_stds, d)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        d = self._planes_dim(input)
        coef = self._coefficients(input)
        t = self.thresholded_stds
        prod = grad_output * input
        gt = -_sum_planes(prod, d) / (t * t)  # d/d(thresholded std)
        ga = gt * (self.adjusted_stds > self.threshold)  # through the threshold
        s = self.local_stds
        gs = ga / coef * 0.5 / ft.where(s > 0, s, 1.0)  # through 1/coef and sqrt (0 where s = 0, as THNN)
        back = _filter(gs, self._kernel_for(input), adjoint=True)  # d/d(x^2), the same for every plane
        self.grad_input = grad_output / _spread(t, d) + input * _spread(back, d) * 2
        return self.grad_input

    def extra_repr(self) -> str:
        text = super().extra_repr() + f", threshold={self.threshold}"
        return text if self.thresval == self.threshold else text + f", thresval={self.thresval}"


class SpatialContrastiveNormalization(Module):
    """Subtractive then divisive normalization with one kernel: Torch's (undocumented)
    ``nn.SpatialContrastiveNormalization``.

    ``normalizer`` is ``nn.Sequential(SpatialSubtractiveNormalization(n, kernel),
    SpatialDivisiveNormalization(n, kernel, threshold, thresval))`` built on the **same** kernel
    tensor, as in Torch, so the caller's kernel is normalized in place twice: a 2-D kernel ends
    summing to ``1/n_input_plane`` (the second division is by 1), a 1-D kernel to
    ``1/sqrt(n_input_plane)``; each child keeps its own normalized copy (``mean_kernel``).
    Default kernel ``ones(9, 9)``; ``thresval`` defaults to ``threshold``. (Torch's code passes a
    misspelt ``thresval`` on, so there the divisive stage always used ``thresval = threshold``;
    here the argument is honoured.) Input ``C x H x W`` or ``N x C x H x W``. The talk's model uses
    ``nn.SpatialContrastiveNormalization(16, image.gaussian(3))``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> from flambeau.nn import image
    >>> m = nn.SpatialContrastiveNormalization(16, image.gaussian(3))
    >>> m.forward(ft.randn(8, 16, 14, 14)).size()
    Size([8, 16, 14, 14])
    """

    STATE = ("kernel",)  # the children's kernel tensor: clear_state keeps it

    def __init__(
        self,
        n_input_plane: int = 1,
        kernel: Tensor | None = None,
        threshold: float = 1e-4,
        thresval: float | None = None,
    ) -> None:
        super().__init__()
        self.n_input_plane = n_input_plane
        self.kernel = _check_kernel(type(self).__name__, ft.ones(9, 9) if kernel is None else kernel)
        self.threshold = threshold
        self.thresval = threshold if thresval is None else thresval
        self.normalizer = Sequential(
            SpatialSubtractiveNormalization(n_input_plane, self.kernel),
            SpatialDivisiveNormalization(n_input_plane, self.kernel, threshold, self.thresval),
        )

    def update_output(self, input: Any) -> Any:
        _planes_dim(self.n_input_plane, input)  # a clean message for a wrong input
        self.output = self.normalizer.update_output(input)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = self.normalizer.update_grad_input(input, grad_output)
        return self.grad_input

    def clear_state(self) -> SpatialContrastiveNormalization:
        super().clear_state()
        self.normalizer.clear_state()
        return self

    def extra_repr(self) -> str:
        text = f"{self.n_input_plane}, {size_text(tuple(self.kernel.size()))} kernel, threshold={self.threshold}"
        return text if self.thresval == self.threshold else text + f", thresval={self.thresval}"


# --------------------------------------------------------------------------------------------------
# Local response normalization across channels


class SpatialCrossMapLRN(Module):
    """Local response normalization across channels: Torch's ``nn.SpatialCrossMapLRN``.

    ``y_c = x_c * scale_c^-beta`` with ``scale_c = k + alpha / size * sum_{c' in window(c)} x_{c'}^2``
    and ``window(c) = [c - (size - 1) // 2, c + size - 1 - (size - 1) // 2]`` clipped to the
    channels (centred for an odd ``size``; Torch's CUDA kernel's placement for an even one). The
    backward pass is exact: ``g_c * scale_c^-beta - 2 alpha beta / size * x_c * sum of
    g_{c'} y_{c'} / scale_{c'}`` over the channels ``c'`` whose window holds ``c``. Input
    ``C x H x W`` or ``N x C x H x W``; ``scale`` is kept from forward.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.SpatialCrossMapLRN(3, alpha=3.0, beta=1.0, k=1.0)
    >>> m.forward(ft.ones(3, 1, 1)).view(-1).tolist()  # 1 / (1 + 3/3 * (2, 3, 2))
    [0.3333333333333333, 0.25, 0.3333333333333333]
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1) -> None:
        super().__init__()
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise ArgumentError(f"SpatialCrossMapLRN: size must be a positive integer, got {size!r}")
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k
        self.scale = ft.Tensor()

    def _batch(self, t: Any, name: str = "input") -> Tensor:
        if not isinstance(t, Tensor) or t.dim() not in (3, 4):
            got = size_text(tuple(t.size())) if isinstance(t, Tensor) else type(t).__name__
            raise ShapeError(f"size mismatch: expected an {name} of size C x H x W or N x C x H x W, got {got}")
        return t if t.dim() == 4 else t.unsqueeze(0)

    def _window_sums(self, x: Tensor, front: int) -> Tensor:
        """``sum_{o < size} padded[:, o + c]`` where ``padded`` has ``front`` zero channels before ``x``
        and ``size - 1 - front`` after."""
        n, c, h, w = x.size(0), x.size(1), x.size(2), x.size(3)
        padded = ft.zeros(n, c + self.size - 1, h, w, dtype=x.dtype, device=x.device)
        padded.narrow(1, front, c).copy_(x)
        acc = padded.narrow(1, 0, c).clone()
        for o in range(1, self.size):  # over the window's offsets (size is small), not the channels
            acc.add_(padded.narrow(1, o, c))
        return acc

    def update_output(self, input: Any) -> Any:
        x = self._batch(input)
        pre = (self.size - 1) // 2
        self.scale = self._window_sums(x * x, pre).mul_(self.alpha / self.size).add_(self.k)
        out = x * ft.pow(self.scale, -self.beta)
        self.output = out if input.dim() == 4 else out[0]
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x = self._batch(input)
        g = self._batch(grad_output, "output gradient")
        y = self._batch(self.output)
        if tuple(self.scale.size()) != tuple(x.size()):
            raise ArgumentError("SpatialCrossMapLRN: call forward before backward")
        pre = (self.size - 1) // 2
        ratio = g * y / self.scale
        acc = self._window_sums(ratio, self.size - 1 - pre)
        gi = g * ft.pow(self.scale, -self.beta) - x * acc * (2 * self.alpha * self.beta / self.size)
        self.grad_input = gi if input.dim() == 4 else gi[0]
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


__all__ = [
    "BatchNormalization",
    "SpatialBatchNormalization",
    "VolumetricBatchNormalization",
    "SpatialSubtractiveNormalization",
    "SpatialDivisiveNormalization",
    "SpatialContrastiveNormalization",
    "SpatialCrossMapLRN",
]
