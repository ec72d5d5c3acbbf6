"""The communicator: MPI collectives on parameter trees that never hang silently.

Every collective of a :class:`Comm` is started non-blocking and waited for with a deadline. To
tell a dead or hung rank from a slow one, each rank also posts a small *arrival* message to every
other rank as it enters a collective (the collective's sequence number). When the deadline passes,
the ranks whose arrival is missing are the lost ones: the waiting rank tells the other live ranks
(so that they stop at once too, naming the same ranks) and raises :class:`RankLostError`.

An MPI job cannot go on after it lost a rank, so after a :class:`RankLostError` the process ends
at exit through ``MPI_Abort`` (after ``linger`` seconds, for the other ranks to report); without it
``MPI_Finalize`` would wait for the lost rank forever. A rank that hangs (in a deadlock, a stuck
read, an endless loop) is told so by the others, and a watchdog thread of its Comm ends it with a
message saying why: the job never outlives its failure.
"""

from __future__ import annotations

import atexit
import os
import pickle
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, DTypeError, FlambeauError
from flambeau.tensor.optable import notify_write, read_only, write_watchers

from . import tree as _tree

# Tags of the side messages, on the Comm's own duplicate communicators: arrivals at a collective,
# "these ranks are lost" to the live ranks, and "you are lost" to the lost ones (for the watchdog).
_ARRIVE, _LOST, _YOU_ARE_LOST = 7301, 7302, 7303
OPS = ("sum", "mean", "max", "min")


class RankLostError(FlambeauError, RuntimeError):
    """A rank did not reach a collective within the timeout: it died or hangs. The job cannot go on."""

    def __init__(self, message: str, ranks: Sequence[int]):
        super().__init__(message)
        self.ranks = tuple(ranks)


class TreeMismatchError(FlambeauError, ValueError):
    """The ranks' trees differ in structure, shape or dtype (found before any data moved)."""


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"flambeau.distlearn needs mpi4py and an MPI library: pip install 'flambeau-distlearn[mpich]' ({e})"
        ) from e
    return MPI


_broken: list[tuple[Any, float]] = []  # (communicator, linger) of Comms that lost a rank


@atexit.register
def _abort_if_broken() -> None:
    # Runs before mpi4py finalizes MPI (atexit handlers run before the interpreter's C-level exit
    # hooks). MPI_Finalize would wait for the lost rank; MPI_Abort ends the whole job instead.
    if _broken:
        comm, linger = _broken[0]
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(linger)
        comm.Abort(1)
        os._exit(1)  # pragma: no cover - Abort does not return


def _watchdog(watch: Any, rank: int) -> None:
    """Until the process ends: when the other ranks declare this one lost, say so and end it."""
    mpi = _mpi()
    status = mpi.Status()
    while True:
        if watch.Iprobe(source=mpi.ANY_SOURCE, tag=_YOU_ARE_LOST, status=status):
            seq = np.zeros(1, np.int64)
            watch.Recv(seq, source=status.Get_source(), tag=_YOU_ARE_LOST)
            print(
                f"distlearn: rank {rank} did not reach collective #{int(seq[0])} in time; rank"
                f" {status.Get_source()} declared it lost (dead or hung), so it ends here",
                file=sys.stderr,
                flush=True,
            )
            os._exit(1)
        time.sleep(0.05)


class Comm:
    """The ranks of an MPI communicator, with collectives on parameter trees and a deadline.

    Parameters
    ----------
    comm : mpi4py communicator, optional
        The ranks taking part (``mpi.COMM_WORLD`` by default). The Comm works on a duplicate, so
        its messages never mix with the caller's own.
    timeout : float
        Seconds a collective waits for the other ranks before naming the missing ones in a
        :class:`RankLostError`. It must cover the slowest rank's work between two collectives.
    linger : float
        Seconds a process that lost a rank waits at exit before aborting the job, so that the other
        live ranks can report too.

    Examples
    --------
    One process (a job of size 1) is a valid job:

    >>> import flambeau.tensor as ft
    >>> from flambeau import distlearn
    >>> comm = distlearn.Comm(timeout=10)
    >>> comm.rank, comm.size
    (0, 1)
    >>> comm.all_reduce({"w": ft.Tensor([1.0, 2.0]), "n": 3}, op="sum")["n"]
    3
    """

    def __init__(self, comm: Any = None, timeout: float = 60.0, linger: float = 1.0):
        mpi = _mpi()
        if not timeout > 0:
            raise ArgumentError(f"distlearn.Comm: timeout must be > 0 seconds, got {timeout!r}")
        self.mpi = mpi
        self.comm = (comm if comm is not None else mpi.COMM_WORLD).Dup()
        self.rank: int = self.comm.Get_rank()
        self.size: int = self.comm.Get_size()
        self.timeout = float(timeout)
        self.linger = float(linger)
        self.seq = 0  # collectives entered so far
        self._peers = [r for r in range(self.size) if r != self.rank]
        self._seen = dict.fromkeys(self._peers, 0)  # the last sequence number each peer announced
        self._boxes = {p: np.zeros(1, np.int64) for p in self._peers}
        self._recvs = {p: self.comm.Irecv(self._boxes[p], source=p, tag=_ARRIVE) for p in self._peers}
        self._sends: list[Any] = []
        self._lost: RankLostError | None = None
        self._watch = self.comm.Dup()  # the watchdog's own channel: never mixes with the main thread's
        if self.size > 1 and mpi.Query_thread() == mpi.THREAD_MULTIPLE:
            threading.Thread(
                target=_watchdog, args=(self._watch, self.rank), daemon=True, name="distlearn-watchdog"
            ).start()

    def __repr__(self) -> str:
        return f"<distlearn.Comm rank {self.rank} of {self.size}, timeout {self.timeout:g} s>"

    # ----------------------------------------------------------------------------- waiting

    def _enter(self) -> None:
        if self._lost is not None:
            raise RankLostError(f"distlearn: this job already lost rank(s) {list(self._lost.ranks)}", self._lost.ranks)
        self.seq += 1
        note = np.array([self.seq], np.int64)
        self._sends = [r for r in self._sends if not r.Test()]
        self._sends += [self.comm.Isend(note, dest=p, tag=_ARRIVE) for p in self._peers]

    def _drain(self) -> None:
        """Take every arrival message that came, and re-post its receive."""
        for p in self._peers:
            while self._recvs[p].Test():
                self._seen[p] = int(self._boxes[p][0])
                self._recvs[p] = self.comm.Irecv(self._boxes[p], source=p, tag=_ARRIVE)

    def wait(self, requests: list[Any], what: str) -> None:
        """Wait for ``requests`` (of the collective just entered) until the deadline; see the module doc."""
        mpi = self.mpi
        deadline = time.monotonic() + self.timeout
        pause = 0.0
        while not mpi.Request.Testall(requests):
            if self.comm.Iprobe(source=mpi.ANY_SOURCE, tag=_LOST):
                status = mpi.Status()
                told = np.zeros(self.size, np.int64)
                self.comm.Recv(told, source=mpi.ANY_SOURCE, tag=_LOST, status=status)
                lost = [int(r) for r in np.flatnonzero(told)]
                self._fail(
                    f"distlearn {what} (collective #{self.seq}): rank {status.Get_source()} reports rank(s) {lost}"
                    f" of {self.size} lost: they did not reach it within {self.timeout:g} s"
                    " (dead or hung)",
                    lost,
                    tell=False,
                )
            now = time.monotonic()
            if now > deadline:
                self._drain()
                lost = [p for p in self._peers if self._seen[p] < self.seq]
                if lost:
                    msg = (
                        f"distlearn {what} (collective #{self.seq}): rank(s) {lost} of {self.size} did not"
                        f" reach it within {self.timeout:g} s: dead or hung; the job cannot go on"
                    )
                else:
                    lost = list(self._peers)
                    msg = (
                        f"distlearn {what} (collective #{self.seq}): every rank arrived but the collective did not"
                        f" complete within {self.timeout:g} s: a rank died inside it; the job cannot go on"
                    )
                self._fail(msg, lost, tell=True)
            # MPI moves a non-blocking collective forward only while its ranks call into MPI: once
            # every rank has arrived, poll without pause (a sleeping rank would hold up the transfer
            # on all of them). Before that, back off, leaving the cores to the ranks still computing.
            self._drain()
            if all(self._seen[p] >= self.seq for p in self._peers):
                pause = 0.0
            else:
                time.sleep(pause)
                pause = min(max(pause * 2, 2e-5), 2e-3)
        self._drain()

    def _fail(self, msg: str, lost: list[int], tell: bool) -> None:
        err = RankLostError(msg, lost)
        self._lost = err
        if tell:
            mark = np.zeros(self.size, np.int64)
            mark[lost] = 1
            for p in self._peers:
                if p not in lost:
                    self.comm.Isend(mark, dest=p, tag=_LOST)
            seq = np.array([self.seq], np.int64)
            for p in lost:  # a hung rank's watchdog hears it; a dead one's message is dropped
                self._watch.Isend(seq, dest=p, tag=_YOU_ARE_LOST)
        _broken.append((self.comm, self.linger))
        raise err

    # ------------------------------------------------------------------------- collectives

    def _gather_bytes(self, data: bytes, what: str) -> list[bytes]:
        mpi = self.mpi
        self._enter()
        n = np.array([len(data)], np.int64)
        counts = np.zeros(self.size, np.int64)
        self.wait([self.comm.Iallgather(n, counts)], what)
        self._enter()
        out = np.zeros(int(counts.sum()), np.uint8)
        displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
        req = self.comm.Iallgatherv(np.frombuffer(data, np.uint8), [out, (counts.tolist(), displs.tolist()), mpi.BYTE])
        self.wait([req], what)
        return [out[d : d + c].tobytes() for d, c in zip(displs, counts, strict=True)]

    def check_tree(self, tree: Any, what: str = "check_tree") -> None:
        """Refuse, on every rank at once, trees that differ from rank 0's in structure, shape or dtype.

        Raises
        ------
        TreeMismatchError
            Naming each rank whose tree differs and its first difference.
        """
        mine = _tree.signature(tree)
        sigs = [pickle.loads(b) for b in self._gather_bytes(pickle.dumps(mine), what)]
        bad = [(r, _tree.first_difference(s, sigs[0])) for r, s in enumerate(sigs) if s != sigs[0]]
        if bad:
            said = "; ".join(f"rank {r} has {d}" for r, d in bad)
            raise TreeMismatchError(f"distlearn {what}: the ranks' parameter trees differ from rank 0's: {said}")

    def all_reduce(self, tree: Any, op: str = "sum", check: bool = True) -> Any:
        """Reduce a tree over the ranks: every rank gets the elementwise sum (mean, max, min) of all.

        Tensor leaves are overwritten in place (cpu or device tensors; device tensors go through
        host buffers) and returned in the tree; number leaves come back reduced in a new tree.
        Every dtype of the tree travels in one fused buffer: one MPI all-reduce per dtype.

        Parameters
        ----------
        tree : tensor, number, or dict/list/tuple of them
        op : {"sum", "mean", "max", "min"}
            ``"mean"`` divides the sum by the number of ranks; it needs floating-point leaves
            (numbers are averaged in the dtype of the first float tensor, float64 without one).
        check : bool
            First check that every rank's tree fits rank 0's (one more small collective).

        Examples
        --------
        >>> import flambeau.tensor as ft
        >>> from flambeau import distlearn
        >>> comm = distlearn.Comm()
        >>> g = {"w": ft.Tensor([2.0, 4.0]), "b": [ft.Tensor([1.0])]}
        >>> comm.all_reduce(g, op="mean")["w"].tolist()
        [2.0, 4.0]
        """
        if op not in OPS:
            raise ArgumentError(f"distlearn.all_reduce: op must be one of {OPS}, got {op!r}")
        what = f"all_reduce({op})"
        packed = self._pack(tree, what, mean=op == "mean")
        if check:
            self.check_tree(tree, what)
        mpi = self.mpi
        mpi_op = {"sum": mpi.SUM, "mean": mpi.SUM, "max": mpi.MAX, "min": mpi.MIN}[op]
        self._enter()
        self.wait([self.comm.Iallreduce(mpi.IN_PLACE, b, op=mpi_op) for b in packed.buffers.values()], what)
        return packed.unpack(divide=self.size if op == "mean" else 1)

    def broadcast(self, tree: Any, root: int = 0, check: bool = True) -> Any:
        """Give every rank the root's values: tensor leaves in place, numbers in the returned tree.

        Examples
        --------
        >>> import flambeau.tensor as ft
        >>> from flambeau import distlearn
        >>> distlearn.Comm().broadcast([ft.Tensor([1.0]), 2])[1]
        2
        """
        self._root(root, "broadcast")
        packed = self._pack(tree, "broadcast")
        if check:
            self.check_tree(tree, "broadcast")
        self._enter()
        self.wait([self.comm.Ibcast(b, root=root) for b in packed.buffers.values()], "broadcast")
        return packed.unpack()

    def synchronize(self, params: Any, state: dict[str, Any] | None = None) -> Any:
        """Rank 0's parameters on every rank (in place) and, when given, its optimizer ``state``.

        ``state`` (a flambeau.optim state or config dict) is replaced in place by rank 0's, so a
        run resumed from rank 0's checkpoint continues on every rank alike. Returns ``params``.
        """
        params = self.broadcast(params, root=0, check=True)
        if state is not None:
            theirs = self.broadcast_object(state, root=0)
            if theirs is not state:
                state.clear()
                state.update(theirs)
        return params

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        """The root's ``obj`` on every rank (pickled): optimizer states, configs, anything picklable.

        >>> from flambeau import distlearn
        >>> distlearn.Comm().broadcast_object({"learning_rate": 0.1})
        {'learning_rate': 0.1}
        """
        self._root(root, "broadcast_object")
        data = pickle.dumps(obj) if self.rank == root else b""
        n = np.array([len(data)], np.int64)
        self._enter()
        self.wait([self.comm.Ibcast(n, root=root)], "broadcast_object")
        buf = np.frombuffer(data, np.uint8).copy() if self.rank == root else np.empty(int(n[0]), np.uint8)
        self._enter()
        self.wait([self.comm.Ibcast(buf, root=root)], "broadcast_object")
        return obj if self.rank == root else pickle.loads(buf.tobytes())

    def barrier(self) -> None:
        """Wait until every rank is here (with the deadline)."""
        self._enter()
        self.wait([self.comm.Ibarrier()], "barrier")

    def _root(self, root: int, what: str) -> None:
        if not 0 <= root < self.size:
            raise ArgumentError(f"distlearn.{what}: root must be a rank in [0, {self.size}), got {root!r}")

    def _pack(self, tree: Any, what: str, mean: bool = False) -> _tree.Packed:
        """The tree's buffers, once every leaf is known to take its result (else nothing is copied)."""
        numbers_as = None
        tensors = []
        for path, leaf in _tree.leaves(tree):
            if not isinstance(leaf, Tensor):
                continue
            tensors.append(leaf)
            if read_only(leaf._a):
                raise ArgumentError(
                    f"distlearn.{what}: leaf {_tree.describe(path, leaf)} is a read-only (expanded) view: its"
                    " result cannot be written into it"
                )
            kind = np.dtype(leaf.dtype).kind
            if mean and kind not in "fc":
                raise DTypeError(
                    f"distlearn.{what}: leaf {_tree.describe(path, leaf)}; the mean of integer"
                    " or boolean values is not one of them: use op='sum'"
                )
            if mean and numbers_as is None and kind == "f":
                numbers_as = np.dtype(leaf.dtype)  # the loss joins the gradients' buffer: one all-reduce
        if mean and numbers_as is None:
            numbers_as = np.dtype(np.float64)
        if write_watchers:  # autograd's: a write into a value a recorded op still needs is refused, before any
            for leaf in tensors:
                notify_write(leaf, f"distlearn.{what}")
        return _tree.Packed(tree, numbers_as)
