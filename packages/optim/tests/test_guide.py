"""The ``pycon`` examples of docs/guide/optim.md run as one doctest (the guide cannot drift from the code)."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

import flambeau.tensor as ft

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "guide" / "optim.md"


@pytest.mark.skipif(not GUIDE.exists(), reason="the docs/ folder is not beside this checkout")
def test_the_optim_guide_examples_run() -> None:
    pytest.importorskip("flambeau.nn", reason="the guide trains an nn model")
    pytest.importorskip("flambeau.autograd", reason="the guide uses autograd.optim")
    ft.manual_seed(0)
    blocks = re.findall(r"```pycon\n(.*?)```", GUIDE.read_text(), flags=re.S)
    test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, "optim.md", str(GUIDE), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert len(blocks) >= 4 and result.attempted > 15 and result.failed == 0
