"""Volumetric (3-D) layers (Torch's convolution.md): convolutions, pooling, unpooling and padding.

Inputs are ``C x T x H x W`` or a batch ``N x C x T x H x W``. Arguments follow Torch's order, time
first and then **width before height** (``kT, kW, kH, dT, dW, dH, padT, padW, padH``); weights
are ``nOut x nIn x kT x kH x kW`` (``nIn x nOut x kT x kH x kW`` for the full convolution). Output
sizes: ``floor((in + 2 pad - (dil (k - 1) + 1)) / d) + 1``.

Everything is written with tensor ops: a strided-window view of the (padded) input (``unfold``
along each of the three dims), one matrix product (convolutions) or one reduction (pooling); the
backward passes fold windows back with one strided add per kernel offset, or one ``index_add``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, ShapeError, size_text

from .module import Module, fan_in_uniform
from .resample import index_pad, index_pad_backward

Triple = tuple[int, int, int]


def _sizes(t: Any) -> str:
    return size_text(tuple(t.size()))


def _positive(name: str, **values: Any) -> None:
    for key, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ArgumentError(f"{name}: {key} must be a positive integer, got {v!r}")


def _non_negative(name: str, **values: Any) -> None:
    for key, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ArgumentError(f"{name}: {key} must be a non-negative integer, got {v!r}")


def _as_batch(name: str, input: Any, planes: int | None) -> Tensor:
    """``input`` as ``N x C x T x H x W`` (a view), after checking its rank and plane count."""
    if not isinstance(input, Tensor):
        raise ArgumentError(f"{name}: expected a tensor input, got {type(input).__name__}")
    c = "C" if planes is None else str(planes)
    if input.dim() not in (4, 5) or (planes is not None and input.size(-4) != planes):
        raise ShapeError(
            f"{name}: expected an input of size {c} x T x H x W or N x {c} x T x H x W, got {_sizes(input)}"
        )
    return input.unsqueeze(0) if input.dim() == 4 else input


def _like_input(out: Tensor, input: Tensor) -> Tensor:
    """Drop the batch dim again for a single-sample input."""
    return out.squeeze(0) if input.dim() == 4 else out


def _out_size(name: str, n: Triple, k: Triple, d: Triple, pad: Triple, dil: Triple, ceil: bool = False) -> Triple:
    out = []
    for i in range(3):
        span = dil[i] * (k[i] - 1) + 1
        room = n[i] + 2 * pad[i] - span
        o = (math.ceil(room / d[i]) if ceil else room // d[i]) + 1
        if ceil and o > 1 and (o - 1) * d[i] >= n[i] + pad[i]:
            o -= 1  # the last window must start inside the input or its left padding
        if room < 0 or o < 1:
            sizes = "x".join(map(str, n))
            spans = "x".join(str(dil[j] * (k[j] - 1) + 1) for j in range(3))
            raise ShapeError(
                f"{name}: input of {sizes} (T x H x W) is too small: with padding "
                f"{'x'.join(map(str, pad))} it must be at least the kernel's extent {spans}"
            )
        out.append(o)
    return out[0], out[1], out[2]


def _pad(x: Tensor, pads: list[tuple[int, int]], value: float) -> Tensor:
    """``x`` with its last three dims padded by ``(before, after)`` entries of ``value`` (a copy if any)."""
    if not any(lo or hi for lo, hi in pads):
        return x
    size = list(x.size())
    for i, (lo, hi) in enumerate(pads):
        size[-3 + i] += lo + hi
    out = ft.full(*size, fill_value=value, dtype=x.dtype, device=x.device)
    inner = out
    for i, (lo, _) in enumerate(pads):
        inner = inner.narrow(x.dim() - 3 + i, lo, x.size(-3 + i))
    inner.copy_(x)
    return out


def _windows(x: Any, k: Triple, d: Triple, dil: Triple) -> Tensor:
    """A view ``... x oT x oH x oW x kT x kH x kW`` of the windows over the last three dims of ``x``."""
    first = x.dim() - 3
    for i in range(3):
        x = x.unfold(first + i, dil[i] * (k[i] - 1) + 1, d[i])
    if dil != (1, 1, 1):
        x = x[..., :: dil[0], :: dil[1], :: dil[2]]
    return x


def _fold(cols: Tensor, size: list[int], d: Triple, dil: Triple) -> Tensor:
    """The adjoint of :func:`_windows`: ``cols`` (``... x oT x oH x oW x kT x kH x kW``) summed into ``size``."""
    out: Any = ft.zeros(*size, dtype=cols.dtype, device=cols.device)
    o = tuple(cols.size())[-6:-3]
    k = tuple(cols.size())[-3:]
    for a, b, c in itertools.product(range(k[0]), range(k[1]), range(k[2])):  # one add per kernel offset
        s = (a * dil[0], b * dil[1], c * dil[2])
        out[
            ...,
            s[0] : s[0] + d[0] * (o[0] - 1) + 1 : d[0],
            s[1] : s[1] + d[1] * (o[1] - 1) + 1 : d[1],
            s[2] : s[2] + d[2] * (o[2] - 1) + 1 : d[2],
        ].add_(cols.select(-1, c).select(-1, b).select(-1, a))
    return out


def _crop(x: Tensor, pads: list[tuple[int, int]], size: Triple) -> Tensor:
    for i, (lo, _) in enumerate(pads):
        x = x.narrow(x.dim() - 3 + i, lo, size[i])
    return x


def _txt(v: tuple[int, ...]) -> str:
    return "x".join(map(str, v))


# --------------------------------------------------------------------------------------------------
# Convolutions


class VolumetricConvolution(Module):
    """3-D convolution (cross-correlation) plus a bias: ``nIn x T x H x W`` to ``nOut x oT x oH x oW``.

    ``VolumetricConvolution(n_input_plane, n_output_plane, kt, kw, kh, dt=1, dw=1, dh=1, pad_t=0,
    pad_w=0, pad_h=0)``; ``weight`` is ``nOut x nIn x kT x kH x kW``, ``bias`` ``nOut``, both
    U(-1/sqrt(nIn kT kH kW), ..). Zero padding. Input single or batched. ``no_bias()`` drops the bias.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.VolumetricConvolution(1, 2, 2, 2, 2)
    >>> _ = m.weight.fill_(1.0); _ = m.bias.fill_(0.5)
    >>> m.forward(ft.ones(1, 3, 3, 3)).size(), m.output[0, 0, 0, 0].item()
    (Size([2, 2, 2, 2]), 8.5)
    >>> m
    nn.VolumetricConvolution(1 -> 2, 2x2x2)
    """

    def __init__(
        self,
        n_input_plane: int,
        n_output_plane: int,
        kt: int,
        kw: int,
        kh: int,
        dt: int = 1,
        dw: int = 1,
        dh: int = 1,
        pad_t: int = 0,
        pad_w: int = 0,
        pad_h: int = 0,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        _positive(name, n_input_plane=n_input_plane, n_output_plane=n_output_plane, kt=kt, kw=kw, kh=kh)
        _positive(name, dt=dt, dw=dw, dh=dh)
        _non_negative(name, pad_t=pad_t, pad_w=pad_w, pad_h=pad_h)
        self.n_input_plane = n_input_plane
        self.n_output_plane = n_output_plane
        self.kt, self.kw, self.kh = kt, kw, kh
        self.dt, self.dw, self.dh = dt, dw, dh
        self.pad_t, self.pad_w, self.pad_h = pad_t, pad_w, pad_h
        self.dilation_t = self.dilation_w = self.dilation_h = 1
        self.weight = ft.Tensor(*self._weight_size())
        self.grad_weight = ft.zeros(*self._weight_size())
        self.bias = ft.Tensor(self._bias_size())
        self.grad_bias = ft.zeros(self._bias_size())
        self.reset()

    def _weight_size(self) -> tuple[int, ...]:
        return (self.n_output_plane, self.n_input_plane, self.kt, self.kh, self.kw)

    def _bias_size(self) -> int:
        return self.n_output_plane

    # T, H, W order
    def _k(self) -> Triple:
        return self.kt, self.kh, self.kw

    def _d(self) -> Triple:
        return self.dt, self.dh, self.dw

    def _p(self) -> Triple:
        return self.pad_t, self.pad_h, self.pad_w

    def _dil(self) -> Triple:
        return self.dilation_t, self.dilation_h, self.dilation_w

    def no_bias(self) -> VolumetricConvolution:
        """Drop the bias (and its gradient); returns self."""
        self.__dict__.pop("bias", None)
        self.__dict__.pop("grad_bias", None)
        return self

    def reset(self, stdv: float | None = None) -> VolumetricConvolution:
        fan_in = self.n_input_plane * self.kt * self.kh * self.kw
        fan_in_uniform(self.weight, self.__dict__.get("bias"), fan_in=fan_in, stdv=stdv)
        return self

    def _cols(self, x: Tensor) -> tuple[Tensor, Triple]:
        """``(N oT oH oW) x (nIn kT kH kW)`` windows of the batch ``x``, and the output size."""
        n = tuple(x.size())[-3:]
        o = _out_size(type(self).__name__, n, self._k(), self._d(), self._p(), self._dil())
        xp = _pad(x, [(p, p) for p in self._p()], 0.0)
        win = _windows(xp, self._k(), self._d(), self._dil())  # N x C x oT x oH x oW x kT x kH x kW
        cols = win.permute(0, 2, 3, 4, 1, 5, 6, 7).reshape(-1, self.weight.nelement() // self.weight.size(0))
        return cols, o

    def update_output(self, input: Any) -> Any:
        x = _as_batch(type(self).__name__, input, self.n_input_plane)
        cols, o = self._cols(x)
        out = cols @ self.weight.view(self.n_output_plane, -1).t()
        if "bias" in self.__dict__:
            out.add_(self.bias)
        out = out.view(x.size(0), *o, self.n_output_plane).permute(0, 4, 1, 2, 3).contiguous()
        self.output = _like_input(out, input)
        return self.output

    def _grad_rows(self, grad_output: Tensor) -> Tensor:
        g = grad_output.unsqueeze(0) if grad_output.dim() == 4 else grad_output
        return g.permute(0, 2, 3, 4, 1).reshape(-1, self.n_output_plane)

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x = _as_batch(type(self).__name__, input, self.n_input_plane)
        o = tuple(grad_output.size())[-3:]
        cols = self._grad_rows(grad_output) @ self.weight.view(self.n_output_plane, -1)
        cols = cols.view(x.size(0), *o, *self._weight_size()[1:]).permute(0, 4, 1, 2, 3, 5, 6, 7)
        pads = [(p, p) for p in self._p()]
        size = list(x.size())
        for i, (lo, hi) in enumerate(pads):
            size[2 + i] += lo + hi
        grad = _crop(_fold(cols, size, self._d(), self._dil()), pads, tuple(x.size())[2:])
        self.grad_input = grad.reshape(*tuple(input.size()))
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        x = _as_batch(type(self).__name__, input, self.n_input_plane)
        cols, _ = self._cols(x)
        g = self._grad_rows(grad_output)
        self.grad_weight.view(self.n_output_plane, -1).addmm_(g.t(), cols, alpha=scale)
        if "bias" in self.__dict__:
            self.grad_bias.add_(g.sum(0), alpha=scale)

    def extra_repr(self) -> str:
        text = f"{self.n_input_plane} -> {self.n_output_plane}, {_txt((self.kt, self.kw, self.kh))}"
        if self._d() != (1, 1, 1):
            text += f", {_txt((self.dt, self.dw, self.dh))}"
        if self._p() != (0, 0, 0):
            text += f", pad {_txt((self.pad_t, self.pad_w, self.pad_h))}"
        if self._dil() != (1, 1, 1):
            text += f", dilation {_txt((self.dilation_t, self.dilation_w, self.dilation_h))}"
        return text if "bias" in self.__dict__ else text + ", without bias"


class VolumetricDilatedConvolution(VolumetricConvolution):
    """3-D dilated (atrous) convolution: kernel taps ``dilation`` apart.

    ``VolumetricDilatedConvolution(n_input_plane, n_output_plane, kt, kw, kh, dt=1, dw=1, dh=1,
    pad_t=0, pad_w=0, pad_h=0, dilation_t=1, dilation_w=1, dilation_h=1)``; output
    ``floor((in + 2 pad - dil (k - 1) - 1) / d) + 1`` per dim. Otherwise as VolumetricConvolution.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.VolumetricDilatedConvolution(1, 1, 2, 2, 2, 1, 1, 1, 0, 0, 0, 2, 2, 2)
    >>> m.forward(ft.ones(1, 5, 5, 5)).size()
    Size([1, 3, 3, 3])
    """

    def __init__(
        self,
        n_input_plane: int,
        n_output_plane: int,
        kt: int,
        kw: int,
        kh: int,
        dt: int = 1,
        dw: int = 1,
        dh: int = 1,
        pad_t: int = 0,
        pad_w: int = 0,
        pad_h: int = 0,
        dilation_t: int = 1,
        dilation_w: int = 1,
        dilation_h: int = 1,
    ) -> None:
        super().__init__(n_input_plane, n_output_plane, kt, kw, kh, dt, dw, dh, pad_t, pad_w, pad_h)
        _positive(type(self).__name__, dilation_t=dilation_t, dilation_w=dilation_w, dilation_h=dilation_h)
        self.dilation_t, self.dilation_w, self.dilation_h = dilation_t, dilation_w, dilation_h


class VolumetricFullConvolution(Module):
    """3-D transposed convolution ("deconvolution"): the adjoint of VolumetricConvolution, plus a bias.

    ``VolumetricFullConvolution(n_input_plane, n_output_plane, kt, kw, kh, dt=1, dw=1, dh=1, pad_t=0,
    pad_w=0, pad_h=0, adj_t=0, adj_w=0, adj_h=0)``; ``weight`` is ``nIn x nOut x kT x kH x kW``;
    each output dim is ``(in - 1) d - 2 pad + k + adj``, with ``adj < d`` as Torch requires.
    Initialisation U(-1/sqrt(nIn kT kH kW), ..).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.VolumetricFullConvolution(1, 1, 2, 2, 2, 2, 2, 2)
    >>> _ = m.weight.fill_(1.0); _ = m.bias.zero_()
    >>> m.forward(ft.ones(1, 2, 2, 2)).size(), float(m.output.sum())
    (Size([1, 4, 4, 4]), 64.0)
    """

    def __init__(
        self,
        n_input_plane: int,
        n_output_plane: int,
        kt: int,
        kw: int,
        kh: int,
        dt: int = 1,
        dw: int = 1,
        dh: int = 1,
        pad_t: int = 0,
        pad_w: int = 0,
        pad_h: int = 0,
        adj_t: int = 0,
        adj_w: int = 0,
        adj_h: int = 0,
    ) -> None:
        super().__init__()
        name = "VolumetricFullConvolution"
        _positive(name, n_input_plane=n_input_plane, n_output_plane=n_output_plane, kt=kt, kw=kw, kh=kh)
        _positive(name, dt=dt, dw=dw, dh=dh)
        _non_negative(name, pad_t=pad_t, pad_w=pad_w, pad_h=pad_h, adj_t=adj_t, adj_w=adj_w, adj_h=adj_h)
        if adj_t >= dt or adj_w >= dw or adj_h >= dh:
            raise ArgumentError(
                f"{name}: adj_t, adj_w, adj_h ({adj_t}, {adj_w}, {adj_h}) must be smaller than dt, dw, dh"
                f" ({dt}, {dw}, {dh})"
            )
        self.n_input_plane = n_input_plane
        self.n_output_plane = n_output_plane
        self.kt, self.kw, self.kh = kt, kw, kh
        self.dt, self.dw, self.dh = dt, dw, dh
        self.pad_t, self.pad_w, self.pad_h = pad_t, pad_w, pad_h
        self.adj_t, self.adj_w, self.adj_h = adj_t, adj_w, adj_h
        self.weight = ft.Tensor(n_input_plane, n_output_plane, kt, kh, kw)
        self.grad_weight = ft.zeros(n_input_plane, n_output_plane, kt, kh, kw)
        self.bias = ft.Tensor(n_output_plane)
        self.grad_bias = ft.zeros(n_output_plane)
        self.reset()

    def reset(self, stdv: float | None = None) -> VolumetricFullConvolution:
        fan_in = self.n_input_plane * self.kt * self.kh * self.kw
        fan_in_uniform(self.weight, self.__dict__.get("bias"), fan_in=fan_in, stdv=stdv)
        return self

    def no_bias(self) -> VolumetricFullConvolution:
        """Drop the bias (and its gradient); returns self."""
        self.__dict__.pop("bias", None)
        self.__dict__.pop("grad_bias", None)
        return self

    def _k(self) -> Triple:
        return self.kt, self.kh, self.kw

    def _d(self) -> Triple:
        return self.dt, self.dh, self.dw

    def _pads(self) -> list[tuple[int, int]]:
        """The crop of each dim of the full (uncropped) output: ``(pad, pad - adj)``."""
        return [
            (self.pad_t, self.pad_t - self.adj_t),
            (self.pad_h, self.pad_h - self.adj_h),
            (self.pad_w, self.pad_w - self.adj_w),
        ]

    def _out_size(self, n: Triple) -> Triple:
        p = (self.pad_t, self.pad_h, self.pad_w)
        adj = (self.adj_t, self.adj_h, self.adj_w)
        k, d = self._k(), self._d()
        o = tuple((n[i] - 1) * d[i] - 2 * p[i] + k[i] + adj[i] for i in range(3))
        if min(o) < 1:
            raise ShapeError(
                f"VolumetricFullConvolution: input of {_txt(n)} (T x H x W) gives an output of {_txt(o)}"
                f" (too much padding {_txt(p)})"
            )
        return o  # type: ignore[return-value]

    def _rows(self, x: Tensor) -> Tensor:
        return x.permute(0, 2, 3, 4, 1).reshape(-1, self.n_input_plane)

    def _grad_cols(self, grad_output: Tensor) -> Tensor:
        """``(N iT iH iW) x (nOut kT kH kW)``: windows of the zero-padded gradient, one per input position."""
        g = grad_output.unsqueeze(0) if grad_output.dim() == 4 else grad_output
        pads = [(lo, max(hi, 0)) for lo, hi in self._pads()]
        full = _pad(g, pads, 0.0)
        # a negative (pad - adj) means the uncropped output was extended by adj - pad: cut it back
        for i, (_, hi) in enumerate(self._pads()):
            if hi < 0:
                full = full.narrow(2 + i, 0, full.size(2 + i) + hi)
        win = _windows(full, self._k(), self._d(), (1, 1, 1))  # N x nOut x iT x iH x iW x kT x kH x kW
        return win.permute(0, 2, 3, 4, 1, 5, 6, 7).reshape(-1, self.weight.nelement() // self.weight.size(0))

    def update_output(self, input: Any) -> Any:
        x = _as_batch("VolumetricFullConvolution", input, self.n_input_plane)
        n = tuple(x.size())[2:]
        o = self._out_size(n)
        cols = self._rows(x) @ self.weight.view(self.n_input_plane, -1)  # (N iT iH iW) x (nOut kT kH kW)
        cols = cols.view(x.size(0), *n, self.n_output_plane, *self._k()).permute(0, 4, 1, 2, 3, 5, 6, 7)
        k, d = self._k(), self._d()
        size = [x.size(0), self.n_output_plane] + [(n[i] - 1) * d[i] + k[i] for i in range(3)]
        full = _fold(cols, size, d, (1, 1, 1))  # the uncropped output, (in - 1) d + k per dim
        full = _pad(full, [(0, max(-hi, 0)) for _, hi in self._pads()], 0.0)  # adj beyond the pad: zeros
        out = _crop(full, self._pads(), o)
        if "bias" in self.__dict__:
            out = out + self.bias.view(-1, 1, 1, 1)
        self.output = _like_input(out.contiguous(), input)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        cols = self._grad_cols(grad_output) @ self.weight.view(self.n_input_plane, -1).t()  # (N iT iH iW) x nIn
        x = _as_batch("VolumetricFullConvolution", input, self.n_input_plane)
        grad = cols.view(x.size(0), *tuple(x.size())[2:], self.n_input_plane).permute(0, 4, 1, 2, 3)
        self.grad_input = grad.reshape(*tuple(input.size()))
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        x = _as_batch("VolumetricFullConvolution", input, self.n_input_plane)
        self.grad_weight.view(self.n_input_plane, -1).addmm_(
            self._rows(x).t(), self._grad_cols(grad_output), alpha=scale
        )
        if "bias" in self.__dict__:
            g = grad_output.unsqueeze(0) if grad_output.dim() == 4 else grad_output
            self.grad_bias.add_(g.sum((0, 2, 3, 4)), alpha=scale)

    def extra_repr(self) -> str:
        text = f"{self.n_input_plane} -> {self.n_output_plane}, {_txt((self.kt, self.kw, self.kh))}"
        if self._d() != (1, 1, 1):
            text += f", {_txt((self.dt, self.dw, self.dh))}"
        if (self.pad_t, self.pad_w, self.pad_h) != (0, 0, 0):
            text += f", pad {_txt((self.pad_t, self.pad_w, self.pad_h))}"
        if (self.adj_t, self.adj_w, self.adj_h) != (0, 0, 0):
            text += f", adj {_txt((self.adj_t, self.adj_w, self.adj_h))}"
        return text if "bias" in self.__dict__ else text + ", without bias"


# --------------------------------------------------------------------------------------------------
# Pooling


class VolumetricMaxPooling(Module):
    """3-D max pooling: ``VolumetricMaxPooling(kt, kw, kh, dt=kt, dw=kw, dh=kh, pad_t=0, pad_w=0, pad_h=0)``.

    Padding counts as ``-inf`` (each pad at most half the kernel, as Torch); ``ceil()`` rounds the
    output size up (the last window still starts inside the input or its left padding),
    ``floor()`` (the default) down. ``indices`` (a LongTensor of the output's size) keeps, for each
    output, the 0-based flat position ``(t * H + h) * W + w`` of its maximum in the input's
    ``T x H x W`` volume (ties go to the first); VolumetricMaxUnpooling reads it, and the input
    size ``itime, iheight, iwidth``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.VolumetricMaxPooling(2, 2, 2)
    >>> m.forward(ft.arange(27.0).view(1, 3, 3, 3)).tolist(), m.indices.tolist()
    ([[[[13.0]]]], [[[[13]]]])
    >>> m.ceil().forward(ft.arange(27.0).view(1, 3, 3, 3)).size()
    Size([1, 2, 2, 2])
    """

    STATE = ("indices",)

    def __init__(
        self,
        kt: int,
        kw: int,
        kh: int,
        dt: int | None = None,
        dw: int | None = None,
        dh: int | None = None,
        pad_t: int = 0,
        pad_w: int = 0,
        pad_h: int = 0,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        dt, dw, dh = kt if dt is None else dt, kw if dw is None else dw, kh if dh is None else dh
        _positive(name, kt=kt, kw=kw, kh=kh, dt=dt, dw=dw, dh=dh)
        _non_negative(name, pad_t=pad_t, pad_w=pad_w, pad_h=pad_h)
        if pad_t > kt // 2 or pad_w > kw // 2 or pad_h > kh // 2:
            raise ArgumentError(
                f"{name}: pads ({pad_t}, {pad_w}, {pad_h}) must be at most half the kernel ({kt}, {kw}, {kh})"
            )
        self.kt, self.kw, self.kh = kt, kw, kh
        self.dt, self.dw, self.dh = dt, dw, dh
        self.pad_t, self.pad_w, self.pad_h = pad_t, pad_w, pad_h
        self.dilation_t = self.dilation_w = self.dilation_h = 1
        self.ceil_mode = False
        self.indices = ft.LongTensor()
        self.itime = self.iheight = self.iwidth = 0

    def ceil(self) -> VolumetricMaxPooling:
        """Round the output size up; returns self."""
        self.ceil_mode = True
        return self

    def floor(self) -> VolumetricMaxPooling:
        """Round the output size down (the default); returns self."""
        self.ceil_mode = False
        return self

    def _k(self) -> Triple:
        return self.kt, self.kh, self.kw

    def _d(self) -> Triple:
        return self.dt, self.dh, self.dw

    def _p(self) -> Triple:
        return self.pad_t, self.pad_h, self.pad_w

    def _dil(self) -> Triple:
        return self.dilation_t, self.dilation_h, self.dilation_w

    def update_output(self, input: Any) -> Any:
        x = _as_batch(type(self).__name__, input, None)
        n: Triple = (x.size(2), x.size(3), x.size(4))
        k, d, p, dil = self._k(), self._d(), self._p(), self._dil()
        o = _out_size(type(self).__name__, n, k, d, p, dil, self.ceil_mode)
        # pad with -inf, on the right as far as the last (ceil-mode) window reaches
        pads = [(p[i], max(p[i], (o[i] - 1) * d[i] + dil[i] * (k[i] - 1) + 1 - n[i] - p[i])) for i in range(3)]
        win = _windows(_pad(x, pads, -math.inf), k, d, dil)
        nk = k[0] * k[1] * k[2]
        values, local = win.reshape(x.size(0), x.size(1), *o, nk).max(-1)
        pos = _pad(ft.arange(n[0] * n[1] * n[2], device=x.device).view(*n), pads, -1)
        pos = _windows(pos, k, d, dil).reshape(*o, nk)
        self.indices = pos.expand(x.size(0), x.size(1), *o, nk).gather(-1, local.unsqueeze(-1)).squeeze(-1)
        self.indices = _like_input(self.indices, input)
        self.itime, self.iheight, self.iwidth = n
        self.output = _like_input(values, input)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = _scatter_add(input, self.indices, grad_output)
        return self.grad_input

    def extra_repr(self) -> str:
        text = f"{_txt((self.kt, self.kw, self.kh))}, {_txt((self.dt, self.dw, self.dh))}"
        if self._p() != (0, 0, 0):
            text += f", pad {_txt((self.pad_t, self.pad_w, self.pad_h))}"
        if self._dil() != (1, 1, 1):
            text += f", dilation {_txt((self.dilation_t, self.dilation_w, self.dilation_h))}"
        return text + (", ceil" if self.ceil_mode else "")


def _plane_offsets(shape: tuple[int, ...], volume: int, device: Any) -> Tensor:
    """``N x C x 1 x 1 x 1`` (or ``C x 1 x 1 x 1``): the flat offset of each plane of ``volume`` elements."""
    planes = 1
    for s in shape[:-3]:
        planes *= s
    return (ft.arange(planes, device=device) * volume).view(*shape[:-3], 1, 1, 1)


def _scatter_add(input: Tensor, indices: Tensor, values: Tensor) -> Tensor:
    """Zeros of ``input``'s size with ``values`` added at the flat per-plane ``indices`` (repeats add up)."""
    size = tuple(input.size())
    volume = size[-1] * size[-2] * size[-3]
    flat = (indices + _plane_offsets(size, volume, input.device)).reshape(-1)
    grad = ft.zeros(input.nelement(), dtype=values.dtype, device=values.device)
    grad.index_add_(0, flat, values.reshape(-1))
    return grad.view(*size)


class VolumetricDilatedMaxPooling(VolumetricMaxPooling):
    """3-D dilated max pooling: window taps ``dilation`` apart; otherwise as VolumetricMaxPooling.

    ``VolumetricDilatedMaxPooling(kt, kw, kh, dt=kt, dw=kw, dh=kh, pad_t=0, pad_w=0, pad_h=0,
    dilation_t=1, dilation_w=1, dilation_h=1)``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.VolumetricDilatedMaxPooling(2, 2, 2, 1, 1, 1, 0, 0, 0, 2, 2, 2)
    >>> m.forward(ft.arange(27.0).view(1, 3, 3, 3)).tolist(), m.indices.tolist()
    ([[[[26.0]]]], [[[[26]]]])
    """

    def __init__(
        self,
        kt: int,
        kw: int,
        kh: int,
        dt: int | None = None,
        dw: int | None = None,
        dh: int | None = None,
        pad_t: int = 0,
        pad_w: int = 0,
        pad_h: int = 0,
        dilation_t: int = 1,
        dilation_w: int = 1,
        dilation_h: int = 1,
    ) -> None:
        super().__init__(kt, kw, kh, dt, dw, dh, pad_t, pad_w, pad_h)
        _positive(type(self).__name__, dilation_t=dilation_t, dilation_w=dilation_w, dilation_h=dilation_h)
        self.dilation_t, self.dilation_w, self.dilation_h = dilation_t, dilation_w, dilation_h


class VolumetricAveragePooling(Module):
    """3-D average pooling: ``VolumetricAveragePooling(kt, kw, kh, dt=kt, dw=kw, dh=kh, pad_t=0, pad_w=0, pad_h=0)``.

    Each output is the window's sum divided by ``kT kH kW`` (zero padding counts, as Torch's
    default ``count_include_pad``); the output size is rounded down.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.VolumetricAveragePooling(2, 2, 2).forward(ft.arange(8.0).view(1, 2, 2, 2)).tolist()
    [[[[3.5]]]]
    """

    def __init__(
        self,
        kt: int,
        kw: int,
        kh: int,
        dt: int | None = None,
        dw: int | None = None,
        dh: int | None = None,
        pad_t: int = 0,
        pad_w: int = 0,
        pad_h: int = 0,
    ) -> None:
        super().__init__()
        name = "VolumetricAveragePooling"
        dt, dw, dh = kt if dt is None else dt, kw if dw is None else dw, kh if dh is None else dh
        _positive(name, kt=kt, kw=kw, kh=kh, dt=dt, dw=dw, dh=dh)
        _non_negative(name, pad_t=pad_t, pad_w=pad_w, pad_h=pad_h)
        if pad_t > kt // 2 or pad_w > kw // 2 or pad_h > kh // 2:
            raise ArgumentError(
                f"{name}: pads ({pad_t}, {pad_w}, {pad_h}) must be at most half the kernel ({kt}, {kw}, {kh})"
            )
        self.kt, self.kw, self.kh = kt, kw, kh
        self.dt, self.dw, self.dh = dt, dw, dh
        self.pad_t, self.pad_w, self.pad_h = pad_t, pad_w, pad_h

    def _k(self) -> Triple:
        return self.kt, self.kh, self.kw

    def _d(self) -> Triple:
        return self.dt, self.dh, self.dw

    def _pads(self) -> list[tuple[int, int]]:
        return [(self.pad_t, self.pad_t), (self.pad_h, self.pad_h), (self.pad_w, self.pad_w)]

    def update_output(self, input: Any) -> Any:
        x = _as_batch("VolumetricAveragePooling", input, None)
        n: Triple = (x.size(2), x.size(3), x.size(4))
        p: Triple = (self.pad_t, self.pad_h, self.pad_w)
        _out_size("VolumetricAveragePooling", n, self._k(), self._d(), p, (1, 1, 1))
        win = _windows(_pad(x, self._pads(), 0.0), self._k(), self._d(), (1, 1, 1))
        out = win.sum((-3, -2, -1)) / float(self.kt * self.kh * self.kw)
        self.output = _like_input(out, input)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x = _as_batch("VolumetricAveragePooling", input, None)
        g = grad_output.unsqueeze(0) if grad_output.dim() == 4 else grad_output
        g = (g / float(self.kt * self.kh * self.kw)).view(*tuple(g.size()), 1, 1, 1)
        cols = g.expand(*tuple(g.size())[:-3], *self._k())
        size = list(x.size())
        for i, (lo, hi) in enumerate(self._pads()):
            size[2 + i] += lo + hi
        grad = _crop(_fold(cols, size, self._d(), (1, 1, 1)), self._pads(), tuple(x.size())[2:])
        self.grad_input = grad.reshape(*tuple(input.size()))
        return self.grad_input

    def extra_repr(self) -> str:
        text = f"{_txt((self.kt, self.kw, self.kh))}, {_txt((self.dt, self.dw, self.dh))}"
        if (self.pad_t, self.pad_w, self.pad_h) != (0, 0, 0):
            text += f", pad {_txt((self.pad_t, self.pad_w, self.pad_h))}"
        return text


class VolumetricMaxUnpooling(Module):
    """The inverse of a VolumetricMaxPooling: each input value goes back where its maximum came from.

    ``VolumetricMaxUnpooling(pooling_module)`` reads the pooling module's ``indices`` and input size
    at every call, so run the pooling forward first; the other positions are zero. With overlapping
    windows that pick one position twice, the later value wins (as Torch).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> pool = nn.VolumetricMaxPooling(2, 2, 2)
    >>> _ = pool.forward(ft.arange(8.0).view(1, 2, 2, 2))
    >>> nn.VolumetricMaxUnpooling(pool).forward(ft.Tensor([[[[5.0]]]])).view(-1).tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.0]
    """

    def __init__(self, pooling_module: VolumetricMaxPooling) -> None:
        super().__init__()
        if not isinstance(pooling_module, VolumetricMaxPooling):
            raise ArgumentError(
                f"VolumetricMaxUnpooling: expected a VolumetricMaxPooling module, got {type(pooling_module).__name__}"
            )
        self.pooling = pooling_module

    def _flat(self, input: Tensor) -> tuple[Tensor, tuple[int, ...]]:
        pool = self.pooling
        idx = pool.indices
        if not isinstance(input, Tensor) or input.dim() not in (4, 5) or tuple(input.size()) != tuple(idx.size()):
            got = _sizes(input) if isinstance(input, Tensor) else type(input).__name__
            raise ShapeError(
                f"VolumetricMaxUnpooling: expected an input of the pooling module's output size"
                f" {size_text(tuple(idx.size()))} (run its forward first), got {got}"
            )
        size = (*tuple(input.size())[:-3], pool.itime, pool.iheight, pool.iwidth)
        volume = pool.itime * pool.iheight * pool.iwidth
        flat = (idx + _plane_offsets(tuple(input.size()), volume, input.device)).reshape(-1)
        return flat, size

    def update_output(self, input: Any) -> Any:
        flat, size = self._flat(input)
        out = ft.zeros(math.prod(size), dtype=input.dtype, device=input.device)
        out.index_copy_(0, flat, input.reshape(-1))
        self.output = out.view(*size)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        flat, _ = self._flat(input)
        self.grad_input = grad_output.reshape(-1).index_select(0, flat).view(*tuple(input.size()))
        return self.grad_input

    def extra_repr(self) -> str:
        p = self.pooling
        return f"associated to {p!r}"


class VolumetricReplicationPadding(Module):
    """3-D edge padding: ``VolumetricReplicationPadding(pleft, pright, ptop, pbottom, pfront, pback)``.

    Left/right pad W, top/bottom H, front/back T; omitted pads default to ``pleft``; negative pads
    crop. Input ``C x T x H x W`` or a batch.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.VolumetricReplicationPadding(1, 0, 0, 0, 0, 1)
    >>> m.forward(ft.Tensor([[[[1.0, 2.0]]]])).tolist()
    [[[[1.0, 1.0, 2.0]], [[1.0, 1.0, 2.0]]]]
    """

    def __init__(
        self,
        pleft: int,
        pright: int | None = None,
        ptop: int | None = None,
        pbottom: int | None = None,
        pfront: int | None = None,
        pback: int | None = None,
    ) -> None:
        super().__init__()
        self.pleft = pleft
        self.pright = pleft if pright is None else pright
        self.ptop = pleft if ptop is None else ptop
        self.pbottom = pleft if pbottom is None else pbottom
        self.pfront = pleft if pfront is None else pfront
        self.pback = pleft if pback is None else pback
        for v in self._all():
            if isinstance(v, bool) or not isinstance(v, int):
                raise ArgumentError(f"VolumetricReplicationPadding: pads must be integers, got {v!r}")

    def _all(self) -> tuple[int, ...]:
        return (self.pleft, self.pright, self.ptop, self.pbottom, self.pfront, self.pback)

    def _pads(self) -> list[tuple[int, int]]:
        return [(self.pfront, self.pback), (self.ptop, self.pbottom), (self.pleft, self.pright)]

    def update_output(self, input: Any) -> Any:
        x = _as_batch("VolumetricReplicationPadding", input, None)
        n = tuple(x.size())[2:]
        o = [n[i] + lo + hi for i, (lo, hi) in enumerate(self._pads())]
        if min(o) < 1:
            raise ShapeError(
                f"VolumetricReplicationPadding: the output would be {_txt(tuple(o))} (input {_txt(n)},"
                f" T x H x W); it must be at least 1x1x1"
            )
        self.output = index_pad(input, self._pads(), "replicate")
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = index_pad_backward(input, grad_output, self._pads(), "replicate")
        return self.grad_input

    def extra_repr(self) -> str:
        return ", ".join(map(str, self._all()))


__all__ = [
    "VolumetricAveragePooling",
    "VolumetricConvolution",
    "VolumetricDilatedConvolution",
    "VolumetricDilatedMaxPooling",
    "VolumetricFullConvolution",
    "VolumetricMaxPooling",
    "VolumetricMaxUnpooling",
    "VolumetricReplicationPadding",
]
