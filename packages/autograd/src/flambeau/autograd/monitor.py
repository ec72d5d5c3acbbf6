"""The tracer's one hook, shared by anomaly detection and profiling.

``tracer.monitor`` is ``None`` while neither :func:`~flambeau.autograd.detect_anomaly` nor
:func:`~flambeau.autograd.profile` is in force, so the tracer pays one ``is None`` test per traced
op and per backward node. While one is, it holds the :class:`Monitor` here, which the tracer
calls at two points:

- ``forward(trace, key, call, *args)`` runs a traced op's (or primitive's, or checkpointed
  segment's) forward ``call(*args)``: timed for the profiles, its result checked for NaN/Inf and
  the user's line it was called from remembered for anomaly detection;
- ``rules(node)`` gives :func:`~flambeau.autograd.tracer.backward` the node's parents with each
  rule wrapped (timed, its gradient checked).

The user's line is the first stack frame outside flambeau's packages and generated code, found
by walking ``sys._getframe`` (with a per-code-object cache), not with ``inspect.stack``.
"""

from __future__ import annotations

import cmath
import linecache
import os
import sys
from collections.abc import Callable
from time import perf_counter_ns
from types import CodeType, FrameType
from typing import Any

import numpy as np

import flambeau
from flambeau.tensor import Tensor

from . import tracer
from .errors import AnomalyError

Site = tuple[str, int]  # (file name, line number) of the user's call that made a node

FORWARD, BACKWARD = 0, 1

# --------------------------------------------------------------------------------------------
# Where the user called from.

_ROOTS = tuple(os.path.join(p, "") for p in flambeau.__path__) + tuple(
    os.path.join(os.path.realpath(p), "") for p in flambeau.__path__
)
_inside: dict[CodeType, bool] = {}


def _is_internal(code: CodeType, frame: FrameType) -> bool:
    name = code.co_filename
    if name.startswith(_ROOTS) or name.startswith("<flambeau"):
        return True
    # code flambeau made with exec() into a bare namespace (the tracer's forward callers)
    return name == "<string>" and "__name__" not in frame.f_globals


def user_site(depth: int = 2) -> Site | None:
    """The file and line of the innermost caller outside flambeau (``depth`` frames up to start).

    >>> def op():  # stands for flambeau code: here the caller is the first frame outside
    ...     return user_site(1)
    >>> op()[1]
    2
    """
    f: FrameType | None = sys._getframe(depth)
    while f is not None:
        code = f.f_code
        inside = _inside.get(code)
        if inside is None:
            if len(_inside) > 50_000:  # code objects of throw-away exec/doctest snippets
                _inside.clear()
            inside = _inside[code] = _is_internal(code, f)
        if not inside:
            return code.co_filename, f.f_lineno
        f = f.f_back
    return None


def site_text(site: Site | None) -> str:
    """``file:line: source text`` of a site (the source text when linecache finds it).

    >>> import flambeau.autograd.monitor as m
    >>> n = open(m.__file__).read().splitlines().index("FORWARD, BACKWARD = 0, 1") + 1
    >>> site_text((m.__file__, n)).endswith(f"monitor.py:{n}: FORWARD, BACKWARD = 0, 1")
    True
    >>> site_text(("x.py", 3))  # a file it cannot read: no source text
    'x.py:3'
    >>> site_text(None)
    'an unknown place (no caller outside flambeau)'
    """
    if site is None:
        return "an unknown place (no caller outside flambeau)"
    file, line = site
    src = linecache.getline(file, line).strip()
    return f"{file}:{line}: {src}" if src else f"{file}:{line}"


# --------------------------------------------------------------------------------------------
# NaN / Inf checks.


def nonfinite(x: Any) -> str | None:
    """None when ``x`` (a tensor, number, or tuple/list of them) is finite; else what is wrong with it.

    >>> import flambeau.tensor as ft
    >>> nonfinite(ft.Tensor([1.0, float("nan"), float("inf")])), nonfinite(ft.ones(2))
    ('1 NaN and 1 infinite of 3 elements', None)
    >>> nonfinite((ft.ones(1), float("-inf")))
    'output 1: infinite'
    """
    if isinstance(x, Tensor):
        a = x._a
        if a.dtype.kind not in "fc":
            return None
        xp = x._d.xp
        if bool(xp.isfinite(a).all()):
            return None
        nan, inf = int(xp.isnan(a).sum()), int(xp.isinf(a).sum())
        parts = [f"{nan} NaN" if nan else "", f"{inf} infinite" if inf else ""]
        return f"{' and '.join(p for p in parts if p)} of {a.size} element{'s' if a.size != 1 else ''}"
    if isinstance(x, (float, complex, np.floating, np.complexfloating)):
        if cmath.isfinite(complex(x)):
            return None
        return "NaN" if cmath.isnan(complex(x)) else "infinite"
    if isinstance(x, (tuple, list)):
        for i, v in enumerate(x):
            bad = nonfinite(v)
            if bad is not None:
                return f"output {i}: {bad}"
    return None


def key_name(key: Any) -> str:
    """The name an op, primitive or checkpointed segment is reported under.

    >>> from flambeau.tensor.optable import OPS
    >>> key_name(OPS["tanh"])
    'tanh'
    """
    return str(getattr(key, "name", None) or key)


def arg_name(key: Any, i: int, j: int | None) -> str:
    """``argument i ('name')``, with ``[j]`` for an element of a sequence argument.

    >>> from flambeau.tensor.optable import OPS
    >>> arg_name(OPS["atan2"], 1, None), arg_name(OPS["cat"], 0, 2)
    ("argument 1 ('other')", "argument 0 ('tensors'[2])")
    """
    params = getattr(key, "params", None)  # an op of the table; a primitive or a segment has names
    names = tuple(p.name for p in params) if params is not None else getattr(key, "names", ())
    name = names[i] if i < len(names) else f"#{i}"
    return f"argument {i} ({name!r})" if j is None else f"argument {i} ({name!r}[{j}])"


def _inputs_text(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    if nonfinite([*args, *kwargs.values()]) is not None:  # (an op's forward gets its values as one list)
        return (
            "; an input already held non-finite values that no traced op made (a differentiated input or a"
            " constant), so the problem is upstream of this call"
        )
    return "; its inputs were finite"


# --------------------------------------------------------------------------------------------
# The monitor.


class Monitor:
    """What ``tracer.monitor`` holds while anomaly detection or profiling is on (one, shared).

    >>> from flambeau.autograd import profile, tracer
    >>> tracer.monitor is None
    True
    >>> with profile():
    ...     tracer.monitor is MONITOR
    True
    """

    __slots__ = ("anomaly", "profiles", "sites", "stack")

    def __init__(self) -> None:
        self.anomaly: list[Any] = []  # detect_anomaly modes in force, innermost last
        self.profiles: list[Any] = []  # profiles in force; each gets every timing
        # trace id -> (trace, id(forward result) -> site): where each recorded node was made
        self.sites: dict[int, tuple[Any, dict[int, Site | None]]] = {}
        self.stack: list[int] = [0]  # time spent in nested timed calls, one entry per open call

    # -- switching on and off --------------------------------------------------------------------
    def add(self, kind: str, who: Any) -> None:
        getattr(self, kind).append(who)
        tracer.monitor = self

    def remove(self, kind: str, who: Any) -> None:
        held = getattr(self, kind)
        if who in held:
            held.remove(who)
        if not self.anomaly:
            self.sites = {}
        if not self.anomaly and not self.profiles:
            tracer.monitor = None
            self.stack = [0]

    # -- the tracer's calls ------------------------------------------------------------------------
    def forward(self, trace: Any, key: Any, call: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run a traced forward ``call(*args, **kwargs)`` (timed, checked); its result."""
        anomaly = self.anomaly
        site = user_site() if anomaly else None
        if self.profiles:
            ans = self.timed(key_name(key), FORWARD, call, args, kwargs)
        else:
            ans = call(*args, **kwargs)
        if anomaly:
            self._site_map(trace)[id(ans)] = site
            if anomaly[-1].forward:
                bad = nonfinite(ans)
                if bad is not None:
                    raise AnomalyError(
                        f"{key_name(key)} returned non-finite values ({bad}) in the forward pass, called at"
                        f" {site_text(site)}{_inputs_text(args, kwargs)}"
                    )
        return ans

    def rules(self, node: Any) -> list[tuple[Any, Any, int, int | None]]:
        """``node.parents`` with every rule wrapped to be timed and to have its gradient checked."""
        key = node.key
        name = key_name(key)
        site = self.site_of(node) if self.anomaly else None
        seqs: dict[int, list[int]] = {}  # sequence argument -> the traced positions in it
        for _, _, i, j in node.parents:
            if j is not None:
                seqs.setdefault(i, []).append(j)
        return [
            (parent, self._rule(key, name, site, vjp, i, j, seqs.get(i)), i, j) for parent, vjp, i, j in node.parents
        ]

    # -- helpers ---------------------------------------------------------------------------------
    def timed(self, name: str, slot: int, call: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        """``call(*args, **kwargs)``, its own time (less nested timed calls) added to every profile."""
        stack = self.stack
        stack.append(0)
        t0 = perf_counter_ns()
        try:
            return call(*args, **kwargs)
        finally:
            dt = perf_counter_ns() - t0
            own = dt - stack.pop()
            if stack:
                stack[-1] += dt
            for p in self.profiles:
                p._add(name, slot, own)

    def _rule(
        self, key: Any, name: str, site: Site | None, vjp: Any, i: int, j: int | None, js: list[int] | None
    ) -> Callable[..., Any]:
        def rule(g: Any, ans: Any, *args: Any) -> Any:
            if self.profiles:
                gi = self.timed(name, BACKWARD, vjp, (g, ans, *args), {})
            else:
                gi = vjp(g, ans, *args)
            if self.anomaly and gi is not None:
                for jj, v in ((j, gi),) if js is None else ((jj, gi[jj]) for jj in js):
                    bad = nonfinite(v)
                    if bad is not None:
                        came = nonfinite(g)
                        raise AnomalyError(
                            f"the gradient rule of {name} for {arg_name(key, i, jj)} returned non-finite values"
                            f" ({bad}) in the backward pass; that {name} was called at {site_text(site)}"
                            + (
                                f"; the gradient flowing into it was already non-finite ({came})"
                                if came is not None
                                else "; the gradient flowing into it was finite"
                            )
                        )
            return gi

        return rule

    def _site_map(self, trace: Any) -> dict[int, Site | None]:
        entry = self.sites.get(trace.id)
        if entry is None:  # a new trace: forget the finished ones
            sites = self.sites
            for tid, (t, _) in list(sites.items()):
                if not t.active and not t.tape:  # its backward pass is over
                    del sites[tid]
            stale = [tid for tid, (t, _) in sites.items() if not t.active]
            for tid in stale[: max(0, len(stale) - 8)]:  # left by an error: keep a few, not their tapes
                del sites[tid]
            entry = sites[trace.id] = (trace, {})
        return entry[1]

    def site_of(self, node: Any) -> Site | None:
        """Where ``node`` was made in the forward pass (None if not recorded under detect_anomaly)."""
        entry = self.sites.get(node.tid)
        return entry[1].get(id(node.value)) if entry is not None else None


MONITOR = Monitor()
