"""flambeau.nn is optional for flambeau.autograd: importing autograd does not import it."""

from __future__ import annotations

import subprocess
import sys


def test_importing_autograd_imports_neither_nn_nor_the_model_builders() -> None:
    code = (
        "import sys, flambeau.autograd as ag\n"
        "loaded = [m for m in ('flambeau.nn', 'flambeau.optim', 'flambeau.autograd.nn', 'flambeau.autograd.model', 'flambeau.autograd.optim') if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"imported eagerly: {out}"


def test_unknown_attributes_still_raise_attribute_error() -> None:
    import flambeau.autograd as ag

    try:
        ag.no_such_thing  # noqa: B018
    except AttributeError as e:
        assert "no_such_thing" in str(e)
    else:
        raise AssertionError("no AttributeError")
