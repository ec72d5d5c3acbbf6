"""Fused kernels of optimized programs: the fusion groups, the CUDA sources, and (on numpy, with the
kernels' evaluators) the same results as direct mode; marked ``gpu``, the same on cuda."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import fusioncases
import numpy as np
import pytest
from same import assert_same

import flambeau.tensor as ft
from flambeau.autograd import fusion, grad, optimize, program, util
from flambeau.autograd.model import _conv2d
from flambeau.autograd.program import Program
from flambeau.tensor.testing import cuda_reason


@pytest.fixture
def fuse_cpu(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(program, "FUSE_ON", {"cuda", "cpu"})
    yield


def _arr(*shape: int, dtype: Any = np.float32, seed: int = 0) -> ft.Tensor:
    return ft.from_numpy(np.random.default_rng(seed + len(shape)).standard_normal(shape).astype(dtype))


def _programs(f: Any) -> list[Program]:
    return [p for ps in f.programs.values() for p in ps]


def _kernels(f: Any) -> list[fusion.Kernel]:
    (p,) = _programs(f)
    return p.kernels


def _tol(dtype: Any) -> Any:
    return {"rtol": 1e-5, "atol": 1e-6} if np.dtype(dtype) == np.float32 else {"rtol": 1e-12, "atol": 1e-12}


def test_off_the_gpu_programs_are_not_fused_by_default() -> None:
    f = optimize(lambda x, b: ft.tanh(x * 2 + b))
    f(_arr(2, 3), _arr(3))
    assert _kernels(f) == [] and "fused" not in _programs(f)[0].source


@pytest.mark.parametrize(
    ("dtype", "body"),
    [
        (np.float32, "float t0 = v0 * v1;\nfloat t1 = t0 + v2;\nout0 = tanhf(t1);"),
        (np.float64, "double t0 = v0 * v1;\ndouble t1 = t0 + v2;\nout0 = tanh(t1);"),
    ],
)
def test_tanh_of_an_affine_map_is_one_elementwise_kernel(fuse_cpu: None, dtype: Any, body: str) -> None:
    f = optimize(lambda x, w, b: ft.tanh(x * w + b))
    x, w, b = _arr(4, 3, dtype=dtype), _arr(3, dtype=dtype), _arr(1, 3, dtype=dtype)  # broadcast inputs
    r1 = f(x, w, b)
    r2 = f(x, w, b)  # replayed through the fused kernel
    (k,) = _kernels(f)
    t = np.dtype(dtype).name
    assert (k.in_params, k.out_params, k.operation) == (f"{t} v0, {t} v1, {t} v2", f"{t} out0", body)
    assert k.reduce is None and k.name.startswith("fused_") and k.name.isidentifier()
    assert f"v5 = {k.name}(v0, v1, v2)" in _programs(f)[0].source
    expect = np.tanh(x.numpy() * w.numpy() + b.numpy())
    for r in (r1, r2):
        assert r.dtype == x.dtype and r.size() == x.size()
        np.testing.assert_allclose(r.numpy(), expect, **_tol(dtype))
    assert f.replays == 1


@pytest.mark.parametrize(("dtype", "lits"), [(np.float32, ("1.5f", "2.0f")), (np.float64, ("1.5", "2.0"))])
def test_number_literals_are_typed_like_the_chain(fuse_cpu: None, dtype: Any, lits: tuple[str, str]) -> None:
    f = optimize(lambda x: x * 1.5 - 2)
    x = _arr(5, dtype=dtype)
    f(x)
    r = f(x)
    (k,) = _kernels(f)
    c = "float" if dtype == np.float32 else "double"
    assert k.operation == f"{c} t0 = v0 * {lits[0]};\nout0 = t0 - {lits[1]};"
    assert r.dtype == x.dtype
    np.testing.assert_allclose(r.numpy(), x.numpy() * 1.5 - 2, **_tol(dtype))


def test_a_number_beyond_int64_is_no_kernel_literal_and_programs_elsewhere_are_not_planned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    big = 2**70
    f = optimize(lambda x: (x * 2) * big)
    x = _arr(3, dtype=np.float64)
    f(x)
    np.testing.assert_allclose(f(x).numpy(), x.numpy() * 2 * float(big))
    assert f.fallbacks == [] and not next(iter(f.programs.values()))[0].kernels  # nothing fuses on the cpu
    monkeypatch.setattr(program, "FUSE_ON", {"cpu"})
    g = optimize(lambda x: (x * 2 + 1).tanh() * big)
    g(x)
    np.testing.assert_allclose(g(x).numpy(), np.tanh(x.numpy() * 2 + 1) * float(big))
    kernels = _kernels(g)
    assert g.fallbacks == [] and kernels and all(str(big) not in k.source for k in kernels)


def test_literal_text() -> None:
    f32, f64, i64 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)
    assert [fusion._literal(v, f32) for v in (1, 0.1, 1e-5, 1e20)] == ["1.0f", "0.1f", "1e-05f", "1e+20f"]
    assert [fusion._literal(v, f64) for v in (1, 0.1, 1e-5)] == ["1.0", "0.1", "1e-05"]
    assert fusion._literal(3, i64) == "3LL" and fusion._literal(1, np.dtype(bool)) == "true"
    # integers in their exact C type (flb_max/flb_min are one-type templates; C has no short literal)
    ints = [(2, "int16", "((short)2)"), (-1, "int8", "((signed char)-1)"), (7, "uint8", "((unsigned char)7)")]
    ints += [
        (3, "int32", "3"),
        (3, "uint32", "3U"),
        (5, "uint64", "5ULL"),
        (-(2**63), "int64", "(-9223372036854775807LL - 1)"),
    ]
    assert [fusion._literal(v, np.dtype(t)) for v, t, _ in ints] == [want for _, _, want in ints]
    assert np.float32(float(fusion._literal(0.1, f32)[:-1])) == np.float32(0.1)


def test_a_mask_inside_a_group_is_a_bool_and_the_relu_backward_fuses(fuse_cpu: None) -> None:
    f = optimize(lambda x, g: ft.where(x > 0, g, 0.0))
    x, g = _arr(3, 4), _arr(3, 4, seed=1)
    f(x, g)
    r = f(x, g)
    (k,) = _kernels(f)
    assert k.operation == "bool t0 = v0 > 0.0f;\nout0 = t0 ? v1 : 0.0f;"
    np.testing.assert_array_equal(r.numpy(), np.where(x.numpy() > 0, g.numpy(), 0))


def test_a_mask_as_the_result_is_a_uint8_output(fuse_cpu: None) -> None:
    f = optimize(lambda x: x * 2 > 1)
    x = _arr(6)
    f(x)
    r = f(x)
    (k,) = _kernels(f)
    assert k.out_params == "uint8 out0" and k.operation == "float t0 = v0 * 2.0f;\nout0 = t0 > 1.0f;"
    assert r.type() == "flambeau.ByteTensor"
    np.testing.assert_array_equal(r.numpy(), (x.numpy() * 2 > 1).astype(np.uint8))


def test_a_mask_made_float_is_a_cast_in_the_kernel(fuse_cpu: None) -> None:
    f = optimize(lambda x, y: (x > 0).float() * y + 1)
    x, y = _arr(4), _arr(4, seed=3)
    f(x, y)
    r = f(x, y)
    (k,) = _kernels(f)
    assert k.operation == "bool t0 = v0 > 0.0f;\nfloat t1 = (float)t0;\nfloat t2 = t1 * v1;\nout0 = t2 + 1.0f;"
    np.testing.assert_allclose(r.numpy(), (x.numpy() > 0) * y.numpy() + 1, rtol=1e-6)


def test_a_value_read_by_two_chains_of_one_group_stays_inside(fuse_cpu: None) -> None:
    f = optimize(lambda x: (ft.exp(x) + 1) * (ft.exp(x) - 1))
    x = _arr(3)
    f(x)
    (k,) = _kernels(f)  # the second exp is shared with the first: read twice, inside the group
    assert k.operation == "float t0 = expf(v0);\nfloat t1 = t0 + 1.0f;\nfloat t2 = t0 - 1.0f;\nout0 = t1 * t2;"
    np.testing.assert_allclose(f(x).numpy(), np.expm1(2 * x.numpy().astype(np.float64)), rtol=1e-5)


def test_a_value_read_later_or_returned_ends_its_own_group(fuse_cpu: None) -> None:
    def fn(x: ft.Tensor, w: ft.Tensor) -> Any:
        a = ft.exp(x * 2)  # returned: computed by a kernel of its own
        h = ft.tanh(a + 1)  # read by the matmul: the end of a group
        return a, (h @ w) * 3 - 1

    f = optimize(fn)
    x, w = _arr(3, 4), _arr(4, 2, seed=5)
    f(x, w)
    a, out = f(x, w)
    ks = _kernels(f)
    assert [k.operation for k in ks] == [
        "float t0 = v0 * 2.0f;\nout0 = expf(t0);",
        "float t0 = v3 + 1.0f;\nout0 = tanhf(t0);",
        "float t0 = v6 * 3.0f;\nout0 = t0 - 1.0f;",
    ]
    src = _programs(f)[0].source
    assert "matmul(" in src and src.count("fused_") == 3
    ax = np.exp(x.numpy() * 2)
    np.testing.assert_allclose(a.numpy(), ax, rtol=1e-6)
    np.testing.assert_allclose(out.numpy(), (np.tanh(ax + 1) @ w.numpy()) * 3 - 1, rtol=1e-5, atol=1e-6)


def test_sum_and_mean_close_a_group_as_reduction_kernels(fuse_cpu: None) -> None:
    f = optimize(lambda x, y: ((x - y) * (x - y)).sum(1))
    g = optimize(lambda x: ft.abs(x).mean(0, keepdim=True))
    x, y = _arr(4, 5, dtype=np.float64), _arr(4, 5, dtype=np.float64, seed=1)
    f(x, y)
    g(x)
    rf, rg = f(x, y), g(x)
    (kf,), (kg,) = _kernels(f), _kernels(g)
    assert kf.reduce == ("sum", 1, False) and kf.post_map_expr == "out0 = a" and kf.reduce_type == "double"
    assert kf.map_expr.startswith("flb_map_") and kf.map_expr.endswith("(v0, v1)")
    assert "double t0 = v0 - v1;\n    return t0 * t0;\n" in kf.preamble  # x - y computed once
    assert kg.reduce == ("mean", 0, True) and kg.post_map_expr == "out0 = a / 4.0"
    np.testing.assert_allclose(rf.numpy(), ((x.numpy() - y.numpy()) ** 2).sum(1), rtol=1e-12)
    np.testing.assert_allclose(rg.numpy(), np.abs(x.numpy()).mean(0, keepdims=True), rtol=1e-12)
    assert rg.size() == (1, 5)


def test_an_integer_input_is_cast_in_the_kernel(fuse_cpu: None) -> None:
    f = optimize(lambda n, y: ft.exp(n) * y)
    n = ft.from_numpy(np.arange(4, dtype=np.int64))
    y = _arr(4, dtype=np.float64)
    f(n, y)
    r = f(n, y)
    (k,) = _kernels(f)
    assert k.in_params == "int64 v0, float64 v1"
    assert k.operation == "double t0 = (double)v0;\ndouble t1 = exp(t0);\nout0 = t1 * v1;"
    np.testing.assert_allclose(r.numpy(), np.exp(np.arange(4)) * y.numpy(), rtol=1e-12)


def _mlp_tanh(p: Any, x: ft.Tensor, y: ft.Tensor) -> ft.Tensor:
    return ((ft.tanh(x @ p["W"] + p["b"]) - y) ** 2).mean()


def _mlp_relu(p: Any, x: ft.Tensor, y: ft.Tensor) -> ft.Tensor:
    h = ft.cmax(x @ p["W"] + p["b"], 0)
    return ((ft.sigmoid(h) - y) ** 2).sum()


def _mlp_logsoftmax(p: Any, x: ft.Tensor, y: ft.Tensor) -> ft.Tensor:
    h = ft.clamp(x @ p["W"] + p["b"], -1, 1)
    return -(util.log_softmax(h * 2) * y).sum() / x.size(0)


def _convnet(p: Any, x: ft.Tensor, y: ft.Tensor) -> ft.Tensor:
    h = ft.cmax(_conv2d(x, p["K"], p["c"], 1, 1), 0)
    z = h.reshape(x.size(0), -1) @ p["W"] + p["b"]
    return ((ft.sigmoid(z) - y) ** 2).mean()


def _mlp_args(dtype: Any) -> tuple[Any, ...]:
    p = {"W": _arr(4, 3, dtype=dtype), "b": _arr(3, dtype=dtype, seed=1)}
    return p, _arr(5, 4, dtype=dtype, seed=2), _arr(5, 3, dtype=dtype, seed=3)


def _conv_args(dtype: Any) -> tuple[Any, ...]:
    p = {
        "K": _arr(2, 1, 3, 3, dtype=dtype),
        "c": _arr(2, dtype=dtype, seed=1),
        "W": _arr(2 * 5 * 5, 3, dtype=dtype, seed=2),
        "b": _arr(3, dtype=dtype, seed=3),
    }
    return p, _arr(4, 1, 5, 5, dtype=dtype, seed=4), _arr(4, 3, dtype=dtype, seed=5)


def test_the_mlp_gradient_fuses_into_three_kernels(fuse_cpu: None) -> None:
    df = grad(_mlp_tanh, optimize=True)
    df(*_mlp_args(np.float32))
    ks = _kernels(df)
    # tanh(x@W + b); mean((h - y)^2); the backward chain 2*(h - y)/N * (1 - h*h)
    assert [(len(k.nodes), k.reduce) for k in ks] == [(2, None), (1, ("mean", None, False)), (5, None)]
    assert ks[0].operation.endswith("out0 = tanhf(t0);")
    assert ks[2].operation.endswith("float t3 = 1.0f - t2;\nout0 = t1 * t3;")
    src = _programs(df)[0].source
    assert src.count("= fused_") == 3 and "subtract(" in src  # h - y is read by two groups: its own
    assert "tanh(" not in src and "mean(" not in src and "pow(" not in src


def test_large_fused_results_are_written_into_reused_buffers(fuse_cpu: None) -> None:
    # Results of program.BUFFER_MIN elements or more get buffers kept from call to call, fused
    # kernels' included (``out=``: an ElementwiseKernel's output argument, a ReductionKernel's out).
    def fn(x: Any, w: Any, b: Any, m: Any) -> Any:
        return (ft.tanh(x * w + b) @ m).exp().sum(0) * 3

    f = optimize(fn)
    args = _arr(64, 96), _arr(96), _arr(96), _arr(96, 5000) * 0.01
    first = f(*args)
    src = _programs(f)[0].source
    lines = [ln for ln in src.splitlines() if "= fused_" in ln]
    assert len(lines) == 2 and all("out=b" in ln for ln in lines), src
    assert "multiply(v9, 3)\n" in src  # the returned result: no buffer (a later call would overwrite it)
    again = [f(*args) for _ in range(3)]
    for r in [first, *again]:
        np.testing.assert_allclose(r.numpy(), fn(*args).numpy(), rtol=1e-5)
    assert not np.shares_memory(again[0].numpy(), again[1].numpy())  # returned values own their memory


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("fn", "args"),
    [(_mlp_tanh, _mlp_args), (_mlp_relu, _mlp_args), (_mlp_logsoftmax, _mlp_args), (_convnet, _conv_args)],
)
def test_fused_gradients_equal_direct_mode(
    fuse_cpu: None, fn: Callable[..., Any], args: Callable[[Any], tuple[Any, ...]], dtype: Any
) -> None:
    a = args(dtype)
    direct = grad(fn)(*a)
    df: Any = grad(fn, optimize=True)
    first = df(*a)
    again = df(*a)
    assert df.fallbacks == [] and df.replays == 1 and _kernels(df)
    assert_same(first, direct, **_tol(dtype))
    assert_same(again, direct, **_tol(dtype))
    with pytest.MonkeyPatch.context() as m:  # the unfused program agrees too
        m.setattr(program, "FUSE_ON", set())
        plain = grad(fn, optimize=True)
        plain(*a)
        assert _kernels(plain) == []
        assert_same(again, plain(*a), **_tol(dtype))


@pytest.mark.gpu
@pytest.mark.skipif(bool(cuda_reason()), reason=f"no cuda here: {cuda_reason()}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("fn", "args"),
    [(_mlp_tanh, _mlp_args), (_mlp_relu, _mlp_args), (_mlp_logsoftmax, _mlp_args), (_convnet, _conv_args)],
)
def test_on_cuda_fused_kernels_give_direct_mode_results(
    fn: Callable[..., Any], args: Callable[[Any], tuple[Any, ...]], dtype: Any
) -> None:
    a = util.cast(args(dtype), "cuda")
    direct = grad(fn)(*a)
    df: Any = grad(fn, optimize=True)
    df(*a)
    again = df(*a)
    assert df.fallbacks == [] and df.replays == 1
    ks = _kernels(df)
    assert ks and all(k.cuda for k in ks) and all(k.name in fusion._CUDA_KERNELS for k in ks)
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-10}
    assert_same(again, direct, **tol)


@pytest.mark.parametrize(("dtype", "other"), fusioncases.SIGNATURES, ids=fusioncases.SIGNATURE_IDS)
def test_every_fusable_op_on_every_dtype_gives_direct_modes_result(fuse_cpu: None, dtype: str, other: str) -> None:
    # Each case's second call replays its program, whose fused kernels run on their evaluators
    # (test_fusion_hostc.py checks the kernels' C against the same evaluators).
    fused = 0
    bad = []
    for label, fn in fusioncases.ops():
        want = fusioncases.direct(fn, dtype, other)
        if want is None:
            continue
        f: Any = optimize(fn)
        with np.errstate(all="ignore"):
            f(*fusioncases.arguments(dtype, other))
            got = f(*fusioncases.arguments(dtype, other))
        assert f.fallbacks == [] and f.replays == 1, label
        fused += bool(fusioncases.kernels_of(f))
        g, w = got.numpy(), want.numpy()
        if g.dtype != w.dtype or g.shape != w.shape:
            bad.append(f"{label}: {g.dtype}{g.shape} fused, {w.dtype}{w.shape} direct")
        elif not np.allclose(g, w, rtol=1e-6, atol=0, equal_nan=True):
            at = np.flatnonzero(~np.isclose(g, w, rtol=1e-6, atol=0, equal_nan=True))[:3]
            bad.append(f"{label}: fused {g.reshape(-1)[at]}, direct {w.reshape(-1)[at]}")
    assert not bad, "\n".join(bad)
    assert fused >= 60


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_reductions_map_expression_names_each_parameter_once(fuse_cpu: None, dtype: str) -> None:
    # cupy's CUB path renames a one-input ReductionKernel's parameter to in0 with a text replace
    # in the map expression: a parameter's name must appear there once, as the argument.
    cases = fusioncases.op_cases(dtype) + fusioncases.program_cases(dtype)
    kernels, labels = fusioncases.collect(cases)
    reductions = [k for k in kernels.values() if k.reduce is not None]
    assert len(reductions) >= 10
    for k in reductions:
        names = [n for n, _ in k.params]
        assert k.map_expr.split("(", 1)[1] == ", ".join(names) + ")", labels[k.name]
        assert all(k.map_expr.count(n) == 1 for n in names), (labels[k.name], k.map_expr)
    # a constant's parameter (c<k>) beside a digest that, in lower-case hex, could contain "c1"
    f = optimize(lambda x: (x * ft.from_numpy(np.arange(1.0, 4.0))).sum())
    f(ft.from_numpy(np.ones(3)))
    (k,) = fusioncases.kernels_of(f)
    assert [n for n, _ in k.params] == ["v0", "c1"] and k.map_expr.count("c1") == 1
    digest = k.map_expr[len("flb_map_") :].split("(")[0]
    assert digest == digest.upper() and len(digest) == 10
