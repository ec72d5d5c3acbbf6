"""Shape and selection layers (Torch's simple.md): Identity, Copy, narrowing, replicating,
reshaping, selecting, squeezing, transposing and Padding.
"""

from __future__ import annotations

import math
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, IndexError, ShapeError, size_text

from ._layer_utils import _pair, _sizes, _sz, _tensor
from .module import Module, dtype_of


def _neg_dim(name: str, dim: int, ndim: int) -> int:
    d = dim + ndim if dim < 0 else dim
    if not 0 <= d < ndim:
        raise ShapeError(f"{name}: dimension {dim} is out of range for an input of {ndim} dims")
    return d


# --------------------------------------------------------------------------------------------------
# Shape and selection layers.


class Identity(Module):
    """``y = x`` (any input, tables too); the gradient passes unchanged.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Identity().forward(ft.Tensor([1.0, 2.0])).tolist()
    [1.0, 2.0]
    """

    def update_output(self, input: Any) -> Any:
        self.output = input
        return input

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output
        return grad_output


def _type_name(t: Any) -> str:
    """``'flambeau.FloatTensor'`` from a type name (``'torch.FloatTensor'``), a dtype or None (the default)."""
    if t is None:
        return str(ft.Tensor().type())
    return str(ft.zeros(0, dtype=dtype_of(t)).type())


class Copy(Module):
    """Converts the input to ``out_type`` and the gradient back to ``in_type`` (type names or dtypes).

    With equal types the tensors pass through uncopied unless ``force_copy``. ``type(...)`` makes
    both types the new one, unless ``dont_cast`` (then the module keeps its types), as Torch's.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.Copy("torch.DoubleTensor", "torch.FloatTensor")
    >>> m.forward(ft.Tensor([1.5])).type(), m.backward(ft.Tensor([1.5]), ft.FloatTensor([2.0])).type()
    ('flambeau.FloatTensor', 'flambeau.DoubleTensor')
    """

    def __init__(self, in_type: Any = None, out_type: Any = None, force_copy: bool = False, dont_cast: bool = False):
        super().__init__()
        self.in_type = _type_name(in_type)
        self.out_type = _type_name(out_type)
        self.force_copy = force_copy
        self.dont_cast = dont_cast

    @staticmethod
    def _convert(x: Tensor, name: str, force: bool) -> Tensor:
        out = x.type(name)
        return out.clone() if force and out is x else out

    def update_output(self, input: Any) -> Any:
        self.output = self._convert(_tensor("Copy", input), self.out_type, self.force_copy)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = self._convert(grad_output, self.in_type, self.force_copy)
        return self.grad_input

    def type(self, dtype: Any = None, device: Any = None) -> Any:
        if dtype is None and device is None:
            return super().type()
        if self.dont_cast:
            return self
        super().type(dtype, device)
        if dtype is not None:
            self.in_type = self.out_type = _type_name(dtype)
        return self

    def extra_repr(self) -> str:
        return f"{self.in_type} -> {self.out_type}"


class Narrow(Module):
    """``length`` entries from ``offset`` along ``dim`` (a copy), all 0-based.

    A negative ``dim`` or ``offset`` counts from the end (-1 is the last); a negative ``length``
    reaches that far from the end (``-1``: to the end), as Torch's.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> x = ft.Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> nn.Narrow(1, 1, 2).forward(x).tolist(), nn.Narrow(1, -1).forward(x).tolist()
    ([[2.0, 3.0], [5.0, 6.0]], [[3.0], [6.0]])
    >>> nn.Narrow(0, 0, -1).forward(x).size()
    Size([2, 3])
    """

    def __init__(self, dim: int, offset: int, length: int = 1) -> None:
        super().__init__()
        self.dim = dim
        self.offset = offset
        self.length = length

    def _range(self, input: Any) -> tuple[int, int, int]:
        d = _neg_dim("Narrow", self.dim, _tensor("Narrow", input).dim())
        n = input.size(d)
        offset = self.offset + n if self.offset < 0 else self.offset
        length = n - offset + self.length + 1 if self.length < 0 else self.length
        if offset < 0 or length < 0 or offset + length > n:
            raise IndexError(
                f"Narrow: offset {self.offset} and length {self.length} do not fit dimension {d} of size {n}"
                f" (input {_sz(input)})"
            )
        return d, offset, length

    def update_output(self, input: Any) -> Any:
        self.output = input.narrow(*self._range(input)).clone()
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        gi = ft.zeros_like(input)
        gi.narrow(*self._range(input)).copy_(grad_output)
        self.grad_input = gi
        return gi

    def extra_repr(self) -> str:
        return f"dim {self.dim}, offset {self.offset}, length {self.length}"


class Replicate(Module):
    """Inserts a dim of size ``n_features`` at ``dim`` (0-based) that repeats the input (stride 0, no copy).

    With ``ndim`` (dims of one sample), an input with more dims is a batch and the new dim goes
    one further. The output is a read-only expanded view; the gradient sums over the new dim.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Replicate(3, 1).forward(ft.Tensor([1.0, 2.0])).tolist()
    [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    """

    def __init__(self, n_features: int, dim: int = 0, ndim: int | None = None) -> None:
        super().__init__()
        if dim < 0:
            raise ArgumentError(f"Replicate: can only replicate across non-negative dims, got {dim}")
        self.n_features = n_features
        self.dim = dim
        self.ndim = ndim

    def _dim(self, input: Any) -> int:
        d = self.dim + (1 if self.ndim is not None and _tensor("Replicate", input).dim() > self.ndim else 0)
        if d > input.dim():
            raise ShapeError(f"Replicate: not enough input dims to replicate along dim {d}, got {_sz(input)}")
        return d

    def update_output(self, input: Any) -> Any:
        d = self._dim(input)
        sizes = list(input.size())
        sizes.insert(d, self.n_features)
        self.output = input.unsqueeze(d).expand(*sizes)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output.sum(self._dim(input))
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{self.n_features}, dim {self.dim}"


class Reshape(Module):
    """Reshape to the given sizes (a view; non-contiguous input is copied first).

    An input with more elements than the sizes, or whose first dim is 1, is a batch: the first
    dim is kept (``N x sizes``). ``batch_mode=True`` always keeps the first dim, ``False`` never
    (Torch's trailing boolean argument is accepted too).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Reshape(2, 3).forward(ft.zeros(6)).size(), nn.Reshape(2, 3).forward(ft.zeros(4, 6)).size()
    (Size([2, 3]), Size([4, 2, 3]))
    >>> print(nn.Reshape(2, 3))
    nn.Reshape(2x3)
    """

    def __init__(self, *size: Any, batch_mode: bool | None = None) -> None:
        super().__init__()
        args = list(size)
        if args and isinstance(args[-1], bool):
            batch_mode = args.pop()
        self.size = _sizes(tuple(args))
        self.batch_mode = batch_mode
        self.nelement = math.prod(self.size)

    def update_output(self, input: Any) -> Any:
        x = _tensor("Reshape", input).contiguous()
        single = self.batch_mode is False or (
            self.batch_mode is None and x.nelement() == self.nelement and (x.dim() == 0 or x.size(0) != 1)
        )
        target = self.size if single else (x.size(0) if x.dim() else 1, *self.size)
        if math.prod(target) != x.nelement():
            want = size_text(self.size)
            raise ShapeError(f"Reshape: an input of size {_sz(x)} cannot be viewed as {want} or N x {want}")
        self.output = x.view(*target)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output.contiguous().view(input.size())
        return self.grad_input

    def extra_repr(self) -> str:
        return size_text(self.size)


class View(Module):
    """A view of the input with the given sizes (one may be -1); the input must be contiguous.

    Extra leading elements make a batch: with ``set_num_input_dims(n)`` the last n dims are one
    sample and the dims before them a batch; without it, a batch is inferred when the input has a
    multiple of the sizes' elements (and no -1). ``reset_size(*sizes)`` changes the sizes.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.View(6).forward(ft.zeros(2, 3)).size(), nn.View(6).forward(ft.zeros(4, 2, 3)).size()
    (Size([6]), Size([4, 6]))
    >>> nn.View(-1, 2).set_num_input_dims(2).forward(ft.zeros(5, 2, 3)).size()
    Size([5, 3, 2])
    """

    def __init__(self, *size: Any) -> None:
        super().__init__()
        self.num_input_dims: int | None = None
        self.reset_size(*size)

    def reset_size(self, *size: Any) -> View:
        """New target sizes (at most one -1); returns self."""
        sizes = _sizes(size)
        if sum(1 for s in sizes if s == -1) > 1 or any(s < -1 for s in sizes):
            raise ArgumentError(f"View: sizes must be non-negative with at most one -1, got {sizes}")
        self.size = sizes
        self.num_elements = math.prod(s for s in sizes if s != -1)
        return self

    def set_num_input_dims(self, num_input_dims: int | None) -> View:
        """The number of dims of one sample (the rest are a batch); returns self."""
        self.num_input_dims = num_input_dims
        return self

    def _batch_size(self, input: Tensor) -> int | None:
        ind = input.dim()
        isz = list(input.size())
        maxdim = self.num_input_dims if self.num_input_dims is not None else ind
        ine = math.prod(isz[ind - maxdim :])
        if self.num_elements == 0 or ine % self.num_elements != 0:
            raise ShapeError(f"View: input view ({_sz(input)}) and desired view ({size_text(self.size)}) do not match")
        bsz = 1 if -1 in self.size else ine // self.num_elements
        bsz *= math.prod(isz[: ind - maxdim])
        if bsz == 1 and (self.num_input_dims is None or ind <= self.num_input_dims):
            return None
        return bsz

    def update_output(self, input: Any) -> Any:
        bsz = self._batch_size(_tensor("View", input))
        self.output = input.view(*self.size) if bsz is None else input.view(bsz, *self.size)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output.contiguous().view(input.size())
        return self.grad_input

    def extra_repr(self) -> str:
        return size_text(self.size)


class Contiguous(Module):
    """The input itself when contiguous, else a contiguous copy (likewise for the gradient).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Contiguous().forward(ft.zeros(2, 3).t()).is_contiguous()
    True
    """

    def update_output(self, input: Any) -> Any:
        self.output = _tensor("Contiguous", input).contiguous()
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output.contiguous()
        return self.grad_input


class Select(Module):
    """The slice at ``index`` along ``dim`` (a copy; the dim is removed). Both 0-based; negative counts from the end.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> x = ft.Tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> nn.Select(1, -1).forward(x).tolist(), nn.Select(0, 0).forward(x).tolist()
    ([2.0, 4.0], [1.0, 2.0])
    """

    def __init__(self, dim: int, index: int) -> None:
        super().__init__()
        self.dim = dim
        self.index = index

    def _where(self, input: Any) -> tuple[int, int]:
        d = _neg_dim("Select", self.dim, _tensor("Select", input).dim())
        n = input.size(d)
        i = self.index + n if self.index < 0 else self.index
        if not 0 <= i < n:
            raise IndexError(f"Select: index {self.index} is out of range for dimension {d} of size {n}")
        return d, i

    def update_output(self, input: Any) -> Any:
        self.output = input.select(*self._where(input)).clone()
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        gi = ft.zeros_like(input)
        gi.select(*self._where(input)).copy_(grad_output)
        self.grad_input = gi
        return gi

    def extra_repr(self) -> str:
        return f"{self.dim}, {self.index}"


class MaskedSelect(Module):
    """``[t, mask]`` → the 1-D tensor of ``t``'s elements where ``mask`` (a ByteTensor) is 1.

    ``grad_input`` is ``[dL/dt, zeros like mask]``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> x = ft.Tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> nn.MaskedSelect().forward([x, x.gt(2)]).tolist()
    [3.0, 4.0]
    """

    def __init__(self) -> None:
        super().__init__()
        self.grad_input = []

    def update_output(self, input: Any) -> Any:
        t, mask = _pair("MaskedSelect", input)
        if tuple(mask.size()) != tuple(t.size()):
            raise ShapeError(f"MaskedSelect: the mask ({_sz(mask)}) must have the input's size ({_sz(t)})")
        self.output = t.masked_select(mask)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        t, mask = _pair("MaskedSelect", input)
        self.grad_input = [ft.zeros_like(t).masked_copy_(mask, grad_output), ft.zeros_like(mask)]
        return self.grad_input


class Index(Module):
    """``[t, indices]`` → ``t.index_select(dim, indices)`` (indices a 1-D LongTensor, 0-based).

    ``grad_input`` is ``[dL/dt, zeros like indices]``; repeated indices accumulate.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> x = ft.Tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> nn.Index(0).forward([x, ft.LongTensor([1, 1, 0])]).tolist()
    [[3.0, 4.0], [3.0, 4.0], [1.0, 2.0]]
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.grad_input = []

    def update_output(self, input: Any) -> Any:
        t, idx = _pair("Index", input)
        self.output = t.index_select(self.dim, idx)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        t, idx = _pair("Index", input)
        self.grad_input = [ft.zeros_like(t).index_add_(self.dim, idx, grad_output), ft.zeros_like(idx)]
        return self.grad_input

    def extra_repr(self) -> str:
        return str(self.dim)


class Squeeze(Module):
    """Removes size-1 dims: all of them, or only ``dim`` (0-based).

    With ``num_input_dims`` (dims of one sample), an input with one more dim is a batch: ``dim``
    shifts by one, and a batch of one keeps its batch dim.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Squeeze().forward(ft.zeros(2, 1, 3, 1)).size(), nn.Squeeze(1).forward(ft.zeros(2, 1, 1)).size()
    (Size([2, 3]), Size([2, 1]))
    >>> nn.Squeeze(None, 2).forward(ft.zeros(1, 4, 1)).size()
    Size([1, 4])
    """

    def __init__(self, dim: int | None = None, num_input_dims: int | None = None) -> None:
        super().__init__()
        self.dim = dim
        self.num_input_dims = num_input_dims

    def update_output(self, input: Any) -> Any:
        dim = self.dim
        add_one = False
        if self.num_input_dims is not None and _tensor("Squeeze", input).dim() == self.num_input_dims + 1:
            if dim is not None:
                dim += 1
            elif input.size(0) == 1:
                add_one = True
        if dim is not None:
            dim = _neg_dim("Squeeze", dim, input.dim())
        out = input.squeeze() if dim is None else input.squeeze(dim)
        self.output = out.unsqueeze(0) if add_one else out
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output.contiguous().view(input.size())
        return self.grad_input

    def extra_repr(self) -> str:
        return "" if self.dim is None else f"dim {self.dim}"


class Unsqueeze(Module):
    """Inserts a size-1 dim at ``pos`` (0-based) of each sample.

    With ``num_input_dims`` (dims of one sample), leading extra dims are a batch and ``pos``
    counts after them.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Unsqueeze(1).forward(ft.zeros(2, 3)).size(), nn.Unsqueeze(0, 1).forward(ft.zeros(5, 3)).size()
    (Size([2, 1, 3]), Size([5, 1, 3]))
    """

    def __init__(self, pos: int, num_input_dims: int | None = None) -> None:
        super().__init__()
        if pos < 0:
            raise ArgumentError(f"Unsqueeze: the position must be >= 0, got {pos}")
        self.pos = pos
        self.num_input_dims = num_input_dims

    def set_num_input_dims(self, num_input_dims: int | None) -> Unsqueeze:
        """The number of dims of one sample; returns self."""
        self.num_input_dims = num_input_dims
        return self

    def _pos(self, input: Any) -> int:
        n = _tensor("Unsqueeze", input).dim()
        nid = self.num_input_dims if self.num_input_dims is not None else n
        offset = n - nid
        if offset < 0 or offset + self.pos > n:
            raise ShapeError(
                f"Unsqueeze: cannot insert a dim at {self.pos} (num_input_dims {nid}) into an input of size {_sz(input)}"
            )
        return offset + self.pos

    def update_output(self, input: Any) -> Any:
        self.output = input.unsqueeze(self._pos(input))
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output.squeeze(self._pos(input))
        return self.grad_input

    def extra_repr(self) -> str:
        return f"dim {self.pos}"


class Transpose(Module):
    """A series of transposes, each a pair of 0-based dims: ``Transpose((0, 3), (0, 2))``; the output is contiguous.

    With :meth:`set_num_input_dims`, leading extra dims are a batch and the pairs count after them.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Transpose((0, 1)).forward(ft.Tensor([[1.0, 2.0]])).tolist()
    [[1.0], [2.0]]
    >>> nn.Transpose((0, 2), (0, 1)).forward(ft.zeros(2, 3, 4)).size()
    Size([3, 4, 2])
    """

    def __init__(self, *permutations: tuple[int, int]) -> None:
        super().__init__()
        self.permutations = [(int(a), int(b)) for a, b in permutations]
        self.num_input_dims: int | None = None

    def set_num_input_dims(self, num_input_dims: int | None) -> Transpose:
        """The number of dims of one sample; returns self."""
        self.num_input_dims = num_input_dims
        return self

    def _offset(self, x: Tensor) -> int:
        nid = self.num_input_dims
        return x.dim() - nid if nid is not None and x.dim() > nid else 0

    def update_output(self, input: Any) -> Any:
        x = _tensor("Transpose", input)
        k = self._offset(x)
        for a, b in self.permutations:
            x = x.transpose(a + k, b + k)
        self.output = x.contiguous()
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        g = grad_output
        k = self._offset(input)
        for a, b in reversed(self.permutations):
            g = g.transpose(a + k, b + k)
        self.grad_input = g.contiguous()
        return self.grad_input

    def extra_repr(self) -> str:
        return ", ".join(f"{{{a}, {b}}}" for a, b in self.permutations)


class Padding(Module):
    """Pads ``|pad|`` entries of ``value`` along ``dim`` (0-based): before the data if ``pad < 0``, after if ``pad > 0``.

    ``index`` (0-based) moves the padding inside: it goes ``index`` entries from the start (pad < 0)
    or from the end (pad > 0). With ``n_input_dim`` (dims of one sample), a batch input shifts
    ``dim`` by one.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> x = ft.Tensor([1.0, 2.0, 3.0])
    >>> nn.Padding(0, 2).forward(x).tolist(), nn.Padding(0, -1, value=9).forward(x).tolist()
    ([1.0, 2.0, 3.0, 0.0, 0.0], [9.0, 1.0, 2.0, 3.0])
    >>> nn.Padding(0, -1, index=1).forward(x).tolist()
    [1.0, 0.0, 2.0, 3.0]
    """

    def __init__(self, dim: int, pad: int, n_input_dim: int | None = None, value: float = 0.0, index: int = 0):
        super().__init__()
        self.dim = dim
        self.pad = pad
        self.n_input_dim = n_input_dim
        self.value = value
        self.index = index

    def _where(self, input: Any) -> tuple[int, int]:
        """The dim and the position at which the padding goes."""
        n = _tensor("Padding", input).dim()
        d = self.dim + (1 if self.n_input_dim is not None and n != self.n_input_dim else 0)
        d = _neg_dim("Padding", d, n)
        size = input.size(d)
        pos = size - self.index if self.pad > 0 else self.index
        if not 0 <= pos <= size:
            raise IndexError(f"Padding: index {self.index} is out of range for dimension {d} of size {size}")
        return d, pos

    def update_output(self, input: Any) -> Any:
        d, pos = self._where(input)
        size = list(input.size())
        size[d] = abs(self.pad)
        fill = ft.full(*size, fill_value=self.value, dtype=input.dtype, device=input.device)
        n = input.size(d)
        self.output = ft.cat([input.narrow(d, 0, pos), fill, input.narrow(d, pos, n - pos)], d)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        d, pos = self._where(input)
        n = input.size(d)
        rest = grad_output.narrow(d, pos + abs(self.pad), n - pos)
        self.grad_input = ft.cat([grad_output.narrow(d, 0, pos), rest], d)
        return self.grad_input

    def extra_repr(self) -> str:
        return f"dim {self.dim}, pad {self.pad}"


__all__ = [
    "Identity",
    "Copy",
    "Narrow",
    "Replicate",
    "Reshape",
    "View",
    "Contiguous",
    "Select",
    "MaskedSelect",
    "Index",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Padding",
]
