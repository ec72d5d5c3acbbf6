"""Tensors and storages: views share memory, and the matrix product three ways.

A flambeau tensor is (storage, offset, sizes, strides), as in Torch7: `select`, `narrow`, `sub`,
`t`, `view`, `expand`, `unfold` and basic `[]` indexing make new tensors over the same storage,
so writing through any of them changes the others. The element-wise maths and masks are in
`arithmetic_and_boolean_ops.py`.

Run it with `python examples/tensors_and_storages.py` where flambeau is installed
(`python3 -m nox -s examples` runs every example). Each step prints what it computes and checks it.
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


def storage_round_trip() -> None:
    print("== a tensor over a storage you made, and numpy over the same memory")
    s = ft.DoubleStorage(6).fill_(0)
    t = ft.DoubleTensor(s, 1, ft.Size([2, 2]), (3, 1))  # offset 1, 2x2, rows 3 apart
    t.fill_(7)
    print(s.tolist())
    assert s.tolist() == [0, 7, 7, 0, 7, 7]
    n = ft.arange(6).double()
    arr = n.numpy()  # shares memory on the cpu
    arr[0] = 42
    assert n[0].item() == 42
    print("numpy view of a tensor: writing arr[0] = 42 shows in the tensor:", n.tolist())


if __name__ == "__main__":
    views_share_storage()
    matrix_product_three_ways()
    storage_round_trip()
    print("tensors_and_storages.py: all checks passed")
