"""The op reference, generated from the op table as Markdown (``docs/ops.md``).

Every record of :data:`flambeau.tensor.optable.OPS` becomes one section: the signature of each
form it has (``ft.name``, ``Tensor.name``, ``Tensor.name_``, ``out=``), its aliases, dtype rule,
result, differentiability, doc and example. A summary table comes first. Regenerate the file with::

    python -m flambeau.tensor.opref > docs/ops.md

>>> from flambeau.tensor.opref import render
>>> text = render()
>>> text.startswith("# Op reference")
True
>>> "ft.add(input, other, *, alpha=1, out=None)" in text
True
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping

from . import optable
from .optable import OPS, Op

# Sections of the reference, in reading order, with their titles; unknown groups follow, sorted.
GROUPS: dict[str, str] = {
    "creation": "Creation",
    "random": "Random sampling",
    "view": "Views and reshaping",
    "join": "Joining and splitting",
    "indexing": "Indexing",
    "pointwise": "Element-wise maths",
    "comparison": "Comparisons and logical ops",
    "reduction": "Reductions",
    "blas": "Matrix products (BLAS)",
}

DTYPE_RULES = {
    "any": "any type; mixed types promote as in numpy",
    "float": "integer tensors are first converted to the default float type (`ft.DoubleTensor` unless changed)",
    "integer": "integer tensors only (Byte, Char, Short, Int, Long)",
}

RESULTS = {
    "tensor": "a new tensor",
    "byte": "a new 0/1 `ByteTensor`",
    "view": "a view sharing the input's storage",
    "tuple": "a namedtuple `({names})`",
    "list": "a list of tensors (views of the input)",
    "python": "a Python value",
}


def unique(ops: Mapping[str, Op] | Iterable[Op] | None = None) -> list[Op]:
    """The distinct records of ``ops`` (default: the whole table), in declaration order."""
    items = (OPS if ops is None else ops).values() if isinstance(ops, Mapping) or ops is None else ops
    seen: dict[int, Op] = {}
    for op in items:
        seen.setdefault(id(op), op)
    return list(seen.values())


def key(op: Op) -> str:
    """The name an op is known by: in-place-only fills by their ``_`` name."""
    return op.name + ("_" if op.kind == "fill" else "")


def forms(op: Op) -> list[str]:
    """One line per form the op has, each a call signature."""
    return optable.form_lines(op, returns=False)


def form_names(op: Op) -> str:
    """Short list of the forms for the summary table."""
    if op.kind == "fill":
        return "in-place"
    names = {"function": "function", "method": "method", "inplace": "in-place", "out": "out="}
    return ", ".join([f"`{op.syntax}`"] * bool(op.syntax) + [label for v, label in names.items() if v in op.variants])


def _rst_to_md(text: str) -> str:
    # Records use reST roles; ``code`` spans are already valid Markdown.
    return re.sub(r":(?:func|meth|class):`~?([\w.]+)`", lambda m: f"[`{m[1]}`](#{_anchor(m[1])})", text)


def _anchor(name: str) -> str:
    op = OPS.get(name) or OPS.get(name + "_")
    return key(op) if op is not None else name


def section(op: Op) -> str:
    """The Markdown section of one op."""
    lines = [f"### `{key(op)}`", "", "```python", *forms(op), "```", ""]
    if op.aliases:
        lines.append("- **Aliases:** " + ", ".join(f"`{a}`" for a in op.aliases) + " (every form)")
    if "out" in op.variants:
        lines.append("- **`out=`:** writes the result into `out`, resized to fit (Torch7's result argument)")
    if op.kind == "factory":
        lines.append(
            "- **Type:** `dtype=` chooses it; without it, "
            + ("the default tensor type" if op.default_dtype is None else "chosen by the op (see below)")
        )
    elif op.kind == "fill":
        lines.append("- **Types:** the draws are stored in the tensor's own type (same-kind casting)")
        lines.append("- **Returns:** the tensor itself, filled in place")
    else:
        lines.append(f"- **Types:** {DTYPE_RULES.get(op.dtypes, op.dtypes)}")
        lines.append(f"- **Returns:** {RESULTS.get(op.result, op.result).format(names=', '.join(op.names))}")
    if op.rng:
        lines.append("- **Random:** draws from `generator=` or the device's default generator")
    diff = ", ".join(f"`{a}`" for a in op.differentiable)
    lines.append(f"- **Differentiable:** {'with respect to ' + diff if diff else 'no'}")
    lines += ["", _rst_to_md(op.doc.strip()) or "*(no description)*", ""]
    if op.example.strip():
        lines += ["```pycon", op.example.strip("\n"), "```", ""]
    else:
        lines += ["*(no example)*", ""]
    return "\n".join(lines)


def render(ops: Mapping[str, Op] | Iterable[Op] | None = None) -> str:
    """The op reference as Markdown: a summary table, then one section per op grouped by ``group``."""
    records = unique(ops)
    order = list(GROUPS) + sorted({op.group for op in records} - set(GROUPS))
    groups = [(g, [op for op in records if op.group == g]) for g in order]
    groups = [(g, members) for g, members in groups if members]
    out = [
        "# Op reference",
        "",
        "<!-- Generated from the op table by `python -m flambeau.tensor.opref > docs/ops.md`; do not edit. -->",
        "",
        f"{len(records)} ops. Every form below is generated from one record of the op table"
        " (`flambeau.tensor.optable.OPS`): the function `ft.name`, the method `Tensor.name`,"
        " the in-place method `Tensor.name_` and the `out=` keyword, as each op declares."
        " Indices and dims are 0-based; binary ops broadcast like numpy.",
        "",
        "| op | group | forms | differentiable |",
        "|---|---|---|---|",
    ]
    for g, members in groups:
        for op in members:
            alias = f" ({', '.join(f'`{a}`' for a in op.aliases)})" if op.aliases else ""
            diff = ", ".join(op.differentiable) or "no"
            out.append(f"| [`{key(op)}`](#{key(op)}){alias} | {GROUPS.get(g, g)} | {form_names(op)} | {diff} |")
    out.append("")
    for g, members in groups:
        out += [f"## {GROUPS.get(g, g.capitalize())}", ""]
        out += [section(op) for op in members]
    return "\n".join(out).rstrip("\n") + "\n"


def problems(ops: Mapping[str, Op] | Iterable[Op] | None = None) -> list[str]:
    """Records that the reference cannot document properly: no doc or no example."""
    out = []
    for op in unique(ops):
        if not op.doc.strip():
            out.append(f"{key(op)}: no doc")
        if ">>>" not in op.example:
            out.append(f"{key(op)}: no example")
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the reference on stdout; list undocumented records on stderr (exit status 1 if any)."""
    sys.stdout.write(render())
    bad = problems()
    for p in bad:
        print(f"opref: {p}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
