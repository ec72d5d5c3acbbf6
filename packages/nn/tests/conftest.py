"""Shared set-up for flambeau.nn's tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import flambeau.tensor as ft

sys.path.insert(0, str(Path(__file__).parent))  # nncheck.py


@pytest.fixture(autouse=True)
def _seeded() -> None:
    ft.manual_seed(1234)
