"""GPU benchmarks: flambeau on cuda against PyTorch CUDA (the baseline) and cupy by hand, float32.

    python benchmarks/gpu.py [--quick] [--only NAME[,NAME...]] [--json PATH]

Workloads (loss plus every parameter gradient, one process, one card):

- ``mlp_b128``: the talk's 784-50-50-10 tanh MLP, log-softmax + NLL summed, batch 128;
- ``mlp_big``: 784-2048-2048-10, batch 512;
- ``convnet_b32`` / ``convnet_b512``: one SGD step of the talk's convnet (conv/tanh/max-pool x2,
  conv, linear, log-softmax, class NLL) on 32x32 RGB images.

Peers: ``torch`` (eager, ``loss.backward()``), ``cupy`` (the hand-written numpy forward and
backward of ``run.py`` run on cupy arrays: numpy's ufuncs dispatch to cupy), ``flambeau``
(``flambeau.autograd.grad``), ``flambeau-opt`` (``grad(..., optimize=True)``), ``flambeau-graph``
(``grad(..., optimize=True, cuda_graph=True)``: the optimized program replayed as one CUDA graph)
and ``flambeau-nn`` (flambeau.nn modules, Torch's forward/backward/updateParameters). On the
convnet, ``flambeau-opt`` and ``flambeau-graph`` are ``autograd.train_step`` (the net written with
flambeau ops, its gradient and the SGD update as one program, without and with a graph); their
gradients are read off their first step's update. Before anything is timed, every peer's loss and
gradients, torch's included, are checked against a float64 reference (torch on the CPU in
float64, same inputs) with float32 tolerances: a peer whose products ran in TF32 (10-bit
mantissas) fails it, whichever library it is. A failing peer is not timed (``--time-failed`` times
it anyway), except torch, the baseline, which is timed and flagged.

Timing: GPU work is asynchronous, so a sample runs the step ``number`` times back to back and
then waits for the device (``torch.cuda.synchronize`` / ``cupy``'s device synchronize): the time
per call is the steady-state throughput, launches and Python overhead included. The table gives
the median of ``repeat`` samples and the ratio to torch. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run

# Where each library runs: cuda normally; ``--device boxed`` (a CPU stand-in, with torch on the cpu)
# smoke-tests this script on a machine without a GPU.
DEV = {"flambeau": "cuda", "torch": "cuda"}


# The optimized functions of the peers that replay CUDA graphs (per workload): after its timings,
# a workload says how many graphs they captured and why any signature ran without one.
GRAPHED: dict[str, Any] = {}


def _sync_all(mods: dict[str, Any]) -> Callable[[], None]:
    def sync() -> None:
        if "torch" in mods and DEV["torch"] == "cuda":
            mods["torch"].cuda.synchronize()
        if "cupy" in mods:
            mods["cupy"].cuda.Device().synchronize()

    return sync


def _host(x: Any) -> np.ndarray:
    if type(x).__module__.startswith("flambeau"):
        return np.asarray(x, dtype=np.float64)  # flambeau tensors copy to the host through __array__
    if hasattr(x, "detach"):  # torch
        return np.asarray(x.detach().cpu().numpy(), dtype=np.float64)
    if hasattr(x, "get") and not isinstance(x, dict):  # cupy
        return np.asarray(x.get(), dtype=np.float64)
    return np.asarray(x, dtype=np.float64)


def _check(workload: str, peer: str, got: tuple[Any, dict[str, Any]], want: tuple[Any, dict[str, Any]]) -> None:
    """``got`` against the float64 reference ``want``, with float32 tolerances.

    Each gradient may be off by 1e-3 of its own value plus 1e-4 of its largest one: float32 with
    any summation order stays well inside (1e-6 to 1e-5 of the largest, measured on the CPU);
    TF32 products do not (about 1e-3 of the largest).
    """
    loss, g = got
    wl, wg = want
    if not np.allclose(_host(loss), _host(wl), rtol=1e-4, atol=1e-5):
        raise AssertionError(f"{workload}: {peer}'s loss {float(_host(loss))!r} != {float(_host(wl))!r} (float64)")
    for k, w in wg.items():
        a, b = _host(g[k]), _host(w)
        scale = max(np.abs(b).max(), 1e-30)
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-3, atol=1e-4 * scale):
            err = np.abs(a - b).max() if a.shape == b.shape else float("nan")
            raise AssertionError(
                f"{workload}: {peer}'s gradient {k} is off the float64 reference by up to {err:.3g}"
                f" ({err / scale:.2g} of its largest element, {scale:.3g})"
            )


# -- the MLPs -------------------------------------------------------------------------------------


def _mlp(mods: dict[str, Any], batch: int, hidden: int) -> dict[str, Callable[[], Any]]:
    rng = np.random.default_rng(0)
    sizes = [(784, hidden), (hidden, hidden), (hidden, 10)]
    p: dict[str, np.ndarray] = {}
    for i, (n_in, n_out) in enumerate(sizes, 1):
        p[f"W{i}"] = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)
        p[f"b{i}"] = (rng.standard_normal(n_out) * 0.1).astype(np.float32)
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
    torch, cp = mods["torch"], mods.get("cupy")
    steps: dict[str, Callable[[], Any]] = {}

    tp = {k: torch.from_numpy(v).to(DEV["torch"]).requires_grad_() for k, v in p.items()}
    tx, ty = torch.from_numpy(x).to(DEV["torch"]), torch.from_numpy(y).to(DEV["torch"])

    def torch_step() -> Any:
        for v in tp.values():
            v.grad = None
        loss = run.mlp_loss(torch, lambda z: torch.logsumexp(z, 1, keepdim=True), tp, tx, ty)
        loss.backward()
        return loss, {k: v.grad for k, v in tp.items()}

    steps["torch"] = torch_step

    def reference() -> Any:  # torch on the CPU in float64
        rp = {k: torch.from_numpy(v.astype(np.float64)).requires_grad_() for k, v in p.items()}
        rx, ry = torch.from_numpy(x.astype(np.float64)), torch.from_numpy(y.astype(np.float64))
        loss = run.mlp_loss(torch, lambda z: torch.logsumexp(z, 1, keepdim=True), rp, rx, ry)
        loss.backward()
        return loss, {k: v.grad for k, v in rp.items()}

    steps["reference"] = reference
    if cp is not None:
        cpp = {k: cp.asarray(v) for k, v in p.items()}
        cx, cy = cp.asarray(x), cp.asarray(y)
        steps["cupy"] = lambda: run.np_mlp_grad(cpp, cx, cy)
    if "flambeau" in mods:
        ft, ag = mods["flambeau"], mods["flambeau.autograd"]
        fp = {k: ft.from_numpy(v.copy()).to(DEV["flambeau"]) for k, v in p.items()}
        fx, fy = ft.from_numpy(x.copy()).to(DEV["flambeau"]), ft.from_numpy(y.copy()).to(DEV["flambeau"])

        def loss(p: Any, x: Any, y: Any) -> Any:
            return run.mlp_loss(ft, lambda z: ft.logsumexp(z, 1, keepdim=True), p, x, y)

        df, dfo = ag.grad(loss), ag.grad(loss, optimize=True)
        dfg = ag.grad(loss, optimize=True, cuda_graph=True)
        steps["flambeau"] = lambda: df(fp, fx, fy)[::-1]
        steps["flambeau-opt"] = lambda: dfo(fp, fx, fy)[::-1]
        steps["flambeau-graph"] = lambda: dfg(fp, fx, fy)[::-1]
        GRAPHED["flambeau-graph"] = dfg
        dfg(fp, fx, fy)  # recorded here: the check's call captures the graph and launches it
        if "flambeau.nn" in mods:
            with ft.device(DEV["flambeau"]), _default_float(ft):
                step, (_, nx, ny) = run._nn_mlp_step({"flambeau": ft, "flambeau.nn": mods["flambeau.nn"]}, p, x, y)
            nx, ny = nx.to(DEV["flambeau"]), ny.to(DEV["flambeau"])
            steps["flambeau-nn"] = lambda: step(None, nx, ny)
    return steps


@contextlib.contextmanager
def _default_float(ft: Any) -> Any:
    old = ft.get_default_tensor_type()
    ft.set_default_tensor_type("flambeau.FloatTensor")
    try:
        yield
    finally:
        ft.set_default_tensor_type(old)


# -- the convnet ----------------------------------------------------------------------------------


def _convnet(mods: dict[str, Any], batch: int) -> dict[str, Callable[[], Any]]:
    rng = np.random.default_rng(0)
    p = run.convnet_params(rng)
    x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    torch = mods["torch"]
    steps: dict[str, Callable[[], Any]] = {}
    # Every peer takes SGD steps from the same start: the check compares first steps only.
    tstep, tmodel = run._torch_convnet(torch, p)
    tmodel.to(DEV["torch"])
    tx, ty = torch.from_numpy(x).to(DEV["torch"]), torch.from_numpy(y.astype(np.int64)).to(DEV["torch"])
    steps["torch"] = lambda: tstep(tmodel, tx, ty)
    rstep, rmodel = run._torch_convnet(torch, p)  # the float64 reference, on the CPU
    rx, ry = torch.from_numpy(x.astype(np.float64)), torch.from_numpy(y.astype(np.int64))
    steps["reference"] = lambda: rstep(rmodel.double(), rx, ry)
    if "flambeau.nn" in mods:
        ft = mods["flambeau"]
        fstep, fmodel = run._flambeau_convnet(ft, p)
        fmodel.to(DEV["flambeau"])
        fx = ft.from_numpy(x.copy()).to(DEV["flambeau"])
        fy = ft.from_numpy(y.astype(np.int64)).to(DEV["flambeau"])
        steps["flambeau-nn"] = lambda: fstep(fmodel, fx, fy)
    if "flambeau.autograd" in mods:
        for peer, graph in (("flambeau-opt", False), ("flambeau-graph", True)):
            steps[peer] = _train_step_convnet(mods, p, x, y, graph)
    return steps


def _train_step_convnet(
    mods: dict[str, Any], p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, graph: bool
) -> Callable[[], Any]:
    """``run.train_step_convnet`` on the benchmark's device (``flambeau-graph``: as a CUDA graph)."""
    call, step = run.train_step_convnet(mods["flambeau"], mods["flambeau.autograd"], p, x, y, DEV["flambeau"], graph)
    if graph:
        GRAPHED["flambeau-graph"] = step.fn
    return call


WORKLOADS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Callable[[], Any]]]]] = {
    "mlp_b128": ("784-50-50-10 tanh MLP, batch 128: loss + 6 gradients", lambda m: _mlp(m, 128, 50)),
    "mlp_big": ("784-2048-2048-10 tanh MLP, batch 512: loss + 6 gradients", lambda m: _mlp(m, 512, 2048)),
    "convnet_b32": ("talk's convnet, batch 32: one SGD step", lambda m: _convnet(m, 32)),
    "convnet_b512": ("talk's convnet, batch 512: one SGD step", lambda m: _convnet(m, 512)),
}


# -- timing ---------------------------------------------------------------------------------------


def _time(fn: Callable[[], Any], sync: Callable[[], None], repeat: int, sample_s: float) -> list[float]:
    for _ in range(3):
        fn()
    sync()
    number, t = 1, 0.0
    while True:  # calibrate: one sample lasts about sample_s
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        t = time.perf_counter() - t0
        if t >= sample_s / 4 or number >= 1 << 16:
            break
        number *= 4
    number = max(1, int(number * sample_s / max(t, 1e-9)))
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        out.append((time.perf_counter() - t0) / number)
    return out


def load() -> tuple[dict[str, Any], dict[str, str]]:
    mods: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in ("torch", "cupy", "flambeau.tensor", "flambeau.autograd", "flambeau.nn"):
        try:
            mods[name] = importlib.import_module(name)
        except Exception as e:
            skipped[name] = f"{type(e).__name__}: {e}"
    if "flambeau.tensor" in mods:
        ft = mods["flambeau"] = mods.pop("flambeau.tensor")
        try:
            ft.device(DEV["flambeau"])
        except Exception as e:
            skipped["flambeau"] = str(e)
            del mods["flambeau"]
    return mods, skipped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter samples")
    ap.add_argument("--only", help="comma-separated workload names")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--time-failed", action="store_true", help="time peers that fail their check too")
    ap.add_argument("--device", default="cuda", help="flambeau's device (default cuda; boxed: a CPU smoke run)")
    args = ap.parse_args(argv)
    DEV["flambeau"] = args.device
    DEV["torch"] = "cuda" if args.device.startswith("cuda") else "cpu"
    mods, skipped = load()
    if DEV["torch"] != "cuda":
        mods.pop("cupy", None)
    if "torch" not in mods or (DEV["torch"] == "cuda" and not mods["torch"].cuda.is_available()):
        print(f"gpu benchmarks: no CUDA PyTorch to compare with ({skipped.get('torch', 'torch.cuda unavailable')})")
        return 1
    torch = mods["torch"]
    # Full float32 on both sides: PyTorch's cuDNN convolutions default to TF32 (10-bit mantissas),
    # which neither flambeau (cuBLAS float32 GEMMs) nor the checks' tolerances assume.
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    card = torch.cuda.get_device_name(0) if DEV["torch"] == "cuda" else f"none ({args.device} smoke run)"
    print(f"card: {card}; torch {torch.__version__}; cupy {getattr(mods.get('cupy'), '__version__', '-')}")
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    repeat, sample_s = (5, 0.05) if args.quick else (15, 0.2)
    sync = _sync_all(mods)
    names = args.only.split(",") if args.only else list(WORKLOADS)
    rows: list[dict[str, Any]] = []
    for name in names:
        what, build = WORKLOADS[name]
        GRAPHED.clear()
        try:
            steps = build(mods)
        except Exception as e:  # report and go on: one broken peer must not hide the other workloads
            print(f"\n{name}: cannot build: {type(e).__name__}: {e}")
            continue
        want = steps.pop("reference")()
        for peer, fn in list(steps.items()):
            try:
                _check(name, peer, fn(), want)
            except Exception as e:
                print(f"{name}: {peer} fails its check: {type(e).__name__}: {e}")
                if not args.time_failed and peer != "torch":  # torch stays: the baseline, flagged
                    del steps[peer]
        print(f"\n{name}: {what}")
        base = None
        for peer, fn in steps.items():
            try:
                samples = _time(fn, sync, repeat, sample_s)
            except Exception as e:
                print(f"  {peer:<13} failed while timed: {type(e).__name__}: {e}")
                continue
            med = statistics.median(samples)
            base = med if peer == "torch" else base
            ratio = med / base if base else float("nan")
            print(f"  {peer:<13} {med * 1e3:9.3f} ms   min {min(samples) * 1e3:8.3f} ms   {ratio:5.2f}x torch")
            rows.append({"workload": name, "peer": peer, "median_s": med, "min_s": min(samples), "ratio_torch": ratio})
        for peer, opt in GRAPHED.items():
            print(f"  ({peer}: {opt.captures} graph(s) captured; without a graph: {opt.graph_fallbacks or 'none'})")
        GRAPHED.clear()
    if args.json:
        Path(args.json).write_text(json.dumps({"card": card, "results": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
