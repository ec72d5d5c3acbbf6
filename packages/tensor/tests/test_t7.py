"""Lua Torch7 .t7 files: load_t7 / save_t7 (flambeau.tensor.t7).

Real files written by Lua Torch7 live in ../shared/data/t7/ (skipped when absent); the rest of the
format is covered by byte strings built here by hand (an encoder independent of save_t7) and by
round trips through save_t7.
"""

from __future__ import annotations

import io
import math
import re
import struct
from pathlib import Path

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.tensor.t7 import TableKey, _same
from flambeau.tensor.testing import cuda_reason

ROOT = Path(__file__).resolve().parents[3]
TORCHFILE = ROOT.parent / "shared" / "data" / "t7" / "torchfile-tests"
needs_files = pytest.mark.skipif(
    not TORCHFILE.is_dir(), reason=f"the Torch7 test files are not here ({TORCHFILE} is absent)"
)


def load(data: bytes, **kw: object) -> object:
    return ft.load_t7(io.BytesIO(data), **kw)


def dump(obj: object, **kw: object) -> bytes:
    buf = io.BytesIO()
    ft.save_t7(buf, obj, **kw)
    return buf.getvalue()


class Enc:
    """Builds .t7 bytes the way Torch7's File:writeObject does (binary or ascii)."""

    def __init__(self, order: str = "<", long_size: int = 8, ascii: bool = False):
        self.order, self.long_size, self.ascii, self.b = order, long_size, ascii, b""

    def ints(self, *v: int, long: bool = False) -> Enc:
        if self.ascii:
            self.b += (" ".join(map(str, v)) + "\n").encode() if v else b""
        else:
            code = "q" if long and self.long_size == 8 else "i"
            self.b += struct.pack(f"{self.order}{len(v)}{code}", *v)
        return self

    def longs(self, *v: int) -> Enc:
        return self.ints(*v, long=True)

    def double(self, x: float) -> Enc:
        self.b += (f"{x:.17g}\n".encode()) if self.ascii else struct.pack(self.order + "d", x)
        return self

    def raw(self, data: bytes) -> Enc:
        self.b += data + (b"\n" if self.ascii and data else b"")
        return self

    def string(self, s: str) -> Enc:
        return self.ints(len(s.encode())).raw(s.encode())

    # objects
    def nil(self) -> Enc:
        return self.ints(0)

    def num(self, x: float) -> Enc:
        return self.ints(1).double(x)

    def str_(self, s: str) -> Enc:
        return self.ints(2).string(s)

    def table(self, index: int, n: int) -> Enc:
        return self.ints(3, index, n)

    def ref(self, tag: int, index: int) -> Enc:
        return self.ints(tag, index)

    def cls(self, index: int, name: str, version: str | None = "V 1") -> Enc:
        self.ints(4, index)
        if version is not None:
            self.string(version)
        return self.string(name)

    def storage(self, index: int, name: str, values: list[float], dtype: str) -> Enc:
        self.cls(index, name).longs(len(values))
        if self.ascii and dtype in ("u1", "i1"):
            return self.raw(np.array(values, dtype=dtype).tobytes())
        if self.ascii:
            self.b += (" ".join(repr(v) for v in values) + "\n").encode() if values else b""
            return self
        if dtype == "long":
            dtype = f"i{self.long_size}"
        self.b += np.array(values, dtype=np.dtype(dtype).newbyteorder(self.order)).tobytes()
        return self

    def tensor(self, index: int, name: str, sizes: list[int], strides: list[int], offset1: int) -> Enc:
        self.cls(index, name).ints(len(sizes))
        return self.longs(*sizes).longs(*strides).longs(offset1)


# -- the real files ---------------------------------------------------------------------------------


@needs_files
def test_every_torchfile_test_file_loads() -> None:
    files = sorted(TORCHFILE.glob("*.t7"))
    assert len(files) == 15
    for f in files:
        ft.load_t7(f)  # nothing raises, nothing runs


@needs_files
def test_doubletensor_and_floattensor() -> None:
    d = ft.load_t7(TORCHFILE / "doubletensor.t7")
    assert isinstance(d, ft.DoubleTensor) and d.tolist() == [[1, 2, 3], [4, 5, 6.9]]
    f = ft.load_t7(TORCHFILE / "floattensor.t7")
    assert isinstance(f, ft.FloatTensor)
    assert math.isclose(f.double().sum().item(), 12.97241666913, rel_tol=1e-7)


@needs_files
def test_tables() -> None:
    assert ft.load_t7(TORCHFILE / "hello=123.t7") == {"hello": 123}
    assert ft.load_t7(TORCHFILE / "list_table.t7") == ["hello", "world", "third item", 123]
    assert ft.load_t7(TORCHFILE / "map_table1.t7") == {0: "zero", 1: "hello", 2: "world", 3: "third item", 4: 123}
    m2 = ft.load_t7(TORCHFILE / "map_table2.t7")
    assert m2 == {1: "hello", 2: "world", 3: "third item", 4: 123, "a": "non number key"}


@needs_files
def test_custom_and_recursive_classes() -> None:
    c = ft.load_t7(TORCHFILE / "custom_class.t7")
    assert isinstance(c, ft.T7Object) and c.typename == "Blah" and c.fields == {}
    assert "Blah" in repr(c)
    r = ft.load_t7(TORCHFILE / "recursive_class.t7")
    assert isinstance(r, ft.T7Object) and r.typename == "A"
    assert r.a is r and r.fields["a"] is r
    assert r == ft.load_t7(TORCHFILE / "recursive_class.t7")  # cycles compare equal
    assert "..." in repr(r)


@needs_files
def test_recursive_kv_table() -> None:
    t = ft.load_t7(TORCHFILE / "recursive_kv_table.t7")
    assert isinstance(t, dict) and len(t) == 1
    ((k, v),) = t.items()
    assert isinstance(k, TableKey) and k.value is t and v is t


@needs_files
def test_tds() -> None:
    h = ft.load_t7(TORCHFILE / "tds_hash.t7")
    assert isinstance(h, dict) and len(h) == 3 and h[1] == 2 and h[10] == 11
    assert ft.load_t7(TORCHFILE / "tds_vec.t7") == [123, 456]


@needs_files
def test_functions_load_but_cannot_run() -> None:
    for name in ("function.t7", "function_upvals.t7"):
        f = ft.load_t7(TORCHFILE / name)
        assert isinstance(f, ft.T7Function) and f.bytecode.startswith(b"\x1bLJ")
        with pytest.raises(ft.SerializationError, match="cannot be called"):
            f(1, 2)
    up = ft.load_t7(TORCHFILE / "function_upvals.t7").upvalues
    assert isinstance(up, list) and all(isinstance(u, dict) and "name" in u for u in up)


@needs_files
def test_nngraph_files() -> None:
    node = ft.load_t7(TORCHFILE / "nngraph_node.t7")
    assert isinstance(node, ft.T7Object) and node.typename == "nngraph.Node"
    assert node.data["annotations"]["hello"] == 123
    g = ft.load_t7(TORCHFILE / "gmodule_with_linear_identity.t7")
    assert isinstance(g, ft.T7Object) and g.typename == "nn.gModule"
    assert g.nInputs == 2 and g.outnode.typename == "nngraph.Node"


# -- hand-built files: every type, both formats, both byte orders, both long sizes -------------------

LAYOUTS = [("<", 8, False), ("<", 4, False), (">", 8, False), (">", 4, False), ("<", 8, True)]
LAYOUT_IDS = ["le64", "le32", "be64", "be32", "ascii"]
KINDS = [
    ("Byte", "u1", ft.uint8, [0, 7, 255]),
    ("Char", "i1", ft.int8, [-128, 5, 127]),
    ("Short", "i2", ft.int16, [-300, 2, 30000]),
    ("Int", "i4", ft.int32, [-(2**31), 9, 2**31 - 1]),
    ("Long", "long", ft.int64, [-(2**31), 9, 2**31 - 1]),
    ("Float", "f4", ft.float32, [0.5, -1.25, 3.0]),
    ("Double", "f8", ft.float64, [0.1, -2.5, 1e300]),
    ("Half", "f2", ft.float16, [0.5, -2.0, 1024.0]),
]


@pytest.mark.parametrize(("order", "long_size", "ascii"), LAYOUTS, ids=LAYOUT_IDS)
@pytest.mark.parametrize("cuda", [False, True], ids=["cpu", "cuda"])
@pytest.mark.parametrize(("kind", "code", "dtype", "values"), KINDS, ids=[k[0] for k in KINDS])
def test_every_tensor_type_every_layout(
    order: str, long_size: int, ascii: bool, cuda: bool, kind: str, code: str, dtype: object, values: list[float]
) -> None:
    prefix = "torch.Cuda" + ("" if kind == "Float" else kind) if cuda else "torch." + kind
    e = Enc(order, long_size, ascii)
    e.tensor(1, prefix + "Tensor", [2], [2], 2)  # elements 2 and 4 (1-based offset 2, stride 2)
    e.storage(2, prefix + "Storage", [values[0], values[1], values[2], values[0]], code)
    t = load(e.b)
    assert isinstance(t, ft.Tensor) and t.dtype == dtype and t.device.type == "cpu"
    assert t.tolist() == [values[1], values[0]]
    assert t.storage_offset() == 1 and t.stride() == (2,)
    # detection picked the right layout; forcing it gives the same
    forced = {"format": "ascii"} if ascii else {"byteorder": "little" if order == "<" else "big"}
    if not ascii:
        forced["long_size"] = long_size
    assert load(e.b, **forced).tolist() == t.tolist()
    s = load(Enc(order, long_size, ascii).storage(1, prefix + "Storage", values, code).b)
    assert isinstance(s, ft.Storage) and s.dtype == dtype and s.tolist() == values


@pytest.mark.parametrize(("order", "long_size", "ascii"), LAYOUTS, ids=LAYOUT_IDS)
def test_scalars_strings_tables_layouts(order: str, long_size: int, ascii: bool) -> None:
    e = Enc(order, long_size, ascii).table(1, 6)
    e.str_("n").num(2.5).str_("i").num(-7).str_("t").ints(5, 1).str_("f").ints(5, 0)
    e.str_("s").str_(" spaced\nline ").num(1).nil()
    assert load(e.b) == {"n": 2.5, "i": -7, "t": True, "f": False, "s": " spaced\nline ", 1: None}
    assert load(Enc(order, long_size, ascii).str_("").b) == ""
    assert load(Enc(order, long_size, ascii).nil().b) is None


def test_numbers_and_strings_decoding() -> None:
    v = load(Enc().table(1, 3).num(1).num(3.0).num(2).num(-0.0).num(3).num(2.0**60).b)
    assert v == [3, -0.0, 2.0**60]
    assert type(v[0]) is int and type(v[1]) is float and type(v[2]) is float
    assert load(Enc().ints(2).string("é").b) == "é"
    e = Enc().ints(2, 2).raw(b"\xff\xfe")
    assert load(e.b) == b"\xff\xfe"  # not UTF-8: bytes


def test_list_detection() -> None:
    assert load(Enc().table(1, 2).num(2).str_("b").num(1).str_("a").b) == ["a", "b"]
    assert load(Enc().table(1, 2).num(1).str_("a").num(3).str_("c").b) == {1: "a", 3: "c"}
    assert load(Enc().table(1, 0).b) == {}


def test_shared_storage_and_tables() -> None:
    e = Enc().table(1, 4)
    e.num(1).tensor(2, "torch.DoubleTensor", [2, 2], [2, 1], 1).storage(3, "torch.DoubleStorage", [1, 2, 3, 4], "f8")
    e.num(2).tensor(4, "torch.DoubleTensor", [2], [2], 2).ref(4, 3)  # column 2 of the same storage
    e.num(3).ref(4, 3)  # the storage itself
    e.num(4).ref(4, 2)  # the first tensor again
    a, col, s, again = load(e.b)
    assert again is a and col.tolist() == [2, 4] and isinstance(s, ft.Storage)
    col.fill_(0)
    assert a.tolist() == [[1, 0], [3, 0]] and s.tolist() == [1, 0, 3, 0]
    s[0] = 9
    assert a[0][0].item() == 9

    e = Enc().table(1, 2).num(1).table(2, 1).str_("x").num(1).num(2).ref(3, 2)
    first, second = load(e.b)
    assert first is second and first == {"x": 1}


def test_recursion_through_tables_and_objects() -> None:
    e = Enc().table(1, 1).str_("self").ref(3, 1)
    t = load(e.b)
    assert t["self"] is t
    e = Enc().cls(1, "Node").table(2, 2).str_("next").cls(3, "Node").table(4, 1).str_("next").ref(4, 1)
    e.str_("name").str_("a")
    a = load(e.b)
    assert a.next.next is a and a.name == "a" and a.next.typename == "Node"


def test_legacy_encodings() -> None:
    # a class written before versions: the name comes first, version 0
    o = load(Enc().cls(1, "Old", version=None).table(2, 1).str_("k").num(1).b)
    assert isinstance(o, ft.T7Object) and o.typename == "Old" and o.k == 1 and o.version == 0
    # function tags 6 (no upvalues) and 7 (legacy upvalues: a list of values)
    f6 = load(Enc().ints(6).string("\x1bLJbytes").b)
    assert isinstance(f6, ft.T7Function) and f6.kind == 6 and f6.upvalues is None
    f7 = load(Enc().ints(7, 1).string("\x1bLJ").table(2, 1).num(1).num(42).b)
    assert f7.kind == 7 and f7.upvalues == [42]
    with pytest.raises(ft.SerializationError, match="cannot be called"):
        f7()


def test_empty_tensors() -> None:
    t = load(Enc().cls(1, "torch.FloatTensor").ints(0).longs(1).nil().b)
    assert t.dtype == ft.float32 and t.nelement() == 0
    t = load(Enc().tensor(1, "torch.LongTensor", [0, 3], [3, 1], 1).storage(2, "torch.LongStorage", [], "long").b)
    assert t.dtype == ft.int64 and tuple(t.size()) == (0, 3)


# -- round trips through save_t7 ---------------------------------------------------------------------

SAVE_LAYOUTS = [
    {"format": "binary"},
    {"format": "binary", "long_size": 4},
    {"format": "binary", "byteorder": "big"},
    {"format": "binary", "byteorder": "big", "long_size": 4},
    {"format": "ascii"},
]


def _sample() -> dict[object, object]:
    w = ft.DoubleTensor([[1.5, -2, 3], [4, 5, 6]])
    shared = {"w": w, "wt": w.t(), "col": w.select(1, 2), "store": w.storage()}
    tensors = {
        name: getattr(ft, name + "Tensor")([[1, 2], [3, 4]])
        for name in ("Byte", "Char", "Short", "Int", "Long", "Float", "Double", "Half")
    }
    inner = {"deep": [1, 2, {"x": "y"}]}
    obj: dict[object, object] = {
        "tensors": tensors,
        "shared": shared,
        "mixed": {1: "one", "two": 2, 3.5: True, False: "no"},
        "list": [1, "two", 3.25, None, [4, [5]]],
        "inner_a": inner,
        "inner_b": inner,
        "object": ft.T7Object("nn.Unknown", {"weight": w, "train": True, "size": [2, 3]}),
        "text": "héllo\nworld ",
        "blob": b"\x00\xff\n",
        "noncontiguous": ft.range(1, 12).view(3, 4).narrow(1, 1, 2),
        "big": 2**53,
        "nan_inf": [float("inf"), -float("inf")],
    }
    obj["self"] = obj
    return obj


@pytest.mark.parametrize("layout", SAVE_LAYOUTS, ids=["le64", "le32", "be64", "be32", "ascii"])
def test_round_trip(layout: dict[str, object]) -> None:
    obj = _sample()
    back = load(dump(obj, **layout))
    assert _same(back, obj)
    assert back["self"] is back
    assert back["inner_a"] is back["inner_b"]
    assert back["object"] == obj["object"] and back["object"].weight is back["shared"]["w"]
    w, wt, col, store = (back["shared"][k] for k in ("w", "wt", "col", "store"))
    w.fill_(7)  # everything over w's storage sees it
    assert wt.tolist() == [[7, 7]] * 3 and col.tolist() == [7, 7] and store.tolist() == [7] * 6
    for name, t in back["tensors"].items():
        assert t.dtype == obj["tensors"][name].dtype
    assert load(dump(obj, **layout)) is not None  # saving twice works (memo is per call)


def test_round_trip_nan_and_scalars() -> None:
    t = ft.FloatTensor([float("nan"), 1.0])
    for fmt in ("binary", "ascii"):
        back = load(dump({"t": t, "x": float("nan"), "s": ft.DoubleTensor([3.0]).sum()}, format=fmt))
        assert math.isnan(back["x"]) and math.isnan(back["t"][0].item()) and back["t"][1].item() == 1
        assert back["s"] == 3


def test_round_trip_functions_and_table_keys() -> None:
    f = ft.T7Function(b"\x1bLJcode", [{"name": "x", "value": 1}])
    key_table: dict[object, object] = {}
    key_table[TableKey(key_table)] = key_table
    back = load(dump({"f": f, "g": f, "kv": key_table}))
    assert back["f"] == f and back["f"] is back["g"]
    ((k, v),) = back["kv"].items()
    assert k.value is back["kv"] and v is back["kv"]


def test_bytes_match_torch7_layout() -> None:
    # torch.save('x', {hello = 123}) on x86_64 (the bytes of hello=123.t7)
    expect = Enc().table(1, 1).str_("hello").num(123).b
    assert dump({"hello": 123}) == expect
    assert dump({"hello": 123}, format="ascii") == b"3\n1\n1\n2\n5\nhello\n1\n123.0\n"
    t = dump(ft.FloatTensor([1, 2]), long_size=4, byteorder="big")
    assert t == Enc(">", 4).tensor(1, "torch.FloatTensor", [2], [1], 1).storage(2, "torch.FloatStorage", [1, 2], "f4").b


@needs_files
def test_real_files_round_trip() -> None:
    for f in sorted(TORCHFILE.glob("*.t7")):
        if f.name.startswith("gmodule"):
            continue  # holds nn modules converted by flambeau.nn's hooks (tested there)
        obj = ft.load_t7(f)
        for fmt in ("binary", "ascii"):
            assert _same(load(dump(obj, format=fmt)), obj), f.name
    for name in ("hello=123.t7", "list_table.t7", "doubletensor.t7", "recursive_class.t7", "custom_class.t7"):
        assert dump(ft.load_t7(TORCHFILE / name)) == (TORCHFILE / name).read_bytes(), name


def test_register_t7_class_hooks() -> None:
    class Pair:
        def __init__(self, a: object, b: object):
            self.a, self.b = a, b

    class SubPair(Pair):
        pass

    ft.register_t7_class(
        "test.Pair", load=lambda f: Pair(f["a"], f["b"]), save=(Pair, lambda p: ("test.Pair", {"a": p.a, "b": p.b}))
    )
    t = ft.DoubleTensor([1, 2])
    p = SubPair(t, "x")
    back = load(dump([p, p, t]))
    assert type(back[0]) is Pair and back[0] is back[1] and back[0].b == "x"
    assert back[0].a is back[2]
    raw = Enc().cls(1, "test.Pair").table(2, 1).str_("a").num(1).b
    with pytest.raises(ft.SerializationError, match=r"at byte 0: the fields of a test.Pair could not be converted"):
        load(raw)  # the hook's KeyError for 'b', wrapped
    with pytest.raises(ft.RegistrationError):
        ft.register_t7_class("test.Pair", load=lambda f: f, override=False)
    with pytest.raises(ft.RegistrationError, match="Pair already has a save hook"):
        ft.register_t7_class("test.Other", save=(Pair, lambda p: ("test.Other", {})), override=False)
    with pytest.raises(ft.ArgumentError):
        ft.register_t7_class("test.Nothing")


def test_save_refuses_what_t7_cannot_hold() -> None:
    with pytest.raises(
        ft.SerializationError, match=r"obj\['f'\] is a builtin_function_or_method, which a .t7 file cannot hold"
    ):
        dump({"f": len})
    with pytest.raises(ft.SerializationError, match="beyond 2\\*\\*53"):
        dump([2**60])
    with pytest.raises(ft.SerializationError, match="None key"):
        dump({None: 1})
    with pytest.raises(ft.SerializationError, match="beyond 4 bytes"):
        dump(ft.LongTensor([2**40]), long_size=4)
    with pytest.raises(ft.ArgumentError):
        dump(1, format="b64")
    with pytest.raises(ft.ArgumentError, match="byteorder must be 'little' or 'big', not 'middle'"):
        dump(1, byteorder="middle")
    with pytest.raises(ft.ArgumentError, match="long_size must be 4 or 8, not 2"):
        dump(1, long_size=2)
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ft.SerializationError, match="obj is nested too deeply to write"):
        dump(deep)


# -- malformed, truncated and unsupported input -------------------------------------------------------


def err(data: bytes, **kw: object) -> str:
    with pytest.raises(ft.SerializationError) as info:
        load(data, **kw)
    return str(info.value)


def test_truncated_everywhere() -> None:
    e = Enc().table(1, 2).str_("w").tensor(2, "torch.FloatTensor", [2], [1], 1)
    e.storage(3, "torch.FloatStorage", [1, 2], "f4").str_("s").str_("abc")
    full = e.b
    load(full)
    for cut in range(1, len(full)):
        msg = err(full[:cut])
        m = re.search(r"at byte (\d+): expected (.+)", msg)
        assert m is not None, (cut, msg)
        assert int(m.group(1)) <= cut


def test_malformed_messages() -> None:
    # binary, little-endian, 8-byte longs where not said otherwise; forcing the layout keeps the messages exact
    le = {"byteorder": "little", "long_size": 8, "format": "binary"}
    msg = err(Enc().table(1, 1).ints(9).ints(0).b, **le)
    assert "at byte 12: expected a type tag (0 to 8), found 9" in msg
    msg = err(Enc().ints(5, 2).b, **le)
    assert "at byte 4: expected a boolean (an int 0 or 1), found 2" in msg
    msg = err(Enc().ints(2, -1).b, **le)
    assert "at byte 4: expected the length of a string, found -1 (negative)" in msg
    msg = err(Enc().ints(2, 100).raw(b"abc").b, **le)
    assert "at byte 4: expected the length of a string, found 100, more than the 3 bytes left: truncated" in msg
    msg = err(Enc().ints(3, 1, 5).num(1).b, **le)
    assert "at byte 8: expected a table's entry count, found 5" in msg
    msg = err(
        Enc().tensor(1, "torch.DoubleTensor", [3], [1], 2).storage(2, "torch.DoubleStorage", [1, 2], "f8").b, **le
    )
    assert "at byte 37: expected sizes, strides and offset of a torch.DoubleTensor that fit its storage of 2" in msg
    msg = err(Enc().tensor(1, "torch.DoubleTensor", [2], [1], 1).storage(2, "torch.FloatStorage", [1, 2], "f4").b, **le)
    assert "at byte 65: expected a torch.DoubleStorage for a torch.DoubleTensor, found flambeau.FloatStorage" in msg
    msg = err(Enc().tensor(1, "torch.DoubleTensor", [-2], [1], 1).b, **le)
    assert "expected the sizes of a torch.DoubleTensor (not negative), found [-2]" in msg
    msg = err(Enc().cls(1, "torch.DoubleTensor").ints(5000).b, **le)
    assert "expected the dimension count of a torch.DoubleTensor (0 to 1024), found 5000" in msg
    msg = err(Enc().cls(1, "my.Custom").ints(1).double(3).b, **le)
    assert "at byte 28: expected the table of a my.Custom's fields (type tag 3), found type tag 1" in msg
    msg = err(Enc().cls(1, "torch.FloatStorage").longs(2**40).b, **le)
    assert "expected the size of a FloatStorage, found 1099511627776, more than the 0 bytes left: truncated" in msg
    msg = err(Enc().ints(4, 1).ints(3).raw(b"V \xff").ints(2).raw(b"\xff\xfe").b, **le)
    assert "at byte 0: expected a torch class name in ascii" in msg
    msg = err(Enc().ints(1).raw(b"\x00\x00").b, **le)
    assert "at byte 4: expected a number (a double), but the file ends (2 bytes left): truncated" in msg


def test_ascii_malformed() -> None:
    msg = err(b"1\nabc\n")
    assert "(ascii): at byte 2: expected a number (a double), found b'abc'" in msg
    msg = err(b"3\n1\nx\n", format="ascii")
    assert "at byte 4: expected a table's entry count, found b'x'" in msg
    msg = err(b"4\n1\n3\nV 1\n16\ntorch.IntStorage\n2\n1 zz\n")
    assert "expected 2 elements of a IntStorage, found a token that is not one" in msg


def test_not_a_t7_file_and_wrong_layouts() -> None:
    assert "the file is empty" in err(b"")
    assert "at byte 0: expected a type tag 0 to 8" in err(b"PK\x03\x04 a zip file")
    assert "not a Torch7 file" in err(b"\x00\x00\x00\x09", format="binary", byteorder="big")
    data = Enc(">", 8).tensor(1, "torch.IntTensor", [2], [1], 1).storage(2, "torch.IntStorage", [1, 2], "i4").b
    assert load(data).tolist() == [1, 2]
    assert "not a Torch7 file" in err(data, byteorder="little")  # forced wrong: refused, nothing guessed
    msg = err(data, byteorder="big", long_size=4)  # forced wrong long size
    assert "binary, big-endian, 4-byte longs" in msg and "at byte" in msg
    with pytest.raises(ft.ArgumentError):
        load(data, long_size=2)
    with pytest.raises(ft.ArgumentError):
        load(data, byteorder="middle")


def test_nested_too_deep() -> None:
    e = Enc()
    for i in range(1, 3000):
        e.table(i, 1).num(1)
    e.nil()
    assert "nested too deeply" in err(e.b, format="binary", byteorder="little", long_size=8)


def test_trailing_bytes_tolerated_and_file_paths(tmp_path: Path) -> None:
    data = Enc().num(5).b
    assert load(data + b"junk") == 5
    p = tmp_path / "x.t7"
    ft.save_t7(p, {"a": ft.IntTensor([1, 2])})
    assert ft.load_t7(str(p))["a"].tolist() == [1, 2]


def test_t7object_api() -> None:
    o = ft.T7Object("nn.Foo", {"w": 1})
    o.extra = 2
    assert o.fields == {"w": 1, "extra": 2} and o["extra"] == 2 and "extra" in dir(o)
    with pytest.raises(AttributeError, match="nn.Foo object has no field 'nope'"):
        _ = o.nope
    assert o != ft.T7Object("nn.Foo", {"w": 1})
    with pytest.raises(TypeError):
        hash(o)


def test_device_argument() -> None:
    data = dump({"a": ft.FloatTensor([1, 2, 3]), "s": ft.FloatTensor([1, 2, 3]).narrow(0, 1, 2)})
    assert load(data, device="cpu")["a"].device.type == "cpu"
    if cuda_reason():
        with pytest.raises(ft.DeviceUnavailableError):
            load(data, device="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(bool(cuda_reason()), reason=f"no cuda here: {cuda_reason()}")
def test_device_cuda() -> None:
    w = ft.FloatTensor([[1, 2], [3, 4]])
    back = load(dump({"w": w, "col": w.select(1, 0)}), device="cuda")
    assert back["w"].device.type == "cuda" and back["w"].dtype == ft.float32
    back["w"].fill_(5)
    assert back["col"].cpu().tolist() == [5, 5]
    assert _same(load(dump(back)), {"w": ft.FloatTensor([[5, 5], [5, 5]]), "col": ft.FloatTensor([5, 5])})
