"""The module reference, generated from the classes themselves as Markdown (``docs/nn.md``).

Every class ``flambeau.nn`` exports becomes one row in the table of the section of the file that
defines it: its constructor's signature and the first sentence of its docstring. Regenerate with::

    python -m flambeau.nn.reference > docs/nn.md

>>> from flambeau.nn.reference import render
>>> text = render()
>>> text.startswith("# nn reference")
True
>>> "`nn.Linear(input_size, output_size, bias=True)`" in text
True
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

# Sections, in reading order: the defining module's name -> title. Others follow, by name.
SECTIONS: dict[str, str] = {
    "module": "Module",
    "container": "Containers",
    "containers": "Containers",
    "linear": "Linear layers",
    "reshaping": "Reshaping layers",
    "elementwise": "Element-wise and reduction layers",
    "regularization": "Regularization",
    "transfer": "Transfer functions",
    "spatial": "Convolution and pooling",
    "temporal": "Temporal modules and lookup tables",
    "volumetric": "Volumetric modules",
    "resample": "Padding and upsampling",
    "normalization": "Normalization",
    "table": "Table modules",
    "criterion": "Criteria",
    "criteria_classification": "Criteria: classification",
    "criteria_regression": "Criteria: regression",
    "criteria_embedding": "Criteria: embedding and ranking",
    "criteria_composite": "Criteria: composite",
    "trainer": "Training",
}


def _summary(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    first = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    return first.replace("|", "\\|")


def _signature(cls: type) -> str:
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return f"nn.{cls.__name__}()"
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return f"nn.{cls.__name__}({', '.join(str(p) for p in params)})"


def classes() -> list[type]:
    """Every class ``flambeau.nn`` exports, in the order of :data:`SECTIONS` then by name."""
    import flambeau.nn as nn

    found = [
        obj
        for name in dir(nn)
        if inspect.isclass(obj := getattr(nn, name)) and obj.__module__.startswith("flambeau.nn.")
    ]
    order = list(SECTIONS)

    def key(cls: type) -> tuple[int, str, str]:
        mod = cls.__module__.rsplit(".", 1)[-1]
        return (order.index(mod) if mod in order else len(order), mod, cls.__name__)

    return sorted({id(c): c for c in found}.values(), key=key)


def render() -> str:
    """The Markdown text of ``docs/nn.md``."""
    lines = [
        "# nn reference",
        "",
        "Every module, container and criterion of `flambeau.nn`, generated from the classes",
        "(`python -m flambeau.nn.reference > docs/nn.md`); the guide is [guide/nn](guide/nn.md).",
        "",
    ]
    current = None
    for cls in classes():
        mod = cls.__module__.rsplit(".", 1)[-1]
        title = SECTIONS.get(mod, mod.capitalize())
        if title != current:
            lines += ["", f"## {title}", "", "| class | what |", "|---|---|"]
            current = title
        lines.append(f"| `{_signature(cls)}` | {_summary(cls)} |")
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
