"""Arithmetic and boolean ops under their Torch7 names: element-wise maths, reductions, masks.

Torch7's maths names are kept (`cmul`, `cdiv`, `addcmul`, `addmv`, `cmax`, `clamp`, `le`, ...), the
comparison ops return a ByteTensor mask, and a mask selects or fills elements. Every result is
checked against numpy on the same numbers.

Run it with `python examples/arithmetic_and_boolean_ops.py` where flambeau is installed
(`python3 -m nox -s examples` runs every example).
"""

import numpy as np

import flambeau.tensor as ft


def close(t: ft.Tensor, expected: np.ndarray) -> bool:
    """Whether tensor ``t`` equals the numpy array ``expected`` (same shape, values within 1e-12)."""
    got = t.numpy()
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=1e-12, atol=1e-12))


def elementwise() -> None:
    print("== element-wise maths, Torch7 names")
    ft.manual_seed(1)
    a, b = ft.randn(3, 4), ft.rand(3, 4) + 0.5
    na, nb = a.numpy().copy(), b.numpy().copy()

    assert close(ft.add(a, b, alpha=2), na + 2 * nb)  # Torch7's add(a, 2, b)
    assert close(ft.cmul(a, b), na * nb) and close(ft.cdiv(a, b), na / nb)
    assert close(ft.addcmul(a, a, b, value=0.5), na + 0.5 * na * nb)
    assert close(ft.addcdiv(a, a, b, value=-1), na - na / nb)
    assert close(ft.cmax(a, b), np.maximum(na, nb)) and close(ft.cmin(a, 0), np.minimum(na, 0))
    assert close(ft.pow(b, 3), nb**3) and close(ft.sqrt(b), np.sqrt(nb)) and close(ft.abs(a), np.abs(na))
    assert close(ft.clamp(a, -0.5, 0.5), np.clip(na, -0.5, 0.5))
    assert close(ft.fmod(a, 0.3), np.fmod(na, 0.3)) and close(ft.remainder(a, 0.3), np.mod(na, 0.3))
    assert close(ft.lerp(a, b, 0.25), na + 0.25 * (nb - na))
    print("add, cmul, cdiv, addcmul, addcdiv, cmax, cmin, pow, sqrt, abs, clamp, fmod, remainder, lerp: match numpy")

    # in place, with the trailing underscore; the result is the same tensor
    c = a.clone()
    assert c.mul_(2).add_(1) is c and close(c, 2 * na + 1)

    # into an existing tensor with out=, Torch7's ft.cmul(res, a, b)
    res = ft.DoubleTensor(3, 4)
    ft.cmul(a, b, out=res)
    assert close(res, na * nb)

    e = ft.eye(3) * 4 - 2
    print("eye(3) * 4 - 2 =")
    print(e)
    assert e.tolist() == [[2, -2, -2], [-2, 2, -2], [-2, -2, 2]]


def linear_algebra_and_reductions() -> None:
    print("== BLAS-style ops and reductions")
    ft.manual_seed(2)
    m, v, y = ft.randn(4, 3), ft.randn(3), ft.randn(4)
    nm, nv, ny = m.numpy(), v.numpy(), y.numpy()
    assert close(ft.mv(m, v), nm @ nv)
    assert close(ft.addmv(y, m, v, beta=0.5, alpha=2), 0.5 * ny + 2 * nm @ nv)
    assert close(ft.addr(ft.zeros(4, 3), y, v), np.outer(ny, nv))
    assert abs(ft.dot(v, v).item() - float(nv @ nv)) < 1e-12
    assert close(ft.cumsum(m, 0), np.cumsum(nm, 0)) and close(ft.cumprod(m, 1), np.cumprod(nm, 1))
    assert abs(m.sum().item() - nm.sum()) < 1e-12 and close(m.mean(0), nm.mean(0))
    assert close(m.std(1), nm.std(1, ddof=1))  # Torch's std divides by n - 1
    print("mv, addmv, addr, dot, cumsum, cumprod, sum, mean, std: match numpy")

    values, indices = ft.Tensor([[1, 5, 2], [7, 0, 3]]).max(1)  # along dim 1: values and (0-based) indices
    print("max along dim 1:", values.tolist(), indices.tolist(), indices.type())
    assert values.tolist() == [5, 7] and indices.tolist() == [1, 0] and indices.type() == "flambeau.LongTensor"

    sorted_values, order = ft.sort(ft.Tensor([3, 1, 2]), 0, True)  # descending
    assert sorted_values.tolist() == [3, 2, 1] and order.tolist() == [0, 2, 1]

    mx = ft.max(ft.FloatTensor([1, 3, 5]))
    print("max of a FloatTensor:", mx.item(), mx.type())
    assert mx.item() == 5 and mx.type() == "flambeau.FloatTensor"


def masks() -> None:
    print("== comparisons give ByteTensor masks")
    x = ft.Tensor([[1, -2, 3], [-4, 5, -6]])
    nx = x.numpy().copy()

    le = ft.le(ft.range(1, 5), 3)
    print("le(range(1, 5), 3):", le.tolist(), le.type())
    assert le.tolist() == [1, 1, 1, 0, 0] and le.type() == "flambeau.ByteTensor"

    pos = ft.gt(x, 0)
    print(pos)
    assert pos.type() == "flambeau.ByteTensor" and pos.tolist() == (nx > 0).astype(int).tolist()
    assert ft.eq(x, x).all() and not ft.ne(x, x).any()

    # masks combine with & | ~ and the Torch7 names cbitand / cbitor
    small = ft.lt(ft.abs(x), 4)
    assert (pos & small).tolist() == ft.cbitand(pos, small).tolist() == ((nx > 0) & (np.abs(nx) < 4)).tolist()
    assert (pos | small).tolist() == ft.cbitor(pos, small).tolist()

    sel = x.masked_select(pos)  # a 1-D copy of the selected elements, in row-major order
    print("masked_select(x > 0):", sel.tolist())
    assert sel.tolist() == [1, 3, 5] and x[pos].tolist() == [1, 3, 5]

    y = x.clone()
    y.masked_fill_(ft.lt(y, 0), 0)  # relu by a mask
    print("masked_fill_(x < 0, 0):", y.tolist())
    assert close(y, np.maximum(nx, 0))
    y[pos] = -1  # assignment through a mask
    assert y.tolist() == [[-1, 0, -1], [0, -1, 0]]
    count = pos.sum().item()
    print("number of positive elements:", count)
    assert count == 3


if __name__ == "__main__":
    elementwise()
    linear_algebra_and_reductions()
    masks()
    print("arithmetic_and_boolean_ops.py: all checks passed")
