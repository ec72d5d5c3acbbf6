"""Tests of the simple layers (flambeau.nn.simple): values against numpy, gradients against finite differences."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from nncheck import check_module

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.tensor.errors import ArgumentError, IndexError, ShapeError
from flambeau.tensor.testing import host, on_device, type_prefix

pytestmark = pytest.mark.device

RNG = np.random.default_rng(7)


def T(*shape: int, lo: float = -1.0, hi: float = 1.0) -> Any:
    """A float64 tensor of uniform values (seeded numpy, independent of ft's generator)."""
    return on_device(RNG.uniform(lo, hi, size=shape))


def A(t: Any) -> np.ndarray:
    return np.asarray(host(t))


def close(t: Any, ref: Any, tol: float = 1e-10) -> None:
    np.testing.assert_allclose(A(t), np.asarray(ref), rtol=tol, atol=tol)


# --------------------------------------------------------------------------------------------------
# Finite-difference checks for table (list) inputs, which nncheck.check_module does not take.


def _fd(module: Any, inputs: list, target: Any, h: float = 1e-6) -> np.ndarray:
    flat = target.view(-1)
    rows = []
    for i in range(flat.size(0)):
        orig = float(flat[i])
        flat[i] = orig - h
        lo = A(module.forward(inputs)).reshape(-1).copy()
        flat[i] = orig + h
        hi = A(module.forward(inputs)).reshape(-1).copy()
        flat[i] = orig
        rows.append((hi - lo) / (2 * h))
    return np.stack(rows)


def check_table(module: Any, inputs: list, grads_of: list[int], tol: float = 1e-6) -> None:
    """Check ``grad_input[i]`` for each i in ``grads_of`` and every parameter's gradient (and ``scale``)."""
    out = module.forward(inputs)
    n_out = out.nelement()

    def unit(j: int) -> Any:
        g = np.zeros(n_out)
        g[j] = 1.0
        return on_device(g.reshape(tuple(out.size())))

    for i in grads_of:
        fd = _fd(module, inputs, inputs[i])
        module.forward(inputs)
        bp = np.stack([A(module.update_grad_input(inputs, unit(j))[i]).reshape(-1).copy() for j in range(n_out)]).T
        assert np.abs(fd - bp).max() < tol, f"{module!r}: grad of input {i} differs by {np.abs(fd - bp).max():.3g}"
    for p, g in zip(*module.parameters(), strict=True):
        fd = _fd(module, inputs, p)
        module.forward(inputs)
        cols = []
        for j in range(n_out):
            g.zero_()
            module.acc_grad_parameters(inputs, unit(j))
            cols.append(A(g).reshape(-1).copy())
        assert np.abs(fd - np.stack(cols).T).max() < tol, f"{module!r}: grad of a parameter {tuple(p.size())} differs"
    if module.parameters()[0]:
        go = on_device(RNG.standard_normal(tuple(out.size())))
        module.zero_grad_parameters()
        module.backward(inputs, go, 1.0)
        once = [A(g).copy() for g in module.parameters()[1]]
        module.zero_grad_parameters()
        module.backward(inputs, go, 0.5)
        for a, g in zip(once, module.parameters()[1], strict=True):
            np.testing.assert_allclose(A(g), 0.5 * a, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------------------------------
# Linear and its relatives.


def test_linear() -> None:
    m = nn.Linear(4, 3)
    bound = 1 / math.sqrt(4)
    assert np.abs(A(m.weight)).max() <= bound and np.abs(A(m.bias)).max() <= bound
    x = T(5, 4)
    close(m.forward(x), A(x) @ A(m.weight).T + A(m.bias))
    check_module(m, x)
    check_module(m, T(4))
    nb = nn.Linear(3, 2, bias=False)
    assert repr(nb) == "nn.Linear(3 -> 2, without bias)" and len(nb.parameters()[0]) == 1
    check_module(nb, T(2, 3))
    assert repr(m) == "nn.Linear(4 -> 3)"
    with pytest.raises(ShapeError, match="expected an input of size 4 or a batch N x 4, got 2x5"):
        m.forward(T(2, 5))
    m.reset(0.1)
    assert np.abs(A(m.weight)).max() <= 0.1 * math.sqrt(3)


def _dense(entries: Any, n: int) -> np.ndarray:
    x = np.zeros(n)
    for i, v in A(entries):
        x[int(i)] += v
    return x


def test_sparse_linear() -> None:
    m = nn.SparseLinear(6, 3)
    assert np.abs(A(m.weight)).max() <= 1 / math.sqrt(3)  # Torch's fan: the output size
    assert np.abs(A(m.bias)).max() <= 1e-6
    m.bias.copy_(T(3))
    single = ft.Tensor([[0, 0.5], [3, -1.25], [5, 2.0]])
    close(m.forward(single), A(m.weight) @ _dense(single, 6) + A(m.bias))
    batch = [single, ft.Tensor([[2, 1.5]]), ft.Tensor([[1, 0.3], [1, 0.7], [4, -2.0]])]
    ref = np.stack([A(m.weight) @ _dense(t, 6) + A(m.bias) for t in batch])
    close(m.forward(batch), ref)
    gi = m.backward(single, ft.Tensor([1.0, 2.0, 3.0]))
    close(gi.select(1, 0), np.zeros(3))
    close(gi.select(1, 1), (A(m.weight).T @ np.array([1.0, 2.0, 3.0]))[[0, 3, 5]])
    check_module(m, single)
    check_table(m, batch, [0, 1, 2])
    with pytest.raises(IndexError, match="indices must lie in 0..5"):
        m.forward(ft.Tensor([[6, 1.0]]))
    with pytest.raises(ShapeError, match="nnz x 2"):
        m.forward(ft.Tensor([1.0, 2.0]))


def test_bilinear() -> None:
    m = nn.Bilinear(3, 2, 4)
    assert np.abs(A(m.weight)).max() <= 1 / math.sqrt(3)
    x1, x2 = T(5, 3), T(5, 2)
    close(m.forward([x1, x2]), np.einsum("ni,kij,nj->nk", A(x1), A(m.weight), A(x2)) + A(m.bias))
    assert isinstance(m.backward([x1, x2], T(5, 4)), list)
    check_table(m, [T(3, 3), T(3, 2)], [0, 1])
    check_table(nn.Bilinear(2, 2, 2, bias=False), [T(2, 2), T(2, 2)], [0, 1])
    assert repr(m) == "nn.Bilinear((3x2) -> 4)"
    with pytest.raises(ShapeError, match="expected inputs of size N x 3 and N x 2, got 5x3 and 4x2"):
        m.forward([x1, T(4, 2)])
    with pytest.raises(ArgumentError, match="table"):
        m.forward(x1)


def test_partial_linear() -> None:
    m = nn.PartialLinear(4, 5)
    assert float(m.bias.abs().sum()) == 0.0
    x = T(3, 4)
    close(m.forward(x), A(x) @ A(m.weight).T)
    m.bias.copy_(T(5))
    part = ft.LongTensor([4, 1])
    m.set_partition(part)
    close(m.forward(x), A(x) @ A(m.weight)[[4, 1]].T + A(m.bias)[[4, 1]])
    check_module(m, x)
    check_module(m, T(4))
    m.zero_grad_parameters()
    m.forward(x)
    m.backward(x, T(3, 2))
    touched = np.abs(A(m.grad_weight)).sum(1) > 0
    assert touched.tolist() == [False, True, False, False, True]
    m.clear_state()
    assert m.partition.tolist() == [4, 1]  # state kept
    m.reset_partition()
    assert m.forward(x).size() == (3, 5)
    with pytest.raises(IndexError):
        m.set_partition(ft.LongTensor([5]))


# --------------------------------------------------------------------------------------------------
# Learnable element-wise layers.


def test_add() -> None:
    m = nn.Add(3)
    assert np.abs(A(m.bias)).max() <= 1 / math.sqrt(3)
    x = T(4, 3)
    close(m.forward(x), A(x) + A(m.bias))
    check_module(m, x)
    check_module(m, T(3))
    s = nn.Add(3, scalar=True)
    assert s.bias.size() == (1,) and repr(s) == "nn.Add(scalar)"
    close(s.forward(x), A(x) + float(s.bias[0]))
    check_module(s, x)
    m2 = nn.Add((2, 3))
    check_module(m2, T(4, 2, 3))
    with pytest.raises(ShapeError, match="Add: expected an input of 3 elements or a batch of N x 3, got 4x2"):
        m.forward(T(4, 2))


def test_mul_cmul() -> None:
    m = nn.Mul()
    x = T(3, 2)
    close(m.forward(x), A(x) * float(m.weight[0]))
    check_module(m, x)
    c = nn.CMul(3)
    x1 = T(3)
    close(c.forward(x1), A(x1) * A(c.weight))
    x = T(4, 3)
    close(c.forward(x), A(x) * A(c.weight))
    check_module(c, x)
    check_module(c, T(3))
    c4 = nn.CMul(1, 2, 1, 1)  # broadcast over a batch of feature maps
    x4 = T(2, 2, 3, 2)
    close(c4.forward(x4), A(x4) * A(c4.weight))
    check_module(c4, x4)
    c3 = nn.CMul(2, 1, 1)  # one dim fewer than the input: a batch
    check_module(c3, T(3, 2, 2, 2))
    cf = nn.CMul(6)  # batch of flattened samples
    xf = T(2, 2, 3)
    close(cf.forward(xf), (A(xf).reshape(2, 6) * A(cf.weight)).reshape(2, 2, 3))
    check_module(cf, xf)
    assert np.abs(A(nn.CMul(4, 4).weight)).max() <= 1 / 4
    with pytest.raises(ShapeError, match="CMul: the weight of size 3 does not fit an input of size 2x2"):
        c.forward(T(2, 2))


# --------------------------------------------------------------------------------------------------
# Distances.


def test_euclidean() -> None:
    m = nn.Euclidean(3, 4)
    assert m.weight.size() == (3, 4)  # in x out: Torch's trap
    x = T(5, 3)
    ref = np.linalg.norm(A(x)[:, :, None] - A(m.weight)[None], axis=1)
    close(m.forward(x), ref)
    close(m.forward(x[0].clone()), ref[0])
    check_module(m, x)
    check_module(m, T(3))
    with pytest.raises(ShapeError, match="Euclidean: expected an input of size 3 or a batch N x 3, got 2x4"):
        m.forward(T(2, 4))


def test_weighted_euclidean() -> None:
    m = nn.WeightedEuclidean(3, 2)
    assert A(m.diag_cov).tolist() == [[1.0, 1.0]] * 3
    m.diag_cov.copy_(T(3, 2, lo=0.5, hi=2.0))
    x = T(4, 3)
    ref = np.linalg.norm(A(m.diag_cov)[None] * (A(m.weight)[None] - A(x)[:, :, None]), axis=1)
    close(m.forward(x), ref)
    check_module(m, x)
    check_module(m, T(3))
    params, grads = m.parameters()
    assert [p is q for p, q in zip(params, [m.weight, m.diag_cov], strict=True)] == [True, True]
    flat, _ = m.get_parameters()
    assert flat.size() == (12,)
    m.clear_state()
    assert m.diag_cov.nelement() == 6 and m.grad_diag_cov.nelement() == 6
    before = A(m.diag_cov).copy()
    m.forward(x)
    m.update_grad_input(x, ft.ones(4, 2))
    m.acc_update_grad_parameters(x, ft.ones(4, 2), 0.1)
    assert not np.allclose(A(m.diag_cov), before)  # the fused update reaches diag_cov too


def test_cosine() -> None:
    m = nn.Cosine(3, 4)
    assert m.weight.size() == (4, 3) and np.abs(A(m.weight)).max() <= 1 / math.sqrt(4)
    x = T(5, 3)
    w = A(m.weight)
    ref = (A(x) @ w.T) / np.linalg.norm(w, axis=1)[None] / np.linalg.norm(A(x), axis=1)[:, None]
    close(m.forward(x), ref, 1e-9)
    check_module(m, x)
    check_module(m, T(3))


# --------------------------------------------------------------------------------------------------
# Shape and selection.


def test_identity_copy_contiguous() -> None:
    x = T(2, 3)
    m = nn.Identity()
    assert m.forward(x) is x and m.backward(x, x) is x
    table = [x, x]
    assert nn.Identity().forward(table) is table
    c = nn.Copy("torch.DoubleTensor", "torch.FloatTensor")
    y = c.forward(x)
    prefix = type_prefix()  # Copy keeps the device
    assert y.type() == f"{prefix}.FloatTensor"
    close(y, A(x).astype(np.float32), 1e-6)
    assert c.backward(x, y).type() == f"{prefix}.DoubleTensor"
    same = nn.Copy()
    assert same.forward(x) is x and nn.Copy(force_copy=True).forward(x) is not x
    c.type("torch.FloatTensor")
    assert c.in_type == c.out_type == f"{prefix}.FloatTensor"
    keep = nn.Copy("torch.DoubleTensor", "torch.FloatTensor", dont_cast=True)
    keep.type("torch.FloatTensor")
    assert keep.in_type == f"{prefix}.DoubleTensor"
    check_module(nn.Copy(), x)
    t = T(3, 2).t()
    out = nn.Contiguous().forward(t)
    assert out.is_contiguous() and out is not t
    close(out, A(t))
    assert nn.Contiguous().forward(x) is x
    check_module(nn.Contiguous(), x)


def test_narrow() -> None:
    x = T(4, 5)
    close(nn.Narrow(1, 1, 3).forward(x), A(x)[:, 1:4])
    close(nn.Narrow(-1, -2, 2).forward(x), A(x)[:, -2:])
    close(nn.Narrow(0, 1, -1).forward(x), A(x)[1:])
    close(nn.Narrow(0, 1, -2).forward(x), A(x)[1:3])
    check_module(nn.Narrow(1, 1, 3), x)
    check_module(nn.Narrow(0, -1), T(3, 2))
    with pytest.raises(IndexError, match="Narrow: offset 3 and length 3 do not fit dimension 1 of size 5"):
        nn.Narrow(1, 3, 3).forward(x)


def test_replicate() -> None:
    x = T(2, 3)
    y = nn.Replicate(4).forward(x)
    assert y.size() == (4, 2, 3) and y.stride()[0] == 0
    close(y, np.broadcast_to(A(x), (4, 2, 3)))
    assert nn.Replicate(4, 1).forward(x).size() == (2, 4, 3)
    assert nn.Replicate(4, 0, 1).forward(x).size() == (2, 4, 3)  # a batch of 1-D samples
    assert nn.Replicate(4, 0, 2).forward(x).size() == (4, 2, 3)
    check_module(nn.Replicate(3, 1), x)
    with pytest.raises(ShapeError, match="not enough input dims"):
        nn.Replicate(2, 3).forward(x)


def test_reshape() -> None:
    m = nn.Reshape(3, 2)
    assert m.forward(T(6)).size() == (3, 2)
    assert m.forward(T(2, 3)).size() == (3, 2)
    assert m.forward(T(4, 6)).size() == (4, 3, 2)  # more elements: a batch
    assert m.forward(T(1, 6)).size() == (1, 3, 2)  # first dim 1: a batch
    assert nn.Reshape(6, batch_mode=False).forward(T(1, 6)).size() == (6,)
    r = nn.Reshape(2, 3, True)  # Torch's trailing boolean
    assert r.batch_mode is True and r.forward(T(2, 6)).size() == (2, 2, 3)
    t = T(3, 4).t()
    close(nn.Reshape(12).forward(t), A(t).reshape(12))
    check_module(m, T(2, 6))
    assert repr(m) == "nn.Reshape(3x2)"
    with pytest.raises(ShapeError, match="Reshape: an input of size 2x5 cannot be viewed as 3x2 or N x 3x2"):
        m.forward(T(2, 5))


def test_view() -> None:
    v = nn.View(2, 3)
    assert v.forward(T(6)).size() == (2, 3)
    assert v.forward(T(4, 6)).size() == (4, 2, 3)
    assert nn.View(-1).forward(T(2, 3)).size() == (6,)
    assert nn.View(-1).set_num_input_dims(2).forward(T(4, 2, 3)).size() == (4, 6)
    assert nn.View(6).set_num_input_dims(2).forward(T(1, 2, 3)).size() == (1, 6)
    assert nn.View(6).set_num_input_dims(2).forward(T(2, 3)).size() == (6,)
    assert v.reset_size(3, 2).forward(T(6)).size() == (3, 2)
    x = T(2, 6)
    assert nn.View(12).forward(x).storage().data_ptr() == x.storage().data_ptr()
    check_module(nn.View(3, 4), T(2, 2, 6))
    with pytest.raises(ShapeError, match=r"View: input view \(5\) and desired view \(3x2\) do not match"):
        v.forward(T(5))
    with pytest.raises(ArgumentError):
        nn.View(-1, -1)


def test_select() -> None:
    x = T(3, 4)
    close(nn.Select(1, 2).forward(x), A(x)[:, 2])
    close(nn.Select(-1, -1).forward(x), A(x)[:, -1])
    check_module(nn.Select(0, 1), x)
    with pytest.raises(IndexError, match="Select: index 4 is out of range for dimension 1 of size 4"):
        nn.Select(1, 4).forward(x)


def test_masked_select_index() -> None:
    x = T(3, 4)
    mask = x.gt(0)
    m = nn.MaskedSelect()
    close(m.forward([x, mask]), A(x)[A(x) > 0])
    gi = m.backward([x, mask], ft.ones(int(mask.sum())))
    close(gi[0], (A(x) > 0).astype(float))
    assert gi[1].size() == mask.size()
    check_table(m, [x, mask], [0])
    with pytest.raises(ShapeError, match="the mask"):
        m.forward([x, ft.ones(2, 2).byte()])
    idx = ft.LongTensor([2, 0, 2])
    i = nn.Index(1)
    close(i.forward([x, idx]), A(x)[:, [2, 0, 2]])
    g = i.backward([x, idx], ft.ones(3, 3))
    close(g[0], np.array([[1, 0, 2, 0]] * 3, dtype=float))
    check_table(i, [x, idx], [0])


def test_squeeze_unsqueeze() -> None:
    x = T(2, 1, 3, 1)
    assert nn.Squeeze().forward(x).size() == (2, 3)
    assert nn.Squeeze(1).forward(x).size() == (2, 3, 1)
    assert nn.Squeeze(0, 2).forward(T(4, 1, 2)).size() == (4, 2)  # batch: dim 0 becomes 1
    assert nn.Squeeze(None, 2).forward(T(1, 3, 1)).size() == (1, 3)  # a batch of one stays
    check_module(nn.Squeeze(), x)
    u = nn.Unsqueeze(1)
    assert u.forward(T(2, 3)).size() == (2, 1, 3)
    assert nn.Unsqueeze(2).forward(T(2, 3)).size() == (2, 3, 1)
    assert nn.Unsqueeze(0, 1).forward(T(5, 3)).size() == (5, 1, 3)
    check_module(u, T(2, 3))
    with pytest.raises(ShapeError, match="Unsqueeze: cannot insert a dim at 3"):
        nn.Unsqueeze(3).forward(T(2, 3))


def test_transpose() -> None:
    x = T(2, 3, 4)
    y = nn.Transpose((0, 2), (0, 1)).forward(x)
    close(y, A(x).transpose(2, 1, 0).transpose(1, 0, 2))
    assert y.is_contiguous()
    b = nn.Transpose((0, 1)).set_num_input_dims(2)
    assert b.forward(T(5, 2, 3)).size() == (5, 3, 2)
    check_module(nn.Transpose((0, 2), (1, 2)), x)
    check_module(b, T(2, 2, 3))


# --------------------------------------------------------------------------------------------------
# Reductions.


@pytest.mark.parametrize(
    ("make", "ref"),
    [
        (nn.Sum, np.sum),
        (nn.Mean, np.mean),
        (nn.Max, np.max),
        (nn.Min, np.min),
    ],
)
def test_reductions(make: Any, ref: Any) -> None:
    x = T(3, 4, 5)
    close(make(1).forward(x), ref(A(x), axis=1))
    close(make().forward(x), ref(A(x), axis=0))
    close(make(-1).forward(x), ref(A(x), axis=2))
    close(make(0, 2).forward(x), ref(A(x), axis=1))  # a batch of 2-D samples shifts the dim
    close(make(0, 2).forward(x[0].clone()), ref(A(x)[0], axis=0))
    one = make(0).forward(T(4))
    assert one.size() == (1,)
    check_module(make(1), x)
    check_module(make(0, 1), T(3, 4))
    with pytest.raises(ShapeError, match="dimension 3 exceeds"):
        make(3).forward(x)


def test_sum_options() -> None:
    x = T(3, 4)
    close(nn.Sum(1, size_average=True).forward(x), A(x).mean(1))
    assert nn.Sum(1, squeeze=False).forward(x).size() == (3, 1)
    check_module(nn.Sum(1, squeeze=False), x)
    check_module(nn.Sum(0, size_average=True), x)


def test_max_gradient_goes_to_argmax() -> None:
    x = ft.Tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    m = nn.Max(1)
    m.forward(x)
    close(m.backward(x, ft.Tensor([10.0, 20.0])), [[0, 10, 0], [20, 0, 0]])
    assert m.indices.tolist() == [[1], [0]]


# --------------------------------------------------------------------------------------------------
# Element-wise maths.


def test_elementwise() -> None:
    x = T(3, 4, lo=0.5, hi=2.0)
    s = T(3, 4, lo=0.2, hi=1.0) * on_device(np.sign(RNG.standard_normal((3, 4))))
    cases = [
        (nn.Exp(), s, np.exp),
        (nn.Log(), x, np.log),
        (nn.Abs(), s, np.abs),
        (nn.Square(), s, np.square),
        (nn.Sqrt(), x, np.sqrt),
        (nn.Sqrt(0.5), x, lambda a: np.sqrt(a + 0.5)),
        (nn.Power(3), s, lambda a: a**3),
        (nn.Power(2.5), x, lambda a: a**2.5),
        (nn.Power(-1), x, lambda a: 1 / a),
        (nn.Clamp(-0.5, 0.5), s, lambda a: np.clip(a, -0.5, 0.5)),
    ]
    for m, inp, f in cases:
        close(m.forward(inp), f(A(inp)))
        check_module(m, inp)
    assert A(nn.Sqrt().forward(ft.zeros(2)).clone()).tolist() == [0.0, 0.0]
    sq = nn.Sqrt()
    sq.forward(ft.zeros(2))
    assert sq.backward(ft.zeros(2), ft.ones(2)).tolist() == [0.0, 0.0]
    c = nn.Clamp(-1, 1)
    c.forward(ft.Tensor([-2.0, 0.0, 1.0, 3.0]))
    assert c.backward(ft.Tensor([-2.0, 0.0, 1.0, 3.0]), ft.ones(4)).tolist() == [0.0, 1.0, 0.0, 0.0]
    with pytest.raises(ArgumentError):
        nn.Clamp(1, -1)


@pytest.mark.parametrize("p", [1, 1.5, 2, 3, 4, math.inf])
def test_normalize(p: float) -> None:
    x = T(3, 5) + on_device(np.sign(RNG.standard_normal((3, 5))) * 0.1)
    m = nn.Normalize(p, 0.0 if math.isinf(p) else 1e-10)
    a = A(x)
    norm = np.abs(a).max(1) if math.isinf(p) else (np.sum(np.abs(a) ** p, 1) + 1e-10) ** (1 / p)
    close(m.forward(x), a / norm[:, None], 1e-9)
    check_module(m, x)
    check_module(m, x[0].clone())


def test_normalize_errors() -> None:
    with pytest.raises(ArgumentError):
        nn.Normalize(0)
    with pytest.raises(ShapeError, match="Normalize: expected a 1-D input or a batch N x d, got 2x2x2"):
        nn.Normalize(2).forward(T(2, 2, 2))
    assert repr(nn.Normalize(2)) == "nn.Normalize(2)" and repr(nn.Normalize(math.inf)) == "nn.Normalize(inf)"


# --------------------------------------------------------------------------------------------------
# Matrix products.


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_mm(ta: bool, tb: bool) -> None:
    a = T(3, 2) if ta else T(2, 3)
    b = T(4, 3) if tb else T(3, 4)
    m = nn.MM(ta, tb)
    ref = (A(a).T if ta else A(a)) @ (A(b).T if tb else A(b))
    close(m.forward([a, b]), ref)
    check_table(m, [a, b], [0, 1])
    ab = T(2, 3, 2) if ta else T(2, 2, 3)
    bb = T(2, 4, 3) if tb else T(2, 3, 4)
    refb = np.matmul(A(ab).transpose(0, 2, 1) if ta else A(ab), A(bb).transpose(0, 2, 1) if tb else A(bb))
    close(m.forward([ab, bb]), refb)
    check_table(m, [ab, bb], [0, 1])


def test_mm_errors() -> None:
    with pytest.raises(ShapeError, match="MM: matrix sizes do not match: 2x3 @ 2x3"):
        nn.MM().forward([T(2, 3), T(2, 3)])
    with pytest.raises(ArgumentError, match="MM: expected a table"):
        nn.MM().forward([T(2, 2)])


@pytest.mark.parametrize("trans", [False, True])
def test_mv(trans: bool) -> None:
    m = nn.MV(trans)
    mat, v = T(3, 2), T(3 if trans else 2)
    close(m.forward([mat, v]), (A(mat).T if trans else A(mat)) @ A(v))
    check_table(m, [mat, v], [0, 1])
    mb, vb = T(2, 3, 2), T(2, 3 if trans else 2)
    ref = np.einsum("bij,bj->bi", A(mb).transpose(0, 2, 1) if trans else A(mb), A(vb))
    close(m.forward([mb, vb]), ref)
    check_table(m, [mb, vb], [0, 1])
    with pytest.raises(ShapeError):
        m.forward([mat, T(5)])


# --------------------------------------------------------------------------------------------------
# Padding.


def test_padding() -> None:
    x = T(2, 3)
    a = A(x)
    close(nn.Padding(1, 2).forward(x), np.concatenate([a, np.zeros((2, 2))], 1))
    close(nn.Padding(1, -1, value=5).forward(x), np.concatenate([np.full((2, 1), 5.0), a], 1))
    close(nn.Padding(1, -2, index=1).forward(x), np.concatenate([a[:, :1], np.zeros((2, 2)), a[:, 1:]], 1))
    close(nn.Padding(1, 1, index=1).forward(x), np.concatenate([a[:, :2], np.zeros((2, 1)), a[:, 2:]], 1))
    close(nn.Padding(0, 1, 1).forward(x), np.concatenate([a, np.zeros((2, 1))], 1))  # batch: dim shifts
    for m in (nn.Padding(1, 2), nn.Padding(0, -1, index=1), nn.Padding(0, 2, 1, value=3.0)):
        check_module(m, x)
    with pytest.raises(IndexError):
        nn.Padding(1, 1, index=4).forward(x)


# --------------------------------------------------------------------------------------------------
# Dropout.


def test_dropout_training_mask() -> None:
    m = nn.Dropout(0.25)
    x = T(40, 50)
    y = m.forward(x)
    noise = A(m.noise)
    assert set(np.unique(noise)) <= {0.0, 1 / 0.75}
    assert abs((noise == 0).mean() - 0.25) < 0.03
    close(y, A(x) * noise)
    g = T(40, 50)
    close(m.backward(x, g), A(g) * noise)
    ft.manual_seed(5)
    first = A(nn.Dropout(0.5).forward(ft.ones(100))).copy()
    ft.manual_seed(5)
    assert (A(nn.Dropout(0.5).forward(ft.ones(100))) == first).all()


def test_dropout_evaluate_and_v1() -> None:
    x = T(3, 4)
    m = nn.Dropout(0.3).evaluate()
    close(m.forward(x), A(x))
    check_module(m, x)
    v1 = nn.Dropout(0.3, v1=True)
    y = v1.forward(x)
    assert set(np.unique(A(v1.noise))) <= {0.0, 1.0}
    close(y, A(x) * A(v1.noise))
    v1.evaluate()
    close(v1.forward(x), 0.7 * A(x))
    check_module(v1, x)
    s = nn.Dropout(0.5, stochastic_inference=True).evaluate()
    s.forward(ft.ones(200))
    assert (A(s.output) == 0).any()
    assert nn.Dropout(0.0).forward(x).tolist() == x.tolist()
    assert repr(nn.Dropout(0.5)) == "nn.Dropout(0.5)"
    with pytest.raises(ArgumentError, match="0 <= p < 1, got 1"):
        nn.Dropout(1)


def test_dropout_inplace() -> None:
    x = ft.ones(10, 10)
    m = nn.Dropout(0.5, inplace=True)
    y = m.forward(x)
    assert y is x
    g = ft.ones(10, 10)
    assert m.backward(x, g) is g
    close(g, A(m.noise))


@pytest.mark.parametrize(("make", "shape"), [(nn.SpatialDropout, (2, 6, 3, 3)), (nn.VolumetricDropout, (6, 2, 3, 3))])
def test_feature_dropout(make: Any, shape: tuple[int, ...]) -> None:
    m = make(0.5)
    x = T(*shape)
    y = m.forward(x)
    lead = 2 if len(shape) == make.NDIM + 1 else 1
    assert tuple(m.noise.size()) == shape[:lead] + (1,) * (len(shape) - lead)
    close(y, A(x) * A(m.noise))  # no scaling while training (Torch's v1 way)
    close(m.backward(x, x), A(x) * A(m.noise))
    m.evaluate()
    close(m.forward(x), 0.5 * A(x))
    check_module(m, T(*shape[:-1], 2))
    with pytest.raises(ShapeError, match=f"{make.__name__}: expected an input of"):
        m.forward(T(2, 2))


# --------------------------------------------------------------------------------------------------
# Gradient modifiers and k-max pooling.


def test_l1_penalty() -> None:
    x = T(3, 4)
    m = nn.L1Penalty(0.1)
    assert m.forward(x) is x
    assert m.loss == pytest.approx(0.1 * np.abs(A(x)).sum())
    g = T(3, 4)
    close(m.backward(x, g), A(g) + 0.1 * np.sign(A(x)))
    avg = nn.L1Penalty(0.1, size_average=True)
    avg.forward(x)
    assert avg.loss == pytest.approx(0.1 * np.abs(A(x)).mean())
    close(avg.backward(x, g), A(g) + 0.1 / 12 * np.sign(A(x)))
    only = nn.L1Penalty(0.1, provide_output=False)
    only.forward(x)
    close(only.backward(x, g), 0.1 * np.sign(A(x)))
    check_module(nn.L1Penalty(0.0), x)  # the penalty aside, the identity


def test_gradient_reversal() -> None:
    x = T(2, 3)
    m = nn.GradientReversal()
    assert m.forward(x) is x
    g = T(2, 3)
    close(m.backward(x, g), -A(g))
    m.set_lambda(0.5)
    close(m.backward(x, g), -0.5 * A(g))
    check_module(nn.GradientReversal(-1.0), x)  # -(-1) g: the identity's gradient


def test_temporal_dynamic_k_max_pooling() -> None:
    x = T(2, 7, 3)
    m = nn.TemporalDynamicKMaxPooling(2, 0.5)  # k = max(2, ceil(3.5)) = 4
    y = m.forward(x)
    assert y.size() == (2, 4, 3)
    a = A(x)
    for n in range(2):
        for f in range(3):
            keep = np.sort(np.argsort(-a[n, :, f], kind="stable")[:4])
            close(y[n, :, f], a[n, keep, f])
    check_module(m, x)
    check_module(nn.TemporalDynamicKMaxPooling(3), T(5, 2))
    with pytest.raises(ShapeError, match=r"the sequence length \(2\) is too small for k = 3"):
        nn.TemporalDynamicKMaxPooling(3).forward(T(2, 4))


# --------------------------------------------------------------------------------------------------
# In a container.


def test_in_sequential() -> None:
    model = nn.Sequential(nn.Reshape(6), nn.Linear(6, 4), nn.Dropout(0.2), nn.Normalize(2), nn.Sum(1))
    model.evaluate()
    x = T(3, 2, 3)
    assert model.forward(x).size() == (3,)
    check_module(model, x)
    with pytest.raises(ShapeError, match=r"\(1\) nn.Linear\(6 -> 4\): size mismatch"):
        nn.Sequential(nn.Reshape(5), nn.Linear(6, 4)).forward(T(2, 5))


def test_reprs() -> None:
    assert repr(nn.Narrow(1, 2, 3)) == "nn.Narrow(dim 1, offset 2, length 3)"
    assert repr(nn.Transpose((0, 1), (1, 2))) == "nn.Transpose({0, 1}, {1, 2})"
    assert repr(nn.Sum(1)) == "nn.Sum(dim 1)" and repr(nn.Mean()) == "nn.Mean(dim 0)"
    assert repr(nn.Euclidean(3, 2)) == "nn.Euclidean(3 -> 2)" and repr(nn.Identity()) == "nn.Identity"
    assert repr(nn.CMul(1, 3)) == "nn.CMul(1x3)" and repr(nn.Power(2)) == "nn.Power(2)"
