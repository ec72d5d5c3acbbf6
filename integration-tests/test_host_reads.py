"""No host round-trip in the op path: an op on device tensors never reads a device value into Python.

On a GPU, ``float(a)``, ``bool(a)``, ``int(a)``, ``a.item()`` or ``a.tolist()`` on a device array
waits for the device and copies; an op that did one per call would stall every pipeline it is in.
The ``boxed`` test backend counts such reads (``boxed_backend.HOST_READS``), so every case of the
op table (``packages/tensor/tests/opcases*.py``) runs here, through the function form, on boxed
tensors, and must make none. Only the reads a user asks for (``item``, ``tolist``, ``print``,
``bool(t)``) may read; the few ops that must know a value to size their result (a mask's count,
``nonzero``) are listed with the reason.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.tensor.optable import OPS

boxed_backend = pytest.importorskip("boxed_backend", reason="install ./integration-tests/plugins/boxed-backend")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "packages" / "tensor" / "tests"))
from opcases import CASES  # noqa: E402

HOST_READS = boxed_backend.HOST_READS


def _always(args: list[Any], kwargs: dict[str, Any]) -> bool:
    return True


def _integers_only(args: list[Any], kwargs: dict[str, Any]) -> bool:
    return all(not isinstance(a, ft.Tensor) or a.dtype.kind in "iu" for a in args)


def _own_range(args: list[Any], kwargs: dict[str, Any]) -> bool:
    lo, hi = (list(args[2:4]) + [kwargs.get("min", 0), kwargs.get("max", 0)])[:2]
    return bool(lo == hi)


_LINALG = (
    "it raises on a singular or non-positive-definite matrix, which cuSOLVER reports in device memory"
    " (PyTorch's linalg reads it too)"
)
_INDEX = "it checks its indices' range to raise a clear IndexError (Torch7's CUDA kernels asserted on the device)"

# Ops that read device values, why, and in which cases (a read outside them fails the test).
MUST_READ: dict[str, tuple[str, Any]] = {
    **{name: (_LINALG, _always) for name in ("gesv", "solve", "trtrs", "potrf", "cholesky", "potri", "potrs")},
    "inverse": (_LINALG, _always),
    "pstrf": ("the pivoted Cholesky picks each pivot from the values, one step at a time", _always),
    "pow": ("integers to negative integer powers are refused as numpy does (cupy gives 0 silently)", _integers_only),
    **{name: (_INDEX, _always) for name in ("index_select", "gather", "scatter", "index_fill", "index_copy")},
    "index_add": (_INDEX, _always),
    "masked_copy": ("the mask's count must match the source's size", _always),
    "histc": ("with min == max the bins span the data's own range, read first (as PyTorch's histc)", _own_range),
    "bhistc": ("with min == max the bins span the data's own range, read first", _own_range),
}


def _boxed(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return ft.from_numpy(v.copy()).to("boxed")
    if isinstance(v, list):
        return [_boxed(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_boxed(x) for x in v)
    return v


def _params() -> list[Any]:
    return [
        pytest.param(name, case, id=f"{name}-{i}")
        for name, cases in CASES.items()
        for i, case in enumerate(cases)
        if name in OPS and "function" in OPS[name].variants and not OPS[name].rng
    ]


@pytest.mark.parametrize(("name", "case"), _params())
def test_ops_read_no_device_value_into_python(name: str, case: Any) -> None:
    dt = np.dtype(case.dtypes[0])
    args = [_boxed(a.astype(dt) if isinstance(a, np.ndarray) and a.dtype == np.float64 else a) for a in case.args]
    HOST_READS.clear()
    getattr(ft, name)(*args, **case.kwargs)
    reads = dict(HOST_READS)
    if reads and name in MUST_READ and MUST_READ[name][1](args, case.kwargs):
        return  # a documented read (see MUST_READ)
    assert not reads, f"ft.{name} read device values into Python: {reads}"


def test_every_allowed_read_is_still_needed() -> None:
    """An op that stopped reading leaves MUST_READ: the list stays the truth."""
    readers = set()
    for p in _params():
        name, case = p.values
        dt = np.dtype(case.dtypes[0])
        args = [_boxed(a.astype(dt) if isinstance(a, np.ndarray) and a.dtype == np.float64 else a) for a in case.args]
        HOST_READS.clear()
        getattr(ft, name)(*args, **case.kwargs)
        if HOST_READS:
            readers.add(name)
    assert sorted(set(MUST_READ) - readers) == []
