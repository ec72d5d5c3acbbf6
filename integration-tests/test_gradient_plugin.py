"""Gradient plugins end to end, with a real third-party dist (DESIGN.md sections 5 and 6).

``integration-tests/plugins/straight-through`` is the dist ``flambeau-straight-through``: its module
``straight_through`` implements ``flambeau_register_gradients`` and is found through the entry point
``straight_through`` of the group ``flambeau.gradients``. It gives ``floor`` and ``round`` the
talk's pass-through gradient and overrides the built-in rule of ``clamp``. The nox ``integration``
session installs it (non-editable) before running these tests.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib import metadata

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.autograd import defvjp, grad, gradients_info, undefvjp
from flambeau.tensor.errors import RegistrationError

DIST = "flambeau-straight-through"


def test_the_plugin_is_installed_with_its_entry_point() -> None:
    eps = [ep for ep in metadata.entry_points(group="flambeau.gradients") if ep.name == "straight_through"]
    assert eps and eps[0].value == "straight_through"
    assert metadata.distribution(DIST).version == "0.1.0"


def test_the_talks_floor_example_uses_the_plugins_pass_through_gradient() -> None:
    def f(a: ft.Tensor) -> ft.Tensor:
        return ft.floor(a**3).sum()

    da, value = grad(f)(ft.eye(3))
    assert float(value) == 3.0
    np.testing.assert_allclose(da.numpy(), 3 * np.eye(3))  # d/dA sum(A**3) with floor passed through


def test_the_plugin_overrides_a_built_in_rule() -> None:
    x = ft.Tensor([-2.0, 0.0, 2.0])
    dx, _ = grad(lambda x: ft.clamp(x, min=-1.0, max=1.0).sum())(x)
    assert dx.tolist() == [1.0, 1.0, 1.0]  # the built-in rule would give [0, 1, 0]
    (info,) = gradients_info("clamp")
    assert info.source == f"{DIST} 0.1.0" and info.argument == "input"


def test_the_listing_names_the_dist_of_each_rule() -> None:
    # By the op table's ops (other packages, flambeau.special, declare ops of the same names)
    sources = {name: [i.source for i in gradients_info(name)] for name in ("floor", "round", "mul")}
    assert sources["floor"] == sources["round"] == [f"{DIST} 0.1.0"]
    assert all(s.startswith("flambeau-autograd ") for s in sources["mul"])
    assert any(i.source.startswith("flambeau-special ") for i in gradients_info())  # the special package's plugin


def test_a_second_registration_is_refused_naming_both_sources_unless_override() -> None:
    with pytest.raises(RegistrationError, match=rf"floor.*{DIST}.*user code.*override=True"):
        defvjp("floor", lambda g, ans, x: 2 * g)
    defvjp("floor", lambda g, ans, x: 2 * g, override=True)
    try:
        assert grad(lambda x: ft.floor(x).sum())(ft.ones(2))[0].tolist() == [2.0, 2.0]
    finally:
        undefvjp("floor")
    assert grad(lambda x: ft.floor(x).sum())(ft.ones(2))[0].tolist() == [1.0, 1.0]  # the plugin's rule is back


def test_gradient_plugins_load_on_the_first_differentiation_not_on_import() -> None:
    code = textwrap.dedent(
        """
        import sys
        import flambeau.tensor as ft
        import flambeau.autograd as ag
        assert "straight_through" not in sys.modules, "loaded at import"
        ag.grad(lambda x: (x * x).sum())(ft.ones(2))
        assert "straight_through" in sys.modules, "not loaded by the first grad"
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
