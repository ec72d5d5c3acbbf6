"""nn.utils (flambeau.nn.utils): the recursive helpers on tensors and nested lists, views, clear."""

from __future__ import annotations

import numpy as np
import pytest

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.nn import utils
from flambeau.tensor.errors import ArgumentError
from flambeau.tensor.testing import host, on_device, shares_memory, type_prefix


def T(a: object) -> ft.Tensor:
    return on_device(a, np.float64)


# -- recursive_type --------------------------------------------------------------------------------


@pytest.mark.device
def test_recursive_type_converts_nested_lists_in_place_and_keeps_sharing() -> None:
    x = T(np.arange(6.0).reshape(2, 3))
    row = x[1]
    labels = ft.LongTensor([0, 2])
    data = [x, [row, labels], 3, "name", None]
    out = utils.recursive_type(data, "torch.FloatTensor")
    assert out is data  # lists are converted in place, as Torch's tables
    assert out[2:] == [3, "name", None]
    fx, (frow, flabels) = out[0], out[1]
    prefix = type_prefix()  # the device is kept
    assert fx.type() == frow.type() == f"{prefix}.FloatTensor"
    assert flabels.type() == f"{prefix}.LongTensor"  # index tensors keep their type (as Module.type)
    np.testing.assert_array_equal(host(fx), np.arange(6.0, dtype=np.float32).reshape(2, 3))
    assert shares_memory(fx, frow) and frow.storage_offset() == 3 and frow.tolist() == [3.0, 4.0, 5.0]
    frow.fill_(9.0)
    assert fx[1].tolist() == [9.0, 9.0, 9.0]  # still one storage
    assert x.type() == f"{prefix}.DoubleTensor" and x[1].tolist() == [3.0, 4.0, 5.0]  # the original is untouched


@pytest.mark.device
def test_recursive_type_of_a_tensor_returns_a_new_one_or_itself_when_nothing_changes() -> None:
    x = T([1.0, 2.0])
    assert utils.recursive_type(x, "torch.DoubleTensor") is x
    assert utils.recursive_type(x, np.float64) is x
    f = utils.recursive_type(x, ft.float32)
    assert f is not x and f.dtype == ft.float32 and f.tolist() == [1.0, 2.0]
    h = utils.recursive_type(x, "half")
    assert h.dtype == np.float16
    empty = utils.recursive_type(ft.Tensor(), "torch.FloatTensor")
    assert empty.nelement() == 0 and empty.dtype == ft.float32
    t = utils.recursive_type((x, [x]), "float")  # a tuple gives a new tuple; one tensor converts once
    assert isinstance(t, tuple) and t[0] is t[1][0]


@pytest.mark.device
def test_recursive_type_shares_a_cache_across_calls() -> None:
    x = T(np.arange(4.0))
    cache: dict[object, object] = {}
    a = utils.recursive_type(x, "torch.FloatTensor", tensor_cache=cache)
    b = utils.recursive_type(x.narrow(0, 1, 2), "torch.FloatTensor", tensor_cache=cache)
    assert shares_memory(a, b) and b.tolist() == [1.0, 2.0]


@pytest.mark.device
def test_recursive_type_converts_modules_and_criteria_in_place() -> None:
    m = nn.Linear(3, 2)
    crit = nn.MSECriterion()
    out = utils.recursive_type({"model": m, "crit": [crit]}, "torch.FloatTensor")
    assert out["model"] is m and out["crit"][0] is crit
    assert m.weight.dtype == m.grad_bias.dtype == ft.float32
    assert m.type() == m.weight.type() and m.weight.device == ft.device()


@pytest.mark.device
def test_recursive_type_needs_a_type_or_a_device() -> None:
    with pytest.raises(ArgumentError, match="expected a tensor type, a device or both"):
        utils.recursive_type([ft.ones(2)])
    with pytest.raises(ArgumentError, match="unknown tensor type"):
        utils.recursive_type(ft.ones(2), "torch.NoSuchTensor")


def test_recursive_type_moves_to_a_device() -> None:
    x = T([1.0, 2.0])
    assert utils.recursive_type([x], None, "cpu")[0] is x  # already there
    y = utils.recursive_type(x, "flambeau.FloatTensor")  # the name says cpu: no move, a conversion
    assert str(y.device) == "cpu" and y.dtype == ft.float32


# -- recursive_resize_as / fill / add / copy -------------------------------------------------------


@pytest.mark.device
def test_recursive_resize_as_allocates_reuses_and_trims() -> None:
    proto = [ft.ones(2, 3), [ft.ones(4), ft.ones(1, 1)]]
    made = utils.recursive_resize_as(None, proto)
    assert [made[0].size(), made[1][0].size(), made[1][1].size()] == [(2, 3), (4,), (1, 1)]
    assert made[0] is not proto[0] and made[0].dtype == proto[0].dtype
    keep = ft.zeros(7)
    buf = [keep, ft.zeros(1), ft.zeros(1), ft.zeros(1)]
    out = utils.recursive_resize_as(buf, [ft.ones(3), ft.ones(2)])
    assert out is buf and len(out) == 2 and out[0] is keep and keep.size() == (3,)
    t = ft.zeros(5)
    assert utils.recursive_resize_as(t, ft.ones(2, 2)) is t and t.size() == (2, 2)
    wrapped = utils.recursive_resize_as(t, [ft.ones(3), ft.ones(1)])  # Torch wraps a tensor t1 in a table
    assert wrapped[0] is t and t.size() == (3,) and wrapped[1].size() == (1,)
    f = ft.zeros(1).float()  # an existing tensor keeps its type
    assert utils.recursive_resize_as(f, ft.ones(2)).dtype == ft.float32
    assert utils.recursive_resize_as([1, 2], ft.ones(2)).size() == (2,)  # not a tensor: a new one


@pytest.mark.device
def test_recursive_resize_as_refuses_what_is_not_a_tensor() -> None:
    with pytest.raises(
        ArgumentError, match="recursive_resize_as: expected nested tensors or lists, got Tensor and int"
    ):
        utils.recursive_resize_as(ft.ones(1), 3)


@pytest.mark.device
def test_recursive_fill() -> None:
    t = [ft.zeros(2), [ft.zeros(1, 2), ft.zeros(3).float()]]
    assert utils.recursive_fill(t, 2.5) is t
    assert t[0].tolist() == [2.5, 2.5] and t[1][0].tolist() == [[2.5, 2.5]] and t[1][1].tolist() == [2.5] * 3
    x = ft.zeros(2)
    assert utils.recursive_fill(x, -1) is x and x.tolist() == [-1.0, -1.0]
    with pytest.raises(ArgumentError, match="recursive_fill: expected a tensor or a list of them, got str"):
        utils.recursive_fill([ft.zeros(1), "x"], 0)


@pytest.mark.device
def test_recursive_add_with_and_without_a_scale() -> None:
    rng = np.random.default_rng(0)
    a, b, c, d = (rng.standard_normal(s) for s in ((2, 3), (4,), (2, 3), (4,)))
    t1 = [T(a), [T(b)]]
    t2 = [T(c), [T(d)]]
    out = utils.recursive_add(t1, 0.25, t2)
    assert out is t1
    np.testing.assert_allclose(host(t1[0]), a + 0.25 * c, rtol=1e-15)
    np.testing.assert_allclose(host(t1[1][0]), b + 0.25 * d, rtol=1e-15)
    utils.recursive_add(t1, t2)  # val = 1
    np.testing.assert_allclose(host(t1[0]), a + 1.25 * c, rtol=1e-15)
    np.testing.assert_array_equal(host(t2[0]), c)  # t2 untouched
    x = T([1.0, 2.0])
    assert utils.recursive_add(x, -2, T([1.0, 1.0])) is x and x.tolist() == [-1.0, 0.0]


@pytest.mark.device
def test_recursive_add_errors() -> None:
    with pytest.raises(ArgumentError, match="a list of 1 entries cannot take a list of 2"):
        utils.recursive_add([ft.ones(1)], [ft.ones(1), ft.ones(1)])
    with pytest.raises(ArgumentError, match="expected nested tensors or lists, got None and Tensor"):
        utils.recursive_add([None], [ft.ones(1)])
    with pytest.raises(ArgumentError, match=r"recursive_add\(t1, t2\)"):
        utils.recursive_add(ft.ones(1), None)


@pytest.mark.device
def test_recursive_copy_copies_values_into_new_or_existing_tensors() -> None:
    src = [T([[1.0, 2.0], [3.0, 4.0]]).t(), [T([5.0]), T([6.0, 7.0])]]
    dst = utils.recursive_copy(None, src)
    assert dst[0].tolist() == [[1.0, 3.0], [2.0, 4.0]] and dst[1][0].tolist() == [5.0]
    assert not shares_memory(dst[0], src[0]) and dst[0].is_contiguous()
    src[1][1].fill_(0.0)
    assert dst[1][1].tolist() == [6.0, 7.0]  # a copy, not a view
    keep = ft.zeros(9).float()
    extra = ft.zeros(1)
    out = utils.recursive_copy([keep, extra, extra], [T([1.5, 2.5])])
    assert out[0] is keep and keep.dtype == ft.float32 and keep.tolist() == [1.5, 2.5]
    assert len(out) == 3  # as Torch's recursiveCopy: entries beyond t2's are kept
    with pytest.raises(ArgumentError, match="recursive_copy: expected nested tensors or lists, got None and float"):
        utils.recursive_copy(None, 1.0)


# -- add_singleton_dimension, contiguous_view --------------------------------------------------------


@pytest.mark.device
@pytest.mark.parametrize("dim", [0, 1, 2, 3])
def test_add_singleton_dimension_is_a_view_with_a_size_one_dim(dim: int) -> None:
    a = np.arange(24.0).reshape(2, 3, 4)
    x = T(a)
    v = utils.add_singleton_dimension(x, dim)
    assert tuple(v.size()) == np.expand_dims(a, dim).shape
    np.testing.assert_array_equal(host(v), np.expand_dims(a, dim))
    assert shares_memory(v, x) and v.is_contiguous()
    v.fill_(1.0)
    assert x.sum().item() == 24.0


@pytest.mark.device
def test_add_singleton_dimension_of_a_non_contiguous_view_and_into_a_given_tensor() -> None:
    a = np.arange(12.0).reshape(3, 4)
    x = T(a).t()
    out = ft.Tensor()
    v = utils.add_singleton_dimension(x, 1, view=out)
    assert v is out and tuple(v.size()) == (4, 1, 3)
    np.testing.assert_array_equal(host(v), a.T[:, None, :])
    assert utils.add_singleton_dimension(x).size() == (1, 4, 3)  # dim 0 by default (Torch's 1)


@pytest.mark.device
def test_add_singleton_dimension_errors() -> None:
    with pytest.raises(ArgumentError, match="invalid dimension 3: expected 0 to 2 for a tensor of 2 dimensions"):
        utils.add_singleton_dimension(ft.ones(2, 2), 3)
    with pytest.raises(ArgumentError, match="invalid dimension -1"):
        utils.add_singleton_dimension(ft.ones(2, 2), -1)
    with pytest.raises(ArgumentError, match="expected a tensor, got list"):
        utils.add_singleton_dimension([1.0], 0)  # type: ignore[arg-type]


@pytest.mark.device
def test_contiguous_view_of_a_contiguous_input_is_a_view() -> None:
    x = T(np.arange(6.0))
    out = ft.zeros(10)
    v = utils.contiguous_view(out, x, 2, 3)
    assert v is out and v.size() == (2, 3) and shares_memory(v, x)
    v[0, 0] = 42.0
    assert x[0].item() == 42.0
    w = utils.contiguous_view(None, x, -1, 2)
    assert w.size() == (3, 2) and shares_memory(w, x)
    assert utils.contiguous_view(None, x, ft.Size([3, 2])).size() == (3, 2)


@pytest.mark.device
def test_contiguous_view_of_a_non_contiguous_input_is_a_copy_in_new_memory() -> None:
    a = np.arange(6.0).reshape(2, 3)
    x = T(a)
    buf = utils.contiguous_view(None, x, 6)  # buf views x ...
    v = utils.contiguous_view(buf, x.t(), 3, 2)  # ... so the copy must not go into x's memory
    assert v is buf and v.size() == (3, 2) and not shares_memory(v, x)
    np.testing.assert_array_equal(host(v), a.T)
    np.testing.assert_array_equal(host(x), a)
    v.fill_(0.0)
    np.testing.assert_array_equal(host(x), a)


@pytest.mark.device
def test_contiguous_view_errors() -> None:
    with pytest.raises(ArgumentError, match="expected an input tensor, got None"):
        utils.contiguous_view(None, None, 2)  # type: ignore[arg-type]
    with pytest.raises(Exception, match="6"):  # view's own error: the sizes do not match
        utils.contiguous_view(None, ft.ones(6), 4)


# -- clear --------------------------------------------------------------------------------------------


@pytest.mark.device
def test_clear_empties_tensors_in_place_and_resets_lists_and_other_fields() -> None:
    m = nn.Linear(3, 2)
    m.forward(ft.ones(2, 3))
    out = m.output
    m._table = [ft.ones(1)]
    m._dict = {"a": 1}
    m._count = 0
    m._flag = False
    assert utils.clear(m, "output", "_table", "_dict", "_count", "_flag", "_nothing") is m
    assert m.output is out and out.nelement() == 0
    assert m._table == [] and m._dict == {} and m._count is None and m._flag is False
    assert m.weight.size() == (2, 3)  # fields not named are kept
    assert not hasattr(m, "_nothing")


@pytest.mark.device
def test_clear_takes_a_list_of_names_and_refuses_other_names() -> None:
    m = nn.Linear(2, 2)
    utils.clear(m, ["grad_weight", "grad_bias"])
    assert m.grad_weight.nelement() == m.grad_bias.nelement() == 0
    with pytest.raises(ArgumentError, match="expected field names"):
        utils.clear(m, 3)


def test_utils_is_a_module_of_nn_not_star_imported() -> None:
    assert set(utils.__all__) == {
        "recursive_type",
        "recursive_resize_as",
        "recursive_fill",
        "recursive_add",
        "recursive_copy",
        "add_singleton_dimension",
        "contiguous_view",
        "clear",
    }
    assert not hasattr(nn, "recursive_add")
