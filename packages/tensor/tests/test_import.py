"""Importing flambeau.tensor is cheap: no cupy, scipy or matplotlib, and no backend loaded yet."""

from __future__ import annotations

import subprocess
import sys


def test_import_pulls_in_no_heavy_modules() -> None:
    code = (
        "import sys, flambeau.tensor as ft\n"
        "heavy = sorted(m for m in ('cupy', 'scipy', 'matplotlib', 'torch') if m in sys.modules)\n"
        "print(heavy, ft.optable.OPS is not None, ft.registry._registry.loaded)\n"
        "ft.zeros(1)\n"
        "print(sorted(m for m in ('cupy', 'scipy', 'matplotlib') if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    before, after = r.stdout.splitlines()
    assert before == "[] True False"  # backends load lazily, on the first device lookup
    assert after == "[]"


def test_linear_algebra_does_not_import_scipy() -> None:
    code = "import sys, flambeau.tensor as ft; ft.svd(ft.eye(2)); print('scipy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
