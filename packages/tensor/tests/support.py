"""Helpers shared by the tests (importable: conftest puts this folder on sys.path)."""

from __future__ import annotations

import numpy as np

import flambeau.tensor as ft


def layouts(a: np.ndarray) -> dict[str, ft.Tensor]:
    """The same values as tensors of several memory layouts: contiguous, strided, transposed, offset."""
    out = {"contiguous": ft.from_numpy(np.array(a, order="C", copy=True))}
    if a.ndim >= 1 and a.size:
        big = np.zeros((a.shape[0] * 2,) + a.shape[1:], dtype=a.dtype)
        big[::2] = a
        out["strided"] = ft.from_numpy(big).narrow(0, 0, big.shape[0]).unfold(0, 1, 2).select(a.ndim, 0)
        if a.ndim >= 2:
            out["transposed"] = ft.from_numpy(np.ascontiguousarray(np.swapaxes(a, 0, 1))).transpose(0, 1)
        flat = np.concatenate([np.zeros(3, dtype=a.dtype), a.reshape(-1)])
        out["offset"] = ft.from_numpy(flat)[3:].view(*a.shape)
    for name, t in out.items():
        assert np.array_equal(t.numpy(), a, equal_nan=a.dtype.kind == "f"), name
    return out
