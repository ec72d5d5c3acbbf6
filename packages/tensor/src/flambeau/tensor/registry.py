"""The backend registry: a pluggy plugin manager, devices and how one is chosen.

Backends are plugins. A distribution declares an entry point in the group
``flambeau.backends`` naming a module (or object) that implements the hook
``flambeau_register_backends(register)``; the built-in numpy backend registers this way too.
Entry points are loaded lazily, on the first device lookup, so importing ``flambeau.tensor``
stays cheap. ``FLAMBEAU_BLOCK_BACKENDS=name1,name2`` blocks entry points by name.

Device selection, most specific first: an explicit ``device=`` argument; the tensor's own
device; ``with ft.device(...)``; the environment variable ``FLAMBEAU_DEVICE``; ``"cpu"``.

>>> import flambeau.tensor as ft
>>> ft.device("cpu").backend.name
'numpy'
>>> with ft.device("cpu"):
...     ft.zeros(2).device
device('cpu')
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import pluggy

from .errors import ArgumentError, DeviceUnavailableError, RegistrationError

PROJECT = "flambeau"
ENTRY_POINT_GROUP = "flambeau.backends"
BLOCK_ENV = "FLAMBEAU_BLOCK_BACKENDS"
DEVICE_ENV = "FLAMBEAU_DEVICE"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Backend(Protocol):
    """What a backend provides. Only ``xp`` and the transfers are used on hot paths."""

    name: str  # e.g. "numpy"
    device: str  # the device type it serves, e.g. "cpu", "cuda"
    array_type: type  # the array class it owns

    @property
    def xp(self) -> Any: ...  # numpy-compatible array namespace
    # Optional: ``activate(index)``, a context manager making device ``index`` the backend's
    # current one (entered by ``with ft.device("cuda:1"):``); ``index_of(array)``, the index of
    # the device holding ``array``; ``capture_namespace()``, the array namespace a compiled program
    # runs with while a CUDA graph captures it (cupy's: products that a capture can hold).
    def is_available(self) -> bool: ...
    def unavailable_reason(self) -> str: ...
    def device_count(self) -> int: ...
    def owns(self, array: Any) -> bool: ...
    def to_host(self, array: Any) -> Any: ...  # -> numpy.ndarray
    def from_host(self, array: Any, index: int | None) -> Any: ...  # numpy.ndarray -> array
    def new_generator(self, seed: int, index: int | None) -> Any: ...  # numpy-Generator-like
    def get_generator_state(self, gen: Any) -> bytes: ...
    def set_generator_state(self, gen: Any, state: bytes) -> None: ...


class HookSpecs:
    @hookspec
    def flambeau_register_backends(self, register: Any) -> None:
        """Register backends by calling ``register(backend, override=False)`` for each."""


@dataclass(frozen=True)
class BackendInfo:
    """One line of :func:`backends`: which plugin supplied which device, and whether it runs here."""

    name: str
    device: str
    plugin: str
    dist: str
    available: bool
    reason: str

    def __str__(self) -> str:
        state = "available" if self.available else f"unavailable: {self.reason}"
        return f"{self.device:<8} {self.name:<10} from {self.dist or self.plugin}  ({state})"


class _Registry:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(HookSpecs)
        self.loaded = False
        self.lock = threading.RLock()
        self.by_device: dict[str, tuple[Any, str, str]] = {}  # device type -> (backend, plugin, dist)

    def load(self) -> None:
        with self.lock:
            if self.loaded:
                return
            for name in filter(None, (s.strip() for s in os.environ.get(BLOCK_ENV, "").split(","))):
                self.pm.set_blocked(name)
            self.pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
            dists = {id(p): f"{d.project_name} {d.version}" for p, d in self.pm.list_plugin_distinfo()}
            for impl in self.pm.hook.flambeau_register_backends.get_hookimpls():
                dist = dists.get(id(impl.plugin), "")
                impl.function(register=self._registrar(impl.plugin_name, dist))
            self.loaded = True

    def add(self, plugin: Any, name: str | None = None) -> None:
        """Register a plugin object directly (for tests and embedding); loads it at once."""
        with self.lock:
            self.load()
            name = name or f"{type(plugin).__module__}.{type(plugin).__qualname__}"
            try:
                self.pm.register(plugin, name=name)
            except ValueError as e:
                raise RegistrationError(f"plugin {name!r} cannot be registered: {e}") from None
            try:
                for impl in self.pm.hook.flambeau_register_backends.get_hookimpls():
                    if impl.plugin is plugin:
                        impl.function(register=self._registrar(name, ""))
            except Exception:
                self.pm.unregister(plugin)
                raise

    def _registrar(self, plugin: str, dist: str) -> Any:
        def register(backend: Any, override: bool = False) -> None:
            for attr in ("name", "device", "xp", "array_type"):
                if not hasattr(type(backend), attr) and not hasattr(backend, attr):
                    raise RegistrationError(f"plugin {plugin!r} registered a backend without {attr!r}")
            old = self.by_device.get(backend.device)
            if old is not None and not override:
                raise RegistrationError(
                    f"device {backend.device!r} is registered twice: by plugin {old[1]!r}"
                    f" ({old[2] or 'no dist'}) and by plugin {plugin!r} ({dist or 'no dist'});"
                    f" pass override=True to replace it, or block one with {BLOCK_ENV}"
                )
            self.by_device[backend.device] = (backend, plugin, dist)
            _devices.clear()

        return register


_registry = _Registry()
plugin_manager = _registry.pm


def register_backend(plugin: Any, name: str | None = None) -> None:
    """Register a backend plugin object at run time (instead of through an entry point)."""
    _registry.add(plugin, name)


def backends() -> list[BackendInfo]:
    """Every registered backend, with the plugin and dist that supplied it and its availability.

    >>> import flambeau.tensor as ft
    >>> [(b.device, b.name, b.available) for b in ft.backends() if b.device == 'cpu']
    [('cpu', 'numpy', True)]
    """
    _registry.load()
    out = []
    for dev, (b, plugin, dist) in sorted(_registry.by_device.items()):
        ok = bool(b.is_available())
        out.append(BackendInfo(b.name, dev, plugin, dist, ok, "" if ok else b.unavailable_reason()))
    return out


class Device:
    """A device: a type served by a backend (``'cpu'``, ``'cuda'``, a plugin's) and an index.

    Use ``ft.device(spec)`` to get one; it is also a context manager that sets the device new
    tensors are made on.
    """

    __slots__ = ("type", "index", "backend", "xp", "array_type", "_str")

    def __init__(self, type: str, index: int | None, backend: Any):
        self.type, self.index, self.backend = type, index, backend
        self.xp = backend.xp
        self.array_type = backend.array_type
        self._str = type if index is None else f"{type}:{index}"

    def __repr__(self) -> str:
        return f"device({self._str!r})"

    def __str__(self) -> str:
        return self._str

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return other == self._str or other == self.type and ":" not in other
        return self is other

    def __hash__(self) -> int:
        return hash(self._str)

    def __enter__(self) -> Device:
        # A backend serving several devices (cuda:0, cuda:1) may need its own "current device"
        # switched too: it offers ``activate(index)``, a context manager.
        activate = getattr(self.backend, "activate", None)
        ctx = activate(self.index) if activate is not None and self.index is not None else None
        if ctx is not None:
            ctx.__enter__()
        _stack().append(self)
        _contexts().append(ctx)
        return self

    def __exit__(self, *exc: Any) -> None:
        _stack().pop()
        ctx = _contexts().pop()
        if ctx is not None:
            ctx.__exit__(*exc)


_devices: dict[Any, Device] = {}
_local = threading.local()


def _per_thread(name: str) -> list[Any]:
    """A list of this thread's own (the device stack and the backend contexts entered with it)."""
    try:
        return getattr(_local, name)
    except AttributeError:
        setattr(_local, name, [])
        return getattr(_local, name)


def _stack() -> list[Device]:
    return _per_thread("stack")


def _contexts() -> list[Any]:
    return _per_thread("contexts")


def device(spec: Any = None) -> Device:
    """The :class:`Device` for ``spec`` (``'cpu'``, ``'cuda'``, ``'cuda:1'``, a Device, or None for the current one).

    >>> import flambeau.tensor as ft
    >>> ft.device('cpu'), ft.device('cpu') is ft.device()
    (device('cpu'), True)
    """
    if spec is None:
        return current_device()
    try:
        return _devices[spec]
    except (KeyError, TypeError):
        pass
    if isinstance(spec, Device):
        return spec
    if not isinstance(spec, str):
        raise ArgumentError(f"device: expected a string like 'cpu' or 'cuda:0' or a Device, got {type(spec).__name__}")
    kind, _, idx = spec.partition(":")
    _registry.load()
    entry = _registry.by_device.get(kind)
    if entry is None:
        known = ", ".join(sorted(_registry.by_device)) or "none"
        raise DeviceUnavailableError(f"no backend serves device {kind!r} (registered devices: {known})")
    backend = entry[0]
    if not backend.is_available():
        raise DeviceUnavailableError(
            f"device {kind!r} (backend {backend.name!r}) is unavailable: {backend.unavailable_reason()}"
        )
    if kind == "cpu" and not idx:
        index = None
    else:
        try:
            index = int(idx) if idx else 0
        except ValueError:
            raise ArgumentError(f"device: bad device index in {spec!r}") from None
        count = backend.device_count()
        if not 0 <= index < count:
            raise DeviceUnavailableError(
                f"device {spec!r}: index {index} out of range, {count} device(s) of type {kind!r}"
            )
    key = kind if index is None else f"{kind}:{index}"
    dev = _devices.get(key) or Device(kind, index, backend)
    _devices[key] = _devices[spec] = dev
    return dev


def current_device() -> Device:
    """The device new tensors go to: the innermost ``with ft.device(...)``, else ``FLAMBEAU_DEVICE``, else cpu."""
    stack = _stack()
    if stack:
        return stack[-1]
    return device(os.environ.get(DEVICE_ENV) or "cpu")


def device_of_array(array: Any) -> Device:
    """The device whose backend owns ``array`` (used by ``from_numpy``-like entry points)."""
    _registry.load()
    for kind, (backend, _, _) in _registry.by_device.items():
        if backend.owns(array):
            index = getattr(backend, "index_of", lambda a: None)(array)
            return device(kind if index is None else f"{kind}:{index}")
    raise ArgumentError(f"no registered backend owns arrays of type {type(array).__name__}")
