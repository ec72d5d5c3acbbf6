"""Random generators: one Mersenne Twister per device, seeding and state, as Torch7's ``torch.*Seed``.

>>> import flambeau.tensor as ft
>>> ft.manual_seed(7)
>>> a = ft.rand(3)
>>> state = ft.get_rng_state()
>>> b = ft.rand(3)
>>> ft.set_rng_state(state)
>>> ft.rand(3).equal(b), ft.initial_seed()
(True, 7)
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .errors import ArgumentError
from .registry import Device
from .registry import device as _device

_DEFAULT_SEED = 0x5EED


class Generator:
    """An independent random generator on one device (Torch7's ``torch.Generator()``)."""

    def __init__(self, device: Any = None, seed: int | None = None):
        self.device: Device = _device(device) if device is not None else _device("cpu")
        self._seed = _DEFAULT_SEED if seed is None else int(seed)
        self._gen = self.device.backend.new_generator(self._seed, self.device.index)

    def manual_seed(self, seed: int) -> Generator:
        """Re-seed; the same seed gives the same draws."""
        self._seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        self._gen = self.device.backend.new_generator(self._seed, self.device.index)
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy; returns the seed."""
        s = int.from_bytes(os.urandom(8), "little") >> 1
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Any:
        """The whole state as a ByteTensor (restore it with :meth:`set_state`)."""
        from .constructors import from_numpy

        raw = self.device.backend.get_generator_state(self._gen)
        return from_numpy(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, state: Any) -> None:
        from .tensor import Tensor

        if not isinstance(state, Tensor) or state.dtype != np.uint8:
            raise ArgumentError("set_state: expected a ByteTensor from get_state()")
        self.device.backend.set_generator_state(self._gen, np.asarray(state).tobytes())

    def __repr__(self) -> str:
        return f"Generator(device='{self.device}', initial_seed={self._seed})"


_defaults: dict[Device, Generator] = {}
_seed = [_DEFAULT_SEED]  # the last manual_seed: devices first used later start from it too


def default_generator(device: Any = None) -> Generator:
    d = _device(device)
    g = _defaults.get(d)
    if g is None:
        g = _defaults[d] = Generator(d, _seed[0])
    return g


def generator_for(dev: Device, gen: Generator | None) -> Any:
    """The backend generator an op on ``dev`` draws from (``gen`` if given, else the device's default)."""
    g = gen if gen is not None else default_generator(dev)
    if not isinstance(g, Generator):
        raise ArgumentError(f"generator= must be a flambeau Generator, got {type(g).__name__}")
    if g.device is not dev:
        raise ArgumentError(f"the generator is on '{g.device}' but the op runs on '{dev}'")
    return g._gen


def manual_seed(seed: int) -> None:
    """Seed the default generator of every device, including devices first used later."""
    _seed[0] = int(seed)
    default_generator("cpu")
    for g in _defaults.values():
        g.manual_seed(seed)


def seed() -> int:
    """Seed the cpu's default generator from the OS and return the seed."""
    return default_generator("cpu").seed()


def initial_seed() -> int:
    return default_generator("cpu").initial_seed()


def get_rng_state(device: Any = None) -> Any:
    return default_generator(device or "cpu").get_state()


def set_rng_state(state: Any, device: Any = None) -> None:
    default_generator(device or "cpu").set_state(state)
