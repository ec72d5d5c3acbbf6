"""Parameter trees: their leaves, their description, and the fused buffers they travel in.

A tree is a tensor, a number, or a dict, list or tuple of trees (nested to any depth). Its leaves
are visited in a fixed order (dict keys in insertion order), which every rank shares once their
descriptions agree. The tensor leaves of a tree travel in one flat buffer per dtype, on the host:
a step's gradients, however many leaves they have, make one all-reduce per dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flambeau.tensor import Tensor

Path = tuple[Any, ...]


def leaves(tree: Any, path: Path = ()) -> list[tuple[Path, Any]]:
    """``(path, leaf)`` pairs of a tree, depth first; a path is the keys and indices leading to the leaf.

    >>> import flambeau.tensor as ft
    >>> [p for p, _ in leaves({"w": ft.zeros(2), "layers": [1.5, (ft.ones(1), 2)]})]
    [('w',), ('layers', 0), ('layers', 1, 0), ('layers', 1, 1)]
    """
    if isinstance(tree, dict):
        return [pl for k, v in tree.items() for pl in leaves(v, (*path, k))]
    if isinstance(tree, list | tuple):
        return [pl for i, v in enumerate(tree) for pl in leaves(v, (*path, i))]
    return [(path, tree)]


def rebuild(tree: Any, values: list[Any]) -> Any:
    """The tree with its leaves replaced, in :func:`leaves`' order, by ``values``."""
    it = iter(values)

    def walk(t: Any) -> Any:
        if isinstance(t, dict):
            return type(t)((k, walk(v)) for k, v in t.items())
        if isinstance(t, tuple) and hasattr(t, "_fields"):  # a namedtuple
            return type(t)(*(walk(v) for v in t))
        if isinstance(t, list | tuple):
            return type(t)(walk(v) for v in t)
        return next(it)

    return walk(tree)


def describe(path: Path, leaf: Any) -> str:
    """One line naming a leaf's kind, shape and dtype (what must match on every rank), for errors too."""
    where = "".join(f"[{k!r}]" for k in path) or "the tree"
    if isinstance(leaf, Tensor):
        return f"{where}: tensor of size {tuple(leaf.shape)} and dtype {leaf.dtype}"
    if isinstance(leaf, bool | int | float | np.number):
        return f"{where}: {type(leaf).__name__} number"
    raise TypeError(
        f"distlearn: leaf {where} is a {type(leaf).__name__}; a parameter tree holds tensors and numbers"
        " in dicts, lists and tuples"
    )


def signature(tree: Any) -> list[str]:
    """The description of every leaf: equal on two ranks exactly when their trees fit each other."""
    return [describe(p, v) for p, v in leaves(tree)]


def first_difference(mine: list[str], theirs: list[str]) -> str:
    """What tells two signatures apart, in words."""
    for a, b in zip(mine, theirs, strict=False):
        if a != b:
            return f"{a!r} where rank 0 has {b!r}"
    if len(mine) != len(theirs):
        return f"{len(mine)} leaves where rank 0 has {len(theirs)}"
    return "nothing"  # pragma: no cover - only called on differing signatures


class Packed:
    """The numeric leaves of a tree gathered into one contiguous host buffer per dtype.

    ``buffers`` maps each dtype, in order of first appearance, to its buffer; ``unpack`` writes the
    buffers' (reduced) contents back: into the tensors in place, and as new numbers for the numbers.
    A tree that is one contiguous cpu tensor (a flat ``get_parameters()`` tensor) is not copied:
    its own memory is the buffer.
    """

    def __init__(self, tree: Any, numbers_as: np.dtype | None = None):
        self.tree = tree
        self.numbers_as = numbers_as
        self.items = leaves(tree)
        self.buffers: dict[np.dtype, np.ndarray] = {}
        self._spots: list[tuple[np.dtype, int, int]] = []
        sizes: dict[np.dtype, int] = {}
        for path, leaf in self.items:
            if isinstance(leaf, Tensor):
                dt, n = np.dtype(leaf.dtype), leaf.numel()
            else:
                describe(path, leaf)  # refuses what is neither
                dt, n = numbers_as or np.result_type(leaf), 1
            self._spots.append((dt, sizes.get(dt, 0), n))
            sizes[dt] = sizes.get(dt, 0) + n
        self._inplace = (
            len(self.items) == 1
            and isinstance(tree, Tensor)
            and tree.device.type == "cpu"
            and isinstance(tree._a, np.ndarray)
            and tree._a.flags.c_contiguous
            and tree._a.flags.writeable
        )
        if self._inplace:
            self.buffers[np.dtype(tree.dtype)] = tree._a.reshape(-1)
            return
        for dt, n in sizes.items():
            self.buffers[dt] = np.empty(n, dtype=dt)
        # Tensors of one device are gathered there first, so a device tensor crosses to the host once.
        by_device: dict[tuple[Any, np.dtype], list[int]] = {}
        for k, (_, leaf) in enumerate(self.items):
            dt, at, n = self._spots[k]
            if isinstance(leaf, Tensor):
                if leaf.device.type == "cpu":
                    self.buffers[dt][at : at + n] = np.asarray(leaf._a).reshape(-1)
                else:
                    by_device.setdefault((leaf.device, dt), []).append(k)
            else:
                self.buffers[dt][at] = leaf
        for (dev, dt), ks in by_device.items():
            xp = dev.xp
            flat = xp.concatenate([self.items[k][1]._a.reshape(-1) for k in ks])
            host = np.asarray(dev.backend.to_host(flat)).reshape(-1)
            o = 0
            for k in ks:
                _, at, n = self._spots[k]
                self.buffers[dt][at : at + n] = host[o : o + n]
                o += n

    def unpack(self, divide: int = 1) -> Any:
        """Write the buffers back into the tree, divided by ``divide`` first (the mean's division)."""
        if divide != 1:
            for b in self.buffers.values():
                np.true_divide(b, divide, out=b)
        bufs = self.buffers
        if self._inplace:  # the tensor's own memory holds the result already
            return self.tree
        values: list[Any] = []
        by_device: dict[tuple[Any, np.dtype], list[int]] = {}
        for k, (_, leaf) in enumerate(self.items):
            dt, at, n = self._spots[k]
            if isinstance(leaf, Tensor):
                if leaf.device.type == "cpu":
                    np.copyto(leaf._a, bufs[dt][at : at + n].reshape(leaf._a.shape), casting="no")
                else:
                    by_device.setdefault((leaf.device, dt), []).append(k)
                values.append(leaf)
            else:
                v = bufs[dt][at]
                if self.numbers_as is not None:  # a mean: numbers were reduced as floats
                    values.append(float(v))
                else:
                    values.append(type(leaf)(v.item()) if isinstance(leaf, bool | int | float) else v)
        for (dev, dt), ks in by_device.items():
            idx = np.concatenate([np.arange(self._spots[k][1], self._spots[k][1] + self._spots[k][2]) for k in ks])
            flat = dev.backend.from_host(np.ascontiguousarray(bufs[dt][idx]), dev.index)
            o = 0
            for k in ks:
                leaf = self.items[k][1]
                n = self._spots[k][2]
                dev.xp.copyto(leaf._a, flat[o : o + n].reshape(leaf._a.shape))
                o += n
        return rebuild(self.tree, values)
