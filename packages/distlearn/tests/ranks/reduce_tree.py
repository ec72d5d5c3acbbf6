"""A rank all-reducing mixed trees: ``reduce_tree.py OUT DEVICE``; saves each op's result leaves."""

from __future__ import annotations

import common
import numpy as np

import flambeau.tensor as ft
from flambeau import distlearn
from flambeau.distlearn.tree import leaves

out, device = common.args()
comm = distlearn.Comm(timeout=30)
r = comm.rank
saved = {}
for op in ("sum", "max", "min", "mean"):
    tree = common.mixed_tree(r, device, floats_only=op == "mean")
    tensors = [v for _, v in leaves(tree) if isinstance(v, ft.Tensor)]
    got = comm.all_reduce(tree, op=op)
    # tensor leaves are updated in place, on their device, with their dtype
    assert all(a is b for a, b in zip(tensors, [v for _, v in leaves(got) if isinstance(v, ft.Tensor)], strict=True))
    assert all(v.device.type == device for v in tensors)
    for k, v in enumerate(common.leaf_values(got)):
        saved[f"{op}/{k}"] = np.asarray(v)
        saved[f"{op}/{k}/type"] = np.asarray(type(v).__name__)
    # broadcast from the last rank: every rank ends with its values
bt = common.mixed_tree(r, device)
got = comm.broadcast(bt, root=comm.size - 1)
for k, v in enumerate(common.leaf_values(got)):
    saved[f"bcast/{k}"] = np.asarray(v)
state = comm.broadcast_object({"t": r, "m": ft.Tensor([float(r)])} if r == 0 else {"other": 1}, root=0)
saved["state/t"] = np.asarray(state["t"])
saved["state/m"] = state["m"].cpu().numpy()
np.savez(f"{out}/rank{r}.npz", **saved)
