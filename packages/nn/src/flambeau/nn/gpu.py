"""``GPU``: a decorator that runs its module on a given device (Torch's ``nn.GPU``)."""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError

from .container import Container
from .module import Module, convert_tensors

__all__ = ["GPU"]


def _device_name(device: Any) -> str:
    return str(ft.device(device))


def _move(x: Any, device: Any) -> Any:
    """``x`` (a tensor or nested lists/tuples of them) on ``device``; what is already there is kept as it is."""
    if isinstance(x, Tensor):
        return x.to(device)
    if isinstance(x, (list, tuple)):
        moved = [_move(v, device) for v in x]
        if all(a is b for a, b in zip(moved, x, strict=True)):
            return x  # nothing moved: the same object (a module's output stays its output)
        return moved if isinstance(x, list) else tuple(moved)
    return x


def _device_of(x: Any) -> Any:
    """The device of the first tensor in ``x`` (nested lists), or None when it holds none."""
    if isinstance(x, Tensor):
        return x.device
    if isinstance(x, (list, tuple)):
        for v in x:
            d = _device_of(v)
            if d is not None:
                return d
    return None


def _move_like(x: Any, proto: Any) -> Any:
    """``x`` moved entry by entry to the devices of ``proto``'s entries (Torch's ``recursiveSetDevice``)."""
    if isinstance(proto, Tensor):
        return _move(x, proto.device)
    if isinstance(x, (list, tuple)) and isinstance(proto, (list, tuple)) and len(x) == len(proto):
        moved = [_move_like(a, b) for a, b in zip(x, proto, strict=True)]
        if all(a is b for a, b in zip(moved, x, strict=True)):
            return x
        return moved if isinstance(x, list) else tuple(moved)
    device = _device_of(proto)
    return x if device is None else _move(x, device)


def _home_tensors(x: Any, found: list[Tensor], seen: set[int]) -> None:
    """Every tensor reachable from ``x``, not looking inside nested ``GPU`` modules (they keep their own device)."""
    if id(x) in seen:
        return
    seen.add(id(x))
    if isinstance(x, Tensor):
        found.append(x)
    elif isinstance(x, GPU):
        return
    elif getattr(type(x), "_nn", False):
        for v in x.__dict__.values():
            _home_tensors(v, found, seen)
    elif isinstance(x, (list, tuple)):
        for v in x:
            _home_tensors(v, found, seen)
    elif isinstance(x, dict):
        for v in x.values():
            _home_tensors(v, found, seen)


class GPU(Container):
    """Runs ``module`` on ``device``, moving its inputs there and its outputs back: Torch's ``nn.GPU``.

    Parameters
    ----------
    module : Module
        The decorated module (the container's only child). It is moved to ``device`` in place.
    device : str or Device
        Where ``module`` lives and runs (``'cuda:1'``, ``'boxed:1'``, ``'cpu'``): its parameters,
        gradients and buffers stay there.
    out_device : str or Device, optional
        Where ``output`` goes. By default the device the input came from (the first tensor of a
        table input), so the decorator drops into a model on another device. Torch defaults to
        ``device`` instead; pass ``out_device=device`` for that.

    Notes
    -----
    ``update_output`` moves the input (a tensor or nested lists) to ``device``, runs the module
    there and moves its output to ``out_device``. ``update_grad_input`` moves ``grad_output`` to
    ``device`` and the module's ``grad_input`` back to the input's devices, entry by entry;
    ``acc_grad_parameters`` runs on ``device``. A transfer to the device a tensor is on already is
    no copy, so ``GPU(m, 'cpu')`` on cpu inputs behaves as ``m`` itself.

    Converting a model that holds a ``GPU`` module (``model.to(d)``, ``model.float()``,
    ``model.type(...)``): the decorated module takes the new tensor type but **stays on its
    device**. Torch's ``nn.GPU`` keeps its module on its device through ``model:cuda()`` but follows
    a conversion to a CPU type; here the decorator always pins its module (use :meth:`set_device`
    to move it). Called on the ``GPU`` module itself, ``type``/``to`` re-home the module at once;
    called on a model that holds it, the module goes back to its device the next time the ``GPU``
    module is used (``forward``, ``backward``, ``parameters()`` and so everything that goes through
    parameters: ``zero_grad_parameters``, ``update_parameters``, ``get_parameters``). Tensors the
    module shared with modules outside it cannot stay shared across devices. A model whose
    parameters live on several devices cannot be flattened by ``get_parameters`` (as in Torch);
    ``acc_update_grad_parameters`` and ``backward_update`` work through it (Module's fused update).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> from flambeau.nn.gpu import GPU
    >>> m = GPU(nn.Linear(3, 2), "cpu")
    >>> m
    nn.GPU(cpu) @ nn.Linear(3 -> 2)
    >>> out = m.forward(ft.ones(4, 3))
    >>> out.size(), str(out.device), m.backward(ft.ones(4, 3), ft.ones(4, 2)).size()
    (Size([4, 2]), 'cpu', Size([4, 3]))
    """

    def __init__(self, module: Module, device: Any, out_device: Any = None) -> None:
        super().__init__(module)
        self.device = _device_name(device)
        self.out_device = None if out_device is None else _device_name(out_device)
        self._input: Any = None  # the input moved to `device`, kept for the backward pass
        self._grad_output: Any = None
        self._rehome()

    def add(self, module: Module) -> GPU:
        if self.modules:
            raise ArgumentError("GPU.add: a GPU module decorates exactly one module, and it has one")
        super().add(module)
        return self

    @property
    def module(self) -> Module:
        """The decorated module."""
        return self.modules[0]

    def set_device(self, device: Any = None) -> GPU:
        """Move the decorated module to ``device`` (by default back to ``self.device``) and run it there; returns self."""
        if device is not None:
            self.device = _device_name(device)
        self._rehome()
        return self

    def _rehome(self) -> None:
        """Move every tensor of the decorated module that is not on ``self.device`` back there (sharing kept)."""
        if not self.modules:
            return
        home = ft.device(self.device)
        tensors: list[Tensor] = []
        _home_tensors(self.modules[0], tensors, set())
        if any(t.device != home for t in tensors):
            convert_tensors(tensors, None, home)

    # -- forward and backward ---------------------------------------------------------------------
    def _moved_input(self, input: Any) -> Any:
        return self._input if self._input is not None else _move(input, self.device)

    def update_output(self, input: Any) -> Any:
        self._rehome()
        x = _move(input, self.device)
        self._input = x
        out = self.run(0, self.modules[0].update_output, x)
        target = self.out_device if self.out_device is not None else _device_of(input)
        self.output = out if target is None else _move(out, target)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self._rehome()
        g = _move(grad_output, self.device)
        self._grad_output = g
        grad = self.run(0, self.modules[0].update_grad_input, self._moved_input(input), g)
        self.grad_input = _move_like(grad, input)
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        self._rehome()
        g = _move(grad_output, self.device)
        self.run(0, self.modules[0].acc_grad_parameters, self._moved_input(input), g, scale)

    def backward(self, input: Any, grad_output: Any, scale: float = 1.0) -> Any:
        """As ``update_grad_input`` then ``acc_grad_parameters``, moving ``grad_output`` once."""
        self._rehome()
        g = _move(grad_output, self.device)
        self._grad_output = g
        x = self._moved_input(input)
        if self.grad_input is None:  # Torch's idiom for a first layer: no gradient for the input
            self.run(0, self.modules[0].acc_grad_parameters, x, g, scale)
            return None
        grad = self.run(0, self.modules[0].backward, x, g, scale)
        self.grad_input = _move_like(grad, input)
        return self.grad_input

    # -- parameters, types, state ---------------------------------------------------------------------
    def parameters(self) -> tuple[list[Tensor], list[Tensor]]:
        self._rehome()  # after a conversion of an enclosing model, the module goes back to its device
        return super().parameters()

    def type(self, dtype: Any = None, device: Any = None) -> Any:
        """Convert as ``Module.type`` does, except that the decorated module stays on ``self.device``.

        The decorator's own buffers (``output``, ``grad_input``) follow ``device``; the kept input
        and gradient are dropped, as Torch's ``nn.GPU`` does.
        """
        if dtype is None and device is None:
            return super().type()
        self._input = self._grad_output = None
        super().type(dtype, device)
        self._rehome()
        return self

    def clear_state(self) -> GPU:
        # new empty tensors, not set_(): output and grad_input may be the module's or the caller's tensors
        self._input = self._grad_output = None
        self.output = ft.Tensor()
        if self.grad_input is not None:  # None marks a first layer: it stays None
            self.grad_input = ft.Tensor()
        super().clear_state()
        return self

    def __repr__(self) -> str:
        where = self.device if self.out_device is None else f"{self.device} -> {self.out_device}"
        inner = repr(self.modules[0]) if self.modules else "?"
        return f"nn.GPU({where}) @ {inner}"
