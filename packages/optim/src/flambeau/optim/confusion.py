"""Torch's ``optim.ConfusionMatrix``: counts of (target, prediction) pairs and the rates read from them.

Class indices are **0-based** here (Torch's are 1-based), so Torch's rule "targets <= 0 are
missing and ignored" becomes "targets < 0 are ignored": label unlabelled samples ``-1``.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError

__all__ = ["ConfusionMatrix"]


def _lua_number(x: float) -> str:
    """``x`` as Lua's ``tostring`` writes a number (``%.14g``), which Torch's printout uses."""
    return f"{x:.14g}"


def _as_tensor(x: Any, what: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    try:
        return ft.tensor(x)
    except Exception as e:
        raise ArgumentError(
            f"ConfusionMatrix: {what} must be a tensor, a list or an index, got {type(x).__name__}"
        ) from e


def _index(x: Any, what: str) -> int:
    """A class index from an int (or integral float, or one-element tensor), or the argmax of a score vector."""
    if isinstance(x, Tensor):
        if x.dim() == 0:
            return _index(x.item(), what)
        return int(x.reshape(-1).argmax().item())
    if isinstance(x, numbers.Integral) and not isinstance(x, bool):
        return int(x)
    if isinstance(x, numbers.Real) and float(x).is_integer():
        return int(float(x))
    if isinstance(x, (list, tuple)):
        return _index(_as_tensor(x, what), what)
    raise ArgumentError(f"ConfusionMatrix: {what} must be a class index or a score vector, got {x!r}")


def _indices(x: Any, what: str) -> Tensor:
    """N class indices (a LongTensor) from N indices, an N x 1 matrix or an N x C matrix of scores (argmax)."""
    t = _as_tensor(x, what)
    if t.dim() == 2:
        t = t.select(1, 0) if t.size(1) == 1 else t.argmax(1)
    elif t.dim() != 1:
        raise ArgumentError(f"ConfusionMatrix.batch_add: {what} has invalid number of dimensions ({t.dim()}; 1 or 2)")
    if t.dtype.kind == "f":  # Half, Float or Double, on any device (the type name is device-specific)
        if not bool(t.eq(t.floor()).all().item()):
            raise ArgumentError(f"ConfusionMatrix.batch_add: {what} as a vector must hold whole class indices")
    return t.long()


class ConfusionMatrix:
    """Torch's ``optim.ConfusionMatrix``: ``mat[target, prediction]`` counts, with per-class rates.

    Parameters
    ----------
    nclasses_or_names : int or sequence of str
        The number of classes, or the class names (their number gives the classes).
    class_names : sequence of str, optional
        The names, when the first argument is a number.

    Attributes
    ----------
    mat : LongTensor
        ``nclasses x nclasses`` counts: **rows are targets, columns predictions**.
    valids : DoubleTensor
        After :meth:`update_valids`: per class, ``mat[c, c] / (row c's sum)`` (recall; NaN when no
        sample has target ``c``).
    unionvalids : DoubleTensor
        Per class, ``mat[c, c] / (row c + column c - mat[c, c])`` (intersection over union).
    total_valid : float
        The trace over the total (global accuracy).
    average_valid, average_union_valid : float
        The means of ``valids`` and of ``unionvalids`` over the classes whose ``valids`` is not NaN.

    Notes
    -----
    Class indices are 0-based, so a **negative target** means "missing" and the sample is
    ignored (Torch: target <= 0, with 1-based classes). Torch keeps ``valids`` in single
    precision, so the last digits it prints for the averages can differ from the double
    precision values here. :meth:`zero` also resets ``average_union_valid`` (Torch forgets it).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> cm = optim.ConfusionMatrix(["cat", "dog"])
    >>> cm.add(0, 0)
    >>> cm.add(ft.Tensor([0.2, 0.8]), 0)           # scores: the argmax, class 1, is the prediction
    >>> cm.batch_add(ft.LongTensor([1, 1, 0]), ft.LongTensor([1, -1, 1]))  # the -1 is ignored
    >>> cm.mat.tolist()
    [[1, 1], [1, 1]]
    >>> cm.update_valids()
    >>> cm.valids.tolist(), cm.total_valid
    ([0.5, 0.5], 0.5)
    """

    def __init__(self, nclasses_or_names: int | Sequence[str], class_names: Sequence[str] | None = None):
        if isinstance(nclasses_or_names, numbers.Integral) and not isinstance(nclasses_or_names, bool):
            n = int(nclasses_or_names)
            classes = [str(c) for c in class_names] if class_names is not None else []
        elif isinstance(nclasses_or_names, Sequence) and not isinstance(nclasses_or_names, str):
            classes = [str(c) for c in nclasses_or_names]
            n = len(classes)
        else:
            raise ArgumentError(
                f"ConfusionMatrix: give the number of classes or a list of class names, got {nclasses_or_names!r}"
            )
        if n < 1:
            raise ArgumentError(f"ConfusionMatrix: needs at least one class, got {n}")
        self.nclasses = n
        self.classes: list[str] = classes
        self.mat = ft.zeros((n, n), dtype=ft.LongTensor)
        self.valids = ft.zeros(n, dtype=ft.DoubleTensor)
        self.unionvalids = ft.zeros(n, dtype=ft.DoubleTensor)
        self.total_valid = 0.0
        self.average_valid = 0.0
        self.average_union_valid = 0.0

    # ----------------------------------------------------------------------------------------------
    # Counting.

    def _check(self, p: int, t: int) -> None:
        n = self.nclasses
        if not 0 <= p < n or not t < n:
            raise ArgumentError(
                f"ConfusionMatrix: class index out of range (prediction {p}, target {t}; classes 0..{n - 1},"
                " a negative target is ignored)"
            )

    def add(self, prediction: Any, target: Any) -> None:
        """Count one sample; a negative target is ignored.

        ``prediction`` is a class index or a score vector (its argmax is the class); ``target`` a
        class index or a one-hot (or score) vector.

        >>> import flambeau.tensor as ft, flambeau.optim as optim
        >>> cm = optim.ConfusionMatrix(3)
        >>> cm.add(ft.Tensor([0.1, 0.3, 0.6]), ft.Tensor([0, 1, 0]))
        >>> cm.add(1, -1)
        >>> cm.mat.tolist()
        [[0, 0, 0], [0, 0, 1], [0, 0, 0]]
        """
        p = _index(prediction, "prediction")
        t = _index(target, "target")
        self._check(p, t)
        if t >= 0:
            self.mat[t, p] += 1

    def batch_add(self, predictions: Any, targets: Any) -> None:
        """Count N samples at once: N-vectors of indices, or N x C matrices of scores / one-hot rows.

        An N x 1 matrix is read as N indices. Samples with a negative target are ignored. The
        inputs may be on any device (a GPU model's outputs, targets on the cpu): they are moved to
        the device of :attr:`mat`.

        >>> import flambeau.tensor as ft, flambeau.optim as optim
        >>> cm = optim.ConfusionMatrix(2)
        >>> cm.batch_add(ft.Tensor([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7]]), ft.LongTensor([0, 0, 1]))
        >>> cm.mat.tolist()
        [[1, 1], [0, 1]]
        """
        dev = self.mat.device
        preds = _indices(predictions, "predictions").to(dev)
        targs = _indices(targets, "targets").to(dev)
        if preds.size(0) != targs.size(0):
            raise ArgumentError(f"ConfusionMatrix.batch_add: {preds.size(0)} predictions for {targs.size(0)} targets")
        keep = targs.ge(0)
        preds = preds.masked_select(keep)
        targs = targs.masked_select(keep)
        if preds.nelement() == 0:
            return
        n = self.nclasses
        lo_p, hi_p = int(preds.min().item()), int(preds.max().item())
        hi_t = int(targs.max().item())
        if lo_p < 0 or hi_p >= n or hi_t >= n:
            self._check(lo_p if lo_p < 0 else hi_p, hi_t)
        flat = self.mat.view(-1)
        flat.index_add_(0, targs * n + preds, ft.ones(preds.nelement(), dtype=ft.LongTensor, device=dev))

    def zero(self) -> None:
        """Reset the counts and the rates."""
        self.mat.zero_()
        self.valids.zero_()
        self.unionvalids.zero_()
        self.total_valid = 0.0
        self.average_valid = 0.0
        self.average_union_valid = 0.0

    # ----------------------------------------------------------------------------------------------
    # Rates.

    @staticmethod
    def _ratio(num: Tensor, den: Tensor) -> Tensor:
        """``num / den`` element-wise, NaN where ``den`` is 0 (as Lua's 0/0), without numpy's warning."""
        zero = den.eq(0)
        safe = den.masked_fill(zero, 1)
        return (num / safe).masked_fill(zero, math.nan)

    def update_valids(self) -> None:
        """Compute ``valids``, ``unionvalids``, ``total_valid``, ``average_valid`` and ``average_union_valid``.

        >>> import flambeau.tensor as ft, flambeau.optim as optim
        >>> cm = optim.ConfusionMatrix(2)
        >>> cm.batch_add(ft.LongTensor([0, 0, 1, 1]), ft.LongTensor([0, 0, 0, 1]))
        >>> cm.update_valids()
        >>> [round(v, 4) for v in cm.valids.tolist()], [round(v, 4) for v in cm.unionvalids.tolist()]
        ([0.6667, 1.0], [0.6667, 0.5])
        >>> cm.total_valid, round(cm.average_valid, 4), round(cm.average_union_valid, 4)
        (0.75, 0.8333, 0.5833)
        """
        mat = self.mat.double()
        diag = mat.diag()
        rows = mat.sum(1)
        cols = mat.sum(0)
        self.valids = self._ratio(diag, rows)
        self.unionvalids = self._ratio(diag, rows + cols - diag)
        total = float(mat.sum().item())
        self.total_valid = float(diag.sum().item()) / total if total else math.nan
        ok = self.valids.eq(self.valids)  # not NaN
        ok_union = ok & self.unionvalids.eq(self.unionvalids)
        n_ok = int(ok.sum().item())
        n_union = int(ok_union.sum().item())
        self.average_valid = float(self.valids[ok].sum().item()) / n_ok if n_ok else math.nan
        self.average_union_valid = float(self.unionvalids[ok_union].sum().item()) / n_union if n_union else math.nan

    def far_frr(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """False acceptance and false rejection rates (Torch's ``farFrr``).

        For each class ``i`` with samples: FRR ``= 1 - mat[i, i] / row_i`` (the share of its samples
        predicted as another class) and FAR ``=`` the mean, over the other classes ``j`` with
        samples, of ``mat[j, i] / row_j`` (the share of class ``j`` predicted as ``i``).

        Returns
        -------
        class_frrs, class_fars : DoubleTensor
            One rate per class, ``-1`` for a class with no sample.
        frrs, fars : DoubleTensor
            The rates of the classes that have samples only, in class order.

        >>> import flambeau.tensor as ft, flambeau.optim as optim
        >>> cm = optim.ConfusionMatrix(3)
        >>> cm.batch_add(ft.LongTensor([0, 1, 1, 1]), ft.LongTensor([0, 0, 1, 1]))
        >>> [t.tolist() for t in cm.far_frr()]
        [[0.5, 0.0, -1.0], [0.0, 0.5, -1.0], [0.5, 0.0], [0.0, 0.5]]
        """
        mat = self.mat.double()
        count = mat.sum(1)
        has = count.gt(0)
        rates = mat / count.masked_fill(count.eq(0), 1).view(-1, 1)  # rows of empty classes stay 0
        diag = rates.diag()
        frr = 1.0 - diag
        others = float(has.sum().item()) - 1.0
        far_num = rates.sum(0) - diag
        far = far_num / others if others > 0 else far_num.masked_fill(has, math.nan)
        missing = has.eq(0)
        class_frrs = frr.masked_fill(missing, -1.0)
        class_fars = far.masked_fill(missing, -1.0)
        return class_frrs, class_fars, frr[has], far[has]

    # ----------------------------------------------------------------------------------------------
    # Printing and rendering.

    def __str__(self) -> str:
        """The matrix as Torch prints it, with each row's percentage correct and the three averages.

        >>> import flambeau.tensor as ft, flambeau.optim as optim
        >>> cm = optim.ConfusionMatrix(["a", "b"])
        >>> cm.batch_add(ft.LongTensor([0, 1, 1]), ft.LongTensor([0, 0, 1]))
        >>> for line in str(cm).split("\\n"):
        ...     print(repr(line))
        'ConfusionMatrix:'
        '[[       1       1]   50.000% \\t[class: a]'
        ' [       0       1]]  100.000% \\t[class: b]'
        ' + average row correct: 75% '
        ' + average rowUcol correct (VOC measure): 50% '
        ' + global correct: 66.666666666667%'
        """
        self.update_valids()
        n = self.nclasses
        mat = self.mat.tolist()
        valids = self.valids.tolist()
        named = bool(self.classes) and bool(self.classes[0])
        out = ["ConfusionMatrix:\n", "["]
        for t in range(n):
            pclass = f"{valids[t] * 100:2.3f}"
            out.append("[" if t == 0 else " [")
            out.extend(f"{v:8d}" for v in mat[t])
            close = "]]  " if t == n - 1 else "]   "
            if named:
                name = self.classes[t] if t < len(self.classes) else ""
                out.append(f"{close}{pclass}% \t[class: {name}]\n")
            else:
                out.append(f"{close}{pclass}% \n")
        out.append(f" + average row correct: {_lua_number(self.average_valid * 100)}% \n")
        out.append(f" + average rowUcol correct (VOC measure): {_lua_number(self.average_union_valid * 100)}% \n")
        out.append(f" + global correct: {_lua_number(self.total_valid * 100)}%")
        return "".join(out)

    def __repr__(self) -> str:
        return self.__str__()

    def render(
        self,
        path: str | os.PathLike[str] | None = None,
        sortmode: str = "score",
        display: bool = False,
        block: int = 25,
        legendwidth: int = 200,
    ) -> Tensor:
        """An image of the matrix, as Torch's ``render``: a 3 x H x W DoubleTensor in [0, 1].

        Rows (targets) and columns (predictions) are sorted by each class's score (its recall,
        ``sortmode="score"``) or by its share of the samples (``"occurrence"``), both descending.
        Each cell is ``block`` pixels, grey from black (0%) to white (100% of its row), with its
        percentage written in it; a legend ``legendwidth`` pixels wide on the right gives each
        class's share of the labels and its name. ``path``: also written there (PNG, or the
        format its extension names). ``display``: shown inline under IPython. Needs matplotlib
        (``pip install flambeau-optim[plot]``), imported here only.

        >>> import flambeau.tensor as ft, flambeau.optim as optim
        >>> cm = optim.ConfusionMatrix(["a", "b", "c"])
        >>> cm.batch_add(ft.LongTensor([0, 1, 2, 2]), ft.LongTensor([0, 1, 2, 1]))
        >>> cm.render().size()
        Size([3, 75, 275])
        """
        from .logger import Logger, _import_matplotlib

        if sortmode not in ("score", "occurrence"):
            raise ArgumentError(
                f"ConfusionMatrix.render: sort mode must be one of: score | occurrence, got {sortmode!r}"
            )
        figure_cls, canvas_cls = _import_matplotlib()
        import numpy as np

        n = self.nclasses
        names = [self.classes[i] if i < len(self.classes) else str(i) for i in range(n)]
        counts = np.asarray(self.mat.tolist(), dtype=np.float64).reshape(n, n)
        rows = counts.sum(1)
        conf = counts / np.maximum(rows, 1.0)[:, None]
        diag = np.diag(conf).copy()
        total = counts.sum()
        freqs = rows / total if total else np.zeros(n)
        key = diag if sortmode == "score" else freqs
        order = np.argsort(-key, kind="stable")

        size = n * block
        image = np.kron(conf[np.ix_(order, order)], np.ones((block, block)))
        image[block - 1 :: block, :] = 0.1  # the grid, as Torch draws it
        image[:, block - 1 :: block] = 0.1
        width, height = size + legendwidth, size
        dpi = 100
        fig = figure_cls(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="black")
        canvas = canvas_cls(fig)
        ax = fig.add_axes((0.0, 0.0, size / width, 1.0))
        ax.set_axis_off()
        ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest", aspect="auto")
        fontsize = max(block * 0.36 * 72 / dpi, 4.0)
        fmax = float(freqs.max()) if freqs.max() > 0 else 1.0

        def at(x: float, y: float) -> tuple[float, float]:  # pixels from the top left, as Torch's moveto
            return x / width, 1.0 - y / height

        for i in range(n):
            c = order[i]
            g = freqs[c] / fmax * 0.9 + 0.1
            fig.text(
                *at(size + 10, (i + 1) * block - block / 3),
                "[%2.2f%% labels]" % (math.floor(freqs[c] * 10000 + 0.5) / 100),
                color=(g * 0.5 + 0.2, g * 0.5 + 0.2, min(g * 0.8 + 0.2, 1.0)),
                fontsize=fontsize,
                va="baseline",
            )
            g = diag[c] * 0.8 + 0.2
            fig.text(
                *at(size + 130, (i + 1) * block - block / 3),
                names[c],
                color=(g, g, g),
                fontsize=fontsize,
                va="baseline",
            )
            for j in range(n):
                score = conf[order[j], c]
                g = (1 - score) * (score * 0.8 + 0.2)
                fig.text(
                    *at(i * block + block / 5, j * block + block * 2 / 3),
                    f"{math.floor(score * 100 + 0.5):02.0f}",
                    color=(g, g, g),
                    fontsize=fontsize,
                    va="baseline",
                )
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
        pixels = np.ascontiguousarray(rgba[..., :3].transpose(2, 0, 1), dtype=np.float64) / 255.0
        if path is not None:
            fig.savefig(os.fspath(path), dpi=dpi, facecolor="black")
        self.figure = fig
        if display:
            Logger._show(fig)
        return ft.tensor(pixels)
