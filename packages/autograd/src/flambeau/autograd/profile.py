"""A profiler of differentiation: calls and time per op, forward pass and gradient rules.

Under ``with profile() as prof:`` the tracer times every traced forward call and every gradient
rule call (``time.perf_counter_ns``) and adds it to ``prof``, per op name. Times are *own* times:
a traced op that runs inside another timed call (higher order, a primitive's body, a checkpointed
segment's recomputation) counts for itself and not again for the caller, so the rows add up to
the total. Off, it costs the tracer one ``is None`` test per op and per backward node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .monitor import FORWARD, MONITOR


@dataclass
class OpStats:
    """Calls and own time (nanoseconds) of one op: traced forward calls and gradient rule calls.

    >>> s = OpStats("tanh", forward_calls=3, forward_ns=3000, backward_calls=3, backward_ns=1500)
    >>> s.calls, s.total_ns
    (6, 4500)
    """

    op: str
    forward_calls: int = 0
    forward_ns: int = 0
    backward_calls: int = 0
    backward_ns: int = 0

    @property
    def calls(self) -> int:
        """Forward calls plus rule calls."""
        return self.forward_calls + self.backward_calls

    @property
    def total_ns(self) -> int:
        """Forward time plus backward time."""
        return self.forward_ns + self.backward_ns


class Profile:
    """The context manager :func:`profile` returns; it collects the timings (see there).

    ``stats`` maps each op name to its :class:`OpStats`; :meth:`rows` lists them by total time;
    ``str(prof)`` is the table. A profile collects while its ``with`` block runs, and may be
    entered again to collect more.

    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import grad, profile
    >>> with profile() as prof:
    ...     _ = grad(lambda x: (x * x).sum())(ft.ones(3))
    >>> sorted((r.op, r.forward_calls, r.backward_calls) for r in prof.rows())
    [('mul', 1, 2), ('sum', 1, 1)]
    >>> prof.total_ns == sum(r.total_ns for r in prof.rows())
    True
    """

    def __init__(self) -> None:
        self.stats: dict[str, OpStats] = {}

    def __enter__(self) -> Profile:
        MONITOR.add("profiles", self)
        return self

    def __exit__(self, *exc: Any) -> None:
        MONITOR.remove("profiles", self)

    def _add(self, name: str, slot: int, ns: int) -> None:
        s = self.stats.get(name)
        if s is None:
            s = self.stats[name] = OpStats(name)
        if slot == FORWARD:
            s.forward_calls += 1
            s.forward_ns += ns
        else:
            s.backward_calls += 1
            s.backward_ns += ns

    def rows(self) -> list[OpStats]:
        """Every op's :class:`OpStats`, the most time first (ties by name)."""
        return sorted(self.stats.values(), key=lambda s: (-s.total_ns, s.op))

    @property
    def total_ns(self) -> int:
        """The time of every timed call, in nanoseconds."""
        return sum(s.total_ns for s in self.stats.values())

    def table(self) -> str:
        """The profile as a text table: op, calls, forward ms, rule calls, backward ms, total ms, % of total."""
        head = ("op", "calls", "forward ms", "rule calls", "backward ms", "total ms", "% of total")
        total = self.total_ns
        body = [
            (
                s.op,
                str(s.forward_calls),
                f"{s.forward_ns / 1e6:.3f}",
                str(s.backward_calls),
                f"{s.backward_ns / 1e6:.3f}",
                f"{s.total_ns / 1e6:.3f}",
                f"{100 * s.total_ns / total:.1f}" if total else "0.0",
            )
            for s in self.rows()
        ]
        body.append(
            (
                "total",
                str(sum(s.forward_calls for s in self.stats.values())),
                f"{sum(s.forward_ns for s in self.stats.values()) / 1e6:.3f}",
                str(sum(s.backward_calls for s in self.stats.values())),
                f"{sum(s.backward_ns for s in self.stats.values()) / 1e6:.3f}",
                f"{total / 1e6:.3f}",
                "100.0" if total else "0.0",
            )
        )
        widths = [max(len(r[k]) for r in [head, *body]) for k in range(len(head))]
        lines = [
            "  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths, strict=True)))
            for r in [head, *body]
        ]
        lines.insert(1, "-" * len(lines[0]))
        lines.insert(len(lines) - 1, "-" * len(lines[0]))
        return "\n".join(lines)

    __str__ = table

    def __repr__(self) -> str:
        return f"<Profile of {len(self.stats)} ops, {self.total_ns / 1e6:.3f} ms>"


def profile() -> Profile:
    """Count and time, per op, the traced forward calls and the gradient rule calls.

    ``with profile() as prof: ...`` around ``grad`` calls (or anything that traces), then
    ``print(prof)`` for a table sorted by total time (op, calls, forward ms, rule calls,
    backward ms, total ms, % of total), or read ``prof.stats`` (op name -> :class:`OpStats`) and
    ``prof.rows()``. Times are each call's own time (``time.perf_counter_ns``): time spent in
    traced ops nested inside a call (higher order, a checkpointed segment's recomputation) is
    counted for those ops only, so the rows sum to the total. Ops that run on untraced values,
    and the tracer's bookkeeping, are not timed.

    Returns
    -------
    Profile
        The context manager; it collects while its block runs.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import grad, profile
    >>> def f(x):
    ...     for _ in range(3):
    ...         x = ft.tanh(x)
    ...     return x.sum()
    >>> with profile() as prof:
    ...     dx, y = grad(f)(ft.ones(4))
    >>> t = prof.stats["tanh"]
    >>> t.forward_calls, t.backward_calls, t.total_ns >= 0
    (3, 3, True)
    >>> print(prof)  # doctest: +ELLIPSIS
    op     calls  forward ms  rule calls  backward ms  total ms  % of total
    ----...
    """
    return Profile()
