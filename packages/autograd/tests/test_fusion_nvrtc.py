"""The CUDA of fused kernels compiles: every fusable op on every dtype, with tensor and number
operands, and the kernels of the programs the GPU benchmarks run, compiled by NVRTC as cupy would
compile them on their first call (see ``nvrtc.py``). No GPU is needed, only cupy and NVRTC: ``nox -s
gpu-offline`` installs both. Elsewhere these tests skip, saying why."""

from __future__ import annotations

import os
from collections.abc import Iterator

import fusioncases as fc
import numpy as np
import pytest
from nvrtc import CompileError, compile_kernel, compile_kernels, compile_source, kernel_source, reason

import flambeau.tensor as ft
from flambeau.autograd import optimize, program

if os.environ.get("FLAMBEAU_NVRTC") == "required" and reason():
    raise RuntimeError(f"FLAMBEAU_NVRTC=required, but fused kernels cannot be compiled here: {reason()}")
pytestmark = pytest.mark.skipif(bool(reason()), reason=f"fused kernels cannot be compiled here: {reason()}")


@pytest.fixture(autouse=True)
def fuse_cpu(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(program, "FUSE_ON", {"cuda", "cpu"})  # planned on the cpu: the source is the same
    yield


def _compile_all(cases: list[fc.Case]) -> int:
    """Compile every kernel of every case; fail naming each case whose kernel NVRTC refused."""
    kernels, labels = fc.collect(cases)
    errors = compile_kernels(list(kernels.values()))
    failed = [f"{labels[n]}: {kernels[n].source}\n{str(e).split('--- source ---')[0]}" for n, e in errors.items()]
    assert not failed, f"{len(failed)} of {len(kernels)} kernels do not compile:\n" + "\n".join(failed[:5])
    return len(kernels)


@pytest.mark.parametrize(("dtype", "other"), fc.SIGNATURES, ids=fc.SIGNATURE_IDS)
def test_every_fusable_op_compiles_on_every_dtype_with_tensors_and_numbers(dtype: str, other: str) -> None:
    assert _compile_all(fc.op_cases(dtype, other)) >= 100  # the cases did fuse: a planner fusing nothing fails here


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_benchmark_programs_and_every_train_step_compile(dtype: str) -> None:
    assert _compile_all(fc.program_cases(dtype)) >= 40


# -- the check itself -------------------------------------------------------------------------------


def test_nvrtc_refuses_what_cuda_refuses_and_says_where() -> None:
    # The literal of an int16 chain typed as a plain int: flb_max(short, int) deduces no type.
    # (This was a real bug, found by the test above: fusion._literal now writes ((short)2).)
    f = optimize(lambda x, y: ft.cmax(x + y, 2))
    f(*fc.arguments("int16"))
    (k,) = fc.kernels_of(f)
    assert "flb_max(t0, ((short)2))" in k.operation
    compile_kernel(k)
    k.operation = k.operation.replace("((short)2)", "2")
    with pytest.raises(CompileError, match=r"(?s)flb_max.*argument types are: \(short, int\).*out0 = flb_max"):
        compile_kernel(k)


def test_a_batch_with_a_kernel_nvrtc_refuses_names_that_kernel_alone() -> None:
    kernels = []
    for fn in (lambda x, y: ft.cmax(x + y, 2), lambda x, y: ft.cmin(x * y, 3), lambda x, y: (x - y) * 2):
        f = optimize(fn)
        f(*fc.arguments("int16"))
        kernels += fc.kernels_of(f)
    bad = kernels[1]
    bad.operation = bad.operation.replace("((short)3)", "3")
    errors = compile_kernels(kernels)
    assert list(errors) == [bad.name] and "flb_min" in str(errors[bad.name])
    assert compile_kernels(kernels[::2]) == {}


def test_the_source_is_cupys_for_the_kernels_parameters() -> None:
    f = optimize(lambda x, y: (ft.tanh(x * y) + 1).sum(1))
    x = ft.from_numpy(np.ones((3, 4), dtype=np.float32))
    f(x, x)
    (k,) = fc.kernels_of(f)
    src = kernel_source(k)
    assert f'extern "C" __global__ void {k.name}(' in src
    assert "const float v0 = _raw_v0[_in_ind.get()];" in src and "float &out0 = _raw_out0[_out_ind.get()];" in src
    assert "typedef float _type_reduce;" in src and k.map_expr in src
    assert "ld.global.f32" in compile_source(src)  # PTX that reads float32 arrays
