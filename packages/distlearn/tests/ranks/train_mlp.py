"""A rank training the MLP with AllReduceSGD: ``train_mlp.py OUT OPTIMIZER BATCH``."""

from __future__ import annotations

import common

from flambeau import distlearn

out, optimizer, batch = common.args()
sgd = distlearn.AllReduceSGD(distlearn.Comm(timeout=30))
comm = sgd.comm
history = common.train(comm.rank, comm.size, int(batch), optimizer, reduce=sgd.wrap)
common.save(out, comm.rank, history)
