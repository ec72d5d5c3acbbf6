"""torch-randomkit for flambeau: numpy's randomkit samplers with Torch's fill convention.

All 49 names of torch-randomkit. They draw from flambeau's own generators (the device's default
one, or ``generator=``), so ``ft.manual_seed`` seeds them and ``ft.get_rng_state`` /
``ft.set_rng_state`` save and restore their stream exactly, together with the tensor samplers.

The fill convention (Torch's):

- ``f(out, *params)``: when the first argument is a tensor and there is one more argument than
  the distribution has parameters, ``out`` is filled in place (its size and type kept) and
  returned. ``out=`` may also be given by keyword.
- Parameters are numbers or tensors; tensors broadcast against the output's size (or have as many
  elements as it, Torch's rule). Without an output, tensor parameters give a new tensor of their
  broadcast size: the default float type, or a LongTensor for the integer samplers.
- With numbers only, the result is one Python number.

Missing trailing parameters take numpy's defaults (``normal()`` is a standard normal). Because of
the rule above, ``normal(t)`` takes ``t`` as ``loc``: pass ``out=t`` (or all parameters) to fill.

>>> import flambeau.tensor as ft
>>> from flambeau import random
>>> ft.manual_seed(42)
>>> a = ft.zeros(2, 3)
>>> random.negative_binomial(a, 9, 0.3) is a, a.type(), a.size()
(True, 'flambeau.DoubleTensor', Size([2, 3]))
>>> x = random.normal(5.0, 2.0)
>>> ft.manual_seed(42)
>>> _ = random.negative_binomial(a, 9, 0.3)
>>> random.normal(5.0, 2.0) == x
True
"""

from __future__ import annotations

from typing import Any

from flambeau.random.core import draw, signature
from flambeau.random.records import BY_NAME, DISTRIBUTIONS, Dist
from flambeau.random.text import conventions_table, docstring


def _make(d: Dist) -> Any:
    def sampler(*args: Any, **kwargs: Any) -> Any:
        return draw(d, args, kwargs)

    sampler.__name__ = sampler.__qualname__ = d.name
    sampler.__module__ = __name__
    sampler.__doc__ = docstring(d)
    return sampler


def _bytes(*args: Any, **kwargs: Any) -> Any:
    if len(args) == 1 and not kwargs.get("out") and isinstance(args[0], int) and not isinstance(args[0], bool):
        n = args[0]
        t = draw(BY_NAME["bytes"], (), {"out": _empty_bytes(n), **kwargs})
        return t.cpu().numpy().tobytes()  # drawn on the current device, read on the host
    return draw(BY_NAME["bytes"], args, kwargs)


def _empty_bytes(n: int) -> Any:
    import flambeau.tensor as ft

    return ft.zeros(n, dtype=ft.ByteTensor)


_functions: dict[str, Any] = {d.name: _make(d) for d in DISTRIBUTIONS}
_bytes.__name__ = _bytes.__qualname__ = "bytes"
_bytes.__doc__ = docstring(BY_NAME["bytes"])
_functions["bytes"] = _bytes
globals().update(_functions)
__doc__ = (__doc__ or "") + "\nWhere randomkit's conventions differ from numpy's:\n\n" + conventions_table() + "\n"

__all__ = [d.name for d in DISTRIBUTIONS] + ["DISTRIBUTIONS", "signature"]


def __getattr__(name: str) -> Any:  # for type checkers: the samplers are made from the records above
    raise AttributeError(f"module 'flambeau.random' has no attribute {name!r}")
