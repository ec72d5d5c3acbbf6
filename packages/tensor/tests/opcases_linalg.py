"""(being written) Cases merged into opcases.CASES."""

from __future__ import annotations

CASES: dict = {}
