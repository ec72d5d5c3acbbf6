"""The job of the network-namespace test: ``netns_job.py OUT``.

Each rank saves its network namespace and the result of a 4 MiB all-reduce (which must cross the
veth link between the namespaces), then trains the MLP as train_mlp.py does.
"""

from __future__ import annotations

import os

import common
import numpy as np

import flambeau.tensor as ft
from flambeau import distlearn

(out,) = common.args()
sgd = distlearn.AllReduceSGD(distlearn.Comm(timeout=30))
comm = sgd.comm
big = ft.from_numpy(np.full(1 << 19, float(comm.rank + 1)))
comm.all_reduce(big, op="sum")
history = common.train(comm.rank, comm.size, 12, "sgd", reduce=sgd.wrap)
common.save(out, comm.rank, history, netns=os.readlink("/proc/self/ns/net"), big=big.numpy()[:4])
