"""``Criterion``: Torch's loss API. ``forward(input, target)`` gives the loss, ``backward`` its gradient."""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft

from .errors import located
from .module import _register, convert_tensors, device_in


class Criterion:
    """The base of every loss: ``update_output`` computes the loss, ``update_grad_input`` dL/dinput.

    ``forward`` returns the loss as a Python float (as Torch returns a number) and keeps it in
    ``self.output``; ``backward`` returns ``self.grad_input``. Calling a criterion,
    ``crit(input, target)``, returns ``(loss, grad_input)``. Most criteria average over the batch
    or the elements when ``size_average`` is true (the default) and sum otherwise.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.MSECriterion()
    >>> loss, grad = crit(ft.Tensor([1.0, 2.0]), ft.Tensor([1.0, 4.0]))
    >>> loss, grad.tolist()
    (2.0, [0.0, -2.0])
    """

    _nn = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(cls)

    def __init__(self) -> None:
        self.output: float = 0.0
        self.grad_input: Any = ft.Tensor()
        self.size_average = True

    def update_output(self, input: Any, target: Any) -> float:
        """Compute the loss, keep it in ``self.output`` and return it."""
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        """Compute dL/dinput into ``self.grad_input`` and return it."""
        return self.grad_input

    def forward(self, input: Any, target: Any) -> float:
        try:
            return self.update_output(input, target)
        except Exception as e:  # the message names the criterion, as containers name modules
            raise located(e, repr(self)) from None

    def backward(self, input: Any, target: Any) -> Any:
        try:
            return self.update_grad_input(input, target)
        except Exception as e:
            raise located(e, repr(self)) from None

    def __call__(self, input: Any, target: Any) -> tuple[float, Any]:
        return self.forward(input, target), self.backward(input, target)

    def clone(self) -> Criterion:
        return ft.deserialize(ft.serialize(self))

    def type(self, dtype: Any = None, device: Any = None) -> Any:
        if dtype is None and device is None:
            return self.grad_input.type() if isinstance(self.grad_input, ft.Tensor) else ft.Tensor().type()
        convert_tensors(self, dtype, device if device is not None else device_in(dtype))
        return self

    def float(self) -> Criterion:
        return self.type("torch.FloatTensor")

    def double(self) -> Criterion:
        return self.type("torch.DoubleTensor")

    def to(self, device: Any) -> Criterion:
        return self.type(None, device)

    def cuda(self) -> Criterion:
        return self.to("cuda")

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        return f"nn.{type(self).__name__}" + (f"({extra})" if extra else "")


_register(Criterion)

__all__ = ["Criterion"]
