"""cuBLAS's GEMM through ctypes: matrix products that a CUDA stream capture can hold.

cupy's own cuBLAS wrappers raise ``NotImplementedError`` while a stream is capturing (they check
before setting the handle's stream). cuBLAS supports capture, so :class:`Cublas` calls the
library cupy loaded directly, with a handle of its own per device:

- the handle is created, and given a workspace of its own (``cublasSetWorkspace``), on first use,
  which must not be during a capture: a captured program runs its warm-up first (see
  ``flambeau.autograd.graphs``). The workspace is a plain ``cudaMalloc`` outside every memory
  pool, kept for the life of the process: a graph's private pool is freed with the graph, and
  cuBLAS would go on using the memory;
- before a call on another stream than the last one (cupy's current stream: the capturing one),
  the handle's stream is set, and then its workspace again: ``cublasSetStream`` puts the handle
  back on cuBLAS's default workspace pool, which would allocate during a capture;
- math mode is cuBLAS's default: full float32, no TF32, as cupy's ``matmul``.

Only ``sgemm`` and ``dgemm`` are bound: :mod:`.gemm` maps numpy's ``matmul`` and ``dot`` on them.
"""

from __future__ import annotations

import ctypes
import re
import threading
from typing import Any

import numpy as np

__all__ = ["Cublas", "CublasError"]

_OP = {"N": 0, "T": 1}
_INT32 = 1 << 31


class CublasError(RuntimeError):
    """A cuBLAS call returned an error status (the text names the call and the status)."""


def _library(cupy: Any) -> ctypes.CDLL:
    """The libcublas this process already loaded for cupy (found in its memory map), else by name."""
    cupy.cuda.device.get_cublas_handle()  # makes cupy load (and initialise) its cuBLAS
    names: list[str] = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rsplit(None, 1)[-1]
                if re.search(r"/libcublas\.so(\.\d+)*$", path) and path not in names:
                    names.append(path)
    except OSError:  # not Linux: try the names
        pass
    # Another library may have loaded its own libcublas too (PyTorch's wheels bundle one): the one
    # of cupy's CUDA major version goes first.
    major = cupy.cuda.runtime.runtimeGetVersion() // 1000
    names.sort(key=lambda path: not path.endswith(f".so.{major}"))
    names += [f"libcublas.so.{major}", "libcublas.so", f"cublas64_{major}"]
    errors = []
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            errors.append(f"{name}: {e}")
    raise CublasError("cannot load libcublas for captured matrix products: " + "; ".join(errors))


class _Handle:
    """A device's cuBLAS handle, its workspace, and the stream it was last set to (``None``: never)."""

    __slots__ = ("handle", "stream", "workspace")

    def __init__(self, handle: int, workspace: int):
        self.handle, self.workspace = handle, workspace
        self.stream: int | None = None


class Cublas:
    """The column-major ``gemm`` of :class:`.gemm.Blas` on cupy arrays' device pointers.

    Parameters
    ----------
    cupy : module
        The imported cupy (the current device and stream are cupy's).
    lib : ctypes.CDLL, optional
        The cuBLAS library; by default the one cupy loaded.
    """

    WORKSPACE = 32 << 20  # NVIDIA's recommended cuBLAS workspace on Hopper (4 MiB suffices before)

    def __init__(self, cupy: Any, lib: Any = None):
        self._cupy = cupy
        lib = self._lib = _library(cupy) if lib is None else lib
        vp, i = ctypes.c_void_p, ctypes.c_int
        lib.cublasCreate_v2.argtypes = [ctypes.POINTER(vp)]
        lib.cublasSetStream_v2.argtypes = [vp, vp]
        gemm_args = [vp, i, i, i, i, i, vp, vp, i, vp, i, vp, vp, i]
        self._gemm: dict[str, tuple[Any, Any, str]] = {}
        for char, fname, scalar in (("f", "cublasSgemm_v2", ctypes.c_float), ("d", "cublasDgemm_v2", ctypes.c_double)):
            fn = getattr(lib, fname)
            fn.argtypes = gemm_args
            fn.restype = i
            self._gemm[char] = (fn, scalar, fname)
        for fn in (lib.cublasCreate_v2, lib.cublasSetStream_v2):
            fn.restype = i
        self._set_workspace = getattr(lib, "cublasSetWorkspace_v2", None)  # cuBLAS >= 11.4
        if self._set_workspace is not None:
            self._set_workspace.argtypes = [vp, vp, ctypes.c_size_t]
            self._set_workspace.restype = i
        self._handles: dict[int, _Handle] = {}  # per device
        self._lock = threading.Lock()

    @staticmethod
    def _check(status: int, call: str) -> None:
        if status != 0:
            raise CublasError(f"{call} failed with cuBLAS status {status}")

    def _handle(self, stream: int) -> _Handle:
        """The current device's handle, on ``stream`` with its own workspace (made on first use)."""
        cupy = self._cupy
        dev = cupy.cuda.runtime.getDevice()
        h = self._handles.get(dev)
        if h is None:
            if cupy.cuda.runtime.streamIsCapturing(stream):
                raise CublasError(
                    f"the first captured matrix product on device {dev} came during a capture: its cuBLAS handle"
                    " and workspace must be made before (run the program once outside the capture)"
                )
            ptr = ctypes.c_void_p()
            self._check(self._lib.cublasCreate_v2(ctypes.byref(ptr)), "cublasCreate")
            # never freed: the handle lives as long as the process
            ws = cupy.cuda.runtime.malloc(self.WORKSPACE) if self._set_workspace is not None else 0
            h = self._handles[dev] = _Handle(int(ptr.value or 0), ws)
        if h.stream != stream:
            self._check(self._lib.cublasSetStream_v2(h.handle, stream), "cublasSetStream")
            if self._set_workspace is not None:  # setting the stream dropped the workspace: set it again
                self._check(self._set_workspace(h.handle, h.workspace, self.WORKSPACE), "cublasSetWorkspace")
            h.stream = stream
        return h

    def pointer(self, array: Any) -> int:
        return int(array.data.ptr)

    def gemm(
        self, dtype: np.dtype, transa: str, transb: str, m: int, n: int, k: int,
        a: int, lda: int, b: int, ldb: int, c: int, ldc: int,
    ) -> None:  # fmt: skip
        fn, scalar, name = self._gemm[np.dtype(dtype).char]
        if max(m, n, k, lda, ldb, ldc) >= _INT32:
            raise CublasError(f"{name}: sizes {m}x{n}x{k} (leading dimensions {lda}, {ldb}, {ldc}) exceed 32-bit GEMM")
        one, zero = scalar(1), scalar(0)  # read by cuBLAS during the call (host pointer mode)
        stream = int(self._cupy.cuda.get_current_stream().ptr)
        with self._lock:  # the handle's stream is shared state
            h = self._handle(stream).handle
            status = fn(h, _OP[transa], _OP[transb], m, n, k, ctypes.addressof(one), a, lda, b, ldb,
                        ctypes.addressof(zero), c, ldc)  # fmt: skip
        self._check(status, f"{name}({transa}, {transb}, m={m}, n={n}, k={k}, lda={lda}, ldb={ldb}, ldc={ldc})")
