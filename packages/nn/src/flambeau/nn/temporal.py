"""Temporal layers (Torch's convolution.md, temporal part) and the LookupTable.

Temporal inputs are ``T x F`` (``T`` frames of ``F`` features) or a batch ``N x T x F``; the
output has ``floor((T - kW) / dW) + 1`` frames. Every layer is written with tensor ops: a
strided-window view (``unfold``) of the input and one matrix product or reduction; the backward
passes fold the windows back with one strided add per kernel offset.
"""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, DTypeError, IndexError, ShapeError, size_text

from .module import Module, fan_in_uniform


def _sizes(t: Tensor) -> str:
    return size_text(tuple(t.size()))


def _check_temporal(name: str, input: Any, frame: int | None, kw: int) -> int:
    """Check a ``T x F`` or ``N x T x F`` input; returns the number of output frames."""
    if not isinstance(input, Tensor):
        raise ArgumentError(f"{name}: expected a tensor input, got {type(input).__name__}")
    f = "F" if frame is None else str(frame)
    if input.dim() not in (2, 3) or (frame is not None and input.size(-1) != frame):
        raise ShapeError(f"{name}: expected an input of size T x {f} or N x T x {f}, got {_sizes(input)}")
    t = input.size(-2)
    if t < kw:
        raise ShapeError(f"{name}: input sequence of {t} frames is shorter than the kernel width {kw}")
    return t


def _check_steps(name: str, **values: int) -> None:
    for key, v in values.items():
        if not isinstance(v, int) or v < 1:
            raise ArgumentError(f"{name}: {key} must be a positive integer, got {v!r}")


def _fold_time(cols: Tensor, t: int, dw: int) -> Tensor:
    """The adjoint of ``x.unfold(-2, kW, dW)``: ``cols`` is ``... x oT x F x kW``; returns ``... x T x F``."""
    kw, ot = cols.size(-1), cols.size(-3)
    size = (*tuple(cols.size())[:-3], t, cols.size(-2))
    out: Any = ft.zeros(*size, dtype=cols.dtype, device=cols.device)
    for k in range(kw):  # one strided add per kernel offset
        out[..., k : k + dw * (ot - 1) + 1 : dw, :].add_(cols.select(-1, k))
    return out


class TemporalConvolution(Module):
    """1-D convolution over time: ``T x inFrame`` (or ``N x T x inFrame``) to ``oT x outFrame``.

    ``weight`` is ``outFrame x (kW * inFrame)`` as in Torch: row ``o`` holds the ``kW`` frames of the
    kernel one after the other; ``bias`` is ``outFrame``. ``oT = floor((T - kW) / dW) + 1``.
    Initialisation: U(-1/sqrt(kW * inFrame), 1/sqrt(kW * inFrame)).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.TemporalConvolution(2, 3, 2)
    >>> _ = m.weight.fill_(1.0); _ = m.bias.fill_(0.0)
    >>> m.forward(ft.arange(8.0).view(4, 2)).tolist()
    [[6.0, 6.0, 6.0], [14.0, 14.0, 14.0], [22.0, 22.0, 22.0]]
    >>> m
    nn.TemporalConvolution(2 -> 3, kW=2)
    """

    def __init__(self, input_frame_size: int, output_frame_size: int, kw: int, dw: int = 1) -> None:
        super().__init__()
        _check_steps(
            "TemporalConvolution",
            input_frame_size=input_frame_size,
            output_frame_size=output_frame_size,
            kw=kw,
            dw=dw,
        )
        self.input_frame_size = input_frame_size
        self.output_frame_size = output_frame_size
        self.kw = kw
        self.dw = dw
        self.weight = ft.Tensor(output_frame_size, kw * input_frame_size)
        self.bias = ft.Tensor(output_frame_size)
        self.grad_weight = ft.zeros(output_frame_size, kw * input_frame_size)
        self.grad_bias = ft.zeros(output_frame_size)
        self.reset()

    def reset(self, stdv: float | None = None) -> TemporalConvolution:
        fan_in_uniform(self.weight, self.bias, fan_in=self.kw * self.input_frame_size, stdv=stdv)
        return self

    def _cols(self, input: Tensor) -> Tensor:
        """``... x oT x (kW * inFrame)``: the windows, frame-major as the weight's rows."""
        win = input.unfold(-2, self.kw, self.dw)  # ... x oT x F x kW
        return win.transpose(-1, -2).reshape(*tuple(win.size())[:-2], self.kw * self.input_frame_size)

    def update_output(self, input: Any) -> Any:
        _check_temporal("TemporalConvolution", input, self.input_frame_size, self.kw)
        out = self._cols(input) @ self.weight.t()
        self.output = out.add_(self.bias)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        cols = grad_output @ self.weight  # ... x oT x (kW * F)
        cols = cols.view(*tuple(cols.size())[:-1], self.kw, self.input_frame_size).transpose(-1, -2)
        self.grad_input = _fold_time(cols, input.size(-2), self.dw)
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        cols = self._cols(input).reshape(-1, self.kw * self.input_frame_size)
        g = grad_output.reshape(-1, self.output_frame_size)
        self.grad_weight.addmm_(g.t(), cols, alpha=scale)
        self.grad_bias.add_(g.sum(0), alpha=scale)

    def extra_repr(self) -> str:
        text = f"{self.input_frame_size} -> {self.output_frame_size}, kW={self.kw}"
        return text + (f", dW={self.dw}" if self.dw != 1 else "")


class TemporalSubSampling(Module):
    """Sum over each window of ``kW`` frames, times a learned per-feature weight, plus a bias.

    ``out[t, f] = bias[f] + weight[f] * sum_k in[t * dW + k, f]``; ``weight`` and ``bias`` have
    ``inFrame`` entries, initialised U(-1/sqrt(kW), 1/sqrt(kW)). Input ``T x F`` or ``N x T x F``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.TemporalSubSampling(2, 2, 2)
    >>> _ = m.weight.fill_(1.0); _ = m.bias.fill_(0.5)
    >>> m.forward(ft.arange(8.0).view(4, 2)).tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """

    def __init__(self, input_frame_size: int, kw: int, dw: int = 1) -> None:
        super().__init__()
        _check_steps("TemporalSubSampling", input_frame_size=input_frame_size, kw=kw, dw=dw)
        self.input_frame_size = input_frame_size
        self.kw = kw
        self.dw = dw
        self.weight = ft.Tensor(input_frame_size)
        self.bias = ft.Tensor(input_frame_size)
        self.grad_weight = ft.zeros(input_frame_size)
        self.grad_bias = ft.zeros(input_frame_size)
        self.reset()

    def reset(self, stdv: float | None = None) -> TemporalSubSampling:
        fan_in_uniform(self.weight, self.bias, fan_in=self.kw, stdv=stdv)
        return self

    def _sums(self, input: Tensor) -> Tensor:
        return input.unfold(-2, self.kw, self.dw).sum(-1)  # ... x oT x F

    def update_output(self, input: Any) -> Any:
        _check_temporal("TemporalSubSampling", input, self.input_frame_size, self.kw)
        self.output = (self._sums(input) * self.weight).add_(self.bias)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        g = (grad_output * self.weight).unsqueeze(-1)
        cols = g.expand(*tuple(g.size())[:-1], self.kw)
        self.grad_input = _fold_time(cols, input.size(-2), self.dw)
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        f = self.input_frame_size
        self.grad_weight.add_((grad_output * self._sums(input)).reshape(-1, f).sum(0), alpha=scale)
        self.grad_bias.add_(grad_output.reshape(-1, f).sum(0), alpha=scale)

    def extra_repr(self) -> str:
        text = f"{self.input_frame_size}, kW={self.kw}"
        return text + (f", dW={self.dw}" if self.dw != 1 else "")


class TemporalMaxPooling(Module):
    """1-D max pooling over time: each output frame is the feature-wise max of ``kW`` input frames.

    Input ``T x F`` or ``N x T x F``; ``oT = floor((T - kW) / dW) + 1``; ``dW`` defaults to ``kW``.
    ``indices`` (a LongTensor of the output's size) keeps the 0-based input frame of each maximum
    (Torch kept the offset inside the window); ties go to the first frame.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.TemporalMaxPooling(2)
    >>> m.forward(ft.Tensor([[1.0, 8.0], [3.0, 2.0], [5.0, 6.0], [4.0, 7.0]])).tolist()
    [[3.0, 8.0], [5.0, 7.0]]
    >>> m.indices.tolist()
    [[1, 0], [2, 3]]
    """

    STATE = ("indices",)

    def __init__(self, kw: int, dw: int | None = None) -> None:
        super().__init__()
        dw = kw if dw is None else dw
        _check_steps("TemporalMaxPooling", kw=kw, dw=dw)
        self.kw = kw
        self.dw = dw
        self.indices = ft.LongTensor()

    def update_output(self, input: Any) -> Any:
        _check_temporal("TemporalMaxPooling", input, None, self.kw)
        values, local = input.unfold(-2, self.kw, self.dw).max(-1)  # ... x oT x F
        ot = values.size(-2)
        starts = ft.arange(0, ot * self.dw, self.dw, device=input.device)[:ot].view(ot, 1)
        self.indices = local + starts  # the frame, 0-based
        self.output = values
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        t, f = input.size(-2), input.size(-1)
        n = input.size(0) if input.dim() == 3 else 1
        features = ft.arange(f, device=input.device)
        rows = ft.arange(n, device=input.device).view(n, 1, 1) * (t * f)
        flat = (self.indices.view(n, -1, f) * f + features).add_(rows)
        grad = ft.zeros(n * t * f, dtype=grad_output.dtype, device=grad_output.device)
        grad.index_add_(0, flat.reshape(-1), grad_output.reshape(-1))
        self.grad_input = grad.view(*tuple(input.size()))
        return self.grad_input

    def extra_repr(self) -> str:
        return f"kW={self.kw}" + (f", dW={self.dw}" if self.dw != self.kw else "")


class LookupTable(Module):
    """Embedding: each index of a 1-D (``n``) or 2-D (``N x n``) LongTensor selects a row of ``weight``.

    ``weight`` is ``n_index x n_output``, initialised N(0, 1) (``reset(stdv)``: N(0, stdv)).
    Indices are **0-based**. The output is ``n x n_output`` or ``N x n x n_output``.

    - ``padding_value``: an index whose rows get no gradient (``set_padding``); None for none.
    - ``max_norm``: before each forward, the rows that the input selects and whose ``norm_type``
      norm exceeds ``max_norm`` are rescaled in place to norm ``max_norm`` (``set_max_norm``).
    - ``scale_grad_by_freq()``: each row's gradient is divided by how often the index occurs in
      the input.

    The gradient accumulates with ``index_add`` (repeated indices add up); ``update_grad_input``
    gives zeros of the input's size (indices have no gradient).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.LookupTable(4, 2)
    >>> _ = m.weight.copy_(ft.arange(8.0).view(4, 2))
    >>> m.forward(ft.LongTensor([3, 0, 3])).tolist()
    [[6.0, 7.0], [0.0, 1.0], [6.0, 7.0]]
    >>> m.forward(ft.LongTensor([[1, 2]])).size()
    Size([1, 2, 2])
    """

    def __init__(
        self,
        n_index: int,
        n_output: int,
        padding_value: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
    ) -> None:
        super().__init__()
        _check_steps("LookupTable", n_index=n_index, n_output=n_output)
        self.n_index = n_index
        self.n_output = n_output
        self.padding_value = padding_value
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.should_scale_grad_by_freq = False
        self.weight = ft.Tensor(n_index, n_output)
        self.grad_weight = ft.zeros(n_index, n_output)
        self.reset()

    def reset(self, stdv: float | None = None) -> LookupTable:
        self.weight.normal_(0.0, 1.0 if stdv is None else stdv)
        return self

    def set_padding(self, padding_value: int | None) -> LookupTable:
        """Rows at ``padding_value`` (0-based; None for none) get no gradient; returns self."""
        self.padding_value = padding_value
        return self

    def set_max_norm(self, max_norm: float | None) -> LookupTable:
        """Renormalise the selected rows to at most ``max_norm`` before each forward; returns self."""
        self.max_norm = max_norm
        return self

    def scale_grad_by_freq(self) -> LookupTable:
        """Divide each row's gradient by the number of times its index occurs in the input; returns self."""
        self.should_scale_grad_by_freq = True
        return self

    def _check(self, input: Any) -> Tensor:
        """The indices as a flat LongTensor, after checking type, size and range."""
        if not isinstance(input, Tensor):
            raise ArgumentError(f"LookupTable: expected a LongTensor of indices, got {type(input).__name__}")
        if input.dtype.kind not in "iu":
            raise DTypeError(f"LookupTable: expected an integer (Long) tensor of indices, got {input.type()}")
        if input.dim() not in (1, 2):
            raise ShapeError(f"LookupTable: expected a 1-D (n) or 2-D (N x n) index tensor, got {_sizes(input)}")
        flat = input.reshape(-1).long()
        if flat.nelement() and (int(flat.min()) < 0 or int(flat.max()) >= self.n_index):
            bad = int(flat.min()) if int(flat.min()) < 0 else int(flat.max())
            raise IndexError(f"LookupTable: index {bad} out of range for {self.n_index} rows (0-based indices)")
        return flat

    def renorm(self, input: Any) -> None:
        """Rescale in place the rows selected by ``input`` whose norm exceeds ``max_norm`` (nothing without it)."""
        if self.max_norm is None:
            return
        flat = self._check(input)
        if not flat.nelement():
            return
        rows = self.weight.index_select(0, flat)
        norms = rows.norm(self.norm_type, 1, keepdim=True)
        factor = ft.where(norms > self.max_norm, self.max_norm / (norms + 1e-7), ft.ones_like(norms))
        self.weight.index_copy_(0, flat, rows * factor)  # repeated indices write the same row

    def update_output(self, input: Any) -> Any:
        flat = self._check(input)
        self.renorm(input)
        out = self.weight.index_select(0, flat)
        self.output = out.view(*tuple(input.size()), self.n_output)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = ft.zeros(*tuple(input.size()), dtype=self.weight.dtype, device=self.weight.device)
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        flat = self._check(input)
        g = grad_output.reshape(-1, self.n_output)
        weights = ft.full(flat.size(0), fill_value=scale, dtype=g.dtype, device=g.device)
        if self.padding_value is not None:
            weights = weights * flat.ne(self.padding_value).type_as(weights)
        if self.should_scale_grad_by_freq:
            count = ft.zeros(self.n_index, dtype=g.dtype, device=g.device)
            count.index_add_(0, flat, ft.ones_like(weights))
            weights = weights / count.index_select(0, flat)
        self.grad_weight.index_add_(0, flat, g * weights.unsqueeze(1))

    def extra_repr(self) -> str:
        text = f"{self.n_index} -> {self.n_output}"
        if self.padding_value is not None:
            text += f", padding_value={self.padding_value}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        return text


__all__ = ["LookupTable", "TemporalConvolution", "TemporalMaxPooling", "TemporalSubSampling"]
