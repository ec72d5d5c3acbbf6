"""Collectives on nested trees of mixed dtypes, on the cpu and on a device (through host buffers)."""

from __future__ import annotations

import common
import numpy as np
import pytest
from harness import RANKS, mpiexec

import flambeau.tensor as ft

DEVICES = ["cpu", pytest.param("boxed", id="boxed-device")]


def _reduce(values: list[list[object]], op: str, n: int) -> list[np.ndarray]:
    fn = {"sum": np.sum, "max": np.max, "min": np.min, "mean": np.mean}[op]
    return [fn(np.stack([np.asarray(v[k]) for v in values]), axis=0) for k in range(len(values[0]))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n", [2, 3])
def test_all_reduce_of_nested_trees_with_mixed_dtypes(tmp_path, n, device):
    if device == "boxed" and not any(b.device == "boxed" and b.available for b in ft.backends()):
        pytest.skip("the boxed test backend (integration-tests/plugins/boxed-backend) is not installed")
    mpiexec(n, RANKS / "reduce_tree.py", tmp_path, device)
    for r in range(n):
        with np.load(tmp_path / f"rank{r}.npz") as f:
            got = dict(f)
        for op in ("sum", "max", "min", "mean"):
            inputs = [common.leaf_values(common.mixed_tree(q, floats_only=op == "mean")) for q in range(n)]
            want = _reduce(inputs, op, n)
            for k, w in enumerate(want):
                g = got[f"{op}/{k}"]
                kind = str(got[f"{op}/{k}/type"])
                like = inputs[0][k]
                if isinstance(like, np.ndarray):
                    assert g.dtype == like.dtype, (op, k)  # dtypes kept: float32 stays float32, ints stay ints
                    assert g.shape == like.shape
                else:  # numbers stay Python numbers (a mean makes floats)
                    assert kind == ("float" if op == "mean" else type(like).__name__), (op, k, kind)
                np.testing.assert_allclose(
                    g, w, rtol=1e-6 if g.dtype == np.float32 else 1e-15, err_msg=f"{op} leaf {k}"
                )
        last = common.leaf_values(common.mixed_tree(n - 1))
        with np.load(tmp_path / f"rank{r}.npz") as f:
            for k, w in enumerate(last):
                np.testing.assert_array_equal(f[f"bcast/{k}"], w)
            assert int(f["state/t"]) == 0 and f["state/m"].tolist() == [0.0]
