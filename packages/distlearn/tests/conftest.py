"""The rank scripts' folder goes on sys.path: the tests import ranks/common.py and ranks/harness.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "ranks"))
