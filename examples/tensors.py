"""Tensors and storages: views share memory, the matrix product three ways, and a few math ops.

A flambeau tensor is (storage, offset, sizes, strides), as in Torch7: `select`, `narrow`, `sub`,
`t`, `view`, `expand`, `unfold` and basic `[]` indexing make new tensors over the same storage.
"""

import flambeau.tensor as ft


def views_share_storage() -> None:
    print("== views share their storage")
    a = ft.arange(12).view(3, 4).double()
    print(a)
    print("size", a.size(), "stride", a.stride(), "offset", a.storage_offset(), "storage length", len(a.storage()))
    assert a.size() == (3, 4) and a.stride() == (4, 1)

    row = a.select(0, 1)  # row 1: offset 4, one dim fewer
    print("select(0, 1) ->", row.tolist(), "offset", row.storage_offset())
    assert row.storage_offset() == 4 and row.tolist() == [4, 5, 6, 7]

    col = a.narrow(1, 2, 2)  # columns 2 and 3
    assert col.size() == (3, 2) and col.stride() == (4, 1) and col.storage_offset() == 2

    inner = a.sub(0, 1, 1, -1)  # Torch7's inclusive bounds: rows 0..1, columns 1..3
    assert inner.size() == (2, 3) and inner.tolist() == [[1, 2, 3], [5, 6, 7]]

    at = a.t()
    assert at.size() == (4, 3) and at.stride() == (1, 4) and not at.is_contiguous()

    windows = ft.arange(7).unfold(0, 3, 2)  # 3-wide windows, step 2
    print("arange(7).unfold(0, 3, 2) ->", windows.tolist())
    assert windows.tolist() == [[0, 1, 2], [2, 3, 4], [4, 5, 6]]

    wide = ft.tensor([1.0, 2.0, 3.0]).view(3, 1).expand(3, 4)
    assert wide.stride() == (1, 0) and wide.sum().item() == 24

    # writing through any view changes a
    row.fill_(0)
    col.mul_(10)
    at[0].fill_(-1)  # column 0 of a
    print(a)
    assert a.tolist() == [[-1, 1, 20, 30], [-1, 0, 0, 0], [-1, 9, 100, 110]]
    # every view reports the same storage: one buffer, seen through different (offset, sizes, strides)
    assert row.storage().data_ptr() == col.storage().data_ptr() == at.storage().data_ptr() == a.storage().data_ptr()
    a.storage().fill_(1)  # filling the storage fills every tensor over it
    assert row.tolist() == [1, 1, 1, 1] and wide.sum().item() == 24


def matrix_product_three_ways() -> None:
    print("== the matrix product, three ways")
    ft.manual_seed(7)
    a, b = ft.randn(5, 3), ft.randn(3, 2)
    c1 = ft.mm(a, b)  # the function
    c2 = a @ b  # the operator (`*` is element-wise in flambeau, as in numpy)
    c3 = ft.DoubleTensor(5, 2)
    ft.mm(a, b, out=c3)  # into an existing tensor, Torch7's torch.mm(res, a, b)
    print(c3)
    assert ft.max(ft.abs(c1 - c2)).item() < 1e-12 and ft.max(ft.abs(c1 - c3)).item() < 1e-12
    assert a.mm(b).tolist() == c1.tolist()
    elementwise = ft.ones(2, 2) * ft.Tensor([[1, 2], [3, 4]])
    assert elementwise.tolist() == [[1, 2], [3, 4]]


def a_few_ops() -> None:
    print("== a few ops")
    e = ft.eye(3) * 4 - 2
    print(e)
    assert e.tolist() == [[2, -2, -2], [-2, 2, -2], [-2, -2, 2]]

    m = ft.max(ft.FloatTensor([1, 3, 5]))
    print("max:", m.item(), m.type())
    assert m.item() == 5 and m.type() == "flambeau.FloatTensor"

    values, indices = ft.Tensor([[1, 5, 2], [7, 0, 3]]).max(1)  # along dim 1: values and (0-based) indices
    assert values.tolist() == [5, 7] and indices.tolist() == [1, 0] and indices.type() == "flambeau.LongTensor"

    cl = ft.clamp(ft.range(0, 4), 0, 2)
    print("clamp(range(0, 4), 0, 2):", cl.tolist())
    assert cl.tolist() == [0, 1, 2, 2, 2]

    le = ft.le(ft.range(1, 5), 3)
    print("le(range(1, 5), 3):", le.tolist(), le.type())
    assert le.tolist() == [1, 1, 1, 0, 0] and le.type() == "flambeau.ByteTensor"

    a = ft.zeros(4, 6)
    a.select(0, 2).fill_(3)
    print(a)
    assert a.sum().item() == 18 and a[2].tolist() == [3] * 6 and a[1].tolist() == [0] * 6


if __name__ == "__main__":
    views_share_storage()
    matrix_product_three_ways()
    a_few_ops()
    print("tensors.py: all checks passed")
