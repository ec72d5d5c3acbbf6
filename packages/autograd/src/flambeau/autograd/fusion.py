"""Fused kernels for optimized programs: chains of element-wise ops become one kernel each.

A program's instructions (after dead-code removal) are searched for *fusion groups*. A group is a
tree of element-wise instructions ending in a *root*: an instruction whose value is read after the
group (by a non-element-wise op, by two different chains, by a guard) or is returned. An
instruction joins the group of its reader when its value is read by that group alone, is not
returned and is not a view; so every value inside a group is computed once, in registers, and
only the root's value is written to memory (a value read later *ends* its own group rather than
becoming a second output). A group may be closed by a ``sum`` or ``mean`` (over all dims or some)
of a value only that reduction reads: the whole group is then one reduction kernel.

What fuses: the ops whose ``Op.ufunc`` is in :data:`UFUNCS` (arithmetic, unary maths,
``maximum``/``minimum``, comparisons, logical ops), the table ops ``pow``, ``square``, ``rsqrt``,
``cinv``, ``sigmoid``, ``where``, ``clamp``, ``logical_not`` (:data:`TABLE_OPS`), casts to a float
type (``Tensor._converted``, the ``.float()`` of a comparison's mask), and ``sum``/``mean`` closing
a group. Values of dtype bool, (u)int8 to 64, float32 and float64 only. A group of one
instruction is left alone (nothing to gain). Not fused: anything else (matmul, indexing, views,
reshapes, random draws, ``add`` with ``alpha``), float16 and complex values, non-finite literals.

Each group becomes a :class:`Kernel`: a list of :class:`Node` (one per instruction), from which
both the CUDA source (a ``cupy.ElementwiseKernel`` body of typed temporaries, or a
``cupy.ReductionKernel`` whose map expression calls a ``__device__`` function of the same
statements) and a numpy evaluator are made. The evaluator follows the C code's arithmetic step by
step (operands converted to the node's type, typed literals), so the CPU tests check the fusion
groups, the wiring and the dtype rules that the CUDA source relies on. Types are explicit per
parameter (a program is made per signature, so every dtype is known): a float32 chain stays
float32 (literals get the ``f`` suffix), and comparisons give ``bool`` values (a ``uint8`` output,
as flambeau's masks are). CUDA kernels are built on the first call on the GPU and cached by their
full source in :data:`_CUDA_KERNELS`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flambeau.tensor import Tensor, optable

from .capture import Capture, Ins

# --------------------------------------------------------------------------------------------
# What fuses, and its C.

_C_TYPES = {
    "bool": "bool",
    "int8": "signed char",
    "int16": "short",
    "int32": "int",
    "int64": "long long",
    "uint8": "unsigned char",
    "uint16": "unsigned short",
    "uint32": "unsigned int",
    "uint64": "unsigned long long",
    "float32": "float",
    "float64": "double",
}
_BOOL = np.dtype(bool)

# Device helpers for what C has no operator for; numpy's semantics (NaN propagates through
# maximum/minimum and a clip's bounds; a clip keeps a value equal to its bound, so -0.0 clipped
# below at 0.0 stays -0.0; sign of NaN is NaN; the stable sigmoid of flambeau's ``sigmoid``).
PREAMBLE = """\
template <typename T> __device__ T flb_max(T a, T b) { return (a != a || a > b) ? a : b; }
template <typename T> __device__ T flb_min(T a, T b) { return (a != a || a < b) ? a : b; }
template <typename T> __device__ T flb_clip_lo(T a, T lo) { return (lo != lo || a < lo) ? lo : a; }
template <typename T> __device__ T flb_clip_hi(T a, T hi) { return (hi != hi || a > hi) ? hi : a; }
template <typename T> __device__ T flb_sign(T a) { return a > T(0) ? T(1) : (a < T(0) ? T(-1) : (a == T(0) ? T(0) : a)); }
__device__ float flb_sigmoid(float a) { float e = expf(-fabsf(a)); float r = 1.0f / (1.0f + e); return a >= 0.0f ? r : e * r; }
__device__ double flb_sigmoid(double a) { double e = exp(-fabs(a)); double r = 1.0 / (1.0 + e); return a >= 0.0 ? r : e * r; }
"""


def _math(name: str) -> Callable[[list[str], np.dtype], str]:
    """A C math function: ``expf`` for float32, ``exp`` for float64."""
    return lambda a, t: f"{name}{'f' if t == np.float32 else ''}({a[0]})"


def _infix(sym: str) -> Callable[[list[str], np.dtype], str]:
    return lambda a, t: f"{a[0]} {sym} {a[1]}"


# int32 and int64 arithmetic that overflows is undefined in C, and NVRTC's optimiser relies on
# that ((x + 1) > x folds to true): +, -, * and negation wrap through the unsigned type, as
# numpy's do. (Narrower ints are promoted to int, where their products cannot overflow.)
_WRAPPED = {"int32": "unsigned int", "int64": "unsigned long long"}


def _wrapping(sym: str) -> Callable[[list[str], np.dtype], str]:
    def c(a: list[str], t: np.dtype) -> str:
        u = _WRAPPED.get(t.name)
        if u is None:
            return _infix(sym)(a, t)
        return f"({_C_TYPES[t.name]})(({u}){a[0]} {sym} ({u}){a[1]})"

    return c


def _negative_c(a: list[str], t: np.dtype) -> str:
    u = _WRAPPED.get(t.name)
    return f"-{a[0]}" if u is None else f"({_C_TYPES[t.name]})(0 - ({u}){a[0]})"


@dataclass(frozen=True)
class Spec:
    """How one element-wise function is written in C and computed in numpy.

    ``family``: ``arith`` (operands converted to the result's type), ``float`` (the same, float
    results only), ``cmp`` (operands converted to their common type, a bool result), ``logic``
    (operands as bools, a bool result), ``where`` (a bool condition, then two arith operands).
    """

    c: Callable[[list[str], np.dtype], str]
    np_fn: Callable[..., Any]
    family: str = "arith"
    nargs: int = 1


def _abs_c(a: list[str], t: np.dtype) -> str:
    if t.kind == "f":
        return _math("fabs")(a, t)
    return a[0] if t.kind == "u" else f"({a[0]} < 0 ? {_negative_c(a, t)} : {a[0]})"


_FLOAT_FUNCS = {
    "exp": "exp",
    "expm1": "expm1",
    "log": "log",
    "log1p": "log1p",
    "log2": "log2",
    "log10": "log10",
    "sqrt": "sqrt",
    "tanh": "tanh",
    "sinh": "sinh",
    "cosh": "cosh",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
}

# ufunc name (``Op.ufunc``) -> its C and numpy forms.
UFUNCS: dict[str, Spec] = {
    **{u: Spec(_math(c), getattr(np, u), "float") for u, c in _FLOAT_FUNCS.items()},
    "add": Spec(_wrapping("+"), np.add, nargs=2),
    "subtract": Spec(_wrapping("-"), np.subtract, nargs=2),
    "multiply": Spec(_wrapping("*"), np.multiply, nargs=2),
    "true_divide": Spec(_infix("/"), np.true_divide, "float", 2),
    "negative": Spec(_negative_c, np.negative),
    "abs": Spec(_abs_c, np.abs),
    "sign": Spec(lambda a, t: f"flb_sign({a[0]})", np.sign),
    "maximum": Spec(lambda a, t: f"flb_max({a[0]}, {a[1]})", np.maximum, nargs=2),
    "minimum": Spec(lambda a, t: f"flb_min({a[0]}, {a[1]})", np.minimum, nargs=2),
    "square": Spec(lambda a, t: _wrapping("*")([a[0], a[0]], t), np.square),
    "reciprocal": Spec(lambda a, t: f"{_literal(1, t)} / {a[0]}", np.reciprocal, "float"),
    "greater": Spec(_infix(">"), np.greater, "cmp", 2),
    "greater_equal": Spec(_infix(">="), np.greater_equal, "cmp", 2),
    "less": Spec(_infix("<"), np.less, "cmp", 2),
    "less_equal": Spec(_infix("<="), np.less_equal, "cmp", 2),
    "equal": Spec(_infix("=="), np.equal, "cmp", 2),
    "not_equal": Spec(_infix("!="), np.not_equal, "cmp", 2),
    "logical_and": Spec(_infix("&&"), np.logical_and, "logic", 2),
    "logical_or": Spec(_infix("||"), np.logical_or, "logic", 2),
    "logical_xor": Spec(_infix("!="), np.logical_xor, "logic", 2),
    "logical_not": Spec(lambda a, t: f"!{a[0]}", np.logical_not, "logic"),
    "power": Spec(lambda a, t: _math("pow")([f"{a[0]}, {a[1]}"], t), np.power, "float", 2),
}


def _clip_c(a: list[str], t: np.dtype) -> str:
    x = a[0]
    if a[1] != "None":
        x = f"flb_clip_lo({x}, {a[1]})"
    if a[2] != "None":
        x = f"flb_clip_hi({x}, {a[2]})"
    return x


def _clip_np(x: Any, lo: Any, hi: Any) -> Any:
    """The C of ``clamp`` on numpy: as cupy's clip (direct mode on cuda), a missing float bound is
    infinite, so a value equal to the other bound is kept, sign of zero included (numpy's clip
    with one bound is ``maximum``/``minimum``, which take the bound: +0.0 for -0.0 clipped at 0.0)."""
    if np.asarray(x).dtype.kind == "f":
        lo = -math.inf if lo is None else lo
        hi = math.inf if hi is None else hi
    return np.clip(x, lo, hi)


def _forward(name: str) -> Callable[..., Any]:
    """The op's own forward on numpy: the evaluator of a table op is the op itself."""
    impl = optable.OPS[name].impl
    return lambda *args: impl(np, *args)


# Table ops that are not one ufunc (``Op.ufunc`` empty): op name -> its spec (the numpy form
# is the op's forward, run in the node's type).
TABLE_OPS: dict[str, Spec] = {
    "pow": UFUNCS["power"],
    "square": UFUNCS["square"],
    "rsqrt": Spec(lambda a, t: f"{_literal(1, t)} / {_math('sqrt')(a, t)}", _forward("rsqrt"), "float"),
    "cinv": UFUNCS["reciprocal"],
    "sigmoid": Spec(lambda a, t: f"flb_sigmoid({a[0]})", _forward("sigmoid"), "float"),
    "where": Spec(lambda a, t: f"{a[0]} ? {a[1]} : {a[2]}", np.where, "where", 3),
    "clamp": Spec(_clip_c, _clip_np, "arith", 3),
    "logical_not": UFUNCS["logical_not"],
}
_REDUCTIONS = ("sum", "mean")


def _fits(x: Any, t: np.dtype) -> bool:
    """Whether the Python number ``x`` is a value of the integer type ``t``."""
    info = np.iinfo(t)
    return x.__class__ is not float and info.min <= int(x) <= info.max


def _literal(x: Any, t: np.dtype) -> str:
    """``x`` as a C literal of type ``t``: ``1.5f`` for float32, ``1.5`` for float64."""
    if t == _BOOL:
        return "true" if x else "false"
    if t.kind == "f":
        f = "f" if t == np.float32 else ""
        with np.errstate(over="ignore"):
            v = t.type(x)
        if np.isinf(v):  # a finite number past float32's range is inf there (as numpy converts it)
            return f"({'-' if v < 0 else ''}1.0{f} / 0.0{f})"
        s = str(v)
        if not any(ch in s for ch in ".e"):
            s += ".0"
        return s + f
    v = int(x)
    # Integer literals carry their exact type: flb_max/flb_min are templates of one type, which
    # a plain `2` (an int) next to a short would not deduce. C has no literal below int, hence
    # the casts; and no negative literals, so int64's minimum is written as a difference.
    if t.itemsize == 8:
        return "(-9223372036854775807LL - 1)" if v == -(2**63) else f"{v}{'LL' if t.kind == 'i' else 'ULL'}"
    if t == np.int32:
        return str(v)
    if t == np.uint32:
        return f"{v}U"
    return f"(({_C_TYPES[t.name]}){v})"


# --------------------------------------------------------------------------------------------
# Instructions as nodes.


@dataclass
class Node:
    """One fused instruction: ``fn`` (a :class:`Spec`) of ``args``, computed in ``ctype``.

    Arguments are ``("p", k)`` (the kernel's k-th input), ``("t", k)`` (node k's value) or
    ``("l", value)`` (a literal, written in ``ctype``). ``dtype`` is the value's type.
    """

    fn: Spec
    args: list[tuple[Any, ...]]
    ctype: np.dtype
    dtype: np.dtype
    arg_types: list[np.dtype | None] = field(default_factory=list)  # per argument, None for literals


def _operand_type(node: Node, k: int) -> np.dtype:
    """The type node's k-th operand is converted to: bool for logic ops and where's condition."""
    return _BOOL if node.fn.family == "logic" or (node.fn.family == "where" and k == 0) else node.ctype


@dataclass
class _Plan:
    """An instruction's part in a group: its spec and operand items, or a reduction closing one."""

    kind: str  # "ew" or "red"
    spec: Spec | None
    items: list[tuple[Any, ...]]
    dtype: np.dtype
    red: tuple[str, Any, bool] = ("", None, False)  # (sum|mean, dim, keepdim)


_impls: dict[int, Any] = {}


def _op_of(fn: Any) -> Any:
    """The table op whose forward ``fn`` is (None for other functions)."""
    if not _impls:
        for op in optable.OPS.values():
            _impls[id(op.impl)] = op
    return _impls.get(id(fn))


def _ok_dtype(t: Any) -> bool:
    return isinstance(t, np.dtype) and t.name in _C_TYPES


def _item_dtype(cap: Capture, it: tuple[Any, ...]) -> np.dtype | None | bool:
    """An operand's dtype (None for a Python number); False when it cannot be a kernel operand."""
    tag = it[0]
    if tag in ("v", "w"):
        t = cap.dtypes[it[1]]
        return t if _ok_dtype(t) else False
    if tag == "f":
        return it[2] if _ok_dtype(np.dtype(it[2])) else False
    if tag == "c":
        x = it[1]
        if x.__class__ is float:
            return None if math.isfinite(x) else False
        if x.__class__ in (bool, int):  # a C literal: an int64 at most
            return None if -(2**63) <= x < 2**63 else False
        if isinstance(x, np.generic):
            return x.dtype if _ok_dtype(x.dtype) and np.isfinite(x) else False
        if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, Tensor):
            return x.dtype if _ok_dtype(x.dtype) else False
    return False


def _plan(cap: Capture, ins: Ins) -> _Plan | None:
    """How ``ins`` fuses, or None."""
    if len(ins.outs) != 1 or ins.unpack:
        return None
    out = ins.outs[0]
    dtype = cap.dtypes[out]
    if not _ok_dtype(dtype):  # (a root may be viewed later: its kernel's result is a new array, as the op's was)
        return None
    if ins.kind == "call":
        # A cast: Tensor._converted(wrapped var, dtype), to a float type.
        if ins.fn is not Tensor._converted or len(ins.args) != 2 or ins.args[0][0] != "w" or dtype.kind != "f":
            return None
        if _item_dtype(cap, ins.args[0]) is False:
            return None
        return _Plan("ew", None, [("v", ins.args[0][1])], dtype)
    if ins.kind != "op" or ins.fix not in (("",), ("b",), ("a",)):
        return None
    if ins.op is not None and ins.op.ufunc and ins.fn is not None and ins.op.ufunc in UFUNCS and not ins.kw:
        spec = UFUNCS[ins.op.ufunc]
        items = list(ins.args)
    else:
        op = _op_of(ins.fn)
        if op is None or ins.kw or not ins.args or ins.args[0][0] != "c":
            return None
        items = list(ins.args[1:])
        if op.name in _REDUCTIONS:
            dim, keep = (items + [("c", None), ("c", False)])[1:3]
            if (
                items[0][0] != "v"
                or dim[0] != "c"
                or keep[0] != "c"
                or dtype.kind != "f"
                or cap.dtypes[items[0][1]] != dtype
            ):
                return None
            return _Plan("red", None, [items[0]], dtype, (op.name, dim[1], bool(keep[1])))
        if op.name not in TABLE_OPS:
            return None
        spec = TABLE_OPS[op.name]
        if op.name == "clamp":
            items = (items + [("c", None), ("c", None)])[:3]
            if dtype.kind in "iu":
                # numpy clips by value, C would wrap a bound outside the type: such a bound is
                # no bound (uint8 clamped below -1 is unchanged), or clips every value to it.
                info = np.iinfo(dtype)
                lo, hi = (it[1] if it[0] == "c" and it[1].__class__ in (bool, int) else None for it in items[1:])
                if (lo is not None and lo > info.max) or (hi is not None and hi < info.min):
                    return None  # (every value becomes a number the type cannot hold: not fused)
                if lo is not None and lo < info.min:
                    items[1] = ("c", None)
                if hi is not None and hi > info.max:
                    items[2] = ("c", None)
    if ins.fix == ("a",):
        return None
    if len(items) != spec.nargs:
        return None
    if spec.family in ("cmp", "logic"):
        if ins.fix != ("b",):
            return None
        dtype = _BOOL
    elif ins.fix != ("",) or dtype == _BOOL or (spec.family == "float" and dtype.kind != "f"):
        return None
    for it in items:
        if spec is TABLE_OPS["clamp"] and it[0] == "c" and it[1] is None:
            continue
        if _item_dtype(cap, it) is False:
            return None
    return _Plan("ew", spec, items, dtype)


# --------------------------------------------------------------------------------------------
# Groups.


def find_groups(cap: Capture, keep: list[Ins], needed: set[int]) -> list[list[int]]:
    """Fusion groups of ``keep`` (positions, in order; the last is the root), two or more each.

    Built from the end: each instruction not yet in a group that can fuse is a root, and takes
    in the producers of its operands whose values it alone reads (recursively), as long as they
    fuse, are not returned (``needed``) and are not views. A ``sum``/``mean`` root takes in the
    element-wise producer of its input when only it reads that input, and is left alone otherwise.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import optimize, program
    >>> program.FUSE_ON.add("cpu")  # by default only cuda programs fuse
    >>> f = optimize(lambda x, b: ft.tanh(x * 2 + b))
    >>> _ = f(ft.ones(2, 3), ft.ones(3))
    >>> program.FUSE_ON.discard("cpu")
    >>> (p,) = f.programs.values()
    >>> print(p[0].kernels[0].operation)
    double t0 = v0 * 2.0;
    double t1 = t0 + v1;
    out0 = tanh(t1);
    """
    plans = [_plan(cap, ins) for ins in keep]
    producer: dict[int, int] = {}
    uses: dict[int, list[int]] = {}
    for j, ins in enumerate(keep):
        for v in ins.uses():
            uses.setdefault(v, []).append(j)
        for o in ins.outs:
            producer[o] = j
    assigned: set[int] = set()
    groups: list[list[int]] = []

    def joins(v: int, members: set[int]) -> int | None:
        p = producer.get(v)
        if p is None or p in members or p in assigned:
            return None
        pl = plans[p]
        if pl is None or pl.kind != "ew" or v in needed or cap.vars[v].aliased:
            return None
        return p if all(u in members for u in uses.get(v, [])) else None

    for j in reversed(range(len(keep))):
        pl = plans[j]
        if pl is None or j in assigned:
            continue
        members = {j}
        if pl.kind == "red":
            p = joins(pl.items[0][1], members)
            if p is None:
                continue
            members.add(p)
        grown = True
        while grown:
            grown = False
            for m in sorted(members, reverse=True):
                mp = plans[m]
                assert mp is not None
                if mp.kind == "red":
                    continue
                for it in mp.items:
                    if it[0] in ("v", "f"):
                        p = joins(it[1], members)
                        if p is not None:
                            members.add(p)
                            grown = True
        if len(members) >= 2:
            assigned |= members
            groups.append(sorted(members))
    groups.reverse()
    return groups


# --------------------------------------------------------------------------------------------
# Kernels.


class Kernel:
    """One fusion group as a kernel: CUDA source, and a numpy evaluator of the same arithmetic.

    Called with the group's inputs (``params``' arrays, in order) it returns the root's value as a
    new array, or written into ``out=`` (a C-contiguous array of the result's shape and dtype, a
    program's reused buffer): on cuda through a ``cupy.ElementwiseKernel`` or
    ``cupy.ReductionKernel`` built on the first call (and cached by source), elsewhere with numpy.
    """

    def __init__(
        self,
        nodes: list[Node],
        params: list[tuple[str, np.dtype]],
        shape: tuple[int, ...],
        out_dtype: np.dtype,
        reduce: tuple[str, Any, bool] | None,
        red_shape: tuple[int, ...],
        cuda: bool,
    ):
        self.nodes = nodes
        self.params = params
        self.shape = shape  # the element-wise part's shape
        self.out_dtype = out_dtype
        self.reduce = reduce
        self.red_shape = red_shape  # the result's shape, for a reduction
        self.cuda = cuda
        self.in_params = ", ".join(f"{t.name} {n}" for n, t in params)
        self.out_params = f"{out_dtype.name} out0"
        stmts = self._statements()
        if reduce is None:
            self.operation = "\n".join([*stmts[:-1], f"out0 = {stmts[-1]};"])
            self.preamble = PREAMBLE
            key = f"{self.in_params}|{self.out_params}|{self.operation}"
        else:
            ct = _C_TYPES[out_dtype.name]
            # Upper-case hex: cupy's CUB path of a one-input ReductionKernel renames its parameter
            # to in0 by a plain text replace in the map expression, which must not find the
            # parameter's name (v3, c4: lower case) inside the function's name.
            digest = hashlib.sha1(f"{self.in_params}|{stmts}".encode()).hexdigest()[:10].upper()
            fname = f"flb_map_{digest}"
            body = "".join(f"    {s}\n" for s in stmts[:-1])
            args = ", ".join(f"{_C_TYPES[t.name]} {n}" for n, t in params)
            self.preamble = PREAMBLE + f"__device__ {ct} {fname}({args}) {{\n{body}    return {stmts[-1]};\n}}\n"
            self.map_expr = f"{fname}({', '.join(n for n, _ in params)})"
            self.reduce_expr = "a + b"
            count = math.prod(shape) // max(math.prod(red_shape), 1)
            self.post_map_expr = "out0 = a" if reduce[0] == "sum" else f"out0 = a / {_literal(count, out_dtype)}"
            self.identity = "0"
            self.reduce_type = ct
            self.operation = self.map_expr
            key = f"{self.in_params}|{self.out_params}|{self.preamble}|{self.post_map_expr}|{reduce}"
        self.name = "fused_" + hashlib.sha1(key.encode()).hexdigest()[:10]
        self.__name__ = self.name

    def _arg(self, node: Node, k: int) -> str:
        a = node.args[k]
        want = _operand_type(node, k)
        if a[0] == "l":
            return "None" if a[1] is None else _literal(a[1], want)
        name = self.params[a[1]][0] if a[0] == "p" else f"t{a[1]}"
        have = self.params[a[1]][1] if a[0] == "p" else self.nodes[a[1]].dtype
        if have == want:
            return name
        if want == _BOOL:
            return f"({name} != 0)"
        return f"({_C_TYPES[want.name]}){name}"

    def _statements(self) -> list[str]:
        """One C statement per node (the last as an expression, for the caller to finish)."""
        out: list[str] = []
        for k, node in enumerate(self.nodes):
            expr = node.fn.c([self._arg(node, m) for m in range(len(node.args))], node.ctype)
            out.append(expr if k == len(self.nodes) - 1 else f"{_C_TYPES[node.dtype.name]} t{k} = {expr};")
        return out

    @property
    def source(self) -> str:
        """The kernel as the cupy call that builds it (for reading; ``Program.kernels`` lists them)."""
        if self.reduce is None:
            return (
                f"ElementwiseKernel({self.in_params!r}, {self.out_params!r},\n"
                f"  {self.operation!r},\n  {self.name!r}, preamble=PREAMBLE)"
            )
        return (
            f"ReductionKernel({self.in_params!r}, {self.out_params!r},\n  map_expr={self.map_expr!r},"
            f" reduce_expr={self.reduce_expr!r},\n  post_map_expr={self.post_map_expr!r},"
            f" identity={self.identity!r}, name={self.name!r}, reduce_type={self.reduce_type!r},\n"
            f"  preamble=PREAMBLE + {self.preamble[len(PREAMBLE) :]!r})"
        )

    def __repr__(self) -> str:
        return f"<fused kernel {self.name}: {len(self.nodes)} ops{', reduction' if self.reduce else ''}>"

    def __call__(self, *arrays: Any, out: Any = None) -> Any:
        if self.cuda:
            return self._call_cuda(arrays, out)
        res = self.evaluate(arrays)
        if out is None:
            return res
        out[...] = res
        return out

    def evaluate(self, arrays: tuple[Any, ...] | list[Any]) -> Any:
        """The kernel's arithmetic with numpy: each node in its C type, as the CUDA code does it."""
        vals: list[Any] = []
        for node in self.nodes:
            args: list[Any] = []
            for k, a in enumerate(node.args):
                want = _operand_type(node, k)
                if a[0] == "l":  # converted as C converts it: an integer outside the type wraps
                    with np.errstate(over="ignore"):  # (and 1e300 is float32's inf)
                        args.append(None if a[1] is None else np.array(a[1]).astype(want)[()])
                else:
                    x = arrays[a[1]] if a[0] == "p" else vals[a[1]]
                    args.append(np.asarray(x).astype(want, copy=False))
            with np.errstate(all="ignore"):
                r = node.fn.np_fn(*args)
            vals.append(np.asarray(r).astype(node.dtype, copy=False))
        res = vals[-1]
        if self.reduce is not None:
            kind, dim, keep = self.reduce
            full = np.broadcast_to(res, self.shape)
            r = full.sum(axis=dim, keepdims=keep) if kind == "sum" else np.mean(full, axis=dim, keepdims=keep)
            return np.asarray(r, dtype=self.out_dtype)
        out = np.empty(self.shape, dtype=self.out_dtype)
        out[...] = res
        return out

    def _call_cuda(self, arrays: tuple[Any, ...], out: Any) -> Any:
        k = _CUDA_KERNELS.get(self.name)
        if k is None:
            k = _CUDA_KERNELS[self.name] = self._build()
        if self.reduce is not None:
            return k(*arrays, out=out, axis=self.reduce[1], keepdims=self.reduce[2])
        if out is None:
            import cupy

            out = cupy.empty(self.shape, dtype=self.out_dtype)
        k(*arrays, out)
        return out

    def _build(self) -> Any:
        import cupy

        if self.reduce is None:
            return cupy.ElementwiseKernel(
                self.in_params, self.out_params, self.operation, self.name, preamble=self.preamble
            )
        return cupy.ReductionKernel(
            self.in_params,
            self.out_params,
            self.map_expr,
            self.reduce_expr,
            self.post_map_expr,
            self.identity,
            self.name,
            reduce_type=self.reduce_type,
            preamble=self.preamble,
        )


# Built cupy kernels by name (a hash of the full source and types): shared by all programs.
_CUDA_KERNELS: dict[str, Any] = {}
_CAST = Spec(lambda a, t: a[0], lambda x: x, "cast")


def make_kernel(cap: Capture, keep: list[Ins], group: list[int], cuda: bool) -> tuple[Kernel, list[tuple[Any, ...]]]:
    """The kernel of one group, and the program items (variables, constant arrays) it is called with."""
    params: list[tuple[str, np.dtype]] = []
    items: list[tuple[Any, ...]] = []
    where: dict[Any, int] = {}
    env: dict[int, int] = {}  # var -> node
    nodes: list[Node] = []
    plans = [_plan(cap, keep[j]) for j in group]

    def ref(it: tuple[Any, ...]) -> tuple[tuple[Any, ...], np.dtype | None]:
        tag = it[0]
        if tag in ("v", "f", "w"):
            v = it[1]
            if v in env:
                r: tuple[Any, ...] = ("t", env[v])
                t = nodes[env[v]].dtype
            else:
                if ("v", v) not in where:
                    where[("v", v)] = len(params)
                    params.append((f"v{v}", cap.dtypes[v]))
                    items.append(("v", v))
                r = ("p", where[("v", v)])
                t = cap.dtypes[v]
            if tag == "f":  # cast first: a node of its own
                nodes.append(Node(_CAST, [r], np.dtype(it[2]), np.dtype(it[2]), [t]))
                return ("t", len(nodes) - 1), np.dtype(it[2])
            return r, t
        x = it[1]
        if x is None or x.__class__ in (bool, int, float):
            return ("l", x), None
        if isinstance(x, np.generic):
            return ("l", x.item()), x.dtype
        key = ("c", id(x))
        if key not in where:
            where[key] = len(params)
            params.append((f"c{len(params)}", x.dtype))
            items.append(("c", x))
        return ("p", where[key]), x.dtype

    reduce = None
    for j, pl in zip(group, plans, strict=True):
        assert pl is not None
        ins = keep[j]
        if pl.kind == "red":
            reduce = pl.red
            continue
        refs = [ref(it) for it in pl.items]
        args = [r for r, _ in refs]
        types = [t for _, t in refs]
        spec = pl.spec or _CAST
        if spec is UFUNCS["power"] and args[1][0] == "l" and args[1][1] in (1, 2):
            # x**1 and x**2 need no pow(): x itself (converted) or x * x
            spec, args, types = (_CAST if args[1][1] == 1 else UFUNCS["square"]), args[:1], types[:1]
        if spec.family == "cmp":
            ctype = np.result_type(*[t if t is not None else a[1] for a, t in zip(args, types, strict=True)])
            if ctype.kind in "iu" and any(
                not _fits(a[1], ctype) for a, t in zip(args, types, strict=True) if t is None
            ):
                # numpy compares an integer with a Python int outside its range by value
                # (uint8 > -1 is true): the comparison is made in int64, not with a wrapped literal.
                ctype = np.dtype(np.int64)
        elif spec.family == "logic":
            ctype = _BOOL
        else:
            ctype = pl.dtype
        nodes.append(Node(spec, args, np.dtype(ctype), pl.dtype, types))
        env[ins.outs[0]] = len(nodes) - 1
    root = keep[group[-1]]
    out = root.outs[0]
    if reduce is not None:
        src = keep[group[-2]].outs[0]
        shape, red_shape, out_dtype = cap.shapes[src], cap.shapes[out], cap.dtypes[out]
    else:
        shape, red_shape, out_dtype = cap.shapes[out], cap.shapes[out], cap.dtypes[out]
    return Kernel(nodes, params, shape, out_dtype, reduce, red_shape, cuda), items


def fuse(cap: Capture, keep: list[Ins], needed: set[int], devices: set[str]) -> tuple[list[Ins], list[Kernel]]:
    """``keep`` with each fusion group replaced by one call of its kernel, at the group's root.

    Groups on a device whose type is in ``devices`` are fused: on cuda
    with cupy kernels, on a device whose arrays are numpy's with the numpy evaluator (others are
    left alone). The instructions of a group are dropped; the root becomes an instruction of kind
    ``fused`` whose function is the :class:`Kernel` and whose arguments are the group's inputs,
    so the program's bookkeeping (last uses, ``del``, buffers) sees the group as one call.
    """
    if not any(v.dev.type in devices for v in cap.vars):
        return keep, []  # nothing here fuses: no planning
    drop: set[int] = set()
    at: dict[int, Ins] = {}
    kernels = []
    for g in find_groups(cap, keep, needed):
        dev = cap.vars[keep[g[-1]].outs[0]].dev
        if dev.type not in devices or (dev.type != "cuda" and dev.xp is not np):
            continue
        k, items = make_kernel(cap, keep, g, dev.type == "cuda")
        ins = Ins("fused", keep[g[-1]].outs, k, items, {})
        ins.fix = ("",)
        at[g[-1]] = ins
        drop.update(g[:-1])
        kernels.append(k)
    return [at.get(j, ins) for j, ins in enumerate(keep) if j not in drop], kernels
