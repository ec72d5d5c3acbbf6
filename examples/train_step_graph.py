"""A whole training step as one program: `autograd.train_step`, and on a GPU one CUDA graph.

It trains the talk's tanh MLP (64-50-50-10 here) on scikit-learn's bundled 8x8 digits with Adam, in
float32, three ways: the step as plain code every call (`optimize=False`), recorded once and replayed
as one straight-line program (the default), and, on cuda, that program captured as a CUDA graph
(`cuda_graph=True`: forward, backward and Adam's update in one launch). The batches are written
into the same two tensors every step, so the graph reads them where they are.

It checks that the three take the same steps (to float32 rounding) and that the network reads at
least 90% of the held-out digits, and prints the time per step of each. Without a usable GPU it runs
on the cpu, where `cuda_graph=True` changes nothing and says so (`graph_fallbacks`).

Run it with `python examples/train_step_graph.py` where flambeau and scikit-learn are installed
(`python3 -m nox -s examples` runs every example).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.datasets import load_digits

import flambeau.tensor as ft
from flambeau import autograd

BATCH = 128
STEPS = 300


def loss(p: dict[str, Any], x: Any, y: Any) -> Any:
    """The talk's MLP: tanh layers, log-softmax, and the negative log-likelihood of one-hot targets."""
    h = ft.tanh(x @ p["W1"] + p["b1"])
    h = ft.tanh(h @ p["W2"] + p["b2"])
    z = h @ p["W3"] + p["b3"]
    return -ft.sum((z - ft.logsumexp(z, 1, keepdim=True)) * y) / x.size(0)


def predict(p: dict[str, Any], x: Any) -> Any:
    h = ft.tanh(ft.tanh(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"])
    return (h @ p["W3"] + p["b3"]).argmax(1)


def device() -> str:
    infos = [b for b in ft.backends() if b.device == "cuda"]
    return "cuda" if infos and infos[0].available else "cpu"


def main() -> int:
    dev = device()
    digits = load_digits()
    x = ((digits.data - digits.data.mean()) / digits.data.std()).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[digits.target]
    train, test = slice(0, 1500), slice(1500, None)
    rng = np.random.default_rng(0)
    sizes = [(64, 50), (50, 50), (50, 10)]
    start = {f"W{i}": (rng.standard_normal(s) / np.sqrt(s[0])).astype(np.float32) for i, s in enumerate(sizes, 1)}
    start |= {f"b{i}": np.zeros(s[1], np.float32) for i, s in enumerate(sizes, 1)}
    order = [rng.choice(1500, BATCH, replace=False) for _ in range(STEPS)]

    xb = ft.from_numpy(x[:BATCH].copy()).to(dev)  # the batch tensors, refilled in place every step
    yb = ft.from_numpy(y[:BATCH].copy()).to(dev)
    ways = {"plain": {"optimize": False}, "optimized": {}, "cuda graph": {"cuda_graph": True}}
    results = {}
    for name, options in ways.items():
        params = {k: ft.from_numpy(v.copy()).to(dev) for k, v in start.items()}
        step = autograd.train_step(loss, params, "adam", {"learning_rate": 0.01}, **options)
        losses = []
        t0 = time.perf_counter()
        for idx in order:
            xb.copy_(ft.from_numpy(x[train][idx]))
            yb.copy_(ft.from_numpy(y[train][idx]))
            losses.append(step(xb, yb))
        losses = [float(v) for v in losses]  # read at the end: no wait for the GPU inside the loop
        per_step = (time.perf_counter() - t0) / STEPS * 1e3
        xt = ft.from_numpy(x[test]).to(dev)
        accuracy = float((predict(params, xt).cpu() == ft.from_numpy(digits.target[test])).double().mean())
        results[name] = (losses, params, accuracy)
        extra = ""
        if options.get("cuda_graph"):
            extra = f"; graphs captured: {step.fn.captures}, without a graph: {step.fn.graph_fallbacks or 'none'}"
        print(f"{name:10s} on {dev}: {per_step:6.3f} ms/step, loss {losses[0]:.3f} -> {losses[-1]:.3f},"
              f" test accuracy {accuracy:.1%}{extra}")  # fmt: skip

    plain_losses, plain_params, _ = results["plain"]
    for name in ("optimized", "cuda graph"):
        losses, params, accuracy = results[name]
        # float32: the same arithmetic in another order drifts by rounding over 300 steps
        assert max(abs(a - b) for a, b in zip(losses[:20], plain_losses[:20], strict=True)) < 1e-4, name
        drift = max(float(ft.max(ft.abs(params[k] - plain_params[k]))) for k in params)
        assert drift < 1e-2, (name, drift)
        assert accuracy >= 0.90, (name, accuracy)
    print("the three take the same steps, to float32 rounding, and read at least 90% of the held-out digits")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
