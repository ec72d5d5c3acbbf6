"""Python operators and ``[]`` on tensors, bound to the generated op functions.

``*`` is element-wise and ``@`` the matrix product (PEP 465); comparisons give 0/1 ByteTensors.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import ArgumentError, DeviceMismatchError
from .ops.indexing import normalize_key

# dunder -> (op name, reflected: the tensor is the right operand)
OPERATORS: dict[str, tuple[str, bool]] = {
    "__add__": ("add", False),
    "__radd__": ("add", True),
    "__sub__": ("sub", False),
    "__rsub__": ("sub", True),
    "__mul__": ("mul", False),
    "__rmul__": ("mul", True),
    "__truediv__": ("div", False),
    "__rtruediv__": ("div", True),
    "__mod__": ("remainder", False),
    "__rmod__": ("remainder", True),
    "__pow__": ("pow", False),
    "__rpow__": ("pow", True),
    "__matmul__": ("matmul", False),
    "__rmatmul__": ("matmul", True),
    "__and__": ("bitand", False),
    "__rand__": ("bitand", True),
    "__or__": ("bitor", False),
    "__ror__": ("bitor", True),
    "__xor__": ("bitxor", False),
    "__rxor__": ("bitxor", True),
    "__lshift__": ("lshift", False),
    "__rlshift__": ("lshift", True),
    "__rshift__": ("rshift", False),
    "__rrshift__": ("rshift", True),
    "__lt__": ("lt", False),
    "__le__": ("le", False),
    "__gt__": ("gt", False),
    "__ge__": ("ge", False),
    "__eq__": ("eq", False),
    "__ne__": ("ne", False),
}
INPLACE: dict[str, str] = {
    "__iadd__": "add_",
    "__isub__": "sub_",
    "__imul__": "mul_",
    "__itruediv__": "div_",
    "__imod__": "remainder_",
    "__ipow__": "pow_",
    "__iand__": "bitand_",
    "__ior__": "bitor_",
    "__ixor__": "bitxor_",
    "__ilshift__": "lshift_",
    "__irshift__": "rshift_",
}
_OPERAND = (int, float, np.number, np.bool_)


def _reflected(fn: Callable[..., Any]) -> Callable[..., Any]:
    def op(self: Any, other: Any) -> Any:
        if not isinstance(other, _OPERAND):
            return NotImplemented
        return fn(other, self)

    return op


def _comparison(fn: Callable[..., Any]) -> Callable[..., Any]:
    # ``t == None`` must fall back to Python's identity comparison instead of raising.
    def op(self: Any, other: Any) -> Any:
        from .tensor import Tensor

        if other.__class__ is not Tensor and not isinstance(other, (Tensor, *_OPERAND)):
            return NotImplemented
        return fn(self, other)

    return op


def bind(namespace: dict[str, Any], tensor_cls: Any) -> None:
    for dunder, (name, reflected) in OPERATORS.items():
        fn = namespace[name]
        if reflected:
            fn = fn if name in ("add", "mul") else _reflected(fn)  # commutative: no swap needed
        elif dunder in ("__eq__", "__ne__"):
            fn = _comparison(fn)
        # Other operators are the generated functions themselves: the fastest path, and a
        # foreign right operand still reaches the op's handler (autograd's boxes).
        setattr(tensor_cls, dunder, fn)
    for dunder, method in INPLACE.items():
        setattr(tensor_cls, dunder, getattr(tensor_cls, method))
    tensor_cls.__neg__ = namespace["neg"]
    tensor_cls.__abs__ = namespace["abs"]
    tensor_cls.__pos__ = lambda self: self
    logical_not, bitnot = namespace["logical_not"], namespace["bitnot"]

    def __invert__(self: Any) -> Any:
        # Masks are ByteTensors: ``~mask`` must flip 0/1, not give 255/254.
        return logical_not(self) if self.dtype == np.uint8 else bitnot(self)

    tensor_cls.__invert__ = __invert__
    tensor_cls.T = property(namespace["t"])

    from .optable import OPS, generate

    getitem = generate(OPS["getitem"])  # no public function: ``t[key]`` is the form

    def __getitem__(self: Any, key: Any) -> Any:
        c = key.__class__
        if c is int:
            key = (key, Ellipsis)  # a 0-d view rather than numpy's scalar copy
        elif c is not slice:
            key = normalize_key(key, self._d)
            if _handlers and self.__class__ not in _handlers:
                for k in key:  # a traced index tensor (autograd's recording) into a plain tensor
                    h = _handlers.get(k.__class__)
                    if h is not None:
                        return h(OPS["getitem"], (self, key), None, None)
        return getitem(self, key)

    from .ops.indexing import check_key_range
    from .optable import _handlers, call, check_writable, notify_write, write_watchers

    index_put = OPS["index_put"]

    def __setitem__(self: Any, key: Any, value: Any) -> None:
        from .optable import translate

        if self.__class__ in _handlers or value.__class__ in _handlers:
            # A traced tensor on either side (autograd's boxes): record ``index_put`` in place.
            bound = {"input": self, "key": normalize_key(key, self._d), "values": value, "accumulate": False}
            call(index_put, bound, None, self)
            return
        if write_watchers:
            notify_write(self, "setitem")
        if isinstance(value, tensor_cls):
            if value._d is not self._d:
                raise DeviceMismatchError(
                    f"setitem: the value is on '{value._d}', the tensor on '{self._d}'; data never moves between"
                    " devices silently: move one with .to()"
                )
            value = value._a
        elif not isinstance(value, _OPERAND):
            raise ArgumentError(f"setitem: the value must be a Tensor or a number, got {type(value).__name__}")
        k = normalize_key(key, self._d)
        check_writable(self, "setitem")
        try:
            check_key_range(self._a, k, "setitem")
            self._a[k] = value
        except Exception as e:  # numpy checks shapes before it writes: the target is unchanged
            raise translate(OPS["getitem"], {"input": self}, e) from e

    tensor_cls.__getitem__ = __getitem__
    tensor_cls.__setitem__ = __setitem__

    # Torch7's view-op ``sub(d1s, d1e, ...)`` shares its name with subtraction: two or more
    # positional integers (alpha is keyword-only) can only mean the view.
    subtract, sub_view = namespace["sub"], namespace["sub_view"]

    def sub(input: Any, *args: Any, **kwargs: Any) -> Any:
        if len(args) >= 2 and not kwargs and all(isinstance(a, int) for a in args):
            return sub_view(input, *args)
        return subtract(input, *args, **kwargs)

    sub.__doc__ = subtract.__doc__
    sub.__signature__ = inspect.signature(subtract)  # type: ignore[attr-defined]
    sub.__op__ = subtract.__op__  # type: ignore[attr-defined]
    tensor_cls.sub = sub
    namespace["sub"] = sub
