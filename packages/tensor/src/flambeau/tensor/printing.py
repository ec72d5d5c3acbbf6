"""Torch7-style text for tensors and storages.

The layout follows Lua Torch7's ``Tensor.lua`` (``__tostring__``): one
number format is chosen for the whole tensor (integer, fixed point with an
optional common scale factor, or exponent notation), 1-D tensors print one
value per line, matrices print row by row wrapped into ``Columns a to b``
blocks, and higher-dimensional tensors print each trailing matrix under a
``(i,j,.,.) = `` header.  A footer such as ``[flambeau.DoubleTensor of size
4x5]`` ends the text.

Differences from Torch7:

* indices in headers are 0-based, like the rest of flambeau;
* the matrices of a tensor with more than three dimensions come in C order
  (last leading index fastest; Torch7 varies the first one fastest), and
  every ``Columns`` header of such a matrix is indented alike;
* large tensors are summarised (numpy/PyTorch style) as governed by
  :func:`set_printoptions`, which also sets the precision and line width;
* nan and inf print as ``nan``, ``inf`` and ``-inf`` and are ignored when
  the format is chosen;
* a storage's text has no leading blank line, and no text ends in a newline.

The functions work on plain numpy arrays so that they can be used by any
tensor or storage class.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy

__all__ = [
    "format_storage",
    "format_tensor",
    "get_printoptions",
    "printoptions",
    "set_printoptions",
]

_DEFAULTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80}
_MINIMUMS = {"precision": 0, "threshold": 0, "edgeitems": 1, "linewidth": 1}
_options = dict(_DEFAULTS)

_ELLIPSIS = "..."


# --------------------------------------------------------------------------
# print options


def set_printoptions(
    precision: int | None = None,
    threshold: int | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
) -> None:
    """Set the options used by :func:`format_tensor` and :func:`format_storage`.

    Options left as ``None`` keep their current value.

    Parameters
    ----------
    precision : int, optional
        Digits after the decimal point for non-integer values (default 4).
    threshold : int, optional
        Tensors with more elements than this are summarised (default 1000).
    edgeitems : int, optional
        Entries kept at the start and at the end of each summarised
        dimension (default 3).
    linewidth : int, optional
        Characters per line when the columns of a matrix are wrapped
        (default 80).

    Raises
    ------
    TypeError
        If a value is not an integer.
    ValueError
        If a value is too small (``edgeitems`` and ``linewidth`` must be at
        least 1, the others at least 0).

    Examples
    --------
    >>> set_printoptions(precision=2)
    >>> print(format_tensor(numpy.array([0.5, 1.25]), 'flambeau.DoubleTensor'))
     0.50
     1.25
    [flambeau.DoubleTensor of size 2]
    >>> set_printoptions(precision=4)
    """
    given = {
        "precision": precision,
        "threshold": threshold,
        "edgeitems": edgeitems,
        "linewidth": linewidth,
    }
    checked = {name: _check_option(name, value) for name, value in given.items() if value is not None}
    _options.update(checked)


def _check_option(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | numpy.integer):
        raise TypeError(f"print option {name} must be an integer, got {value!r}")
    if value < _MINIMUMS[name]:
        raise ValueError(f"print option {name} must be at least {_MINIMUMS[name]}, got {value}")
    return int(value)


def get_printoptions() -> dict[str, int]:
    """Return the current print options.

    Returns
    -------
    dict
        A copy of the options, with the keys ``precision``, ``threshold``,
        ``edgeitems`` and ``linewidth``.

    Examples
    --------
    >>> get_printoptions()
    {'precision': 4, 'threshold': 1000, 'edgeitems': 3, 'linewidth': 80}
    """
    return dict(_options)


@contextlib.contextmanager
def printoptions(**options: int | None) -> Iterator[dict[str, int]]:
    """Set print options inside a ``with`` block, then restore the old ones.

    Parameters
    ----------
    **options
        Keyword arguments accepted by :func:`set_printoptions`.

    Yields
    ------
    dict
        The options in effect inside the block.

    Examples
    --------
    >>> with printoptions(precision=1):
    ...     print(format_tensor(numpy.array([0.25]), 'flambeau.DoubleTensor'))
     0.2
    [flambeau.DoubleTensor of size 1]
    >>> get_printoptions()['precision']
    4
    """
    saved = get_printoptions()
    try:
        set_printoptions(**options)
        yield get_printoptions()
    finally:
        _options.clear()
        _options.update(saved)


# --------------------------------------------------------------------------
# number format (Torch's Storage__printformat)


@dataclass(frozen=True)
class _NumberFormat:
    kind: str  # 'd' (integer), 'f' (fixed point) or 'e' (exponent)
    width: int
    precision: int
    scale: float | None = None

    def __call__(self, value: float) -> str:
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)  # 'nan', 'inf' or '-inf'
        if self.kind == "d":
            return f"{int(value):{self.width}d}"
        if self.scale is not None:
            value = value / self.scale
        return f"{value:{self.width}.{self.precision}{self.kind}}"

    @property
    def scale_line(self) -> str | None:
        """The ``'0.001 *'`` line printed above scaled values, if any."""
        return None if self.scale is None else f"{self.scale:g} *"


def _exponent(magnitude: float) -> int:
    """Number of digits before the decimal point (Torch's floor(log10)+1)."""
    if magnitude == 0:
        return 1
    return math.floor(math.log10(magnitude)) + 1


def _choose_format(values: numpy.ndarray, precision: int) -> _NumberFormat:
    finite = values[numpy.isfinite(values)].astype(numpy.float64)
    magnitudes = numpy.abs(finite)
    exp_min = _exponent(float(magnitudes.min())) if finite.size else 1
    exp_max = _exponent(float(magnitudes.max())) if finite.size else 1
    exp_width = precision + 7  # sign, digit, point, 'e+XX'
    if abs(exp_min) > 99 or abs(exp_max) > 99:
        exp_width += 1

    if numpy.array_equal(finite, numpy.trunc(finite)):
        if exp_max > 9:
            return _NumberFormat("e", exp_width, precision)
        return _NumberFormat("d", exp_max + 1, precision)  # one more for a sign
    if exp_max - exp_min > 4:
        return _NumberFormat("e", exp_width, precision)
    if exp_max > 5 or exp_max < 0:
        # Values of magnitude >= 1e5 or < 0.1 are printed as a multiple of
        # a power of ten, so that the largest one has a single integer digit.
        return _NumberFormat("f", precision + 3, precision, 10.0 ** (exp_max - 1))
    integer_digits = max(exp_max, 1)
    return _NumberFormat("f", integer_digits + precision + 2, precision)


def _format_cells(values: numpy.ndarray, fmt: _NumberFormat) -> numpy.ndarray:
    """Format every value, right-aligned to one common width."""
    texts = [fmt(value) for value in values.ravel().tolist()]
    width = max([fmt.width, *map(len, texts)])
    cells = numpy.array([text.rjust(width) for text in texts], dtype=object)
    return cells.reshape(values.shape)


# --------------------------------------------------------------------------
# summarisation


# Which entries of one dimension are printed, in order: ``(shown, index)``
# pairs -- the position in the summarised array and in the original one --
# and ``None`` where the ``...`` standing for the skipped entries goes.
_Entry = tuple[int, int] | None
_Axis = tuple[_Entry, ...]


def _summarise(arr: numpy.ndarray, threshold: int, edge: int) -> tuple[numpy.ndarray, list[_Axis]]:
    """Keep only the entries that are printed, and describe each axis."""
    summarise = arr.size > threshold
    axes: list[_Axis] = []
    for axis, size in enumerate(arr.shape):
        if summarise and size > 2 * edge:
            kept = numpy.r_[0:edge, size - edge : size]
            arr = arr.take(kept, axis=axis)
            head = [(i, i) for i in range(edge)]
            tail = [(edge + i, size - edge + i) for i in range(edge)]
            axes.append((*head, None, *tail))
        else:
            axes.append(tuple((i, i) for i in range(size)))
    return arr, axes


# --------------------------------------------------------------------------
# layout


def _vector_lines(cells: numpy.ndarray, axis: _Axis, fmt: _NumberFormat) -> list[str]:
    lines = [] if fmt.scale_line is None else [fmt.scale_line]
    for entry in axis:
        lines.append(_ELLIPSIS if entry is None else cells[entry[0]])
    return lines


def _column_chunks(columns: _Axis, cell_width: int, room: int) -> list[list[_Entry]]:
    """Split the columns into groups that each fit in ``room`` characters."""
    chunks: list[list[_Entry]] = [[]]
    used = 0
    for column in columns:
        width = cell_width if column is not None else max(cell_width, len(_ELLIPSIS))
        if chunks[-1] and used + width + 1 > room:
            chunks.append([])
            used = 0
        chunks[-1].append(column)
        used += width + 1
    return chunks


def _columns_header(chunk: list[_Entry]) -> str:
    indices = [column[1] for column in chunk if column is not None]
    if not indices:
        return "Columns " + _ELLIPSIS
    return f"Columns {indices[0]} to {indices[-1]}"


def _matrix_lines(
    cells: numpy.ndarray,
    rows: _Axis,
    columns: _Axis,
    fmt: _NumberFormat,
    indent: str,
    linewidth: int,
) -> list[str]:
    cell_width = len(cells.flat[0])
    room = linewidth - len(indent)
    chunks = _column_chunks(columns, cell_width, room)
    ellipsis_cell = _ELLIPSIS.rjust(cell_width)
    # Torch shifts the rows one space right when a scale line is printed.
    row_indent = indent if fmt.scale_line is None else indent + " "
    lines: list[str] = []
    for number, chunk in enumerate(chunks):
        if len(chunks) > 1:
            if number:
                lines.append("")
            lines.append(indent + _columns_header(chunk))
        if fmt.scale_line is not None:
            lines.append(indent + fmt.scale_line)
        for row in rows:
            if row is None:
                lines.append(row_indent + _ELLIPSIS)
                continue
            texts = [ellipsis_cell if column is None else cells[row[0], column[0]] for column in chunk]
            lines.append(row_indent + " ".join(texts))
    return lines


def _slice_indices(
    axes: list[_Axis],
) -> Iterator[tuple[tuple[int, ...], tuple[int, ...]] | None]:
    """Shown and original index tuples of the leading dims, in C order.

    ``None`` stands for a run of skipped slices.
    """
    if not axes:
        yield (), ()
        return
    for entry in axes[0]:
        if entry is None:
            yield None
            continue
        for rest in _slice_indices(axes[1:]):
            if rest is None:
                yield None
            else:
                yield (entry[0], *rest[0]), (entry[1], *rest[1])


def _tensor_lines(cells: numpy.ndarray, axes: list[_Axis], fmt: _NumberFormat, linewidth: int) -> list[str]:
    blocks = []
    for index in _slice_indices(axes[:-2]):
        if index is None:
            blocks.append([_ELLIPSIS])
            continue
        shown, original = index
        header = "(" + "".join(f"{i}," for i in original) + ".,.) = "
        matrix = _matrix_lines(cells[shown], axes[-2], axes[-1], fmt, " ", linewidth)
        blocks.append([header, *matrix])
    lines = blocks[0]
    for block in blocks[1:]:
        lines += ["", *block]
    return lines


def _body_lines(arr: numpy.ndarray) -> list[str]:
    """Every line above the footer, for an array with at least one element."""
    shown, axes = _summarise(arr, _options["threshold"], _options["edgeitems"])
    fmt = _choose_format(shown, _options["precision"])
    cells = _format_cells(shown, fmt)
    linewidth = _options["linewidth"]
    if arr.ndim == 1:
        return _vector_lines(cells, axes[0], fmt)
    if arr.ndim == 2:
        return _matrix_lines(cells, axes[0], axes[1], fmt, "", linewidth)
    return _tensor_lines(cells, axes, fmt, linewidth)


def _as_numeric_array(arr: numpy.ndarray) -> numpy.ndarray:
    arr = numpy.asarray(arr)
    if arr.dtype == numpy.bool_:
        return arr.astype(numpy.uint8)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"cannot print an array of dtype {arr.dtype}")
    return arr


# --------------------------------------------------------------------------
# public entry points


def format_tensor(arr: numpy.ndarray, typename: str) -> str:
    """Return the text Torch7's ``print`` shows for a tensor.

    The values come first, in one format chosen from all the printed values,
    then a footer ``[typename of size AxB]``.  Matrices wider than the line
    width are split into blocks headed ``Columns a to b``, and tensors of more
    than two dimensions print each trailing matrix under ``(i,j,.,.) = ``;
    all such indices are 0-based and inclusive.  Tensors with more elements
    than the ``threshold`` print option are summarised with ``...``.

    Parameters
    ----------
    arr : numpy.ndarray
        The tensor's values: any shape and strides, integer or floating
        dtype.  An array without elements prints ``[typename with no
        dimension]``; a 0-d array prints its value and ``of size []``.
    typename : str
        The name in the footer, for example ``'flambeau.DoubleTensor'``.

    Returns
    -------
    str
        The text, without a trailing newline.

    Examples
    --------
    >>> print(format_tensor(numpy.eye(2) * 4 - 2, 'flambeau.DoubleTensor'))
     2 -2
    -2  2
    [flambeau.DoubleTensor of size 2x2]
    >>> print(format_tensor(numpy.array([0.001, 0.0025]), 'flambeau.DoubleTensor'))
    0.001 *
     1.0000
     2.5000
    [flambeau.DoubleTensor of size 2]
    """
    arr = _as_numeric_array(arr)
    if arr.size == 0:
        return f"[{typename} with no dimension]"
    if arr.ndim == 0:
        body = _body_lines(arr.reshape(1))
        size = "[]"
    else:
        body = _body_lines(arr)
        size = "x".join(str(n) for n in arr.shape)
    return "\n".join([*body, f"[{typename} of size {size}]"])


def format_storage(arr1d: numpy.ndarray, typename: str) -> str:
    """Return the text Torch7's ``print`` shows for a storage.

    Values are printed one per line, as for a 1-D tensor (summarised the
    same way when long), followed by ``[typename of size N]``.

    Parameters
    ----------
    arr1d : numpy.ndarray
        The storage's values, a 1-D array of integer or floating dtype.
    typename : str
        The name in the footer, for example ``'flambeau.DoubleStorage'``.

    Returns
    -------
    str
        The text, without a trailing newline.

    Raises
    ------
    ValueError
        If ``arr1d`` is not one-dimensional.

    Examples
    --------
    >>> print(format_storage(numpy.array([3, 10, 7]), 'flambeau.LongStorage'))
      3
     10
      7
    [flambeau.LongStorage of size 3]
    """
    arr1d = _as_numeric_array(arr1d)
    if arr1d.ndim != 1:
        raise ValueError(f"a storage is 1-D, got an array of shape {arr1d.shape}")
    body = _body_lines(arr1d) if arr1d.size else []
    return "\n".join([*body, f"[{typename} of size {arr1d.size}]"])
