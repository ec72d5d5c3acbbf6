"""Text made from the records: signatures, docstrings and the conventions table."""

from __future__ import annotations

from flambeau.random.records import DISTRIBUTIONS, REQUIRED, Dist

PREAMBLE = ">>> import flambeau.tensor as ft\n>>> from flambeau import random\n>>> ft.manual_seed(0)\n"


def _signature(d: Dist) -> str:
    ps = [n if v is REQUIRED else f"{n}={v!r}" for n, v in d.params]
    return f"{d.name}([out,] {', '.join(ps + ['*', 'generator=None'])})"


def _example(d: Dist) -> str:
    return PREAMBLE + ">>> " + d.example


def _numpy(d: Dist) -> str:
    return f"numpy ``Generator.{d.method}``" + (f", as randomkit's ``{d.alias_of}``" if d.alias_of else "")


def docstring(d: Dist) -> str:
    """A sampler's docstring: signature, meaning, convention note, the fill convention and an example."""
    lines = [
        f"{_signature(d)}",
        "",
        d.doc,
        "",
        f"Drawn by {_numpy(d)}. Result: {'integers' if d.kind == 'int' else 'floats'}.",
    ]
    if d.note:
        lines += ["", f"Convention: {d.note}"]
    lines += [
        "",
        "With an output tensor first, fills it in place and returns it; tensor parameters broadcast;",
        "numbers only give a Python number. See :mod:`flambeau.random`.",
        "",
        _example(d),
        "",
    ]
    return "\n".join(lines)


def conventions_table() -> str:
    rows = ["| name | convention (randomkit's kept, or where flambeau departs from Torch) |", "|---|---|"]
    rows += [f"| `{d.name}` | {d.note.replace('``', '`')} |" for d in DISTRIBUTIONS if d.note and not d.alias_of]
    return "\n".join(rows)
