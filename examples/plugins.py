"""Plugins at run time: a gradient override for flambeau.autograd and a third-party backend.

1. A gradient plugin implements the hook `flambeau_register_gradients(register)`; installed as a
   dist it is found through the `flambeau.gradients` entry point (see
   integration-tests/plugins/straight-through), and `autograd.register_gradients(plugin)`
   registers one at run time. This one gives `round` and `floor` the straight-through gradient
   and replaces `clamp`'s built-in rule (`override=True`); `gradients_info` says which rule is in
   force and where it came from.
2. A backend plugin implements the hook `flambeau_register_backends(register)`
   (docs/plugins.md); installed as a dist it is found through the `flambeau.backends` entry
   point, and `ft.register_backend(plugin)` registers one at run time. This one serves a new device
   "toy" with numpy arrays; ops, transfers, device errors and autograd are checked on it against
   the cpu.

Run it with `python examples/plugins.py` where flambeau is installed
(`python3 -m nox -s examples` runs every example).
"""

from typing import Any

import numpy as np
import pluggy

import flambeau.tensor as ft
from flambeau.autograd import grad, gradients_info, register_gradients

hookimpl = pluggy.HookimplMarker("flambeau")  # the marker every flambeau hook uses (= ft.hookimpl)


# -- 1. a gradient plugin ------------------------------------------------------------------------
class StraightThrough:
    """Straight-through gradients: the gradient passes ``round``, ``floor`` and ``clamp`` unchanged."""

    @staticmethod
    def passthrough(g: Any, ans: Any, *args: Any) -> Any:
        return g

    @hookimpl
    def flambeau_register_gradients(self, register: Any) -> None:
        register("round", self.passthrough)
        register("floor", self.passthrough)
        register("clamp", self.passthrough, override=True)  # replaces the built-in rule


def gradient_plugin() -> None:
    print("== a gradient plugin registered at run time")
    x = ft.Tensor([-1.7, -0.2, 0.4, 1.3, 2.6])
    quantized = lambda x: (ft.round(x * 4) / 4 * x).sum()
    clipped = lambda x: (ft.clamp(x, -1, 1) ** 2).sum()

    dq, _ = grad(quantized)(x)
    dc, _ = grad(clipped)(x)
    print("before: d/dx sum(round(4x)/4 * x) =", dq.tolist())
    print("        d/dx sum(clamp(x, -1, 1)^2) =", dc.tolist())
    # round has a zero gradient: only the factor x is differentiated
    assert dq.tolist() == (ft.round(x * 4) / 4).tolist()
    # clamp's built-in rule is zero outside the bounds
    assert dc.tolist() == [0.0, 2 * -0.2, 2 * 0.4, 0.0, 0.0]

    register_gradients(StraightThrough(), name="straight-through-demo")
    print(*(str(i) for i in gradients_info("round") + gradients_info("clamp")), sep="\n")
    assert all("straight-through-demo" in str(i) for i in gradients_info("round"))

    dq, _ = grad(quantized)(x)
    dc, _ = grad(clipped)(x)
    print("after:  d/dx sum(round(4x)/4 * x) =", dq.tolist())
    print("        d/dx sum(clamp(x, -1, 1)^2) =", dc.tolist())
    # straight through: d/dx [round(4x)/4] is taken as 1
    assert np.allclose(dq.numpy(), (ft.round(x * 4) / 4 + x).numpy(), rtol=0, atol=1e-15)
    assert np.allclose(dc.numpy(), 2 * np.clip(x.numpy(), -1, 1), rtol=0, atol=1e-15)

    # a second rule for an op that has one needs override=True
    class Another:
        @hookimpl
        def flambeau_register_gradients(self, register: Any) -> None:
            register("round", StraightThrough.passthrough)

    try:
        register_gradients(Another(), name="another")
    except ft.RegistrationError as e:
        print("without override:", e)
    else:
        raise AssertionError("a second rule for round without override=True should be refused")


# -- 2. a backend plugin -------------------------------------------------------------------------
class ToyBackend:
    """Device "toy": numpy arrays, but a separate device, so data moves only when asked."""

    name = "toy"
    device = "toy"
    array_type = np.ndarray
    xp = np

    def is_available(self) -> bool:
        return True

    def unavailable_reason(self) -> str:
        return ""

    def device_count(self) -> int:
        return 1

    def owns(self, array: Any) -> bool:
        return False  # plain numpy arrays stay with the cpu backend

    def to_host(self, array: Any) -> np.ndarray:
        return array

    def from_host(self, array: np.ndarray, index: int | None = None) -> np.ndarray:
        return np.array(array)  # a copy: transfers never share memory

    def new_generator(self, seed: int, index: int | None = None) -> np.random.Generator:
        return np.random.Generator(np.random.MT19937(seed))

    def get_generator_state(self, gen: np.random.Generator) -> bytes:
        st = gen.bit_generator.state["state"]
        return st["key"].astype("<u4").tobytes() + np.int32(st["pos"]).tobytes()

    def set_generator_state(self, gen: np.random.Generator, state: bytes) -> None:
        key = np.frombuffer(state[:2496], dtype="<u4").astype(np.uint32)
        pos = int(np.frombuffer(state[2496:], dtype="<i4")[0])
        gen.bit_generator.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}


class ToyPlugin:
    @hookimpl
    def flambeau_register_backends(self, register: Any) -> None:
        register(ToyBackend())


def backend_plugin() -> None:
    print("== a backend plugin registered at run time")
    ft.register_backend(ToyPlugin(), name="toy-demo")
    info = {b.device: b for b in ft.backends()}["toy"]
    print(info)
    assert info.available and info.name == "toy"

    ft.manual_seed(3)
    a, b = ft.randn(4, 3), ft.randn(3, 2)
    ta, tb = a.to("toy"), b.to("toy")
    print(ta.type(), ta.device)
    assert ta.type() == "flambeau.toy.DoubleTensor" and str(ta.device) == "toy:0"
    c = ft.tanh(ta @ tb) + 1  # runs on toy; the result stays there
    assert str(c.device) == "toy:0"
    assert np.allclose(c.cpu().numpy(), np.tanh(a.numpy() @ b.numpy()) + 1, rtol=1e-15, atol=0)
    # transfers copy: changing the toy tensor leaves the cpu one alone
    ta.fill_(0)
    assert a.abs().sum().item() > 0
    # new tensors inside a device block go to toy
    with ft.device("toy"):
        z = ft.zeros(2, 2)
    assert str(z.device) == "toy:0"
    # no silent moves between devices
    try:
        ft.ones(2, device="toy") + ft.ones(2)
    except ft.DeviceMismatchError as e:
        print("mixing devices:", e)
    else:
        raise AssertionError("adding a toy and a cpu tensor should fail")
    # autograd runs on the new device with no extra work
    dw, _ = grad(lambda w: (ft.tanh(w @ tb) ** 2).sum())(a.to("toy"))
    dw_cpu, _ = grad(lambda w: (ft.tanh(w @ b) ** 2).sum())(a)
    assert str(dw.device) == "toy:0" and np.allclose(dw.cpu().numpy(), dw_cpu.numpy(), rtol=1e-14)
    print("ops, transfers, device blocks and gradients on 'toy' agree with the cpu")


if __name__ == "__main__":
    gradient_plugin()
    backend_plugin()
    print("plugins.py: all checks passed")
