"""Cases of random ops merged into opcases.CASES: none, on purpose.

test_ops.py compares deterministic ops with a numpy reference; random ops (``op.rng``) have no such
reference and are left out of it. They are tested in test_creation.py instead: statistically (KS and
chi-square tests against their laws), for seeded reproducibility, state restore, ``generator=`` on
every sampler, and their edge cases and errors (``multinomial`` included). Its meta-tests fail when
a random op of the table is not covered there.
"""

from __future__ import annotations

CASES: dict = {}
