"""The :class:`Plot` class: iTorch's ``Plot`` (Plot.lua, a Bokeh.js 0.7 front end) drawn with matplotlib.

Every glyph method appends a :class:`Glyph` record to ``Plot.glyphs`` (the "figure objects": kind,
data columns, colour, legend label, extra columns) and returns the plot, so calls chain. Rendering
happens only in :meth:`Plot.figure`, :meth:`Plot.to_png`, :meth:`Plot.to_svg`, :meth:`Plot.to_html`,
:meth:`Plot.save` and :meth:`Plot.draw`; matplotlib (the Agg canvas, never pyplot) is imported there,
so ``import flambeau.plot`` does not import it.
"""

from __future__ import annotations

import builtins
import html
import importlib
import io
import json
import logging
import math
import numbers
import os
import re
import sys
import tempfile
import uuid
import webbrowser
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import flambeau.tensor as ft

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PALETTE", "Glyph", "Plot"]

_log = logging.getLogger("flambeau.plot")

#: gscatter's palette of 10 colours (Bokeh's Category10, the same as matplotlib's tab10).
PALETTE: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

_DEFAULT_COLOR = "red"
_DEFAULT_LEGEND = "unnamed"
_MARKER_AREA = 50.0  # Bokeh's size 10 (screen px) as a matplotlib marker area in points^2
_HOVER_URL = "#flambeau-hover-{}-{}"
_HOVER_RE = re.compile(r'<a xlink:href="#flambeau-hover-(\d+)-(\d+)"[^>]*>')
_FIELD_RE = re.compile(r"@\{([^}]*)\}|@(\w+)|\$(index|x|y)\b")
_NO_OPEN_ENV = "FLAMBEAU_PLOT_NO_OPEN"

ColorArg = str | Sequence[str] | None
Opener = Callable[[str], Any]


@dataclass
class Glyph:
    """One glyph record of a :class:`Plot` (one Bokeh GlyphRenderer of iTorch).

    ``kind`` is ``'circle'``, ``'triangle'``, ``'line'``, ``'segment'``, ``'quad'`` or ``'text'``;
    ``data`` holds the float columns (``x``, ``y`` or ``x0``, ``y0``, ``x1``, ``y1``); ``color`` is one
    colour or one per element; ``extra`` holds the caller's extra columns (hover fields);
    ``options`` holds kind-specific settings (text strings, angle, font size, ...).

    >>> from flambeau.plot import Plot
    >>> Plot().circle([1, 2], [3, 4], 'blue', 'pts').glyphs[0]
    Glyph(kind='circle', data={'x': [1.0, 2.0], 'y': [3.0, 4.0]}, color='blue', legend='pts', extra={}, options={})
    """

    kind: str
    data: dict[str, list[float]]
    color: str | list[str]
    legend: str
    extra: dict[str, list[Any]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0

    def colors(self) -> list[str]:
        """The colour of each element.

        >>> from flambeau.plot import Plot
        >>> Plot().circle([1, 2], [3, 4]).glyphs[0].colors()
        ['red', 'red']
        """
        if isinstance(self.color, str):
            return [self.color] * len(self)
        return list(self.color)

    def fields(self, i: int) -> dict[str, Any]:
        """The hover fields of element ``i``: data columns (quads also as left/right/bottom/top), extras, text.

        >>> from flambeau.plot import Plot
        >>> Plot().quad([0], [0], [1], [5]).glyphs[0].fields(0)['top']
        5.0
        """
        out: dict[str, Any] = {k: v[i] for k, v in self.data.items()}
        if self.kind == "quad":
            out.update(left=out["x0"], right=out["x1"], bottom=out["y0"], top=out["y1"])
        if "text" in self.options:
            out["text"] = self.options["text"][i]
        out.update({k: v[i] for k, v in self.extra.items()})
        out["color"] = self.colors()[i]
        return out

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready data (non-finite floats become ``None``).

        >>> from flambeau.plot import Plot
        >>> Plot().line([1], [float('nan')]).glyphs[0].to_json()['data']
        {'x': [1.0], 'y': [None]}
        """
        return _jsonable(
            {
                "kind": self.kind,
                "data": self.data,
                "color": self.color,
                "legend": self.legend,
                "extra": self.extra,
                "options": self.options,
            }
        )


def _jsonable(v: Any) -> Any:
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, (str, bool, int)):
        return v
    return str(v)


def _values(v: Any, name: str) -> list[Any]:
    """A 1-D tensor, sequence or single value as a Python list (tensors through ``tolist``)."""
    if isinstance(v, (str, bytes)):
        raise TypeError(f"{name} must be a 1-D tensor, a list or a number, not a string")
    if isinstance(v, numbers.Number):
        return [v]
    if hasattr(v, "tolist"):
        vals = v.tolist()
        if not isinstance(vals, list):
            return [vals]
    elif isinstance(v, Iterable):
        vals = list(v)
    else:
        raise TypeError(f"{name} must be a 1-D tensor, a list or a number, not {type(v).__name__}")
    for e in vals:
        if isinstance(e, (list, tuple)):
            raise ValueError(f"{name} must be 1-D")
    return vals


def _floats(v: Any, name: str) -> list[float]:
    """Torch's tensorValidate: a 1-D tensor, a list or a number, converted to float (double)."""
    try:
        return [float(e) for e in _values(v, name)]
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name}: {exc}") from None


def _same_length(**cols: list[Any]) -> int:
    names = list(cols)
    n = len(cols[names[0]])
    for k in names[1:]:
        if len(cols[k]) != n:
            raise ValueError(f"{names[0]} and {k} should have the same number of elements ({n} != {len(cols[k])})")
    return n


def _color(color: ColorArg, n: int) -> str | list[str]:
    """One colour (name or #RRGGBB) or one per element; ``None`` gives Torch's default ``'red'``."""
    from matplotlib.colors import is_color_like

    if color is None:
        return _DEFAULT_COLOR
    if isinstance(color, str):
        if not is_color_like(color):
            raise ValueError(f"unknown colour {color!r}: use a name or '#RRGGBB'")
        return color
    colors = list(color)
    if len(colors) != n:
        raise ValueError(f"give one colour or one per element: {len(colors)} colours for {n} elements")
    for c in colors:
        if not isinstance(c, str) or not is_color_like(c):
            raise ValueError(f"unknown colour {c!r}: use a name or '#RRGGBB'")
    return colors


def _extra(extra_data: Mapping[str, Any] | None, n: int) -> dict[str, list[Any]]:
    if extra_data is None:
        return {}
    out: dict[str, list[Any]] = {}
    for k, col in extra_data.items():
        vals = _values(col, f"extra_data[{k!r}]") if not isinstance(col, str) else [col] * n
        if len(vals) != n:
            raise ValueError(f"extra_data[{k!r}] has {len(vals)} values for {n} elements")
        out[str(k)] = vals
    return out


def _linspace(a: float, b: float, n: int) -> list[float]:
    if n == 1:
        return [a]
    step = (b - a) / (n - 1)
    return [a + i * step for i in range(n - 1)] + [b]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _label(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _in_notebook() -> bool:
    """True under an IPython kernel (Jupyter), which can show HTML inline; IPython is never imported here."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = getattr(ipython, "get_ipython", lambda: None)()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _can_open() -> bool:
    """Whether :meth:`Plot.draw` may open a browser: not with FLAMBEAU_PLOT_NO_OPEN set, nor on a Unix without a display."""
    if os.environ.get(_NO_OPEN_ENV, "").strip().lower() not in ("", "0", "false", "no"):
        return False
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Plot:
    """iTorch's ``Plot``: add glyphs, labels and tools with chainable calls, then draw, save or export.

    ``width`` and ``height`` are the figure size in pixels (at 100 dpi). ``opener`` is what
    :meth:`draw` calls with a ``file://`` URL outside a notebook (default :func:`webbrowser.open`).

    >>> from flambeau.plot import Plot
    >>> p = Plot().line([1, 2, 3], [1, 4, 9], 'blue', 'squares').title('Squares').legend(True)
    >>> [(g.kind, g.legend) for g in p.glyphs]
    [('line', 'squares')]
    """

    def __init__(self, *, width: int = 640, height: int = 480, opener: Opener | None = None) -> None:
        self.glyphs: list[Glyph] = []
        self.width = width
        self.height = height
        self.opener: Opener = opener if opener is not None else webbrowser.open
        self.html_path: Path | None = None
        self._title: str | None = None
        self._xaxis: str | None = None
        self._yaxis: str | None = None
        self._legend = False
        self._hover: list[tuple[str, str]] = []
        self._window_id: str | None = None
        self._files: dict[str, Path] = {}
        self._displayed: set[str] = set()

    def __repr__(self) -> str:
        return f"Plot(glyphs={len(self.glyphs)}, title={self._title!r})"

    # ----------------------------------------------------------------------------------- glyphs
    def _add(self, glyph: Glyph) -> Plot:
        self.glyphs.append(glyph)
        return self

    def _simple(
        self, kind: str, x: Any, y: Any, color: ColorArg, legend: str | None, extra_data: Mapping[str, Any] | None
    ) -> Plot:
        xs, ys = _floats(x, "x"), _floats(y, "y")
        n = _same_length(x=xs, y=ys)
        return self._add(
            Glyph(kind, {"x": xs, "y": ys}, _color(color, n), legend or _DEFAULT_LEGEND, _extra(extra_data, n))
        )

    def circle(
        self,
        x: Any,
        y: Any,
        color: ColorArg = None,
        legend: str | None = None,
        extra_data: Mapping[str, Any] | None = None,
    ) -> Plot:
        """Scatter plot with circle markers (there is no ``scatter`` method, as in iTorch).

        ``x`` and ``y``: 1-D tensors, lists or numbers of equal length. ``color``: a name or
        ``'#RRGGBB'``, one or one per point (default ``'red'``). ``legend``: the label (default
        ``'unnamed'``). ``extra_data``: columns (name to one value per point) for :meth:`hover_tool`.

        >>> import flambeau.tensor as ft
        >>> from flambeau.plot import Plot
        >>> p = Plot().circle(ft.tensor([1.0, 2.0]), [3, 4], ['red', '#00ff00'], extra_data={'name': ['a', 'b']})
        >>> g = p.glyphs[0]; (g.kind, g.data, g.color, g.legend, g.extra)
        ('circle', {'x': [1.0, 2.0], 'y': [3.0, 4.0]}, ['red', '#00ff00'], 'unnamed', {'name': ['a', 'b']})
        """
        return self._simple("circle", x, y, color, legend, extra_data)

    def triangle(
        self,
        x: Any,
        y: Any,
        color: ColorArg = None,
        legend: str | None = None,
        extra_data: Mapping[str, Any] | None = None,
    ) -> Plot:
        """Scatter plot with triangle markers; arguments as in :meth:`circle`.

        >>> from flambeau.plot import Plot
        >>> Plot().triangle([1, 2], [3, 4], 'green').glyphs[0].kind
        'triangle'
        """
        return self._simple("triangle", x, y, color, legend, extra_data)

    def line(
        self,
        x: Any,
        y: Any,
        color: ColorArg = None,
        legend: str | None = None,
        extra_data: Mapping[str, Any] | None = None,
    ) -> Plot:
        """Polyline through the points; arguments as in :meth:`circle` (per-point colours colour each piece by its start).

        >>> from flambeau.plot import Plot
        >>> Plot().line([0, 1, 2], [0, 1, 0], 'black', 'tent').glyphs[0].data
        {'x': [0.0, 1.0, 2.0], 'y': [0.0, 1.0, 0.0]}
        """
        return self._simple("line", x, y, color, legend, extra_data)

    def gscatter(self, x: Any, y: Any, labels: Any = None, legend: bool = True) -> Plot:
        """Grouped scatter: one circle series per distinct label, coloured from :data:`PALETTE` (10 colours, cycled).

        Classes are sorted (numbers numerically, otherwise by text); the legend entry of each is
        ``'Class <label>'`` (integral float labels print as integers). ``legend=True`` (default)
        also turns the legend on. Without ``labels`` it is a single :meth:`circle` series in the
        palette's first colour.

        >>> from flambeau.plot import Plot
        >>> p = Plot().gscatter([1, 2, 3, 4], [1, 2, 3, 4], [2, 1, 2, 1])
        >>> [(g.legend, g.color, g.data['x']) for g in p.glyphs]
        [('Class 1', '#1f77b4', [2.0, 4.0]), ('Class 2', '#ff7f0e', [1.0, 3.0])]
        """
        if labels is None:
            return self.circle(x, y, PALETTE[0])
        xs, ys = _floats(x, "x"), _floats(y, "y")
        labs = _values(labels, "labels")
        _same_length(x=xs, y=ys, labels=labs)
        classes = list(dict.fromkeys(labs))
        try:
            classes.sort()
        except TypeError:
            classes.sort(key=str)
        for k, c in enumerate(classes):
            idx = [i for i, lab in enumerate(labs) if lab == c]
            self._add(
                Glyph(
                    "circle",
                    {"x": [xs[i] for i in idx], "y": [ys[i] for i in idx]},
                    PALETTE[k % len(PALETTE)],
                    f"Class {_label(c)}",
                    {"label": [labs[i] for i in idx]},
                )
            )
        if legend:
            self._legend = True
        return self

    def _four(self, kind: str, x0: Any, y0: Any, x1: Any, y1: Any, color: ColorArg, legend: str | None) -> Glyph:
        cols = {"x0": _floats(x0, "x0"), "y0": _floats(y0, "y0"), "x1": _floats(x1, "x1"), "y1": _floats(y1, "y1")}
        n = _same_length(**cols)
        return Glyph(kind, cols, _color(color, n), legend or _DEFAULT_LEGEND)

    def segment(self, x0: Any, y0: Any, x1: Any, y1: Any, color: ColorArg = None, legend: str | None = None) -> Plot:
        """Line segments from ``(x0, y0)`` to ``(x1, y1)`` (width 2).

        >>> from flambeau.plot import Plot
        >>> Plot().segment([0, 1], [0, 0], [0, 1], [1, 2], 'blue').glyphs[0].data['y1']
        [1.0, 2.0]
        """
        return self._add(self._four("segment", x0, y0, x1, y1, color, legend))

    def quad(self, x0: Any, y0: Any, x1: Any, y1: Any, color: ColorArg = None, legend: str | None = None) -> Plot:
        """Axis-aligned rectangles with corners ``(x0, y0)`` and ``(x1, y1)`` (Bokeh's left, bottom, right, top).

        >>> from flambeau.plot import Plot
        >>> Plot().quad([0, 1], [0, 0], [1, 2], [3, 5]).glyphs[0].fields(1)
        {'x0': 1.0, 'y0': 0.0, 'x1': 2.0, 'y1': 5.0, 'left': 1.0, 'right': 2.0, 'bottom': 0.0, 'top': 5.0, 'color': 'red'}
        """
        return self._add(self._four("quad", x0, y0, x1, y1, color, legend))

    def quiver(self, u: Any, v: Any, color: ColorArg = None, legend: str | None = None, scaling: float = 40) -> Plot:
        """Arrows on a grid from 2-D ``u`` and ``v`` (same shape), drawn with segments as in iTorch.

        The arrow of ``u[i][j]``, ``v[i][j]`` (1-based ``i``, ``j``) starts at ``(x=i, y=j)`` and ends
        at ``(i + u/scaling, j + v/scaling)``; its head is three segments, a tenth of the arrow long
        and a twentieth wide. ⚠ iTorch built its grid in the transposed order, which agrees with this
        on square grids only; we use the rule above for every shape. Two segment records are added:
        the shafts (with ``legend``) and the heads.

        >>> from flambeau.plot import Plot
        >>> p = Plot().quiver([[40, 0], [0, 40]], [[0, 40], [0, 0]])
        >>> shafts, heads = p.glyphs
        >>> shafts.data['x0'], shafts.data['y0'], shafts.data['x1'], shafts.data['y1']
        ([1.0, 1.0, 2.0, 2.0], [1.0, 2.0, 1.0, 2.0], [2.0, 1.0, 2.0, 3.0], [1.0, 3.0, 1.0, 2.0])
        >>> len(heads), heads.options
        (12, {'part': 'arrowhead', 'hover': False})
        """
        us, vs = _grid(u, "u"), _grid(v, "v")
        if len(us) != len(vs) or any(len(a) != len(b) for a, b in zip(us, vs, strict=True)):
            raise ValueError("u and v should be 2-D and of the same size")
        x0, y0, x1, y1 = [], [], [], []
        for i, (urow, vrow) in enumerate(zip(us, vs, strict=True), start=1):
            for j, (du, dv) in enumerate(zip(urow, vrow, strict=True), start=1):
                x0.append(float(i))
                y0.append(float(j))
                x1.append(i + du / scaling)
                y1.append(j + dv / scaling)
        shafts = self._four("segment", x0, y0, x1, y1, color, legend)
        hx0: list[float] = []
        hy0: list[float] = []
        hx1: list[float] = []
        hy1: list[float] = []
        for a, b, c, d in zip(x0, y0, x1, y1, strict=True):
            length = math.hypot(c - a, d - b)
            ux, uy = ((c - a) / length, (d - b) / length) if length > 0 else (0.0, 0.0)
            h, w = length / 10, length / 20
            v1 = (c - ux * h - uy * w, d - uy * h + ux * w)
            v2 = (c - ux * h + uy * w, d - uy * h - ux * w)
            for (p, q), (r, s) in ((v1, v2), (v1, (c, d)), (v2, (c, d))):
                hx0.append(p)
                hy0.append(q)
                hx1.append(r)
                hy1.append(s)
        heads = self._four("segment", hx0, hy0, hx1, hy1, None, legend)
        heads.color = shafts.color if isinstance(shafts.color, str) else [c for c in shafts.color for _ in range(3)]
        heads.options = {"part": "arrowhead", "hover": False}
        self._add(shafts)
        return self._add(heads)

    def histogram(
        self,
        x: Any,
        nbins: int = 100,
        min: float | None = None,
        max: float | None = None,
        color: ColorArg = None,
        legend: str | None = None,
    ) -> Plot:
        """Histogram of ``x``: ``ft.histc(x, nbins, min, max)`` drawn as quads; ``min``/``max`` default to the data's.

        ⚠ Torch's bar-edge quirk is kept: the bars' left edges are ``linspace(min, max, nbins)`` and
        their width is ``(max - min) / nbins``, so bar ``k`` starts at ``min + k (max-min)/(nbins-1)``
        rather than at the histc bin edge ``min + k (max-min)/nbins`` (the last bar ends past ``max``).
        With NaN in the data it prints a message and returns the plot without adding bars (iTorch
        returned nothing). Alias: :meth:`hist`.

        >>> from flambeau.plot import Plot
        >>> g = Plot().histogram([1, 2, 2, 3, 3, 3], 3).glyphs[0]
        >>> g.data['x0'], g.data['y1']
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
        >>> [round(r - l, 4) for l, r in zip(g.data['x0'], g.data['x1'])]
        [0.6667, 0.6667, 0.6667]
        >>> Plot().histogram([1, float('nan')]).glyphs
        Plot.histogram: the data contain NaN; no histogram drawn
        []
        """
        vals = _floats(x, "x")
        if not vals:
            raise ValueError("histogram of no data")
        if any(math.isnan(e) for e in vals):
            print("Plot.histogram: the data contain NaN; no histogram drawn")
            return self
        lo = float(min) if min is not None else builtins.min(vals)
        hi = float(max) if max is not None else builtins.max(vals)
        t = x if isinstance(x, ft.Tensor) and x.dim() == 1 else ft.tensor(vals)
        counts = [float(c) for c in ft.histc(t.double(), int(nbins), lo, hi).tolist()]
        n = len(counts)
        left = _linspace(lo, hi, n)
        width = (hi - lo) / n
        return self.quad(left, [0.0] * n, [e + width for e in left], counts, color, legend)

    hist = histogram

    def text(
        self,
        x: Any,
        y: Any,
        text: str | Sequence[str],
        angle: float = 0.0,
        color: ColorArg = None,
        font_size: float | str = 10,
        align: str = "left",
        baseline: str = "bottom",
    ) -> Plot:
        """Text glyphs: ``text`` (one string or one per point) at ``(x, y)``.

        ``angle`` is in radians (Bokeh's unit), counter-clockwise. ``font_size``: points, or a
        string such as ``'12pt'``. ``align``: ``'left'``, ``'center'`` or ``'right'``;
        ``baseline``: ``'top'``, ``'middle'``, ``'bottom'``, ``'alphabetic'`` or ``'hanging'``
        (Bokeh's defaults: left, bottom).

        >>> from flambeau.plot import Plot
        >>> g = Plot().text([1, 2], [1, 2], ['a', 'b'], 0.5, 'blue', '14pt', 'center').glyphs[0]
        >>> g.kind, g.options['text'], g.options['font_size'], g.options['align']
        ('text', ['a', 'b'], 14.0, 'center')
        """
        xs, ys = _floats(x, "x"), _floats(y, "y")
        n = _same_length(x=xs, y=ys)
        texts = [text] * n if isinstance(text, str) else [str(s) for s in text]
        _same_length(x=xs, text=texts)
        if align not in _HA:
            raise ValueError(f"align must be one of {sorted(_HA)}")
        if baseline not in _VA:
            raise ValueError(f"baseline must be one of {sorted(_VA)}")
        size = float(re.sub(r"(pt|px)$", "", font_size.strip())) if isinstance(font_size, str) else float(font_size)
        options = {"text": texts, "angle": float(angle), "font_size": size, "align": align, "baseline": baseline}
        return self._add(Glyph("text", {"x": xs, "y": ys}, _color(color, n), _DEFAULT_LEGEND, {}, options))

    # ----------------------------------------------------------------------------------- labels and tools
    def title(self, text: str | None) -> Plot:
        """Set the title; ``None`` does nothing (as in iTorch).

        >>> from flambeau.plot import Plot
        >>> Plot().title('Loss').title(None).to_svg().count('>Loss<')
        1
        """
        if text is not None:
            self._title = str(text)
        return self

    def xaxis(self, label: str | None) -> Plot:
        """Set the x axis label; ``None`` does nothing.

        >>> from flambeau.plot import Plot
        >>> '>epoch<' in Plot().line([1, 2], [3, 4]).xaxis('epoch').to_svg()
        True
        """
        if label is not None:
            self._xaxis = str(label)
        return self

    def yaxis(self, label: str | None) -> Plot:
        """Set the y axis label; ``None`` does nothing.

        >>> from flambeau.plot import Plot
        >>> '>loss<' in Plot().line([1, 2], [3, 4]).yaxis('loss').to_svg()
        True
        """
        if label is not None:
            self._yaxis = str(label)
        return self

    def legend(self, on: bool = True) -> Plot:
        """Show (``True``) or hide (``False``) the legend, one entry per distinct glyph label.

        ⚠ Differs from iTorch, where ``legend(false)`` did nothing (the legend could only be turned
        on): here ``legend(False)`` turns it off. ``None`` does nothing.

        >>> from flambeau.plot import Plot
        >>> p = Plot().circle([1], [1], 'red', 'dots')
        >>> p.legend(True).legend_shown, p.legend(False).legend_shown
        (True, False)
        """
        if on is not None:
            self._legend = bool(on)
        return self

    @property
    def legend_shown(self) -> bool:
        """Whether the legend will be drawn.

        >>> from flambeau.plot import Plot
        >>> Plot().legend_shown
        False
        """
        return self._legend

    def hover_tool(self, tooltips: Iterable[Sequence[str]]) -> Plot:
        """Add hover tooltips: ``[(label, spec), ...]``; ``spec`` references fields as ``@field`` (or ``@{field}``).

        Fields are the glyph's data columns (``x``, ``y``; ``x0`` ... ``y1``, also ``left``,
        ``right``, ``bottom``, ``top`` for quads), its ``extra_data`` columns, ``text`` and
        ``color``; ``$index`` is the element's index, ``$x``/``$y`` its coordinates (Bokeh's were
        the cursor's). Unknown fields show ``???`` as in Bokeh. In SVG and HTML output each element
        carries an SVG ``<title>`` with the lines ``label: value``, which browsers show on hover.
        Calling it again adds more lines.

        >>> from flambeau.plot import Plot
        >>> p = Plot().circle([1], [2], extra_data={'name': ['a']}).hover_tool([('point', '(@x, @y)'), ('name', '@name')])
        >>> p.tooltip(0, 0)
        'point: (1, 2)\\nname: a'
        """
        for pair in tooltips:
            label, spec = pair
            self._hover.append((str(label), str(spec)))
        return self

    def tooltip(self, glyph: int, index: int) -> str:
        """The hover text of element ``index`` of ``glyphs[glyph]`` (empty without a hover tool).

        >>> from flambeau.plot import Plot
        >>> Plot().quad([0], [0], [1], [7]).hover_tool([('count', '@top'), ('?', '@nope')]).tooltip(0, 0)
        'count: 7\\n?: ???'
        """
        g = self.glyphs[glyph]
        values = g.fields(index)

        def sub(m: re.Match[str]) -> str:
            if m.group(3):
                if m.group(3) == "index":
                    return str(index)
                key = m.group(3) if m.group(3) in values else m.group(3) + "0"
                return _fmt(values.get(key, "???"))
            name = m.group(1) if m.group(1) is not None else m.group(2)
            return _fmt(values[name]) if name in values else "???"

        return "\n".join(f"{label}: {_FIELD_RE.sub(sub, spec)}" for label, spec in self._hover)

    # ----------------------------------------------------------------------------------- rendering
    def figure(self) -> Figure:
        """A new matplotlib ``Figure`` (Agg canvas, not pyplot) with every glyph, label and the legend.

        >>> from flambeau.plot import Plot
        >>> ax = Plot().circle([1, 2], [3, 4]).title('t').figure().axes[0]
        >>> ax.get_title(), len(ax.collections)
        ('t', 1)
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import LineCollection, PolyCollection
        from matplotlib.colors import to_rgba, to_rgba_array
        from matplotlib.figure import Figure

        fig = Figure(figsize=(self.width / 100, self.height / 100), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        hover = bool(self._hover)
        handles: dict[str, Any] = {}
        for gi, g in enumerate(self.glyphs):
            n = len(g)
            urls = [_HOVER_URL.format(gi, i) for i in range(n)] if hover and g.options.get("hover", True) else None
            gid = f"flambeau-glyph-{gi}"
            colors = g.colors()
            artist: Any = None
            if g.kind in ("circle", "triangle"):
                rgba = to_rgba_array(colors)
                face = rgba.copy()
                face[:, 3] = 0.2  # Bokeh: fill alpha 0.2, line alpha 1
                artist = ax.scatter(
                    g.data["x"],
                    g.data["y"],
                    s=_MARKER_AREA,
                    marker="o" if g.kind == "circle" else "^",
                    facecolors=face,
                    edgecolors=colors,
                    label=g.legend,
                    gid=gid,
                )
                if urls:
                    artist.set_urls(urls)
            elif g.kind == "line":
                xs, ys = g.data["x"], g.data["y"]
                if isinstance(g.color, str):
                    (artist,) = ax.plot(xs, ys, color=g.color, linewidth=2, label=g.legend, gid=gid)
                else:
                    pts = list(zip(xs, ys, strict=True))
                    artist = LineCollection(
                        [[pts[i], pts[i + 1]] for i in range(n - 1)],
                        colors=colors[:-1],
                        linewidths=2,
                        label=g.legend,
                        gid=gid,
                    )
                    ax.add_collection(artist)
                if urls:  # invisible vertex markers carry the tooltips
                    ax.scatter(xs, ys, s=_MARKER_AREA, color=(0, 0, 0, 0), label="_nolegend_").set_urls(urls)
            elif g.kind == "segment":
                d = g.data
                artist = LineCollection(
                    [[(a, b), (c, e)] for a, b, c, e in zip(d["x0"], d["y0"], d["x1"], d["y1"], strict=True)],
                    colors=colors,
                    linewidths=2,
                    label=g.legend,
                    gid=gid,
                )
                if urls:
                    artist.set_urls(urls)
                ax.add_collection(artist)
            elif g.kind == "quad":
                d = g.data
                rgba = to_rgba_array(colors)
                face = rgba.copy()
                face[:, 3] = 0.7  # Bokeh: fill alpha 0.7
                artist = PolyCollection(
                    [
                        [(a, b), (c, b), (c, e), (a, e)]
                        for a, b, c, e in zip(d["x0"], d["y0"], d["x1"], d["y1"], strict=True)
                    ],
                    facecolors=face,
                    edgecolors=rgba,
                    label=g.legend,
                    gid=gid,
                )
                if urls:
                    artist.set_urls(urls)
                ax.add_collection(artist)
            elif g.kind == "text":
                o = g.options
                for i, (x, y) in enumerate(zip(g.data["x"], g.data["y"], strict=True)):
                    ax.text(
                        x,
                        y,
                        o["text"][i],
                        rotation=math.degrees(o["angle"]),
                        rotation_mode="anchor",
                        color=to_rgba(colors[i]),
                        fontsize=o["font_size"],
                        ha=_HA[o["align"]],
                        va=_VA[o["baseline"]],
                        gid=f"{gid}-{i}",
                        url=urls[i] if urls else None,
                    )
                ax.update_datalim(list(zip(g.data["x"], g.data["y"], strict=True)))
            if artist is not None and g.legend not in handles:
                handles[g.legend] = artist
        ax.autoscale_view()
        if self._title is not None:
            ax.set_title(self._title)
        if self._xaxis is not None:
            ax.set_xlabel(self._xaxis)
        if self._yaxis is not None:
            ax.set_ylabel(self._yaxis)
        ax.grid(True, alpha=0.3)
        if self._legend and handles:
            ax.legend(list(handles.values()), list(handles.keys()))
        return fig

    def to_png(self, dpi: float = 100) -> bytes:
        """The plot as PNG bytes.

        >>> from flambeau.plot import Plot
        >>> Plot().circle([1], [1]).to_png()[:8]
        b'\\x89PNG\\r\\n\\x1a\\n'
        """
        buf = io.BytesIO()
        self.figure().savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()

    def to_svg(self) -> str:
        """The plot as an SVG document: text kept as ``<text>``, and a ``<title>`` tooltip per element with a hover tool.

        >>> from flambeau.plot import Plot
        >>> svg = Plot().circle([1], [2]).hover_tool([('y', '@y')]).to_svg()
        >>> svg.startswith('<?xml'), '<title>y: 2</title>' in svg
        (True, True)
        """
        import matplotlib

        buf = io.BytesIO()
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "flambeau-plot"}):
            self.figure().savefig(buf, format="svg", metadata={"Date": None})
        svg = buf.getvalue().decode("utf-8")

        def titled(m: re.Match[str]) -> str:
            tip = self.tooltip(int(m.group(1)), int(m.group(2)))
            return f'<a class="flambeau-hover"><title>{html.escape(tip, quote=False)}</title>'

        return _HOVER_RE.sub(titled, svg)

    def to_json(self) -> dict[str, Any]:
        """The plot's records as JSON-ready data (embedded in :meth:`to_html`).

        >>> from flambeau.plot import Plot
        >>> Plot().circle([1], [2]).title('t').to_json()['glyphs'][0]['data']
        {'x': [1.0], 'y': [2.0]}
        """
        return {
            "title": self._title,
            "xaxis": self._xaxis,
            "yaxis": self._yaxis,
            "legend": self._legend,
            "hover": [list(t) for t in self._hover],
            "glyphs": [g.to_json() for g in self.glyphs],
        }

    def to_html(self, full: bool = True) -> str:
        """Standalone HTML that works offline: the inline SVG of :meth:`to_svg` (hover tooltips as SVG
        ``<title>``), and the records of :meth:`to_json` in a ``<script type="application/json">``
        block. No external script, stylesheet or CDN. ``full=False`` gives just the ``<div>``
        (what :meth:`draw` shows in a notebook). Alias: ``toHTML``.

        >>> from flambeau.plot import Plot
        >>> page = Plot().line([1, 2], [3, 4]).to_html()
        >>> page.startswith('<!DOCTYPE html>'), '<svg' in page, 'src=' in page
        (True, True, False)
        """
        svg = self.to_svg()
        svg = svg[svg.index("<svg") :]
        data = json.dumps(self.to_json()).replace("</", "<\\/")
        div = (
            '<div class="flambeau-plot">\n'
            f"{svg}"
            f'<script type="application/json" class="flambeau-plot-data">{data}</script>\n'
            "</div>\n"
        )
        if not full:
            return div
        title = html.escape(self._title or "flambeau plot")
        return (
            '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
            f"<title>{title}</title>\n"
            "<style>.flambeau-plot svg{max-width:100%;height:auto}"
            ".flambeau-hover:hover{opacity:0.6}</style>\n"
            f"</head>\n<body>\n{div}</body>\n</html>\n"
        )

    toHTML = to_html  # noqa: N815 - iTorch's name

    def save(self, filename: str | os.PathLike[str]) -> Plot:
        """Write the plot: standalone HTML for ``.html``/``.htm`` (iTorch always wrote HTML), SVG for ``.svg``
        (with tooltips), otherwise any matplotlib format by extension (``.png``, ``.pdf``, ...).

        >>> import pathlib, tempfile
        >>> from flambeau.plot import Plot
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> p = Plot().circle([1], [1]).save(d / 'p.png').save(d / 'p.html')
        >>> (d / 'p.png').read_bytes()[:4], (d / 'p.html').read_text()[:15]
        (b'\\x89PNG', '<!DOCTYPE html>')
        """
        path = Path(filename)
        ext = path.suffix.lower().lstrip(".")
        if ext in ("html", "htm"):
            path.write_text(self.to_html(), encoding="utf-8")
        elif ext == "svg":
            path.write_text(self.to_svg(), encoding="utf-8")
        elif ext:
            self.figure().savefig(path, format=ext)
        else:
            raise ValueError(f"{filename!s}: give an extension (.html, .svg, .png, ...)")
        return self

    def draw(self, window_id: str | None = None) -> Plot:
        """Show the plot: inline in a Jupyter notebook, otherwise as a standalone HTML file.

        Under an IPython kernel the HTML of :meth:`to_html` is displayed (``window_id`` is the
        display id; drawing again into the same id replaces it). Elsewhere the HTML goes to a new
        temporary file (``html_path``; the same file again for a known ``window_id``), and a new
        file is opened with ``opener`` (:func:`webbrowser.open` unless given) — except when the
        environment variable ``FLAMBEAU_PLOT_NO_OPEN`` is set (to anything but 0/false/no) or on
        Linux/BSD with neither ``DISPLAY`` nor ``WAYLAND_DISPLAY``. The window id is remembered for
        :meth:`redraw`.

        >>> from flambeau.plot import Plot
        >>> opened = []
        >>> p = Plot(opener=opened.append).circle([1], [1]).draw()
        >>> p.html_path.read_text()[:15]
        '<!DOCTYPE html>'
        >>> p.html_path.unlink()
        """
        wid = window_id if window_id is not None else uuid.uuid4().hex
        self._window_id = wid
        if _in_notebook():
            display_mod = importlib.import_module("IPython.display")
            content = display_mod.HTML(self.to_html(full=False))
            if wid in self._displayed:
                display_mod.update_display(content, display_id=wid)
            else:
                display_mod.display(content, display_id=wid)
                self._displayed.add(wid)
            return self
        path = self._files.get(wid)
        is_new = path is None
        if path is None:
            fd, name = tempfile.mkstemp(prefix="flambeau-plot-", suffix=".html")
            os.close(fd)
            path = self._files[wid] = Path(name)
        path.write_text(self.to_html(), encoding="utf-8")
        self.html_path = path
        if is_new and _can_open():
            self.opener(path.resolve().as_uri())
        else:
            _log.info("plot written to %s", path)
        return self

    def redraw(self) -> Plot:
        """Draw again into the last window (the same notebook output or file); :meth:`draw` if never drawn.

        >>> from flambeau.plot import Plot
        >>> p = Plot(opener=lambda url: None).circle([1], [1]).draw()
        >>> first = p.html_path
        >>> p.title('again').redraw().html_path == first, 'again' in first.read_text()
        (True, True)
        >>> first.unlink()
        """
        return self.draw(self._window_id)


_HA = {"left": "left", "center": "center", "right": "right"}
_VA = {"top": "top", "middle": "center", "bottom": "bottom", "alphabetic": "baseline", "hanging": "top"}


def _grid(v: Any, name: str) -> list[list[float]]:
    rows = v.tolist() if hasattr(v, "tolist") else [list(r) for r in v]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise ValueError(f"{name} should be 2-D")
    return [[float(e) for e in r] for r in rows]
