"""Hostile files: ft.load / ft.deserialize and ft.load_t7 fed corrupt, truncated and crafted files.

Issue 14, item 4. Valid files (written by ft.save / ft.save_t7 from several objects, and the real
Lua Torch7 files of ../shared/data/t7/torchfile-tests when present) are mutated: every truncation
length (or a dense sample), single-bit flips, length and count fields rewritten to huge or negative
values, zip-level corruption (wrong CRC, missing members, claimed sizes of terabytes, unsupported
compression, encryption flags), wrong magic and versions; crafted files add absurd nesting depth
(100000 nested tables) and reference cycles. The property, for every file: the loader returns an
inert value (data, never a function or class of the file's choosing) or raises SerializationError
(or DeviceUnavailableError) whose message names the loader; never another exception type, a
RecursionError, a MemoryError, a crash or a hang. Each call must finish within TIME_LIMIT_S
(a SIGALRM timer where the platform has one) and allocate at most MEMORY_LIMIT (tracemalloc peak).

The default run is short, seeded and deterministic (a sample of each mutation kind, for CI); the
long run (``FLAMBEAU_FUZZ=long``, ``nox -s fuzz``) tries every truncation, every bit of the smaller
files and every field rewrite. ``FLAMBEAU_FUZZ_SEED`` changes the sample.
"""

from __future__ import annotations

import collections
import io
import json
import os
import random
import signal
import struct
import time
import tracemalloc
import types
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.tensor import t7 as t7mod
from flambeau.tensor.errors import DeviceUnavailableError, SerializationError

LONG = os.environ.get("FLAMBEAU_FUZZ", "").lower() == "long"
SEED = int(os.environ.get("FLAMBEAU_FUZZ_SEED", "14"))
TIME_LIMIT_S = 2.0
MEMORY_LIMIT = 64 << 20  # bytes: files here are a few KB; a field claiming terabytes must be refused first
# Per corpus file in the short run: truncation lengths, bit flips, field rewrites (all of them when LONG).
SHORT = {"truncations": 32, "flips": 48, "fields": 32}
LONG_FLIP_BYTES = 4096  # LONG flips every bit of files up to this size, a sample of LONG_FLIPS above
LONG_FLIPS = 20000

ROOT = Path(__file__).resolve().parents[3]
TORCHFILE = ROOT.parent / "shared" / "data" / "t7" / "torchfile-tests"
ALLOWED = (SerializationError, DeviceUnavailableError)

COUNTS: collections.Counter[str] = collections.Counter()


# -- the probe: one call under a time and memory bound ----------------------------------------------------


class _Hang(BaseException):  # a BaseException, so that no `except Exception` in a loader swallows it
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Hang()


_HAS_TIMER = hasattr(signal, "setitimer")


class Prober:
    """Runs loaders on hostile bytes, collecting every breach of the property (reported together)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.failures: list[str] = []

    def check(self, loader: str, data: bytes, label: str) -> Any:
        """Run ``loader`` ('deserialize', 'load', 'load_t7') on ``data``; returns the value or the error."""
        fn, op = _LOADERS[loader]
        if loader == "load":
            path = self.tmp / "hostile.flb"
            path.write_bytes(data)
            arg: Any = path
        else:
            arg = data
        COUNTS[loader] += 1
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        outcome: Any = None
        start = time.perf_counter()
        old = signal.signal(signal.SIGALRM, _alarm) if _HAS_TIMER else None
        try:
            if _HAS_TIMER:
                signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # a device fallback warns: allowed
                    outcome = fn(arg)
            finally:
                if _HAS_TIMER:
                    signal.setitimer(signal.ITIMER_REAL, 0)
        except _Hang:
            self.fail(label, loader, f"did not finish within {TIME_LIMIT_S} s")
            return None
        except ALLOWED as e:
            outcome = e
            msg = str(e)
            if not msg.startswith(op) or len(msg) > 4000:
                self.fail(label, loader, f"unclear message ({len(msg)} chars): {msg[:300]!r}")
        except BaseException as e:  # the property under test: anything else is a failure
            if isinstance(e, KeyboardInterrupt):
                raise
            self.fail(label, loader, f"raised {type(e).__name__}: {str(e)[:300]}")
            return None
        finally:
            if old is not None:
                signal.signal(signal.SIGALRM, old)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] - before
        if elapsed > TIME_LIMIT_S:
            self.fail(label, loader, f"took {elapsed:.2f} s")
        if peak > MEMORY_LIMIT:
            self.fail(label, loader, f"allocated {peak / 2**20:.0f} MiB for a file of {len(data)} bytes")
        if not isinstance(outcome, BaseException):
            bad = _not_inert(outcome)
            if bad is not None:
                self.fail(label, loader, f"returned something that is not inert data: {bad}")
        return outcome

    def fail(self, label: str, loader: str, what: str) -> None:
        self.failures.append(f"{loader} on {label}: {what}")

    def verify(self) -> None:
        if self.failures:
            shown = "\n  ".join(self.failures[:25])
            pytest.fail(f"{len(self.failures)} hostile files broke the property:\n  {shown}", pytrace=False)


def _load_path(p: Path) -> Any:
    return ft.load(p)


_LOADERS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "deserialize": (lambda b: ft.deserialize(b), "deserialize"),
    "load": (_load_path, "load"),
    "load_t7": (lambda b: ft.load_t7(io.BytesIO(b)), "load_t7"),
}

_INERT = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    bytearray,
    list,
    tuple,
    dict,
    set,
    frozenset,
    collections.OrderedDict,
    np.dtype,
    np.generic,
)
_CODE = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.CodeType, type, types.ModuleType)


def _not_inert(obj: Any, limit: int = 200000) -> str | None:
    """None when everything reachable is data (flambeau's types included); else what is not."""
    seen: set[int] = set()
    todo = [obj]
    while todo and len(seen) < limit:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, _CODE) or (callable(x) and not isinstance(x, (t7mod.T7Function, ft.Tensor))):
            if not type(x).__module__.startswith("flambeau."):
                return f"a {type(x).__qualname__}"
        if isinstance(x, t7mod.T7Function):
            with pytest.raises(SerializationError):
                x()
            todo.append(x.upvalues)
        elif isinstance(x, dict):
            todo.extend(x.keys())
            todo.extend(x.values())
        elif isinstance(x, (list, tuple, set, frozenset)):
            todo.extend(x)
        elif isinstance(x, t7mod.T7Object):
            todo.append(x.fields)
        elif isinstance(x, t7mod.TableKey):
            todo.append(x.value)
        elif not isinstance(x, _INERT) and not type(x).__module__.startswith("flambeau."):
            return f"a {type(x).__module__}.{type(x).__qualname__}"
    return None


@pytest.fixture(scope="module", autouse=True)
def _tracing(request: pytest.FixtureRequest) -> Iterator[None]:
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    started = time.perf_counter()
    yield
    if not was:
        tracemalloc.stop()
    rep = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if rep is not None and capture is not None and COUNTS:  # the figures, printed past pytest's capture
        total = sum(v for k, v in COUNTS.items() if k in _LOADERS)
        detail = ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items()))
        with capture.global_and_fixture_disabled():
            rep.write_line(
                f"\nhostile files ({'long' if LONG else 'short'} run, seed {SEED}): {total} loads in"
                f" {time.perf_counter() - started:.1f} s ({detail})"
            )


@pytest.fixture
def prober(tmp_path: Path) -> Prober:
    return Prober(tmp_path)


# -- mutations -------------------------------------------------------------------------------------------


def _sample(rng: random.Random, items: list[Any], k: int) -> list[Any]:
    return list(items) if LONG or len(items) <= k else rng.sample(items, k)


def truncations(data: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    lengths = list(range(len(data)))
    if not LONG and len(lengths) > SHORT["truncations"]:
        head = lengths[:16]  # the headers, densely
        lengths = sorted(set(head + rng.sample(lengths[16:], SHORT["truncations"] - 16)))
    for n in lengths:
        yield f"truncated to {n} of {len(data)} bytes", data[:n]


def bit_flips(data: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    bits = len(data) * 8
    if LONG:
        chosen = range(bits) if len(data) <= LONG_FLIP_BYTES else sorted(rng.sample(range(bits), LONG_FLIPS))
    else:
        chosen = sorted(rng.sample(range(bits), min(bits, SHORT["flips"])))
    for b in chosen:
        out = bytearray(data)
        out[b // 8] ^= 1 << (b % 8)
        yield f"bit {b % 8} of byte {b // 8} flipped", bytes(out)


# -- the flambeau format: corpus, zip writer, manifest rewrites ------------------------------------------------


def flb_objects() -> dict[str, Any]:
    a = ft.DoubleTensor([[1, 2, 3], [4, 5, 6]])
    cyc: list[Any] = [1, "one"]
    cyc.append(cyc)
    d: dict[str, Any] = {"name": "self"}
    d["self"] = d
    base = ft.FloatTensor(12).fill_(1.5)
    nested: Any = base.narrow(0, 2, 4)
    for i in range(12):
        nested = [nested, {"i": i, "t": base.narrow(0, i % 6, 3)}]
    return {
        "mixed": {
            "w": a,
            "wt": a.t(),
            "row": a.select(0, 1),
            "store": a.storage(),
            "long": ft.LongTensor([1, -2, 2**40]),
            "byte": ft.ByteTensor([0, 255, 7]),
            "char": ft.CharTensor([-1, 1]),
            "short": ft.ShortTensor([3, 4]),
            "int": ft.IntTensor([[5], [6]]),
            "half": ft.HalfTensor([0.5, 1.5]),
            "expanded": ft.FloatTensor([1.0]).expand(4),
            "empty": ft.FloatTensor(0),
            "lr": 0.1,
            "big": 2**70,
            "c": 1 + 2j,
            "raw": b"\x00\xff",
            "ba": bytearray(b"ab"),
            "tuple": (1, "x", None, True),
            "set": {1, 2},
            "fs": frozenset({"a"}),
            "size": ft.Size([2, 3]),
            "dev": ft.device("cpu"),
            "dtype": np.dtype("float32"),
            "np": np.float32(1.5),
            "od": collections.OrderedDict([("b", 1), ("a", [2])]),
        },
        "cycles": [cyc, d, cyc],
        "nested": nested,
        "generator": [ft.Generator("cpu", 7), 3],
        "scalar": ft.DoubleTensor([2.5]).squeeze(),
    }


def _pack_zip(
    members: list[tuple[str, bytes]],
    over: dict[str, dict[str, int]] | None = None,
    deflate: bool = False,
    eocd: dict[str, int] | None = None,
) -> bytes:
    """A zip of ``members``, written by hand so that the central directory can lie.

    ``over[name]`` replaces fields of that member's central record: crc, csize, usize, method, flags,
    offset (a size or offset of 2**32-1 or more goes into a zip64 extra field, as zipfile reads it).
    """
    over = over or {}
    out, central = bytearray(), bytearray()
    for name, data in members:
        nb = name.encode()
        method = 8 if deflate else 0
        if deflate:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            stored = c.compress(data) + c.flush()
        else:
            stored = data
        crc = zlib.crc32(data)
        offset = len(out)
        out += struct.pack(
            "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(stored), len(data), len(nb), 0
        )
        out += nb + stored
        o = over.get(name, {})
        crc, csize, usize = o.get("crc", crc), o.get("csize", len(stored)), o.get("usize", len(data))
        method, flags, offset = o.get("method", method), o.get("flags", 0), o.get("offset", offset)
        extra = b""
        if max(csize, usize, offset) >= 0xFFFFFFFF:
            extra = struct.pack("<HHQQQ", 1, 24, usize, csize, offset)
            csize = usize = offset = 0xFFFFFFFF
        central += struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            b"PK\x01\x02",
            20,
            45 if extra else 20,
            flags,
            method,
            0,
            0x21,
            crc,
            csize,
            usize,
            len(nb),
            len(extra),
            0,
            0,
            0,
            0,
            offset,
        )
        central += nb + extra
    e = {"count": len(members), "size": len(central), "offset": len(out)}
    e.update(eocd or {})
    return bytes(out + central) + struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, e["count"], e["count"], e["size"], e["offset"], 0
    )


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(n, zf.read(n)) for n in zf.namelist()]


def _with_manifest(members: list[tuple[str, bytes]], manifest: Any, raw: bytes | None = None) -> bytes:
    text = raw if raw is not None else json.dumps(manifest).encode()
    return _pack_zip([("manifest.json", text)] + [m for m in members if m[0] != "manifest.json"])


def _json_slots(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) in a JSON document, containers included."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _json_slots(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _json_slots(v, path + (i,))


def _replaced(doc: Any, path: tuple[Any, ...], value: Any, delete: bool = False) -> Any:
    doc = json.loads(json.dumps(doc))
    if not path:
        return value
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


HUGE_INTS = [2**31 - 1, 2**32, 2**40, 2**63 - 1, 2**64, -1, -(2**31), -(2**63), 10**400]
ODD_VALUES: list[Any] = [None, True, 1.5, "x", "", [], {}, [[]], {"type": "ref", "id": 0}, "nan"]


def manifest_rewrites(members: list[tuple[str, bytes]], rng: random.Random) -> Iterator[tuple[str, bytes]]:
    doc = json.loads(dict(members)["manifest.json"])
    slots = list(_json_slots(doc))
    ints = [(p, v) for p, v in slots if type(v) is int]
    others = [(p, v) for p, v in slots if p and type(v) is not int]
    cases: list[tuple[tuple[Any, ...], Any, bool]] = []
    for p, _ in ints:
        cases += [(p, h, False) for h in HUGE_INTS]
    for p, _ in others:
        cases += [(p, o, False) for o in ODD_VALUES] + [(p, None, True)]
    k = SHORT["fields"] * 4
    for p, v, delete in _sample(rng, cases, k):
        what = "deleted" if delete else f"= {json.dumps(v)[:30]}"
        yield f"manifest{''.join(f'[{x!r}]' for x in p)} {what}", _with_manifest(members, _replaced(doc, p, v, delete))


def zip_corruptions(members: list[tuple[str, bytes]]) -> Iterator[tuple[str, bytes]]:
    names = [n for n, _ in members]
    doc = json.loads(dict(members)["manifest.json"])
    yield "deflated members (valid)", _pack_zip(members, deflate=True)
    for name in names:
        yield f"{name} missing", _pack_zip([m for m in members if m[0] != name])
        yield f"{name} twice", _pack_zip(members + [m for m in members if m[0] == name])
        for key, values in {
            "crc": [0, 0xDEADBEEF],
            "usize": [0, 1, 0xFFFFFFFE, 2**40, 2**63 - 1, 2**64 - 1],
            "csize": [0, 1, 0xFFFFFFFE, 2**40, 2**63 - 1],
            "method": [1, 8, 9, 12, 14, 93, 99, 0xFFFF],
            "flags": [1, 0x41, 0x8, 0x800, 0xFFFF],
            "offset": [1, 10**6, 2**40],
        }.items():
            for v in values:
                yield f"{name} central {key} = {v}", _pack_zip(members, over={name: {key: v}})
        yield f"{name} deflated, claims 2**40 bytes", _pack_zip(members, over={name: {"usize": 2**40}}, deflate=True)
    for b, rec in enumerate(doc.get("buffers", [])):  # a manifest and a central directory both claiming a huge buffer
        item = np.dtype(rec["dtype"]).itemsize
        for total in (2**31, 2**40, 2**62):
            big = _replaced(doc, ("buffers", b, "numel"), total // item)
            mem = [("manifest.json", json.dumps(big).encode())] + [m for m in members if m[0] != "manifest.json"]
            yield (
                f"buffer {b} claims {total} bytes",
                _pack_zip(mem, over={rec["file"]: {"usize": total, "csize": total}}),
            )
            yield (
                f"buffer {b} claims {total} bytes, deflated",
                _pack_zip(mem, over={rec["file"]: {"usize": total}}, deflate=True),
            )
    for key, v in (("count", 0), ("count", 0xFFFF), ("size", 0), ("size", 0xFFFFFFFF), ("offset", 0xFFFFFFFE)):
        yield f"end record {key} = {v}", _pack_zip(members, eocd={key: v})


def crafted_manifests() -> Iterator[tuple[str, bytes]]:
    """Wrong magic and versions, absurd nesting, reference cycles: JSON manifests built by hand."""
    head = {"format": "flambeau", "format_version": 1, "byteorder": "little", "buffers": []}

    def zipped(root: Any = None, raw: bytes | None = None, **fields: Any) -> bytes:
        doc = dict(head, root=root)
        doc.update(fields)
        return _with_manifest([], doc, raw)

    for fmt in ("Flambeau", "pytorch", "", None, 1, ["flambeau"]):
        yield f"format {fmt!r}", zipped(format=fmt)
    for v in (0, 2, -1, 2**63, "1", None, 1.5, [1], {"v": 1}):
        yield f"format_version {v!r}", zipped(format_version=v)
    for bo in ("big", "", None, 5):
        yield f"byteorder {bo!r}", zipped(byteorder=bo)
    yield "flambeau_version a megabyte", zipped(format_version=2, flambeau_version="9" * 10**6)
    yield "no root", _with_manifest([], head)
    for raw in (b"[]", b'"flambeau"', b"1", b"NaN", b"", b"\xff\xfe{", b"\xef\xbb\xbf{}", b"{" * 10, b'{"a":1}' * 2):
        yield f"manifest {raw[:12]!r}", zipped(raw=raw)
    for depth in (300, 600, 990, 5000, 100000):
        root = "".join(f'{{"type":"list","id":{i},"items":[' for i in range(depth)) + "]}" * depth
        doc = json.dumps(dict(head, root=0)).replace('"root": 0', f'"root": {root}')
        yield f"lists nested {depth} deep", zipped(raw=doc.encode())
        doc = json.dumps(dict(head, root=0)).replace('"root": 0', '"root": ' + "[" * depth + "]" * depth)
        yield f"JSON arrays nested {depth} deep", zipped(raw=doc.encode())
    for depth in (500, 100000):
        root = '{"type":"object","class":"collections.OrderedDict","id":0,"state":' * depth + "null" + "}" * depth
        doc = json.dumps(dict(head, root=0)).replace('"root": 0', f'"root": {root}')
        yield f"objects nested {depth} deep", zipped(raw=doc.encode())
    ref = {"type": "ref", "id": 0}
    cycles: dict[str, Any] = {
        "a list holding itself (valid)": {"type": "list", "id": 0, "items": [ref, 1]},
        "a dict holding itself (valid)": {"type": "dict", "id": 0, "items": [["me", ref]]},
        "a tuple holding itself": {"type": "tuple", "id": 0, "items": [ref]},
        "a set holding itself": {"type": "set", "id": 0, "items": [ref]},
        "a frozenset holding itself": {"type": "frozenset", "id": 0, "items": [ref]},
        "a dict keyed by itself": {"type": "dict", "id": 0, "items": [[ref, 1]]},
        "a set holding a list": {"type": "list", "id": 0, "items": [{"type": "set", "id": 1, "items": [ref]}]},
        "an object holding itself": {
            "type": "object",
            "id": 0,
            "class": "collections.OrderedDict",
            "state": {"type": "list", "id": 1, "items": [{"type": "list", "id": 2, "items": ["k", ref]}]},
        },
        "a generator holding itself": {"type": "object", "id": 0, "class": "flambeau.Generator", "state": ref},
        "a reference forward": {
            "type": "list",
            "id": 0,
            "items": [{"type": "ref", "id": 1}, {"type": "list", "id": 1}],
        },
        "an id defined twice": {"type": "list", "id": 0, "items": [{"type": "list", "id": 0, "items": []}]},
        "a reference to nothing": ref,
        "a reference with a huge id": {"type": "ref", "id": 2**63},
        "an unknown class": {"type": "object", "id": 0, "class": "os.system", "state": "echo pwned"},
        "an unknown node type": {"type": "eval", "code": "1+1"},
    }
    for label, root in cycles.items():
        yield label, zipped(root)
    bomb = json.dumps(dict(head, root=0)).replace('"root": 0', '"root": [' + ",".join(["{}"] * 2000000) + "]")
    yield "a deflated manifest of 6 MB in 6 KB", _pack_zip([("manifest.json", bomb.encode())], deflate=True)
    one = {"file": "buffers/0", "dtype": "uint8", "numel": 1, "device": "cpu"}
    many = json.dumps(dict(head, root=None, buffers=[one] * 20000)).encode()
    yield "20000 buffer records naming one member", _pack_zip([("manifest.json", many), ("buffers/0", b"x")])
    rec = {"file": "buffers/0", "dtype": "float32", "numel": 2**40, "device": "cpu"}
    yield "a buffer of 2**40 elements with no member", zipped(0, buffers=[rec])
    for dev in ("cuda:0", "cuda:99999999999999999999", "boxed", "nowhere", "cpu:7", "", "cpu" * 1000):
        yield (
            f"a buffer on device {dev[:20]!r}",
            _pack_zip(
                [
                    (
                        "manifest.json",
                        json.dumps(dict(head, root=None, buffers=[dict(rec, numel=1, device=dev)])).encode(),
                    ),
                    ("buffers/0", b"\x00" * 4),
                ]
            ),
        )
    for node in (
        {"type": "device", "name": "cuda:3"},
        {"type": "dtype", "name": "object"},
        {"type": "dtype", "name": "V1000000000000"},
        {"type": "dtype", "name": "S9999999999999"},
        {"type": "dtype", "name": "(2**40,)f8"},
        {"type": "dtype", "name": [1]},
        {"type": "scalar", "dtype": "object", "hex": ""},
        {"type": "scalar", "dtype": "float64", "hex": "00" * 2**20},
        {"type": "int", "hex": "0x" + "f" * 100000},
        {"type": "int", "hex": "1" * 5000},
        {"type": "float", "value": "1" * 5000},
        {"type": "bytes", "base64": "!!"},
        {"type": "size", "items": [2**63, -1]},
    ):
        yield f"node {json.dumps(node)[:50]}", zipped(node)


def flb_files() -> dict[str, bytes]:
    return {name: ft.serialize(obj) for name, obj in flb_objects().items()}


FLB = flb_files()


# -- Torch7 files: corpus, field positions, crafted files --------------------------------------------------


def t7_objects() -> dict[str, Any]:
    w = ft.DoubleTensor([[1, 2, 3], [4, 5, 6]])
    cyc: dict[str, Any] = {"name": "cycle"}
    cyc["me"] = cyc
    fn = t7mod.T7Function(b"\x1bLJ\x02bytecode", [{"name": "x", "value": 3}], t7mod.TYPE_RECUR_FUNCTION)
    return {
        "tensors": {
            "w": w,
            "wt": w.t(),
            "col": w.select(1, 2),
            "store": w.storage(),
            "float": ft.FloatTensor([1.5, -2.5]),
            "long": ft.LongTensor([1, -2, 2**30]),
            "byte": ft.ByteTensor([0, 255, 10]),
            "char": ft.CharTensor([-1, 1]),
            "short": ft.ShortTensor([3]),
            "int": ft.IntTensor([[5], [6]]),
            "half": ft.HalfTensor([0.5]),
            "empty": ft.FloatTensor(0),
        },
        "tables": {
            "list": [1, "two", [3, [4, [5]]], True, False],
            "map": {1: "a", "k": {"nested": {"deeper": 2.5}}, 3.5: None},
            "cycle": cyc,
            "object": t7mod.T7Object("my.Class", {"x": 1, "t": ft.FloatTensor([2])}),
            "function": fn,
            "plain": t7mod.T7Function(b"\x1bLJ\x02", None, t7mod.TYPE_FUNCTION),
            "bytes": b"\xff\x00",
        },
    }


T7_FORMATS: dict[str, dict[str, Any]] = {
    "binary": {"format": "binary"},
    "big4": {"format": "binary", "byteorder": "big", "long_size": 4},
    "ascii": {"format": "ascii"},
}


def t7_files() -> dict[str, tuple[bytes, dict[str, Any]]]:
    out: dict[str, tuple[bytes, dict[str, Any]]] = {}
    for name, obj in t7_objects().items():
        for fmt, kw in T7_FORMATS.items():
            buf = io.BytesIO()
            ft.save_t7(buf, obj, **kw)
            out[f"{name}-{fmt}"] = (buf.getvalue(), kw)
    return out


T7 = t7_files()


def real_t7_files() -> dict[str, bytes]:
    if not TORCHFILE.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in sorted(TORCHFILE.glob("*.t7"))}


REAL = real_t7_files()


def t7_fields(data: bytes, kw: dict[str, Any]) -> list[tuple[int, int, bool]]:
    """(offset, width, is_text) of every int, long and (ascii) token the reader reads in ``data``."""
    seen: list[tuple[int, int, bool]] = []

    class Recording(t7mod._Reader):
        def read_int(self, expected: str) -> int:
            if self.binary:
                seen.append((self.pos, 4, False))
            return super().read_int(expected)

        def read_longs(self, k: int, expected: str) -> list[int]:
            if self.binary:
                seen.extend((self.pos + i * self.long_size, self.long_size, False) for i in range(k))
            return super().read_longs(k, expected)

        def tokens(self, k: int, expected: str) -> list[bytes]:
            pos = self.pos
            out = super().tokens(k, expected)
            for tok in out:
                at = self.data.index(tok, pos)
                seen.append((at, len(tok), True))
                pos = at + len(tok)
            return out

    with mock.patch.object(t7mod, "_Reader", Recording):
        ft.load_t7(io.BytesIO(data), **kw)
    return sorted(set(seen))


def field_rewrites(data: bytes, kw: dict[str, Any], rng: random.Random) -> Iterator[tuple[str, bytes]]:
    cases: list[tuple[int, int, bool, Any]] = []
    for at, width, text in t7_fields(data, kw):
        if text:
            for v in (b"2147483647", b"1099511627776", b"9223372036854775807", b"-1", b"-9223372036854775809"):
                cases.append((at, width, text, v))
            cases += [(at, width, text, b"1" + b"0" * 5000), (at, width, text, b"nan"), (at, width, text, b"1e999")]
        else:
            values = [2**31 - 1, -1, -(2**31), 2**30] if width == 4 else [2**40, 2**63 - 1, -1, -(2**63), 2**31 - 1]
            cases += [(at, width, text, v) for v in values]
    order = "big" if kw.get("byteorder") == "big" else "little"
    for at, width, text, v in _sample(rng, cases, SHORT["fields"]):
        if text:
            new = data[:at] + v + data[at + width :]
            yield f"token at byte {at} = {v[:20]!r}", new
        else:
            new = data[:at] + v.to_bytes(width, order, signed=True) + data[at + width :]
            yield f"{width}-byte field at byte {at} = {v}", new


DEPTHS = (500, 2000, 100000) if LONG else (100000,)
DEEP_KINDS = ("tables", "objects", "function upvalues", "tds.Vec")


def deep_t7(what: str, depth: int, binary: bool) -> bytes:
    """``depth`` nested tables (or torch objects, functions, tds.Vec), each with a new reference index."""
    if binary:
        level = {
            "tables": lambda i: struct.pack("<iiiid", 3, i, 1, 1, 1.0),
            "objects": lambda i: struct.pack("<iii3si7siiiii1s", 4, i, 3, b"V 1", 7, b"my.Deep", 3, -i, 1, 2, 1, b"x"),
            "function upvalues": lambda i: struct.pack("<iii3s", 8, i, 3, b"\x1bLJ"),
            "tds.Vec": lambda i: struct.pack("<iii3si7sq", 4, i, 3, b"V 1", 7, b"tds.Vec", 1),
        }[what]
        end = struct.pack("<iii", 3, depth + 1, 0) if what == "tables" else struct.pack("<i", 0)
    else:
        level = {
            "tables": lambda i: b"3\n%d\n1\n1\n1.0\n" % i,
            "objects": lambda i: b"4\n%d\n3\nV 1\n7\nmy.Deep\n3\n%d\n1\n2\n1\nx\n" % (i, -i),
            "function upvalues": lambda i: b"8\n%d\n3\n\x1bLJ\n" % i,
            "tds.Vec": lambda i: b"4\n%d\n3\nV 1\n7\ntds.Vec\n1\n" % i,
        }[what]
        end = b"3\n%d\n0\n" % (depth + 1) if what == "tables" else b"0\n"
    return b"".join(level(i) for i in range(1, depth + 1)) + end


class _T7:
    """A hand encoder for crafted files (binary little-endian, 8-byte longs; or ascii)."""

    def __init__(self, binary: bool = True) -> None:
        self.binary = binary
        self.parts: list[bytes] = []

    def ints(self, *vs: int) -> _T7:
        for v in vs:
            self.parts.append(struct.pack("<i", v) if self.binary else b"%d\n" % v)
        return self

    def longs(self, *vs: int) -> _T7:
        for v in vs:
            self.parts.append(struct.pack("<q", v) if self.binary else b"%d\n" % v)
        return self

    def number(self, v: float) -> _T7:
        self.ints(1)
        self.parts.append(struct.pack("<d", v) if self.binary else repr(v).encode() + b"\n")
        return self

    def string(self, s: bytes, tag: bool = True) -> _T7:
        if tag:
            self.ints(2)
        self.ints(len(s))
        self.parts.append(s + (b"" if self.binary else b"\n"))
        return self

    def cls(self, index: int, name: bytes, version: bytes = b"V 1") -> _T7:
        return self.ints(4, index).string(version, tag=False).string(name, tag=False)

    def data(self) -> bytes:
        return b"".join(self.parts)


def crafted_t7() -> Iterator[tuple[str, bytes]]:
    for binary in (True, False):
        kind = "binary" if binary else "ascii"
        for depth in DEPTHS:
            for what in DEEP_KINDS if LONG or binary else DEEP_KINDS[:2]:
                yield f"{kind}: {what} nested {depth} deep", deep_t7(what, depth, binary)
        cycles = {
            "a table holding itself (valid)": _T7(binary).ints(3, 1, 1).number(1.0).ints(3, 1),
            "a table keyed by itself (valid)": _T7(binary).ints(3, 1, 1).ints(3, 1).number(1.0),
            "an object holding itself (valid)": _T7(binary).cls(1, b"my.C").ints(3, 2, 1).string(b"me").ints(4, 1),
            "a function in its upvalues (valid)": _T7(binary)
            .ints(8, 1)
            .string(b"\x1bLJ", tag=False)
            .ints(3, 2, 1)
            .number(1)
            .ints(8, 1),
            "a tds.Vec holding itself (valid)": _T7(binary).cls(1, b"tds.Vec").longs(1).ints(4, 1),
            "a tds.Hash keyed by itself (valid)": _T7(binary).cls(1, b"tds.Hash").longs(1).ints(4, 1).number(2.0),
            "a tensor whose storage is a table": (
                _T7(binary).ints(3, 1, 1).number(1.0).cls(2, b"torch.FloatTensor").ints(1).longs(1, 1, 1).ints(3, 1)
            ),
            "a tensor whose storage is itself": _T7(binary)
            .cls(1, b"torch.FloatTensor")
            .ints(1)
            .longs(1, 1, 1)
            .ints(4, 1),
            "fields that are the object itself": _T7(binary).cls(1, b"my.C").ints(3, 1),
            "fields that are a tensor": (
                _T7(binary)
                .ints(3, 1, 2)
                .number(1)
                .cls(2, b"torch.FloatStorage")
                .longs(0)
                .number(2)
                .cls(3, b"my.C")
                .ints(4, 2)
            ),
        }
        for label, enc in cycles.items():
            yield f"{kind}: {label}", enc.data()
        for version in (
            b"V 999",
            b"V -1",
            b"V nan",
            b"V inf",
            b"V 1e999",
            b"V ",
            b"V 1 2",
            b"X 1",
            b"V \xff",
            b"V 0x10",
        ):
            yield f"{kind}: version {version!r}", _T7(binary).cls(1, b"my.C", version).ints(3, 2, 0).data()
        for name in (b"torch.\xffTensor", b"", b"torch.FloatTensor\x00", b"nn.NotAModule", b"torch.CudaHalfStorage"):
            yield f"{kind}: class {name!r}", _T7(binary).cls(1, name).ints(3, 2, 0).data()
        for tag in (9, -1, 2**31 - 1, -(2**31)):
            yield f"{kind}: type tag {tag}", _T7(binary).ints(tag).data()
        yield f"{kind}: boolean 2", _T7(binary).ints(5, 2).data()
        for label, ndim, sizes, strides, offset in (
            ("ndim 1025", 1025, [], [], 1),
            ("ndim 70, nil storage", 70, [0] * 70, [1] * 70, 1),
            ("sizes 0 x 2**62 x 2**62, nil storage", 3, [0, 2**62, 2**62], [1, 1, 1], 1),
            ("size 2**62, nil storage", 1, [2**62], [1], 1),
            ("size 2**62, stride 0", 1, [2**62], [0], 1),
            ("stride 2**62", 2, [2, 1], [2**62, 1], 1),
            ("offset -2**63", 1, [1], [1], -(2**63)),
            ("negative size", 1, [-5], [1], 1),
        ):
            e = _T7(binary).cls(1, b"torch.FloatTensor").ints(ndim).longs(*sizes).longs(*strides).longs(offset)
            yield f"{kind}: tensor {label}", e.ints(0).data()
            storage = _T7(binary).cls(2, b"torch.FloatStorage").longs(1)
            storage.parts.append(struct.pack("<f", 1.0) if binary else b"1.0\n")
            yield f"{kind}: tensor {label}, 1-element storage", e.data() + storage.data()
        for count in (2**31 - 1, 2**40, 2**63 - 1, -1):
            yield f"{kind}: storage of {count} elements", _T7(binary).cls(1, b"torch.DoubleStorage").longs(count).data()
            yield f"{kind}: tds.Hash of {count} items", _T7(binary).cls(1, b"tds.Hash").longs(count).data()
        for count in (2**31 - 1, -1):
            yield f"{kind}: table of {count} entries", _T7(binary).ints(3, 1, count).data()
            yield f"{kind}: string of {count} bytes", _T7(binary).ints(2, count).data()
    yield "ascii: a 5000-digit int", b"1" * 5000 + b"\n"
    yield "ascii: a 5000-digit count", b"3\n1\n" + b"9" * 5000 + b"\n"
    yield "ascii: a 5000-digit number", b"1\n" + b"9" * 5000 + b"\n"
    yield "ascii: a 5000-digit storage element", b"4\n1\n3\nV 1\n18\ntorch.LongStorage\n1\n" + b"9" * 5000 + b"\n"
    yield "empty", b""
    yield "a zip", FLB["mixed"]
    yield "a pickle", b"\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94."
    yield "random bytes", random.Random(SEED).randbytes(4096)


# -- the tests ------------------------------------------------------------------------------------------------


def test_the_corpus_loads() -> None:
    """The unmutated files load (the mutations start from valid files)."""
    for name, data in FLB.items():
        assert _not_inert(ft.deserialize(data)) is None, name
    for name, (data, _) in T7.items():
        assert _not_inert(ft.load_t7(io.BytesIO(data))) is None, name
    for name, data in REAL.items():
        assert _not_inert(ft.load_t7(io.BytesIO(data))) is None, name


@pytest.mark.parametrize("name", sorted(FLB))
def test_flb_truncated_and_flipped(name: str, prober: Prober) -> None:
    data, rng = FLB[name], random.Random(f"{SEED}-{name}")
    for label, mutated in [*truncations(data, rng), *bit_flips(data, rng)]:
        prober.check("deserialize", mutated, f"{name}: {label}")
    for label, mutated in _sample(rng, [*truncations(data, rng), *bit_flips(data, rng)], 8):
        prober.check("load", mutated, f"{name}: {label}")
    prober.verify()


@pytest.mark.parametrize("name", sorted(FLB))
def test_flb_manifest_fields(name: str, prober: Prober) -> None:
    members, rng = _members(FLB[name]), random.Random(f"{SEED}-{name}")
    for label, mutated in manifest_rewrites(members, rng):
        prober.check("deserialize", mutated, f"{name}: {label}")
    prober.verify()


@pytest.mark.parametrize("name", ["mixed", "cycles"])
def test_flb_zip_corruption(name: str, prober: Prober) -> None:
    members = _members(FLB[name])
    for label, mutated in zip_corruptions(members):
        prober.check("deserialize", mutated, f"{name}: {label}")
        prober.check("load", mutated, f"{name}: {label}")
    deflated, rng = _pack_zip(members, deflate=True), random.Random(f"{SEED}-{name}-deflate")
    for label, mutated in [*truncations(deflated, rng), *bit_flips(deflated, rng)]:
        prober.check("deserialize", mutated, f"{name} deflated: {label}")
    prober.verify()


# Crafted cases and the check that must be the one refusing each (its message's words): a case
# refused by another check would still pass the prober, which asks only for a clear error.
FLB_REFUSED_BY = {
    "a deflated manifest of 6 MB in 6 KB": "more than its 5926 stored bytes may hold",
    "20000 buffer records naming one member": "buffer records 0 and 1 both name 'buffers/0'",
    "an id defined twice": "id 0 defined twice",
    "a reference forward": "reference to id 1, which is not defined before it",
}
T7_REFUSED_BY = {
    "binary: fields that are the object itself": "found a reference to a T7Object",
    "ascii: fields that are the object itself": "found a reference to a T7Object",
    "binary: version b'V nan'": "expected a class version ('V <n>'), found b'V nan'",
    "binary: version b'V inf'": "expected a class version ('V <n>'), found b'V inf'",
    "binary: tensor ndim 70, nil storage": "expected sizes of an empty torch.FloatTensor that an array can have",
}


def _refused_as_expected(outcomes: dict[str, Any], expected: dict[str, str]) -> None:
    for label, words in expected.items():
        out = outcomes[label]
        assert isinstance(out, Exception) and words in str(out), (label, out)


def test_flb_crafted(prober: Prober) -> None:
    outcomes = {label: prober.check("deserialize", data, label) for label, data in crafted_manifests()}
    _refused_as_expected(outcomes, FLB_REFUSED_BY)
    for label, data in (("a t7 file", T7["tables-binary"][0]), ("empty", b""), ("PK", b"PK\x03\x04")):
        prober.check("deserialize", data, label)
        prober.check("load", data, label)
    prober.verify()


def test_flb_cycles_are_kept() -> None:
    """The valid crafted cycles load as cycles (the hostile-file checks above only bound them)."""
    crafted = dict(crafted_manifests())
    lst = ft.deserialize(crafted["a list holding itself (valid)"])
    assert lst[0] is lst and lst[1] == 1
    d = ft.deserialize(crafted["a dict holding itself (valid)"])
    assert d["me"] is d


@pytest.mark.parametrize("name", sorted(T7))
def test_t7_mutations(name: str, prober: Prober) -> None:
    (data, kw), rng = T7[name], random.Random(f"{SEED}-{name}")
    for label, mutated in [*truncations(data, rng), *bit_flips(data, rng), *field_rewrites(data, kw, rng)]:
        prober.check("load_t7", mutated, f"{name}: {label}")
    prober.verify()


@pytest.mark.skipif(not REAL, reason=f"the Torch7 test files are not here ({TORCHFILE} is absent)")
@pytest.mark.parametrize("name", sorted(REAL) or ["none"])
def test_t7_real_file_mutations(name: str, prober: Prober) -> None:
    data, rng = REAL[name], random.Random(f"{SEED}-{name}")
    kw: dict[str, Any] = {}
    for label, mutated in [*truncations(data, rng), *bit_flips(data, rng), *field_rewrites(data, kw, rng)]:
        prober.check("load_t7", mutated, f"{name}: {label}")
    prober.verify()


def test_t7_crafted(prober: Prober) -> None:
    outcomes = {label: prober.check("load_t7", data, label) for label, data in crafted_t7()}
    prober.verify()
    _refused_as_expected(outcomes, T7_REFUSED_BY)
    for label, out in outcomes.items():  # the valid cycles load as cycles
        if "(valid)" in label:
            assert not isinstance(out, BaseException), (label, out)
    t = outcomes["binary: a table holding itself (valid)"]
    assert t[1.0 if 1.0 in t else 1] is t
    o = outcomes["binary: an object holding itself (valid)"]
    assert o.me is o


def test_nothing_runs_on_load() -> None:
    """Functions in a .t7 file load inert, and a flambeau file cannot name a callable to run."""
    f = ft.load_t7(io.BytesIO(_T7().ints(8, 1).string(b"os.execute('x')", tag=False).ints(0).data()))
    assert isinstance(f, t7mod.T7Function) and f.bytecode == b"os.execute('x')"
    with pytest.raises(SerializationError, match="never runs code"):
        f()
    node = {"type": "object", "id": 0, "class": "builtins.eval", "state": "__import__('os')"}
    with pytest.raises(SerializationError, match="unknown type 'builtins.eval'"):
        ft.deserialize(_with_manifest([], {"format": "flambeau", "format_version": 1, "buffers": [], "root": node}))


def test_time_bound_is_enforced(prober: Prober) -> None:
    """The harness itself: a loader that hangs is reported, not waited for."""
    if not _HAS_TIMER:
        pytest.skip("no setitimer on this platform")
    sleeper = {"deserialize": (lambda b: time.sleep(10), "deserialize")}
    with mock.patch.dict(_LOADERS, sleeper), mock.patch(f"{__name__}.TIME_LIMIT_S", 0.2):
        start = time.perf_counter()
        prober.check("deserialize", b"", "sleeping loader")
    assert time.perf_counter() - start < 1.5 and "did not finish" in prober.failures[0]
    COUNTS["deserialize"] -= 1
