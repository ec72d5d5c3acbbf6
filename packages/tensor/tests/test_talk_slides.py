"""The tensor slides of the talk ("Machine Learning with Torch + Autograd", 2016), as tests.

The slides' code runs unchanged on any device: a device suite.
"""

from __future__ import annotations

import numpy as np
import pytest
from support import typename

import flambeau.tensor as ft
from flambeau.tensor.testing import host

pytestmark = pytest.mark.device


def test_matrix_product_three_ways_including_out() -> None:
    a, b = ft.randn(5, 4), ft.randn(4, 3)
    expected = host(a) @ host(b)
    c = ft.DoubleTensor(5, 3)
    ft.mm(a, b, out=c)
    for result in (a @ b, ft.mm(a, b), a.mm(b), c):
        np.testing.assert_allclose(host(result), expected, rtol=1e-12)
    r = ft.zeros(1)  # Torch7's result argument is resized to fit
    assert ft.mm(a, b, out=r) is r and r.size() == (5, 3)


def test_eye_times_4_minus_2() -> None:
    a = ft.eye(3) * 4 - 2
    assert a.tolist() == [[2, -2, -2], [-2, 2, -2], [-2, -2, 2]]


def test_max_of_a_float_tensor() -> None:
    m = ft.max(ft.FloatTensor([1, 3, 5]))
    assert m == 5 and m.item() == 5.0 and float(m) == 5.0 and m.dim() == 0


def test_clamp_of_an_inclusive_range() -> None:
    assert ft.clamp(ft.range(0, 4), 0, 2).tolist() == [0, 1, 2, 2, 2]


def test_le_gives_a_byte_tensor() -> None:
    r = ft.le(ft.range(1, 5), 3)
    assert r.type() == typename("ByteTensor") and r.tolist() == [1, 1, 1, 0, 0]


def test_select_fill_changes_row_2() -> None:
    a = ft.rand(5, 3)
    before = a.clone()
    a.select(0, 2).fill_(3)
    assert a[2].tolist() == [3, 3, 3]
    mask = ft.ones(5, dtype=ft.ByteTensor)
    mask[2] = 0
    assert a[mask].equal(before[mask])


def test_storage_view_and_printing_of_the_slides() -> None:
    x = ft.DoubleTensor(4, 5).zero_()
    s = x.storage()
    for i in range(s.size()):
        s[i] = i
    assert x.tolist()[1] == [5, 6, 7, 8, 9]
    assert str(x.t()).endswith(f"[{typename('DoubleTensor')} of size 5x4]")
