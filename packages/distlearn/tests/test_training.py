"""N ranks on shards of the global batch follow one process on the whole batch, step by step."""

from __future__ import annotations

import common
import numpy as np
import pytest
from harness import RANKS, load, mpiexec


@pytest.mark.parametrize(
    ("optimizer", "n"),
    [("hand", 2), ("sgd", 2), ("adam", 3), ("lbfgs", 2), ("sgd", 4)],
)
def test_ranks_on_shards_equal_one_process_on_the_global_batch(tmp_path, optimizer, n):
    batch = 12 if n < 4 else 6
    mpiexec(n, RANKS / "train_mlp.py", tmp_path, optimizer, batch)
    want = common.train(0, 1, batch * n, optimizer)
    for r in range(n):
        got = load(tmp_path, r)
        assert len(got) == len(want) == 2 * (96 // (batch * n))
        for s, (g, w) in enumerate(zip(got, want, strict=True)):
            for k in w:
                np.testing.assert_allclose(g[k], w[k], rtol=0, atol=1e-12, err_msg=f"rank {r} step {s} {k}")
    # and the run really moved the parameters
    assert max(abs(want[-1][k] - common.init()[k]).max() for k in want[-1]) > 1e-2


def test_nn_modules_with_flat_parameters_and_optim_sgd(tmp_path):
    mpiexec(2, RANKS / "train_nn.py", tmp_path, 12)
    want = common.train_nn(0, 1, 24)  # rank 0's init: the ranks' own inits differ until the broadcast
    for r in range(2):
        got = load(tmp_path, r)
        assert len(got) == len(want) == 8
        for s, (g, w) in enumerate(zip(got, want, strict=True)):
            np.testing.assert_allclose(g["params"], w["params"], rtol=0, atol=1e-12, err_msg=f"rank {r} step {s}")


@pytest.mark.parametrize("n", [2, 3])
def test_easgd_follows_the_algorithm(tmp_path, n):
    mpiexec(n, RANKS / "train_easgd.py", tmp_path, 8, 3, 0.3)
    want = common.train_easgd(n, 8, 3, 0.3)
    for r in range(n):
        got = load(tmp_path, r)
        assert len(got) == len(want[r])
        for s, (g, w) in enumerate(zip(got, want[r], strict=True)):
            for k in w:
                np.testing.assert_allclose(g[k], w[k], rtol=0, atol=1e-12, err_msg=f"rank {r} step {s} {k}")
    # the replicas trained apart: different between exchanges, and pulled together at each one
    a, b = load(tmp_path, 0), load(tmp_path, 1)
    assert abs(a[0]["W1"] - b[0]["W1"]).max() > 1e-3
    assert np.array_equal(a[2]["center.W1"], b[2]["center.W1"])
