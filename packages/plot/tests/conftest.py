"""Shared set-up for flambeau.plot's tests: never open a browser."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAMBEAU_PLOT_NO_OPEN", "1")
    monkeypatch.setattr("webbrowser.open", lambda *a, **k: pytest.fail("a test tried to open a browser"))
