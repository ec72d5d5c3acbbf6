"""The C of fused kernels computes what their numpy evaluators compute (``hostc.py``: the kernels'
operations compiled by the host's C++ compiler and run on the CPU). With ``test_fusion.py``, which
compares the evaluators with direct mode, this ties the CUDA text to direct mode's results: C's
conversions, integer promotions and literal types included. Skipped without a C++ compiler."""

from __future__ import annotations

from collections.abc import Iterator

import fusioncases as fc
import hostc
import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.autograd import fusion, optimize, program

pytestmark = pytest.mark.skipif(bool(hostc.reason()), reason=f"no host C for fused kernels: {hostc.reason()}")


@pytest.fixture(autouse=True)
def fuse_cpu(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(program, "FUSE_ON", {"cuda", "cpu"})
    yield


def _differences(kernels: dict[str, fusion.Kernel], labels: dict[str, str]) -> list[str]:
    """Each kernel run by its C and by its evaluator on the same random inputs; where they differ."""
    lib = hostc.build(list(kernels.values()))
    rng = np.random.default_rng(0)
    bad = []
    for name, k in kernels.items():
        arrays = hostc.inputs(k, rng)
        got = hostc.run(lib, k, arrays)
        with np.errstate(all="ignore"):
            want = k.evaluate(arrays)
        if got.dtype != want.dtype or got.shape != want.shape:
            bad.append(f"{labels[name]}: C gives {got.dtype}{got.shape}, the evaluator {want.dtype}{want.shape}")
            continue
        if want.dtype.kind == "f":
            # The maths libraries (glibc's, numpy's) differ in the last bits, which a later
            # subtraction can make large next to its result: tolerances scale with the array's values
            # (and are float32's where a step is: a float64 result of float32 maths is no better).
            single = want.dtype == np.float32 or any(n.ctype == np.float32 for n in k.nodes)
            rtol = 4e-6 if single else 1e-13
            scale = float(np.abs(want[np.isfinite(want)]).max(initial=0.0))
            close = np.isclose(got, want, rtol=rtol, atol=rtol * scale, equal_nan=True)
        else:
            close = got == want
        if not close.all():
            at = np.flatnonzero(~close)[:3]
            inputs = [a.reshape(-1)[at].tolist() for a in arrays]
            bad.append(
                f"{labels[name]}: {k.operation!r} on {inputs}: C {got.reshape(-1)[at]}, evaluator {want.reshape(-1)[at]}"
            )
    return bad


@pytest.mark.parametrize(("dtype", "other"), fc.SIGNATURES, ids=fc.SIGNATURE_IDS)
def test_each_kernels_c_computes_what_its_evaluator_computes(dtype: str, other: str) -> None:
    programs = fc.program_cases(dtype) if dtype == other and dtype.startswith("float") else []
    cases = fc.op_cases(dtype, other) + programs
    kernels, labels = fc.collect(cases)
    assert len(kernels) >= 100
    bad = _differences(kernels, labels)
    assert not bad, f"{len(bad)} of {len(kernels)} kernels:\n" + "\n".join(bad[:8])


def test_a_kernel_whose_c_is_wrong_is_found() -> None:
    f = optimize(lambda x, y: x * 2 + y)
    f(*fc.arguments("float64"))
    (k,) = fc.kernels_of(f)
    assert _differences({k.name: k}, {k.name: "x * 2 + y"}) == []
    k.operation = k.operation.replace(" + ", " - ")  # the evaluator still adds
    (bad,) = _differences({k.name: k}, {k.name: "x * 2 + y"})
    assert bad.startswith("x * 2 + y: 'double t0 = v0 * 2.0;\\nout0 = t0 - v1;'")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_clamp_keeps_a_value_equal_to_a_bound_with_its_sign(dtype: str) -> None:
    # As cupy's clip (direct mode on cuda) and numpy's with both bounds: -0.0 clipped below at 0.0
    # stays -0.0. (The kernels once took the bound, +0.0.) numpy's clip with one bound takes the
    # bound, so direct mode on the cpu is compared by value only.
    x = ft.from_numpy(np.array([-0.0, 0.0, -1.0, 1.0, 5.0, -5.0, np.nan], dtype=dtype))
    bounds = [(0, 3), (-3, 0), (-0.0, 3), (-3, -0.0), (0, None), (None, -0.0), (-0.0, None)]
    kernels = []
    for lo, hi in bounds:
        fn = lambda x, lo=lo, hi=hi: ft.clamp(x * 2, lo, hi)
        f = optimize(fn)
        f(x)  # (the recording call's result is direct mode's)
        fused = f(x).numpy()
        want = np.clip(x.numpy() * 2, -np.inf if lo is None else lo, np.inf if hi is None else hi)
        np.testing.assert_array_equal(fn(x).numpy(), want)
        (k,) = fc.kernels_of(f)
        kernels.append(k)
        for got in (fused, k.evaluate([x.numpy()])):
            np.testing.assert_array_equal(got, want)
            assert (np.signbit(got) == np.signbit(want)).all(), (lo, hi, got, want)
    lib = hostc.build(kernels)
    for k, (lo, hi) in zip(kernels, bounds, strict=True):
        got = hostc.run(lib, k, [x.numpy()])
        want = np.clip(x.numpy() * 2, -np.inf if lo is None else lo, np.inf if hi is None else hi)
        np.testing.assert_array_equal(got, want)
        assert (np.signbit(got) == np.signbit(want)).all(), (k.operation, got, want)
