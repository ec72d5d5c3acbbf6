"""flambeau.plot: iTorch's ``Plot`` re-made in Python, drawn with matplotlib.

iTorch (Lua Torch's Jupyter kernel) plotted with Bokeh.js 0.7. Here the same chainable API builds
a list of glyph records (``Plot.glyphs``) and renders them with matplotlib's Agg canvas, imported
only when a plot is rendered. ``draw`` shows the plot inline in a Jupyter notebook and otherwise
writes a standalone HTML file (and opens it in a browser where there is a display); ``save``
writes PNG, SVG or offline HTML with hover tooltips.

Methods (each returns the plot): ``circle``, ``triangle``, ``line``, ``gscatter``, ``segment``,
``quad``, ``quiver``, ``histogram`` (alias ``hist``), ``text``, ``title``, ``xaxis``, ``yaxis``,
``legend``, ``hover_tool``, ``draw``, ``redraw``, ``save``; ``to_html`` (alias ``toHTML``),
``to_svg`` and ``to_png`` return the rendered plot.

Differences from iTorch, on purpose: ``legend(False)`` turns the legend off (iTorch could only turn
it on); a histogram of data with NaN prints a message and returns the plot (iTorch returned
nothing); ``save`` picks the format by extension (iTorch always wrote HTML); ``quiver`` places the
arrow of ``u[i][j]`` at ``(i, j)`` for every grid shape. Kept on purpose: the histogram's bar edges
(left edges ``linspace(min, max, nbins)``, width ``(max - min) / nbins``). Left out:
``toTemplate`` and the other ``itorch.*`` display helpers.

The talk's histogram of 10000 negative-binomial(9, 0.3) draws (in a notebook, end with ``.draw()``
instead of ``.to_html()``):

>>> import numpy as np
>>> import flambeau.tensor as ft
>>> from flambeau.plot import Plot
>>> a = ft.from_numpy(np.random.default_rng(0).negative_binomial(9, 0.3, 10000).astype(float))
>>> p = Plot().histogram(a, 80, 1, 80).title('Negative binomial(9, 0.3)')
>>> page = p.to_html()
>>> len(p.glyphs[0]), sum(p.glyphs[0].data['y1']) == ft.histc(a, 80, 1, 80).sum().item()
(80, True)
>>> 'Negative binomial(9, 0.3)' in page
True
"""

from .core import PALETTE, Glyph, Plot

__all__ = ["PALETTE", "Glyph", "Plot"]
