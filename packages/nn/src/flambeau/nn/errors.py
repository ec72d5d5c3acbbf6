"""Errors inside containers name where they happened: each container adds the child's place."""

from __future__ import annotations

from typing import Any


def located(e: BaseException, where: str) -> BaseException:
    """``e`` again (same class, chained to it) with ``where`` in front of its message.

    Containers call it as an error passes through them, so the message reads from the outermost
    container in: ``(2) nn.Sequential: (0) nn.Linear(256 -> 10): size mismatch ...``.
    """
    try:
        new: Any = type(e)(f"{where}: {e}")
    except Exception:  # an exception class that does not take one message: keep it as it is
        return e
    new.__cause__ = e.__cause__
    new.__traceback__ = e.__traceback__
    return new
