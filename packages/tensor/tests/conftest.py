"""Shared helpers for flambeau.tensor's tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import flambeau.tensor as ft

# Test helper modules (support.py, opcases.py) are imported by name from this folder.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _seeded() -> None:
    ft.manual_seed(1234)
