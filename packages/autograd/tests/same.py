"""``assert_same``: two results (nests of dicts, lists, tuples, tensors and numbers) agree."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.tensor.testing import host


def assert_same(a: Any, b: Any, rtol: float = 1e-12, atol: float = 1e-12) -> None:
    """Same structure, container types, sizes and dtypes, and values within ``rtol``/``atol``."""
    if isinstance(a, dict):
        assert type(a) is type(b) and a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k], rtol, atol)
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y, rtol, atol)
    elif isinstance(a, ft.Tensor):
        assert isinstance(b, ft.Tensor) and a.size() == b.size() and a.dtype == b.dtype
        np.testing.assert_allclose(host(a), host(b), rtol=rtol, atol=atol)
    else:
        assert type(a) is type(b) and a == pytest.approx(b, rel=rtol, abs=atol)
