"""Helpers shared by the tests (importable: conftest puts this folder on sys.path)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

import flambeau.tensor as ft
from flambeau.tensor import testing
from flambeau.tensor.testing import host, on_device


def layouts(a: np.ndarray) -> dict[str, ft.Tensor]:
    """The same values as tensors of several memory layouts: contiguous, strided, transposed, offset.

    The tensors are on the device under test (see ``flambeau.tensor.testing``).
    """
    out = {"contiguous": on_device(np.array(a, order="C", copy=True))}
    if a.ndim >= 1 and a.size:
        big = np.zeros((a.shape[0] * 2,) + a.shape[1:], dtype=a.dtype)
        big[::2] = a
        out["strided"] = on_device(big).narrow(0, 0, big.shape[0]).unfold(0, 1, 2).select(a.ndim, 0)
        if a.ndim >= 2:
            out["transposed"] = on_device(np.ascontiguousarray(np.swapaxes(a, 0, 1))).transpose(0, 1)
        flat = np.concatenate([np.zeros(3, dtype=a.dtype), a.reshape(-1)])
        out["offset"] = on_device(flat)[3:].view(*a.shape)
    for name, t in out.items():
        assert np.array_equal(host(t), a, equal_nan=a.dtype.kind == "f"), name
    return out


def typename(name: str) -> str:
    """Torch7's name of the type ``name`` (``'LongTensor'``) on the device under test.

    ``'flambeau.LongTensor'`` on the cpu, ``'flambeau.<device type>.LongTensor'`` elsewhere (``'flambeau.cuda.LongTensor'``).
    """
    kind = testing.device().type
    return f"flambeau.{name}" if kind == "cpu" else f"flambeau.{kind}.{name}"


# A subprocess prologue registering a second numpy backend as device "cpu2": device mixing,
# transfers and map_location without leaving the main process's registry changed.
CPU2 = """
import sys
import flambeau.tensor as ft
from flambeau.tensor.testing import host, on_device
from flambeau.backends.numpy import NumpyBackend

class Other(NumpyBackend):
    name, device = "numpy2", "cpu2"

class Plugin:
    @ft.hookimpl
    def flambeau_register_backends(self, register):
        register(Other())

ft.register_backend(Plugin(), name="other")
"""


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter; its stdout (the test fails on a non-zero exit)."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout
