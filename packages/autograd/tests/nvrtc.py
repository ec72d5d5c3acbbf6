"""Compile fused kernels' CUDA with NVRTC on a machine without a GPU.

cupy writes the CUDA source of an ``ElementwiseKernel`` or ``ReductionKernel`` only when the kernel
is first called, and that call needs a device. This module makes the same source with cupy's own
code generators (``_get_elementwise_kernel_code``, ``_ReductionKernel_get_cached_function_code``: the
functions cupy's calls use), from each parameter's dtype and ndim instead of arrays, and compiles it
with NVRTC for a given architecture, with the headers and options cupy passes. NVRTC needs no driver
and no device: only cupy and the NVRTC library (``nvidia-cuda-nvrtc``) must be installed.

A one-input reduction over contiguous axes may take cupy's CUB path instead, whose source cupy
builds in functions Python cannot call: not compiled here (our part of it, the preamble and the
map, post-map and reduce expressions, is the same text; ``test_fusion.py`` checks what that path
does to the map expression).

Those generators are cupy internals; :func:`reason` says why they cannot be used here (no cupy, a
cupy whose internals moved, no NVRTC), and the tests skip with that reason, or fail when
``FLAMBEAU_NVRTC=required`` (as ``nox -s gpu-offline`` sets it).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import numpy as np

from flambeau.autograd import fusion

ARCH = "90"  # Hopper, as the lent H100/H200 machines


class CompileError(AssertionError):
    """A kernel NVRTC refused: the message has NVRTC's log and the whole source, with line numbers."""


@functools.cache
def reason() -> str:
    """Why kernels cannot be compiled here ('' when they can)."""
    try:
        import cupy
        from cupy._core import _kernel, _reduction, core
        from cupy.cuda import compiler
    except Exception as e:  # a missing or broken cupy install
        return f"cupy is not importable: {e!r}"
    missing = [
        n
        for mod, names in (
            (_kernel, ("_get_elementwise_kernel_code", "_get_param_info", "_ArgInfo", "_TypeMap")),
            (_reduction, ("_ReductionKernel_get_cached_function_code",)),
            (core, ("assemble_cupy_compiler_options", "_cupy_header_list")),
            (compiler, ("compile_using_nvrtc", "_get_arch_for_options_for_nvrtc")),
        )
        for n in names
        if not hasattr(mod, n)
    ]
    if missing:
        return f"this cupy ({cupy.__version__}) lacks the code generators used here: {', '.join(missing)}"
    try:
        compile_source('extern "C" __global__ void k(float* x) { x[0] = tanhf(x[0]); }')
    except Exception as e:  # no NVRTC library, or one that cannot compile
        return f"NVRTC cannot compile here: {e!r}"[:500]
    return ""


@contextlib.contextmanager
def _arch(arch: str) -> Iterator[None]:
    # cupy asks the current device for its architecture: there is none, so it is given.
    from cupy.cuda import compiler

    saved = compiler._get_arch_for_options_for_nvrtc
    compiler._get_arch_for_options_for_nvrtc = lambda _arch=None: (f"-arch=compute_{arch}", "ptx")
    try:
        yield
    finally:
        compiler._get_arch_for_options_for_nvrtc = saved


def compile_source(source: str, arch: str = ARCH) -> str:
    """PTX of a CUDA source, compiled as cupy compiles kernels (its headers first, its options)."""
    from cupy._core import core
    from cupy.cuda import compiler

    full = "".join(f"#include <{h}>\n" for h in core._cupy_header_list) + source
    options = (*core.assemble_cupy_compiler_options(()), "-ftz=true")
    with _arch(arch):
        try:
            ptx, _ = compiler.compile_using_nvrtc(full, options=options, arch=arch)
        except compiler.CompileException as e:
            numbered = "\n".join(f"{n:4} {line}" for n, line in enumerate(full.splitlines(), 1))
            raise CompileError(f"{e}\n--- source ---\n{numbered}") from None
    return ptx.decode() if isinstance(ptx, bytes) else str(ptx)


def kernel_source(k: fusion.Kernel) -> str:
    """The CUDA source cupy would compile for ``k`` on its first call (C-contiguous arrays)."""
    import cupy
    from cupy._core import _carray, _kernel, _reduction, _scalar

    ndarray, indexer, scalar = 1, 2, 3  # cupy's _ArgKind
    ins = _kernel._get_param_info(k.in_params, True)
    outs = _kernel._get_param_info(k.out_params, False)
    in_types = tuple(t.type for _, t in k.params)
    _, _, types = _kernel._decide_params_type(ins, outs, in_types, (k.out_dtype.type,))

    def array(t: np.dtype, ndim: int) -> Any:
        return _kernel._ArgInfo(ndarray, cupy.ndarray, t, ndim, True, True)

    def index(ndim: int) -> Any:
        return _kernel._ArgInfo(indexer, _carray.Indexer, None, ndim, True, True)

    nd = max(len(k.shape), 1)
    arrays = tuple(array(t, nd) for _, t in k.params)
    if k.reduce is None:
        params = ins + outs + _kernel._get_param_info("CIndexer _ind", False)
        infos = (*arrays, array(k.out_dtype, nd), index(nd))
        return str(_kernel._get_elementwise_kernel_code(infos, types, params, k.operation, k.name, k.preamble))
    out_nd = max(len(k.red_shape), 1)
    params = (
        ins
        + outs
        + _kernel._get_param_info("CIndexer _in_ind, CIndexer _out_ind", False)
        + _kernel._get_param_info("int32 _block_stride", True)
    )
    block_stride = _kernel._ArgInfo(scalar, _scalar.CScalar, np.dtype(np.int32), 0, True, True)
    infos = (*arrays, array(k.out_dtype, out_nd), index(nd), index(out_nd), block_stride)
    types = _kernel._TypeMap((*types._pairs, ("IndexT", "int32")))
    return str(
        _reduction._ReductionKernel_get_cached_function_code(
            len(ins), len(outs), params, infos, types, k.name, 512, k.reduce_type, k.identity,
            k.map_expr, k.reduce_expr, k.post_map_expr, k.preamble, (),
        )
    )  # fmt: skip


def compile_kernel(k: fusion.Kernel, arch: str = ARCH) -> str:
    """PTX of a fused kernel; raises :class:`CompileError` with the log and the source."""
    return compile_source(kernel_source(k), arch)


def compile_kernels(kernels: list[fusion.Kernel], arch: str = ARCH, batch: int = 64) -> dict[str, CompileError]:
    """Compile many kernels; returns the errors by kernel name (empty when all compile).

    Most of a compile's time is cupy's headers, so element-wise kernels (whose preamble is the
    same :data:`fusion.PREAMBLE`) are compiled ``batch`` to a translation unit, the preamble once;
    a batch that fails is compiled again one kernel at a time, to name the kernels at fault. A
    reduction's source defines its own types and macros at file scope: it is compiled alone.
    """
    errors: dict[str, CompileError] = {}
    alone = [k for k in kernels if k.reduce is not None or k.preamble != fusion.PREAMBLE]
    together = [k for k in kernels if k not in alone]
    for i in range(0, len(together), batch):
        part = together[i : i + batch]
        sources = [kernel_source(k) for k in part]
        assert all(s.count(fusion.PREAMBLE) == 1 for s in sources), "cupy no longer inserts the preamble as given"
        try:
            compile_source(fusion.PREAMBLE + "".join(s.replace(fusion.PREAMBLE, "") for s in sources), arch)
        except CompileError:
            alone += part
    for k in alone:
        try:
            compile_kernel(k, arch)
        except CompileError as e:
            errors[k.name] = e
    return errors
