"""Shared set-up for flambeau.optim's tests."""

from __future__ import annotations

import pytest

import flambeau.tensor as ft


@pytest.fixture(autouse=True)
def _seeded() -> None:
    ft.manual_seed(1234)
