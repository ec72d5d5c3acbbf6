"""The backend plugin registry end to end, with a real third-party dist (DESIGN.md section 5).

``integration-tests/plugins/boxed-backend`` is the dist ``flambeau-boxed-backend``: a top-level
package ``boxed_backend`` that registers, through the entry point ``boxed`` of the group
``flambeau.backends``, a backend for the device type ``boxed`` (two devices) whose arrays are
numpy arrays in a type of their own, ``BoxedArray``. Like a real device it copies on transfers and
refuses host arrays in its maths, so everything a second device brings is exercised on a CPU-only
machine: discovery, each route of device selection, transfers, refused mixing, blocking,
duplicate registration and unavailability.

The nox ``integration`` session installs every dist under ``integration-tests/plugins/``
(non-editable) before running these tests; by hand: ``pip install ./integration-tests/plugins/boxed-backend``.
Anything that changes the registry or reads the environment at first load runs in a subprocess,
so this process's registry stays as installed.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from importlib import metadata

import numpy as np
import pytest

import flambeau.tensor as ft

try:
    import boxed_backend
except ImportError as e:  # the integration session installs it; a missing plugin must fail, not skip
    raise ImportError("install the test plugin: pip install ./integration-tests/plugins/boxed-backend") from e

BoxedArray = boxed_backend.BoxedArray

DIST = "flambeau-boxed-backend"
ENTRY_POINT = "boxed"
ENV_KEYS = ("FLAMBEAU_DEVICE", "FLAMBEAU_BLOCK_BACKENDS", boxed_backend.UNAVAILABLE_ENV)


def run_python(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter with only the given flambeau variables set; return its stdout."""
    full = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    full.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=full, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"subprocess failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLAMBEAU_DEVICE", raising=False)


def boxed(data: object, device: str = "boxed") -> ft.Tensor:
    return ft.tensor(data, device=device)


# -- discovery --------------------------------------------------------------------------------


def test_the_plugin_dist_declares_the_entry_point_and_imports_without_flambeau_tensor() -> None:
    out = run_python(
        """
        import sys
        from importlib import metadata
        eps = metadata.entry_points(group="flambeau.backends")
        ep = eps["boxed"]
        print(ep.value, ep.dist.name, ep.dist.version)
        import boxed_backend
        print("flambeau.tensor" in sys.modules, type(boxed_backend.BoxedBackend().xp.zeros(2)).__name__)
        """
    )
    assert out.split("\n")[:2] == ["boxed_backend flambeau-boxed-backend 0.1.0", "False BoxedArray"]


def test_backends_lists_the_plugin_device_with_its_entry_point_and_dist() -> None:
    infos = {b.device: b for b in ft.backends()}
    box = infos["boxed"]
    assert (box.name, box.plugin, box.dist, box.available, box.reason) == (
        "boxed",
        ENTRY_POINT,
        f"{DIST} {metadata.version(DIST)}",
        True,
        "",
    )
    assert str(box) == f"boxed    boxed      from {DIST} 0.1.0  (available)"
    cpu = infos["cpu"]
    assert (cpu.name, cpu.plugin, cpu.available) == ("numpy", "numpy", True)
    assert cpu.dist.startswith("flambeau-numpy ")


def test_device_objects_for_the_plugin_and_its_indices() -> None:
    d0, d1 = ft.device("boxed"), ft.device("boxed:1")
    assert (str(d0), d0.type, d0.index, str(d1), d1.index) == ("boxed:0", "boxed", 0, "boxed:1", 1)
    assert ft.device("boxed:0") is d0 and d0 == "boxed" and d1 == "boxed:1" and d1 != "boxed:0"
    assert d0.backend.name == "boxed" and d0.array_type is BoxedArray and d0.xp is boxed_backend.xp
    with pytest.raises(
        ft.DeviceUnavailableError, match=r"'boxed:2': index 2 out of range, 2 device\(s\) of type 'boxed'"
    ):
        ft.device("boxed:2")
    with pytest.raises(
        ft.DeviceUnavailableError, match=r"no backend serves device 'boxd' \(registered devices: .*boxed"
    ):
        ft.device("boxd")


# -- selection, most specific first ------------------------------------------------------------


def assert_on(t: ft.Tensor, dev: str) -> None:
    assert str(t.device) == dev
    assert type(t._a) is (np.ndarray if dev == "cpu" else BoxedArray)


def test_explicit_device_argument_selects_the_plugin() -> None:
    assert_on(ft.zeros(2, device="boxed"), "boxed:0")
    assert ft.zeros(2, 3, device="boxed").tolist() == [[0.0] * 3] * 2
    assert ft.ones(2, device="boxed:1").tolist() == [1.0, 1.0]
    assert_on(ft.ones(2, device="boxed:1"), "boxed:1")
    assert_on(ft.full(2, fill_value=7, device="boxed"), "boxed:0")
    assert ft.arange(4, device="boxed").tolist() == [0, 1, 2, 3]
    assert ft.eye(2, device=ft.device("boxed")).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert_on(ft.tensor([1, 2], device="boxed"), "boxed:0")
    assert_on(ft.DoubleTensor(2, 3, device="boxed"), "boxed:0")
    assert_on(ft.LongTensor([1, 2], device="boxed"), "boxed:0")
    s = ft.DoubleStorage([1, 2, 3], device="boxed")
    assert (str(s.device), type(s._a), s.tolist()) == ("boxed:0", BoxedArray, [1.0, 2.0, 3.0])


def test_an_op_runs_on_its_tensors_device_whatever_the_context() -> None:
    b = boxed([[1.0, -2.0], [3.0, 4.0]])
    with ft.device("cpu"):
        results = [b + 1, ft.tanh(b), b.mm(b), b.sum(0), b[0], b.t(), b.gt(0), -b, ft.add(b, 1)]
    for r in results:
        assert_on(r, "boxed:0")
    assert results[0].tolist() == [[2.0, -1.0], [4.0, 5.0]]
    assert results[2].tolist() == [[-5.0, -10.0], [15.0, 10.0]]
    assert results[6].tolist() == [[1, 0], [1, 1]] and results[6].type() == "flambeau.boxed.ByteTensor"


def test_the_device_context_selects_the_plugin_for_factories_and_number_only_ops() -> None:
    with ft.device("boxed") as d:
        assert d is ft.device("boxed") and ft.current_device() is d
        z = ft.zeros(3)
        three = ft.add(1, 2)  # no tensor argument: the current device
        with ft.device("cpu"):
            assert_on(ft.zeros(1), "cpu")
        r = ft.rand(2)
    assert_on(z, "boxed:0")
    assert_on(three, "boxed:0")
    assert three.item() == 3
    assert_on(r, "boxed:0")
    assert_on(ft.zeros(1), "cpu")  # left the context


def test_explicit_device_beats_the_context_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with ft.device("boxed"):
        assert_on(ft.zeros(2, device="cpu"), "cpu")
        assert_on(ft.tensor([1.0], device="cpu"), "cpu")
    monkeypatch.setenv("FLAMBEAU_DEVICE", "boxed")
    assert_on(ft.zeros(2, device="cpu"), "cpu")


def test_the_environment_variable_is_read_at_each_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAMBEAU_DEVICE", "boxed:1")
    assert_on(ft.zeros(2), "boxed:1")
    with ft.device("cpu"):  # the context beats the environment
        assert_on(ft.zeros(2), "cpu")
    monkeypatch.setenv("FLAMBEAU_DEVICE", "cpu")
    assert_on(ft.zeros(2), "cpu")


def test_the_environment_variable_selects_the_plugin_in_a_fresh_process() -> None:
    out = run_python(
        """
        import flambeau.tensor as ft
        t = ft.zeros(2)
        print(t.device, type(t._a).__name__, ft.current_device(), ft.tensor([1.5]).type())
        with ft.device("cpu"):
            print(ft.zeros(1).device)
        print(ft.zeros(1, device="cpu").device)
        """,
        FLAMBEAU_DEVICE="boxed",
    )
    assert out.split("\n")[:3] == ["boxed:0 BoxedArray boxed:0 flambeau.boxed.DoubleTensor", "cpu", "cpu"]


def test_the_default_device_is_cpu() -> None:
    assert os.environ.get("FLAMBEAU_DEVICE") is None
    assert ft.current_device() is ft.device("cpu")
    assert_on(ft.zeros(2), "cpu")
    assert_on(ft.tensor([1, 2]), "cpu")
    assert ft.zeros(2).type() == "flambeau.DoubleTensor"


# -- transfers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [ft.float64, ft.float32, ft.int64, ft.uint8])
def test_transfers_both_ways_keep_values_and_dtype_and_copy(dtype: np.dtype) -> None:
    c = ft.tensor([[1, 2, 3], [4, 5, 6]], dtype=dtype)
    b = c.to("boxed")
    assert_on(b, "boxed:0")
    assert (b.dtype, b.tolist(), b.size()) == (c.dtype, c.tolist(), c.size())
    b[0, 0] = 9  # a transfer copies: host and device never share memory
    assert c[0, 0].item() == 1
    back = b.cpu()
    assert_on(back, "cpu")
    assert back.tolist() == [[9, 2, 3], [4, 5, 6]] and back.dtype == c.dtype
    b[0, 1] = 8
    assert back[0, 1].item() == 2


def test_transfers_of_views_move_the_viewed_values_only() -> None:
    c = ft.range(1, 12).view(3, 4)
    v = c.t()[1:3]  # non-contiguous, offset
    b = v.to("boxed")
    assert b.tolist() == v.tolist() == [[2.0, 6.0, 10.0], [3.0, 7.0, 11.0]]
    assert b.is_contiguous() and b.storage().size() == 6


def test_transfer_between_devices_of_the_plugin() -> None:
    b0 = boxed([1.0, 2.0])
    b1 = b0.to("boxed:1")
    assert_on(b1, "boxed:1")
    assert b1.tolist() == [1.0, 2.0] and b1._a is not b0._a
    assert b0.to("boxed") is b0 and b0.to(ft.device("boxed:0")) is b0  # already there: no copy
    assert_on(b1.to("boxed:0"), "boxed:0")
    assert_on(b0.to("boxed:1", ft.float32), "boxed:1")
    assert b0.to("boxed:1", ft.float32).type() == "flambeau.boxed.FloatTensor"
    like = ft.zeros(1, device="boxed:1")
    assert_on(ft.ones(2).to(like), "boxed:1")


def test_type_names_on_the_plugin_device() -> None:
    b = boxed([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert b.type() == "flambeau.boxed.DoubleTensor"
    assert b.float().type() == "flambeau.boxed.FloatTensor"
    assert b.long().type() == "flambeau.boxed.LongTensor"
    assert b.to("boxed:1").type() == "flambeau.boxed.DoubleTensor"
    assert b.storage().type() == "flambeau.boxed.DoubleStorage"
    assert ft.typename(b) == "flambeau.boxed.DoubleTensor"
    assert b.cpu().type() == "flambeau.DoubleTensor"
    assert repr(b) == " 1  2  3\n 4  5  6\n[flambeau.boxed.DoubleTensor of size 2x3]"


def test_copy_into_another_device_is_an_explicit_transfer() -> None:
    c = ft.zeros(2, 2)
    c.copy_(boxed([[1.0, 2.0], [3.0, 4.0]]))
    assert_on(c, "cpu")
    assert c.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    b = ft.zeros(4, device="boxed")
    b.copy_(ft.tensor([[5.0, 6.0], [7.0, 8.0]]))  # same element count, other shape and device
    assert_on(b, "boxed:0")
    assert b.tolist() == [5.0, 6.0, 7.0, 8.0]


def test_host_views_need_an_explicit_transfer() -> None:
    b = boxed([1.0, 2.0])
    with pytest.raises(ft.ArgumentError, match=r"on device 'boxed:0'; call \.cpu\(\) first"):
        b.numpy()
    host = np.asarray(b)  # __array__ goes through the backend's to_host: a host copy
    assert type(host) is np.ndarray and host.tolist() == [1.0, 2.0]
    host[0] = 5
    assert b.tolist() == [1.0, 2.0]


def test_pickle_and_from_numpy_keep_the_plugin_device() -> None:
    b = boxed([[1, 2], [3, 4]], device="boxed:1")
    r = pickle.loads(pickle.dumps(b))
    assert_on(r, "boxed:1")
    assert r.tolist() == [[1, 2], [3, 4]] and r.type() == "flambeau.boxed.LongTensor"
    arr = boxed_backend.BoxedBackend().from_host(np.arange(3.0))
    t = ft.from_numpy(arr)  # the device whose backend owns the array
    assert_on(t, "boxed:0")
    assert t._a is arr


def test_random_draws_on_the_plugin_device_follow_its_generator() -> None:
    g_box, g_cpu = ft.Generator("boxed", seed=11), ft.Generator("cpu", seed=11)
    r = ft.rand(4, device="boxed", generator=g_box)
    assert_on(r, "boxed:0")
    assert r.tolist() == ft.rand(4, generator=g_cpu).tolist()  # the same Mersenne Twister
    state = g_box.get_state()
    a = ft.randn(3, device="boxed", generator=g_box).tolist()
    g_box.set_state(state)
    assert ft.randn(3, device="boxed", generator=g_box).tolist() == a
    with pytest.raises(ft.ArgumentError, match=r"generator is on 'cpu' but the op runs on 'boxed:0'"):
        ft.rand(2, device="boxed", generator=g_cpu)


# -- mixing is refused ------------------------------------------------------------------------------


def test_mixing_devices_in_an_op_raises_naming_both() -> None:
    c, b = ft.tensor([1.0, 2.0]), boxed([3.0, 4.0])
    for f in (lambda: ft.add(c, b), lambda: c + b, lambda: c.mul(b), lambda: ft.mm(c.view(1, 2), b.view(2, 1))):
        with pytest.raises(ft.DeviceMismatchError) as e:
            f()
        msg = str(e.value)
        assert "on device 'boxed:0'" in msg and "on device 'cpu'" in msg, msg
    with pytest.raises(
        RuntimeError, match=r"^add: argument 'other' is on device 'cpu' but argument 'input' is on device 'boxed:0'"
    ):
        ft.add(b, c)
    assert issubclass(ft.DeviceMismatchError, ft.DeviceError) and issubclass(ft.DeviceMismatchError, ft.FlambeauError)
    with pytest.raises(
        ft.DeviceMismatchError,
        match=r"cat: argument 'tensors\[1\]' is on device 'boxed:0' but argument 'tensors\[0\]' is on device 'cpu'",
    ):
        ft.cat([c, b])


def test_mixing_two_devices_of_the_plugin_is_refused_too() -> None:
    b0, b1 = boxed([1.0]), boxed([2.0], device="boxed:1")
    with pytest.raises(ft.DeviceMismatchError, match=r"'boxed:1' but argument 'input' is on device 'boxed:0'"):
        ft.add(b0, b1)


def test_out_on_another_device_is_refused_and_left_unchanged() -> None:
    b, c = boxed([1.0, 2.0]), ft.tensor([7.0, 7.0])
    with pytest.raises(ft.DeviceMismatchError) as e:
        ft.add(b, b, out=c)
    assert "'out'" in str(e.value) and "'cpu'" in str(e.value) and "'boxed:0'" in str(e.value)
    assert c.tolist() == [7.0, 7.0]
    bo = boxed([0.0, 0.0])
    with pytest.raises(ft.DeviceMismatchError, match="'boxed:0'.*'cpu'|'cpu'.*'boxed:0'"):
        ft.tanh(ft.tensor([0.5, 1.0]), out=bo)
    assert bo.tolist() == [0.0, 0.0]


def test_in_place_ops_across_devices_are_refused_and_leave_the_target_unchanged() -> None:
    c, b = ft.tensor([1.0, 2.0]), boxed([10.0, 20.0])
    with pytest.raises(ft.DeviceMismatchError, match=r"add: .*'boxed:0'.*'cpu'|add: .*'cpu'.*'boxed:0'"):
        c.add_(b)
    assert c.tolist() == [1.0, 2.0]
    with pytest.raises(ft.DeviceMismatchError):
        b.add_(c)
    with pytest.raises(ft.DeviceMismatchError):
        b += c
    assert b.tolist() == [10.0, 20.0]
    with pytest.raises(ft.DeviceMismatchError):
        b.copy_(b).mul_(ft.tensor(2.0))
    assert b.tolist() == [10.0, 20.0]


def test_indexing_and_assignment_across_devices_are_refused() -> None:
    c, b = ft.tensor([1.0, 2.0, 3.0]), boxed([4.0, 5.0, 6.0])
    with pytest.raises(ft.DeviceMismatchError, match=r"index tensor is on 'cpu', the indexed tensor on 'boxed:0'"):
        b[ft.tensor([0, 1])]
    with pytest.raises(ft.DeviceMismatchError, match=r"value is on 'cpu', the tensor on 'boxed:0'"):
        b[0:3] = c
    assert b.tolist() == [4.0, 5.0, 6.0]
    assert not c.equal(b.cpu()) and not b.equal(b.cpu()) and b.equal(boxed([4.0, 5.0, 6.0]))


def test_the_plugin_itself_refuses_host_arrays_so_a_silent_mix_would_show() -> None:
    x = boxed_backend.xp.asarray([1.0, 2.0])
    with pytest.raises(TypeError, match=r"boxed.add: got a host numpy.ndarray of shape \(2,\)"):
        x + np.ones(2)
    with pytest.raises(TypeError, match=r"boxed.where: got a host numpy.ndarray"):
        boxed_backend.xp.where(x > 1, x, np.zeros(2))
    assert type(x + 1) is BoxedArray and type(boxed_backend.xp.sum(x)) is BoxedArray


# -- blocking, duplicates, unavailability ------------------------------------------------------------


def test_the_plugin_can_be_blocked_by_entry_point_name() -> None:
    out = run_python(
        """
        import flambeau.tensor as ft
        print(sorted(b.device for b in ft.backends()))
        try:
            ft.zeros(1, device="boxed")
        except ft.DeviceUnavailableError as e:
            print(type(e).__name__, e)
        print(ft.zeros(1).device)
        """,
        FLAMBEAU_BLOCK_BACKENDS=f" other , {ENTRY_POINT},cupy",  # cupy: flambeau-cupy's entry point
    )
    lines = out.split("\n")
    assert lines[0] == "['cpu']"
    assert lines[1] == "DeviceUnavailableError no backend serves device 'boxed' (registered devices: cpu)"
    assert lines[2] == "cpu"


def test_a_second_backend_for_the_device_is_refused_naming_both_plugins_unless_override() -> None:
    out = run_python(
        """
        import flambeau.tensor as ft
        from boxed_backend import BoxedBackend

        class Impostor(BoxedBackend):
            name = "impostor"

        class Plugin:
            def __init__(self, override):
                self.override = override

            @ft.hookimpl
            def flambeau_register_backends(self, register):
                register(Impostor(), override=self.override)

        try:
            ft.register_backend(Plugin(False), name="impostor-plugin")
        except ft.RegistrationError as e:
            print(isinstance(e, RuntimeError), e)
        print(ft.device("boxed").backend.name)
        ft.register_backend(Plugin(True), name="impostor-override")
        print(ft.device("boxed").backend.name, ft.zeros(1, device="boxed").device)
        print([(b.name, b.plugin, b.dist) for b in ft.backends() if b.device == "boxed"])
        """
    )
    lines = out.split("\n")
    assert lines[0] == (
        "True device 'boxed' is registered twice: by plugin 'boxed' (flambeau-boxed-backend 0.1.0) and by plugin"
        " 'impostor-plugin' (no dist); pass override=True to replace it, or block one with FLAMBEAU_BLOCK_BACKENDS"
    )
    assert lines[1] == "boxed"
    assert lines[2] == "impostor boxed:0"
    assert lines[3] == "[('impostor', 'impostor-override', '')]"


def test_the_plugin_reports_itself_unavailable_with_its_reason() -> None:
    out = run_python(
        """
        import flambeau.tensor as ft
        box = [b for b in ft.backends() if b.device == "boxed"][0]
        print(box.available, "|", box.reason, "|", box)
        for f in (lambda: ft.zeros(1, device="boxed"), lambda: ft.tensor([1.0]).to("boxed")):
            try:
                f()
            except ft.DeviceUnavailableError as e:
                print(e)
        print(ft.zeros(1).device)
        """,
        BOXED_BACKEND_UNAVAILABLE="no boxes on this machine",
    )
    lines = out.split("\n")
    assert lines[0] == (
        "False | no boxes on this machine | boxed    boxed      from flambeau-boxed-backend 0.1.0"
        "  (unavailable: no boxes on this machine)"
    )
    assert lines[1] == lines[2] == "device 'boxed' (backend 'boxed') is unavailable: no boxes on this machine"
    assert lines[3] == "cpu"


def test_an_unavailable_device_named_by_the_environment_is_an_error_not_a_fallback() -> None:
    out = run_python(
        """
        import flambeau.tensor as ft
        try:
            ft.zeros(1)
        except ft.DeviceUnavailableError as e:
            print(e)
        """,
        FLAMBEAU_DEVICE="boxed",
        BOXED_BACKEND_UNAVAILABLE="driver missing",
    )
    assert out.strip() == "device 'boxed' (backend 'boxed') is unavailable: driver missing"


def test_a_registered_plugin_object_whose_backend_is_unavailable() -> None:
    out = run_python(
        """
        import flambeau.tensor as ft
        from boxed_backend import BoxedBackend

        class Ghost(BoxedBackend):
            name = "ghost"
            device = "ghost"
            def is_available(self):
                return False
            def unavailable_reason(self):
                return "the ghost card is not plugged in"

        class Plugin:
            @ft.hookimpl
            def flambeau_register_backends(self, register):
                register(Ghost())

        ft.register_backend(Plugin(), name="ghost-plugin")
        print(*[b for b in ft.backends() if b.device == "ghost"])
        try:
            ft.ones(2, device="ghost:0")
        except ft.DeviceUnavailableError as e:
            print(isinstance(e, RuntimeError), e)
        print(sorted(b.device for b in ft.backends() if b.available))
        """
    )
    lines = out.split("\n")
    assert lines[0] == "ghost    ghost      from ghost-plugin  (unavailable: the ghost card is not plugged in)"
    assert lines[1] == "True device 'ghost' (backend 'ghost') is unavailable: the ghost card is not plugged in"
    assert lines[2] == "['boxed', 'cpu']"


# -- a workload ----------------------------------------------------------------------------------------


def workload(dev: str) -> dict[str, object]:
    g = ft.Generator(dev, seed=5)
    x = ft.randn(4, 3, device=dev, generator=g)
    w = ft.randn(3, 5, device=dev, generator=g)
    bias = ft.linspace(-1, 1, 5, device=dev)
    h = ft.tanh(ft.mm(x, w) + bias)
    s = h.sum(1)
    top = ft.max(h, 1)
    mask = h.gt(0)
    picked = h[ft.tensor([2, 0], device=dev)]
    row = h.select(0, 1)
    ht = h.t()
    row.fill_(0.5)  # a view: writes through to h, and to h.t()
    flat = h.view(20)
    flat[19] = -3.0
    out = ft.zeros(4, 5, device=dev)
    ft.mul(h, 2, out=out)
    out.add_(1)
    arrays = [x, w, h, s, top.values, top.indices, mask, picked, out, ht, h.mean(0), h.std(), (x @ w).sum()]
    for t in arrays:
        assert str(t.device) == dev if ":" in dev else t.device == dev
        assert type(t._a) is (np.ndarray if dev == "cpu" else BoxedArray), t
    return {
        "values": [t.tolist() for t in arrays],
        "types": [t.type().replace(".boxed", "") for t in arrays],
        "views": (ht[4, 3].item(), h[1].tolist(), row.storage_offset(), h.is_set_to(flat.view(4, 5))),
        "sum_dim": s.size(),
    }


def test_a_workload_gives_the_same_values_on_the_plugin_device_as_on_cpu() -> None:
    on_cpu, on_box = workload("cpu"), workload("boxed:1")
    assert on_box["types"] == on_cpu["types"]
    assert on_box["sum_dim"] == on_cpu["sum_dim"] == ft.Size([4])
    assert on_box["views"] == on_cpu["views"] == (-3.0, [0.5] * 5, 5, True)
    for a, b in zip(on_cpu["values"], on_box["values"], strict=True):  # type: ignore[arg-type]
        np.testing.assert_allclose(np.asarray(b, dtype=float), np.asarray(a, dtype=float), rtol=1e-12, atol=0)


# -- what a third-party array type exposed (each was a bug in flambeau.tensor) ------------------------------


def test_resize_keeps_the_backend_array_type() -> None:
    b = boxed([1.0, 2.0, 3.0, 4.0]) * 2  # a computed result: numpy puts a plain ndarray under the subclass view
    b.resize_(2)
    assert b.tolist() == [2.0, 4.0]
    assert_on(b, "boxed:0")
    assert type(b.storage()._a) is BoxedArray


def test_bernoulli_with_a_probability_tensor_on_the_plugin_device() -> None:
    p = boxed([0.0, 1.0, 0.0, 1.0])
    assert ft.zeros(4, device="boxed").bernoulli_(p).tolist() == [0.0, 1.0, 0.0, 1.0]
    assert_on(ft.bernoulli(p), "boxed:0")


def test_manual_seed_also_seeds_a_device_first_used_afterwards() -> None:
    out = run_python(
        """
        import flambeau.tensor as ft
        ft.manual_seed(5)
        a = ft.rand(3, device="boxed").tolist()
        print(a == ft.rand(3, device="boxed", generator=ft.Generator("boxed", seed=5)).tolist())
        """
    )
    assert out.strip() == "True"


def test_type_names_carry_the_device_both_ways() -> None:
    t = ft.tensor([1.5, 2.5])
    b = t.type("flambeau.boxed.FloatTensor")
    assert_on(b, "boxed:0")
    assert b.type() == "flambeau.boxed.FloatTensor"
    back = b.type("flambeau.DoubleTensor")  # a cpu name brings it home, as Torch7's cuda names did
    assert back.device == "cpu" and back.tolist() == [1.5, 2.5]
    assert t.type(b.type()).device == b.device


def test_zero_dim_tensors_stay_zero_dim_across_transfers() -> None:
    t = ft.tensor(3.0).to("boxed")
    assert t.dim() == 0 and t.cpu().dim() == 0 and t.cpu().item() == 3.0
    s = ft.sum(boxed([1.0, 2.0]))
    assert s.dim() == 0 and s.cpu().tolist() == 3.0
    z = ft.zeros((), device="boxed").copy_(ft.tensor(5.0))
    assert z.dim() == 0 and z.item() == 5.0
