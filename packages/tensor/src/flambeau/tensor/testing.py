"""Running flambeau's test suites on any device: a pytest plugin and the helpers tests use.

Every flambeau package marks its table-driven suites (the op table, the gradient rules, the nn
modules, the optimizers, the special functions and distributions) with ``pytest.mark.device``.
``pytest --flambeau-device=cuda`` (or ``FLAMBEAU_TEST_DEVICE=cuda``) runs exactly those tests,
each inside ``with ft.device("cuda"):``, so tensors and parameters the test makes land there; every
other test is skipped as cpu-only. A device that cannot run here (no cupy, no GPU, no plugin
serving it) skips the device tests with the backend's own reason, so the same command passes on a
machine without a GPU. A third-party backend runs our suites the same way:
``pytest --flambeau-device=boxed``.

The plugin is registered with pytest through the ``pytest11`` entry point of flambeau-tensor; it
imports ``flambeau.tensor`` only when a test session starts.

Inside a device test, make tensors from numpy data with :func:`on_device` and read results back
with :func:`host`:

>>> import numpy as np
>>> t = on_device(np.arange(3.0))
>>> str(t.device), host(t * 2).tolist()
('cpu', [0.0, 2.0, 4.0])
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import numpy as np
import pluggy

ENV = "FLAMBEAU_TEST_DEVICE"
OPTION = "--flambeau-device"
MARK = "device"

_spec: list[str] = [os.environ.get(ENV) or "cpu"]
_reason: list[str] = [""]  # why the device under test cannot run here, found at collection


def spec() -> str:
    """The device the device suites run on, as given (``'cpu'``, ``'cuda'``, ``'cuda:1'``)."""
    return _spec[0]


def device() -> Any:
    """The :class:`~flambeau.tensor.Device` under test."""
    import flambeau.tensor as ft

    return ft.device(_spec[0])


def type_prefix() -> str:
    """The prefix of Torch7 type names on the device under test: ``'flambeau'`` on the cpu,
    ``'flambeau.cuda'`` on cuda (``flambeau.cuda.FloatTensor``)."""
    return str(on_device([]).type()).rsplit(".", 1)[0]


def on_device(a: Any, dtype: Any = None) -> Any:
    """A tensor holding a copy of ``a`` (numpy array, number, nested list) on the device under test.

    Lists of arrays give lists of tensors (the form ``cat``-like ops take).
    """
    import flambeau.tensor as ft

    if isinstance(a, list) and a and isinstance(a[0], np.ndarray):
        return [on_device(x, dtype) for x in a]
    arr = np.array(a, dtype=dtype, copy=True)
    t = ft.from_numpy(arr)
    d = device()
    return t if d == "cpu" else t.to(d)


def host(t: Any) -> Any:
    """A tensor's values as a numpy array (a view for cpu tensors, a copy from any other device).

    Lists and tuples are converted element by element; other values are returned unchanged.
    """
    from flambeau.tensor import Tensor

    if isinstance(t, Tensor):
        return t.numpy() if t.device.type == "cpu" else t.cpu().numpy()
    if isinstance(t, (list, tuple)):
        items = [host(x) for x in t]
        return type(t)(*items) if hasattr(t, "_fields") else type(t)(items)  # named tuples take fields
    return t


# What the cuda backend cannot do (yet), by name: tests whose point it is xfail there, strictly, so
# the day one is fixed the suite says so. The boxed test backend imitates cupy in these respects.
CUDA_LIMITATIONS = {
    "strided storage": (
        "cupy's as_strided makes views without a base array: a view that cannot be made by slicing"
        " (overlapping unfold windows, expansions) reports itself as its storage, with a wrong offset"
    ),
    "zero strides": (
        "cupy arrays carry no writeable flag: a tensor with a stride-0 dim is taken for an expanded view"
        " and refuses writes, even one made with explicit zero strides (Torch's aliasing constructor)"
    ),
}
LIMITED_DEVICES = ("cuda", "boxed")


def limited(devices: tuple[str, ...] = LIMITED_DEVICES) -> bool:
    """Whether the device under test has the :data:`CUDA_LIMITATIONS` (is one of ``devices``)."""
    return _spec[0].split(":")[0] in devices


def limitation(name: str, devices: tuple[str, ...] = LIMITED_DEVICES) -> Any:
    """A strict ``xfail`` mark, on the devices that have it, for one of :data:`CUDA_LIMITATIONS`.

    ``devices`` narrows it where the boxed stand-in does not share the limitation.
    """
    import pytest

    return pytest.mark.xfail(limited(devices), reason=f"cuda: {CUDA_LIMITATIONS[name]}", strict=True)


def cuda_reason() -> str:
    """Why device ``'cuda'`` cannot run here, as its backend says it; ``''`` when it can.

    For the tests a GPU alone can run: ``pytest.mark.skipif(bool(cuda_reason()), ...)``.
    """
    from .registry import backends

    infos = [b for b in backends() if b.device == "cuda"]
    if not infos:
        return "no backend serves device 'cuda' (install flambeau-cupy)"
    return "" if infos[0].available else infos[0].reason


def rss() -> int | None:
    """This process's resident set size in bytes (Linux's ``/proc/self/statm``), else None.

    >>> r = rss()
    >>> r is None or r > 0
    True
    """
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def shares_memory(a: Any, b: Any) -> bool:
    """Whether two tensors view the same storage (on any device)."""
    return bool(a.storage().data_ptr() == b.storage().data_ptr())


# -- the pytest plugin ------------------------------------------------------------------------------


def pytest_addoption(parser: Any) -> None:
    parser.addoption(
        OPTION,
        default=None,
        help=f"run flambeau's device suites (tests marked '{MARK}') on this device, e.g. cuda, cuda:1 or a plugin's"
        f" device; every other test is skipped. Default: ${ENV}, else cpu (everything runs).",
    )


def pytest_configure(config: Any) -> None:
    given = config.getoption(OPTION, default=None)
    if given:
        _spec[0] = given
    config.addinivalue_line(
        "markers", f"{MARK}: a device suite, run on the device {OPTION} (or ${ENV}) names; cpu otherwise"
    )


def pytest_report_header(config: Any) -> str:
    return f"flambeau device suites run on: {_spec[0]}" + ("" if _spec[0] == "cpu" else f" ({_unavailable() or 'ok'})")


def _unavailable() -> str:
    """Why the device under test cannot run here ('' when it can)."""
    import flambeau.tensor as ft

    try:
        ft.device(_spec[0])
    except ft.FlambeauError as e:
        return str(e)
    return ""


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if _spec[0] == "cpu":
        return
    import pytest

    reason = _reason[0] = _unavailable()
    cpu_only = pytest.mark.skip(reason=f"cpu-only test: {OPTION}={_spec[0]} runs the device suites")
    missing = pytest.mark.skip(reason=f"device suite not run: {reason}")
    for item in items:
        if item.get_closest_marker(MARK) is None:
            item.add_marker(cpu_only)
        elif reason:
            item.add_marker(missing)


_wrapper = pluggy.HookimplMarker("pytest")(wrapper=True)


def _in_device(item: Any) -> Generator[None, Any, Any]:
    """A hook wrapper: the test's setup, call and teardown run inside ``with ft.device(...)``."""
    if _spec[0] == "cpu" or _reason[0] or item.get_closest_marker(MARK) is None:
        return (yield)  # (an unavailable device: the test is skipped in its setup)
    with device():
        return (yield)


pytest_runtest_setup = _wrapper(_in_device)
pytest_runtest_call = _wrapper(_in_device)
pytest_runtest_teardown = _wrapper(_in_device)
