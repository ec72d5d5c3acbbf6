"""The op reference generated from the op table, and the docs it lives in.

- docs/ops.md in the repository is exactly what ``render()`` produces (so it can't go stale);
- every op of the table appears in the reference with its example;
- every record has a doc and a runnable example (``problems`` reports the ones that don't);
- the examples of the hand-written docs pages run against the current API.
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

import flambeau.tensor as ft
from flambeau.tensor import opref
from flambeau.tensor.optable import OPS, Op

# packages/tensor/tests/ -> the repository root, when the tests run from a checkout.
ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
IN_REPO = (DOCS / "conf.py").is_file() and (ROOT / "packages" / "tensor" / "tests").is_dir()
needs_repo = pytest.mark.skipif(
    not IN_REPO, reason=f"no docs/ next to the tests ({DOCS}): not running from a repository checkout (e.g. an sdist)"
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
RECORDS = opref.unique(OPS)


def tensor_ops() -> list[Op]:
    """The records flambeau.tensor declares itself (other packages may add theirs to the table)."""
    return [op for op in RECORDS if getattr(op.impl, "__module__", "").startswith("flambeau.tensor.")]


def run_doctest(text: str, name: str) -> doctest.TestResults:
    test = doctest.DocTestParser().get_doctest(text, {}, name, name, 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=lambda s: print(s, end=""))
    return runner.summarize(verbose=False)


@needs_repo
def test_docs_ops_md_is_the_generated_reference() -> None:
    path = DOCS / "ops.md"
    assert path.is_file(), "docs/ops.md is missing: run `python -m flambeau.tensor.opref > docs/ops.md`"
    assert path.read_text(encoding="utf-8") == opref.render(tensor_ops()), (
        "docs/ops.md is stale: regenerate it with `python -m flambeau.tensor.opref > docs/ops.md`"
    )


def test_every_op_has_a_section_with_its_example_and_forms() -> None:
    text = opref.render()
    for name, op in OPS.items():
        key = opref.key(op)
        assert f"\n### `{key}`\n" in text, name
        assert op.example.strip() in text, name
        section = text.split(f"\n### `{key}`\n", 1)[1].split("\n### ", 1)[0]
        if "function" in op.variants:
            assert f"ft.{op.name}({op.signature})" in section
        if "inplace" in op.variants:
            assert f"Tensor.{op.name}_(" in section
        for alias in op.aliases:
            assert f"`{alias}`" in section
    assert text.count("\n### ") == len(RECORDS)


def test_summary_table_lists_every_op_once_in_group_order() -> None:
    rows = [line for line in opref.render().splitlines() if line.startswith("| [`")]
    assert [re.match(r"\| \[`([^`]+)`\]", r)[1] for r in rows] == [
        opref.key(op) for g in opref.GROUPS for op in RECORDS if op.group == g
    ] + [opref.key(op) for op in RECORDS if op.group not in opref.GROUPS]
    assert "| [`add`](#add) | Element-wise maths | function, method, in-place, out= | input, other |" in rows


def test_section_shows_each_form_aliases_dtype_rule_and_gradients() -> None:
    text = opref.section(OPS["mul"])
    assert "ft.mul(input, other, *, out=None)\nTensor.mul(other)\nTensor.mul_(other)  # in place" in text
    assert "**Aliases:** `cmul`" in text and "**`out=`:**" in text
    assert "with respect to `input`, `other`" in text
    assert "default float type" in opref.section(OPS["div"])
    assert "**Differentiable:** no" in opref.section(OPS["lt"]) and "ByteTensor" in opref.section(OPS["lt"])
    fill = opref.section(OPS["uniform_"])
    assert "Tensor.uniform_(a=0.0, b=1.0, *, generator=None)  # in place" in fill
    assert "Tensor.uniform(" not in fill and "out=" not in fill


def test_problems_reports_records_without_doc_or_example() -> None:
    bare = Op("bare", lambda xp, input: input, group="pointwise")
    assert opref.problems([bare]) == ["bare: no doc", "bare: no example"]
    text = opref.render([bare])
    assert "*(no description)*" in text and "*(no example)*" in text


def test_every_op_has_a_doc_and_an_example() -> None:
    assert opref.problems() == []


@pytest.mark.parametrize("op", RECORDS, ids=[opref.key(op) for op in RECORDS])
def test_every_example_runs(op: Op) -> None:
    ft.manual_seed(1234)
    result = run_doctest(op.example, f"example of {opref.key(op)}")
    assert result.attempted > 0 and result.failed == 0


def test_main_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert opref.main() == 0
    assert capsys.readouterr().out == opref.render()


@needs_repo
@pytest.mark.parametrize("page", ["index.md", "guide/tensors.md", "torch7-mapping.md"])
def test_docs_page_examples_run(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = re.findall(r"^```pycon\n(.*?)^```", text, re.S | re.M)
    assert blocks, f"docs/{page} has no examples"
    try:
        result = run_doctest("\n\n".join(blocks), f"docs/{page}")
    finally:
        ft.set_default_tensor_type(ft.DoubleTensor)
    assert result.failed == 0
