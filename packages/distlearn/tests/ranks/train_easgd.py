"""A rank training the MLP with elastic averaging: ``train_easgd.py OUT BATCH TAU ALPHA``."""

from __future__ import annotations

import common

from flambeau import distlearn

out, batch, tau, alpha = common.args()
ea = distlearn.AllReduceEA(distlearn.Comm(timeout=30), tau=int(tau), alpha=float(alpha))
comm = ea.comm
history = common.train_easgd(comm.size, int(batch), int(tau), float(alpha), rank=comm.rank, ea=ea)
common.save(out, comm.rank, history)
