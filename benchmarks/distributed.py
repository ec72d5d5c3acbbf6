"""The cost of data-parallel training's all-reduce: flambeau.distlearn against raw mpi4py.

    mpiexec -n 2 python3 benchmarks/distributed.py [--quick] [--json PATH] [--repeat N] [--sample-ms MS]

Every rank runs the same loop in lockstep; rank 0 prints the table. The gradients are those of the
talk's convnet (``run.CONVNET_SHAPES``: 8 float32 tensors, 439,306 numbers, 1.76 MB) and each row
times one way of averaging them over the ranks:

- ``raw Allreduce``: ``comm.Allreduce(MPI.IN_PLACE, buf)`` on one flat float32 numpy buffer of the
  same size, blocking (the floor: no packing, no deadline);
- ``raw Iallreduce``: the same started non-blocking and waited for with ``Request.Wait()`` (the
  floor of a collective with a deadline, which must be non-blocking);
- ``dict of 8``: ``AllReduceSGD.all_reduce_gradients(grads)`` on the dict of 8 tensors (packed into
  one host buffer, reduced, divided by the ranks, copied back);
- ``flat tensor``: the same on one contiguous tensor, as nn's ``get_parameters()`` returns (its own
  memory is the buffer: no copy);
- ``dict + loss``: ``all_reduce_gradients((loss, grads))``, what ``wrap`` and ``opfunc`` reduce;
- ``dict, check always``: ``AllReduceSGD(check="always")``: the tree check (one more small
  collective, a pickled description gathered from every rank) at every step.

For context, ``convnet step (1 proc)`` times one SGD step of the convnet (flambeau.nn, batch 32 of
3x32x32, forward, backward, update: run.py's ``convnet_b32``) on rank 0 alone while the other ranks
sleep, and ``convnet step (N ranks)`` one data-parallel step on every rank at once: each rank's
forward and backward on its own batch of 32, ``all_reduce_gradients`` on the flat gradient of
``get_parameters()``, the update. The ``% of step`` column is each all-reduce's median over the
one-process step's median.

Timing: a *sample* runs the statement ``number`` times back to back and divides (rank 0 calibrates
``number`` so that a sample lasts about ``--sample-ms`` and tells the others); the ranks meet at a
barrier before every sample, and the samples go round-robin over the rows. Between samples the ranks
wait in a sleeping barrier, so that a waiting rank does not spin on a core the others need. The table
gives rank 0's median and minimum per call, the interquartile range relative to the median and the
ratio to the blocking floor. This is a measurement, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Before numpy loads its BLAS: the ranks of one machine share its cores, so each rank's BLAS gets
# its share (cores // ranks threads; 1 on 2 cores with 2 ranks), unless the environment says
# otherwise. With 2 threads per rank on 2 cores the data-parallel step ran 4-7x slower than one
# process's step, the threads of the two ranks fighting for the cores.
_RANKS = int(os.environ.get("PMI_SIZE") or os.environ.get("OMPI_COMM_WORLD_SIZE") or 1)
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(max(1, _CORES // _RANKS)))

import numpy as np  # noqa: E402
from mpi4py import MPI  # noqa: E402

import flambeau.nn as nn  # noqa: E402
import flambeau.tensor as ft  # noqa: E402
from flambeau import distlearn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402

WORLD = MPI.COMM_WORLD


def quiet_barrier() -> None:
    """Every rank meets here, each sleeping while it waits (MPI's own barrier spins on a core)."""
    req = WORLD.Ibarrier()
    while not req.Test():
        time.sleep(5e-4)
    WORLD.Barrier()  # leave together: the sleeping wait above lets the ranks go up to 0.5 ms apart


def quiet_bcast(value: int) -> int:
    """Rank 0's ``value`` on every rank; the others sleep while rank 0 works (a local row's warm-up)."""
    box = np.array([value], np.int64)
    req = WORLD.Ibcast(box, root=0)
    while not req.Test():
        time.sleep(5e-4)
    return int(box[0])


class Row:
    """One timed statement: ``call()`` once per call; ``local`` rows run on rank 0 alone."""

    def __init__(self, name: str, what: str, call: Callable[[], Any], local: bool = False):
        self.name, self.what, self.call, self.local = name, what, call, local
        self.number = 1
        self.samples_ns: list[float] = []

    def sample(self) -> None:
        quiet_barrier()
        if self.local and WORLD.Get_rank() != 0:
            return
        call, n = self.call, self.number
        t0 = time.perf_counter_ns()
        for _ in range(n):
            call()
        self.samples_ns.append((time.perf_counter_ns() - t0) / n)

    def calibrate(self, sample_ns: float) -> None:
        """Warm up, then let rank 0 pick the calls per sample (the same on every rank)."""
        quiet_barrier()
        number = 0
        if not self.local or WORLD.Get_rank() == 0:
            self.call()  # warm-up: the tree check of an AllReduceSGD's first step, caches
            t0 = time.perf_counter_ns()
            self.call()
            one = max(time.perf_counter_ns() - t0, 1)
            number = max(1, min(10_000, round(sample_ns / one)))
        self.number = quiet_bcast(number)

    def stats(self) -> dict[str, float]:
        s = sorted(self.samples_ns)
        q = statistics.quantiles(s, n=4) if len(s) > 1 else [s[0]] * 3
        med = statistics.median(s)
        return {"median_ns": med, "min_ns": s[0], "iqr_rel": (q[2] - q[0]) / med}


def build_rows(size: int) -> tuple[list[Row], dict[str, Any]]:
    rng = np.random.default_rng(WORLD.Get_rank())
    p = run.convnet_params(np.random.default_rng(0))
    total = sum(v.size for v in p.values())
    comm = distlearn.Comm(timeout=60)

    raw = np.zeros(total, np.float32)  # zeros: a sum of zeros stays finite, whatever the calls

    def raw_blocking() -> None:
        WORLD.Allreduce(MPI.IN_PLACE, raw, op=MPI.SUM)

    def raw_nonblocking() -> None:
        WORLD.Iallreduce(MPI.IN_PLACE, raw, op=MPI.SUM).Wait()

    # Gradients with different values on each rank; a mean keeps them finite call after call.
    grads = {k: ft.from_numpy(rng.standard_normal(v.shape).astype(np.float32)) for k, v in p.items()}
    flat = ft.from_numpy(rng.standard_normal(total).astype(np.float32))
    sgd_dict, sgd_flat, sgd_loss = (distlearn.AllReduceSGD(comm) for _ in range(3))
    sgd_always = distlearn.AllReduceSGD(comm, check="always")
    loss = float(rng.standard_normal())

    rows = [
        Row("raw Allreduce", "comm.Allreduce(MPI.IN_PLACE, buf), one float32 buffer", raw_blocking),
        Row("raw Iallreduce", "comm.Iallreduce(MPI.IN_PLACE, buf).Wait()", raw_nonblocking),
        Row("dict of 8", "sgd.all_reduce_gradients(grads)", lambda: sgd_dict.all_reduce_gradients(grads)),
        Row("flat tensor", "sgd.all_reduce_gradients(flat)", lambda: sgd_flat.all_reduce_gradients(flat)),
        Row(
            "dict + loss",
            "sgd.all_reduce_gradients((loss, grads))",
            lambda: sgd_loss.all_reduce_gradients((loss, grads)),
        ),
        Row(
            "dict, check always",
            "AllReduceSGD(check='always') on grads",
            lambda: sgd_always.all_reduce_gradients(grads),
        ),
    ]

    # The convnet step of run.py's convnet_b32 (flambeau.nn), on rank 0 alone ...
    x = ft.from_numpy(rng.standard_normal((32, 3, 32, 32)).astype(np.float32))
    y = ft.from_numpy(rng.integers(0, 10, 32).astype(np.int64))
    step, model = run._flambeau_convnet(ft, p)
    rows.append(
        Row("convnet step (1 proc)", "zero, forward, backward, update; batch 32", lambda: step(model, x, y), True)
    )

    # ... and a data-parallel step on every rank at once, its gradients averaged on the flat tensor.
    dp_model: Any = run._flambeau_convnet(ft, p)[1]  # (run.py annotates the model as a dict)
    params, gparams = dp_model.get_parameters()
    crit = nn.ClassNLLCriterion()
    sgd_step = distlearn.AllReduceSGD(comm)
    sgd_step.synchronize_parameters(params)

    def data_parallel() -> None:
        gparams.zero_()
        out = dp_model.forward(x)
        crit.forward(out, y)
        dp_model.backward(x, crit.backward(out, y))
        sgd_step.all_reduce_gradients(gparams)
        params.add_(gparams, alpha=-run.CONVNET_LR)

    rows.append(
        Row(
            f"convnet step ({size} rank{'s' if size > 1 else ''})",
            "each rank: its batch of 32, all-reduce, update",
            data_parallel,
        )
    )
    info = {"numbers": total, "bytes": total * 4, "tensors": len(p)}
    return rows, info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter samples (a smoke run)")
    ap.add_argument("--json", metavar="PATH", help="also write the rows as JSON (from rank 0)")
    ap.add_argument("--repeat", type=int, help="samples per row (default 21, quick 5)")
    ap.add_argument("--sample-ms", type=float, help="length of one sample (default 50, quick 20)")
    args = ap.parse_args(argv)
    repeat = args.repeat or (5 if args.quick else 21)
    sample_ns = (args.sample_ms or (20.0 if args.quick else 50.0)) * 1e6
    rank, size = WORLD.Get_rank(), WORLD.Get_size()
    if rank == 0 and size == 1:
        print("distributed.py: 1 rank: the all-reduces are local copies; run it as mpiexec -n 2 python3 ...")

    start = time.perf_counter()
    rows, info = build_rows(size)
    for r in rows:
        r.calibrate(sample_ns)
    for _ in range(repeat):
        for r in rows:
            r.sample()
    quiet_barrier()
    if rank != 0:
        return 0

    stats = {r.name: r.stats() for r in rows}
    floor = stats["raw Allreduce"]["median_ns"]
    step = stats["convnet step (1 proc)"]["median_ns"]
    lib_version = " ".join(MPI.Get_library_version().splitlines()[0].split())
    print(
        f"all-reduce of the convnet's gradients ({info['tensors']} float32 tensors, {info['numbers']:,} numbers,"
        f" {info['bytes'] / 1e6:.2f} MB) over {size} ranks; {lib_version}"
    )
    print(
        f"timing: rank 0's median of {repeat} samples per row (~{sample_ns / 1e6:g} ms each), round-robin, barrier between"
    )
    print(f"  {'row':<24} {'median':>9} {'min':>9} {'IQR':>6} {'/raw':>6} {'% of step':>9}  statement")
    out = []
    for r in rows:
        s = stats[r.name]
        ratio, frac = s["median_ns"] / floor, s["median_ns"] / step
        is_step = r.name.startswith("convnet step")
        line = f"  {r.name:<24} {run._fmt_time(s['median_ns']):>9} {run._fmt_time(s['min_ns']):>9} {s['iqr_rel']:>6.1%}"
        line += f" {'':>6} {'':>9}" if is_step else f" {ratio:>6.2f} {frac:>9.1%}"
        print(f"{line}  {r.what}")
        out.append(
            {"row": r.name, "stmt": r.what, "calls_per_sample": r.number, "samples": len(r.samples_ns), **s}
            | ({} if is_step else {"ratio_to_raw": ratio, "fraction_of_step": frac})
        )
    print(f"({time.perf_counter() - start:.1f} s)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        doc = {"ranks": size, "mpi": lib_version, "mpi4py": __import__("mpi4py").__version__, "tree": info}
        doc |= {"machine": run.machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": out}
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
