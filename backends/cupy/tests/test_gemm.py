"""GEMMs a CUDA graph capture can hold: the layout mapping and numpy's matmul/dot semantics, checked
on the CPU against a column-major reference BLAS that reads the same raw pointers; and (marked
``gpu``) cuBLAS through ctypes, outside and inside a stream capture."""

from __future__ import annotations

import ctypes
import itertools
import types
from typing import Any

import numpy as np
import pytest

from flambeau.backends.cupy import CupyBackend
from flambeau.backends.cupy.capture import CaptureNamespace
from flambeau.backends.cupy.gemm import NumpyBlas, _colmajor, dot, matmul, operand

_REASON = CupyBackend().unavailable_reason()
gpu = pytest.mark.skipif(bool(_REASON), reason=f"no cuda here: {_REASON}")


def _layouts(rng: np.random.Generator, r: int, c: int, dtype: Any) -> list[tuple[str, np.ndarray]]:
    """The same r x c values in memory layouts a program hands to a product."""
    x = rng.standard_normal((r, c)).astype(dtype)
    wide = np.zeros((r, c + 3), dtype)
    wide[:, :c] = x
    tall = np.zeros((r + 2, c), dtype, order="F")
    tall[:r] = x
    every_other = np.zeros((r, 2 * c), dtype)
    every_other[:, ::2] = x
    return [
        ("C", x),
        ("F", np.asfortranarray(x)),
        ("T of C", np.ascontiguousarray(x.T).T),
        ("row slice", wide[:, :c]),
        ("column slice", tall[:r]),
        ("strided", every_other[:, ::2]),
        ("reversed", np.ascontiguousarray(x[::-1])[::-1]),
        ("broadcast row", np.broadcast_to(x[:1], (r, c)) if r > 1 else x),
    ]


@pytest.mark.parametrize("shape", [(3, 4), (1, 5), (5, 1), (1, 1), (6, 6)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_operand_maps_each_layout_to_memory_a_blas_reads_as_the_matrix(shape: tuple[int, int], dtype: Any) -> None:
    rng = np.random.default_rng(0)
    r, c = shape
    for name, x in _layouts(rng, r, c, dtype):
        plan = operand(x.shape, x.strides, x.itemsize)
        if plan is None:
            # Only when neither axis has unit stride (or a zero/negative one): a copy is needed.
            s0, s1 = (s // x.itemsize for s in x.strides)
            assert not (c == 1 or s1 == 1) or s0 < c, name
            assert not (r == 1 or s0 == 1) or s1 < r, name
            continue
        trans, ld = plan
        read = _colmajor(x.dtype, x.ctypes.data, *((c, r) if trans == "N" else (r, c)), ld)
        np.testing.assert_array_equal(read.T if trans == "N" else read, x, err_msg=name)


def test_operand_refuses_strides_that_are_not_whole_elements() -> None:
    assert operand((2, 2), (16, 6), 8) is None


@pytest.mark.parametrize(("m", "k", "n"), [(3, 4, 5), (1, 7, 1), (6, 1, 2), (2, 3, 1), (1, 1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_of_every_pair_of_layouts_equals_numpy(m: int, k: int, n: int, dtype: Any) -> None:
    rng = np.random.default_rng(1)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for (na, a), (nb, b) in itertools.product(_layouts(rng, m, k, dtype), _layouts(rng, k, n, dtype)):
        blas = NumpyBlas()
        got = matmul(np, blas, a, b)
        assert got.dtype == dtype and got.flags.c_contiguous and len(blas.calls) == 1
        np.testing.assert_allclose(got, a @ b, rtol=tol, atol=tol, err_msg=f"{na} @ {nb}")


def test_an_operand_with_unit_stride_is_passed_as_it_is_and_other_layouts_are_copied() -> None:
    blas = NumpyBlas()
    a = np.zeros((4, 10))[:, :3]  # rows of 3 in rows of 10
    b = np.ones((5, 3)).T  # a transposed C array
    matmul(np, blas, a, b)
    # C^T = B^T A^T: GEMM's first operand is b (its memory holds b itself: T, ld 3), its second
    # is a (memory holds a^T: N, ld 10); the result is 4 x 5 C-contiguous (ldc 5).
    assert blas.calls == [("float64", "T", "N", 5, 4, 3, 3, 10, 5)]
    blas = NumpyBlas()
    matmul(np, blas, np.ones((4, 6))[:, ::2], b)
    assert blas.calls[0][7] == 3  # the strided operand went as a contiguous copy


@pytest.mark.parametrize(
    ("sa", "sb"),
    [
        ((4,), (4, 3)),
        ((2, 4), (4,)),
        ((4,), (4,)),
        ((5, 2, 3), (5, 3, 4)),
        ((1, 2, 3), (6, 3, 2)),
        ((2, 1, 2, 3), (3, 3, 2)),
        ((3,), (2, 3, 4)),
        ((2, 3, 4), (4,)),
        ((2, 0), (0, 3)),
        ((0, 3), (3, 2)),
        ((2, 3), (3, 0)),
        ((2, 0, 3), (3, 4)),
    ],
)
def test_matmul_follows_numpy_for_vectors_batches_broadcasting_and_empty_sizes(
    sa: tuple[int, ...], sb: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    want = np.matmul(a, b)
    got = matmul(np, NumpyBlas(), a, b)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_k_zero_gives_zeros_even_in_a_buffer_full_of_garbage() -> None:
    out = np.full((2, 3), np.nan)
    matmul(np, NumpyBlas(), np.ones((2, 0)), np.ones((0, 3)), out=out)
    np.testing.assert_array_equal(out, np.zeros((2, 3)))


def test_mixed_precision_promotes_to_float64_and_out_takes_any_layout() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((4, 2))
    got = matmul(np, NumpyBlas(), a, b)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-12)
    out = np.zeros((2, 3)).T  # a Fortran-ordered result buffer
    assert matmul(np, NumpyBlas(), a, b, out=out) is out
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)


def test_bad_operands_are_refused_with_their_sizes_and_dtypes() -> None:
    with pytest.raises(ValueError, match=r"size mismatch, \(2, 3\) and \(4, 2\)"):
        matmul(np, NumpyBlas(), np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="0-d"):
        matmul(np, NumpyBlas(), np.ones(()), np.ones(2))
    with pytest.raises(TypeError, match="int64 and float64"):
        matmul(np, NumpyBlas(), np.ones(2, dtype=np.int64), np.ones(2))
    with pytest.raises(ValueError, match=r"out has size \(3, 3\), the product \(2, 2\)"):
        matmul(np, NumpyBlas(), np.ones((2, 3)), np.ones((3, 2)), out=np.empty((3, 3)))
    with pytest.raises(ValueError, match="at most 2"):
        dot(np, NumpyBlas(), np.ones((2, 2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="leading dimension 2 < 3 rows"):
        _colmajor(np.dtype(np.float64), np.ones(8).ctypes.data, 3, 2, 2)


def test_the_capture_namespace_routes_float_products_to_gemm_and_the_rest_to_its_module() -> None:
    blas = NumpyBlas()
    ns = CaptureNamespace(np, blas)
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(ns.matmul(a, a.T), a @ a.T)
    np.testing.assert_allclose(ns.dot(a[0], a[1]), a[0] @ a[1])
    assert len(blas.calls) == 2
    ints = np.arange(4).reshape(2, 2)
    assert ns.matmul(ints, ints).dtype == np.int64 and ns.dot(ints, ints).tolist() == [[2, 3], [6, 11]]
    three = np.ones((2, 2, 2))
    np.testing.assert_array_equal(ns.dot(three, three), np.dot(three, three))  # numpy's N-d dot, not matmul
    out = np.empty((2, 2))
    assert ns.matmul(a, a.T, out=out) is out and ns.dot(ints, ints, out=np.empty((2, 2), np.int64)).sum() == 22
    assert len(blas.calls) == 3
    assert ns.sum is np.sum and ns.wrapped is np and "numpy" in repr(ns)


def test_without_libcublas_the_binding_names_every_library_it_tried() -> None:
    import types

    from flambeau.backends.cupy.cublas import Cublas, CublasError

    made = []
    cupy = types.SimpleNamespace(
        cuda=types.SimpleNamespace(
            device=types.SimpleNamespace(get_cublas_handle=lambda: made.append(1)),
            runtime=types.SimpleNamespace(runtimeGetVersion=lambda: 12080),
        )
    )
    try:
        Cublas(cupy)
    except CublasError as e:  # no CUDA here: the message lists the names, cupy's CUDA major first
        assert made == [1] and "cannot load libcublas" in str(e) and "libcublas.so.12:" in str(e)
    else:  # a machine with a CUDA toolkit but no GPU loads it: the binding is then complete
        assert made == [1]


class _FakeCublasLib:
    """A cuBLAS stand-in: each function records its call and returns ``status`` (GEMMs) or 0."""

    NAMES = ("cublasCreate_v2", "cublasSetStream_v2", "cublasSetWorkspace_v2", "cublasSgemm_v2", "cublasDgemm_v2")

    def __init__(self, status: int = 0) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.status = status
        for name in self.NAMES:
            setattr(self, name, _FakeFn(self, name))


class _FakeFn:
    """One function of :class:`_FakeCublasLib` (ctypes sets its ``argtypes`` and ``restype``)."""

    def __init__(self, lib: _FakeCublasLib, name: str) -> None:
        self.lib, self.name = lib, name

    def __call__(self, *args: Any) -> int:
        if self.name == "cublasCreate_v2":
            args[0]._obj.value = 0xABC  # the handle, written through ctypes.byref(pointer)
            args = ()
        if "gemm" in self.name:  # alpha and beta: host pointers, read during the call
            scalar = ctypes.c_float if self.name == "cublasSgemm_v2" else ctypes.c_double
            alpha, beta = (scalar.from_address(args[i]).value for i in (6, 11))
            args = (*args[:6], alpha, *args[7:11], beta, *args[12:])
        self.lib.calls.append((self.name, *args))
        return self.lib.status if "gemm" in self.name else 0


def _fake_cupy(stream: list[int], capturing: list[bool], mallocs: list[int]) -> Any:
    def malloc(n: int) -> int:
        mallocs.append(n)
        return 0x1000 * len(mallocs)

    return types.SimpleNamespace(
        cuda=types.SimpleNamespace(
            runtime=types.SimpleNamespace(getDevice=lambda: 0, streamIsCapturing=lambda s: capturing[0], malloc=malloc),
            get_current_stream=lambda: types.SimpleNamespace(ptr=stream[0]),
        )
    )


def test_each_new_stream_gets_the_workspace_back_since_setting_a_stream_drops_it() -> None:
    # cuBLAS's cublasSetStream puts the handle back on its default workspace pool, which would
    # allocate inside a capture: the binding sets its own workspace again after every stream change.
    from flambeau.backends.cupy.cublas import Cublas

    stream, capturing, mallocs = [7], [False], []
    lib = _FakeCublasLib()
    blas = Cublas(_fake_cupy(stream, capturing, mallocs), lib=lib)
    args = ("N", "T", 2, 3, 4, 0x10, 2, 0x20, 3, 0x30, 2)
    blas.gemm(np.float32, *args)
    blas.gemm(np.float32, *args)  # the same stream: nothing is set again
    stream[0], capturing[0] = 9, True  # a capturing stream, after the handle exists
    blas.gemm(np.float64, *args)
    names = [c[0] for c in lib.calls]
    assert names == [
        "cublasCreate_v2", "cublasSetStream_v2", "cublasSetWorkspace_v2", "cublasSgemm_v2", "cublasSgemm_v2",
        "cublasSetStream_v2", "cublasSetWorkspace_v2", "cublasDgemm_v2",
    ]  # fmt: skip
    assert mallocs == [Cublas.WORKSPACE]  # one workspace for the device, kept across streams
    assert [c[1:] for c in lib.calls if c[0] == "cublasSetStream_v2"] == [(0xABC, 7), (0xABC, 9)]
    assert [c[1:] for c in lib.calls if c[0] == "cublasSetWorkspace_v2"] == [(0xABC, 0x1000, Cublas.WORKSPACE)] * 2
    gemm = next(c for c in lib.calls if c[0] == "cublasDgemm_v2")
    # handle, N, T, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc
    assert gemm[1:] == (0xABC, 0, 1, 2, 3, 4, 1.0, 0x10, 2, 0x20, 3, 0.0, 0x30, 2)


def test_a_handle_first_needed_during_a_capture_and_a_failed_gemm_are_refused_by_name() -> None:
    from flambeau.backends.cupy.cublas import Cublas, CublasError

    lib = _FakeCublasLib(status=13)
    blas = Cublas(_fake_cupy([5], [True], []), lib=lib)
    with pytest.raises(CublasError, match="came during a capture: its cuBLAS handle"):
        blas.gemm(np.float32, "N", "N", 1, 1, 1, 1, 1, 1, 1, 1, 1)
    assert lib.calls == []  # nothing was made inside the capture
    blas = Cublas(_fake_cupy([5], [False], []), lib=lib)
    with pytest.raises(
        CublasError, match=r"cublasSgemm_v2\(N, T, m=2, n=3, k=4, lda=2, ldb=3, ldc=2\) failed with cuBLAS status 13"
    ):
        blas.gemm(np.float32, "N", "T", 2, 3, 4, 1, 2, 1, 3, 1, 2)
    with pytest.raises(CublasError, match="exceed 32-bit GEMM"):
        blas.gemm(np.float64, "N", "N", 1 << 31, 1, 1, 1, 1 << 31, 1, 1, 1, 1 << 31)


# -- on a CUDA device -----------------------------------------------------------------------------


@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cublas_through_ctypes_equals_cupy_matmul(dtype: str) -> None:
    import cupy

    ns = CupyBackend().capture_namespace()
    rng = np.random.default_rng(4)
    a = cupy.asarray(rng.standard_normal((64, 33)).astype(dtype))
    b = cupy.asarray(rng.standard_normal((40, 33)).astype(dtype))
    tol = 1e-4 if dtype == "float32" else 1e-12
    for x, y in [(a, b.T), (a[:, :20], b[:, :20].T), (a[::2], b.T), (a[0], b.T), (a[:3], b[0])]:
        np.testing.assert_allclose(ns.matmul(x, y).get(), cupy.matmul(x, y).get(), rtol=tol, atol=tol)
    batch = cupy.asarray(rng.standard_normal((3, 5, 7)).astype(dtype))
    np.testing.assert_allclose(ns.matmul(batch, batch.transpose(0, 2, 1)).get(), (batch @ batch.transpose(0, 2, 1)).get(),
                               rtol=tol, atol=tol)  # fmt: skip


@gpu
@pytest.mark.gpu
def test_a_stream_capture_holds_the_products() -> None:
    import cupy

    ns = CupyBackend().capture_namespace()
    rng = np.random.default_rng(5)
    a = cupy.asarray(rng.standard_normal((128, 50)).astype(np.float32))
    w = cupy.asarray(rng.standard_normal((50, 10)).astype(np.float32))
    pool = cupy.cuda.MemoryPool()  # the graph's own memory, as flambeau.autograd.graphs does
    stream = cupy.cuda.Stream(non_blocking=True)
    with cupy.cuda.using_allocator(pool.malloc), stream:
        cupy.tanh(ns.matmul(a, w))  # warm-up: the handle, the workspace and the pool's blocks
        stream.synchronize()
        stream.begin_capture()
        out = cupy.tanh(ns.matmul(a, w))
        graph = stream.end_capture()
    for _ in range(2):  # new values in the same memory: each replay computes with them
        a[...] = cupy.asarray(rng.standard_normal((128, 50)).astype(np.float32))
        cupy.cuda.Device().synchronize()
        graph.launch(stream)
        stream.synchronize()
        np.testing.assert_allclose(out.get(), np.tanh(a.get() @ w.get()), rtol=1e-4, atol=1e-5)
