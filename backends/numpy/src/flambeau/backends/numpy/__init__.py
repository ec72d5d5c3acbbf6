"""flambeau's cpu backend: numpy arrays, registered through the ``flambeau.backends`` entry point.

The backend is a plain object satisfying ``flambeau.tensor.registry.Backend``; this module
does not import ``flambeau.tensor`` so that loading the plugin stays cheap and acyclic.

>>> b = NumpyBackend()
>>> b.device, b.name, b.is_available()
('cpu', 'numpy', True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pluggy

hookimpl = pluggy.HookimplMarker("flambeau")

# MT19937 state: 624 32-bit words plus the position, as bytes (Torch7 returns a ByteTensor).
_MT_WORDS = 624


class NumpyBackend:
    name = "numpy"
    device = "cpu"
    array_type = np.ndarray
    xp = np
    kernels: dict[str, Any] = {}

    def is_available(self) -> bool:
        return True

    def unavailable_reason(self) -> str:
        return ""

    def device_count(self) -> int:
        return 1

    def owns(self, array: Any) -> bool:
        return type(array) is np.ndarray

    def to_host(self, array: Any) -> np.ndarray:
        return array

    def from_host(self, array: np.ndarray, index: int | None = None) -> np.ndarray:
        return array

    # Torch7's generator is a Mersenne Twister; numpy's MT19937 bit generator is the same algorithm.
    def new_generator(self, seed: int, index: int | None = None) -> np.random.Generator:
        return np.random.Generator(np.random.MT19937(seed))

    def get_generator_state(self, gen: np.random.Generator) -> bytes:
        st = gen.bit_generator.state["state"]
        return st["key"].astype("<u4").tobytes() + np.int32(st["pos"]).astype("<i4").tobytes()

    def set_generator_state(self, gen: np.random.Generator, state: bytes) -> None:
        if len(state) != 4 * (_MT_WORDS + 1):
            raise ValueError(f"a numpy MT19937 state has {4 * (_MT_WORDS + 1)} bytes, got {len(state)}")
        key = np.frombuffer(state[: 4 * _MT_WORDS], dtype="<u4").astype(np.uint32)
        pos = int(np.frombuffer(state[4 * _MT_WORDS :], dtype="<i4")[0])
        gen.bit_generator.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}


@hookimpl
def flambeau_register_backends(register: Any) -> None:
    register(NumpyBackend())
