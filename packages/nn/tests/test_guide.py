"""The ``pycon`` examples of docs/guide/nn.md run as one doctest (the guide cannot drift from the code)."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

import flambeau.tensor as ft

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "guide" / "nn.md"


@pytest.mark.skipif(not GUIDE.exists(), reason="the docs/ folder is not beside this checkout")
def test_the_nn_guide_examples_run() -> None:
    ft.manual_seed(0)
    blocks = re.findall(r"```pycon\n(.*?)```", GUIDE.read_text(), flags=re.S)
    test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, "nn.md", str(GUIDE), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert len(blocks) >= 6 and result.attempted > 20 and result.failed == 0
