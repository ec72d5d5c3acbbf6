"""A rank training flambeau.nn's MLP with optim.sgd on its flat parameters: ``train_nn.py OUT BATCH``."""

from __future__ import annotations

import common

from flambeau import distlearn

out, batch = common.args()
sgd = distlearn.AllReduceSGD(distlearn.Comm(timeout=30))
history = common.train_nn(sgd.comm.rank, sgd.comm.size, int(batch), sgd)
common.save(out, sgd.comm.rank, history)
