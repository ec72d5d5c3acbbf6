"""flambeau's cuda backend: cupy arrays on NVIDIA GPUs, registered through the ``flambeau.backends`` entry point.

Importing this module never imports cupy: the registry loads every backend plugin on its first
device lookup, and a machine without cupy, without a CUDA driver or without a GPU must keep
working on the cpu. cupy is imported the first time the backend is asked whether it is available
(``ft.device("cuda")``, ``ft.backends()``); when it cannot run, the backend says why:

>>> b = CupyBackend()
>>> b.device, b.name
('cuda', 'cupy')
>>> b.is_available() or b.unavailable_reason() != ''
True

Devices are ``cuda`` (= ``cuda:0``) and ``cuda:N``. Arrays are allocated on their device; ops run
on cupy's current device, which ``with ft.device("cuda:1"):`` selects (the registry enters
:meth:`CupyBackend.activate`).

The random generator is :class:`~flambeau.backends.cupy.generator.SplitMixGenerator`: a
counter-based stream computed on the device whose whole state (seed and position) can be saved and
restored, which curand's generators do not allow.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pluggy

from .generator import SplitMixGenerator

__all__ = ["CupyBackend", "SplitMixGenerator", "flambeau_register_backends"]

hookimpl = pluggy.HookimplMarker("flambeau")

_INSTALL = "pip install 'flambeau-cupy[cuda12]' (or [cuda13] for a CUDA 13 driver)"


class CupyBackend:
    """The backend object flambeau's registry receives (see ``flambeau.tensor.registry.Backend``)."""

    name = "cupy"
    device = "cuda"
    kernels: dict[str, Any] = {}  # nn's portable kernels already run on cuBLAS (im2col + GEMM)

    def __init__(self) -> None:
        self._cupy: Any = None
        self._reason: str | None = None  # None: not probed yet; "": available
        self._capture: Any = None

    # -- availability: probed once, lazily ------------------------------------------------------
    def _probe(self) -> str:
        if self._reason is not None:
            return self._reason
        try:
            import cupy
        except ModuleNotFoundError as e:
            if e.name == "cupy" or (e.name or "").startswith("cupy."):
                self._reason = f"cupy is not installed: {_INSTALL}"
            else:
                self._reason = f"cupy cannot be imported: {e}"
            return self._reason
        except Exception as e:  # a broken install: missing CUDA libraries and the like
            self._reason = f"cupy cannot be imported: {type(e).__name__}: {e}"
            return self._reason
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as e:  # no driver, or a driver older than cupy's CUDA
            self._reason = f"no usable CUDA driver ({type(e).__name__}: {e})"
            return self._reason
        if count < 1:
            self._reason = "no CUDA GPU found"
            return self._reason
        self._cupy = cupy
        self._reason = ""
        return ""

    def is_available(self) -> bool:
        return self._probe() == ""

    def unavailable_reason(self) -> str:
        return self._probe()

    def _lib(self) -> Any:
        reason = self._probe()
        if reason:
            raise RuntimeError(f"the cuda backend is unavailable: {reason}")
        return self._cupy

    @property
    def xp(self) -> Any:
        return self._lib()

    @property
    def array_type(self) -> type:
        return self._lib().ndarray

    def device_count(self) -> int:
        return int(self._lib().cuda.runtime.getDeviceCount())

    # -- arrays and transfers -------------------------------------------------------------------
    def owns(self, array: Any) -> bool:
        cupy = sys.modules.get("cupy")  # not imported yet: no array can be a cupy array
        return cupy is not None and isinstance(array, cupy.ndarray)

    def index_of(self, array: Any) -> int:
        return int(array.device.id)

    def activate(self, index: int | None) -> contextlib.AbstractContextManager[Any]:
        """A context making GPU ``index`` cupy's current device (where ops run and allocate)."""
        return self._lib().cuda.Device(index or 0)

    def to_host(self, array: Any) -> np.ndarray:
        """Device -> host: a new numpy array (waits for the work producing ``array``)."""
        return array.get()

    def from_host(self, array: np.ndarray, index: int | None = None) -> Any:
        """Host -> device ``cuda:<index>``: a new cupy array of the same shape and dtype."""
        cupy = self._lib()
        with cupy.cuda.Device(index or 0):
            return cupy.asarray(array)

    def capture_namespace(self) -> Any:
        """The array namespace a program runs with while captured as a CUDA graph: cupy, with
        ``matmul`` and ``dot`` on cuBLAS called directly (cupy's refuse during a capture); see
        :mod:`flambeau.backends.cupy.capture`. Made on first use (it loads libcublas)."""
        if self._capture is None:
            from .capture import CaptureNamespace
            from .cublas import Cublas

            cupy = self._lib()
            self._capture = CaptureNamespace(cupy, Cublas(cupy))
        return self._capture

    # -- random ---------------------------------------------------------------------------------
    def new_generator(self, seed: int, index: int | None = None) -> SplitMixGenerator:
        cupy = self._lib()
        philox = cupy.cuda.curand.CURAND_RNG_PSEUDO_PHILOX4_32_10

        def legacy(s: int) -> Any:
            return cupy.random.RandomState(s, method=philox)

        with _on(cupy, index):
            return _DeviceGenerator(seed, cupy, legacy, index)

    def get_generator_state(self, gen: SplitMixGenerator) -> bytes:
        return gen.get_state()

    def set_generator_state(self, gen: SplitMixGenerator, state: bytes) -> None:
        gen.set_state(state)

    def __repr__(self) -> str:
        return "<CupyBackend device='cuda'>"


@contextlib.contextmanager
def _on(cupy: Any, index: int | None) -> Iterator[None]:
    """GPU ``index`` as cupy's current device inside (GPU 0 too: another may be current)."""
    if index is None:
        yield
        return
    with cupy.cuda.Device(index):
        yield


class _DeviceGenerator(SplitMixGenerator):
    """A SplitMix generator whose draws are made on GPU ``index`` whatever the current device."""

    def __init__(self, seed: int, xp: Any, legacy: Any, index: int | None):
        super().__init__(seed, xp, legacy)
        self._index = index

    def bits(self, n: int) -> Any:
        with _on(self._xp, self._index):
            return super().bits(n)


@hookimpl
def flambeau_register_backends(register: Any) -> None:
    register(CupyBackend())
