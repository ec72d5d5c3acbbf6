"""The cuda backend's random generator: a counter-based SplitMix64 stream computed on the device.

curand's generators keep their state inside the library, where it cannot be saved and restored,
and Torch7's contract needs both (``ft.get_rng_state`` / ``ft.set_rng_state``). So the uniform
bits come from SplitMix64 (Steele, Lea and Flood, 2014), whose n-th output is a pure function of
the seed and n::

    z = seed + n * 0x9E3779B97F4A7C15          (mod 2**64)
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    out = z ^ (z >> 31)

A draw of k values computes outputs pos+1 .. pos+k at once, element-wise on the device, and moves
``pos`` on by k: the whole state is two 64-bit words, so saving and restoring it is exact, and the
stream does not depend on how it was split into draws. SplitMix64 passes BigCrush.

``random``, ``standard_normal`` (Box-Muller), ``integers``, ``uniform``, ``normal``,
``lognormal``, ``exponential``, ``standard_exponential``, ``standard_cauchy`` and ``permutation``
are computed from the stream here. Every other numpy ``Generator`` method name (``gamma``,
``beta``, ``poisson``, ...) is served by the array library's legacy ``RandomState`` (cupy's runs
curand's Philox on the device), seeded with the stream's next output, so those draws too are a
function of the state.

The class is written against an array namespace ``xp`` and a ``RandomState`` class, so the same
code runs on numpy in the CPU tests:

>>> import numpy as np
>>> g = SplitMixGenerator(0, np, lambda seed: np.random.RandomState(np.random.MT19937(seed)))
>>> hex(int(g.bits(1)[0]))   # SplitMix64's first output for seed 0
'0xe220a8397b1dcdaf'
>>> state = g.get_state()
>>> a = g.random(3)
>>> g.set_state(state)
>>> bool((g.random(3) == a).all())
True
"""

from __future__ import annotations

import math
import operator
import struct
from typing import Any

_GAMMA = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_MASK = (1 << 64) - 1
_STATE = struct.Struct("<QQ")  # seed, position


def splitmix64(seed: int, n: int) -> int:
    """The ``n``-th output (from 1) of the SplitMix64 stream seeded with ``seed``, in Python integers.

    >>> hex(splitmix64(0, 1))
    '0xe220a8397b1dcdaf'
    """
    z = (seed + n * _GAMMA) & _MASK
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def _count(size: Any) -> tuple[tuple[int, ...], int]:
    shape = () if size is None else (operator.index(size),) if not isinstance(size, tuple | list) else tuple(size)
    return shape, math.prod(shape)


class SplitMixGenerator:
    """A numpy-``Generator``-like object over the SplitMix64 stream ``(seed, pos)``.

    Parameters
    ----------
    seed : int
        The stream's seed (taken modulo 2**64).
    xp : module
        The array namespace results live in (cupy on cuda; numpy in the tests).
    legacy : callable
        ``legacy(seed)`` gives an ``xp.random.RandomState``-like object (63-bit seeds) serving the
        distributions not computed here.
    """

    def __init__(self, seed: int, xp: Any, legacy: Any):
        self.seed = int(seed) & _MASK
        self.pos = 0
        self._xp = xp
        self._legacy = legacy
        self._legacy_class = legacy(0).__class__
        u64 = xp.uint64
        self._c = (u64(_GAMMA), u64(_M1), u64(_M2), u64(30), u64(27), u64(31), u64(11))

    # -- the stream -----------------------------------------------------------------------------
    def bits(self, n: int) -> Any:
        """The next ``n`` 64-bit outputs of the stream, as a uint64 array."""
        xp = self._xp
        gamma, m1, m2, s30, s27, s31, _ = self._c
        z = xp.arange(self.pos + 1, self.pos + n + 1, dtype=xp.uint64)
        self.pos += n
        z *= gamma
        z += xp.uint64(self.seed)
        z ^= z >> s30
        z *= m1
        z ^= z >> s27
        z *= m2
        z ^= z >> s31
        return z

    def get_state(self) -> bytes:
        return _STATE.pack(self.seed, self.pos)

    def set_state(self, state: bytes) -> None:
        if len(state) != _STATE.size:
            raise ValueError(f"a SplitMix64 generator state has {_STATE.size} bytes, got {len(state)}")
        self.seed, self.pos = _STATE.unpack(state)

    # -- distributions computed from the stream -------------------------------------------------
    def random(self, size: Any = None, dtype: Any = None) -> Any:
        """Uniform doubles in [0, 1): the top 53 bits of each output, times 2**-53."""
        shape, n = _count(size)
        u = (self.bits(n) >> self._c[6]).astype(self._xp.float64) * (2.0**-53)
        u = u.reshape(shape)
        return u if dtype is None else u.astype(dtype)

    def _open(self, shape: tuple[int, ...], n: int) -> Any:
        """Uniform doubles in (0, 1]: safe under a logarithm."""
        return 1.0 - self.random(shape)

    def standard_normal(self, size: Any = None, dtype: Any = None) -> Any:
        """Box-Muller on two uniforms per value (the cosine half)."""
        xp = self._xp
        shape, n = _count(size)
        r = xp.sqrt(-2.0 * xp.log(self._open(shape, n)))
        z = r * xp.cos((2.0 * math.pi) * self.random(shape))
        return z if dtype is None else z.astype(dtype)

    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> Any:
        return loc + scale * self.standard_normal(self._shape(size, loc, scale))

    def lognormal(self, mean: Any = 0.0, sigma: Any = 1.0, size: Any = None) -> Any:
        return self._xp.exp(self.normal(mean, sigma, size))

    def standard_exponential(self, size: Any = None) -> Any:
        shape, n = _count(size)
        return -self._xp.log(self._open(shape, n))

    def exponential(self, scale: Any = 1.0, size: Any = None) -> Any:
        return scale * self.standard_exponential(self._shape(size, scale))

    def standard_cauchy(self, size: Any = None) -> Any:
        shape, _ = _count(size)
        return self._xp.tan(math.pi * (self.random(shape) - 0.5))

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None) -> Any:
        return low + (high - low) * self.random(self._shape(size, low, high))

    def integers(self, low: Any, high: Any = None, size: Any = None, dtype: Any = None, endpoint: bool = False) -> Any:
        """Integers in [low, high) (``endpoint=True``: [low, high]), by the output modulo the span.

        The modulo's bias is at most span / 2**64: below 1e-9 for every span under 2**34.
        """
        xp = self._xp
        if high is None:
            low, high = 0, low
        dtype = xp.dtype(xp.int64 if dtype is None else dtype)
        shape, n = _count(self._shape(size, low, high))
        raw = self.bits(n).reshape(shape)
        if isinstance(low, int) and isinstance(high, int):
            span = high - low + int(endpoint)
            if span <= 0:
                raise ValueError(f"integers: low >= high ({low} >= {high})")
            if span == 1 << 64:
                r = raw
            else:
                r = raw % xp.uint64(span)
            if dtype.kind == "u":
                return (r + xp.uint64(low)).astype(dtype)
            return (r.astype(xp.int64) + low).astype(dtype)
        lo = xp.asarray(low, dtype=xp.int64)
        span_a = xp.asarray(high, dtype=xp.int64) - lo + int(endpoint)
        if bool(xp.any(span_a <= 0)):
            raise ValueError("integers: low >= high")
        return ((raw % span_a.astype(xp.uint64)).astype(xp.int64) + lo).astype(dtype)

    def permutation(self, n: int) -> Any:
        """A random permutation of ``range(n)``: the order of n random 64-bit keys."""
        return self._xp.argsort(self.bits(operator.index(n)), kind="stable") if n else self._xp.arange(0)

    # -- everything else: the legacy RandomState, seeded from the stream ------------------------
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        legacy = self._legacy
        if not hasattr(self._legacy_class, name):
            raise AttributeError(f"{type(self).__name__} has no method {name!r}")

        def draw(*args: Any, **kwargs: Any) -> Any:
            self.pos += 1  # a fresh 63-bit seed per draw: the stream's next output, computed on the host
            seed = splitmix64(self.seed, self.pos) >> 1
            return getattr(legacy(seed), name)(*args, **kwargs)

        draw.__name__ = name
        return draw

    def _shape(self, size: Any, *params: Any) -> Any:
        """``size``, or the broadcast shape of array parameters when ``size`` is None."""
        if size is not None:
            return size
        shapes = [tuple(p.shape) for p in params if hasattr(p, "shape")]
        if not shapes:
            return None
        import numpy as np

        return np.broadcast_shapes(*shapes)

    def __repr__(self) -> str:
        return f"<SplitMixGenerator seed={self.seed} pos={self.pos} on {self._xp.__name__}>"
