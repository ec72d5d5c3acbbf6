"""A dead or hung rank stops the whole job with errors naming it; mismatched trees are refused at once."""

from __future__ import annotations

import re
import time

import pytest
from harness import RANKS, mpiexec

# MPICH's mpiexec kills every rank as soon as one exits badly; without that every live rank
# reports the lost one itself (what the user guide recommends).
NO_CLEANUP = ("-disable-auto-cleanup",)


def _stopped(out: str) -> dict[int, str]:
    return {int(m[1]): m[2] for m in re.finditer(r"^rank (\d+) stopped .*?: (\w+Error: .*)$", out, re.M)}


@pytest.mark.parametrize("mode", ["die", "hang"])
def test_a_lost_rank_is_named_by_every_live_rank_within_the_timeout(mode):
    t = time.monotonic()
    proc = mpiexec(3, RANKS / "fail.py", mode, 3, flags=NO_CLEANUP, timeout=60, check=False)
    took = time.monotonic() - t
    assert proc.returncode != 0
    stopped = _stopped(proc.stdout)
    assert sorted(stopped) == [0, 2], proc.stdout + proc.stderr
    for msg in stopped.values():
        assert msg.startswith("RankLostError:") and "rank(s) [1] of 3" in msg, msg
    assert "did not reach it within 2 s" in proc.stdout
    # the step the ranks stopped at is the one rank 1 never reached
    assert all("at step 3:" in line for line in proc.stdout.splitlines() if "stopped" in line)
    if mode == "hang":  # the hung rank is ended too, by its watchdog, saying why
        assert "rank 1 did not reach collective #5 in time" in proc.stderr
    assert took < 30  # timeout 2 s + linger 0.5 s + start-up: never a silent hang


def test_with_mpiexecs_own_cleanup_a_dead_rank_still_ends_the_job():
    proc = mpiexec(3, RANKS / "fail.py", "die", 3, timeout=60, check=False)
    assert proc.returncode != 0
    assert "rank 0 finished" not in proc.stdout


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        (
            "shape",
            "rank 1 has \"['W2']: tensor of size (5, 6) and dtype float64\" where rank 0 has \"['W2']: tensor of size (6, 6)",
        ),
        (
            "dtype",
            "rank 1 has \"['b3']: tensor of size (3,) and dtype float32\" where rank 0 has \"['b3']: tensor of size (3,) and dtype float64\"; rank 2 has",
        ),
    ],
)
def test_a_tree_that_differs_from_rank_0s_is_refused_on_every_rank_at_the_first_step(mode, said):
    proc = mpiexec(3, RANKS / "fail.py", mode, 0, timeout=60, check=False)
    assert proc.returncode != 0
    stopped = _stopped(proc.stdout)
    assert sorted(stopped) == [0, 1, 2], proc.stdout + proc.stderr
    for msg in stopped.values():
        assert msg.startswith("TreeMismatchError: distlearn all_reduce(mean): the ranks' parameter trees differ"), msg
        assert said in msg, msg
    assert all("at step 1:" in line for line in proc.stdout.splitlines() if "stopped" in line)
