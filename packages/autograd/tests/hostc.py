"""Run fused kernels' C on the CPU: each kernel's operation, compiled as host C++ and called on numpy arrays.

A fused kernel's CUDA body is C (typed temporaries, typed literals, ``tanhf``, the ``flb_*``
helpers of :data:`fusion.PREAMBLE`). Compiled by the host's C++ compiler (``g++``, ``__device__``
defined away), it computes what the GPU computes up to the maths library's last bits: C's
conversions, integer promotions and literal types are the same. The tests compare it with each
kernel's numpy evaluator (which the CPU fusion tests compare with direct mode), so the C text
itself is checked, not only the evaluator written beside it.

An element-wise kernel becomes ``void name(const T0 *p0, ..., OUT *o, long n)``, looping over
inputs already broadcast to the kernel's shape. A reduction becomes its map (``RT name_map(...)``
written into an array) and its post-map (``name_post(const RT *a, OUT *o, long n)``); the sum
between them is numpy's, in the reduction's type.
"""

from __future__ import annotations

import ctypes
import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from flambeau.autograd import fusion

CXX = shutil.which("g++") or shutil.which("c++")
# No contraction into fused multiply-adds and IEEE semantics: each C operation rounds as numpy's does.
FLAGS = ["-O1", "-std=c++17", "-shared", "-fPIC", "-ffp-contract=off", "-fno-fast-math", "-w"]


@functools.cache
def reason() -> str:
    """Why kernels cannot be run here ('' when they can)."""
    if CXX is None:
        return "no C++ compiler (g++ or c++) on PATH"
    try:
        build([])
    except Exception as e:
        return f"{CXX} cannot build a shared library: {e}"[:500]
    return ""


def _c(t: np.dtype) -> str:
    return fusion._C_TYPES[np.dtype(t).name]


def _function(k: fusion.Kernel) -> str:
    args = [f"const {_c(t)} *p_{n}" for n, t in k.params]
    load = "".join(f"    const {_c(t)} {n} = p_{n}[i];\n" for n, t in k.params)
    if k.reduce is None:
        sig = ", ".join([*args, f"{_c(k.out_dtype)} *o", "long n"])
        return (
            f'extern "C" void {k.name}({sig}) {{\n  for (long i = 0; i < n; ++i) {{\n{load}'
            f"    {_c(k.out_dtype)} &out0 = o[i];\n    {k.operation};\n  }}\n}}\n"
        )
    rt = k.reduce_type
    sig = ", ".join([*args, f"{rt} *o", "long n"])
    post = k.post_map_expr
    return (
        f'extern "C" void {k.name}_map({sig}) {{\n  for (long i = 0; i < n; ++i) {{\n{load}'
        f"    o[i] = static_cast<{rt}>({k.map_expr});\n  }}\n}}\n"
        f'extern "C" void {k.name}_post(const {rt} *p, {_c(k.out_dtype)} *o, long n) {{\n'
        f"  for (long i = 0; i < n; ++i) {{\n    {rt} a = p[i];\n    {_c(k.out_dtype)} &out0 = o[i];\n"
        f"    {post};\n  }}\n}}\n"
    )


def build(kernels: list[fusion.Kernel]) -> ctypes.CDLL:
    """One shared library of the kernels' host functions (a kernel's preamble is emitted once)."""
    assert CXX is not None
    preambles = dict.fromkeys([fusion.PREAMBLE] + [k.preamble.replace(fusion.PREAMBLE, "") for k in kernels])
    body = "".join(_function(k) for k in {k.name: k for k in kernels}.values())
    source = "#include <math.h>\n#define __device__\n" + "".join(preambles) + body
    with tempfile.TemporaryDirectory() as tmp:
        src, lib = Path(tmp) / "kernels.cpp", Path(tmp) / "kernels.so"
        src.write_text(source)
        done = subprocess.run([CXX, *FLAGS, str(src), "-o", str(lib)], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{CXX} refused the kernels' C:\n{done.stderr[-3000:]}")
        return ctypes.CDLL(str(lib))  # (the file may go: the library stays mapped)


def _ptr(a: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(a.ctypes.data)


def run(lib: ctypes.CDLL, k: fusion.Kernel, arrays: list[np.ndarray]) -> np.ndarray:
    """The kernel's result on ``arrays`` (its parameters, in order), computed by its C."""
    full = [np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=t), k.shape)) for a, (_, t) in zip(arrays, k.params, strict=True)]  # fmt: skip
    n = ctypes.c_long(int(np.prod(k.shape, dtype=np.int64)))
    if k.reduce is None:
        out = np.empty(k.shape, dtype=k.out_dtype)
        getattr(lib, k.name)(*map(_ptr, full), _ptr(out), n)
        return out
    rt = {"float": np.float32, "double": np.float64}[k.reduce_type]
    mapped = np.empty(k.shape, dtype=rt)
    getattr(lib, f"{k.name}_map")(*map(_ptr, full), _ptr(mapped), n)
    _, dim, keep = k.reduce
    summed = np.array(mapped.sum(axis=dim, keepdims=keep, dtype=rt))  # (0-d stays 0-d)
    out = np.empty(summed.shape, dtype=k.out_dtype)
    getattr(lib, f"{k.name}_post")(_ptr(summed), _ptr(out), ctypes.c_long(summed.size))
    return out


def inputs(k: fusion.Kernel, rng: np.random.Generator) -> list[np.ndarray]:
    """Random arguments for ``k`` (of each parameter's dtype, shaped like the kernel), with 0s,
    negative numbers, values past 1 (the inverse trigonometric functions' NaNs), in float types a
    NaN, and in integer types their limits. (No infinities: C's ``pow(-inf, 0.5)`` is inf, numpy's NaN; a difference of
    maths libraries, which cupy's direct mode shares with the kernels.)"""
    out = []
    for _, t in k.params:
        x = rng.standard_normal(k.shape) * 3
        flat = x.reshape(-1)
        flat[: min(2, flat.size)] = 0
        if t.kind == "f" and flat.size > 4:
            flat[2] = np.nan
        with np.errstate(invalid="ignore"):
            a = x.astype(t)
        if t.kind in "iu" and a.size > 4:  # the limits: where + and * overflow (and must wrap)
            a.reshape(-1)[-2:] = np.iinfo(t).max, np.iinfo(t).min
        out.append(a)
    return out
