"""CUDA graphs for optimized mode: a compiled program captured once, then replayed by launching it.

``optimize(fn, cuda_graph=True)`` (and ``grad(f, optimize=True, cuda_graph=True)``) records ``fn``
per signature as usual; on a cuda device, the second call with a signature captures the
signature's program (its ``run``, forward, backward and whatever else ``fn`` does on tensors) with
cupy's stream capture, and every later call replays it: the inputs are put where the graph reads
them, the graph is launched on the current stream (one launch instead of one per op) and the
results are copied out. What this module holds:

- :func:`refusal`: why a program cannot be captured (``None`` when it can): it returns a Python
  number computed on the device, which only a host read gives.
- :func:`segments`: a program cut at its guards (a branch or ``item()`` on a tensor, which read
  a value on the host): a program with guards is captured as one graph per stretch of device work
  between them, the guards checked on the host between launches.
- :class:`CapturedGraph`: one captured program (its graphs) and its static buffers, and its replay.

How a graph is captured (:class:`CapturedGraph`):

1. Inputs. An input whose tensor is the same at replay as at capture (a parameter tensor, a batch
   tensor the caller refills in place) is read where it is: the graph holds a reference to its
   array, and reads its memory at each launch, so in-place changes to it are seen. Other inputs
   are copied, on the current stream, into static arrays of the same size, dtype and strides
   that the graph reads. A call with a different tensor for an input read in place captures the
   program again, with that input copied from then on.
2. Memory. Everything the program allocates while captured comes from a private
   ``cupy.cuda.MemoryPool`` kept alive with the graph: the graph reuses those addresses at every
   launch, so no other allocation may ever be handed that memory.
3. The capture's program. cupy refuses every cuBLAS call while a stream captures, so the program
   is compiled once more (:func:`segments`) with the backend's
   ``capture_namespace()`` in place of cupy: its ``matmul`` and ``dot`` call cuBLAS's GEMM directly
   (float32 and float64; ``flambeau.backends.cupy.capture``). The warm-up and the capture run that
   program.
4. Warm-up. Before the capture the program runs (until the pool stops growing, at most
   :data:`WARMUPS` times) on a side stream with that pool: kernels compile, cuBLAS initialises and
   the pool caches the blocks the capture will ask for, so that nothing synchronising is called
   while capturing (a block it still lacks is allocated in relaxed mode: :class:`PoolAllocator`).
5. Capture. ``stream.begin_capture()`` (thread-local mode: a synchronising call made while
   capturing raises rather than runs outside the graph); ``run(static inputs)``;
   ``graph = stream.end_capture()``; for a program with guards, one such capture per segment, the
   values a later segment or guard reads kept alive between them. An exception while capturing
   ends the capture (its graph is discarded) and the signature runs its program as before, without
   a graph; ``Optimized.graph_fallbacks`` says why, and a ``RuntimeWarning`` says it once. Ops
   that check index ranges (``gather``, ``index_select``, advanced ``[]``) read the indices on
   the host: a recording makes each such check a guard before its op (the op itself then skips
   it), so the graph is cut there and each replay reads the indices once per indexing op, at the
   guard; a bad index raises the op's ``IndexError`` before the graph after the guard runs, so an
   in-place update after it is not made. ``flambeau.tensor.optable.trusted_values()`` skips the
   checks, and with them the guards' reads.
6. Replay, all on the current stream (ordered after the work that made the inputs): copy the
   copied inputs in, ``graph.launch()`` (with guards: each segment's graph, then its guard, which
   waits for it and reads its value; another value stops the replay with ``RetraceSignal``, and
   the signature's other programs, or a new recording, take the call), then return fresh copies
   of the results, so a later
   replay never overwrites what an earlier one returned. The graph itself ends by copying its
   results into one static block per dtype (:class:`Packed`), so the fresh copies cost one
   allocation and one device copy per dtype, however many results (an MLP's loss and gradients:
   one), and each result is a view of its part of the block. With ``stable_buffers=True`` the
   results are the graph's own output arrays instead: no copies, but the next replay overwrites
   them.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

from .capture import RetraceSignal
from .program import Program, _wrap
from .tree import tree_map

__all__ = [
    "CapturedGraph",
    "GraphCaptureError",
    "Packed",
    "PoolAllocator",
    "Written",
    "is_cuda",
    "refusal",
    "segments",
]

_VALUE = re.compile(r"v\d+")  # how a program names its values
WARMUPS = 3  # at most this many warm-up runs, until the private pool stops growing


class GraphCaptureError(Exception):
    """A program could not be captured as a CUDA graph; the text says why."""


class Written:
    """A result whose in-place updates a captured graph already made (see ``Optimized.writeback``)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


class Packed:
    """Arrays kept side by side in one flat block per dtype, copied out in one go.

    A captured graph's results are written into their parts of the blocks (:meth:`fill`, inside
    the graph); each replay then makes :meth:`fresh` copies: one allocation and one copy per
    block, the results being views of their parts of it (disjoint, so writing one changes no
    other). Written against an array namespace, so the CPU tests run it on numpy.

    Parameters
    ----------
    xp : module
        The array namespace (cupy).
    like : list of array
        Arrays of the shapes and dtypes to hold, in order.

    Examples
    --------
    >>> import numpy as np
    >>> p = Packed(np, [np.zeros(2), np.zeros((), np.int64), np.zeros((2, 2))])
    >>> sorted((str(k), v.size) for k, v in p.blocks.items())
    [('float64', 6), ('int64', 1)]
    >>> p.fill(np, [np.ones(2), np.array(7), np.eye(2)])
    >>> [a.tolist() for a in p.fresh()]
    [[1.0, 1.0], 7, [[1.0, 0.0], [0.0, 1.0]]]
    """

    def __init__(self, xp: Any, like: list[Any]):
        self.slots: list[tuple[Any, int, int, tuple[int, ...]]] = []  # (dtype, start, stop, shape)
        ends: dict[Any, int] = {}
        for a in like:
            start = ends.get(a.dtype, 0)
            ends[a.dtype] = start + a.size
            self.slots.append((a.dtype, start, start + a.size, a.shape))
        self.blocks = {dt: xp.empty(n, dtype=dt) for dt, n in ends.items()}
        self._parts = [self.blocks[dt][i:j].reshape(shape) for dt, i, j, shape in self.slots]

    def fill(self, xp: Any, arrays: list[Any]) -> None:
        """Copy ``arrays`` (of the shapes and dtypes given at construction) into their parts."""
        for part, a in zip(self._parts, arrays, strict=True):
            if a.shape != part.shape or a.dtype != part.dtype:
                raise GraphCaptureError(
                    f"a result changed from {part.shape} {part.dtype} in the warm-up to {a.shape} {a.dtype} in the capture"
                )
            xp.copyto(part, a)

    def fresh(self) -> list[Any]:
        """New copies of the held arrays: one copy per block, each array a view of its part."""
        copies = {dt: b.copy() for dt, b in self.blocks.items()}
        return [copies[dt][i:j].reshape(shape) for dt, i, j, shape in self.slots]


def refusal(prog: Program) -> str | None:
    """Why ``prog`` cannot be captured as CUDA graphs, or ``None`` when it can.

    A graph replays device work only. Guards (a branch or ``item()`` on a tensor) are checked on
    the host between graphs (see :func:`segments`); a program returning a Python number computed
    on the device would have to read it inside the last graph, and cannot be captured.

    Parameters
    ----------
    prog : Program
        A compiled recording (one of ``Optimized.programs``' entries).

    Returns
    -------
    str or None

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import grad, optimize
    >>> f = optimize(grad(lambda a, b: a * b))  # a float argument: its gradient is a Python float
    >>> _ = f(2.0, ft.Tensor([3.0]))
    >>> (prog,) = next(iter(f.programs.values()))
    >>> refusal(prog)
    'it returns a Python number computed on the device (reading it is a host synchronisation)'
    >>> g = optimize(lambda x: x * 2 if bool(x.sum() > 0) else x)
    >>> _ = g(ft.Tensor([1.0]))
    >>> refusal(next(iter(g.programs.values()))[0]) is None
    True
    """
    if prog.reads["numbers"]:
        return "it returns a Python number computed on the device (reading it is a host synchronisation)"
    return None


def _swapped(prog: Program, namespace: Any) -> dict[str, Any]:
    """A copy of ``prog``'s constants with ``namespace`` (when given) in place of its module.

    Every constant that is the module the namespace stands for (``namespace.wrapped``), or one of
    the functions it replaces (the names in ``namespace.OVERRIDES``), becomes the namespace's; the
    rest (buffers, kernels, other functions) stay the program's own, and the program is unchanged.
    """
    ns = {k: v for k, v in prog.ns.items() if k != "run"}
    if namespace is None:
        return ns
    xp = namespace.wrapped
    swap = {id(xp): namespace}
    for name in namespace.OVERRIDES:
        swap[id(getattr(xp, name))] = getattr(namespace, name)
    return {k: swap.get(id(v), v) for k, v in ns.items()}


Part = tuple[Callable[[list[Any], dict[str, Any]], Any], Callable[[dict[str, Any]], None] | None]


def segments(prog: Program, namespace: Any = None) -> list[Part]:
    """``prog``'s ``run`` cut at its guards: the device work between them, and each guard's check.

    A graph cannot hold a guard (it reads a value on the host), but the work between two guards is
    a graph of its own: a captured program with guards is one graph per segment, launched in turn,
    with each guard checked on the host after the segment that computes its value. Each part is
    ``(segment, guard)``: ``segment(leaves, env)`` runs the statements up to the next guard (the
    last one returns the program's result), taking the values earlier segments made from ``env``
    and leaving there those that later parts read; ``guard(env)`` raises ``RetraceSignal`` when the
    value differs from the recorded one (``None`` after the last segment). A program without
    guards is one part: its ``run``, as a segment.

    Parameters
    ----------
    prog : Program
        A compiled program.
    namespace : object, optional
        A backend's capture namespace (``capture_namespace()``) to compile the parts with: a
        stand-in for the array module the program calls (``namespace.wrapped``), replacing the
        functions its library refuses to run while a stream is captured (cupy's cuBLAS calls;
        the names in ``namespace.OVERRIDES``).

    Returns
    -------
    list of (callable, callable or None)

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import optimize
    >>> f = optimize(lambda x: (x * 2).exp() if bool(x.sum() > 0) else x)
    >>> _ = f(ft.Tensor([1.0]))
    >>> (prog,) = next(iter(f.programs.values()))
    >>> (first, guard), (last, end) = segments(prog)
    >>> env = {}
    >>> first([ft.Tensor([0.5])], env)       # x and x.sum() > 0, kept for the later parts
    >>> sorted(env)
    ['v0', 'v2']
    >>> guard(env)                           # the same branch: it passes
    >>> last([ft.Tensor([0.5])], env).tolist(), end
    ([2.718281828459045], None)
    """
    ns = _swapped(prog, namespace)
    (run,) = ast.parse(prog.source).body
    assert isinstance(run, ast.FunctionDef)
    pieces: list[list[ast.stmt]] = [[]]
    guards: list[ast.stmt] = []
    for st in run.body:
        if isinstance(st, ast.If):  # the only `if` a program has: a guard
            guards.append(st)
            pieces.append([])
        else:
            pieces[-1].append(st)
    # Each piece takes from the env what it reads before writing it, and leaves there what it
    # writes that a later piece or guard reads.
    reads = [_read_first(piece) for piece in pieces]
    writes = [set().union(*(_names(st, ast.Store) for st in piece)) for piece in pieces]
    guard_reads = [_names(g, ast.Load) for g in guards]
    parts: list[Part] = []
    for i, piece in enumerate(pieces):
        later = set().union(*reads[i + 1 :], *guard_reads[i:])
        body = []
        for st in piece:
            if isinstance(st, ast.Delete):  # a value an earlier piece made stays in the env: not freed here
                kept: list[ast.expr] = [
                    t for t in st.targets if isinstance(t, ast.Name) and t.id in writes[i] | reads[i]
                ]
                if not kept:
                    continue
                st = ast.Delete(targets=kept)
            body.append(ast.unparse(st))
        segment = _compiled(ns, f"_segment{i}", "L", reads[i], body, sorted(writes[i] & later))
        segment.idle = all(_idle(st) for st in piece)  # no device work: no graph to capture
        guard = None
        if i < len(guards):
            guard = _compiled(ns, f"_guard{i}", "", guard_reads[i], [ast.unparse(guards[i])], [])
        parts.append((segment, guard))
    return parts


def _read_first(piece: list[ast.stmt]) -> set[str]:
    """The values ``piece`` reads before it writes them: those an earlier piece made."""
    found: set[str] = set()
    written: set[str] = set()
    for st in piece:
        found |= _names(st, ast.Load) - written
        written |= _names(st, ast.Store)
    return found


def _compiled(ns: dict[str, Any], name: str, params: str, loads: set[str], body: list[str], stores: list[str]) -> Any:
    """The function ``name(params..., _E)``: ``loads`` taken from the env ``_E``, then ``body``,
    then ``stores`` put into ``_E``; compiled in ``ns``, with its ``source`` kept (readable, as a
    program's). The names start with ``_``, which no program constant does."""
    lines = [f"def {name}({params + ', ' if params else ''}_E):"]
    lines += [f"    {v} = _E[{v!r}]" for v in sorted(loads)]
    lines += [f"    {line}" for text in body for line in text.splitlines()]
    lines += [f"    _E[{v!r}] = {v}" for v in stores]
    if len(lines) == 1:
        lines.append("    pass")
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<flambeau program segment, for a CUDA graph>", "exec"), ns)
    fn = ns[name]
    fn.source = source
    return fn


def _idle(st: ast.stmt) -> bool:
    """Whether a program statement does no device work: ``del v1``, ``v1 = L[0]._a`` or
    ``v2 = v1.reshape((5, 1))`` (a program's reshapes are views)."""
    if isinstance(st, ast.Delete):
        return True
    value = st.value if isinstance(st, ast.Assign) else None
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "reshape":
        return isinstance(value.func.value, ast.Name)
    return (
        isinstance(value, ast.Attribute)
        and value.attr == "_a"
        and isinstance(value.value, ast.Subscript)
        and isinstance(value.value.value, ast.Name)
        and value.value.value.id == "L"
    )


def _names(node: ast.AST, ctx: type) -> set[str]:
    """The program values (``v<n>``) ``node`` reads, writes or deletes (``ctx``)."""
    return {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx) and _VALUE.fullmatch(n.id)
    }


def is_cuda(leaves: list[Any], device: Any) -> bool:
    """Whether a call runs on a cuda device through cupy: its tensors' device, else ``device``.

    >>> import flambeau.tensor as ft
    >>> is_cuda([ft.zeros(2)], ft.device("cpu"))
    False
    """
    dev = leaves[0]._d if leaves else device
    return getattr(dev, "type", None) == "cuda" and getattr(dev.xp, "__name__", "") == "cupy"


_RELAXED = 2  # CU_STREAM_CAPTURE_MODE_RELAXED
_GC_LOCK = threading.Lock()
_gc_state = {"captures": 0, "was_enabled": False}  # captures running (in any thread), gc's state before


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's garbage collector off while any thread captures (it is process-wide): a collection
    freeing another graph's memory would call ``cudaFree`` inside the capture and break it."""
    with _GC_LOCK:
        if _gc_state["captures"] == 0:
            _gc_state["was_enabled"] = gc.isenabled()
            gc.collect()
            gc.disable()
        _gc_state["captures"] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_state["captures"] -= 1
            if _gc_state["captures"] == 0 and _gc_state["was_enabled"]:
                gc.enable()


def _driver_exchange(lib: Any = None) -> Callable[[int], int] | None:
    """The CUDA driver's ``cuThreadExchangeStreamCaptureMode`` (of ``lib``, by default the driver
    library): ``exchange(mode)`` sets this thread's capture mode and returns the one it had;
    ``None`` where no driver library loads."""
    import ctypes

    try:
        fn = (lib or ctypes.CDLL("libcuda.so.1")).cuThreadExchangeStreamCaptureMode
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.POINTER(ctypes.c_int)]
    fn.restype = ctypes.c_int

    def exchange(mode: int) -> int:
        m = ctypes.c_int(mode)
        status = fn(ctypes.byref(m))
        if status != 0:
            raise GraphCaptureError(
                f"cuThreadExchangeStreamCaptureMode({mode}) failed with CUDA driver status {status}"
            )
        return m.value

    return exchange


class PoolAllocator:
    """A graph's private memory pool as cupy's allocator, legal while a capture runs.

    A capture in thread-local mode forbids ``cudaMalloc`` in its thread. The warm-up fills the
    pool, but its free blocks need not fit the capture's requests exactly (the pool splits blocks
    as it finds them): while :attr:`capturing`, each allocation switches the thread to relaxed
    capture mode around the pool's ``malloc`` and back (``exchange``, the driver's
    ``cuThreadExchangeStreamCaptureMode``), as PyTorch's allocator does. A block allocated so is
    the pool's, and lives as long as the graph.

    >>> calls = []
    >>> pool = type("Pool", (), {"malloc": lambda self, n: calls.append(("malloc", n)) or n})()
    >>> alloc = PoolAllocator(pool, lambda mode: calls.append(("mode", mode)) or 1)
    >>> alloc.malloc(512), calls
    (512, [('malloc', 512)])
    >>> alloc.capturing = True
    >>> _ = alloc.malloc(256)
    >>> calls[1:]
    [('mode', 2), ('malloc', 256), ('mode', 1)]
    """

    def __init__(self, pool: Any, exchange: Callable[[int], int] | None):
        self.pool = pool
        self.exchange = exchange
        self.capturing = False

    def malloc(self, nbytes: int) -> Any:
        if not self.capturing or self.exchange is None:
            return self.pool.malloc(nbytes)
        old = self.exchange(_RELAXED)
        try:
            return self.pool.malloc(nbytes)
        finally:
            self.exchange(old)


class CapturedGraph:
    """One program captured as a CUDA graph, with the static buffers it reads and writes.

    Built on a cuda device only (it needs cupy); see the module's description for the steps.

    Parameters
    ----------
    prog : Program
        The signature's compiled program (one :func:`refusal` accepts); a graph per segment.
    leaves : list of Tensor
        The call's input tensors, in the signature's order.
    copied : set of int
        The inputs to copy into static arrays at each replay; the others are read in place.
    stable : bool
        Return the graph's own output arrays rather than fresh copies.
    writeback : callable, optional
        ``writeback(result) -> (returned, [(tensor, input index), ...])``: after the program, the
        graph writes each such result into that input's memory, in place, and a replay returns
        ``Written(returned)`` (how ``train_step`` updates the parameters inside the graph).
    """

    def __init__(
        self,
        prog: Program,
        leaves: list[Any],
        copied: set[int] | frozenset[int],
        stable: bool = False,
        writeback: Callable[[Any], tuple[Any, list[tuple[Any, int]]]] | None = None,
    ):
        import cupy

        self.prog = prog
        self.copied = frozenset(copied)
        self.stable = stable
        self.lock = threading.Lock()
        self.launches = 0
        xp = cupy
        self._xp = xp
        # Inputs: the caller's arrays themselves, or static copies with the same layout.
        self.arrays: list[Any] = []
        for i, t in enumerate(leaves):
            a = t._a
            if i in self.copied:
                s = xp.empty_like(a)
                if s.strides != a.strides:  # the program was compiled for the caller's layout
                    raise GraphCaptureError(
                        f"input {i} (size {a.shape}, strides {a.strides}) changes tensor from call to call and"
                        " has a layout a static copy cannot reproduce; pass a contiguous tensor"
                    )
                xp.copyto(s, a)
                a = s
            self.arrays.append(a)
        self.static = [_wrap(a, t._d) for a, t in zip(self.arrays, leaves, strict=True)]
        self._input_pos = {id(s): i for i, s in enumerate(self.static)}
        # The program as the capture runs it: with the backend's capture namespace (cupy's, whose
        # GEMMs call cuBLAS directly: cupy's own cuBLAS calls raise during a capture), cut at its
        # guards into segments, one graph each.
        make = getattr(leaves[0]._d.backend if leaves else None, "capture_namespace", None)
        try:
            self.parts = segments(prog, None if make is None else make())
        except Exception as e:
            raise GraphCaptureError(f"its capture namespace could not be made ({type(e).__name__}: {e})") from e
        self.env: dict[str, Any] = {}  # the values segments hand on to later parts
        self.pool = cupy.cuda.MemoryPool()
        self.stream = cupy.cuda.Stream(non_blocking=True)
        current = cupy.cuda.get_current_stream()
        self.stream.wait_event(current.record())  # the static inputs were filled on the current stream
        alloc = PoolAllocator(self.pool, _driver_exchange())
        with cupy.cuda.using_allocator(alloc.malloc), self.stream, prog.checks():
            grown = -1
            for _ in range(WARMUPS):
                probe = None  # each run starts with every block free, as the capture will
                try:
                    probe = self._run_parts({})
                except RetraceSignal as e:  # the same inputs as the call that ran it: should not happen
                    raise GraphCaptureError(
                        "its warm-up took another branch than the program on the same inputs"
                    ) from e
                except Exception as e:
                    raise GraphCaptureError(f"its warm-up run failed ({type(e).__name__}: {e})") from e
                if self.pool.total_bytes() == grown:
                    break
                grown = self.pool.total_bytes()
            probe = writeback(probe)[0] if writeback is not None else probe
            # The block the graph copies its results into, shaped by the warm-up's results.
            self.packed = None if stable else Packed(xp, [t._a for t in self._copied_results(probe)])
            del probe
            self.stream.synchronize()  # the warm-up done: nothing pending on the stream captured from
            # Thread-local mode: a call that is unsafe while capturing (a synchronising copy to the
            # host) raises in this thread, instead of running outside the graph and leaving it
            # wrong. The warm-up filled the pool; should the capture still need a new block, the
            # allocator asks for it in relaxed mode (a cudaMalloc while capturing is legal there,
            # and the block lives with the graph). A garbage collection while capturing could free
            # another graph's memory (a cudaFree, which breaks the capture): it waits until the end.
            # Segments are captured one after the other: capturing runs nothing, so no guard is checked.
            self.graphs: list[Any] = []
            alloc.capturing = True
            try:
                with _gc_paused():
                    for i, (segment, _) in enumerate(self.parts):
                        if getattr(segment, "idle", False) and i < len(self.parts) - 1:  # reads static inputs only
                            segment(self.static, self.env)
                            self.graphs.append(None)
                            continue
                        out, written = self._capture(i, segment, writeback, cupy)
            finally:
                alloc.capturing = False
        current.wait_event(self.stream.record())  # launches on the current stream follow the warm-up
        self.out = out
        self.wrote = writeback is not None
        # Inputs written in place that live in static copies: copied back to the caller's after a launch.
        self._copy_back = [i for _, i in written if i in self.copied]

    def _capture(self, i: int, segment: Callable[..., Any], writeback: Any, cupy: Any) -> tuple[Any, Any]:
        """Capture segment ``i`` as a graph (appended to ``graphs``); the last one's result and writes."""
        where = f" (segment {i + 1} of {len(self.parts)}, between guards)" if len(self.parts) > 1 else ""
        out: Any = None
        written: list[tuple[Any, int]] = []
        self.stream.begin_capture(getattr(cupy.cuda.runtime, "streamCaptureModeThreadLocal", 1))
        try:
            if i < len(self.parts) - 1:
                segment(self.static, self.env)
            else:
                out, written = self._body(segment, writeback)
        except BaseException as e:
            try:
                self.stream.end_capture()  # end it: the stream must not stay capturing
            except Exception:  # an invalidated capture ends with an error: e is the cause to report
                pass
            raise GraphCaptureError(
                f"capturing it failed{where} ({type(e).__name__}: {e}); an op probably read a device value on"
                " the host: checks of values do (an index range check the recording could not make a guard,"
                " pow's of a tensor exponent's sign, a solver's of a singular matrix; inside"
                " `with flambeau.tensor.optable.trusted_values():` they are skipped)"
            ) from e
        try:
            self.graphs.append(self.stream.end_capture())
        except Exception as e:
            raise GraphCaptureError(f"ending its capture failed{where} ({type(e).__name__}: {e})") from e
        return out, written

    def _run_parts(self, env: dict[str, Any]) -> Any:
        """Every segment and guard in turn, on the static inputs (the warm-up): the program's result."""
        for segment, guard in self.parts:
            res = segment(self.static, env)
            if guard is not None:
                guard(env)
        return res

    def _body(self, segment: Callable[..., Any], writeback: Any) -> tuple[Any, list[tuple[Any, int]]]:
        """What the last graph holds: the last segment, its in-place updates, its results' copies."""
        out, written = segment(self.static, self.env), []
        if writeback is not None:
            out, written = writeback(out)
            for t, i in written:
                self._xp.copyto(self.arrays[i], t._a)
        if self.packed is not None:
            self.packed.fill(self._xp, [t._a for t in self._copied_results(out)])
        return out, written

    def fits(self, leaves: list[Any]) -> bool:
        """Whether every input read in place is the same array as at capture."""
        arrays = self.arrays
        copied = self.copied
        for i, t in enumerate(leaves):
            if t._a is not arrays[i] and i not in copied:
                return False
        return True

    def moved(self, leaves: list[Any]) -> set[int]:
        """The inputs read in place whose tensor is not the captured one (to copy from now on)."""
        return {i for i, t in enumerate(leaves) if t._a is not self.arrays[i] and i not in self.copied}

    def replay(self, leaves: list[Any]) -> Any:
        """Launch the graphs on ``leaves`` (which :meth:`fits`) and return the results.

        Raises ``RetraceSignal`` when a guard finds that ``leaves`` take another branch than the
        captured program (no result is copied out, no input written back).
        """
        copyto = self._xp.copyto
        with self.lock:
            for i in self.copied:
                copyto(self.arrays[i], leaves[i]._a)
            for graph, (_, guard) in zip(self.graphs, self.parts, strict=True):
                if graph is not None:
                    graph.launch()  # the current stream: after whatever made the inputs
                if guard is not None:
                    guard(self.env)  # waits for the segment; RetraceSignal: these inputs take another path
            for i in self._copy_back:
                copyto(leaves[i]._a, self.arrays[i])
            self.launches += 1
            fresh = iter(self.packed.fresh() if self.packed is not None else ())
            res = tree_map(lambda v: self._result(v, leaves, fresh), self.out)
        return Written(res) if self.wrote else res

    def _copied_results(self, out: Any) -> list[Any]:
        """The tensors of a result a replay returns copies of (in ``tree_map``'s order)."""
        found: list[Any] = []
        tree_map(lambda v: found.append(v) if _is_tensor(v) and id(v) not in self._input_pos else v, out)
        return found

    def _result(self, v: Any, leaves: list[Any], fresh: Any) -> Any:
        if not _is_tensor(v):
            return v
        i = self._input_pos.get(id(v))
        if i is not None:
            return leaves[i]  # an argument returned as it is: the caller's own tensor
        return _wrap(v._a if self.stable else next(fresh), v._d)


def _is_tensor(v: Any) -> bool:
    return hasattr(v, "_a") and hasattr(v, "_d")
