"""The built-in gradient rules, one module per op family, registered through the plugin hook.

Each family module calls :func:`~flambeau.autograd.rules._table.rule` once per op; the hook below
hands every collected rule to the registry, so built-ins travel the same road as a plugin's.
"""

from __future__ import annotations

from typing import Any

from flambeau.tensor.registry import hookimpl

from ._table import BUILTIN

FAMILIES = ("methods", "pointwise", "reduce", "shape", "indexing", "blas", "matrix", "lapack", "conv", "sorting")


@hookimpl
def flambeau_register_gradients(register: Any) -> None:
    import importlib

    for family in FAMILIES:
        importlib.import_module(f"{__name__}.{family}")
    for target, vjps, named in BUILTIN:
        register(target, *vjps, **named)
