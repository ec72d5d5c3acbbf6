"""Inline help: ``help(ft.cmul)`` reads like Torch7's ``?torch.cmul``.

Every generated form's docstring starts with the call forms the op has (each with what it returns),
then the record's text, then (function forms, and fills, which have no other) the ``Examples``
section that doctest runs. That the examples pass is test_op_examples.py's job; this file checks
the layout.
"""

from __future__ import annotations

import doctest
import inspect
import pydoc
import re

import pytest

import flambeau.tensor as ft
from flambeau.tensor.optable import OPS, Op, docstring

RECORDS = sorted({id(op): op for op in OPS.values()}.values(), key=lambda op: op.name)
FORM = re.compile(r"^(ft|Tensor)\.\w+\(.*\) -> \S.*$")


def generated(op: Op) -> list[tuple[str, object]]:
    """(label, callable) for every generated form of the op that carries a docstring."""
    out: list[tuple[str, object]] = []
    if op.kind == "fill":
        return [("inplace", getattr(ft, op.name + "_")), ("inplace", getattr(ft.Tensor, op.name + "_"))]
    if "function" in op.variants:
        out.append(("function", getattr(ft, op.name)))
    elif "method" in op.variants:
        out.append(("function", getattr(ft.Tensor, op.name)))
    if "inplace" in op.variants:
        out.append(("inplace", getattr(ft.Tensor, op.name + "_")))
    return out


def test_help_of_cmul_reads_like_torch7() -> None:
    text = pydoc.render_doc(ft.cmul, renderer=pydoc.plaintext)
    body = inspect.cleandoc(ft.cmul.__doc__)
    assert body.splitlines()[:4] == [
        "ft.mul(input, other, *, out=None) -> Tensor",
        "Tensor.mul(other) -> Tensor",
        "Tensor.mul_(other) -> Tensor  # in place",
        "Also named: cmul (every form)",
    ]
    for line in body.splitlines():
        assert line in text
    assert "Element-wise product" in text
    assert "Examples\n    --------\n    >>> import flambeau.tensor as ft" in text


def test_help_of_an_in_place_method_and_of_a_fill() -> None:
    text = pydoc.render_doc(ft.Tensor.add_, renderer=pydoc.plaintext)
    assert "Tensor.add_(other, *, alpha=1) -> Tensor  # in place" in text
    assert "In-place form of ``add``" in text and "Examples" not in text  # the example lives on ft.add
    fill = inspect.cleandoc(ft.uniform_.__doc__)
    assert fill.startswith("Tensor.uniform_(a=0.0, b=1.0, *, generator=None) -> Tensor  # in place\n")
    assert "ft.uniform_(input, a=0.0, b=1.0, *, generator=None) -> Tensor" in fill
    assert "generator=" in fill and ">>> x = ft.zeros(1000).uniform_(2, 3)" in fill  # fills keep their example


def test_help_shows_tuple_results_and_factories() -> None:
    assert ft.max.__doc__.startswith("ft.max(input, dim=None, keepdim=False, *, out=None) -> (values, indices)")
    assert ft.zeros.__doc__.startswith("ft.zeros(*size, dtype=None, device=None, out=None) -> Tensor\n\n")
    assert ft.lt.__doc__.startswith("ft.lt(input, other, *, out=None) -> ByteTensor")
    assert "Tensor.rand(" not in ft.rand.__doc__  # factories have no method form


@pytest.mark.parametrize("op", RECORDS, ids=lambda op: op.name)
def test_every_docstring_starts_with_its_forms_then_text_then_example(op: Op) -> None:
    for form, fn in generated(op):
        doc = fn.__doc__
        assert doc == docstring(op, form)
        head, _, rest = doc.partition("\n\n")
        lines = head.splitlines()
        forms = [ln for ln in lines if not ln.startswith("Also named: ") and ln != op.syntax]
        assert forms and all(FORM.match(ln) for ln in forms), head
        if "function" in op.variants:  # the first form is the function's real signature
            assert lines[op.syntax != ""].startswith(f"ft.{op.name}{inspect.signature(getattr(ft, op.name))} -> ")
        # exactly the forms that exist are listed
        assert (f"Tensor.{op.name}(" in head) == ("method" in op.variants and op.kind != "fill")
        assert (f"Tensor.{op.name}_(" in head) == ("inplace" in op.variants)
        for alias in op.aliases:
            assert alias in lines[-1] and lines[-1].startswith("Also named: ")
        assert op.doc.strip() in rest
        assert ("generator=" in rest) == op.rng
        has_example = "\nExamples\n--------\n>>> " in doc
        assert has_example == (form == "function" or op.kind == "fill"), op.name
        if has_example:
            assert doc.rstrip("\n").endswith(op.example.strip("\n"))


def test_doctest_finds_the_examples_of_generated_functions() -> None:
    tests = doctest.DocTestFinder().find(ft.cmul, "cmul", globs={})
    assert tests and tests[0].examples and tests[0].examples[0].source.startswith("import flambeau.tensor")
    fills = doctest.DocTestFinder().find(ft.normal_, "normal_", globs={})
    assert fills and fills[0].examples
