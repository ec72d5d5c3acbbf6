"""The error hierarchy of flambeau.

Every error flambeau raises derives from :class:`FlambeauError` and from the builtin it
corresponds to, so ``except ValueError`` keeps working for a shape mismatch and
``except TypeError`` for a dtype clash.

>>> issubclass(ShapeError, ValueError) and issubclass(ShapeError, FlambeauError)
True
"""

from __future__ import annotations

__all__ = [
    "FlambeauError",
    "ShapeError",
    "DTypeError",
    "IndexError",
    "ArgumentError",
    "DomainError",
    "DeviceError",
    "DeviceMismatchError",
    "DeviceUnavailableError",
    "RegistrationError",
    "SerializationError",
]

_builtin_IndexError = IndexError


def size_text(shape: tuple[int, ...]) -> str:
    """Sizes as errors print them: ``3x4``, or ``[] (0-d)``."""
    return "x".join(map(str, shape)) or "[] (0-d)"


def check_dim(a: object, dim: int, op: str, extra: int = 0, scalar_ok: bool = False) -> int:
    """``dim`` made non-negative for an array of ``a.ndim + extra`` dims, or an IndexError naming ``op``.

    ``scalar_ok`` lets a 0-d array take dim 0 or -1 (reductions treat it as one element).
    """
    ndim = a.ndim  # type: ignore[attr-defined]
    n = ndim + extra
    if scalar_ok:
        n = max(n, 1)
    if n == 0 or not -n <= dim < n:
        raise IndexError(f"{op}: dim {dim} out of range for a tensor of {ndim} dimension(s)")
    return dim % n


class FlambeauError(Exception):
    """Root of every error raised by flambeau."""


class ShapeError(FlambeauError, ValueError):
    """Sizes that do not fit together: broadcasting, matrix products, views."""


class DTypeError(FlambeauError, TypeError):
    """A dtype an op does not accept, or a result that cannot be cast to its target."""


class IndexError(FlambeauError, _builtin_IndexError):  # noqa: A001 - mirrors the builtin on purpose
    """An index or dimension out of range."""


class ArgumentError(FlambeauError, TypeError):
    """An argument of the wrong kind (a list where a tensor was expected, an unknown keyword)."""


class DomainError(FlambeauError, ValueError):
    """A value outside what the op accepts (a negative integer power, a bad mode string)."""


class DeviceError(FlambeauError, RuntimeError):
    """Base for device problems."""


class DeviceMismatchError(DeviceError):
    """Tensors on different devices met in one op; data never moves between devices silently."""


class DeviceUnavailableError(DeviceError):
    """A device whose backend is missing or cannot run here (no driver, no GPU, blocked)."""


class RegistrationError(FlambeauError, RuntimeError):
    """A plugin registered something twice, or registered something malformed."""


class SerializationError(FlambeauError, ValueError):
    """A file or byte string that cannot be read (not flambeau's, truncated, corrupt, too new), or an
    object that cannot be saved."""
