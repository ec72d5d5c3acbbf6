"""Array-level kernels of the spatial convolution and pooling modules (``nn.Spatial*``).

Every kernel takes the backend's array namespace ``xp`` first (numpy or cupy: only functions both
have are used) and works on backend arrays in ``N x C x H x W`` layout; a module adds and removes
the batch dim of a single ``C x H x W`` sample. Modules find a kernel with :func:`kernel`, by
name, so a backend may supply a native one (``backend.kernels[name]``, the same signature) the way
flambeau.tensor's op table lets it replace ``Op.kernel``.

Convolution is im2col + one matrix product per call: a strided view (``as_strided``) holds every
window of the zero-padded input; it is copied once into a ``(C kh kw) x (N oh ow)`` matrix (the
*columns*, kept by the module for the backward pass), and one GEMM with the ``O x (C kh kw)``
weight computes the whole batch. The backward pass is two more GEMMs: weight gradient
``grad_out @ cols^T`` and column gradient ``weight^T @ grad_out``; the column gradient is added back
into the image (col2im) with one vectorised add per kernel offset (``kh * kw`` of them), never a
loop over pixels or samples. The transposed convolution is the same two halves swapped.

Pooling is vectorised the same way: one slice per kernel offset (max with the first maximum
winning, as Torch's ``val > max`` scan, NaN propagating), or a gather of precomputed flat indices
for the adaptive and fractional poolings. Max poolings return Torch's ``indices``: for each output
element, the flat 0-based position ``y * W + x`` of its maximum in its input plane; their backward
pass scatters the gradient there (assignment when windows cannot overlap, ``add.at`` otherwise).

Output sizes follow Torch: ``floor((in + 2 pad - ext) / stride) + 1`` with ``ext = (k - 1)
dilation + 1``; in ceil mode ``ceil(...) + 1``, less one if the last window would start in the
right/bottom padding.

>>> import numpy as np
>>> x = np.arange(16.0).reshape(1, 1, 4, 4)
>>> w = np.ones((1, 1, 2, 2))
>>> out, _ = conv2d(np, x, w, None, (2, 2), (0, 0), (1, 1))
>>> out.tolist()
[[[[10.0, 18.0], [42.0, 50.0]]]]
>>> m, idx = max_pool2d(np, x, (2, 2), (2, 2), (0, 0), (1, 1), (2, 2))
>>> m.tolist(), idx.tolist()
([[[[5.0, 7.0], [13.0, 15.0]]]], [[[[5, 7], [13, 15]]]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Pair = tuple[int, int]

__all__ = ["KERNELS", "kernel", "out_size"]


def kernel(name: str, device: Any) -> Callable[..., Any]:
    """The kernel ``name`` for ``device``: its backend's native one if it has it, else the portable one.

    >>> import flambeau.tensor as ft
    >>> kernel("conv2d", ft.zeros(1).device) is conv2d
    True
    """
    native = getattr(device.backend, "kernels", {}).get(name)
    return native if native is not None else KERNELS[name]


def out_size(size: int, k: int, stride: int, pad: int, dilation: int = 1, ceil: bool = False) -> int:
    """Torch's output size of a convolution or pooling along one dim (may be < 1: the caller refuses it).

    >>> out_size(32, 5, 1, 0), out_size(7, 2, 2, 0), out_size(7, 2, 2, 0, ceil=True)
    (28, 3, 4)
    """
    span = size + 2 * pad - ((k - 1) * dilation + 1)
    if span < 0:
        return 0
    if not ceil:
        return span // stride + 1
    n = -(-span // stride) + 1
    if (n - 1) * stride >= size + pad:  # the last window must start inside the image or its left pad
        n -= 1
    return n


# ------------------------------------------------------------------------------------------------
# Helpers.


def _pad(xp: Any, x: Any, top: int, left: int, height: int, width: int, value: float) -> Any:
    """``x`` placed at (``top``, ``left``) in a ``height x width`` plane filled with ``value``.

    The plane may be smaller than ``x`` plus the padding on the bottom/right (rows no window reaches
    are dropped). No copy when nothing is added.
    """
    n, c, h, w = x.shape
    if top == 0 and left == 0 and height <= h and width <= w:
        return x
    out = xp.full((n, c, height, width), value, dtype=x.dtype)
    hh, ww = min(h, height - top), min(w, width - left)
    out[:, :, top : top + hh, left : left + ww] = x[:, :, :hh, :ww]
    return out


def _extent(o: int, k: int, stride: int, dilation: int) -> int:
    """Rows (or columns) of the padded plane that ``o`` windows reach."""
    return (o - 1) * stride + (k - 1) * dilation + 1


def _tap(i: int, o: int, stride: int, dilation: int) -> slice:
    """The rows of the padded plane that kernel offset ``i`` reads, one per output row."""
    return slice(i * dilation, i * dilation + (o - 1) * stride + 1, stride)


def _padded(xp: Any, x: Any, k: Pair, stride: Pair, pad: Pair, dil: Pair, out: Pair, value: float) -> Any:
    return _pad(
        xp,
        x,
        pad[0],
        pad[1],
        _extent(out[0], k[0], stride[0], dil[0]),
        _extent(out[1], k[1], stride[1], dil[1]),
        value,
    )


def im2col(xp: Any, x: Any, k: Pair, stride: Pair, pad: Pair, dil: Pair, out: Pair) -> Any:
    """The columns of ``x`` (``N x C x H x W``): a contiguous ``(C kh kw) x (N oh ow)`` matrix.

    Row ``(c, i, j)``, column ``(n, y, x)`` holds the padded input at ``(n, c, y sh + i dh, x sw + j dw)``.
    """
    n, c = x.shape[:2]
    xp_ = _padded(xp, x, k, stride, pad, dil, out, 0)
    s_n, s_c, s_h, s_w = xp_.strides
    view = xp.lib.stride_tricks.as_strided(
        xp_,
        shape=(c, k[0], k[1], n, out[0], out[1]),
        strides=(s_c, s_h * dil[0], s_w * dil[1], s_n, s_h * stride[0], s_w * stride[1]),
    )
    return xp.ascontiguousarray(view).reshape(c * k[0] * k[1], n * out[0] * out[1])


def col2im(xp: Any, cols: Any, shape: tuple[int, ...], k: Pair, stride: Pair, pad: Pair, dil: Pair) -> Any:
    """The adjoint of :func:`im2col`: every column entry added back at its image position.

    ``cols`` is ``C x kh x kw x N x oh x ow`` (any strides); the result is ``N x C x H x W``
    (``shape``), contiguous. One vectorised add per kernel offset.
    """
    n, c, h, w = shape
    oh, ow = cols.shape[-2:]
    hp = max(h + 2 * pad[0], _extent(oh, k[0], stride[0], dil[0]))
    wp = max(w + 2 * pad[1], _extent(ow, k[1], stride[1], dil[1]))
    acc = xp.zeros((c, n, hp, wp), dtype=cols.dtype)
    for i in range(k[0]):
        rows = _tap(i, oh, stride[0], dil[0])
        for j in range(k[1]):
            acc[:, :, rows, _tap(j, ow, stride[1], dil[1])] += cols[:, i, j]
    crop = acc[:, :, pad[0] : pad[0] + h, pad[1] : pad[1] + w]
    return xp.ascontiguousarray(crop.transpose(1, 0, 2, 3))


def _planes_first(xp: Any, a: Any) -> Any:
    """``N x C x H x W`` -> contiguous ``C x (N H W)``."""
    n, c = a.shape[:2]
    return xp.ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(c, -1)


def _batch_first(xp: Any, m: Any, n: int, h: int, w: int, bias: Any = None) -> Any:
    """``C x (N H W)`` -> contiguous ``N x C x H x W``, adding ``bias`` (per C) on the way."""
    c = m.shape[0]
    src = m.reshape(c, n, h * w).transpose(1, 0, 2)
    out = xp.empty((n, c, h * w), dtype=m.dtype)
    if bias is None:
        out[...] = src
    else:
        xp.add(src, bias.reshape(1, c, 1), out=out)
    return out.reshape(n, c, h, w)


# ------------------------------------------------------------------------------------------------
# Convolution.


def _whole(x: Any, weight: Any, pad: Pair) -> bool:
    """Whether the kernel covers the unpadded input exactly (a single output position)."""
    return tuple(pad) == (0, 0) and tuple(x.shape[2:]) == tuple(weight.shape[2:])


def conv2d(xp: Any, x: Any, weight: Any, bias: Any, stride: Pair, pad: Pair, dil: Pair) -> tuple[Any, Any]:
    """Cross-correlation of ``x`` (``N x C x H x W``) with ``weight`` (``O x C x kh x kw``) plus ``bias``.

    Returns ``(output, cols)``: ``N x O x oh x ow`` and the im2col matrix, which
    :func:`conv2d_backward` reuses (a native kernel may return ``None`` for it).
    """
    n, _, h, w = x.shape
    o, _, kh, kw = weight.shape
    if _whole(x, weight, pad):  # one window, the whole input: a plain matrix product, no im2col
        y = xp.matmul(x.reshape(n, -1), weight.reshape(o, -1).T)
        if bias is not None:
            y += bias
        return y.reshape(n, o, 1, 1), x.reshape(n, -1).T
    out = (out_size(h, kh, stride[0], pad[0], dil[0]), out_size(w, kw, stride[1], pad[1], dil[1]))
    cols = im2col(xp, x, (kh, kw), stride, pad, dil, out)
    y = xp.matmul(weight.reshape(o, -1), cols)
    return _batch_first(xp, y, n, out[0], out[1], bias), cols


def conv2d_backward(
    xp: Any,
    x: Any,
    cols: Any,
    grad_out: Any,
    weight: Any,
    stride: Pair,
    pad: Pair,
    dil: Pair,
    need_input: bool,
    need_params: bool,
) -> tuple[Any, Any, Any]:
    """``(grad_input, grad_weight, grad_bias)`` of :func:`conv2d`; ``None`` for what is not asked.

    ``cols`` is the forward pass's im2col matrix of ``x`` (or ``None``: recomputed from ``x``).
    """
    o, c, kh, kw = weight.shape
    oh, ow = grad_out.shape[2:]
    gin = gw = gb = None
    if _whole(x, weight, pad):  # see conv2d: plain matrix products
        g2 = grad_out.reshape(x.shape[0], o)
        if need_input:
            gin = xp.matmul(g2, weight.reshape(o, -1)).reshape(x.shape)
        if need_params:
            gw = xp.matmul(g2.T, x.reshape(x.shape[0], -1)).reshape(weight.shape)
            gb = g2.sum(axis=0)
        return gin, gw, gb
    g = _planes_first(xp, grad_out)  # O x (N oh ow)
    if need_input:
        gcols = xp.matmul(weight.reshape(o, -1).T, g)
        gin = col2im(xp, gcols.reshape(c, kh, kw, x.shape[0], oh, ow), x.shape, (kh, kw), stride, pad, dil)
    if need_params:
        if cols is None or cols.shape != (c * kh * kw, g.shape[1]):
            cols = im2col(xp, x, (kh, kw), stride, pad, dil, (oh, ow))
        gw = xp.matmul(cols, g.T).T.reshape(weight.shape)  # faster in BLAS than g @ cols.T, same result
        gb = g.sum(axis=1)
    return gin, gw, gb


def conv_transpose2d(xp: Any, x: Any, weight: Any, bias: Any, stride: Pair, pad: Pair, dil: Pair, out: Pair) -> Any:
    """Transposed convolution: ``x`` (``N x I x H x W``), ``weight`` ``I x O x kh x kw`` -> ``N x O x out``.

    The adjoint of :func:`conv2d` with the same weight: one GEMM to columns, then col2im.
    """
    n, i, h, w = x.shape
    o, kh, kw = weight.shape[1:]
    cols = xp.matmul(weight.reshape(i, -1).T, _planes_first(xp, x))  # (O kh kw) x (N H W)
    y = col2im(xp, cols.reshape(o, kh, kw, n, h, w), (n, o, *out), (kh, kw), stride, pad, dil)
    if bias is not None:
        y += bias.reshape(1, o, 1, 1)
    return y


def conv_transpose2d_backward(
    xp: Any,
    x: Any,
    grad_out: Any,
    weight: Any,
    stride: Pair,
    pad: Pair,
    dil: Pair,
    need_input: bool,
    need_params: bool,
) -> tuple[Any, Any, Any]:
    """``(grad_input, grad_weight, grad_bias)`` of :func:`conv_transpose2d`; ``None`` for what is not asked."""
    n, i, h, w = x.shape
    o, kh, kw = weight.shape[1:]
    cols = im2col(xp, grad_out, (kh, kw), stride, pad, dil, (h, w))  # (O kh kw) x (N H W)
    gin = gw = gb = None
    if need_input:
        gin = _batch_first(xp, xp.matmul(weight.reshape(i, -1), cols), n, h, w)
    if need_params:
        gw = xp.matmul(_planes_first(xp, x), cols.T).reshape(weight.shape)
        gb = grad_out.sum(axis=(0, 2, 3))
    return gin, gw, gb


def conv2d_local(xp: Any, x: Any, weight: Any, bias: Any, stride: Pair, pad: Pair) -> tuple[Any, Any]:
    """Locally connected layer: ``weight`` is ``oh x ow x O x C x kh x kw``, ``bias`` ``O x oh x ow``.

    Returns ``(output, cols)`` with ``cols`` the ``(oh ow) x (C kh kw) x N`` windows: one batched
    matrix product over the output positions.
    """
    n = x.shape[0]
    oh, ow, o = weight.shape[:3]
    k = weight.shape[-2:]
    cols = _local_cols(xp, x, k, stride, pad, (oh, ow))
    y = xp.matmul(weight.reshape(oh * ow, o, -1), cols)  # (oh ow) x O x N
    y = y.reshape(oh, ow, o, n).transpose(3, 2, 0, 1)
    out = xp.empty((n, o, oh, ow), dtype=y.dtype)
    if bias is None:
        out[...] = y
    else:
        xp.add(y, bias[None], out=out)
    return out, cols


def _local_cols(xp: Any, x: Any, k: Pair, stride: Pair, pad: Pair, out: Pair) -> Any:
    n, c = x.shape[:2]
    xp_ = _padded(xp, x, k, stride, pad, (1, 1), out, 0)
    s_n, s_c, s_h, s_w = xp_.strides
    view = xp.lib.stride_tricks.as_strided(
        xp_,
        shape=(out[0], out[1], c, k[0], k[1], n),
        strides=(s_h * stride[0], s_w * stride[1], s_c, s_h, s_w, s_n),
    )
    return xp.ascontiguousarray(view).reshape(out[0] * out[1], c * k[0] * k[1], n)


def conv2d_local_backward(
    xp: Any,
    x: Any,
    cols: Any,
    grad_out: Any,
    weight: Any,
    stride: Pair,
    pad: Pair,
    need_input: bool,
    need_params: bool,
) -> tuple[Any, Any, Any]:
    """``(grad_input, grad_weight, grad_bias)`` of :func:`conv2d_local`; ``None`` for what is not asked."""
    n, c = x.shape[:2]
    oh, ow, o, _, kh, kw = weight.shape
    g = xp.ascontiguousarray(grad_out.transpose(2, 3, 1, 0)).reshape(oh * ow, o, n)
    gin = gw = gb = None
    if need_input:
        gcols = xp.matmul(weight.reshape(oh * ow, o, -1).transpose(0, 2, 1), g)  # (oh ow) x K x N
        gcols = gcols.reshape(oh, ow, c, kh, kw, n).transpose(2, 3, 4, 5, 0, 1)
        gin = col2im(xp, gcols, x.shape, (kh, kw), stride, pad, (1, 1))
    if need_params:
        if cols is None or cols.shape != (oh * ow, c * kh * kw, n):
            cols = _local_cols(xp, x, (kh, kw), stride, pad, (oh, ow))
        gw = xp.matmul(g, cols.transpose(0, 2, 1)).reshape(weight.shape)
        gb = grad_out.sum(axis=0)
    return gin, gw, gb


# ------------------------------------------------------------------------------------------------
# Window sums (average pooling, sub-sampling, LP pooling).


def window_sum(xp: Any, x: Any, k: Pair, stride: Pair, pad: Pair, out: Pair) -> Any:
    """The sum of each (zero-padded) window: ``N x C x oh x ow``, one add per kernel offset."""
    xp_ = _padded(xp, x, k, stride, pad, (1, 1), out, 0)
    acc = None
    for i in range(k[0]):
        rows = _tap(i, out[0], stride[0], 1)
        for j in range(k[1]):
            s = xp_[:, :, rows, _tap(j, out[1], stride[1], 1)]
            if acc is None:
                acc = s.copy()
            else:
                acc += s
    return acc


def window_sum_backward(xp: Any, grad_out: Any, shape: tuple[int, ...], k: Pair, stride: Pair, pad: Pair) -> Any:
    """The adjoint of :func:`window_sum`: each window's gradient added to every element of the window."""
    n, c, h, w = shape
    oh, ow = grad_out.shape[2:]
    hp = max(h + 2 * pad[0], _extent(oh, k[0], stride[0], 1))
    wp = max(w + 2 * pad[1], _extent(ow, k[1], stride[1], 1))
    acc = xp.zeros((n, c, hp, wp), dtype=grad_out.dtype)
    if tuple(k) == tuple(stride) and tuple(pad) == (0, 0):  # non-overlapping windows: one broadcast copy
        s_n, s_c, s_h, s_w = acc.strides
        blocks = xp.lib.stride_tricks.as_strided(
            acc, shape=(n, c, oh, k[0], ow, k[1]), strides=(s_n, s_c, s_h * k[0], s_h, s_w * k[1], s_w)
        )
        blocks[...] = grad_out[:, :, :, None, :, None]
        return xp.ascontiguousarray(acc[:, :, :h, :w])
    for i in range(k[0]):
        rows = _tap(i, oh, stride[0], 1)
        for j in range(k[1]):
            acc[:, :, rows, _tap(j, ow, stride[1], 1)] += grad_out
    return xp.ascontiguousarray(acc[:, :, pad[0] : pad[0] + h, pad[1] : pad[1] + w])


def _avg_counts(xp: Any, size: int, k: int, stride: int, pad: int, o: int, include_pad: bool, dtype: Any) -> Any:
    """Per output position along one dim: how many elements its window divides by (Torch's rule)."""
    start = xp.arange(o) * stride - pad
    end = xp.minimum(start + k, size + pad)
    if include_pad:
        return (end - start).astype(dtype)
    return (xp.minimum(end, size) - xp.maximum(start, 0)).astype(dtype)


def avg_pool2d(xp: Any, x: Any, k: Pair, stride: Pair, pad: Pair, out: Pair, count_include_pad: bool) -> Any:
    """Average pooling, Torch's divisor: with ``count_include_pad`` the window clipped to the padded
    image, else to the image."""
    h, w = x.shape[2:]
    ch = _avg_counts(xp, h, k[0], stride[0], pad[0], out[0], count_include_pad, x.dtype)
    cw = _avg_counts(xp, w, k[1], stride[1], pad[1], out[1], count_include_pad, x.dtype)
    s = window_sum(xp, x, k, stride, pad, out)
    s /= ch[:, None] * cw[None, :]
    return s


def avg_pool2d_backward(
    xp: Any, grad_out: Any, shape: tuple[int, ...], k: Pair, stride: Pair, pad: Pair, count_include_pad: bool
) -> Any:
    """The gradient of :func:`avg_pool2d`."""
    h, w = shape[2:]
    oh, ow = grad_out.shape[2:]
    ch = _avg_counts(xp, h, k[0], stride[0], pad[0], oh, count_include_pad, grad_out.dtype)
    cw = _avg_counts(xp, w, k[1], stride[1], pad[1], ow, count_include_pad, grad_out.dtype)
    return window_sum_backward(xp, grad_out / (ch[:, None] * cw[None, :]), shape, k, stride, pad)


# ------------------------------------------------------------------------------------------------
# Max pooling and unpooling.


def max_pool2d(xp: Any, x: Any, k: Pair, stride: Pair, pad: Pair, dil: Pair, out: Pair) -> tuple[Any, Any]:
    """Max pooling: ``(output, indices)``, ``indices`` the flat in-plane position of each maximum.

    Windows are scanned row by row; a later element replaces the maximum only if it is greater (or
    NaN), as in Torch. Padding never wins (it is ``-inf``). The window elements are first copied
    tap-major (``kh kw x N x C x oh x ow``, one strided copy, like im2col) so that the scan runs on
    contiguous slabs: one comparison and one ``maximum`` per kernel offset. Positions are tracked
    as in-plane offsets from the window's corner.
    """
    n, c, _, w = x.shape
    xp_ = _padded(xp, x, k, stride, pad, dil, out, -float("inf"))
    s_n, s_c, s_h, s_w = xp_.strides
    view = xp.lib.stride_tricks.as_strided(
        xp_,
        shape=(k[0], k[1], n, c, out[0], out[1]),
        strides=(s_h * dil[0], s_w * dil[1], s_n, s_c, s_h * stride[0], s_w * stride[1]),
    )
    taps = xp.ascontiguousarray(view).reshape(k[0] * k[1], n, c, out[0], out[1])
    offsets = [i * dil[0] * w + j * dil[1] for i in range(k[0]) for j in range(k[1])]
    best = taps[0].copy()
    arg = xp.zeros(best.shape, dtype=xp.int32)
    for t in range(1, len(offsets)):
        better = taps[t] > best  # strictly greater: the first maximum keeps ties
        xp.maximum(best, taps[t], out=best)  # NaN propagates, as Torch's scan does
        arg += better * (xp.int32(offsets[t]) - arg)
    if bool(xp.isnan(best).any()):  # Torch keeps the last NaN's position: redo the scan exactly
        arg = _nan_positions(xp, taps, offsets)
    # the window at (oy, ox) starts at row oy*sh - ph, column ox*sw - pw of the plane
    base = (xp.arange(out[0]) * stride[0] - pad[0]).reshape(-1, 1) * w + (xp.arange(out[1]) * stride[1] - pad[1])
    return best, arg + base


def _nan_positions(xp: Any, taps: Any, offsets: list[int]) -> Any:
    """The scan of :func:`max_pool2d` with Torch's exact rule ``val > max or isnan(val)``."""
    best = taps[0]
    arg = xp.zeros(best.shape, dtype=xp.int32)
    for t in range(1, len(offsets)):
        better = (taps[t] > best) | xp.isnan(taps[t])
        best = xp.where(better, taps[t], best)
        arg = xp.where(better, xp.int32(offsets[t]), arg)
    return arg


def _flat_positions(xp: Any, indices: Any, plane: int) -> Any:
    """In-plane indices ``N x C x ...`` -> positions in the flattened ``N x C x plane`` array."""
    n, c = indices.shape[:2]
    base = (xp.arange(n * c) * plane).reshape(n, c, *([1] * (indices.ndim - 2)))
    return (indices + base).reshape(-1)


def max_pool2d_backward(xp: Any, grad_out: Any, indices: Any, shape: tuple[int, ...], overlap: bool) -> Any:
    """The gradient of a max pooling: ``grad_out`` added at ``indices`` into zeros of ``shape``.

    ``overlap`` says whether two outputs may share a maximum (then ``add.at`` accumulates).
    """
    n, c, h, w = shape
    flat = xp.zeros(n * c * h * w, dtype=grad_out.dtype)
    pos = _flat_positions(xp, indices, h * w)
    if overlap:
        xp.add.at(flat, pos, grad_out.reshape(-1))
    else:
        flat[pos] = grad_out.reshape(-1)
    return flat.reshape(shape)


def max_unpool2d(xp: Any, x: Any, indices: Any, out: Pair) -> Any:
    """Each value of ``x`` placed at its index in zero planes of size ``out``."""
    n, c = x.shape[:2]
    flat = xp.zeros(n * c * out[0] * out[1], dtype=x.dtype)
    flat[_flat_positions(xp, indices, out[0] * out[1])] = x.reshape(-1)
    return flat.reshape(n, c, out[0], out[1])


def max_unpool2d_backward(xp: Any, grad_out: Any, indices: Any) -> Any:
    """The gradient of :func:`max_unpool2d`: ``grad_out`` read at the indices."""
    n, c = indices.shape[:2]
    g = xp.take_along_axis(grad_out.reshape(n, c, -1), indices.reshape(n, c, -1), axis=2)
    return g.reshape(indices.shape)


def _gather_max(xp: Any, x: Any, index: Any, valid: Any) -> tuple[Any, Any]:
    """Max over the last dim of ``x``'s planes read at flat in-plane ``index``.

    ``index`` is ``N x C x oh x ow x K`` (its first two dims may be 1: the same for every plane);
    entries where ``valid`` (broadcastable to it) is false are left out. The first maximum wins.
    """
    n, c = x.shape[:2]
    full = xp.broadcast_to(index, (n, c, *index.shape[2:]))
    vals = xp.take_along_axis(x.reshape(n, c, -1), full.reshape(n, c, -1), axis=2).reshape(full.shape)
    if valid is not None:
        vals = xp.where(valid, vals, -float("inf"))
    arg = xp.argmax(vals, axis=-1)[..., None]
    best = xp.take_along_axis(vals, arg, axis=-1)[..., 0]
    return best, xp.take_along_axis(full, arg, axis=-1)[..., 0]


def adaptive_max_pool2d(xp: Any, x: Any, out: Pair) -> tuple[Any, Any]:
    """Adaptive max pooling: output ``(i, j)`` covers rows ``floor(i H / oh) .. ceil((i + 1) H / oh)``
    (and the same for columns). Returns ``(output, indices)``."""
    h, w = x.shape[2:]
    rows, rvalid = _regions(xp, h, out[0])
    cols, cvalid = _regions(xp, w, out[1])
    index = (rows[:, None, :, None] * w + cols[None, :, None, :]).reshape(out[0], out[1], -1)
    valid = (rvalid[:, None, :, None] & cvalid[None, :, None, :]).reshape(out[0], out[1], -1)
    return _gather_max(xp, x, index[None, None], valid[None, None])


def _regions(xp: Any, size: int, o: int) -> tuple[Any, Any]:
    """Adaptive regions along one dim: ``o x kmax`` positions and which of them are inside the region."""
    i = xp.arange(o)
    start = (i * size) // o
    end = -((-(i + 1) * size) // o)
    kmax = int(max(-((-(j + 1) * size) // o) - (j * size) // o for j in range(o)))
    pos = start[:, None] + xp.arange(kmax)[None, :]
    valid = pos < end[:, None]
    return xp.minimum(pos, size - 1), valid


def fractional_intervals(xp: Any, samples: Any, size: int, o: int, pool: int) -> Any:
    """Torch's pseudo-random window starts: ``int((i + u) a) - int(u a)``, ``a = (size - pool) / (o - 1)``,
    the last start ``size - pool``; ``samples`` (``u``, any shape) gives a row of ``o`` starts each."""
    if o == 1:
        return xp.full((*samples.shape, 1), size - pool, dtype=xp.int64)
    alpha = (size - pool) / (o - 1)
    i = xp.arange(o - 1, dtype=samples.dtype)
    u = samples[..., None]
    seq = ((i + u) * alpha).astype(xp.int64) - (u * alpha).astype(xp.int64)
    last = xp.full((*samples.shape, 1), size - pool, dtype=xp.int64)
    return xp.concatenate([seq, last], axis=-1)


def fractional_max_pool2d(xp: Any, x: Any, samples: Any, pool: Pair, out: Pair) -> tuple[Any, Any]:
    """Fractional max pooling: plane ``(n, c)`` uses ``samples[n, c] = (u_w, u_h)`` for its window starts;
    each window is ``pool`` (``ph x pw``). Returns ``(output, indices)``."""
    w = x.shape[3]
    sh = fractional_intervals(xp, samples[:, :, 1], x.shape[2], out[0], pool[0])  # N x C x oh
    sw = fractional_intervals(xp, samples[:, :, 0], w, out[1], pool[1])  # N x C x ow
    rows = sh[:, :, :, None] + xp.arange(pool[0])  # N x C x oh x ph
    cols = sw[:, :, :, None] + xp.arange(pool[1])  # N x C x ow x pw
    index = rows[:, :, :, None, :, None] * w + cols[:, :, None, :, None, :]
    n, c = x.shape[:2]
    return _gather_max(xp, x, index.reshape(n, c, out[0], out[1], -1), None)


KERNELS: dict[str, Callable[..., Any]] = {
    "conv2d": conv2d,
    "conv2d_backward": conv2d_backward,
    "conv_transpose2d": conv_transpose2d,
    "conv_transpose2d_backward": conv_transpose2d_backward,
    "conv2d_local": conv2d_local,
    "conv2d_local_backward": conv2d_local_backward,
    "window_sum": window_sum,
    "window_sum_backward": window_sum_backward,
    "avg_pool2d": avg_pool2d,
    "avg_pool2d_backward": avg_pool2d_backward,
    "max_pool2d": max_pool2d,
    "max_pool2d_backward": max_pool2d_backward,
    "max_unpool2d": max_unpool2d,
    "max_unpool2d_backward": max_unpool2d_backward,
    "adaptive_max_pool2d": adaptive_max_pool2d,
    "fractional_max_pool2d": fractional_max_pool2d,
}
"""Every portable kernel by name; a backend's ``kernels`` dict may replace any of them."""
