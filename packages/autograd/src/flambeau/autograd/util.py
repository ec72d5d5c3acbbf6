"""Helpers for writing models as plain functions: torch-autograd's ``autograd.util``.

Every function that takes a float tensor is written with flambeau ops, so ``grad`` differentiates
through it (and through its gradient): ``log_softmax``, ``log_sum_exp``, ``softmax``, ``sigmoid``,
``dropout``, ``lookup`` and ``cat``. ``one_hot`` makes constant targets, ``cast`` converts a whole
parameter tree to another type or device, and ``flatten`` lists a tree's leaves in a fixed order.

Indices are 0-based (Torch7's were 1-based), and ``dim`` defaults to the last dim where Torch7's
whole-tensor helpers normalised over every element: ``log_softmax`` of a batch normalises each row.

>>> import flambeau.tensor as ft
>>> from flambeau.autograd import grad, util
>>> x = ft.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
>>> [round(v, 4) for v in util.softmax(x)[0].tolist()]
[0.09, 0.2447, 0.6652]
>>> dx, value = grad(lambda x: util.log_softmax(x)[:, 0].sum())(x)
>>> [round(v, 4) for v in dx[1].tolist()]
[0.6667, -0.3333, -0.3333]
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor, errors
from flambeau.tensor.dtypes import TensorType
from flambeau.tensor.errors import ArgumentError

from .tree import tree_map

__all__ = [
    "cast",
    "cat",
    "dropout",
    "flatten",
    "log_softmax",
    "log_sum_exp",
    "lookup",
    "one_hot",
    "sigmoid",
    "softmax",
]


# --------------------------------------------------------------------------------------------
# Normalisation and activations.


def log_sum_exp(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` without overflow, over every element or along ``dim``.

    Parameters
    ----------
    x : Tensor
        A float tensor.
    dim : int, optional
        The dim to reduce (negative counts from the end). Default: every element, giving a 0-d
        tensor.
    keepdim : bool, optional
        Keep the reduced dim with size 1 (default False).

    Returns
    -------
    Tensor
        ``max + log(sum(exp(x - max)))``, finite for large inputs.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import util
    >>> round(util.log_sum_exp(ft.tensor([1000.0, 1000.0])).item() - 1000, 6)
    0.693147
    >>> util.log_sum_exp(ft.zeros(2, 3), dim=1).size()
    Size([2])
    """
    return ft.logsumexp(x, dim, keepdim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """Log-probabilities ``x - log_sum_exp(x)`` along ``dim`` (numerically stable).

    Parameters
    ----------
    x : Tensor
        A float tensor of scores (logits).
    dim : int, optional
        The dim normalised over (default the last: each row of a batch). Torch7's
        ``util.logSoftMax`` normalised over every element, which is the same for a 1-D ``x``.

    Returns
    -------
    Tensor
        A tensor of ``x``'s size whose ``exp`` sums to 1 along ``dim``.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import util
    >>> [round(v, 4) for v in util.log_softmax(ft.tensor([0.0, 0.0, 1000.0])).tolist()]
    [-1000.0, -1000.0, 0.0]
    """
    return x - ft.logsumexp(x, dim, True)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """Probabilities ``exp(x) / sum(exp(x))`` along ``dim``, computed as ``exp(log_softmax(x))``.

    Parameters
    ----------
    x : Tensor
        A float tensor of scores (logits).
    dim : int, optional
        The dim normalised over (default the last).

    Returns
    -------
    Tensor
        Non-negative values of ``x``'s size summing to 1 along ``dim``.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import util
    >>> p = util.softmax(ft.tensor([[1.0, 1.0], [0.0, 1000.0]]))
    >>> [[round(v, 6) for v in row] for row in p.tolist()]
    [[0.5, 0.5], [0.0, 1.0]]
    """
    return ft.exp(log_softmax(x, dim))


def sigmoid(x: Tensor) -> Tensor:
    """The logistic function ``1 / (1 + exp(-x))``, element-wise and stable for large ``|x|``.

    Parameters
    ----------
    x : Tensor
        A float tensor.

    Returns
    -------
    Tensor
        Values in ``[0, 1]`` of ``x``'s size.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import grad, util
    >>> util.sigmoid(ft.tensor([0.0, -1000.0])).tolist()
    [0.5, 0.0]
    >>> grad(lambda x: util.sigmoid(x).sum())(ft.tensor([0.0]))[0].tolist()
    [0.25]
    """
    return ft.sigmoid(x)


# --------------------------------------------------------------------------------------------
# Targets, embeddings, dropout, concatenation.


def _long_indices(indices: Any, who: str, device: Any = None) -> Tensor:
    """``indices`` (a tensor or a sequence of ints) as an integer tensor; a sequence goes to ``device``."""
    if isinstance(indices, Tensor):
        if indices.dtype.kind not in "iu":
            raise ArgumentError(
                f"{who}: indices must be an integer tensor (a LongTensor of 0-based indices), got a {indices.type()}"
            )
        return indices
    if isinstance(indices, Sequence) and all(isinstance(i, numbers.Integral) for i in indices):
        return ft.tensor(list(indices), dtype=ft.int64, device=device)
    raise ArgumentError(f"{who}: indices must be a LongTensor or a list of ints, got {type(indices).__name__}")


def one_hot(labels: Any, n: int | None = None, *, dtype: Any = None, device: Any = None) -> Tensor:
    """One-hot rows for 0-based class labels: ``out[i, labels[i]] = 1``, every other entry 0.

    Parameters
    ----------
    labels : LongTensor or sequence of int
        Class indices in ``[0, n)`` (0-based; Torch7's ``util.oneHot`` took 1-based ones). A tensor
        of any size gives a result of size ``labels.size() + (n,)``.
    n : int, optional
        The number of classes (default ``max(labels) + 1``).
    dtype : dtype spec, optional
        The result's dtype (default the default float dtype).
    device : device spec, optional
        The result's device (default that of ``labels``, or the current device for a list).

    Returns
    -------
    Tensor
        A float tensor of zeros and ones, a constant for ``grad``.

    Raises
    ------
    IndexError
        If a label is negative or not below ``n``.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import util
    >>> util.one_hot([2, 0, 1]).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    >>> util.one_hot(ft.LongTensor([1]), 4).type()
    'flambeau.DoubleTensor'
    """
    labels = _long_indices(labels, "one_hot", device)
    count = labels.numel()
    lo = int(labels.min().item()) if count else 0
    hi = int(labels.max().item()) if count else -1
    if n is None:
        if not count:
            raise ArgumentError("one_hot: n (the number of classes) is needed when labels is empty")
        n = hi + 1
    if lo < 0 or hi >= n:
        bad = lo if lo < 0 else hi
        raise errors.IndexError(
            f"one_hot: label {bad} out of range for {n} classes (labels are 0-based, in [0, {n - 1}])"
        )
    dev = labels.device if device is None else device
    eye = ft.eye(n, dtype=dtype if dtype is not None else ft.default_dtype(), device=dev)
    rows = ft.index_select(eye, 0, labels.to(dev).reshape(-1))
    return rows.view(*labels.size(), n)


def lookup(table: Tensor, indices: Any) -> Tensor:
    """Embedding lookup: the rows of ``table`` at ``indices``, differentiable in ``table``.

    Parameters
    ----------
    table : Tensor
        The embedding weights, one row per entry (``num_entries x dim``, or any size whose dim 0
        is indexed).
    indices : LongTensor or sequence of int
        0-based row numbers, of any size.

    Returns
    -------
    Tensor
        Size ``indices.size() + table.size()[1:]``: ``out[i, j] = table[indices[i, j]]``. Its
        gradient adds into the rows it read (a row read twice gets both contributions).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import grad, util
    >>> W = ft.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    >>> util.lookup(W, ft.LongTensor([[2, 0], [2, 2]])).tolist()
    [[[4.0, 5.0], [0.0, 1.0]], [[4.0, 5.0], [4.0, 5.0]]]
    >>> grad(lambda W: util.lookup(W, [2, 0, 2]).sum())(W)[0].tolist()
    [[1.0, 1.0], [0.0, 0.0], [2.0, 2.0]]
    """
    idx = _long_indices(indices, "lookup", table.device)
    if idx.dim() == 1:
        return ft.index_select(table, 0, idx)
    rows = ft.index_select(table, 0, idx.reshape(-1))
    return rows.view(*idx.size(), *table.size()[1:])


def dropout(x: Tensor, p: float = 0.5, training: bool = True, *, generator: Any = None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the others by ``1/(1-p)``.

    The mask is drawn once per call (a constant for ``grad``), so the gradient with respect to
    ``x`` is the mask itself, ``0`` or ``1/(1-p)`` per element, and the expected value of the
    output is ``x``: nothing needs rescaling at evaluation time.

    Parameters
    ----------
    x : Tensor
        A float tensor.
    p : float, optional
        The probability of dropping an element, in ``[0, 1]`` (default 0.5). Torch7's
        ``util.dropout(state, p)`` took the same ``p``.
    training : bool, optional
        When False (evaluation), ``x`` is returned unchanged, as it is for ``p=0``.
    generator : Generator, optional
        Where the mask is drawn from (default the device's generator).

    Returns
    -------
    Tensor
        ``x * mask / (1 - p)`` with ``mask`` of 0/1 draws, each 1 with probability ``1 - p``
        (all zeros for ``p=1``).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import util
    >>> _ = ft.manual_seed(0)
    >>> y = util.dropout(ft.ones(1000), 0.25)
    >>> sorted(set(y.tolist())) == [0.0, 1 / 0.75]
    True
    >>> util.dropout(ft.ones(3), 0.25, training=False).tolist()
    [1.0, 1.0, 1.0]
    """
    if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ArgumentError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    if not isinstance(x, Tensor):
        raise ArgumentError(f"dropout: x must be a tensor, got {type(x).__name__}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    keep = 1.0 - float(p)
    probs = ft.full(*x.size(), fill_value=keep, dtype=x.dtype, device=x.device)
    mask = ft.bernoulli(probs, generator=generator) * (1.0 / keep)
    return x * mask


def _is_scalar(v: Any) -> bool:
    return isinstance(v, numbers.Number) or (isinstance(v, Tensor) and v.dim() == 0)


def cat(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """Concatenate tensors along ``dim``, where Python numbers and 0-d tensors count as 1-element tensors.

    Torch7's ``util.cat`` also took a table of numbers and returned a 1-D tensor; here numbers
    and 0-d tensors (traced ones included: ``util.cat([loss1, loss2])`` is differentiable) may be
    mixed with 1-D tensors.

    Parameters
    ----------
    tensors : sequence of Tensor, number or 0-d Tensor
        What to join. Numbers take the dtype and device of the first tensor among them, or the
        default dtype when there is none.
    dim : int, optional
        The dim to join along (default 0).

    Returns
    -------
    Tensor
        For scalars only, a 1-D tensor of them; otherwise ``ft.cat`` of the pieces.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import grad, util
    >>> util.cat([1, 2.5, ft.tensor(3.0)]).tolist()
    [1.0, 2.5, 3.0]
    >>> util.cat([ft.zeros(2), 7]).tolist()
    [0.0, 0.0, 7.0]
    >>> util.cat([ft.zeros(1, 2), ft.ones(1, 2)], 1).tolist()
    [[0.0, 0.0, 1.0, 1.0]]
    >>> grad(lambda a: (util.cat([a, a * 2, 1.0]) ** 2).sum())(3.0)[0]
    30.0
    """
    items = list(tensors)
    if not items:
        raise ArgumentError("cat: nothing to concatenate")
    ref = next((t for t in items if isinstance(t, Tensor)), None)
    if ref is None:
        if not all(isinstance(v, numbers.Number) for v in items):
            raise ArgumentError("cat: expected tensors or numbers")
        return ft.tensor([float(v) for v in items], dtype=ft.default_dtype())
    if ref.dtype.kind in "fc":
        dtype = ref.dtype
    else:
        dtype = ref.dtype if all(isinstance(v, (numbers.Integral, Tensor)) for v in items) else ft.default_dtype()
    if all(_is_scalar(v) for v in items):
        return ft.stack([v if isinstance(v, Tensor) else ft.tensor(v, dtype=dtype, device=ref.device) for v in items])
    pieces = []
    for v in items:
        if isinstance(v, numbers.Number):
            pieces.append(ft.full(1, fill_value=v, dtype=dtype, device=ref.device))
        elif isinstance(v, Tensor):
            pieces.append(v.reshape(1) if v.dim() == 0 else v)
        else:
            raise ArgumentError(f"cat: expected tensors or numbers, got {type(v).__name__}")
    return ft.cat(pieces, dim)


# --------------------------------------------------------------------------------------------
# Parameter trees.


_DTYPE_ALIASES = {"float": ft.float32, "double": ft.float64, "half": ft.float16}


def _device_kind(name: str) -> str:
    """The device kind a type name carries, as ``Tensor.type`` reads it."""
    parts = name.split(".")
    return parts[1] if len(parts) == 3 else "cuda" if parts[-1].startswith("Cuda") else "cpu"


def _is_dtype(spec: Any) -> bool:
    try:
        ft.dtypes.as_dtype(spec)
    except Exception:
        return False
    return True


def _converters(spec: Any) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """``(for float tensors, for other tensors when floating_only)`` for one cast target."""
    if isinstance(spec, TensorType):
        spec = spec.name
    if isinstance(spec, str) and spec in _DTYPE_ALIASES:
        dt = _DTYPE_ALIASES[spec]
        return (lambda t: t.type(dt)), (lambda t: t)
    if isinstance(spec, str) and "Tensor" in spec:
        name = "flambeau." + spec[len("torch.") :] if spec.startswith("torch.") else spec
        if not name.startswith("flambeau."):
            raise ArgumentError(f"cast: unknown tensor type name {spec!r} (expected e.g. 'flambeau.FloatTensor')")
        kind = _device_kind(name)
        return (lambda t: t.type(name)), (lambda t: t if t.device.type == kind else t.to(kind))
    if isinstance(spec, ft.Device) or (isinstance(spec, str) and not _is_dtype(spec)):
        dev = ft.device(spec)  # an unknown or unavailable device raises DeviceError, naming the devices there are
        move = lambda t: t.to(dev)
        return move, move
    if _is_dtype(spec):
        dt = ft.dtypes.as_dtype(spec)
        return (lambda t: t.type(dt)), (lambda t: t)
    raise ArgumentError(f"cast: cannot convert to {spec!r}")


def cast(tree: Any, type: Any, *, floating_only: bool = True) -> Any:  # noqa: A002
    """A nested parameter tree with every tensor converted to another type or device.

    Parameters
    ----------
    tree : Tensor or nested dict / list / tuple
        The parameters: any nesting of dicts, lists, tuples and namedtuples. The structure (and
        the dict and sequence types) is kept; leaves that are not tensors (numbers, strings,
        None) are returned unchanged.
    type : str, TensorType, dtype or Device
        ``'float'``, ``'double'`` or ``'half'`` (float32, float64, float16 on the same device);
        ``'cuda'``, ``'cpu'``, ``'cuda:1'`` or a ``Device`` (move, keeping the dtype); a type
        name such as ``'flambeau.FloatTensor'`` or ``'flambeau.cuda.DoubleTensor'`` (or its
        Torch7 spelling ``'torch.CudaTensor'``), or ``ft.FloatTensor`` (dtype and device, as
        ``Tensor.type`` converts); a dtype such as ``ft.float32`` or ``'float64'``.
    floating_only : bool, optional
        True (default): dtype conversions apply only to floating-point tensors, so integer and
        byte tensors in the tree (indices, masks) keep their dtype, though they do follow a
        device move. False converts every tensor, as Torch7's ``util.cast`` did.

    Returns
    -------
    Any
        A new tree of the same structure (tensors already of the target type are shared, not
        copied); a bare tensor gives a bare tensor.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import util
    >>> params = {"W": ft.zeros(2, 2), "layers": [ft.ones(2), 0.5], "idx": ft.LongTensor([1])}
    >>> p32 = util.cast(params, "float")
    >>> p32["W"].type(), p32["layers"][0].type(), p32["layers"][1], p32["idx"].type()
    ('flambeau.FloatTensor', 'flambeau.FloatTensor', 0.5, 'flambeau.LongTensor')
    >>> util.cast(p32, ft.float64)["W"].type()
    'flambeau.DoubleTensor'
    """
    floating, other = _converters(type)

    def convert(v: Any) -> Any:
        if not isinstance(v, Tensor):
            return v
        return floating(v) if (v.dtype.kind in "fc" or not floating_only) else other(v)

    return tree_map(convert, tree)


def _sorted_keys(d: dict[Any, Any]) -> list[Any]:
    try:
        return sorted(d)
    except TypeError:  # keys of mixed types: order by their text, as torch-autograd's sortedFlatten did
        return sorted(d, key=str)


def _flatten_into(tree: Any, leaves: list[Any]) -> Callable[[Callable[[], Any]], Any]:
    """Append ``tree``'s leaves to ``leaves``; return a builder that refills the structure from a supplier."""
    if isinstance(tree, dict):
        keys = _sorted_keys(tree)
        builders = {k: _flatten_into(tree[k], leaves) for k in keys}
        cls, order = type(tree), list(tree)

        def build_dict(take: Callable[[], Any]) -> Any:
            values = {k: builders[k](take) for k in keys}  # filled in sorted order
            return cls((k, values[k]) for k in order)  # rebuilt in the original order

        return build_dict
    if isinstance(tree, (list, tuple)):
        parts = [_flatten_into(v, leaves) for v in tree]
        seq_cls: Any = type(tree)
        named = isinstance(tree, tuple) and hasattr(tree, "_fields")

        def build_seq(take: Callable[[], Any]) -> Any:
            items = [b(take) for b in parts]
            return seq_cls(*items) if named else seq_cls(items)

        return build_seq
    leaves.append(tree)
    return lambda take: take()


def flatten(tree: Any) -> tuple[list[Any], Callable[[Sequence[Any]], Any]]:
    """The leaves of a nested parameter tree in a fixed order, and the inverse function.

    Parameters
    ----------
    tree : Any
        Any nesting of dicts, lists, tuples and namedtuples; everything else (tensors, numbers,
        None) is a leaf.

    Returns
    -------
    leaves : list
        The leaves depth first, dict entries in sorted-key order (by their text when the keys
        cannot be compared), as torch-autograd's ``sortedFlatten``: a tree and its gradient
        (``grad`` returns the same structure) flatten to matching lists.
    unflatten : callable
        ``unflatten(new_leaves)`` builds a tree of the same structure (dicts keep their original
        key order) from a sequence of as many leaves.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import util
    >>> leaves, unflatten = util.flatten({"b": [1, 2], "a": 3, "c": (4,)})
    >>> leaves
    [3, 1, 2, 4]
    >>> unflatten([30, 10, 20, 40])
    {'b': [10, 20], 'a': 30, 'c': (40,)}
    """
    leaves: list[Any] = []
    build = _flatten_into(tree, leaves)
    count = len(leaves)

    def unflatten(new_leaves: Sequence[Any]) -> Any:
        values = list(new_leaves)
        if len(values) != count:
            raise ArgumentError(f"unflatten: expected {count} leaves, got {len(values)}")
        it = iter(values)
        return build(lambda: next(it))

    return leaves, unflatten
