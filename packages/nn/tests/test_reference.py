"""docs/nn.md is the generated module reference, and every class has a documented, runnable example."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from flambeau.nn import reference

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
IN_REPO = (DOCS / "conf.py").is_file() and (ROOT / "packages" / "nn" / "tests").is_dir()


@pytest.mark.skipif(not IN_REPO, reason=f"no docs/ next to the tests ({DOCS}): not a repository checkout")
def test_docs_nn_md_is_the_generated_reference() -> None:
    path = DOCS / "nn.md"
    assert path.is_file(), "docs/nn.md is missing: run `python -m flambeau.nn.reference > docs/nn.md`"
    assert path.read_text(encoding="utf-8") == reference.render(), (
        "docs/nn.md is stale: regenerate it with `python -m flambeau.nn.reference > docs/nn.md`"
    )


def test_every_class_has_a_docstring_with_an_example() -> None:
    missing = [
        cls.__name__
        for cls in reference.classes()
        if ">>> " not in (inspect.getdoc(cls) or "") and not cls.__name__.endswith(("Module", "Container"))
    ]
    assert not missing, f"classes without a doctest example: {missing}"
