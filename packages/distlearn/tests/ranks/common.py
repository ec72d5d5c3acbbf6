"""What the rank scripts and the tests share: the talk's MLP, its data, and how results are saved."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

import flambeau.tensor as ft

N_IN, N_HID, N_OUT = 8, 6, 3


def data(n: int = 96, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, N_IN))
    labels = rng.integers(0, N_OUT, n)
    return x, np.eye(N_OUT)[labels]


def init(seed: int = 11) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = {
        "W1": (N_IN, N_HID),
        "b1": (N_HID,),
        "W2": (N_HID, N_HID),
        "b2": (N_HID,),
        "W3": (N_HID, N_OUT),
        "b3": (N_OUT,),
    }
    return {k: 0.5 * rng.standard_normal(s) for k, s in shapes.items()}


def mlp_loss(p: dict[str, Any], x: Any, y: Any) -> Any:
    """The talk's tanh MLP: log-softmax + NLL, averaged over the batch."""
    h1 = ft.tanh(x @ p["W1"] + p["b1"])
    h2 = ft.tanh(h1 @ p["W2"] + p["b2"])
    z = h2 @ p["W3"] + p["b3"]
    logp = z - ft.logsumexp(z, 1, keepdim=True)
    return -(logp * y).sum() / x.shape[0]


def tensors(p: dict[str, np.ndarray]) -> dict[str, ft.Tensor]:
    return {k: ft.from_numpy(v.copy()) for k, v in p.items()}


def arrays(p: dict[str, ft.Tensor]) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in p.items()}


def save(out: str, rank: int, history: list[dict[str, np.ndarray]], **extra: Any) -> None:
    flat = {f"{s}/{k}": v for s, p in enumerate(history) for k, v in p.items()}
    np.savez(Path(out) / f"rank{rank}.npz", steps=len(history), **flat, **extra)


def args() -> list[str]:
    return sys.argv[1:]


EPOCHS_STEPS = 2  # epochs of the training runs (the data makes 4 steps per epoch at 2 ranks x 12)


def train(
    rank: int,
    size: int,
    batch: int,
    optimizer: str,
    reduce: Any = None,
    seed: int = 3,
) -> list[dict[str, np.ndarray]]:
    """Train the MLP on this rank's shards (``reduce`` averages gradients and loss over the ranks).

    With ``size=1`` and ``reduce=None`` it is the one-process reference on the global batches.
    Returns the parameters after every step.
    """
    from flambeau import autograd as ag
    from flambeau.distlearn import Sharder

    x, y = data()
    params = tensors(init())
    df = ag.grad(mlp_loss)
    if reduce is not None:
        df = reduce(df)
    sharder = Sharder(len(x), batch, rank=rank, size=size, seed=seed)
    history = []
    if optimizer == "hand":
        for epoch in range(EPOCHS_STEPS):
            for idx in sharder.batches(epoch):
                grads, _ = df(params, ft.from_numpy(x[idx]), ft.from_numpy(y[idx]))
                for k in params:
                    params[k].add_(grads[k], alpha=-0.5)
                history.append(arrays(params))
        return history
    config = {
        "sgd": {"learning_rate": 0.3, "momentum": 0.9},
        "adam": {"learning_rate": 0.05},
        "lbfgs": {"max_iter": 3},
    }[optimizer]
    optimfn, _ = getattr(ag.optim, optimizer)(df, config, params)
    for epoch in range(EPOCHS_STEPS):
        for idx in sharder.batches(epoch):
            optimfn(ft.from_numpy(x[idx]), ft.from_numpy(y[idx]))
            history.append(arrays(params))
    return history


def train_nn(rank: int, size: int, batch: int, sgd: Any = None, seed: int = 3) -> list[dict[str, np.ndarray]]:
    """The same MLP as flambeau.nn modules, stepped by flambeau.optim.sgd on get_parameters()' flat tensors.

    With ``sgd`` (an AllReduceSGD) the model starts from a rank-dependent init that
    ``synchronize_parameters`` replaces by rank 0's, and the opfunc averages over the ranks.
    """
    import flambeau.nn as nn
    import flambeau.optim as optim
    from flambeau.distlearn import Sharder

    x, y = data()
    labels = y.argmax(1)
    ft.manual_seed(100 + rank)  # differs between ranks: the broadcast must make them equal
    model = nn.Sequential(nn.Linear(N_IN, N_HID), nn.Tanh(), nn.Linear(N_HID, N_OUT), nn.LogSoftMax())
    crit = nn.ClassNLLCriterion()
    params, grads = model.get_parameters()
    config: dict[str, Any] = {"learning_rate": 0.2, "momentum": 0.5}
    if sgd is not None:
        sgd.synchronize_parameters(params, config)
    sharder = Sharder(len(x), batch, rank=rank, size=size, seed=seed)
    history = []
    for epoch in range(EPOCHS_STEPS):
        for idx in sharder.batches(epoch):
            xb, yb = ft.from_numpy(x[idx]), ft.from_numpy(labels[idx])

            def feval(p: Any, xb: Any = xb, yb: Any = yb) -> Any:
                grads.zero_()
                loss = crit.forward(model.forward(xb), yb)
                model.backward(xb, crit.backward(model.output, yb))
                return loss, grads

            optim.sgd(feval if sgd is None else sgd.opfunc(feval), params, config)
            history.append({"params": params.numpy().copy()})
    return history


def train_easgd(size: int, batch: int, tau: int, alpha: float, rank: int | None = None, ea: Any = None) -> Any:
    """EASGD with plain gradient steps on each rank's shards, the elastic exchange every ``tau`` steps.

    With ``ea`` (an AllReduceEA) this is one rank's run; without, one process simulates all
    ``size`` ranks (replicas and center) by the algorithm's definition, with numpy.
    Returns the parameters after every step (of each replica, and the center).
    """
    from flambeau import autograd as ag
    from flambeau.distlearn import Sharder

    x, y = data()
    df = ag.grad(mlp_loss)
    lr = 0.3
    if ea is not None:
        params = ea.synchronize_parameters(tensors(init()))
        sharder = Sharder(len(x), batch, rank=rank, size=size)
        hist = []
        for epoch in range(EPOCHS_STEPS):
            for idx in sharder.batches(epoch):
                g, _ = df(params, ft.from_numpy(x[idx]), ft.from_numpy(y[idx]))
                for k in params:
                    params[k].add_(g[k], alpha=-lr)
                ea.average_parameters(params)
                hist.append(
                    {
                        **arrays(params),
                        **{f"center.{k}": c.numpy().copy() for k, c in zip(params, ea.center, strict=True)},
                    }
                )
        return hist
    reps = [init() for _ in range(size)]
    center = init()
    shards = [
        list(Sharder(len(x), batch, rank=r, size=size).batches(e)) for e in range(EPOCHS_STEPS) for r in range(size)
    ]
    per_rank = [[b for e in range(EPOCHS_STEPS) for b in shards[e * size + r]] for r in range(size)]
    hists: list[list[dict[str, np.ndarray]]] = [[] for _ in range(size)]
    for step in range(len(per_rank[0])):
        for r in range(size):
            idx = per_rank[r][step]
            g, _ = df(tensors(reps[r]), ft.from_numpy(x[idx]), ft.from_numpy(y[idx]))
            reps[r] = {k: reps[r][k] - lr * g[k].numpy() for k in reps[r]}
        if (step + 1) % tau == 0:
            diffs = [{k: rep[k] - center[k] for k in rep} for rep in reps]
            reps = [{k: rep[k] - alpha * d[k] for k in rep} for rep, d in zip(reps, diffs, strict=True)]
            center = {k: center[k] + alpha * sum(d[k] for d in diffs) for k in center}
        for r in range(size):
            hists[r].append({**reps[r], **{f"center.{k}": center[k] for k in center}})
    return hists


def mixed_tree(r: int, device: str = "cpu", floats_only: bool = False) -> Any:
    """A nested tree of every kind of leaf, with values that depend on the rank ``r``."""
    base = np.arange(6.0).reshape(2, 3)
    t: Any = {
        "a": ft.from_numpy(base * (r + 1) - 2.5).to(device),
        "b": [ft.from_numpy(np.arange(4, dtype=np.float32) * (r - 1) + 0.25).to(device), (0.5 * r - 1, 3.0)],
        "c": {"e": ft.from_numpy(np.arange(12.0).reshape(3, 4) + r).to(device).t()},  # not contiguous
    }
    if not floats_only:
        t["b"].append(ft.from_numpy(np.array([r, 10 * r - 7], np.int64)).to(device))
        t["c"]["d"] = ft.from_numpy(np.array([[3 - r]], np.int32)).to(device)
        t["n"] = r + 1
    return t


def leaf_values(tree: Any) -> list[Any]:
    from flambeau.distlearn.tree import leaves
    from flambeau.tensor.testing import host

    return [host(v) for _, v in leaves(tree)]
