"""optim.Logger: the log's exact text, stdout mode, and the plot it writes."""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest

import flambeau.optim as optim
import flambeau.tensor as ft
from flambeau.optim.logger import _spline
from flambeau.tensor.errors import ArgumentError

PNG = b"\x89PNG\r\n\x1a\n"


def _rows(logger: optim.Logger, n: int = 6) -> None:
    for i in range(n):
        logger.add({"train": 1.0 / (i + 1), "test": 2.0 / (i + 2), "lr": 10.0**-i})


@pytest.mark.device  # a 0-d tensor on the device under test is logged as a number
def test_file_text_header_and_formats(tmp_path) -> None:
    path = tmp_path / "logs" / "train.log"  # the folder is created
    logger = optim.Logger(str(path))
    assert logger.set_names(["epoch", "loss", "phase"]) is logger
    logger.add([1, 0.5, "train"])
    logger.add({"phase": "test", "loss": -1.25e-3, "epoch": 2})  # by name: written in column order
    logger.add([ft.tensor(3), np.float32(12345678.0), "x y"])  # a 0-d tensor, a numpy number
    logger.close()
    assert path.read_text() == (
        "epoch\tloss\tphase\t\n"
        " 1.0000e+00\t 5.0000e-01\ttrain\t\n"
        " 2.0000e+00\t-1.2500e-03\ttest\t\n"
        " 3.0000e+00\t 1.2346e+07\tx y\t\n"
    )
    assert logger.symbols == {
        "epoch": [1.0, 2.0, 3.0],
        "loss": [0.5, -1.25e-3, 12345678.0],
        "phase": ["train", "test", "x y"],
    }
    assert logger.imagefile == str(path) + ".png"


def test_header_from_the_first_add(tmp_path) -> None:
    with optim.Logger(str(tmp_path / "a.log")) as by_name:
        by_name.add({"b": 1, "a": 2})
    assert (tmp_path / "a.log").read_text() == "b\ta\t\n 1.0000e+00\t 2.0000e+00\t\n"
    with optim.Logger(str(tmp_path / "p.log")) as by_position:
        by_position.add([0.25, 4])
        by_position.add([0.5, 8])
    assert (tmp_path / "p.log").read_text() == "0\t1\t\n 2.5000e-01\t 4.0000e+00\t\n 5.0000e-01\t 8.0000e+00\t\n"
    assert by_position.names == ["0", "1"]


def test_stdout_mode(capsys) -> None:
    logger = optim.Logger()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no path provided, logging to std out" in captured.err
    logger.set_names(["loss", "acc"])
    logger.add([0.75, 0.5])
    logger.add({"acc": 0.625, "loss": 0.5})
    assert capsys.readouterr().out == "loss\tacc\t\n 7.5000e-01\t 5.0000e-01\t\n 5.0000e-01\t 6.2500e-01\t\n"
    assert logger.path is None and logger.imagefile is None


def test_timestamp_names_the_file_but_not_the_image(tmp_path) -> None:
    logger = optim.Logger(str(tmp_path / "run.log"), timestamp=True)
    logger.add([1.0])
    logger.close()
    assert re.fullmatch(re.escape(str(tmp_path / "run.log")) + r"-\d{4}_\d\d_\d\d_\d\d:\d\d:\d\d", logger.path or "")
    assert os.path.exists(logger.path or "")
    assert logger.imagefile == str(tmp_path / "run.log.png")


def test_bad_rows_raise(tmp_path) -> None:
    logger = optim.Logger(str(tmp_path / "x.log")).set_names(["a", "b"])
    with pytest.raises(ArgumentError, match="2 series"):
        logger.add([1.0])
    with pytest.raises(ArgumentError, match="missing: \\['b'\\]"):
        logger.add({"a": 1.0})
    with pytest.raises(ArgumentError, match="unknown: \\['c'\\]"):
        logger.add({"a": 1.0, "b": 2.0, "c": 3.0})
    with pytest.raises(ArgumentError, match="numbers and strings"):
        logger.add([1.0, [2.0]])
    with pytest.raises(ArgumentError, match="before the first add"):
        logger.set_names(["c"])
    with pytest.raises(ArgumentError, match="no series named 'z'"):
        logger.style({"z": "-"})
    with pytest.raises(ArgumentError, match="no series at position 5"):
        logger.hide_series(5)
    logger.close()
    assert (tmp_path / "x.log").read_text() == "a\tb\t\n"  # nothing half-written


def test_style_by_name_position_and_list(tmp_path) -> None:
    logger = optim.Logger(str(tmp_path / "s.log")).set_names(["a", "b", "c"])
    assert logger.styles == {"a": ["+"], "b": ["+"], "c": ["+"]}
    logger.style({"a": "-", 2: ["+", "~"]})
    logger.style(["|"])  # a list: column order
    assert logger.styles == {"a": ["|"], "b": ["+"], "c": ["+", "~"]}
    with pytest.raises(ArgumentError, match="string or a list of strings"):
        logger.style({"b": 3})


def test_plot_writes_a_png_next_to_the_log(tmp_path) -> None:
    path = tmp_path / "run.log"
    logger = optim.Logger(str(path))
    _rows(logger)
    out = logger.plot()
    assert out == str(path) + ".png"
    assert (tmp_path / "run.log.png").read_bytes()[:8] == PNG
    ax = logger.figure.axes[0]
    assert ax.get_title() == f"<Logger::{path}>"
    assert [ln.get_label() for ln in ax.get_lines()] == ["train", "test", "lr"]
    assert ax.get_yscale() == "linear" and ax.get_xscale() == "linear"
    line = ax.get_lines()[0]
    assert line.get_marker() == "+" and line.get_linestyle() == "None"  # Torch's default style '+'
    np.testing.assert_allclose(line.get_xdata(), [1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(line.get_ydata(), [1.0 / (i + 1) for i in range(6)])
    # an explicit path, any format matplotlib knows
    assert logger.plot(path=str(tmp_path / "other.png")) == str(tmp_path / "other.png")
    assert (tmp_path / "other.png").read_bytes()[:8] == PNG


def test_plot_respects_hidden_series_and_explicit_names(tmp_path) -> None:
    logger = optim.Logger(str(tmp_path / "run.log"))
    _rows(logger)
    logger.hide_series("test", 2)
    logger.plot()
    assert [ln.get_label() for ln in logger.figure.axes[0].get_lines()] == ["train"]
    logger.show_series("lr")
    logger.plot()
    assert [ln.get_label() for ln in logger.figure.axes[0].get_lines()] == ["train", "lr"]
    logger.plot("test")  # named series are drawn even if hidden, as Torch's plot(...)
    assert [ln.get_label() for ln in logger.figure.axes[0].get_lines()] == ["test"]
    logger.hide_series()
    assert logger.plot() is None  # nothing to draw: nothing written, as Torch
    logger.show_series()
    logger.plot()
    assert len(logger.figure.axes[0].get_lines()) == 3


def test_plot_log_scale(tmp_path) -> None:
    logger = optim.Logger(str(tmp_path / "run.log"))
    _rows(logger)
    logger.set_log_scale(True)
    logger.plot()
    ax = logger.figure.axes[0]
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"
    logger.setlogscale(True, axes="xy")  # Torch's name; gnuplot's `set logscale` is on every axis
    logger.plot()
    assert logger.figure.axes[0].get_xscale() == "log"
    logger.set_log_scale(False)
    logger.plot()
    assert logger.figure.axes[0].get_yscale() == "linear"
    with pytest.raises(ArgumentError, match="axes must be"):
        logger.set_log_scale(True, axes="z")


def test_plot_styles(tmp_path) -> None:
    from matplotlib.collections import LineCollection

    logger = optim.Logger(str(tmp_path / "run.log"))
    _rows(logger)
    logger.style({"train": "+-", "test": ["|", "."], "lr": "r--"})
    logger.plot()
    ax = logger.figure.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert lines["train"].get_marker() == "+" and lines["train"].get_linestyle() == "-"
    assert lines["lr"].get_linestyle() == "--" and lines["lr"].get_color() == "r"  # a raw matplotlib format
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(bars) == 1 and bars[0].get_label() == "test"  # impulses
    segs = bars[0].get_segments()
    np.testing.assert_allclose([s[1][1] for s in segs], [2.0 / (i + 2) for i in range(6)])
    dots = [ln for ln in ax.get_lines() if ln.get_marker() == "."]
    assert len(dots) == 1 and not dots[0].get_label().startswith("test")  # one legend entry per series
    logger.style({"train": "~"})
    logger.plot()
    smooth = logger.figure.axes[0].get_lines()[0]
    assert len(smooth.get_xdata()) > 6  # a curve sampled between the points


def test_a_series_needs_two_points(tmp_path) -> None:
    logger = optim.Logger(str(tmp_path / "run.log"))
    logger.add({"loss": 1.0})
    assert logger.plot() is None and not os.path.exists(logger.imagefile or "")
    logger.add({"loss": 0.5})
    assert logger.plot() == logger.imagefile


def test_plot_in_stdout_mode(tmp_path, capsys) -> None:
    logger = optim.Logger()
    _rows(logger, 3)
    assert logger.plot() is None  # nowhere to write: the figure only
    assert [ln.get_label() for ln in logger.figure.axes[0].get_lines()] == ["train", "test", "lr"]
    out = logger.plot(path=tmp_path / "p.png")
    assert out == str(tmp_path / "p.png") and (tmp_path / "p.png").read_bytes()[:8] == PNG
    capsys.readouterr()


def test_plot_without_matplotlib(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    logger = optim.Logger(str(tmp_path / "run.log"))
    _rows(logger, 2)
    with pytest.raises(ImportError, match=re.escape("pip install flambeau-optim[plot]")):
        logger.plot()


def test_spline_goes_through_the_points_and_keeps_lines_straight() -> None:
    xs, ys = [1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 2.0, -1.0]
    sx, sy = _spline(xs, ys, per_gap=4)
    assert sx[::4] == xs
    np.testing.assert_allclose(sy[::4], ys, atol=1e-12)
    lx, ly = _spline(xs, [2 * x + 1 for x in xs])
    np.testing.assert_allclose(ly, [2 * x + 1 for x in lx], atol=1e-12)
