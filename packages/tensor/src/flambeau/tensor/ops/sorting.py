"""(being written)"""

from __future__ import annotations

from ..optable import Op, declare  # noqa: F401
