"""The op table keeps its promises: every op documented with a runnable example that passes,
every generated form present, every declared differentiable argument a real parameter."""

from __future__ import annotations

import doctest
import inspect

import pytest

import flambeau.tensor as ft
from flambeau.tensor.optable import OPS
from flambeau.tensor.testing import spec

RECORDS = sorted({id(op): op for op in OPS.values()}.values(), key=lambda op: op.name)


# Examples printing a float that cuSOLVER or CUDA's libm rounds differently in the last bit
# (1.0000000000000002 for 1.0): their values are checked with tolerances by test_ops.py.
LAST_BIT = {"symeig", "eigh", "var", "log2"}


@pytest.mark.device  # each example runs on the device under test (tensors it makes land there)
@pytest.mark.parametrize("op", RECORDS, ids=lambda op: op.name)
def test_example_runs(op) -> None:  # noqa: ANN001
    if op.name in LAST_BIT and spec().split(":")[0] == "cuda":
        pytest.skip("the example prints a float whose last bit differs on cuda; test_ops checks the values")
    assert op.doc.strip(), f"{op.name} has no doc"
    assert ">>>" in op.example, f"{op.name} has no example"
    test = doctest.DocTestParser().get_doctest(op.example, {}, op.name, None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    ft.manual_seed(0)
    runner.run(test)
    assert runner.failures == 0, f"the example of {op.name} fails"


@pytest.mark.parametrize("op", RECORDS, ids=lambda op: op.name)
def test_generated_forms_exist_with_docs_and_signatures(op) -> None:  # noqa: ANN001
    fill = op.kind == "fill"
    name = op.name + ("_" if fill else "")
    for alias in (op.name, *op.aliases):
        alias += "_" if fill else ""
        if "function" in op.variants or fill:
            fn = getattr(ft, alias)
            assert fn.__doc__ and op.doc.strip().split("\n")[0][:30] in fn.__doc__
        if "method" in op.variants:
            assert callable(getattr(ft.Tensor, alias))
        if "inplace" in op.variants and not fill:
            assert getattr(ft.Tensor, alias + "_").__name__ == name + "_"
    if "function" in op.variants:
        fn = getattr(ft, op.name)
        params = inspect.signature(fn).parameters
        assert ("out" in params) == ("out" in op.variants)
        assert fn.__op__ is op


@pytest.mark.parametrize("op", RECORDS, ids=lambda op: op.name)
def test_differentiable_arguments_are_tensor_parameters(op) -> None:  # noqa: ANN001
    assert set(op.differentiable) <= set(op.tensors) | set(op.seqs), op.name


def test_forms_that_must_not_exist() -> None:
    assert not hasattr(ft.Tensor, "mm_")  # a product's size differs from its input's
    assert not hasattr(ft.Tensor, "view_")  # views have no in-place form
    assert not hasattr(ft.Tensor, "cat")  # joins take a list, not self
    assert not hasattr(ft, "uniform")  # fills exist in place only
