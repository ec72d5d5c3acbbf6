"""Spatial padding and upsampling (Torch's convolution.md): zero, reflection and replication padding,
nearest and bilinear upsampling.

Inputs are ``C x H x W`` or a batch ``N x C x H x W``. Padding arguments are in Torch's order
``(pad_l, pad_r, pad_t, pad_b)`` (left/right on W, top/bottom on H); omitted ones default to
``pad_l``. Reflection and replication padding are one ``index_select`` per padded dim (their
backward one ``index_add``, so the border pixels collect the gradient of every copy); negative
pads crop. Upsampling is vectorised: an expanded view for nearest, two interpolation matrices for
bilinear.
"""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, ShapeError, size_text

from .module import Module


def _sizes(t: Tensor) -> str:
    return size_text(tuple(t.size()))


def _check_input(name: str, input: Any, ndims: tuple[int, ...], layout: str) -> None:
    if not isinstance(input, Tensor):
        raise ArgumentError(f"{name}: expected a tensor input, got {type(input).__name__}")
    if input.dim() not in ndims:
        raise ShapeError(f"{name}: expected an input of size {layout} or N x {layout}, got {_sizes(input)}")


def _check_pads(name: str, pads: tuple[Any, ...]) -> None:
    for p in pads:
        if not isinstance(p, int):
            raise ArgumentError(f"{name}: pads must be integers, got {p!r}")


def pad_indices(n: int, lo: int, hi: int, mode: str, device: Any = None) -> Tensor:
    """The source index of each position of a dim of size ``n`` padded by ``lo`` before and ``hi`` after.

    ``mode`` is ``'replicate'`` (clamped to the edge) or ``'reflect'`` (mirrored without repeating
    the edge); negative pads crop.

    >>> pad_indices(3, 2, 1, "reflect").tolist(), pad_indices(3, 2, -1, "replicate").tolist()
    ([2, 1, 0, 1, 2, 1], [0, 0, 0, 1])
    """
    i = ft.arange(-lo, n + hi, device=device)
    if mode == "replicate":
        return ft.clamp(i, 0, n - 1)
    return (n - 1) - ft.abs((n - 1) - ft.abs(i))  # reflect


def index_pad(input: Tensor, pads: list[tuple[int, int]], mode: str) -> Tensor:
    """Pad the last ``len(pads)`` dims of ``input`` (``(before, after)`` each) by index selection.

    >>> import flambeau.tensor as ft
    >>> index_pad(ft.Tensor([[1.0, 2.0]]), [(1, 0), (0, 1)], "replicate").tolist()
    [[1.0, 2.0, 2.0], [1.0, 2.0, 2.0]]
    """
    first = input.dim() - len(pads)
    out = input
    for k, (lo, hi) in enumerate(pads):
        if lo or hi:
            out = out.index_select(first + k, pad_indices(input.size(first + k), lo, hi, mode, input.device))
    return out if out is not input else input.clone()


def index_pad_backward(input: Tensor, grad_output: Tensor, pads: list[tuple[int, int]], mode: str) -> Tensor:
    """The adjoint of :func:`index_pad`: the gradients of every copy of a source position add up."""
    first = input.dim() - len(pads)
    grad = grad_output
    for k in reversed(range(len(pads))):
        lo, hi = pads[k]
        if not (lo or hi):
            continue
        d = first + k
        size = list(grad.size())
        size[d] = input.size(d)
        idx = pad_indices(input.size(d), lo, hi, mode, input.device)
        grad = ft.zeros(*size, dtype=grad_output.dtype, device=grad_output.device).index_add_(d, idx, grad)
    return grad if grad is not grad_output else grad_output.clone()


class _Padding2d(Module):
    """Shared constructor and checks of the spatial padding modules."""

    def __init__(
        self, pad_l: int, pad_r: int | None = None, pad_t: int | None = None, pad_b: int | None = None
    ) -> None:
        super().__init__()
        self.pad_l = pad_l
        self.pad_r = pad_l if pad_r is None else pad_r
        self.pad_t = pad_l if pad_t is None else pad_t
        self.pad_b = pad_l if pad_b is None else pad_b
        _check_pads(type(self).__name__, (self.pad_l, self.pad_r, self.pad_t, self.pad_b))

    def _pads(self) -> list[tuple[int, int]]:
        return [(self.pad_t, self.pad_b), (self.pad_l, self.pad_r)]

    def _check(self, input: Any) -> None:
        name = type(self).__name__
        _check_input(name, input, (3, 4), "C x H x W")
        h, w = input.size(-2), input.size(-1)
        oh, ow = h + self.pad_t + self.pad_b, w + self.pad_l + self.pad_r
        if oh < 1 or ow < 1:
            raise ShapeError(
                f"{name}: the output would be {oh}x{ow} (input {h}x{w}, pads l={self.pad_l} r={self.pad_r}"
                f" t={self.pad_t} b={self.pad_b}); it must be at least 1x1"
            )

    def extra_repr(self) -> str:
        return f"l={self.pad_l}, r={self.pad_r}, t={self.pad_t}, b={self.pad_b}"


class SpatialZeroPadding(_Padding2d):
    """Pad the last two dims with zeros; negative pads crop.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.SpatialZeroPadding(1, 0, 0, -1).forward(ft.ones(1, 2, 2)).tolist()
    [[[0.0, 1.0, 1.0]]]
    """

    def _regions(self, input: Tensor, out: Tensor) -> tuple[Tensor, Tensor]:
        """The overlapping parts of ``input`` and ``out``, as views of each."""
        src, dst = input, out
        for d, (lo, hi) in zip((-2, -1), self._pads(), strict=True):
            n = input.size(d) + min(lo, 0) + min(hi, 0)
            src = src.narrow(d % input.dim(), max(-lo, 0), n)
            dst = dst.narrow(d % out.dim(), max(lo, 0), n)
        return src, dst

    def update_output(self, input: Any) -> Any:
        self._check(input)
        size = list(input.size())
        size[-2] += self.pad_t + self.pad_b
        size[-1] += self.pad_l + self.pad_r
        self.output = ft.zeros(*size, dtype=input.dtype, device=input.device)
        src, dst = self._regions(input, self.output)
        if src.nelement():
            dst.copy_(src)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = ft.zeros(*tuple(input.size()), dtype=grad_output.dtype, device=grad_output.device)
        dst, src = self._regions(self.grad_input, grad_output)
        if src.nelement():
            dst.copy_(src)
        return self.grad_input


class SpatialReflectionPadding(_Padding2d):
    """Pad the last two dims with their mirror image (the edge is not repeated); negative pads crop.

    Each pad must be smaller than the dim it pads, as in Torch.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.SpatialReflectionPadding(2, 1, 0, 0).forward(ft.Tensor([[[1.0, 2.0, 3.0]]])).tolist()
    [[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]]
    """

    MODE = "reflect"

    def _check(self, input: Any) -> None:
        super()._check(input)
        h, w = input.size(-2), input.size(-1)
        if max(self.pad_l, self.pad_r) >= w or max(self.pad_t, self.pad_b) >= h:
            raise ShapeError(
                f"{type(self).__name__}: pads (l={self.pad_l}, r={self.pad_r}, t={self.pad_t}, b={self.pad_b})"
                f" must be smaller than the input's {h}x{w} (H x W)"
            )

    def update_output(self, input: Any) -> Any:
        self._check(input)
        self.output = index_pad(input, self._pads(), self.MODE)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = index_pad_backward(input, grad_output, self._pads(), self.MODE)
        return self.grad_input


class SpatialReplicationPadding(SpatialReflectionPadding):
    """Pad the last two dims by repeating the edge pixels; negative pads crop.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.SpatialReplicationPadding(2, 1, 0, 0).forward(ft.Tensor([[[1.0, 2.0, 3.0]]])).tolist()
    [[[1.0, 1.0, 1.0, 2.0, 3.0, 3.0]]]
    """

    MODE = "replicate"

    def _check(self, input: Any) -> None:
        _Padding2d._check(self, input)


def _check_scale(name: str, scale: Any) -> int:
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ArgumentError(f"{name}: scale must be a positive integer, got {scale!r}")
    return scale


class SpatialUpSamplingNearest(Module):
    """Nearest-neighbour upsampling by an integer ``scale``: ``C x H x W`` to ``C x sH x sW`` (or batches).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.SpatialUpSamplingNearest(2).forward(ft.Tensor([[[1.0, 2.0]]])).tolist()
    [[[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]]]
    """

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale_factor = _check_scale("SpatialUpSamplingNearest", scale)

    def update_output(self, input: Any) -> Any:
        _check_input("SpatialUpSamplingNearest", input, (3, 4), "C x H x W")
        s = self.scale_factor
        lead, h, w = tuple(input.size())[:-2], input.size(-2), input.size(-1)
        big = input.reshape(*lead, h, 1, w, 1).expand(*lead, h, s, w, s)
        self.output = big.reshape(*lead, h * s, w * s)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        s = self.scale_factor
        lead, h, w = tuple(input.size())[:-2], input.size(-2), input.size(-1)
        n = len(lead)
        self.grad_input = grad_output.reshape(*lead, h, s, w, s).sum((n + 1, n + 3))
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{self.scale_factor}"


def _interp_matrix(n_in: int, n_out: int, dtype: Any, device: Any) -> Tensor:
    """``n_out x n_in``: corner-aligned linear interpolation weights (Torch's SpatialUpSamplingBilinear)."""
    ratio = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    pos = ft.arange(n_out, dtype=dtype, device=device) * ratio
    lo = ft.clamp(ft.floor(pos), 0, n_in - 1)
    lam = pos - lo
    lo_i = lo.long()
    hi_i = ft.clamp(lo_i + 1, 0, n_in - 1)
    rows = ft.arange(n_out, device=device)
    a = ft.zeros(n_out, n_in, dtype=dtype, device=device)
    a.index_put_((rows, lo_i), 1.0 - lam, accumulate=True)
    a.index_put_((rows, hi_i), lam, accumulate=True)
    return a


class SpatialUpSamplingBilinear(Module):
    """Bilinear upsampling with corner-aligned sampling (the corner pixels of input and output coincide).

    ``SpatialUpSamplingBilinear(scale)`` (a positive integer) gives ``(H - 1) * scale + 1`` rows and
    ``(W - 1) * scale + 1`` columns, as Torch; ``SpatialUpSamplingBilinear(oheight=, owidth=)`` (or a
    dict ``{'oheight': .., 'owidth': ..}``) a fixed output size. Input ``C x H x W`` or a batch.
    The output is ``A_h @ x @ A_w^T`` with two interpolation matrices, so the backward is exact.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.SpatialUpSamplingBilinear(2).forward(ft.Tensor([[[0.0, 2.0], [4.0, 6.0]]])).tolist()
    [[[0.0, 1.0, 2.0], [2.0, 3.0, 4.0], [4.0, 5.0, 6.0]]]
    """

    def __init__(self, scale: Any = None, oheight: int | None = None, owidth: int | None = None) -> None:
        super().__init__()
        name = "SpatialUpSamplingBilinear"
        if isinstance(scale, dict):
            oheight, owidth, scale = scale.get("oheight"), scale.get("owidth"), None
        if scale is not None:
            if oheight is not None or owidth is not None:
                raise ArgumentError(f"{name}: give a scale or an output size (oheight, owidth), not both")
            self.scale_factor: int | None = _check_scale(name, scale)
            self.oheight: int | None = None
            self.owidth: int | None = None
        else:
            for key, v in (("oheight", oheight), ("owidth", owidth)):
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise ArgumentError(f"{name}: {key} must be a positive integer (or give a scale), got {v!r}")
            self.scale_factor = None
            self.oheight, self.owidth = oheight, owidth

    def _out_size(self, h: int, w: int) -> tuple[int, int]:
        if self.scale_factor is not None:
            return (h - 1) * self.scale_factor + 1, (w - 1) * self.scale_factor + 1
        assert self.oheight is not None and self.owidth is not None
        return self.oheight, self.owidth

    def _matrices(self, input: Tensor) -> tuple[Tensor, Tensor]:
        h, w = input.size(-2), input.size(-1)
        oh, ow = self._out_size(h, w)
        return (
            _interp_matrix(h, oh, input.dtype, input.device),
            _interp_matrix(w, ow, input.dtype, input.device),
        )

    def update_output(self, input: Any) -> Any:
        _check_input("SpatialUpSamplingBilinear", input, (3, 4), "C x H x W")
        ah, aw = self._matrices(input)
        self.output = ah @ input @ aw.t()
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        ah, aw = self._matrices(input)
        self.grad_input = ah.t() @ grad_output @ aw
        return self.grad_input

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            return f"{self.scale_factor}"
        return f"{self.oheight}x{self.owidth}"


__all__ = [
    "SpatialReflectionPadding",
    "SpatialReplicationPadding",
    "SpatialUpSamplingBilinear",
    "SpatialUpSamplingNearest",
    "SpatialZeroPadding",
]
