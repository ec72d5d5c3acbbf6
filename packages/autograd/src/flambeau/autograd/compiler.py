"""Optimized mode: record a function once per input signature, then replay it as straight-line code.

``optimize(fn)`` (and ``grad(f, optimize=True)``, which is ``optimize(grad(f))``) runs ``fn`` once
per *signature* (the structure of its arguments; each tensor's size, dtype, device and contiguity;
the values of every other argument) with its tensors replaced by :class:`Sym` symbols. A symbol is
a tensor subclass carrying its real value, so the recording run is an ordinary eager run: Python
control flow sees real values, errors are the usual ones, and the result is returned. Meanwhile
every op on a symbol appends one instruction (the op's backend forward on arrays) to a program,
and the gradient's backward pass, which runs flambeau ops too, is recorded in the same program.
The program is compiled to Python source: one backend call per op on raw arrays, no boxes, no
op-table dispatch, each intermediate freed after its last use, dead code removed.

Safety, the point of this module:

- Every value Python read out of a symbol (``bool(x > 0)``, ``x.item()``, ``int(n)``,
  ``x.tolist()``, an op returning a Python value) becomes a *guard*: replay checks it and, on a
  different outcome, records the function again for the new path (up to :data:`MAX_PATHS` paths
  per signature). A changed branch is never silently replayed.
- What a program cannot reproduce makes that signature run un-optimized from then on, with a
  warning that names the reason (``df.fallbacks`` lists them): random draws, writes into the
  function's arguments or into tensors that outlive the call, views of a tensor taken before a
  write into it, conversion to numpy, storage access, resizing.
- Results are fresh tensors on every call: a later call never overwrites what an earlier one
  returned.
- With ``cuda_graph=True``, on a cuda device, a signature's program is captured as a CUDA graph
  and launched as one (:mod:`.graphs`); a program with guards as one graph per stretch between
  guards, each guard checked on the host after the graph computing its value.

Tensors the function reaches other than through its arguments (globals, closures, attributes of
objects it is given) are constants of the program, read through their memory: in-place updates
to them are seen, rebinding them or results computed from them outside the function are not.
Side effects other than returned values (printing, appending to a list) happen on the recording
run only, as with ``jax.jit``.
"""

from __future__ import annotations

import functools
import gc
import threading
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

import flambeau.tensor as ft
from flambeau.tensor import Tensor, optable
from flambeau.tensor import random as _random
from flambeau.tensor.registry import current_device

from . import registry, tracer
from .capture import Capture, RetraceSignal, Sym, UncompilableError, _captures, _FloatOut, _plain, _stale
from .graphs import CapturedGraph, GraphCaptureError, is_cuda, refusal
from .program import Program
from .tree import tree_map

_dflt = ft.dtypes._default  # [the default float dtype]
_version = registry.VERSION
_RECORDING = threading.RLock()
MAX_PATHS = 8  # programs kept per signature (one per outcome of its guards) before giving up
# --------------------------------------------------------------------------------------------
# Signatures: what must be equal for a program to be replayed.


class _DirectSignal(Exception):  # noqa: N818  (a signal, not an error)
    """The arguments hold traced values: run the function as it is."""


def _walk(x: Any, key: list[Any], leaves: list[Any]) -> None:
    c = x.__class__
    if c is Tensor:
        a = x._a
        key.append((a.shape, a.strides, a.dtype, x._d))  # strides: the layout, cheaper to read than flags
        leaves.append(x)
    elif c is float or c is int or c is bool or c is str or x is None:
        key.append((c, x))
    elif c is dict:
        key.append((dict, tuple(x)))
        for v in x.values():
            _walk(v, key, leaves)
    elif c is list or c is tuple:
        key.append((c, len(x)))
        for v in x:
            _walk(v, key, leaves)
    elif isinstance(x, Tensor):
        raise _DirectSignal
    elif isinstance(x, dict):
        key.append((c, tuple(x)))
        for v in x.values():
            _walk(v, key, leaves)
    elif isinstance(x, (list, tuple)):
        key.append((c, len(x)))
        for v in x:
            _walk(v, key, leaves)
    elif isinstance(x, (np.number, np.bool_)):
        key.append((c, x))
    else:
        key.append((c, id(x)))  # another object: the same one, by identity


def _symbolize(x: Any, cap: Capture) -> Any:
    """``x`` with each tensor (in :func:`_walk`'s order) replaced by an input symbol."""

    def sym(v: Any) -> Any:
        if v.__class__ is not Tensor:
            return v
        s = cap.sym(v._a, v._d, input=True)
        cap.inputs.append(s)
        return s

    return tree_map(sym, x)


# --------------------------------------------------------------------------------------------
# The optimized function.


class _Fallback:
    """A signature that runs un-optimized, and why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


class Optimized:
    """``fn`` recorded once per signature and replayed; see :func:`optimize`."""

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        stable_buffers: bool = False,
        cuda_graph: bool = False,
        writeback: Callable[[Any], tuple[Any, list[tuple[Any, int]]]] | None = None,
    ):
        self.fn = fn
        self.stable_buffers = stable_buffers
        self.cuda_graph = cuda_graph
        self.writeback = writeback  # see graphs.CapturedGraph: in-place updates made inside a graph
        self.name: str = name or str(getattr(fn, "__name__", "fn"))
        self.programs: dict[tuple[Any, ...], list[Program] | _Fallback] = {}
        # Per (signature, index of its program): the program's CUDA graphs, or why it has none.
        self.graphs: dict[tuple[tuple[Any, ...], int], CapturedGraph | str] = {}
        self.recordings = 0  # recording runs so far
        self.replays = 0
        self.captures = 0  # CUDA graphs captured so far
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<optimized {self.name}: {len(self.programs)} signature(s), {self.recordings} recording(s)>"

    @property
    def buffer_bytes(self) -> int:
        """Bytes the compiled programs keep from call to call (their reused buffers)."""
        return sum(b.nbytes for ps in self.programs.values() if isinstance(ps, list) for p in ps for b in p.buffers)

    @property
    def fallbacks(self) -> list[str]:
        """Why some signatures run un-optimized (one line each)."""
        return [p.reason for p in self.programs.values() if isinstance(p, _Fallback)]

    @property
    def graph_fallbacks(self) -> list[str]:
        """With ``cuda_graph=True``: why some replayed signatures run their program without a CUDA graph."""
        return [g for g in self.graphs.values() if isinstance(g, str)]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if tracer.active_traces or _captures or tracer.monitor is not None:
            # Inside grad or another recording, be plain code there; with anomaly detection or the
            # profiler on, run plainly so that every op is seen.
            return self.fn(*args, **kwargs)
        if not registry._loaded:
            tracer.ensure_loaded()  # gradient plugins load before the rules' version is read
        key: list[Any] = [_dflt[0], current_device(), _version[0]]
        leaves: list[Any] = []
        try:
            _walk(args, key, leaves)
            if kwargs:
                _walk(kwargs, key, leaves)
        except _DirectSignal:
            return self.fn(*args, **kwargs)
        k = tuple(key)
        entry = self.programs.get(k)
        if entry is not None:
            if isinstance(entry, _Fallback):
                return self.fn(*args, **kwargs)
            for i, prog in enumerate(entry):
                if self.cuda_graph:
                    try:
                        res = self._graph_replay(k, i, prog, leaves)
                    except RetraceSignal:  # a guard: these arguments take another program's path
                        continue
                    if res is not _NO_GRAPH:
                        self.replays += 1
                        return res
                if prog.buffers:
                    prog.lock.acquire()  # its buffers are one call's: threads take turns
                try:
                    res = prog.run(leaves)
                except RetraceSignal:
                    continue
                except Exception:  # bad values (an index out of range): the plain call says it as usual
                    return self.fn(*args, **kwargs)
                finally:
                    if prog.buffers:
                        prog.lock.release()
                self.replays += 1
                return res
            if len(entry) >= MAX_PATHS:
                return self._give_up(
                    k, f"more than {MAX_PATHS} paths: branches on tensor values change from call to call", args, kwargs
                )
        return self._record(k, args, kwargs, leaves, 0 if entry is None else len(entry))

    def _graph_replay(self, k: tuple[Any, ...], i: int, prog: Program, leaves: list[Any]) -> Any:
        """Replay ``prog`` (signature ``k``'s ``i``-th) as CUDA graphs, capturing them first if need
        be; ``_NO_GRAPH`` when it cannot be. ``RetraceSignal``: a guard says ``leaves`` take another path."""
        g = self.graphs.get((k, i))
        if g.__class__ is CapturedGraph:
            assert isinstance(g, CapturedGraph)
            if g.fits(leaves):
                with prog.lock:
                    return g.replay(leaves)
            # Another tensor for an input the graph read in place: capture again, copying it from now on.
            copied = g.copied | g.moved(leaves)
        elif g is not None:
            return _NO_GRAPH
        else:
            copied = frozenset()
        if not is_cuda(leaves, k[1]):
            self.graphs[k, i] = "not on a cuda device (CUDA graphs need one; the program runs as it is)"
            return _NO_GRAPH
        reason = refusal(prog)
        if reason is None:
            with prog.lock:
                raced = self.graphs.get((k, i)) is not g  # another thread set it up while this one waited
                if not raced:
                    made = self._capture(prog, leaves, copied)
                    if made is None:
                        return _NO_GRAPH
                    if isinstance(made, str):
                        reason = made
                    else:
                        self.graphs[k, i] = made
                        self.captures += 1
                        return made.replay(leaves)
            if raced:
                return self._graph_replay(k, i, prog, leaves)  # with what the other thread set up
        assert reason is not None  # (every other way returned)
        self.graphs[k, i] = reason
        warnings.warn(
            f"optimize({self.name}): this signature runs its program without a CUDA graph: {reason}",
            RuntimeWarning,
            stacklevel=3,
        )
        return _NO_GRAPH

    def _capture(self, prog: Program, leaves: list[Any], copied: frozenset[int]) -> CapturedGraph | str | None:
        """``prog`` captured for ``leaves`` (under ``prog.lock``), or why it cannot be; ``None``:
        bad values, which the plain path reports. ``RetraceSignal``: they take another path."""
        if prog.reads["guards"]:
            # A program with guards is captured only for arguments that take its path: run it first
            # (a RetraceSignal leaves the graph it has, if any, as it is).
            try:
                prog.run(leaves)
            except RetraceSignal:
                raise
            except Exception:
                return None
        try:
            return CapturedGraph(prog, leaves, copied, self.stable_buffers, self.writeback)
        except GraphCaptureError as e:
            return str(e)
        except Exception as e:  # cupy or the driver refusing (out of memory, ...): no graph, said why
            return f"setting its graph up failed ({type(e).__name__}: {e})"

    def _give_up(self, k: tuple[Any, ...], reason: str, args: Any, kwargs: Any, result: Any = None) -> Any:
        self.programs[k] = _Fallback(reason)
        for key in [key for key in self.graphs if key[0] == k]:  # its programs' graphs, and their memory
            del self.graphs[key]
        warnings.warn(
            f"optimize({self.name}): this signature runs un-optimized from now on: {reason}",
            RuntimeWarning,
            stacklevel=3,
        )
        return self.fn(*args, **kwargs) if result is None else result[0]

    def _record(
        self, k: tuple[Any, ...], args: tuple[Any, ...], kwargs: dict[str, Any], leaves: list[Any], seen: int = 0
    ) -> Any:
        """Record a new program for signature ``k``, whose ``seen`` programs did not fit these arguments."""
        with _RECORDING:  # recordings patch process-wide hooks: one at a time
            entry = self.programs.get(k)
            if entry is not None and (isinstance(entry, _Fallback) or len(entry) > seen):
                # Another thread recorded this signature (or gave it up) while this one waited for the
                # lock: try that first, rather than record the same path again (threads racing on a
                # fresh function would otherwise each record it, and fill MAX_PATHS with copies).
                return self(*args, **kwargs)
            return self._record_locked(k, args, kwargs, leaves)

    def _record_locked(
        self, k: tuple[Any, ...], args: tuple[Any, ...], kwargs: dict[str, Any], leaves: list[Any]
    ) -> Any:
        self.recordings += 1
        cap = Capture()
        sargs = _symbolize(args, cap)
        skw = _symbolize(kwargs, cap)
        rng = _random.generator_for

        def drawing(dev: Any, gen: Any) -> Any:
            cap.random = True
            return rng(dev, gen)

        def watch(target: Any, what: str) -> None:
            if target.__class__ is Sym and target._g.cap is cap:
                raise cap.fail(f"{what} writes a constant into a recorded tensor")

        _captures.append(cap)
        _random.generator_for = drawing
        optable.write_watchers.append(watch)
        try:
            result = self.fn(*sargs, **skw)
        except UncompilableError:
            pass
        finally:
            _random.generator_for = rng
            optable.write_watchers.remove(watch)
            _captures.remove(cap)
            cap.active = False
            self._restore(cap)
        if cap.failed is not None:  # the run stopped (or went on past a refusal): run it again, plainly
            return self._give_up(k, cap.failed, args, kwargs)
        reason = self._unsafe(cap, result)
        value = _concrete(result, {id(s): t for s, t in zip(cap.inputs, leaves, strict=True)})
        if reason is not None:
            return self._give_up(k, reason, args, kwargs, (value,))
        try:
            prog = Program(cap, result, self.name, self.stable_buffers)
        except Exception as e:  # a recording this compiler cannot turn into code: keep the plain path
            return self._give_up(
                k, f"its recording could not be compiled ({type(e).__name__}: {e})", args, kwargs, (value,)
            )
        entry = self.programs.setdefault(k, [])
        assert isinstance(entry, list)
        entry.append(prog)
        return value

    def _restore(self, cap: Capture) -> None:
        for t, _, _ in cap.promoted:
            if t.__class__ is Sym:
                _stale(t)  # back to a plain tensor holding the value written last

    def _unsafe(self, cap: Capture, result: Any) -> str | None:
        if cap.random:
            return "it draws random numbers (a program would repeat the same draws)"
        for s in cap.inputs:
            if s.__class__ is not Sym or not s._g.input:
                return "it writes into one of its arguments"
        for p in cap.promoted:
            before, pos = p[1], p[2]
            xp = p[0]._d.xp
            for ins in cap.code[pos:]:
                for c in ins.consts:
                    if hasattr(c, "shape") and c.__class__ is before.__class__ and xp.may_share_memory(c, before):
                        return "it reads a tensor through a view taken before a recorded value was written into it"
        returned: set[int] = set()
        _ids(result, returned)
        refs = [weakref.ref(p[0]) for p in cap.promoted if id(p[0]) not in returned]
        cap.promoted.clear()
        if any(r() is not None for r in refs):
            gc.collect()  # reference cycles left by the function's frames
            if any(r() is not None for r in refs):
                return "it writes recorded values into a tensor that outlives the call (a global, or an argument's)"
        return None


_NO_GRAPH = object()  # _graph_replay's "replay it without a graph"


def _ids(x: Any, found: set[int]) -> None:
    found.add(id(x))
    if isinstance(x, dict):
        for v in x.values():
            _ids(v, found)
    elif isinstance(x, (list, tuple)):
        for v in x:
            _ids(v, found)


def _concrete(x: Any, leaves: dict[int, Any]) -> Any:
    """The recording run's result as plain values (an argument returned is the caller's own tensor)."""

    def plain(v: Any) -> Any:
        if v.__class__ is Sym:
            return leaves[id(v)] if v._g.input else _plain(v)
        return float(Tensor.item(v.sym)) if v.__class__ is _FloatOut else v

    return tree_map(plain, x)


def optimize(fn: Callable[..., Any], stable_buffers: bool = False, cuda_graph: bool = False) -> Optimized:
    """``fn`` recorded once per input signature and replayed as straight-line backend code.

    ``grad(f, optimize=True)`` is ``optimize(grad(f))``: torch-autograd's optimized mode. The
    first call with a new signature (argument structure; tensor sizes, strides, dtypes and devices;
    the values of other arguments) runs ``fn`` as usual while recording every op, the backward
    pass included; later calls with that signature replay the recording as one Python function of
    backend calls on arrays. Intermediate results live in buffers reused from call to call.

    Safe by construction: a value Python reads out of a tensor (a branch on ``x > 0``, ``item()``,
    ``int()``) is checked on replay, and another outcome records the new path; what a program
    cannot reproduce (random draws, writes into arguments or into tensors that outlive the call,
    numpy views) makes that signature run plainly, with a ``RuntimeWarning`` saying why
    (``fallbacks`` lists the reasons). Tensors reached other than through the arguments are
    constants of the program, read through their memory; side effects other than the returned
    values happen on the recording run only.

    Parameters
    ----------
    fn : callable
        A function of tensors, numbers and nested dicts, lists and tuples of them.
    stable_buffers : bool
        Let returned tensors live in the program's buffers too: no allocation per call, but each
        call overwrites what the previous one returned. By default results are fresh every call.
    cuda_graph : bool
        On a cuda device, capture each signature's program as a CUDA graph at its first replay and
        launch the graph from then on: one launch for the whole program, forward and backward,
        instead of one per op (see :mod:`flambeau.autograd.graphs` and docs/devices.md, "CUDA
        graphs"). Tensors given again as the same objects are read in place, others are copied
        into the graph's static inputs; results are copied out fresh (with ``stable_buffers``, the
        graph's own output arrays are returned, overwritten by the next call). A program with
        guards (a branch or ``item()`` on a tensor) is captured as one graph per stretch between
        them, each guard checked on the host between launches; one returning a Python number from
        the device, or failing to capture, runs without a graph, with a ``RuntimeWarning``;
        ``graph_fallbacks`` lists why. Elsewhere (the cpu) it changes nothing.

    Returns
    -------
    Optimized
        Callable like ``fn``; ``recordings``, ``replays``, ``captures`` and ``fallbacks`` say what
        it did, and ``programs`` holds each signature's compiled programs (their ``source`` is
        readable), ``graphs`` each signature's CUDA graph or why it has none.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import grad, optimize
    >>> df = optimize(grad(lambda x: (x * x).sum()))
    >>> df(ft.Tensor([1.0, 2.0]))[0].tolist()  # recorded
    [2.0, 4.0]
    >>> df(ft.Tensor([3.0, 4.0]))[0].tolist()  # replayed
    [6.0, 8.0]
    >>> df.recordings, df.replays
    (1, 1)

    With ``cuda_graph=True`` the same code captures CUDA graphs on a cuda device; on the cpu it
    says why it has none:

    >>> dg = optimize(grad(lambda x: (x * x).sum()), cuda_graph=True)
    >>> [dg(ft.Tensor([1.0, 2.0]))[0].tolist() for _ in range(2)]
    [[2.0, 4.0], [2.0, 4.0]]
    >>> dg.captures, dg.graph_fallbacks
    (0, ['not on a cuda device (CUDA graphs need one; the program runs as it is)'])
    """
    return Optimized(fn, stable_buffers=stable_buffers, cuda_graph=cuda_graph)
