"""Tests of flambeau.plot: each method renders (PNG, SVG, HTML), golden glyph records, draw without a browser."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.plot import PALETTE, Plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _talk_data() -> ft.Tensor:
    return ft.from_numpy(np.random.default_rng(0).negative_binomial(9, 0.3, 10000).astype(float))


def _assert_offline(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert "<svg" in page
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert not re.search(r"""(src|href)=["']https?:""", page)
    assert "<link" not in page


def _page_data(page: str) -> dict:
    m = re.search(r'<script type="application/json" class="flambeau-plot-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1).replace("<\\/", "</"))


# One plot per method: (name, builder, number of glyph records, SVG group ids that must appear)
CASES = {
    "circle": lambda: Plot().circle([1, 2, 3], [3, 1, 2], "blue", "c"),
    "triangle": lambda: Plot().triangle(ft.tensor([1.0, 2.0]), ft.tensor([2.0, 1.0]), ["red", "#00ff00"]),
    "line": lambda: Plot().line([0, 1, 2, 3], [0, 1, 4, 9], "black", "sq"),
    "line_per_point": lambda: Plot().line([0, 1, 2], [0, 1, 0], ["red", "green", "blue"]),
    "gscatter": lambda: Plot().gscatter([1, 2, 3, 4], [4, 3, 2, 1], ft.tensor([1.0, 2.0, 1.0, 3.0])),
    "segment": lambda: Plot().segment([0, 1], [0, 0], [1, 2], [1, 1], "purple"),
    "quad": lambda: Plot().quad([0, 1], [0, 0], [1, 2], [3, 5], "orange"),
    "quiver": lambda: Plot().quiver(ft.tensor([[40.0, 0.0], [0.0, 40.0]]), ft.tensor([[0.0, 40.0], [40.0, 0.0]])),
    "histogram": lambda: Plot().histogram(_talk_data(), 80, 1, 80),
    "hist": lambda: Plot().hist([1, 2, 2, 3], 3),
    "text": lambda: Plot().text([1, 2], [1, 2], ["alpha", "beta"], 0.3, "blue", "12pt", "center", "middle"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_method_renders(name: str, tmp_path: Path) -> None:
    p = CASES[name]().hover_tool([("where", "(@x, @y)"), ("index", "$index")])
    png = p.to_png()
    assert png.startswith(PNG_SIGNATURE) and len(png) > 1000
    svg = p.to_svg()
    for gi in range(len(p.glyphs)):
        assert f'id="flambeau-glyph-{gi}' in svg
    if name != "quiver":  # quiver's arrowheads carry no tooltips
        assert svg.count("<title>") == sum(len(g) for g in p.glyphs)
    page = p.to_html()
    _assert_offline(page)
    data = _page_data(page)
    assert [g["kind"] for g in data["glyphs"]] == [g.kind for g in p.glyphs]
    assert data["glyphs"][0]["data"] == p.glyphs[0].data
    assert data["hover"] == [["where", "(@x, @y)"], ["index", "$index"]]
    # save by extension
    p.save(tmp_path / "p.png").save(tmp_path / "p.svg").save(tmp_path / "p.html")
    assert (tmp_path / "p.png").read_bytes().startswith(PNG_SIGNATURE)
    assert "<svg" in (tmp_path / "p.svg").read_text()
    _assert_offline((tmp_path / "p.html").read_text())


def test_svg_contains_glyph_elements() -> None:
    svg = Plot().circle([1, 2, 3], [1, 2, 3], "#123456").to_svg()
    group = svg[svg.index('id="flambeau-glyph-0"') :]
    group = group[: group.index("</g>\n   </g>") if "</g>\n   </g>" in group else len(group)]
    assert group.count("<use ") == 3 or group.count("<path ") >= 3
    assert "#123456" in svg
    svg = Plot().quad([0, 1], [0, 0], [1, 2], [1, 2], "#abcdef").to_svg()
    assert "#abcdef" in svg


def test_chaining_returns_self() -> None:
    p = Plot(opener=lambda url: None)
    calls = [
        lambda: p.circle([1], [1]),
        lambda: p.triangle([1], [1]),
        lambda: p.line([1, 2], [1, 2]),
        lambda: p.gscatter([1, 2], [1, 2], [0, 1]),
        lambda: p.gscatter([1, 2], [1, 2]),
        lambda: p.segment([0], [0], [1], [1]),
        lambda: p.quad([0], [0], [1], [1]),
        lambda: p.quiver([[1.0]], [[1.0]]),
        lambda: p.histogram([1, 2, 3]),
        lambda: p.hist([1, 2, 3], 2),
        lambda: p.histogram([1, float("nan")]),
        lambda: p.text(1, 1, "t"),
        lambda: p.title("t"),
        lambda: p.title(None),
        lambda: p.xaxis("x"),
        lambda: p.yaxis("y"),
        lambda: p.legend(True),
        lambda: p.legend(False),
        lambda: p.hover_tool([("x", "@x")]),
        lambda: p.draw(),
        lambda: p.redraw(),
        lambda: p.save(p.html_path.with_suffix(".svg")),  # type: ignore[union-attr]
    ]
    for call in calls:
        assert call() is p
    for path in p._files.values():
        path.unlink()
        path.with_suffix(".svg").unlink(missing_ok=True)


def test_defaults_and_conversion() -> None:
    p = Plot().circle(ft.tensor([1, 2]), (3, 4)).line(5, 6)
    a, b = p.glyphs
    assert (a.color, a.legend, a.extra) == ("red", "unnamed", {})
    assert a.data == {"x": [1.0, 2.0], "y": [3.0, 4.0]}
    assert all(isinstance(v, float) for v in a.data["x"])
    assert b.data == {"x": [5.0], "y": [6.0]}
    with pytest.raises(ValueError, match="same number"):
        Plot().circle([1, 2], [1])
    with pytest.raises(ValueError, match="colour"):
        Plot().circle([1, 2], [1, 2], ["red"])
    with pytest.raises(ValueError, match="colour"):
        Plot().circle([1], [1], "notacolour")
    with pytest.raises(ValueError, match="1-D"):
        Plot().circle([[1]], [1])


def test_histogram_golden_structure() -> None:
    a = _talk_data()
    p = Plot().histogram(a, 80, 1, 80).title("Negative binomial(9, 0.3)")
    (g,) = p.glyphs
    assert g.kind == "quad" and len(g) == 80
    counts = ft.histc(a, 80, 1, 80).tolist()
    assert g.data["y1"] == counts
    assert g.data["y0"] == [0.0] * 80
    # Torch's left-edge rule: linspace(min, max, nBins), width (max - min) / nBins
    np.testing.assert_allclose(g.data["x0"], np.linspace(1, 80, 80), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.subtract(g.data["x1"], g.data["x0"]), 79 / 80, rtol=0, atol=1e-12)
    assert sum(counts) == sum(1 for v in a.tolist() if 1 <= v <= 80)
    # min and max default to the data's
    g2 = Plot().histogram([2.0, 4.0, 4.0, 10.0], 4).glyphs[0]
    assert g2.data["x0"] == [2.0, 2.0 + 8 / 3, 2.0 + 16 / 3, 10.0]
    assert g2.data["y1"] == ft.histc(ft.tensor([2.0, 4.0, 4.0, 10.0]), 4).tolist() == [1.0, 2.0, 0.0, 1.0]
    svg = p.to_svg()
    assert ">Negative binomial(9, 0.3)<" in svg


def test_histogram_nan_prints_and_adds_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    p = Plot().circle([1], [1])
    assert p.histogram(ft.tensor([1.0, float("nan"), 2.0])) is p
    assert "NaN" in capsys.readouterr().out
    assert [g.kind for g in p.glyphs] == ["circle"]


def test_gscatter_colours_per_class() -> None:
    labels = [3, 1, 2, 1, 3, 3] + list(range(4, 13))
    n = len(labels)
    p = Plot().gscatter(list(range(n)), list(range(n)), labels)
    assert p.legend_shown
    assert [g.legend for g in p.glyphs] == [f"Class {k}" for k in range(1, 13)]
    assert [g.color for g in p.glyphs] == [PALETTE[k % 10] for k in range(12)]
    assert p.glyphs[2].data["x"] == [0.0, 4.0, 5.0]  # class 3
    assert p.glyphs[0].extra == {"label": [1, 1]}
    q = Plot().gscatter([1, 2], [1, 2], ["b", "a"], legend=False)
    assert not q.legend_shown and [g.legend for g in q.glyphs] == ["Class a", "Class b"]
    svg = p.legend(True).to_svg()
    assert ">Class 12<" in svg and PALETTE[1] in svg


def test_legend_on_and_off() -> None:
    p = Plot().circle([1], [1], "red", "first series").line([1, 2], [1, 2], "blue", "second series")
    assert ">first series<" not in p.to_svg()
    svg = p.legend(True).to_svg()
    assert ">first series<" in svg and ">second series<" in svg
    assert 'id="legend_1"' in svg
    svg = p.legend(False).to_svg()  # unlike iTorch, False turns it off
    assert ">first series<" not in svg and 'id="legend_1"' not in svg


def test_title_and_axis_labels_in_svg() -> None:
    svg = Plot().line([1, 2], [3, 4]).title("My title").xaxis("epochs").yaxis("loss").to_svg()
    for s in ("My title", "epochs", "loss"):
        assert f">{s}<" in svg
    svg = Plot().line([1, 2], [3, 4]).title("kept").title(None).xaxis(None).to_svg()
    assert ">kept<" in svg


def test_hover_tool_fields_in_html() -> None:
    p = (
        Plot()
        .circle([1, 2], [10, 20], "red", "pts", {"name": ["alice", "bob"], "score": ft.tensor([0.5, 0.25])})
        .quad([0], [0], [1], [7], "blue")
        .hover_tool([("who", "@name"), ("score", "@{score}"), ("top", "@top")])
    )
    page = p.to_html()
    assert "<title>who: alice\nscore: 0.5\ntop: ???</title>" in page
    assert "<title>who: bob\nscore: 0.25\ntop: ???</title>" in page
    assert "<title>who: ???\nscore: ???\ntop: 7</title>" in page
    data = _page_data(page)
    assert data["glyphs"][0]["extra"] == {"name": ["alice", "bob"], "score": [0.5, 0.25]}
    assert data["glyphs"][0]["data"] == {"x": [1.0, 2.0], "y": [10.0, 20.0]}
    assert "<title>" not in Plot().circle([1], [1]).to_svg()  # no hover tool, no tooltips
    escaped = Plot().circle([1], [1], extra_data={"s": ["<b>&"]}).hover_tool([("s", "@s")]).to_svg()
    assert "<title>s: &lt;b&gt;&amp;</title>" in escaped


def test_quiver_geometry() -> None:
    p = Plot().quiver([[40.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 80.0]], "green", "field", scaling=40)
    shafts, heads = p.glyphs
    assert shafts.kind == heads.kind == "segment"
    assert shafts.legend == "field" and shafts.color == heads.color == "green"
    assert shafts.data["x1"] == [2.0, 1.0, 2.0, 2.0]
    assert shafts.data["y1"] == [1.0, 2.0, 1.0, 4.0]
    assert len(heads) == 12
    # the head of the first arrow (1,1)->(2,1): tip at (2,1), barbs at x = 1.9, y = 1 +- 0.05
    assert heads.data["x0"][0] == pytest.approx(1.9) and sorted([heads.data["y0"][0], heads.data["y1"][0]]) == [
        pytest.approx(0.95),
        pytest.approx(1.05),
    ]
    with pytest.raises(ValueError):
        Plot().quiver([[1.0, 2.0]], [[1.0]])


def test_text_options_in_svg() -> None:
    p = Plot().text([1, 2], [1, 2], ["alpha", "beta"], 0.0, "#0000ff", 14, "right", "top")
    g = p.glyphs[0]
    assert g.options == {
        "text": ["alpha", "beta"],
        "angle": 0.0,
        "font_size": 14.0,
        "align": "right",
        "baseline": "top",
    }
    svg = p.to_svg()
    assert ">alpha<" in svg and ">beta<" in svg and "text-anchor: end" in svg
    with pytest.raises(ValueError):
        Plot().text(1, 1, "x", align="middle")


def test_draw_without_display_writes_file_and_does_not_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLAMBEAU_PLOT_NO_OPEN")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    opened: list[str] = []
    p = Plot(opener=opened.append).circle([1], [2]).draw()
    assert opened == []
    assert p.html_path is not None and p.html_path.exists()
    _assert_offline(p.html_path.read_text())
    first = p.html_path
    p.title("updated").redraw()
    assert p.html_path == first and ">updated<" in first.read_text()
    p.draw()
    assert p.html_path != first
    first.unlink()
    p.html_path.unlink()


def test_draw_opens_with_injected_opener(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLAMBEAU_PLOT_NO_OPEN")
    monkeypatch.setenv("DISPLAY", ":0")
    opened: list[str] = []
    p = Plot(opener=opened.append).circle([1], [2]).draw("win")
    assert opened == [p.html_path.as_uri()]  # type: ignore[union-attr]
    p.redraw()  # same window: the file is rewritten, not opened again
    assert len(opened) == 1
    monkeypatch.setenv("FLAMBEAU_PLOT_NO_OPEN", "1")
    p.draw()
    assert len(opened) == 1
    for path in p._files.values():
        path.unlink()


def test_draw_in_notebook_displays_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[tuple[str, str, str]] = []

    class FakeHTML:
        def __init__(self, data: str) -> None:
            self.data = data

    class FakeDisplay:
        HTML = FakeHTML

        @staticmethod
        def display(obj: FakeHTML, display_id: str) -> None:
            shown.append(("display", display_id, obj.data))

        @staticmethod
        def update_display(obj: FakeHTML, display_id: str) -> None:
            shown.append(("update", display_id, obj.data))

    monkeypatch.setattr("flambeau.plot.core._in_notebook", lambda: True)
    monkeypatch.setattr("importlib.import_module", lambda name: FakeDisplay)
    p = Plot(opener=lambda url: pytest.fail("opened in a notebook")).circle([1], [2]).draw("w1")
    p.title("second").redraw()
    assert [(k, i) for k, i, _ in shown] == [("display", "w1"), ("update", "w1")]
    assert shown[0][2].startswith('<div class="flambeau-plot">') and ">second<" in shown[1][2]
    assert p.html_path is None


def test_talk_histogram_draw() -> None:
    a = _talk_data()
    p = Plot(opener=lambda url: None).histogram(a, 80, 1, 80).title("Negative binomial(9, 0.3)").draw()
    assert p.html_path is not None
    page = p.html_path.read_text()
    _assert_offline(page)
    assert _page_data(page)["glyphs"][0]["data"]["y1"] == ft.histc(a, 80, 1, 80).tolist()
    p.html_path.unlink()


def test_import_is_cheap() -> None:
    code = "import sys, flambeau.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
