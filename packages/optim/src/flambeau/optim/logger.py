"""Torch's ``optim.Logger``: a tab-separated log of named series, and a plot of them.

A log file (or stdout) gets a header row of series names, then one row per :meth:`Logger.add`;
every row is also kept in memory (``logger.symbols``) so :meth:`Logger.plot` can draw the series.
Plotting uses matplotlib (the ``plot`` extra: ``pip install flambeau-optim[plot]``), imported only
when a plot is drawn, always through the non-interactive Agg canvas.

The file format is Torch's, byte for byte: every field, the last one included, is followed by a
tab; numbers are written ``%11.4e``, strings as they are.
"""

from __future__ import annotations

import importlib
import math
import numbers
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError

__all__ = ["Logger"]

#: Torch's gnuplot style names, with what each draws here.
STYLES = {
    ".": "dots",
    "+": "points drawn as +",
    "-": "lines",
    "+-": "lines with + at each point",
    "~": "a smooth curve (natural cubic spline through the points)",
    "|": "impulses (a vertical bar from 0 to each point)",
}

_PLOT_EXTRA = "pip install flambeau-optim[plot]"


def _import_matplotlib() -> Any:
    """matplotlib's Figure and Agg canvas classes, or an ImportError saying how to install them."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"flambeau.optim plotting needs matplotlib, which is not installed; install it with `{_PLOT_EXTRA}`"
        ) from e
    return Figure, FigureCanvasAgg


def _number(value: Any) -> float | None:
    """``value`` as a float if it is a number (a Python or numpy number, or a one-element tensor)."""
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, Tensor) and value.nelement() == 1:
        return float(value.item())
    return None


def _spline(xs: Sequence[float], ys: Sequence[float], per_gap: int = 8) -> tuple[list[float], list[float]]:
    """A natural cubic spline through the points (gnuplot's ``smooth csplines``), sampled densely."""
    n = len(xs)
    if n < 3:
        return list(xs), list(ys)
    h = [xs[i + 1] - xs[i] for i in range(n - 1)]
    # Second derivatives m[0..n-1] with m[0] = m[n-1] = 0: a tridiagonal system (Thomas algorithm).
    a = [0.0] * n
    b = [1.0] * n
    c = [0.0] * n
    d = [0.0] * n
    for i in range(1, n - 1):
        a[i] = h[i - 1]
        b[i] = 2.0 * (h[i - 1] + h[i])
        c[i] = h[i]
        d[i] = 6.0 * ((ys[i + 1] - ys[i]) / h[i] - (ys[i] - ys[i - 1]) / h[i - 1])
    for i in range(1, n):
        w = a[i] / b[i - 1]
        b[i] -= w * c[i - 1]
        d[i] -= w * d[i - 1]
    m = [0.0] * n
    m[n - 1] = d[n - 1] / b[n - 1]
    for i in range(n - 2, -1, -1):
        m[i] = (d[i] - c[i] * m[i + 1]) / b[i]
    out_x: list[float] = []
    out_y: list[float] = []
    for i in range(n - 1):
        for k in range(per_gap):
            s = k / per_gap
            t = s * h[i]
            slope = (ys[i + 1] - ys[i]) / h[i] - h[i] * (2.0 * m[i] + m[i + 1]) / 6.0
            out_x.append(xs[i] + t)
            out_y.append(ys[i] + slope * t + m[i] / 2.0 * t * t + (m[i + 1] - m[i]) / (6.0 * h[i]) * t**3)
    out_x.append(xs[-1])
    out_y.append(ys[-1])
    return out_x, out_y


class Logger:
    """Torch's ``optim.Logger``: log named series to a file (or stdout) and plot them.

    Parameters
    ----------
    filename : str, optional
        The log file (its folder is created). Without one, rows go to stdout (and a warning to
        stderr, as Torch prints one).
    timestamp : bool
        Torch's option: append ``-YYYY_MM_DD_HH:MM:SS`` to the file name, for a unique file. The
        default plot image is still named after ``filename`` itself (Torch's ``.eps`` was too).

    Attributes
    ----------
    names : list of str
        The series, in column order.
    symbols : dict
        Every logged value, by series name, in row order (numbers as floats, strings as given).
    styles : dict
        The plot styles of each series (a list: a series may be drawn several ways).
    path : str or None
        The file the rows go to (``filename`` plus the timestamp); None for stdout.
    imagefile : str or None
        Where :meth:`plot` writes by default: ``filename + ".png"`` (Torch: ``.eps``).
    figure : matplotlib.figure.Figure or None
        The last figure :meth:`plot` drew.

    Notes
    -----
    Torch's quirks kept: a trailing tab after every field, header included; a series is plotted
    only once it has at least two points; without ``set_names`` the header is the first
    ``add``'s keys (a dict) or the column positions ``0, 1, ...`` (a list; 0-based here, where
    Torch writes ``1, 2, ...``). Differences: ``set_names`` must come before the first row (Torch
    would write a second header), and a row must give every series (Torch would misalign the
    columns).

    Examples
    --------
    >>> import os, tempfile
    >>> import flambeau.optim as optim
    >>> path = os.path.join(tempfile.mkdtemp(), "train.log")
    >>> logger = optim.Logger(path)
    >>> _ = logger.set_names(["epoch", "loss"])
    >>> logger.add([1, 0.5])
    >>> logger.add({"loss": 0.25, "epoch": 2})
    >>> logger.close()
    >>> print(open(path).read().replace("\\t", "|"))
    epoch|loss|
     1.0000e+00| 5.0000e-01|
     2.0000e+00| 2.5000e-01|
    <BLANKLINE>
    >>> logger.symbols["loss"]
    [0.5, 0.25]
    """

    def __init__(self, filename: str | os.PathLike[str] | None = None, timestamp: bool = False):
        self._file: IO[str] | None
        if filename is not None:
            filename = os.fspath(filename)
            self.name = filename
            folder = os.path.dirname(filename)
            if folder:
                os.makedirs(folder, exist_ok=True)
            path = filename + "-" + time.strftime("%Y_%m_%d_%H:%M:%S") if timestamp else filename
            self.path: str | None = path
            self._file = open(path, "w")
            self.imagefile: str | None = filename + ".png"
        else:
            self.name = "stdout"
            self.path = None
            self._file = None  # sys.stdout, looked up at each write
            self.imagefile = None
            print("<Logger> warning: no path provided, logging to std out", file=sys.stderr)
        self.empty = True
        self.names: list[str] = []
        self.symbols: dict[str, list[Any]] = {}
        self.styles: dict[str, list[str]] = {}
        self.hidden: set[str] = set()
        self.default_style = "+"
        self.show_plot = True
        self.logscale = False
        self.logscale_axes = "y"
        self.figure: Any = None

    # ----------------------------------------------------------------------------------------------
    # Writing.

    def _write(self, text: str) -> None:
        out = self._file if self._file is not None else sys.stdout
        out.write(text)
        out.flush()

    def _header(self, names: Iterable[Any]) -> None:
        self.names = [str(n) for n in names]
        if len(set(self.names)) != len(self.names):
            raise ArgumentError(f"Logger: series names must be distinct, got {self.names}")
        self.empty = False
        for n in self.names:
            self.symbols[n] = []
            self.styles[n] = [self.default_style]
        self._write("".join(n + "\t" for n in self.names) + "\n")

    def set_names(self, names: Sequence[str]) -> Logger:
        """Name the series and write the header row (Torch's ``setNames``); returns the logger.

        >>> import flambeau.optim as optim, io, contextlib
        >>> out, err = io.StringIO(), io.StringIO()
        >>> with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        ...     _ = optim.Logger().set_names(["train", "test"])
        >>> out.getvalue()
        'train\\ttest\\t\\n'
        """
        if not self.empty:
            raise ArgumentError("Logger.set_names: the header is already written; name the series before the first add")
        if isinstance(names, str):
            raise ArgumentError("Logger.set_names: give a list of names, not one string")
        self._header(names)
        return self

    def add(self, values: Sequence[Any] | Mapping[str, Any]) -> None:
        """Append one row: a value per series, as a list (column order) or a dict keyed by name.

        Numbers (Python, numpy, one-element tensors) are written ``%11.4e``, strings as they are,
        each followed by a tab. The first ``add`` without :meth:`set_names` writes the header.

        >>> import flambeau.optim as optim, io, contextlib
        >>> out, err = io.StringIO(), io.StringIO()
        >>> with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        ...     optim.Logger().add({"err": 0.125, "phase": "train"})
        >>> out.getvalue().splitlines()
        ['err\\tphase\\t', ' 1.2500e-01\\ttrain\\t']
        """
        if isinstance(values, Mapping):
            if self.empty:
                self._header(values.keys())
            keys = [str(k) for k in values]
            unknown = [k for k in keys if k not in self.symbols]
            missing = [n for n in self.names if n not in keys]
            if unknown or missing:
                raise ArgumentError(
                    f"Logger.add: the row must give each series once (series: {self.names};"
                    f" unknown: {unknown}, missing: {missing})"
                )
            by_name = {str(k): v for k, v in values.items()}
            row = [by_name[n] for n in self.names]
        else:
            if isinstance(values, str):
                raise ArgumentError("Logger.add: give a list or a dict of values, not one string")
            row = list(values)
            if self.empty:
                self._header(range(len(row)))
            if len(row) != len(self.names):
                raise ArgumentError(f"Logger.add: {len(row)} values for {len(self.names)} series {self.names}")
        fields = []
        kept: list[Any] = []
        for name, v in zip(self.names, row, strict=True):
            x = _number(v)
            if x is not None:
                fields.append(f"{x:11.4e}")
                kept.append(x)
            elif isinstance(v, str):
                fields.append(v)
                kept.append(v)
            else:
                raise ArgumentError(
                    f"Logger.add: can only log numbers and strings, got {type(v).__name__} for {name!r}"
                )
        self._write("".join(f + "\t" for f in fields) + "\n")
        for name, x in zip(self.names, kept, strict=True):
            self.symbols[name].append(x)

    def close(self) -> None:
        """Close the log file (nothing to do for stdout)."""
        if self._file is not None and not self._file.closed:
            self._file.close()

    def __enter__(self) -> Logger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------------------------
    # Plot settings.

    def _series(self, key: str | int, where: str) -> str:
        if isinstance(key, int) and not isinstance(key, bool) and str(key) not in self.symbols:
            if not -len(self.names) <= key < len(self.names):
                raise ArgumentError(f"Logger.{where}: no series at position {key} (series: {self.names})")
            return self.names[key]
        if str(key) not in self.symbols:
            raise ArgumentError(f"Logger.{where}: no series named {key!r} (series: {self.names})")
        return str(key)

    def style(self, styles: Mapping[Any, str | Sequence[str]] | Sequence[str | Sequence[str]]) -> Logger:
        """Set how series are drawn: a dict by name (or position), or a list in column order.

        A style is one of Torch's gnuplot names (``'.'`` dots, ``'+'`` points, ``'-'`` lines,
        ``'+-'`` lines and points, ``'~'`` a smooth curve, ``'|'`` impulses) or a raw matplotlib
        format string (``'r--'``); a list of styles draws the series once per style. The default
        is ``'+'``. Returns the logger.

        >>> import flambeau.optim as optim, io, contextlib
        >>> with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        ...     logger = optim.Logger().set_names(["a", "b"]).style({"a": "-", "b": ["+", "~"]})
        >>> logger.styles
        {'a': ['-'], 'b': ['+', '~']}
        """
        items = styles.items() if isinstance(styles, Mapping) else enumerate(styles)
        for key, st in items:
            name = self._series(key, "style")
            if isinstance(st, str):
                self.styles[name] = [st]
            elif isinstance(st, Sequence) and st and all(isinstance(s, str) for s in st):
                self.styles[name] = list(st)
            else:
                raise ArgumentError(f"Logger.style: a style is a string or a list of strings, got {st!r}")
        return self

    def display(self, flag: bool) -> None:
        """Whether :meth:`plot` also shows the figure (in an IPython/Jupyter session; Agg has no window)."""
        self.show_plot = bool(flag)

    def set_log_scale(self, flag: bool, axes: str = "y") -> None:
        """Logarithmic axes in :meth:`plot` (Torch's ``setlogscale``): the y axis, or ``axes="xy"``.

        Torch's gnuplot ``set logscale`` makes every axis logarithmic; ``axes="xy"`` does that.
        """
        if axes not in ("y", "x", "xy"):
            raise ArgumentError(f"Logger.set_log_scale: axes must be 'y', 'x' or 'xy', got {axes!r}")
        self.logscale = bool(flag)
        self.logscale_axes = axes

    setlogscale = set_log_scale

    def hide_series(self, *names: str | int) -> None:
        """Leave these series (names or 0-based positions) out of :meth:`plot`; none given: all."""
        self.hidden |= {self._series(n, "hide_series") for n in names} if names else set(self.names)

    def show_series(self, *names: str | int) -> None:
        """Draw these series again in :meth:`plot`; none given: all of them."""
        if names:
            self.hidden -= {self._series(n, "show_series") for n in names}
        else:
            self.hidden.clear()

    # ----------------------------------------------------------------------------------------------
    # Plotting.

    def plot(self, *names: str | int, path: str | os.PathLike[str] | None = None) -> str | None:
        """Draw the series and write the image; returns the path written (None when none was).

        ``names`` picks series (as Torch's ``plot(...)``); none given: every series not hidden
        with :meth:`hide_series`. A series is drawn once it has two numeric points (strings are
        gaps), against the row number ``1, 2, ...``. The image goes to ``path``, else to
        :attr:`imagefile` (``<filename>.png``; the extension picks the format). Logging to stdout
        and no ``path``: nothing is written, the figure is kept in :attr:`figure` (Torch showed it
        on screen only). Nothing to draw: nothing is written, as Torch.

        >>> import os, tempfile
        >>> import flambeau.optim as optim
        >>> logger = optim.Logger(os.path.join(tempfile.mkdtemp(), "run.log"))
        >>> for i in range(5):
        ...     logger.add({"loss": 1.0 / (i + 1)})
        >>> out = logger.plot()
        >>> out == logger.imagefile, open(out, "rb").read(4)
        (True, b'\\x89PNG')
        """
        figure_cls, canvas_cls = _import_matplotlib()
        from matplotlib import rcParams

        chosen = [self._series(n, "plot") for n in names] if names else [n for n in self.names if n not in self.hidden]
        colors = rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
        fig = figure_cls(figsize=(8, 5))
        canvas_cls(fig)
        ax = fig.add_subplot()
        drawn = 0
        for name in chosen:
            ys = [v if isinstance(v, float) else math.nan for v in self.symbols[name]]
            if sum(not math.isnan(y) for y in ys) < 2:
                continue
            xs = [float(i + 1) for i in range(len(ys))]
            color = colors[self.names.index(name) % len(colors)]
            for k, st in enumerate(self.styles[name]):
                self._draw(ax, xs, ys, st, color, name if k == 0 else None)
            drawn += 1
        if not drawn:
            return None
        if self.logscale:
            if "y" in self.logscale_axes:
                ax.set_yscale("log")
            if "x" in self.logscale_axes:
                ax.set_xscale("log")
        ax.grid(True)
        ax.set_title(f"<Logger::{self.name}>")
        ax.legend()
        self.figure = fig
        out = os.fspath(path) if path is not None else self.imagefile
        if out is not None:
            fig.savefig(out)
        if self.show_plot:
            self._show(fig)
        return out

    @staticmethod
    def _draw(ax: Any, xs: list[float], ys: list[float], style: str, color: str, label: str | None) -> None:
        if style == ".":
            ax.plot(xs, ys, linestyle="none", marker=".", markersize=3, color=color, label=label)
        elif style == "+":
            ax.plot(xs, ys, linestyle="none", marker="+", color=color, label=label)
        elif style == "-":
            ax.plot(xs, ys, linestyle="-", color=color, label=label)
        elif style == "+-":
            ax.plot(xs, ys, linestyle="-", marker="+", color=color, label=label)
        elif style == "~":
            pts = [(x, y) for x, y in zip(xs, ys, strict=True) if not math.isnan(y)]
            sx, sy = _spline([p[0] for p in pts], [p[1] for p in pts])
            ax.plot(sx, sy, linestyle="-", color=color, label=label)
        elif style == "|":
            ax.vlines(xs, 0.0, ys, color=color, label=label)
        else:
            ax.plot(xs, ys, style, label=label)  # a raw matplotlib format string

    @staticmethod
    def _show(fig: Any) -> None:
        """Show ``fig`` inline when running under IPython; elsewhere there is no screen to show it on."""
        ipython = sys.modules.get("IPython")
        if ipython is None or getattr(ipython, "get_ipython", lambda: None)() is None:
            return
        # Imported by name: IPython is not a dependency (and not installed where the types are checked).
        importlib.import_module("IPython.display").display(fig)
