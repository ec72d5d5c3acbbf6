"""The program a CUDA graph captures, on the CPU: autograd's compiled programs run with the cupy
backend's capture namespace (its GEMMs through a reference BLAS on raw pointers, numpy in cupy's
place) give what the programs give, and every matrix product of them goes through GEMM.

On a GPU the same thing runs with cuBLAS called by ctypes, inside a stream capture (the ``gpu``
tests of packages/autograd/tests/test_graphs.py); what is checked here is that swapping the
namespace into a compiled program reaches every product, forward and backward, fused or not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.autograd import grad, program
from flambeau.autograd.graphs import segments
from flambeau.autograd.model import _conv2d, _max_pool2d
from flambeau.backends.cupy.capture import CaptureNamespace
from flambeau.backends.cupy.gemm import NumpyBlas
from flambeau.tensor.optable import trusted_values


def _mlp_loss(p: dict[str, Any], x: Any, y: Any) -> Any:
    h = ft.tanh(x @ p["W1"] + p["b1"])
    h = ft.tanh(h @ p["W2"] + p["b2"])
    z = h @ p["W3"] + p["b3"]
    return -ft.sum((z - ft.logsumexp(z, 1, keepdim=True)) * y)


def _convnet_loss(q: dict[str, Any], x: Any, y: Any) -> Any:
    h = _max_pool2d(ft.tanh(_conv2d(x, q["W1"], q["b1"], 1, 0)), 2)
    z = h.reshape(x.size(0), -1) @ q["W2"].t() + q["b2"]
    logp = z - ft.logsumexp(z, 1, keepdim=True)
    return -logp.gather(1, y.view(-1, 1)).mean()


def _mlp(rng: np.random.Generator, dtype: Any) -> tuple[dict[str, Any], Any, Any]:
    sizes = [(20, 9), (9, 7), (7, 4)]
    p = {f"W{i}": rng.standard_normal(s) / 3 for i, s in enumerate(sizes, 1)}
    p |= {f"b{i}": rng.standard_normal(s[1]) / 10 for i, s in enumerate(sizes, 1)}
    x, y = rng.standard_normal((16, 20)), np.eye(4)[rng.integers(0, 4, 16)]
    t = {k: ft.from_numpy(v.astype(dtype)) for k, v in p.items()}
    return t, ft.from_numpy(x.astype(dtype)), ft.from_numpy(y.astype(dtype))


def _convnet(rng: np.random.Generator, dtype: Any) -> tuple[dict[str, Any], Any, Any]:
    p = {
        "W1": rng.uniform(-0.3, 0.3, (4, 3, 3, 3)),
        "b1": rng.uniform(-0.1, 0.1, 4),
        "W2": rng.uniform(-0.3, 0.3, (5, 4 * 4 * 4)),
        "b2": rng.uniform(-0.1, 0.1, 5),
    }
    t = {k: ft.from_numpy(v.astype(dtype)) for k, v in p.items()}
    x = ft.from_numpy(rng.standard_normal((6, 3, 10, 10)).astype(dtype))
    return t, x, ft.from_numpy(rng.integers(0, 5, 6))


# (model, products in forward + backward): the MLP's 3 layers take 3 forward and 5 backward
# products (no gradient for the input); the convnet's 2 take 2 and 3 (its input's gradient is
# not needed either).
CASES = [("mlp", _mlp, _mlp_loss, 8), ("convnet", _convnet, _convnet_loss, 5)]


@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "make", "loss", "products"), CASES, ids=[c[0] for c in CASES])
def test_the_capture_namespace_reaches_every_product_and_changes_no_result(
    name: str, make: Any, loss: Any, products: int, dtype: Any, fused: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fused:
        monkeypatch.setattr(program, "FUSE_ON", {"cpu"})  # the kernels' numpy evaluators: cuda's program shape
    p, x, y = make(np.random.default_rng(0), dtype)
    df = grad(loss, optimize=True)
    with trusted_values():
        df(p, x, y)
        want = df(p, x, y)
        (prog,) = next(iter(df.programs.values()))
        assert bool(prog.kernels) == fused
        blas = NumpyBlas()
        ((segment, guard),) = segments(prog, CaptureNamespace(np, blas))  # what CapturedGraph captures
        assert guard is None
        got = segment([*p.values(), x, y], {})
    assert len(blas.calls) == products
    assert {c[0] for c in blas.calls} == {np.dtype(dtype).name}
    tol = 1e-5 if dtype == np.float32 else 1e-12
    g, v = got
    np.testing.assert_allclose(float(v), float(want[1]), rtol=tol)
    for k in p:
        np.testing.assert_allclose(g[k].numpy(), want[0][k].numpy(), rtol=tol, atol=tol, err_msg=k)
    # The program itself is untouched: it still calls numpy's own functions.
    assert any(v is np for v in prog.ns.values())
    assert not any(isinstance(v, CaptureNamespace) for v in prog.ns.values())
