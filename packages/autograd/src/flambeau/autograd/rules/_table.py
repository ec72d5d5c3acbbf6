"""Where the family modules put their rules until the registry's hook collects them."""

from __future__ import annotations

from typing import Any

BUILTIN: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []


def rule(target: Any, *vjps: Any, **named: Any) -> None:
    """Declare the built-in rules of one op: positional ones follow its differentiable arguments."""
    BUILTIN.append((target, vjps, named))
