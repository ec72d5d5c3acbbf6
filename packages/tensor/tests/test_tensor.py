"""Tensor and Storage: constructors, structure, views over shared storage, copying, types.

Everything but numpy interop and printing is a device suite (tensors made on the device under test).
"""

from __future__ import annotations

import numpy as np
import pytest
from support import typename

import flambeau.tensor as ft
from flambeau.tensor.testing import device, host, limitation, shares_memory

# -- constructors (Torch7 1.3) --------------------------------------------------------------------


@pytest.mark.device
def test_empty_constructor_has_no_elements() -> None:
    t = ft.DoubleTensor()
    assert t.nelement() == 0 and t.type() == typename("DoubleTensor")


@pytest.mark.device
def test_sizes_constructor_is_uninitialised_of_that_size_and_type() -> None:
    t = ft.FloatTensor(2, 3, 4)
    assert t.size() == (2, 3, 4) and t.dtype == np.float32 and t.is_contiguous()
    assert ft.LongTensor(ft.Size([5])).size() == (5,)


@pytest.mark.device
def test_nested_lists_give_the_shape_of_the_nesting() -> None:
    t = ft.Tensor([[1, 2, 3], [4, 5, 6]])
    assert t.size() == (2, 3) and t.type() == typename("DoubleTensor")
    assert t.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert ft.ByteTensor([1, 0, 1]).tolist() == [1, 0, 1]


@pytest.mark.device
def test_storage_offset_sizes_strides_constructor_views_the_storage() -> None:
    s = ft.DoubleStorage(list(range(10)))
    t = ft.DoubleTensor(s, 2, (2, 3), (4, 1))
    assert t.tolist() == [[2, 3, 4], [6, 7, 8]]
    assert t.storage_offset() == 2 and t.stride() == (4, 1)
    t[0, 0] = 100
    assert s[2] == 100  # the storage is shared, not copied
    whole = ft.DoubleTensor(s)
    assert whole.size() == (10,) and whole[2].item() == 100


@pytest.mark.device
def test_tensor_constructor_shares_the_other_tensors_storage() -> None:
    a = ft.zeros(3)
    b = ft.DoubleTensor(a)
    b[1] = 7
    assert a[1].item() == 7 and b.is_set_to(a)


@pytest.mark.device
@limitation("zero strides", devices=("cuda",))
def test_sizes_and_strides_constructor_with_zero_stride_aliases_elements() -> None:
    t = ft.DoubleTensor(ft.Size([3, 2]), (0, 1))
    t.fill_(0)
    t[0, 1] = 5
    assert t[2, 1].item() == 5 and t.stride() == (0, 1)


@pytest.mark.device
def test_constructor_from_a_storage_out_of_range_is_an_index_error() -> None:
    s = ft.DoubleStorage(4)
    with pytest.raises(ft.IndexError, match="beyond a storage of size 4"):
        ft.DoubleTensor(s, 1, (2, 2))


@pytest.mark.device
def test_storage_of_another_type_is_refused_not_silently_copied() -> None:
    with pytest.raises(ft.DTypeError, match=rf"its type \({typename('LongStorage')}\) must match"):
        ft.DoubleTensor(ft.LongStorage([2, 3]))


@pytest.mark.device
def test_single_float_is_not_a_size() -> None:
    with pytest.raises(ft.ArgumentError, match="not a size"):
        ft.Tensor(2.5)


@pytest.mark.device
def test_tensor_function_infers_dtype() -> None:
    assert ft.tensor([1, 2]).dtype == np.int64
    assert ft.tensor([1.0, 2]).dtype == np.float64
    assert ft.tensor([True, False]).type() == typename("ByteTensor")
    assert ft.tensor(3.0).dim() == 0 and ft.tensor(3.0).item() == 3.0


# -- structure (Torch7 1.4) ------------------------------------------------------------------------


@pytest.mark.device
def test_structure_queries() -> None:
    t = ft.zeros(2, 3, 4)
    assert t.dim() == t.n_dimension() == 3
    assert t.size(1) == 3 and t.size(-1) == 4
    assert t.stride() == (12, 4, 1) and t.stride(0) == 12
    assert t.nelement() == ft.numel(t) == 24
    assert t.element_size() == 8 and ft.zeros(2, dtype=ft.ByteTensor).element_size() == 1
    assert t.is_size((2, 3, 4)) and t.is_same_size_as(ft.ones(2, 3, 4)) and not t.is_same_size_as(ft.ones(4))
    assert ft.is_tensor(t) and not ft.is_tensor(host(t)) and ft.is_storage(t.storage())
    assert ft.typename(t) == typename("DoubleTensor") and ft.typename(t.storage()) == typename("DoubleStorage")
    with pytest.raises(ft.IndexError, match="dim 3 out of range"):
        t.size(3)


@pytest.mark.device
def test_is_contiguous_tracks_views() -> None:
    t = ft.zeros(3, 4)
    assert t.is_contiguous() and not t.t().is_contiguous() and t.t().contiguous().is_contiguous()
    c = t.contiguous()
    assert c is t  # already contiguous: self, no copy
    assert t.t().contiguous().is_contiguous() and not t.t().contiguous().is_set_to(t.t())


# -- views share storage (Torch7 1.7) ------------------------------------------------------------


@pytest.mark.device
@pytest.mark.parametrize(
    "make",
    [
        lambda a: a.select(0, 1),
        lambda a: a.narrow(1, 1, 2),
        lambda a: a.sub(0, 1, 1, 2),
        lambda a: a.transpose(0, 1),
        lambda a: a.t(),
        pytest.param(lambda a: a.unfold(1, 2, 1), marks=limitation("strided storage")),
        lambda a: a.view(12),
        lambda a: a.view_as(ft.zeros(2, 6)),
        lambda a: a.unsqueeze(0),
        lambda a: a.permute(1, 0),
        lambda a: a[1:, ::2],
        lambda a: a[None, ..., 0],
        lambda a: a.split(1)[2],
        lambda a: a.chunk(2, 1)[1],
        lambda a: a.narrow(0, 0, 1).squeeze(),
    ],
    ids=[
        "select",
        "narrow",
        "sub",
        "transpose",
        "t",
        "unfold",
        "view",
        "view_as",
        "unsqueeze",
        "permute",
        "slice",
        "none-ellipsis",
        "split",
        "chunk",
        "squeeze",
    ],
)
def test_view_ops_write_through_to_the_original(make) -> None:  # noqa: ANN001
    a = ft.arange(12).view(3, 4).double()
    v = make(a)
    assert v.storage().data_ptr() == a.storage().data_ptr()
    v.fill_(-1)
    assert host(a).min() == -1
    assert shares_memory(v, a)


@pytest.mark.device
def test_select_fill_changes_row_of_the_original_as_on_the_slides() -> None:
    a = ft.zeros(4, 3)
    a.select(0, 2).fill_(3)
    assert a.tolist() == [[0, 0, 0], [0, 0, 0], [3, 3, 3], [0, 0, 0]]


@pytest.mark.device
def test_expand_uses_stride_zero() -> None:
    a = ft.tensor([[1.0], [2.0]])
    e = a.expand(2, 3)
    assert e.stride() == (1, 0) and e.tolist() == [[1, 1, 1], [2, 2, 2]]
    a[0, 0] = 9
    assert e[0].tolist() == [9, 9, 9]
    with pytest.raises(ft.ShapeError, match=r"dim 0 has size 2 \(not 1\) and cannot grow to 3"):
        ft.zeros(2, 1).expand(3, 1)


@pytest.mark.device
def test_view_of_non_contiguous_tensor_is_refused_and_reshape_copies() -> None:
    a = ft.arange(6).view(2, 3)
    with pytest.raises(ft.ShapeError, match="not contiguous"):
        a.t().view(6)
    r = a.t().reshape(6)
    assert r.tolist() == [0, 3, 1, 4, 2, 5] and not shares_memory(r, a)


@pytest.mark.device
def test_view_with_wrong_element_count_names_both_sizes() -> None:
    with pytest.raises(ft.ShapeError, match=r"size 4x4 has 16 elements but the tensor \(size 2x3\) has 6"):
        ft.zeros(2, 3).view(4, 4)


@pytest.mark.device
def test_storage_offset_of_views() -> None:
    a = ft.arange(12).view(3, 4)
    assert a.select(0, 1).storage_offset() == 4
    assert a.narrow(1, 2, 2).storage_offset() == 2
    assert a[2, 3].storage_offset() == 11 and a[2, 3].dim() == 0
    assert a.storage().size() == 12


# -- [] read and write (Torch7 1.5) --------------------------------------------------------------


@pytest.mark.device
def test_getitem_forms() -> None:
    a = ft.arange(12).view(3, 4)
    assert a[1].tolist() == [4, 5, 6, 7]
    assert a[-1, -1].item() == 11
    assert a[:, 1].tolist() == [1, 5, 9]
    assert a[..., 0].tolist() == [0, 4, 8]
    assert a[None].size() == (1, 3, 4)
    assert a[ft.LongTensor([2, 0])].tolist() == [[8, 9, 10, 11], [0, 1, 2, 3]]
    assert a[a.gt(8)].tolist() == [9, 10, 11]
    assert a[ft.ByteTensor([1, 0, 1])].size() == (2, 4)


@pytest.mark.device
def test_integer_index_of_1d_is_a_0d_view() -> None:
    a = ft.zeros(3)
    x = a[1]
    x.fill_(4)
    assert x.dim() == 0 and a.tolist() == [0, 4, 0] and float(x) == 4.0


@pytest.mark.device
def test_setitem_forms() -> None:
    a = ft.zeros(3, 4)
    a[0] = 1
    a[1] = ft.tensor([1.0, 2.0, 3.0, 4.0])
    a[2, 1:3] = ft.tensor([7.0, 8.0])
    a[a.eq(1)] = 5
    assert a.tolist() == [[5, 5, 5, 5], [5, 2, 3, 4], [0, 7, 8, 0]]
    a[ft.LongTensor([0, 2]), 0] = -1
    assert a[:, 0].tolist() == [-1, 5, -1]


def test_index_put_duplicates_without_accumulate_take_the_last_value_on_the_cpu() -> None:
    # Torch7's order (and numpy's); on cuda which one lands is undefined, as in PyTorch (the op's doc).
    a = ft.zeros(3, 2).index_put((ft.LongTensor([2, 0, 2]),), ft.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]))
    assert a.tolist() == [[2.0, 2.0], [0.0, 0.0], [3.0, 3.0]]
    b = ft.zeros(3, 2).index_put(
        (ft.LongTensor([2, 0, 2]),), ft.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]), accumulate=True
    )
    assert b.tolist() == [[2.0, 2.0], [0.0, 0.0], [4.0, 4.0]]


@pytest.mark.device
def test_failed_setitem_leaves_the_target_unchanged() -> None:
    a = ft.arange(6).view(2, 3).double()
    before = a.clone()
    with pytest.raises(ft.ShapeError):
        a[0] = ft.zeros(4)
    with pytest.raises(ft.IndexError):
        a[5] = 1
    assert a.equal(before)


@pytest.mark.device
def test_index_out_of_range_names_the_problem() -> None:
    with pytest.raises(ft.IndexError, match="(?i)index 3 is out of bounds"):
        ft.zeros(3)[3]
    with pytest.raises(IndexError):  # the builtin still catches it
        ft.zeros(2, 2)[0, 5]
    with pytest.raises(ft.DTypeError, match="LongTensors or ByteTensor masks"):
        ft.zeros(3)[ft.tensor([0.5])]


# -- copying, filling, resizing (Torch7 1.6) -------------------------------------------------------


@pytest.mark.device
def test_copy_converts_any_type_and_needs_only_equal_counts() -> None:
    a = ft.zeros(2, 3)
    a.copy_(ft.IntTensor([1, 2, 3, 4, 5, 6]))
    assert a.tolist() == [[1, 2, 3], [4, 5, 6]] and a.dtype == np.float64
    b = ft.zeros(2, 3, dtype=ft.ByteTensor).copy_(ft.tensor([1.9, 2.1, 3.0]))  # broadcast, truncating
    assert b.tolist() == [[1, 2, 3], [1, 2, 3]]
    with pytest.raises(ft.ShapeError, match="6 elements"):
        a.copy_(ft.zeros(4))


@pytest.mark.device
def test_fill_zero_clone() -> None:
    a = ft.zeros(2, 2).fill_(3)
    c = a.clone()
    a.zero_()
    assert c.tolist() == [[3, 3], [3, 3]] and a.tolist() == [[0, 0], [0, 0]]
    assert ft.zeros(2).fill_(ft.tensor(2.5)).tolist() == [2.5, 2.5]


@pytest.mark.device
def test_resize_keeps_storage_when_it_fits_and_grows_when_not() -> None:
    a = ft.arange(6).double()
    ptr = a.data_ptr()
    a.resize_(2, 2)
    assert a.size() == (2, 2) and a.data_ptr() == ptr and a.tolist() == [[0, 1], [2, 3]]
    a.resize_(3, 3)
    assert a.size() == (3, 3) and a.view(-1)[:6].tolist() == [0, 1, 2, 3, 4, 5]
    b = ft.zeros(5).resize_as_(ft.zeros(1, 5))
    assert b.size() == (1, 5) and b.is_contiguous()


@pytest.mark.device
def test_set_makes_self_a_view() -> None:
    a = ft.arange(4).double()
    b = ft.zeros(1)
    b.set_(a)
    assert b.is_set_to(a)
    c = ft.DoubleTensor().set_(a.storage(), 1, (2,))
    c.fill_(9)
    assert a.tolist() == [0, 9, 9, 3]


# -- types (Torch7 1.10) --------------------------------------------------------------------------------


@pytest.mark.device
@pytest.mark.parametrize(
    ("method", "name", "dtype"),
    [
        ("byte", "Byte", np.uint8),
        ("char", "Char", np.int8),
        ("short", "Short", np.int16),
        ("int", "Int", np.int32),
        ("long", "Long", np.int64),
        ("half", "Half", np.float16),
        ("float", "Float", np.float32),
        ("double", "Double", np.float64),
    ],
)
def test_type_conversions(method: str, name: str, dtype: type) -> None:
    t = ft.tensor([1.5, 2.5])
    c = getattr(t, method)()
    assert c.dtype == dtype and c.type() == typename(f"{name}Tensor")
    assert isinstance(c, getattr(ft, f"{name}Tensor"))
    assert t.type(typename(f"{name}Tensor")).dtype == dtype
    assert getattr(c, method)() is c  # already that type: self


@pytest.mark.device
def test_type_as_and_default_type() -> None:
    assert ft.zeros(2).type_as(ft.IntTensor(1)).type() == typename("IntTensor")
    ft.set_default_tensor_type("flambeau.FloatTensor")
    try:
        assert (
            ft.Tensor([1]).type() == typename("FloatTensor") and ft.get_default_tensor_type() == "flambeau.FloatTensor"
        )
        assert ft.ones(2).dtype == np.float32
    finally:
        ft.set_default_tensor_type(ft.DoubleTensor)
    with pytest.raises(ft.DTypeError, match="floating point"):
        ft.set_default_tensor_type(ft.LongTensor)
    with pytest.raises(ft.DTypeError, match="unknown tensor type"):
        ft.zeros(1).type("flambeau.ComplexTensor")


@pytest.mark.device
def test_half_is_for_storage_and_conversion() -> None:
    h = ft.tensor([1.0, 2.0]).half()
    assert h.type() == typename("HalfTensor") and h.float().tolist() == [1.0, 2.0]
    assert ft.HalfStorage(3).element_size() == 2


# -- numpy interop ----------------------------------------------------------------------------------------


def test_from_numpy_and_numpy_share_memory() -> None:
    a = np.arange(6.0).reshape(2, 3)
    t = ft.from_numpy(a)
    t[0, 0] = 42
    assert a[0, 0] == 42
    assert t.numpy() is a or np.shares_memory(t.numpy(), a)
    m = ft.from_numpy(np.array([True, False]))
    assert m.type() == "flambeau.ByteTensor" and m.tolist() == [1, 0]
    with pytest.raises(ft.DTypeError, match="complex128 is not supported"):
        ft.from_numpy(np.zeros(2, dtype=complex))
    assert np.asarray(t).shape == (2, 3)


# -- devices ----------------------------------------------------------------------------------------------


@pytest.mark.device
def test_moves_between_the_cpu_and_the_device_under_test() -> None:
    d = device()
    a = ft.tensor([[1.0, 2.0], [3.0, 4.0]], device="cpu")
    b = a.to(d)
    assert b.device is d and b.dtype == a.dtype and b.tolist() == a.tolist()
    assert b.to(d) is b and a.cpu() is a  # already there: self
    c = b.cpu()
    assert c.device == "cpu" and c.tolist() == a.tolist()
    b[0, 0] = 9.0  # a move copies (on the cpu itself, to() is self)
    assert a[0, 0].item() == (9.0 if d == "cpu" else 1.0) and c[0, 0].item() == (9.0 if d == "cpu" else 1.0)
    t = a.t().to(d)  # a non-contiguous source keeps its values
    assert t.device is d and t.tolist() == [[9.0 if d == "cpu" else 1.0, 3.0], [2.0, 4.0]]
    f = a.to(d, ft.float32)
    assert f.device is d and f.type() == typename("FloatTensor") and f.cpu().tolist() == a.float().tolist()
    assert b.type(typename("LongTensor")).device is d  # a type name with this device converts in place
    assert ft.zeros(2).device is d and ft.from_numpy(np.zeros(2)).device == "cpu"  # from_numpy: always the cpu
    assert b.is_cuda == (d.type == "cuda")
    if d != "cpu":
        assert b.type("flambeau.DoubleTensor").device == "cpu"  # a cpu type name moves to the cpu
        with pytest.raises(ft.DeviceMismatchError, match=f"on device '{d}'"):
            b + a
    r, h = (b + 1) * 2 - b / 2, b.cpu()
    assert r.device is d and r.cpu().tolist() == ((h + 1) * 2 - h / 2).tolist()  # arithmetic stays on the device


# -- Python operators ----------------------------------------------------------------------------------


@pytest.mark.device
def test_operators() -> None:
    a = ft.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert (a + 1).tolist() == [[2, 3], [4, 5]] and (1 + a).tolist() == [[2, 3], [4, 5]]
    assert (10 - a).tolist() == [[9, 8], [7, 6]] and (a - a).tolist() == [[0, 0], [0, 0]]
    assert (a * a).tolist() == [[1, 4], [9, 16]] and (2 * a).tolist() == [[2, 4], [6, 8]]
    assert (a / 2).tolist() == [[0.5, 1], [1.5, 2]] and (1 / a)[0, 1].item() == 0.5
    assert (a @ a).tolist() == [[7, 10], [15, 22]]
    assert (a**2).tolist() == [[1, 4], [9, 16]] and (2**a).tolist() == [[2, 4], [8, 16]]
    assert (-a).tolist() == [[-1, -2], [-3, -4]] and abs(-a).tolist() == a.tolist()
    assert (a % 3).tolist() == [[1, 2], [0, 1]]
    assert (a > 2).tolist() == [[0, 0], [1, 1]] and (a == 2).type() == typename("ByteTensor")
    assert (ft.LongTensor([6]) & 3).tolist() == [2]
    b = a.clone()
    b += 1
    b *= 2
    assert b.tolist() == [[4, 6], [8, 10]]
    assert (a == None) is False  # noqa: E711 - Python's fallback for unrelated types
    assert len(a) == 2 and [r.tolist() for r in a] == [[1, 2], [3, 4]]


@pytest.mark.device
def test_bool_of_many_elements_is_ambiguous() -> None:
    with pytest.raises(ft.ShapeError, match="ambiguous"):
        bool(ft.zeros(2))
    assert bool(ft.ones(1)) and not bool(ft.zeros(1))


# -- storage (Torch7 1.2) -------------------------------------------------------------------------------


@pytest.mark.device
def test_storage_api() -> None:
    s = ft.FloatStorage([1, 2, 3])
    assert len(s) == s.size() == 3 and s[0] == 1.0 and s[-1] == 3.0 and s.element_size() == 4
    s[1] = 5
    assert s.tolist() == [1.0, 5.0, 3.0] and isinstance(s, ft.FloatStorage) and not isinstance(s, ft.DoubleStorage)
    s.copy_(ft.IntStorage([7, 8, 9]))
    assert list(s) == [7.0, 8.0, 9.0]
    assert s.copy_([7, 8, 9]) is s and s.copy_(np.array([7, 8, 9])).tolist() == [7.0, 8.0, 9.0]  # host data too
    s.resize_(5)
    assert s.size() == 5 and s.tolist()[:3] == [7.0, 8.0, 9.0]
    assert ft.ByteStorage(0).string("hi").string() == "hi"
    v = ft.FloatStorage(s, 1, 2)  # a view on another storage
    v[0] = -1
    assert s[1] == -1
    with pytest.raises(ft.IndexError):
        s[5]
    assert str(ft.DoubleStorage([1, 2])).endswith(f"[{typename('DoubleStorage')} of size 2]")


def test_printing_follows_torch7() -> None:
    assert str(ft.eye(3) * 4 - 2) == " 2 -2 -2\n-2  2 -2\n-2 -2  2\n[flambeau.DoubleTensor of size 3x3]"
    assert repr(ft.ByteTensor([1, 0])) == " 1\n 0\n[flambeau.ByteTensor of size 2]"
    assert str(ft.DoubleTensor()) == "[flambeau.DoubleTensor with no dimension]"
    with ft.printoptions(threshold=10, edgeitems=2):
        text = str(ft.arange(100))
    assert "..." in text and text.endswith("[flambeau.LongTensor of size 100]")


@pytest.mark.device
def test_bit_operators() -> None:
    m = ft.ByteTensor([1, 0])
    assert (~m).tolist() == [0, 1]  # masks flip 0/1
    assert (~ft.LongTensor([0, 5])).tolist() == [-1, -6]
    assert (ft.LongTensor([1, 2]) << 2).tolist() == [4, 8] and (8 >> ft.LongTensor([1, 2])).tolist() == [4, 2]
    x = ft.LongTensor([1, 2])
    x <<= 1
    x |= 1
    x &= 7
    x ^= 2
    assert x.tolist() == [1, 7]
    with pytest.raises(ft.DTypeError, match="bitnot: argument 'input' must be an integer tensor"):
        ~ft.zeros(2)


@pytest.mark.device
def test_expanded_views_are_read_only_and_writes_say_so() -> None:
    base = ft.tensor([[1.0], [2.0]])
    e = base.expand(2, 3)
    base[1, 0] = 5.0
    assert e.tolist() == [[1.0, 1.0, 1.0], [5.0, 5.0, 5.0]]  # a view: it sees writes into its base
    for write in (
        lambda: e.__setitem__((0, 0), 9.0),
        lambda: e.fill_(9.0),
        lambda: e.add_(1.0),
        lambda: e.zero_(),
        lambda: e.copy_(ft.ones(2, 3)),
    ):
        with pytest.raises(ft.ArgumentError, match="read-only"):
            write()
    assert e.tolist() == [[1.0, 1.0, 1.0], [5.0, 5.0, 5.0]]


def test_without_a_writeable_flag_a_stride_0_dim_is_what_makes_a_view_read_only() -> None:
    """cupy arrays have no ``flags.writeable``: the check falls back on the strides of an expansion."""
    from types import SimpleNamespace

    from flambeau.tensor.optable import read_only

    def cupy_like(shape: tuple[int, ...], strides: tuple[int, ...]) -> object:
        size = int(np.prod(shape))
        return SimpleNamespace(shape=shape, strides=strides, size=size, flags=SimpleNamespace(c_contiguous=True))

    assert read_only(cupy_like((2, 3), (8, 0)))  # expanded along dim 1
    assert not read_only(cupy_like((0, 3), (0, 0)))  # cupy's strides of an empty array: nothing to write
    assert not read_only(cupy_like((2, 1), (8, 0)))  # a stride 0 over one element repeats nothing
    assert not read_only(cupy_like((2, 3), (24, 8)))
    assert read_only(np.broadcast_to(np.zeros(3), (2, 3))) and not read_only(np.zeros((2, 3)))
