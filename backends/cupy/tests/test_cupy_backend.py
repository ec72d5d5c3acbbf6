"""The cuda backend: registration, availability without cupy or a GPU, its generator, and (marked
``gpu``) the real thing on a CUDA device."""

from __future__ import annotations

import builtins
import re
import subprocess
import sys
import types

import numpy as np
import pytest
from scipy import stats

import flambeau.tensor as ft
from flambeau.backends.cupy import CupyBackend, SplitMixGenerator, flambeau_register_backends
from flambeau.backends.cupy.generator import splitmix64


def _cuda_reason() -> str:
    return CupyBackend().unavailable_reason()


gpu = pytest.mark.skipif(bool(_cuda_reason()), reason=f"no cuda here: {_cuda_reason()}")


def _numpy_gen(seed: int) -> SplitMixGenerator:
    return SplitMixGenerator(seed, np, lambda s: np.random.RandomState(np.random.MT19937(s)))


# -- registration and availability ----------------------------------------------------------------


def test_it_registers_one_cuda_backend_through_its_hook() -> None:
    registered: list[object] = []
    flambeau_register_backends(register=registered.append)
    (b,) = registered
    assert isinstance(b, CupyBackend) and b.device == "cuda" and b.name == "cupy"


def test_the_registry_lists_it_with_its_state() -> None:
    (info,) = [b for b in ft.backends() if b.device == "cuda"]
    assert info.name == "cupy" and info.dist.startswith("flambeau-cupy")
    assert info.available == (_cuda_reason() == "") and info.reason == _cuda_reason()


def test_importing_the_plugin_and_loading_the_registry_never_import_cupy() -> None:
    code = (
        "import sys, flambeau.tensor as ft, flambeau.backends.cupy as c\n"
        "ft.zeros(2); ft.device('cpu'); c.CupyBackend().owns(ft.zeros(2).numpy())\n"
        "print('cupy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.skipif(_cuda_reason() == "", reason="cuda is available here")
def test_without_cuda_every_entry_point_says_why() -> None:
    reason = _cuda_reason()
    assert reason.startswith(
        ("cupy is not installed", "cupy cannot be imported", "no usable CUDA driver", "no CUDA GPU")
    )
    for make in (
        lambda: ft.zeros(3, device="cuda"),
        lambda: ft.ones(2).cuda(),
        lambda: ft.ones(2).to("cuda:0"),
        lambda: ft.CudaTensor(2, 3),
        lambda: ft.device("cuda"),
    ):
        with pytest.raises(ft.DeviceUnavailableError, match="'cuda'.*unavailable") as e:
            make()
        assert reason in str(e.value)
    with pytest.raises(ft.DeviceUnavailableError):
        with ft.device("cuda"):
            pass
    assert ft.zeros(2).device == "cpu"  # the cpu is untouched
    with pytest.raises(RuntimeError, match="the cuda backend is unavailable: " + re.escape(reason)):
        CupyBackend().capture_namespace()


def test_a_host_array_is_not_a_cuda_array() -> None:
    assert not CupyBackend().owns(np.zeros(3))


# -- the generator, run on numpy ------------------------------------------------------------------


def test_the_stream_is_splitmix64() -> None:
    # The reference outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
    assert [splitmix64(0, n) for n in (1, 2, 3)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    g = _numpy_gen(1234)
    assert g.bits(5).tolist() == [splitmix64(1234, n) for n in range(1, 6)]


def test_the_stream_does_not_depend_on_how_draws_split_it() -> None:
    a, b = _numpy_gen(9), _numpy_gen(9)
    whole = a.random(7)
    parts = np.concatenate([b.random(3), b.random((2, 2)).ravel()])
    np.testing.assert_array_equal(whole, parts)


def test_state_save_and_restore_is_exact_for_every_kind_of_draw() -> None:
    g = _numpy_gen(5)
    g.random(10)
    state = g.get_state()
    first = [g.random(4), g.standard_normal(3), g.integers(0, 9, size=5), g.gamma(2.0, size=3), g.permutation(6)]
    g.set_state(state)
    again = [g.random(4), g.standard_normal(3), g.integers(0, 9, size=5), g.gamma(2.0, size=3), g.permutation(6)]
    for x, y in zip(first, again, strict=True):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="16 bytes, got 3"):
        g.set_state(b"abc")


def test_a_generator_enters_its_own_gpu_even_gpu_0() -> None:
    # cuda:0's generator inside `with ft.device("cuda:1")` must still draw on GPU 0 (it drew on
    # whichever GPU was current: index 0 entered nothing).
    from flambeau.backends.cupy import _on

    entered: list[object] = []

    class Device:
        def __init__(self, index: int) -> None:
            self.index = index

        def __enter__(self) -> None:
            entered.append(self.index)

        def __exit__(self, *exc: object) -> None:
            entered.append("exit")

    cupy = types.SimpleNamespace(cuda=types.SimpleNamespace(Device=Device))
    for index in (0, 1, None):
        with _on(cupy, index):
            entered.append("draw")
    assert entered == [0, "draw", "exit", 1, "draw", "exit", "draw"]


def test_different_seeds_give_different_streams() -> None:
    assert not np.array_equal(_numpy_gen(1).random(5), _numpy_gen(2).random(5))


@pytest.mark.parametrize(
    ("draw", "dist"),
    [
        (lambda g: g.random(20000), stats.uniform()),
        (lambda g: g.standard_normal(20000), stats.norm()),
        (lambda g: g.normal(2.0, 3.0, size=20000), stats.norm(2.0, 3.0)),
        (lambda g: g.lognormal(0.5, 0.25, size=20000), stats.lognorm(0.25, scale=np.exp(0.5))),
        (lambda g: g.exponential(2.0, size=20000), stats.expon(scale=2.0)),
        (lambda g: g.standard_cauchy(20000), stats.cauchy()),
        (lambda g: g.uniform(-1.0, 3.0, size=20000), stats.uniform(-1.0, 4.0)),
        (lambda g: g.gamma(3.0, 2.0, size=20000), stats.gamma(3.0, scale=2.0)),
    ],
    ids=["random", "standard_normal", "normal", "lognormal", "exponential", "cauchy", "uniform", "gamma (legacy)"],
)
def test_distributions_pass_a_kolmogorov_smirnov_test(draw: object, dist: object) -> None:
    x = draw(_numpy_gen(2024))  # type: ignore[operator]
    assert stats.kstest(x, dist.cdf).pvalue > 1e-3  # type: ignore[attr-defined]


def test_integers_cover_their_range_uniformly() -> None:
    g = _numpy_gen(3)
    x = g.integers(-3, 7, size=50000, endpoint=True)
    assert x.dtype == np.int64 and x.min() == -3 and x.max() == 7
    counts = np.bincount(x + 3)
    assert stats.chisquare(counts).pvalue > 1e-3
    assert g.integers(0, 256, size=1000, dtype=np.uint8).dtype == np.uint8
    full = g.integers(0, 2**64, size=4000, dtype=np.uint64)  # the raw outputs: the whole range
    assert full.dtype == np.uint64 and full.max() > 2**63
    lo, hi = np.array([1, 10]), np.array([3, 12])
    x = g.integers(lo, hi, size=(1000, 2), endpoint=True)
    assert x[:, 0].min() == 1 and x[:, 0].max() == 3 and x[:, 1].min() == 10 and x[:, 1].max() == 12
    with pytest.raises(ValueError, match=r"low >= high \(5 >= 5\)"):
        g.integers(5, 5)
    with pytest.raises(ValueError, match="low >= high$"):  # array bounds, one pair empty
        g.integers(np.array([1, 3]), np.array([2, 3]))


def test_permutation_is_a_permutation() -> None:
    p = _numpy_gen(0).permutation(1000)
    assert sorted(p.tolist()) == list(range(1000)) and p.tolist() != list(range(1000))
    assert _numpy_gen(0).permutation(0).size == 0


def test_other_methods_come_from_the_legacy_state_and_unknown_ones_are_refused() -> None:
    g = _numpy_gen(1)
    x = g.poisson(4.0, size=20000)
    assert abs(x.mean() - 4.0) < 0.1
    with pytest.raises(AttributeError, match="no method 'nonsense'"):
        g.nonsense  # noqa: B018


# -- on a real GPU --------------------------------------------------------------------------------


@pytest.mark.gpu
@gpu
def test_cuda_tensors_live_in_cupy_arrays_and_transfer_exactly() -> None:
    import cupy

    a = np.arange(12.0).reshape(3, 4)
    t = ft.from_numpy(a).cuda()
    assert isinstance(t._a, cupy.ndarray) and t.device == "cuda" and t.is_cuda
    assert t.type() == "flambeau.cuda.DoubleTensor"
    np.testing.assert_array_equal(t.cpu().numpy(), a)
    np.testing.assert_array_equal((t.t() @ t).cpu().numpy(), a.T @ a)
    with ft.device("cuda"):
        z = ft.zeros(2, 2)
    assert z.device == "cuda" and ft.zeros(1, device="cuda").is_cuda
    assert ft.CudaTensor(2, 3).type() == "flambeau.cuda.FloatTensor"
    with pytest.raises(ft.FlambeauError, match="cpu.*cuda|cuda.*cpu"):
        t + ft.from_numpy(a)


@pytest.mark.gpu
@gpu
def test_cuda_seeding_and_state_restore() -> None:
    ft.manual_seed(11)
    a = ft.rand(5, device="cuda")
    ft.manual_seed(11)
    np.testing.assert_array_equal(ft.rand(5, device="cuda").cpu().numpy(), a.cpu().numpy())
    state = ft.get_rng_state("cuda")
    b = ft.randn(4, device="cuda")
    ft.set_rng_state(state, "cuda")
    np.testing.assert_array_equal(ft.randn(4, device="cuda").cpu().numpy(), b.cpu().numpy())


@pytest.mark.gpu
@gpu
def test_a_cuda_model_saved_loads_on_the_cpu_when_asked(tmp_path: object) -> None:
    t = ft.randn(3, 3, device="cuda")
    path = f"{tmp_path}/t.t7"
    ft.save(path, {"w": t})
    back = ft.load(path, map_location="cpu")["w"]
    assert back.device == "cpu"
    np.testing.assert_array_equal(back.numpy(), t.cpu().numpy())
    on_gpu = ft.load(path)["w"]
    assert on_gpu.is_cuda


def _fake_cupy(count: object) -> types.ModuleType:
    """A module standing in for cupy: its runtime reports ``count`` devices, or raises it."""

    def device_count() -> int:
        if isinstance(count, Exception):
            raise count
        return int(count)  # type: ignore[call-overload]

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=device_count))  # type: ignore[attr-defined]
    return fake


@pytest.mark.parametrize(
    ("count", "reason"),
    [
        (
            RuntimeError("cudaErrorInsufficientDriver"),
            "no usable CUDA driver (RuntimeError: cudaErrorInsufficientDriver)",
        ),
        (0, "no CUDA GPU found"),
    ],
)
def test_each_way_cuda_can_be_missing_has_its_reason(
    monkeypatch: pytest.MonkeyPatch, count: object, reason: str
) -> None:
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(count))
    b = CupyBackend()
    assert not b.is_available() and b.unavailable_reason() == reason
    with pytest.raises(RuntimeError, match="the cuda backend is unavailable: " + re.escape(reason)):
        b.xp  # noqa: B018


def test_a_cupy_that_fails_to_import_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """cupy installed but broken (its CUDA libraries missing): the import error itself is the reason."""
    real_import = builtins.__import__

    def importing(name: str, *args: object, **kwargs: object) -> object:
        if name == "cupy":
            raise OSError("libcudart.so.12: cannot open shared object file")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    monkeypatch.setattr(builtins, "__import__", importing)
    reason = CupyBackend().unavailable_reason()
    assert reason == "cupy cannot be imported: OSError: libcudart.so.12: cannot open shared object file"


def test_with_a_gpu_the_probe_succeeds_and_the_reason_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_cupy(2)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    b = CupyBackend()
    assert b.is_available() and b.unavailable_reason() == "" and b.xp is fake and b.device_count() == 2
