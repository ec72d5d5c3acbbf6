"""Data-parallel training on MPI with flambeau.distlearn: the talk's MLP on scikit-learn's digits.

Every rank (process) holds the whole model. `distlearn.Sharder` gives each rank its own disjoint
part of every global batch, `AllReduceSGD.synchronize_parameters` starts every rank from rank 0's
weights, and `AllReduceSGD.wrap` averages each step's gradients and loss over the ranks in one
all-reduce, so that every rank's optimizer (here `autograd.optim.sgd` with momentum) takes the
same step. The model is the talk's MLP (`tanh` twice, log-softmax and the negative log-likelihood)
written as a function of a parameter dict and differentiated by `flambeau.autograd.grad`.

Run it on N processes with `mpiexec -n 2 python3 examples/distributed_training.py`, or as a
job of one rank with plain `python3 examples/distributed_training.py` (what `python3 -m nox -s
examples` does). It needs mpi4py with an MPI library (`pip install 'flambeau-distlearn[mpich]'`) and
scikit-learn (the bundled 8x8 digits: 1797 images, no download). Rank 0 prints each epoch's loss
(averaged over the ranks) and the test accuracy. At the end it checks that:

- every rank holds the same parameters, bit for bit: the elementwise max and min of the flattened
  parameters over the ranks (two `comm.all_reduce` calls) are equal;
- the N ranks followed the trajectory of one process stepping on the whole global batches
  (rank 0 replays the training alone, on `Sharder.global_batches`, and compares the weights);
- the test accuracy is at least 90 %.
"""

from __future__ import annotations

import numpy as np

import flambeau.autograd as ag
import flambeau.tensor as ft
from flambeau import distlearn
from flambeau.autograd import grad

EPOCHS = 10
BATCH = 32  # examples per rank per step
CONFIG = {"learning_rate": 0.1, "momentum": 0.9}


def load_digits() -> tuple[ft.Tensor, ft.Tensor, ft.Tensor, ft.Tensor]:
    """scikit-learn's 8x8 digits as 64 standardized features, split 75/25 (the same on every rank)."""
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    digits = sk_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(
        digits.data, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    mean, std = x_tr.mean(), x_tr.std()
    return (
        ft.from_numpy((x_tr - mean) / std),
        ft.from_numpy(y_tr.astype(np.int64)),
        ft.from_numpy((x_te - mean) / std),
        ft.from_numpy(y_te.astype(np.int64)),
    )


def init_params(seed: int) -> dict[str, ft.Tensor]:
    """A 64-50-50-10 MLP, weights ~ N(0, 1/fan_in). Every rank draws its own; rank 0's are broadcast."""
    rng = np.random.default_rng(seed)
    p = {}
    for i, (n_in, n_out) in enumerate([(64, 50), (50, 50), (50, 10)], 1):
        p[f"W{i}"] = ft.from_numpy(rng.standard_normal((n_in, n_out)) / np.sqrt(n_in))
        p[f"b{i}"] = ft.zeros(n_out)
    return p


def predict(p: dict[str, ft.Tensor], x: ft.Tensor) -> ft.Tensor:
    """The talk's MLP: log-probabilities of the 10 classes."""
    h1 = ft.tanh(x @ p["W1"] + p["b1"])
    h2 = ft.tanh(h1 @ p["W2"] + p["b2"])
    z = h2 @ p["W3"] + p["b3"]
    return z - ft.logsumexp(z, 1, keepdim=True)


def loss(p: dict[str, ft.Tensor], x: ft.Tensor, y: ft.Tensor) -> ft.Tensor:
    """Negative log-likelihood, averaged over the batch (``y``: one-hot float targets)."""
    return -ft.sum(predict(p, x) * y) / x.size(0)


def one_hot(y: ft.Tensor) -> ft.Tensor:
    return ft.from_numpy(np.eye(10)[y.numpy()])


def train(
    params: dict[str, ft.Tensor],
    sharder: distlearn.Sharder,
    x: ft.Tensor,
    y: ft.Tensor,
    sgd: distlearn.AllReduceSGD | None,
) -> list[float]:
    """Train in place for EPOCHS; each epoch's mean loss. ``sgd=None``: one process on the global batches."""
    df = grad(loss)
    step, _ = ag.optim.sgd(sgd.wrap(df) if sgd is not None else df, dict(CONFIG), params)
    losses = []
    for epoch in range(EPOCHS):
        batches = sharder.batches(epoch) if sgd is not None else sharder.global_batches(epoch)
        total = 0.0
        for idx in batches:
            index = ft.from_numpy(idx)
            _, value = step(x.index(0, index), one_hot(y.index(0, index)))
            total += float(value)  # with wrap: the loss averaged over the ranks, the same on every rank
        losses.append(total / len(sharder))
    return losses


def main() -> None:
    sgd = distlearn.AllReduceSGD(distlearn.Comm(timeout=120))
    comm = sgd.comm
    x_train, y_train, x_test, y_test = load_digits()
    sharder = distlearn.Sharder(x_train.size(0), BATCH, comm=comm, seed=7)
    if comm.rank == 0:
        print(f"{comm.size} rank(s), {BATCH} examples per rank per step, {len(sharder)} steps per epoch")

    params = init_params(seed=100 + comm.rank)  # different on every rank ...
    params = sgd.synchronize_parameters(params)  # ... until rank 0's are broadcast
    start = {k: v.clone() for k, v in params.items()}
    losses = train(params, sharder, x_train, y_train, sgd)
    accuracy = ft.eq(ft.argmax(predict(params, x_test), 1), y_test).double().mean().item()
    if comm.rank == 0:
        for epoch, value in enumerate(losses, 1):
            print(f"epoch {epoch:2d}: loss {value:.4f}")
        print(f"test accuracy {accuracy:.3f}")

    # Every rank holds the same parameters: their max and min over the ranks agree everywhere.
    flat = ft.cat([v.view(-1) for v in params.values()])
    hi = comm.all_reduce(flat.clone(), op="max")
    lo = comm.all_reduce(flat.clone(), op="min")
    assert ft.equal(hi, lo), f"the ranks' parameters differ by up to {(hi - lo).abs().max().item():.3g}"

    # The ranks together took the steps of one process on the global batches of BATCH x size.
    if comm.rank == 0:
        alone = {k: v.clone() for k, v in start.items()}
        alone_losses = train(alone, sharder, x_train, y_train, None)
        gap = max((alone[k] - params[k]).abs().max().item() for k in params)
        print(f"one process on the global batches: final loss {alone_losses[-1]:.4f}, largest weight gap {gap:.2g}")
        assert gap < 1e-9, gap
        assert np.allclose(alone_losses, losses, rtol=1e-9), (alone_losses, losses)
    assert losses[-1] < 0.25 * losses[0], losses
    assert accuracy >= 0.9, accuracy
    comm.barrier()


if __name__ == "__main__":
    main()
    print("distributed_training.py: all checks passed")
