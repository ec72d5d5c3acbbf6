"""Errors of flambeau.autograd, in the flambeau hierarchy (each also a builtin exception type)."""

from __future__ import annotations

from flambeau.tensor.errors import ArgumentError, FlambeauError


class MissingGradientError(FlambeauError, NotImplementedError):
    """A traced argument reached an op (or primitive) position that has no gradient rule."""


class TracedValueError(ArgumentError):
    """A traced tensor was used in a way that would silently drop its gradient, or corrupt one."""


class NonScalarOutputError(FlambeauError, ValueError):
    """grad() of a function whose first output has more than one element."""


class AnomalyError(FlambeauError, FloatingPointError):
    """Under ``detect_anomaly()``: a traced op or a gradient rule produced a NaN or an infinity."""
