"""apply_, map_ and map2_ (Python callables over elements), and the cases of the sorting, matrix and
bitwise ops that test_ops' table cannot hold: NaN inputs (its layouts compare without NaN) and
errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from support import layouts

import flambeau.tensor as ft
from flambeau.tensor.testing import host, on_device

pytestmark = pytest.mark.device

NAN = float("nan")


def _vectorized(fn: Any, a: np.ndarray, *others: np.ndarray) -> np.ndarray:
    """The reference: ``fn`` over the elements in row-major order, None keeping the element."""
    keep = np.vectorize(lambda x, *ys: x if fn(x, *ys) is None else fn(x, *ys), otypes=[a.dtype])
    return keep(a, *(o.reshape(a.shape) for o in others))


@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int64, np.int16, np.uint8])
def test_apply_matches_a_vectorized_reference_on_every_layout(dt: Any) -> None:
    a = np.arange(12, dtype=np.float64).reshape(3, 4).astype(dt)

    def fn(x: Any) -> Any:
        return x * 3 % 7 if x % 2 else None

    for layout, t in layouts(a).items():
        r = t.apply_(fn)
        assert r is t, layout
        np.testing.assert_array_equal(host(t), _vectorized(fn, a), err_msg=layout)
        assert t.dtype == np.dtype(dt)


def test_apply_visits_elements_in_row_major_order_with_python_numbers() -> None:
    t = ft.tensor([[1, 2], [3, 4]]).t()  # a transposed view: logical order, not memory order
    seen: list[Any] = []
    assert t.apply_(seen.append) is t
    assert seen == [1, 3, 2, 4] and all(type(x) is int for x in seen)
    assert t.tolist() == [[1, 3], [2, 4]]


def test_apply_writes_through_views_into_the_storage() -> None:
    base = ft.zeros(3, 4)
    base.select(1, 2).apply_(lambda x: 7.0)
    assert base.sum().item() == 21 and base[:, 2].tolist() == [7.0, 7.0, 7.0]


def test_apply_converts_results_to_the_tensor_type() -> None:
    t = ft.LongTensor([1, 2])
    t.apply_(lambda x: x + 0.75)  # truncated, as a C cast into Torch7's LongTensor
    assert t.tolist() == [1, 2] and t.dtype == np.int64


def test_map_and_map2_match_vectorized_references() -> None:
    a, b, c = np.arange(6.0).reshape(2, 3), np.arange(6.0, 12.0), np.full((3, 2), 2.0)
    for layout, t in layouts(a).items():
        r = t.map_(on_device(b), lambda x, y: x * y if y > 8 else None)
        assert r is t
        np.testing.assert_array_equal(host(t), _vectorized(lambda x, y: x * y if y > 8 else None, a, b), layout)
    for layout, t in layouts(a).items():
        ft.map2_(t, on_device(b), on_device(c).t(), lambda x, y, z: x + y * z)
        np.testing.assert_array_equal(host(t), a + b.reshape(2, 3) * c.T.reshape(2, 3), layout)


def test_map_pairs_elements_by_count_not_shape_as_torch7() -> None:
    t = ft.zeros(2, 2)
    t.map_(ft.tensor([1.0, 2.0, 3.0, 4.0]), lambda x, y: y)
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda t: t.map_(ft.zeros(3), lambda x, y: y), ft.ShapeError),
        (lambda t: t.map2_(ft.zeros(4), ft.zeros(5), lambda x, y, z: y), ft.ShapeError),
        (lambda t: t.map_(2.0, lambda x, y: y), ft.ArgumentError),
        (lambda t: t.apply_(3), ft.ArgumentError),
        (lambda t: t.apply_(lambda x: "text"), ft.FlambeauError),
        (lambda t: t.apply_(lambda x: 1 / (x - 2)), ZeroDivisionError),  # the function's own error
    ],
)
def test_failures_leave_the_tensor_unchanged(call: Any, error: type[Exception]) -> None:
    t = ft.tensor([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(error):
        call(t)
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_function_forms_exist_for_the_in_place_ops() -> None:
    t = ft.tensor([1.0, 2.0])
    assert ft.apply_(t, lambda x: -x) is t and t.tolist() == [-1.0, -2.0]
    assert ft.map_(t, ft.tensor([5.0, 6.0]), lambda x, y: x + y).tolist() == [4.0, 4.0]
    assert not hasattr(ft, "map") or ft.map is map  # no shadowing of the builtin


# -- NaN: sorts as the largest value ----------------------------------------------------------------


def test_sort_puts_nan_last_ascending_and_first_descending() -> None:
    t = ft.tensor([1.0, NAN, 3.0, NAN, 2.0])
    v, i = t.sort()
    np.testing.assert_array_equal(host(v), [1.0, 2.0, 3.0, NAN, NAN])
    assert i.tolist() == [0, 4, 2, 1, 3]
    v, i = t.sort(descending=True)
    np.testing.assert_array_equal(host(v), [NAN, NAN, 3.0, 2.0, 1.0])
    assert i.tolist() == [1, 3, 2, 4, 0]
    v, i = t.topk(2)
    np.testing.assert_array_equal(host(v), [NAN, NAN])
    assert i.tolist() == [1, 3]
    assert t.median().item() == 3.0  # rank 2 of 5 in numpy's order


def test_histc_ignores_nan() -> None:
    assert ft.histc(ft.tensor([0.0, NAN, 0.5, 2.9, 3.0]), bins=3).tolist() == [2.0, 0.0, 2.0]


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: ft.topk(ft.zeros(3), 4), ft.IndexError, "topk: k=4"),
        (lambda: ft.topk(ft.zeros(3), -1), ft.IndexError, "topk"),
        (lambda: ft.kthvalue(ft.zeros(3), 0), ft.IndexError, "counts from 1"),
        (lambda: ft.kthvalue(ft.zeros(3), 4), ft.IndexError, "kthvalue"),
        (lambda: ft.sort(ft.zeros(2, 3), 2), ft.IndexError, "sort: dim 2"),
        (lambda: ft.median(ft.zeros(0)), ft.ShapeError, "median"),
        (lambda: ft.median(ft.zeros(2, 0), 1), ft.ShapeError, "median"),
        (lambda: ft.mode(ft.zeros(0)), ft.ShapeError, "mode"),
        (lambda: ft.diag(ft.zeros(2, 2, 2)), ft.ShapeError, "diag"),
        (lambda: ft.trace(ft.zeros(3)), ft.ShapeError, "trace"),
        (lambda: ft.tril(ft.zeros(3)), ft.ShapeError, "tril"),
        (lambda: ft.histc(ft.zeros(3), bins=0), ft.DomainError, "bins"),
        (lambda: ft.histc(ft.zeros(3), min=2, max=1), ft.DomainError, "min"),
        (lambda: ft.bhistc(ft.zeros(3)), ft.ShapeError, "bhistc"),
        (lambda: ft.renorm(ft.ones(2, 2), 0, 0, 1), ft.DomainError, "renorm: p"),
        (lambda: ft.renorm(ft.ones(2, 2), 2, 2, 1), ft.IndexError, "renorm: dim"),
        (lambda: ft.match(ft.zeros(2, 3), ft.zeros(2, 4)), ft.ShapeError, "match"),
        (lambda: ft.lshift(ft.LongTensor([1]), -1), ft.DomainError, "lshift"),
        (lambda: ft.lshift(ft.LongTensor([1]), 1.5), ft.DTypeError, "lshift"),
        (lambda: ft.bitnot(ft.zeros(2)), ft.DTypeError, "bitnot"),
    ],
)
def test_errors_name_the_op(call: Any, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        call()


def test_renorm_in_place_on_an_integer_tensor_is_refused_and_leaves_it_unchanged() -> None:
    t = ft.LongTensor([[3, 4], [0, 1]])
    with pytest.raises(ft.DTypeError):
        t.renorm_(2, 0, 1)
    assert t.tolist() == [[3, 4], [0, 1]]
