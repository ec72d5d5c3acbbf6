"""Spatial convolution and pooling (Torch's convolution.md, the 2-D modules).

Inputs are ``C x H x W`` images or ``N x C x H x W`` batches (the output has the same form).
Weights of the convolutions are ``n_output_plane x n_input_plane x kh x kw``. Output sizes are
Torch's: ``floor((in + 2 pad - k) / stride) + 1`` (pooling in ``ceil()`` mode rounds up). The heavy
lifting is done by the array kernels of :mod:`flambeau.nn.kernels` (im2col + one GEMM per call
for the convolutions, one vectorised step per kernel offset for the poolings), looked up by name
so that a backend can bring native ones; everything else is flambeau tensor ops.

As in Torch, ``backward`` must follow ``forward`` with the same input: the convolutions keep the
input's im2col matrix (``finput``) and the max poolings the position of each maximum
(``indices``: 0-based flat positions ``y * W + x`` in the input plane, a LongTensor).

>>> import flambeau.tensor as ft
>>> import flambeau.nn as nn
>>> net = nn.Sequential(nn.SpatialConvolution(3, 8, 5, 5), nn.Tanh(), nn.SpatialMaxPooling(2, 2))
>>> net.forward(ft.randn(4, 3, 32, 32)).size()
Size([4, 8, 14, 14])
>>> net.backward(ft.randn(4, 3, 32, 32), ft.ones(4, 8, 14, 14)).size()
Size([4, 3, 32, 32])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, DeviceMismatchError, DTypeError, ShapeError, size_text
from flambeau.tensor.tensor import wrap

from .kernels import kernel, out_size
from .module import Module, fan_in_uniform

Pair = tuple[int, int]


def _size(t: Any) -> str:
    return size_text(tuple(t.size()))


# --------------------------------------------------------------------------------------------------
# The shared plumbing: input checks, batch dims, arrays in and tensors out.


class _Spatial(Module):
    """Base of the spatial modules: checks a ``C x H x W`` / ``N x C x H x W`` input."""

    def _planes(self) -> int | None:
        """The number of input planes the module requires (None: any)."""
        return None

    def _input(self, input: Any) -> tuple[Any, Any, bool]:
        """``(array N x C x H x W, device, batched)`` for a checked input tensor."""
        planes = self._planes()
        if not isinstance(input, Tensor):
            raise ArgumentError(f"{type(self).__name__}: expected a tensor input, got {type(input).__name__}")
        dims = input.dim()
        if dims not in (3, 4) or (planes is not None and input.size(dims - 3) != planes):
            p = "C" if planes is None else str(planes)
            raise ShapeError(
                f"size mismatch: expected an input of size {p} x H x W or N x {p} x H x W, got {_size(input)}"
            )
        if input._a.dtype.kind != "f":
            raise DTypeError(f"{type(self).__name__}: expected a floating-point input, got {input.type()}")
        a = input._a
        return (a if dims == 4 else a[None]), input._d, dims == 4

    def _grad(self, grad_output: Any, batched: bool) -> Any:
        """``grad_output`` as an ``N x C x oh x ow`` array, after checking it matches ``output``."""
        if not isinstance(grad_output, Tensor):
            raise ArgumentError(
                f"{type(self).__name__}: expected a tensor grad_output, got {type(grad_output).__name__}"
            )
        out = self.output
        if not isinstance(out, Tensor) or tuple(grad_output.size()) != tuple(out.size()):
            want = _size(out) if isinstance(out, Tensor) else "the output's"
            raise ShapeError(
                f"{type(self).__name__}: grad_output of size {_size(grad_output)} does not match the output"
                f" (size {want}); call forward with this input first"
            )
        if grad_output._d != out._d:  # its raw array goes to the kernels: it must be on the output's device
            raise DeviceMismatchError(
                f"{type(self).__name__}: grad_output is on {grad_output._d} but the output on {out._d};"
                " move one with .to(device)"
            )
        a = grad_output._a
        return a if batched else a[None]

    @staticmethod
    def _result(a: Any, d: Any, batched: bool) -> Tensor:
        return wrap(a if batched else a[0], d)

    def _check_params(self, input: Tensor) -> None:
        """The input must be on the weight's device and of its type (Torch refuses mixed types)."""
        w: Tensor = self.__dict__["weight"]
        if w._d is not input._d:
            raise DeviceMismatchError(
                f"{type(self).__name__}: the weight is on {w._d} but the input on {input._d}; move one with .to(device)"
            )
        if w._a.dtype != input._a.dtype:
            raise DTypeError(
                f"{type(self).__name__}: the input is a {input.type()} but the weight a {w.type()}; convert the"
                " module (.float(), .double()) or the input"
            )

    def _accumulate(self, name: str, g: Any, d: Any, scale: float) -> None:
        if g is not None and name in self.__dict__:
            if scale == 1:
                self.__dict__[name].add_(wrap(g, d))
            else:
                self.__dict__[name].add_(wrap(g, d), alpha=scale)


def _too_small(module: Module, input: Tensor, out: tuple[int, ...], what: str) -> ShapeError:
    return ShapeError(
        f"{type(module).__name__}: the input of size {_size(input)} is too small for {what}: the output would be"
        f" {'x'.join(map(str, out))}"
    )


def _geometry_text(k: Pair, stride: Pair, pad: Pair) -> str:
    """``5x5`` plus ``, dw,dh`` and ``, pad_w,pad_h`` when not the defaults (Torch's printing)."""
    s = f"{k[1]}x{k[0]}"
    if stride != (1, 1) or pad != (0, 0):
        s += f", {stride[1]},{stride[0]}"
    if pad != (0, 0):
        s += f", {pad[1]},{pad[0]}"
    return s


# --------------------------------------------------------------------------------------------------
# Convolutions.


class _FusedBackward(Module):
    """Convolutions whose ``_backward(input, grad_output, need_input, need_params, scale)`` computes
    either half or both: ``backward`` does both in one kernel call (``grad_output`` rearranged once)."""

    _backward: Callable[[Any, Any, bool, bool, float], None]  # each convolution defines it

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self._backward(input, grad_output, True, False, 1.0)
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        self._backward(input, grad_output, False, True, scale)

    def backward(self, input: Any, grad_output: Any, scale: float = 1.0) -> Any:
        self._backward(input, grad_output, True, True, scale)
        return self.grad_input


class SpatialConvolution(_FusedBackward, _Spatial):
    """2-D cross-correlation of ``n_input_plane`` planes with ``n_output_plane`` kernels, plus a bias.

    ``weight`` is ``n_output_plane x n_input_plane x kh x kw``, ``bias`` ``n_output_plane``; the
    output is ``n_output_plane x oh x ow`` with ``oh = floor((H + 2 pad_h - kh) / dh) + 1``. As in
    Torch, ``pad_h`` defaults to ``pad_w``. Initialisation U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    ``fan_in = n_input_plane * kh * kw``; :meth:`no_bias` drops the bias. Computed as im2col + one
    matrix product over the whole batch (``finput`` keeps the columns for the backward pass).

    As in Torch, setting ``grad_input = None`` skips the gradient with respect to the input (for
    the first layer of a network, whose input gradient nobody reads): ``backward`` then returns
    ``None`` and only accumulates the parameter gradients.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.SpatialConvolution(1, 1, 2, 2)
    >>> _ = m.weight.fill_(1.0); _ = m.bias.fill_(0.5)
    >>> m.forward(ft.arange(9.0).view(1, 3, 3)).tolist()
    [[[8.5, 12.5], [20.5, 24.5]]]
    >>> m
    nn.SpatialConvolution(1 -> 1, 2x2)
    """

    STATE = ("finput",)

    def __init__(
        self,
        n_input_plane: int,
        n_output_plane: int,
        kw: int,
        kh: int,
        dw: int = 1,
        dh: int = 1,
        pad_w: int = 0,
        pad_h: int | None = None,
    ) -> None:
        super().__init__()
        self.n_input_plane, self.n_output_plane = n_input_plane, n_output_plane
        self.kw, self.kh, self.dw, self.dh = kw, kh, dw, dh
        self.pad_w = pad_w
        self.pad_h = pad_w if pad_h is None else pad_h
        self.weight = ft.Tensor(n_output_plane, n_input_plane, kh, kw)
        self.grad_weight = ft.zeros(n_output_plane, n_input_plane, kh, kw)
        self.bias = ft.Tensor(n_output_plane)
        self.grad_bias = ft.zeros(n_output_plane)
        self.finput = ft.Tensor()
        self.reset()

    def no_bias(self) -> SpatialConvolution:
        """Drop the bias (and its gradient); returns self."""
        self.__dict__.pop("bias", None)
        self.__dict__.pop("grad_bias", None)
        return self

    def reset(self, stdv: float | None = None) -> SpatialConvolution:
        fan_in_uniform(self.weight, self.__dict__.get("bias"), fan_in=self.kw * self.kh * self.n_input_plane, stdv=stdv)
        return self

    def _planes(self) -> int | None:
        return self.n_input_plane

    def _dilation(self) -> Pair:
        return (1, 1)

    def _geometry(self) -> tuple[Pair, Pair, Pair, Pair]:
        return (self.kh, self.kw), (self.dh, self.dw), (self.pad_h, self.pad_w), self._dilation()

    def update_output(self, input: Any) -> Any:
        x, d, batched = self._input(input)
        self._check_params(input)
        k, stride, pad, dil = self._geometry()
        out = tuple(out_size(x.shape[2 + i], k[i], stride[i], pad[i], dil[i]) for i in (0, 1))
        if min(out) < 1:
            raise _too_small(self, input, (self.n_output_plane, *out), f"a {self.kw}x{self.kh} kernel")
        bias = self.__dict__.get("bias")
        y, cols = kernel("conv2d", d)(d.xp, x, self.weight._a, None if bias is None else bias._a, stride, pad, dil)
        self.finput = wrap(cols, d) if cols is not None else ft.Tensor()
        self.output = self._result(y, d, batched)
        return self.output

    def _backward(self, input: Any, grad_output: Any, need_input: bool, need_params: bool, scale: float) -> None:
        x, d, batched = self._input(input)
        g = self._grad(grad_output, batched)
        need_input = need_input and self.grad_input is not None  # Torch's opt-out: grad_input = None
        cols = self.finput._a if self.finput.nelement() and self.finput._a.dtype == x.dtype else None
        gin, gw, gb = kernel("conv2d_backward", d)(
            d.xp, x, cols, g, self.weight._a, *self._geometry()[1:], need_input, need_params
        )
        if need_input:
            self.grad_input = self._result(gin, d, batched)
        if need_params:
            self._accumulate("grad_weight", gw, d, scale)
            self._accumulate("grad_bias", gb, d, scale)

    def extra_repr(self) -> str:
        k, stride, pad, _ = self._geometry()
        text = f"{self.n_input_plane} -> {self.n_output_plane}, {_geometry_text(k, stride, pad)}"
        return text if "bias" in self.__dict__ else text + ", without bias"


class SpatialConvolutionMM(SpatialConvolution):
    """The same layer as :class:`SpatialConvolution` (Torch's im2col implementation of it; here both are).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.SpatialConvolutionMM(3, 4, 3, 3, 1, 1, 1).forward(ft.zeros(2, 3, 8, 8)).size()
    Size([2, 4, 8, 8])
    """


class SpatialDilatedConvolution(SpatialConvolution):
    """Atrous convolution: kernel taps ``dilation_h`` rows and ``dilation_w`` columns apart.

    The output is ``floor((H + 2 pad_h - (dilation_h (kh - 1) + 1)) / dh) + 1`` high (likewise wide).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.SpatialDilatedConvolution(1, 1, 2, 2, 1, 1, 0, 0, 2, 2)
    >>> _ = m.weight.fill_(1.0); _ = m.bias.zero_()
    >>> m.forward(ft.arange(16.0).view(1, 4, 4)).tolist()
    [[[20.0, 24.0], [36.0, 40.0]]]
    """

    def __init__(
        self,
        n_input_plane: int,
        n_output_plane: int,
        kw: int,
        kh: int,
        dw: int = 1,
        dh: int = 1,
        pad_w: int = 0,
        pad_h: int = 0,
        dilation_w: int = 1,
        dilation_h: int = 1,
    ) -> None:
        self.dilation_w, self.dilation_h = dilation_w, dilation_h
        super().__init__(n_input_plane, n_output_plane, kw, kh, dw, dh, pad_w, pad_h)

    def _dilation(self) -> Pair:
        return (self.dilation_h, self.dilation_w)

    def extra_repr(self) -> str:
        k, stride, pad, _ = self._geometry()
        text = f"{self.n_input_plane} -> {self.n_output_plane}, {_geometry_text(k, stride, pad)}"
        text += f", {self.dilation_w},{self.dilation_h}"
        return text if "bias" in self.__dict__ else text + ", without bias"


class SpatialFullConvolution(_FusedBackward, _Spatial):
    """Transposed ("de-") convolution: the adjoint of a :class:`SpatialConvolution` with these settings.

    ``weight`` is ``n_input_plane x n_output_plane x kh x kw``; the output is
    ``(H - 1) dh - 2 pad_h + kh + adj_h`` high (likewise wide), ``adj < stride``. The input may be
    a list ``[input, target]``: ``adj`` is then chosen so that the output has ``target``'s height
    and width (the gradient is then ``[grad_input, zeros like target]``).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.SpatialFullConvolution(1, 1, 2, 2, 2, 2)
    >>> _ = m.weight.fill_(1.0); _ = m.bias.zero_()
    >>> m.forward(ft.Tensor([[[1.0, 2.0]]])).tolist()
    [[[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]]]
    """

    def __init__(
        self,
        n_input_plane: int,
        n_output_plane: int,
        kw: int,
        kh: int,
        dw: int = 1,
        dh: int = 1,
        pad_w: int = 0,
        pad_h: int = 0,
        adj_w: int = 0,
        adj_h: int = 0,
    ) -> None:
        super().__init__()
        if adj_w >= dw or adj_h >= dh:
            raise ArgumentError(
                f"SpatialFullConvolution: the output adjustment must be smaller than the stride, got adj {adj_w},{adj_h}"
                f" for stride {dw},{dh}"
            )
        self.n_input_plane, self.n_output_plane = n_input_plane, n_output_plane
        self.kw, self.kh, self.dw, self.dh = kw, kh, dw, dh
        self.pad_w, self.pad_h, self.adj_w, self.adj_h = pad_w, pad_h, adj_w, adj_h
        self.weight = ft.Tensor(n_input_plane, n_output_plane, kh, kw)
        self.grad_weight = ft.zeros(n_input_plane, n_output_plane, kh, kw)
        self.bias = ft.Tensor(n_output_plane)
        self.grad_bias = ft.zeros(n_output_plane)
        self.reset()

    def no_bias(self) -> SpatialFullConvolution:
        """Drop the bias (and its gradient); returns self."""
        self.__dict__.pop("bias", None)
        self.__dict__.pop("grad_bias", None)
        return self

    def reset(self, stdv: float | None = None) -> SpatialFullConvolution:
        fan_in_uniform(self.weight, self.__dict__.get("bias"), fan_in=self.kw * self.kh * self.n_input_plane, stdv=stdv)
        return self

    def _planes(self) -> int | None:
        return self.n_input_plane

    def _split(self, input: Any) -> tuple[Any, Pair]:
        """The input tensor and the adjustment (from a target's size when the input is a list)."""
        if isinstance(input, (list, tuple)):
            if len(input) != 2 or not all(isinstance(t, Tensor) for t in input) or input[1].dim() < 2:
                raise ArgumentError(
                    "SpatialFullConvolution: a list input must be [input, target] (two tensors, the target at least"
                    " 2-D)"
                )
            th, tw = input[1].size(-2), input[1].size(-1)
            return input[0], ((th + 2 * self.pad_h - self.kh) % self.dh, (tw + 2 * self.pad_w - self.kw) % self.dw)
        return input, (self.adj_h, self.adj_w)

    def _geometry(self) -> tuple[Pair, Pair, Pair, Pair]:
        return (self.kh, self.kw), (self.dh, self.dw), (self.pad_h, self.pad_w), (1, 1)

    def update_output(self, input: Any) -> Any:
        t, adj = self._split(input)
        x, d, batched = self._input(t)
        self._check_params(t)
        k, stride, pad, dil = self._geometry()
        out = tuple((x.shape[2 + i] - 1) * stride[i] - 2 * pad[i] + k[i] + adj[i] for i in (0, 1))
        if min(out) < 1:
            raise _too_small(self, t, (self.n_output_plane, *out), f"a {self.kw}x{self.kh} kernel and padding")
        bias = self.__dict__.get("bias")
        y = kernel("conv_transpose2d", d)(
            d.xp, x, self.weight._a, None if bias is None else bias._a, stride, pad, dil, out
        )
        self.output = self._result(y, d, batched)
        return self.output

    def _backward(self, input: Any, grad_output: Any, need_input: bool, need_params: bool, scale: float) -> None:
        t, _ = self._split(input)
        x, d, batched = self._input(t)
        g = self._grad(grad_output, batched)
        gin, gw, gb = kernel("conv_transpose2d_backward", d)(
            d.xp, x, g, self.weight._a, *self._geometry()[1:], need_input, need_params
        )
        if need_input:
            gi = self._result(gin, d, batched)
            self.grad_input = [gi, ft.zeros_like(input[1])] if isinstance(input, (list, tuple)) else gi
        if need_params:
            self._accumulate("grad_weight", gw, d, scale)
            self._accumulate("grad_bias", gb, d, scale)

    def extra_repr(self) -> str:
        k, stride, pad, _ = self._geometry()
        text = f"{self.n_input_plane} -> {self.n_output_plane}, {_geometry_text(k, stride, pad)}"
        if (self.adj_w, self.adj_h) != (0, 0):
            text += f", {self.adj_w},{self.adj_h}"
        return text if "bias" in self.__dict__ else text + ", without bias"


class SpatialConvolutionLocal(_FusedBackward, _Spatial):
    """Locally connected layer: a convolution whose kernels are not shared between output positions.

    Built for one input size ``n_input_plane x ih x iw``; ``weight`` is ``oh x ow x n_output_plane x
    n_input_plane x kh x kw`` and ``bias`` ``n_output_plane x oh x ow``. ``pad_h`` defaults to
    ``pad_w``. Computed as one batched matrix product over the output positions.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.SpatialConvolutionLocal(2, 3, 6, 5, 3, 3)
    >>> m.weight.size(), m.forward(ft.ones(4, 2, 5, 6)).size()
    (Size([3, 4, 3, 2, 3, 3]), Size([4, 3, 3, 4]))
    """

    def __init__(
        self,
        n_input_plane: int,
        n_output_plane: int,
        iw: int,
        ih: int,
        kw: int,
        kh: int,
        dw: int = 1,
        dh: int = 1,
        pad_w: int = 0,
        pad_h: int | None = None,
    ) -> None:
        super().__init__()
        self.n_input_plane, self.n_output_plane = n_input_plane, n_output_plane
        self.iw, self.ih, self.kw, self.kh, self.dw, self.dh = iw, ih, kw, kh, dw, dh
        self.pad_w = pad_w
        self.pad_h = pad_w if pad_h is None else pad_h
        self.oh = out_size(ih, kh, dh, self.pad_h)
        self.ow = out_size(iw, kw, dw, self.pad_w)
        if self.oh < 1 or self.ow < 1:
            raise ArgumentError(
                f"SpatialConvolutionLocal: a {iw}x{ih} input is too small for a {kw}x{kh} kernel: the output would be"
                f" {self.ow}x{self.oh}"
            )
        shape = (self.oh, self.ow, n_output_plane, n_input_plane, kh, kw)
        self.weight = ft.Tensor(*shape)
        self.grad_weight = ft.zeros(*shape)
        self.bias = ft.Tensor(n_output_plane, self.oh, self.ow)
        self.grad_bias = ft.zeros(n_output_plane, self.oh, self.ow)
        self.finput = ft.Tensor()
        self.reset()

    STATE = ("finput",)

    def reset(self, stdv: float | None = None) -> SpatialConvolutionLocal:
        fan_in_uniform(self.weight, self.bias, fan_in=self.kw * self.kh * self.n_input_plane, stdv=stdv)
        return self

    def _input(self, input: Any) -> tuple[Any, Any, bool]:
        want = (self.n_input_plane, self.ih, self.iw)
        if not isinstance(input, Tensor) or input.dim() not in (3, 4) or tuple(input.size())[-3:] != want:
            got = _size(input) if isinstance(input, Tensor) else type(input).__name__
            s = "x".join(map(str, want))
            raise ShapeError(f"size mismatch: expected an input of size {s} or N x {s}, got {got}")
        return super()._input(input)

    def update_output(self, input: Any) -> Any:
        x, d, batched = self._input(input)
        self._check_params(input)
        stride, pad = (self.dh, self.dw), (self.pad_h, self.pad_w)
        y, cols = kernel("conv2d_local", d)(d.xp, x, self.weight._a, self.bias._a, stride, pad)
        self.finput = wrap(cols, d) if cols is not None else ft.Tensor()
        self.output = self._result(y, d, batched)
        return self.output

    def _backward(self, input: Any, grad_output: Any, need_input: bool, need_params: bool, scale: float) -> None:
        x, d, batched = self._input(input)
        g = self._grad(grad_output, batched)
        cols = self.finput._a if self.finput.nelement() and self.finput._a.dtype == x.dtype else None
        gin, gw, gb = kernel("conv2d_local_backward", d)(
            d.xp, x, cols, g, self.weight._a, (self.dh, self.dw), (self.pad_h, self.pad_w), need_input, need_params
        )
        if need_input:
            self.grad_input = self._result(gin, d, batched)
        if need_params:
            self._accumulate("grad_weight", gw, d, scale)
            self._accumulate("grad_bias", gb, d, scale)

    def extra_repr(self) -> str:
        k = _geometry_text((self.kh, self.kw), (self.dh, self.dw), (self.pad_h, self.pad_w))
        return f"{self.n_input_plane} -> {self.n_output_plane}, {self.iw}x{self.ih}, {k}"


# --------------------------------------------------------------------------------------------------
# Connection tables and the convolutions that use them.


def _table_full(nin: int, nout: int) -> Tensor:
    """Every input plane to every output plane: ``nin * nout`` rows ``(input, output)``, 0-based.

    >>> import flambeau.nn as nn
    >>> nn.tables.full(2, 2).tolist()
    [[0, 0], [1, 0], [0, 1], [1, 1]]
    """
    return ft.LongTensor([[i, j] for j in range(nout) for i in range(nin)])


def _table_one_to_one(n: int) -> Tensor:
    """Input plane ``i`` to output plane ``i``: ``n`` rows.

    >>> import flambeau.nn as nn
    >>> nn.tables.one_to_one(3).tolist()
    [[0, 0], [1, 1], [2, 2]]
    """
    return ft.LongTensor([[i, i] for i in range(n)])


def _table_random(nin: int, nout: int, nto: int) -> Tensor:
    """Each output plane fed by ``nto`` distinct random input planes: ``nout * nto`` rows.

    Torch's scheme: input planes are dealt from random permutations in chunks of ``nto`` (a fresh
    permutation when one runs out), so the inputs are used evenly.

    >>> import flambeau.nn as nn
    >>> t = nn.tables.random(6, 4, 3)
    >>> t.size(), t[:, 1].tolist()
    (Size([12, 2]), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    >>> all(len(set(t[:, 0].tolist()[3 * j : 3 * j + 3])) == 3 for j in range(4))
    True
    """
    if not 0 < nto <= nin:
        raise ArgumentError(f"tables.random: nto must be in 1..{nin} (the input planes), got {nto}")
    chunks = nin // nto
    perm = ft.randperm(nin).tolist()
    rows: list[list[int]] = []
    used = 0
    for j in range(nout):
        rows += [[i, j] for i in perm[used * nto : (used + 1) * nto]]
        used += 1
        if used == chunks:
            perm, used = ft.randperm(nin).tolist(), 0
    return ft.LongTensor(rows)


tables = SimpleNamespace(full=_table_full, one_to_one=_table_one_to_one, random=_table_random)
"""Connection tables for :class:`SpatialConvolutionMap`: ``tables.full``, ``tables.one_to_one``, ``tables.random``."""


def _conn(conn_table: Any) -> Tensor:
    t = conn_table if isinstance(conn_table, Tensor) else ft.Tensor(conn_table)
    if t.dim() != 2 or t.size(1) != 2 or t.size(0) == 0:
        raise ShapeError(f"connection table: expected an n x 2 table of (input, output) planes, got {_size(t)}")
    t = t.long()
    pairs = [tuple(r) for r in t.tolist()]
    if min(min(p) for p in pairs) < 0:
        raise ArgumentError("connection table: plane numbers are 0-based and cannot be negative")
    if len(set(pairs)) != len(pairs):
        raise ArgumentError("connection table: a connection (input, output) is listed twice")
    return t


class _MapConvolution(_Spatial):
    """Shared by the two connection-table convolutions: the table, the per-connection kernels, reset."""

    def _init_map(self, conn_table: Any, kw: int, kh: int, dw: int, dh: int) -> None:
        self.conn_table = _conn(conn_table)
        self.kw, self.kh, self.dw, self.dh = kw, kh, dw, dh
        self.n_input_plane = int(self.conn_table.select(1, 0).max()) + 1
        self.n_output_plane = int(self.conn_table.select(1, 1).max()) + 1
        n = self.conn_table.size(0)
        self.weight = ft.Tensor(n, kh, kw)
        self.grad_weight = ft.zeros(n, kh, kw)
        self.bias = ft.Tensor(self.n_output_plane)
        self.grad_bias = ft.zeros(self.n_output_plane)
        self.reset()

    def reset(self, stdv: float | None = None) -> Module:
        """As Torch: each kernel and bias U(-s, s) with ``s = 1/sqrt(kw kh fan_in)``, ``fan_in`` the number
        of input planes its output plane is connected to (an explicit ``stdv`` is scaled by sqrt(3))."""
        if stdv is not None:
            fan_in_uniform(self.weight, self.bias, fan_in=1, stdv=stdv)
            return self
        outs = self.conn_table.select(1, 1).tolist()
        fan = [0] * self.n_output_plane
        for o in outs:
            fan[o] += 1
        s = [1.0 / math.sqrt(self.kw * self.kh * max(f, 1)) for f in fan]
        dt, dev = self.weight.dtype, self.weight.device
        self.weight.uniform_(-1, 1).mul_(ft.tensor([s[o] for o in outs], dtype=dt, device=dev).view(-1, 1, 1))
        self.bias.uniform_(-1, 1).mul_(ft.tensor(s, dtype=dt, device=dev))
        return self

    def _planes(self) -> int | None:
        return self.n_input_plane

    def _dense(self, rows: int, cols: int, flat: Tensor, w: Tensor) -> Tensor:
        """The kernels placed in a dense ``rows x cols x kh x kw`` weight (zeros where not connected)."""
        dense = ft.zeros(rows * cols, self.kh * self.kw, dtype=w.dtype, device=w.device)
        dense.index_copy_(0, flat, w.reshape(-1, self.kh * self.kw))
        return dense.view(rows, cols, self.kh, self.kw)

    def extra_repr(self) -> str:
        k = _geometry_text((self.kh, self.kw), (self.dh, self.dw), (0, 0))
        return f"{self.n_input_plane} -> {self.n_output_plane}, {k}, {self.conn_table.size(0)} connections"


class SpatialConvolutionMap(_FusedBackward, _MapConvolution):
    """A convolution with sparse plane connections: row ``k = (i, o)`` of ``conn_table`` convolves input
    plane ``i`` with kernel ``weight[k]`` into output plane ``o`` (0-based; see :data:`tables`).

    ``weight`` is ``n_connections x kh x kw``, ``bias`` ``n_output_plane``; the planes are counted
    from the table. Computed as a dense convolution whose missing connections are zero.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.SpatialConvolutionMap(nn.tables.one_to_one(2), 2, 2)
    >>> _ = m.weight.fill_(1.0); _ = m.bias.zero_()
    >>> m.forward(ft.ones(2, 3, 3)).tolist()
    [[[4.0, 4.0], [4.0, 4.0]], [[4.0, 4.0], [4.0, 4.0]]]
    """

    def __init__(self, conn_table: Any, kw: int, kh: int, dw: int = 1, dh: int = 1) -> None:
        super().__init__()
        self._init_map(conn_table, kw, kh, dw, dh)

    def _flat(self) -> Tensor:
        return self.conn_table.select(1, 1) * self.n_input_plane + self.conn_table.select(1, 0)

    def _args(self) -> tuple[Pair, Pair, Pair]:
        return (self.dh, self.dw), (0, 0), (1, 1)

    def update_output(self, input: Any) -> Any:
        x, d, batched = self._input(input)
        self._check_params(input)
        out = tuple(out_size(x.shape[2 + i], (self.kh, self.kw)[i], (self.dh, self.dw)[i], 0) for i in (0, 1))
        if min(out) < 1:
            raise _too_small(self, input, (self.n_output_plane, *out), f"a {self.kw}x{self.kh} kernel")
        dense = self._dense(self.n_output_plane, self.n_input_plane, self._flat(), self.weight)
        y, _ = kernel("conv2d", d)(d.xp, x, dense._a, self.bias._a, *self._args())
        self.output = self._result(y, d, batched)
        return self.output

    def _backward(self, input: Any, grad_output: Any, need_input: bool, need_params: bool, scale: float) -> None:
        x, d, batched = self._input(input)
        g = self._grad(grad_output, batched)
        flat = self._flat()
        dense = self._dense(self.n_output_plane, self.n_input_plane, flat, self.weight)
        gin, gw, gb = kernel("conv2d_backward", d)(d.xp, x, None, g, dense._a, *self._args(), need_input, need_params)
        if need_input:
            self.grad_input = self._result(gin, d, batched)
        if need_params:
            gw = wrap(gw, d).reshape(-1, self.kh * self.kw).index_select(0, flat)
            self.grad_weight.add_(gw.view(-1, self.kh, self.kw), alpha=scale)
            self._accumulate("grad_bias", gb, d, scale)


class SpatialFullConvolutionMap(_FusedBackward, _MapConvolution):
    """The transposed convolution of :class:`SpatialConvolutionMap`: row ``k = (i, o)`` of ``conn_table``
    spreads input plane ``i`` through ``weight[k]`` into output plane ``o``.

    The output is ``(H - 1) dh + kh`` high and ``(W - 1) dw + kw`` wide.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.SpatialFullConvolutionMap(nn.tables.full(1, 2), 2, 2, 2, 2)
    >>> _ = m.weight.fill_(1.0); _ = m.bias.zero_()
    >>> m.forward(ft.Tensor([[[1.0, 2.0]]])).tolist()[1]
    [[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]]
    """

    def __init__(self, conn_table: Any, kw: int, kh: int, dw: int = 1, dh: int = 1) -> None:
        super().__init__()
        self._init_map(conn_table, kw, kh, dw, dh)

    def _flat(self) -> Tensor:
        return self.conn_table.select(1, 0) * self.n_output_plane + self.conn_table.select(1, 1)

    def _args(self) -> tuple[Pair, Pair, Pair]:
        return (self.dh, self.dw), (0, 0), (1, 1)

    def update_output(self, input: Any) -> Any:
        x, d, batched = self._input(input)
        self._check_params(input)
        out = ((x.shape[2] - 1) * self.dh + self.kh, (x.shape[3] - 1) * self.dw + self.kw)
        dense = self._dense(self.n_input_plane, self.n_output_plane, self._flat(), self.weight)
        y = kernel("conv_transpose2d", d)(d.xp, x, dense._a, self.bias._a, *self._args(), out)
        self.output = self._result(y, d, batched)
        return self.output

    def _backward(self, input: Any, grad_output: Any, need_input: bool, need_params: bool, scale: float) -> None:
        x, d, batched = self._input(input)
        g = self._grad(grad_output, batched)
        flat = self._flat()
        dense = self._dense(self.n_input_plane, self.n_output_plane, flat, self.weight)
        gin, gw, gb = kernel("conv_transpose2d_backward", d)(
            d.xp, x, g, dense._a, *self._args(), need_input, need_params
        )
        if need_input:
            self.grad_input = self._result(gin, d, batched)
        if need_params:
            gw = wrap(gw, d).reshape(-1, self.kh * self.kw).index_select(0, flat)
            self.grad_weight.add_(gw.view(-1, self.kh, self.kw), alpha=scale)
            self._accumulate("grad_bias", gb, d, scale)


class SpatialSubSampling(_Spatial):
    """LeNet's sub-sampling: the sum over each ``kw x kh`` window times a learned weight per plane, plus a
    bias per plane (``weight`` and ``bias`` are ``n_input_plane``; initialisation U(±1/sqrt(kw kh))).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.SpatialSubSampling(1, 2, 2, 2, 2)
    >>> _ = m.weight.fill_(0.5); _ = m.bias.fill_(1.0)
    >>> m.forward(ft.arange(16.0).view(1, 4, 4)).tolist()
    [[[6.0, 10.0], [22.0, 26.0]]]
    """

    def __init__(self, n_input_plane: int, kw: int, kh: int, dw: int = 1, dh: int = 1) -> None:
        super().__init__()
        self.n_input_plane = n_input_plane
        self.kw, self.kh, self.dw, self.dh = kw, kh, dw, dh
        self.weight = ft.Tensor(n_input_plane)
        self.grad_weight = ft.zeros(n_input_plane)
        self.bias = ft.Tensor(n_input_plane)
        self.grad_bias = ft.zeros(n_input_plane)
        self.reset()

    def reset(self, stdv: float | None = None) -> SpatialSubSampling:
        fan_in_uniform(self.weight, self.bias, fan_in=self.kw * self.kh, stdv=stdv)
        return self

    def _planes(self) -> int | None:
        return self.n_input_plane

    def _sums(self, input: Any) -> tuple[Tensor, Any, bool]:
        x, d, batched = self._input(input)
        out = (out_size(x.shape[2], self.kh, self.dh, 0), out_size(x.shape[3], self.kw, self.dw, 0))
        if min(out) < 1:
            raise _too_small(self, input, (self.n_input_plane, *out), f"a {self.kw}x{self.kh} window")
        s = kernel("window_sum", d)(d.xp, x, (self.kh, self.kw), (self.dh, self.dw), (0, 0), out)
        return wrap(s, d), d, batched

    def update_output(self, input: Any) -> Any:
        self._check_params(input)
        s, _, batched = self._sums(input)
        y = s * self.weight.view(-1, 1, 1) + self.bias.view(-1, 1, 1)
        self.output = y if batched else y[0]
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x, d, batched = self._input(input)
        g = wrap(self._grad(grad_output, batched), d) * self.weight.view(-1, 1, 1)
        gin = kernel("window_sum_backward", d)(d.xp, g._a, x.shape, (self.kh, self.kw), (self.dh, self.dw), (0, 0))
        self.grad_input = self._result(gin, d, batched)
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        s, d, batched = self._sums(input)
        g = wrap(self._grad(grad_output, batched), d)
        self.grad_weight.add_((s * g).sum((0, 2, 3)), alpha=scale)
        self.grad_bias.add_(g.sum((0, 2, 3)), alpha=scale)

    def extra_repr(self) -> str:
        return f"{self.n_input_plane}, {_geometry_text((self.kh, self.kw), (self.dh, self.dw), (0, 0))}"


# --------------------------------------------------------------------------------------------------
# Pooling.


class _Pooling(_Spatial):
    """Window geometry shared by the max and average poolings, with Torch's ``ceil()``/``floor()``."""

    ceil_mode = False

    def _set_geometry(self, kw: int, kh: int, dw: int, dh: int, pad_w: int, pad_h: int) -> None:
        self.kw, self.kh, self.dw, self.dh, self.pad_w, self.pad_h = kw, kh, dw, dh, pad_w, pad_h
        self.ceil_mode = False

    def ceil(self) -> _Pooling:
        """Round the output size up (a last, partial window when the input does not divide); returns self."""
        self.ceil_mode = True
        return self

    def floor(self) -> _Pooling:
        """Round the output size down (the default); returns self."""
        self.ceil_mode = False
        return self

    def _dilation(self) -> Pair:
        return (1, 1)

    def _geometry(self) -> tuple[Pair, Pair, Pair, Pair]:
        return (self.kh, self.kw), (self.dh, self.dw), (self.pad_h, self.pad_w), self._dilation()

    def _out(self, input: Tensor, x: Any) -> Pair:
        k, stride, pad, dil = self._geometry()
        if pad[0] > k[0] // 2 or pad[1] > k[1] // 2:
            raise ArgumentError(
                f"{type(self).__name__}: the padding must be at most half the kernel size, got pad {pad[1]},{pad[0]}"
                f" for a {k[1]}x{k[0]} kernel"
            )
        oh = out_size(x.shape[2], k[0], stride[0], pad[0], dil[0], self.ceil_mode)
        ow = out_size(x.shape[3], k[1], stride[1], pad[1], dil[1], self.ceil_mode)
        if oh < 1 or ow < 1:
            raise _too_small(self, input, (x.shape[1], oh, ow), f"a {k[1]}x{k[0]} window")
        return oh, ow

    def extra_repr(self) -> str:
        text = f"{self.kw}x{self.kh}, {self.dw},{self.dh}"
        if (self.pad_w, self.pad_h) != (0, 0):
            text += f", {self.pad_w},{self.pad_h}"
        return text + (", ceil" if self.ceil_mode else "")


class SpatialMaxPooling(_Pooling):
    """Max pooling over ``kw x kh`` windows, ``dw``/``dh`` apart (default: the kernel size), with
    ``pad_w``/``pad_h`` of padding that never wins. :meth:`ceil` / :meth:`floor` choose the rounding
    of the output size (default floor).

    ``indices`` keeps, for each output, the 0-based flat position ``y * W + x`` of its maximum in the
    input plane (the first one in row-major order on ties), for the backward pass and
    :class:`SpatialMaxUnpooling`; ``iheight`` and ``iwidth`` keep the input's size.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.SpatialMaxPooling(2, 2)
    >>> m.forward(ft.arange(16.0).view(1, 4, 4)).tolist()
    [[[5.0, 7.0], [13.0, 15.0]]]
    >>> m.indices.tolist()
    [[[5, 7], [13, 15]]]
    >>> nn.SpatialMaxPooling(2, 2).ceil().forward(ft.zeros(1, 5, 5)).size()
    Size([1, 3, 3])
    """

    STATE = ("indices",)

    def __init__(
        self, kw: int, kh: int, dw: int | None = None, dh: int | None = None, pad_w: int = 0, pad_h: int = 0
    ) -> None:
        super().__init__()
        self._set_geometry(kw, kh, kw if dw is None else dw, kh if dh is None else dh, pad_w, pad_h)
        self.indices = ft.LongTensor()
        self.iheight = self.iwidth = 0

    def update_output(self, input: Any) -> Any:
        x, d, batched = self._input(input)
        out = self._out(input, x)
        y, idx = kernel("max_pool2d", d)(d.xp, x, *self._geometry(), out)
        self.iheight, self.iwidth = int(x.shape[2]), int(x.shape[3])
        self.indices = self._result(idx, d, batched)
        self.output = self._result(y, d, batched)
        return self.output

    def _overlap(self) -> bool:
        k, stride, _, dil = self._geometry()
        return any((k[i] - 1) * dil[i] + 1 > stride[i] for i in (0, 1))

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x, d, batched = self._input(input)
        g = self._grad(grad_output, batched)
        idx = self.indices._a if batched else self.indices._a[None]
        gin = kernel("max_pool2d_backward", d)(d.xp, g, idx, x.shape, self._overlap())
        self.grad_input = self._result(gin, d, batched)
        return self.grad_input


class SpatialDilatedMaxPooling(SpatialMaxPooling):
    """Max pooling whose window taps are ``dilation_h`` rows and ``dilation_w`` columns apart.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.SpatialDilatedMaxPooling(2, 2, 1, 1, 0, 0, 2, 2)
    >>> m.forward(ft.arange(16.0).view(1, 4, 4)).tolist()
    [[[10.0, 11.0], [14.0, 15.0]]]
    """

    def __init__(
        self,
        kw: int,
        kh: int,
        dw: int | None = None,
        dh: int | None = None,
        pad_w: int = 0,
        pad_h: int = 0,
        dilation_w: int = 1,
        dilation_h: int = 1,
    ) -> None:
        super().__init__(kw, kh, dw, dh, pad_w, pad_h)
        self.dilation_w, self.dilation_h = dilation_w, dilation_h

    def _dilation(self) -> Pair:
        return (self.dilation_h, self.dilation_w)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", {self.dilation_w},{self.dilation_h}"


class SpatialAveragePooling(_Pooling):
    """Average pooling over ``kw x kh`` windows; as in Torch the stride defaults to **1**.

    With zero padding, ``count_include_pad`` (the default; :meth:`set_count_exclude_pad` turns it
    off) divides by the window clipped to the padded image, otherwise by the number of input
    elements in the window. :meth:`ceil` / :meth:`floor` as in :class:`SpatialMaxPooling`.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.SpatialAveragePooling(2, 2, 2, 2)
    >>> m.forward(ft.arange(16.0).view(1, 4, 4)).tolist()
    [[[2.5, 4.5], [10.5, 12.5]]]
    >>> p = nn.SpatialAveragePooling(2, 2, 2, 2, 1, 1).set_count_exclude_pad()
    >>> p.forward(ft.ones(1, 2, 2)).tolist()
    [[[1.0, 1.0], [1.0, 1.0]]]
    """

    def __init__(self, kw: int, kh: int, dw: int = 1, dh: int = 1, pad_w: int = 0, pad_h: int = 0) -> None:
        super().__init__()
        self._set_geometry(kw, kh, dw, dh, pad_w, pad_h)
        self.count_include_pad = True

    def set_count_include_pad(self) -> SpatialAveragePooling:
        """Divide by the window size counting the padding (the default); returns self."""
        self.count_include_pad = True
        return self

    def set_count_exclude_pad(self) -> SpatialAveragePooling:
        """Divide by the number of input elements in each window; returns self."""
        self.count_include_pad = False
        return self

    def update_output(self, input: Any) -> Any:
        x, d, batched = self._input(input)
        out = self._out(input, x)
        k, stride, pad, _ = self._geometry()
        y = kernel("avg_pool2d", d)(d.xp, x, k, stride, pad, out, self.count_include_pad)
        self.output = self._result(y, d, batched)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x, d, batched = self._input(input)
        g = self._grad(grad_output, batched)
        k, stride, pad, _ = self._geometry()
        gin = kernel("avg_pool2d_backward", d)(d.xp, g, x.shape, k, stride, pad, self.count_include_pad)
        self.grad_input = self._result(gin, d, batched)
        return self.grad_input


class SpatialAdaptiveMaxPooling(_Spatial):
    """Max pooling to a fixed ``w x h`` output: output ``(i, j)`` covers input rows
    ``floor(i H / h)`` to ``ceil((i + 1) H / h)`` (exclusive) and likewise columns. ``indices`` as in
    :class:`SpatialMaxPooling`.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.SpatialAdaptiveMaxPooling(2, 1).forward(ft.arange(6.0).view(1, 2, 3)).tolist()
    [[[4.0, 5.0]]]
    """

    STATE = ("indices",)

    def __init__(self, w: int, h: int) -> None:
        super().__init__()
        self.w, self.h = w, h
        self.indices = ft.LongTensor()

    def update_output(self, input: Any) -> Any:
        x, d, batched = self._input(input)
        y, idx = kernel("adaptive_max_pool2d", d)(d.xp, x, (self.h, self.w))
        self.indices = self._result(idx, d, batched)
        self.output = self._result(y, d, batched)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x, d, batched = self._input(input)
        g = self._grad(grad_output, batched)
        idx = self.indices._a if batched else self.indices._a[None]
        gin = kernel("max_pool2d_backward", d)(d.xp, g, idx, x.shape, True)
        self.grad_input = self._result(gin, d, batched)
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{self.w}x{self.h}"


class SpatialMaxUnpooling(_Spatial):
    """The inverse of a :class:`SpatialMaxPooling`: each input value goes back to where the pooling
    module (last run) found its maximum, zeros elsewhere; the output has the pooling's input size.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> pool = nn.SpatialMaxPooling(2, 2)
    >>> y = pool.forward(ft.Tensor([[[1.0, 2.0], [4.0, 3.0]]]))
    >>> nn.SpatialMaxUnpooling(pool).forward(y).tolist()
    [[[0.0, 0.0], [4.0, 0.0]]]
    """

    def __init__(self, pooling_module: SpatialMaxPooling) -> None:
        super().__init__()
        if not isinstance(pooling_module, SpatialMaxPooling):
            raise ArgumentError(
                f"SpatialMaxUnpooling: expected a SpatialMaxPooling module, got {type(pooling_module).__name__}"
            )
        self.pooling = pooling_module

    def _indices(self, input: Any, x: Any, batched: bool) -> Any:
        idx = self.pooling.indices
        if tuple(input.size()) != tuple(idx.size()):
            raise ShapeError(
                f"SpatialMaxUnpooling: the input of size {_size(input)} must have the size of the pooling module's"
                f" indices ({_size(idx)}); run the pooling module forward first"
            )
        return idx._a if batched else idx._a[None]

    def update_output(self, input: Any) -> Any:
        x, d, batched = self._input(input)
        idx = self._indices(input, x, batched)
        out = (self.pooling.iheight, self.pooling.iwidth)
        self.output = self._result(kernel("max_unpool2d", d)(d.xp, x, idx, out), d, batched)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x, d, batched = self._input(input)
        idx = self._indices(input, x, batched)
        g = self._grad(grad_output, batched)
        self.grad_input = self._result(kernel("max_unpool2d_backward", d)(d.xp, g, idx), d, batched)
        return self.grad_input

    def extra_repr(self) -> str:
        return f"associated to {self.pooling!r}"


class SpatialLPPooling(_Spatial):
    """LP pooling: ``(sum over the window of x^p)^(1/p)`` (``p = pnorm``; p = 2 is the Euclidean norm
    of each window). The stride defaults to the kernel size. As in Torch, ``x^p`` of a negative
    ``x`` with a fractional ``p`` is NaN.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.SpatialLPPooling(1, 2, 2, 1).forward(ft.Tensor([[[3.0, 4.0]]])).tolist()
    [[[5.0]]]
    """

    def __init__(
        self, n_input_plane: int, pnorm: float, kw: int, kh: int, dw: int | None = None, dh: int | None = None
    ) -> None:
        super().__init__()
        self.n_input_plane, self.pnorm = n_input_plane, pnorm
        self.kw, self.kh = kw, kh
        self.dw = kw if dw is None else dw
        self.dh = kh if dh is None else dh

    def _planes(self) -> int | None:
        return self.n_input_plane

    def update_output(self, input: Any) -> Any:
        x, d, batched = self._input(input)
        out = (out_size(x.shape[2], self.kh, self.dh, 0), out_size(x.shape[3], self.kw, self.dw, 0))
        if min(out) < 1:
            raise _too_small(self, input, (x.shape[1], *out), f"a {self.kw}x{self.kh} window")
        p = input * input if self.pnorm == 2 else input.pow(self.pnorm)
        pa = p._a if batched else p._a[None]
        s = wrap(kernel("window_sum", d)(d.xp, pa, (self.kh, self.kw), (self.dh, self.dw), (0, 0), out), d)
        y = ft.sqrt(s) if self.pnorm == 2 else s.pow(1.0 / self.pnorm)
        self.output = y if batched else y[0]
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x, d, batched = self._input(input)
        g = self._grad(grad_output, batched)
        y = self.output if batched else self.output.view(1, *self.output.size())
        gs = wrap(g, d) * y.pow(1.0 - self.pnorm)  # dy/ds = y^(1-p) / p
        back = kernel("window_sum_backward", d)(d.xp, gs._a, x.shape, (self.kh, self.kw), (self.dh, self.dw), (0, 0))
        b = wrap(back, d)
        xs = input if batched else input.view(1, *input.size())
        gin = b * xs if self.pnorm == 2 else b * xs.pow(self.pnorm - 1)  # ds/dx = p x^(p-1)
        self.grad_input = gin if batched else gin[0]
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{self.n_input_plane}, {self.pnorm:g}, {_geometry_text((self.kh, self.kw), (self.dh, self.dw), (0, 0))}"


class SpatialFractionalMaxPooling(_Spatial):
    """Fractional max pooling (Graham, 2014): ``pool_size_w x pool_size_h`` windows at pseudo-random,
    overlapping positions chosen so that the output is ``out_w x out_h``, or, when the two last
    arguments are below 1, ``floor(W ratio_w) x floor(H ratio_h)``.

    The positions come from ``random_samples`` (``N x C x 2`` uniform draws from flambeau's generator,
    one pair per plane), drawn again at every forward unless :meth:`fix_pooling_regions` is on.
    ``indices`` as in :class:`SpatialMaxPooling`.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.SpatialFractionalMaxPooling(2, 2, 3, 3)
    >>> m.forward(ft.randn(2, 4, 7, 7)).size(), m.random_samples.size()
    (Size([2, 4, 3, 3]), Size([2, 4, 2]))
    >>> nn.SpatialFractionalMaxPooling(2, 2, 0.5, 0.5).forward(ft.randn(4, 9, 8)).size()
    Size([4, 4, 4])
    """

    STATE = ("indices", "random_samples")

    def __init__(self, pool_size_w: int, pool_size_h: int, arg1: float, arg2: float) -> None:
        super().__init__()
        self.pool_size_w, self.pool_size_h = pool_size_w, pool_size_h
        self.out_w: int | None = None
        self.out_h: int | None = None
        self.ratio_w: float | None = None
        self.ratio_h: float | None = None
        if arg1 >= 1 and arg2 >= 1:
            self.out_w, self.out_h = int(arg1), int(arg2)
        elif 0 < arg1 < 1 and 0 < arg2 < 1:
            self.ratio_w, self.ratio_h = float(arg1), float(arg2)
        else:
            raise ArgumentError(
                "SpatialFractionalMaxPooling: expected an output size (two integers >= 1) or two reduction ratios"
                f" in (0, 1), got {arg1}, {arg2}"
            )
        self.new_random_pool = False
        self.random_samples: Any = None
        self.indices = ft.LongTensor()

    def fix_pooling_regions(self, val: bool = True) -> SpatialFractionalMaxPooling:
        """Keep the current pooling regions (no new draw at each forward) when ``val``; returns self."""
        self.new_random_pool = val
        return self

    def _out(self, input: Tensor, x: Any) -> Pair:
        h, w = x.shape[2:]
        if self.ratio_w is not None and self.ratio_h is not None:
            oh, ow = int(h * self.ratio_h), int(w * self.ratio_w)
            if oh < 1 or ow < 1:
                raise _too_small(self, input, (x.shape[1], oh, ow), f"reduction ratios {self.ratio_w},{self.ratio_h}")
        else:
            assert self.out_h is not None and self.out_w is not None
            oh, ow = self.out_h, self.out_w
        if oh + self.pool_size_h - 1 > h or ow + self.pool_size_w - 1 > w:
            raise ShapeError(
                f"SpatialFractionalMaxPooling: a {ow}x{oh} output with {self.pool_size_w}x{self.pool_size_h} windows"
                f" needs an input of at least {ow + self.pool_size_w - 1}x{oh + self.pool_size_h - 1}, got"
                f" {_size(input)}"
            )
        return oh, ow

    def _samples(self, input: Tensor, n: int, c: int) -> Tensor:
        s = self.random_samples
        if (
            isinstance(s, Tensor)
            and tuple(s.size()) == (n, c, 2)
            and s.dtype == input.dtype
            and s.device == input.device
        ):
            if not self.new_random_pool:
                s.uniform_()
            return s
        self.random_samples = ft.rand(n, c, 2, dtype=input.dtype, device=input.device)
        return self.random_samples

    def update_output(self, input: Any) -> Any:
        x, d, batched = self._input(input)
        out = self._out(input, x)
        s = self._samples(input, x.shape[0], x.shape[1])
        pool = (self.pool_size_h, self.pool_size_w)
        y, idx = kernel("fractional_max_pool2d", d)(d.xp, x, s._a, pool, out)
        self.indices = self._result(idx, d, batched)
        self.output = self._result(y, d, batched)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x, d, batched = self._input(input)
        g = self._grad(grad_output, batched)
        idx = self.indices._a if batched else self.indices._a[None]
        gin = kernel("max_pool2d_backward", d)(d.xp, g, idx, x.shape, True)
        self.grad_input = self._result(gin, d, batched)
        return self.grad_input

    def extra_repr(self) -> str:
        size = f"{self.out_w}x{self.out_h}" if self.ratio_w is None else f"ratio {self.ratio_w},{self.ratio_h}"
        return f"{self.pool_size_w}x{self.pool_size_h}, {size}"


__all__ = [
    "SpatialAdaptiveMaxPooling",
    "SpatialAveragePooling",
    "SpatialConvolution",
    "SpatialConvolutionLocal",
    "SpatialConvolutionMM",
    "SpatialConvolutionMap",
    "SpatialDilatedConvolution",
    "SpatialDilatedMaxPooling",
    "SpatialFractionalMaxPooling",
    "SpatialFullConvolution",
    "SpatialFullConvolutionMap",
    "SpatialLPPooling",
    "SpatialMaxPooling",
    "SpatialMaxUnpooling",
    "SpatialSubSampling",
    "tables",
]
