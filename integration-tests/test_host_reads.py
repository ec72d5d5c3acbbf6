"""No host round-trip in the op path: an op (or its gradient) on device tensors never reads a device value into Python.

On a GPU, ``float(a)``, ``bool(a)``, ``int(a)``, ``a.item()`` or ``a.tolist()`` on a device array
waits for the device and copies; an op that did one per call would stall every pipeline it is in.
The ``boxed`` test backend counts such reads (``boxed_backend.HOST_READS``), so every case of the
op table (``packages/tensor/tests/opcases*.py``) runs here, through the function form, on boxed
tensors, and must make none. Only the reads a user asks for (``item``, ``tolist``, ``print``,
``bool(t)``) may read; the few ops that must know a value to raise a clear error or size their
result are listed with the reason. The backward pass of every gradient rule (the cases of
``packages/autograd/tests/gradcases_*.py``) must read exactly what its forward pass reads: autograd
runs the rules inside ``trusted_values()``, where ops skip re-checking values the forward checked.
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


# -- gradients ------------------------------------------------------------------------------------

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "packages" / "autograd" / "tests"))


def _grad_cases() -> list[Any]:
    import importlib

    cases = []
    for path in sorted(
        (Path(__file__).resolve().parent.parent / "packages" / "autograd" / "tests").glob("gradcases_*.py")
    ):
        for name, cs in importlib.import_module(path.stem).CASES.items():
            cases += [pytest.param(name, c, id=f"{name}-{i}") for i, c in enumerate(cs) if c.call is None]
    return cases


def _loss(out: Any) -> Any:
    """The sum of every floating-point tensor among an op's outputs (a scalar to differentiate)."""
    outs = out if isinstance(out, (tuple, list)) else (out,)
    parts = [o.sum() for o in outs if isinstance(o, ft.Tensor) and o.dtype.kind == "f"]
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


# The gradient of masked_select puts g at the mask's positions with masked_copy, which must count
# them to size the values (cupy's boolean-mask assignment counts them on the host as well).
GRAD_MUST_READ = {"masked_select": "its gradient scatters into the mask's positions, which it counts"}


@pytest.mark.parametrize(("name", "case"), _grad_cases())
def test_gradients_read_no_device_value_into_python(name: str, case: Any) -> None:
    """The backward pass of every rule stays on the device: the same reads as the forward, no more."""
    from gradcase import default_wrt

    from flambeau.autograd import grad

    op = OPS[name]
    args = [_boxed(a) for a in case.args]
    wrt = default_wrt(op, args, case)
    if not wrt:
        pytest.skip("differentiates a list argument (checked by the autograd suite)")
    fn = getattr(ft, name)
    HOST_READS.clear()
    _loss(fn(*args, **case.kwargs))
    forward = dict(HOST_READS)
    HOST_READS.clear()
    grad(lambda *xs: _loss(fn(*xs, **case.kwargs)), tuple(wrt))(*args)
    if name in GRAD_MUST_READ:
        assert dict(HOST_READS) != forward, f"{name} no longer reads in its gradient: take it off GRAD_MUST_READ"
        return
    assert dict(HOST_READS) == forward, f"the gradient of ft.{name} read device values: {dict(HOST_READS)}"
