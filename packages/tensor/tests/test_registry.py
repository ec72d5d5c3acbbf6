"""The backend registry on the cpu: discovery by entry point, devices, selection order, errors.

The end-to-end proof with a third-party backend dist lives in integration-tests/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from support import CPU2, run_python

import flambeau.tensor as ft


def test_numpy_backend_is_found_through_its_entry_point() -> None:
    info = {b.device: b for b in ft.backends()}
    cpu = info["cpu"]
    assert cpu.name == "numpy" and cpu.available and cpu.reason == ""
    assert cpu.dist.startswith("flambeau-numpy") and cpu.plugin == "numpy"
    assert "cpu" in str(cpu) and "available" in str(cpu)


def test_device_objects() -> None:
    d = ft.device("cpu")
    assert d is ft.device(d) and d == "cpu" and str(d) == "cpu" and repr(d) == "device('cpu')"
    assert d.type == "cpu" and d.index is None and d.backend.name == "numpy"
    assert ft.zeros(1).device is d and not ft.zeros(1).is_cuda
    with pytest.raises(ft.ArgumentError, match="expected a string"):
        ft.device(3)


def test_device_context_is_the_current_device_and_nests() -> None:
    assert ft.current_device() is ft.device("cpu")
    with ft.device("cpu") as d:
        with ft.device("cpu"):
            assert ft.current_device() is d
        assert ft.zeros(2).device is d


def test_env_variable_selects_the_default_device_in_a_fresh_process() -> None:
    code = "import flambeau.tensor as ft; ft.zeros(1)"
    env = dict(os.environ, FLAMBEAU_DEVICE="nodevice")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "no backend serves device 'nodevice'" in r.stderr


def test_blocking_the_numpy_backend_leaves_no_cpu_device() -> None:
    code = "import flambeau.tensor as ft\nprint([b.device for b in ft.backends()])\ntry:\n  ft.zeros(1)\nexcept ft.DeviceUnavailableError as e:\n  print('refused:', e)"
    env = dict(os.environ, FLAMBEAU_BLOCK_BACKENDS="numpy")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "'cpu'" not in r.stdout.splitlines()[0] and "refused: no backend serves device 'cpu'" in r.stdout


def test_duplicate_registration_names_both_plugins() -> None:
    code = """
import flambeau.tensor as ft
from flambeau.backends.numpy import NumpyBackend

class Again:
    @ft.hookimpl
    def flambeau_register_backends(self, register):
        register(NumpyBackend())

try:
    ft.register_backend(Again(), name="again")
except ft.RegistrationError as e:
    print(e)

class Override:
    @ft.hookimpl
    def flambeau_register_backends(self, register):
        b = NumpyBackend(); b.name = "numpy-override"; register(b, override=True)

ft.register_backend(Override(), name="override")
print(ft.device("cpu").backend.name)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()
    assert "device 'cpu' is registered twice" in first and "'numpy'" in first and "'again'" in first
    assert second == "numpy-override"


def test_mixing_devices_is_refused_even_for_two_cpu_like_backends() -> None:
    code = (
        CPU2
        + """a, b = ft.ones(2), ft.ones(2, device="cpu2")
try:
    a + b
except ft.DeviceMismatchError as e:
    print(e)
c = a.clone()
try:
    c.add_(b)
except ft.DeviceMismatchError:
    print("in-place refused", c.tolist())
print(b.to("cpu").device, a.to("cpu2").device, (b + b).device, b.cpu().tolist())
"""
    )
    lines = run_python(code).splitlines()
    assert "add: argument 'other' is on device 'cpu2:0' but argument 'input' is on device 'cpu'" in lines[0]
    assert lines[1] == "in-place refused [1.0, 1.0]"
    assert lines[2] == "cpu cpu2:0 cpu2:0 [1.0, 1.0]"


def test_backend_kernels_name_overridable_ops() -> None:
    from flambeau.tensor.optable import OPS

    declared = {op.kernel for op in OPS.values() if op.kernel}
    assert {"conv2", "xcorr2", "conv3", "xcorr3"} <= declared
    for b in ft.backends():
        kernels = getattr(ft.device(b.device).backend, "kernels", {}) if b.available else {}
        assert set(kernels) <= declared, f"backend {b.name} overrides kernels no op declares"


def test_a_backend_kernel_replaces_the_portable_forward() -> None:
    code = """
import flambeau.tensor as ft
from flambeau.backends.numpy import NumpyBackend

calls = []

def native_conv2(xp, input, kernel, mode="V"):
    calls.append(mode)
    return xp.zeros((1, 1))

class Native(NumpyBackend):
    name, device = "native", "nat"
    kernels = {"conv2": native_conv2}

class Plugin:
    @ft.hookimpl
    def flambeau_register_backends(self, register):
        register(Native())

ft.register_backend(Plugin(), name="native")
x = ft.ones(3, 3, device="nat")
print(ft.conv2(x, ft.ones(2, 2, device="nat"), "F").tolist(), calls)
print(ft.conv2(ft.ones(3, 3), ft.ones(2, 2)).tolist())
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    native, portable = r.stdout.splitlines()
    assert native == "[[0.0]] ['F']"  # the backend's kernel ran, with the op's arguments
    assert portable == "[[4.0, 4.0], [4.0, 4.0]]"  # the cpu backend keeps the portable forward


def test_a_failed_registration_leaves_no_plugin_behind() -> None:
    from flambeau.backends.numpy import NumpyBackend
    from flambeau.tensor.registry import plugin_manager

    class Clash:
        @ft.hookimpl
        def flambeau_register_backends(self, register):  # noqa: ANN001, ANN202
            register(NumpyBackend())  # 'cpu' is taken

    with pytest.raises(ft.RegistrationError, match="device 'cpu' is registered twice"):
        ft.register_backend(Clash(), name="clash")
    assert plugin_manager.get_plugin("clash") is None
    assert ft.device("cpu").backend.name == "numpy"


def test_a_plugin_name_used_twice_is_a_registration_error() -> None:
    class Quiet:
        @ft.hookimpl
        def flambeau_register_backends(self, register):  # noqa: ANN001, ANN202
            pass

    ft.register_backend(Quiet(), name="quiet-twice")
    with pytest.raises(ft.RegistrationError, match="plugin 'quiet-twice' cannot be registered"):
        ft.register_backend(Quiet(), name="quiet-twice")


def test_a_device_context_enters_its_backends_activate_for_that_index() -> None:
    """``with ft.device("cuda:1")`` makes GPU 1 the backend's current device: activate(index) is entered."""
    import contextlib

    from flambeau.backends.numpy import NumpyBackend
    from flambeau.tensor.registry import Device

    log: list[str] = []

    class Multi(NumpyBackend):
        @contextlib.contextmanager
        def activate(self, index: int | None) -> Iterator[None]:
            log.append(f"enter {index}")
            yield
            log.append(f"exit {index}")

    outer, inner = Device("multi", 0, Multi()), Device("multi", 1, Multi())
    with outer:
        with inner:
            assert ft.device() is inner and log == ["enter 0", "enter 1"]
        assert ft.device() is outer and log == ["enter 0", "enter 1", "exit 1"]
    assert log[-1] == "exit 0" and ft.device() == "cpu"
    with ft.device("cpu"):  # a cpu device has no index: nothing to activate
        assert log == ["enter 0", "enter 1", "exit 1", "exit 0"]
