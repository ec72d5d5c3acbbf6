"""flambeau.nn's Torch7 hooks: Lua models load as flambeau modules, and go back through save_t7."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.nn import t7
from flambeau.tensor.errors import SerializationError

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
MLP = SHARED / "t7" / "mnist-mlp-torch7.t7"
MNIST = SHARED / "mnist"
MEAN, STD = 33.31842, 78.56749  # the training set's, as the model's authors normalised


def round_trip(obj: Any) -> Any:
    buf = io.BytesIO()
    ft.save_t7(buf, obj)
    return ft.load_t7(io.BytesIO(buf.getvalue()))


def assert_same_tensor(a: Any, b: Any) -> None:
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same_tensor(x, y)
        return
    assert a.type() == b.type() and tuple(a.size()) == tuple(b.size())
    np.testing.assert_array_equal(a.numpy(), b.numpy())


# --------------------------------------------------------------------------------------------------
# The real model: a Lua Torch7 MLP trained on MNIST (torch.CudaTensor weights).


@pytest.fixture(scope="module")
def mlp() -> Any:
    if not MLP.exists():
        pytest.skip(f"{MLP} is absent (../shared/data holds the real Torch7 files)")
    return ft.load_t7(MLP)


def test_mnist_mlp_loads_as_sequential(mlp: Any) -> None:
    assert type(mlp) is nn.Sequential
    kinds = [type(m) for m in mlp.modules]
    assert kinds == [nn.View, nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear, nn.LogSoftMax]
    view, l1, _, l2, _, l3, _ = mlp.modules
    assert view.size == (784,) and view.num_elements == 784
    assert [tuple(m.weight.size()) for m in (l1, l2, l3)] == [(64, 784), (128, 64), (10, 128)]
    assert [tuple(m.bias.size()) for m in (l1, l2, l3)] == [(64,), (128,), (10,)]
    for m in (l1, l2, l3):  # torch.CudaTensor loads as float32 on the cpu
        assert m.weight.type() == "flambeau.FloatTensor" and m.bias.type() == "flambeau.FloatTensor"
    assert sum(p.nelement() for p in mlp.parameters()[0]) == 59850
    relu = mlp.modules[2]
    assert relu.threshold == 0 and relu.val == 0 and relu.inplace is False


def test_mnist_mlp_classifies_the_test_set(mlp: Any) -> None:
    if not (MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"{MNIST} is absent (../shared/data holds MNIST's test set)")
    images, labels = nn.datasets.load_mnist(str(MNIST), "t10k")
    x = (images.float() - MEAN) / STD
    mlp.evaluate()
    out = mlp.forward(x)
    assert tuple(out.size()) == (10000, 10)
    pred = out.max(1)[1].view(-1).long()
    accuracy = float((pred == labels.long()).float().mean())
    print(f"mnist-mlp-torch7.t7 on MNIST t10k: accuracy {accuracy:.4f}")  # 0.9802 (its authors report 98%)
    assert accuracy >= 0.97


def test_mnist_mlp_goes_back_to_torch7(mlp: Any) -> None:
    again = round_trip(mlp)
    assert [type(m) for m in again.modules] == [type(m) for m in mlp.modules]
    x = ft.randn(5, 28, 28).float()
    assert_same_tensor(mlp.forward(x), again.forward(x))
    for a, b in zip(mlp.parameters()[0], again.parameters()[0], strict=True):
        assert_same_tensor(a, b)


# --------------------------------------------------------------------------------------------------
# Round trips through save_t7 / load_t7: same class, equal outputs.


def _inputs_4d() -> Any:
    return ft.randn(2, 3, 7, 7)


CASES: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
    ("Linear", lambda: nn.Linear(5, 3), lambda: ft.randn(4, 5)),
    ("Linear no bias", lambda: nn.Linear(5, 3, bias=False), lambda: ft.randn(4, 5)),
    (
        "Sequential",
        lambda: nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3), nn.LogSoftMax()),
        lambda: ft.randn(4, 5),
    ),
    ("Concat", lambda: nn.Concat(1).add(nn.Linear(5, 2)).add(nn.Linear(5, 3)), lambda: ft.randn(4, 5)),
    ("ConcatTable", lambda: nn.ConcatTable().add(nn.Linear(5, 2)).add(nn.Identity()), lambda: ft.randn(4, 5)),
    (
        "ParallelTable",
        lambda: nn.ParallelTable().add(nn.Linear(5, 2)).add(nn.Tanh()),
        lambda: [ft.randn(4, 5), ft.randn(4, 3)],
    ),
    ("Parallel", lambda: nn.Parallel(0, 0).add(nn.Linear(5, 2)).add(nn.Linear(5, 2)), lambda: ft.randn(2, 5)),
    (
        "SpatialConvolution",
        lambda: nn.SpatialConvolution(3, 4, 3, 2, 2, 1, 1, 0),
        _inputs_4d,
    ),
    ("SpatialMaxPooling", lambda: nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1), _inputs_4d),
    ("SpatialMaxPooling ceil", lambda: nn.SpatialMaxPooling(2, 2).ceil(), _inputs_4d),
    ("SpatialAveragePooling", lambda: nn.SpatialAveragePooling(3, 3, 2, 2, 1, 1), _inputs_4d),
    ("BatchNormalization", lambda: _bn(nn.BatchNormalization(5)), lambda: ft.randn(6, 5)),
    ("SpatialBatchNormalization", lambda: _bn(nn.SpatialBatchNormalization(3)), _inputs_4d),
    ("Dropout evaluate", lambda: nn.Dropout(0.3).evaluate(), lambda: ft.randn(4, 5)),
    ("Dropout v1 evaluate", lambda: nn.Dropout(0.3, v1=True).evaluate(), lambda: ft.randn(4, 5)),
    ("Select", lambda: nn.Select(1, 2), lambda: ft.randn(3, 4, 2)),
    ("Select negative", lambda: nn.Select(-1, -1), lambda: ft.randn(3, 4, 2)),
    ("Narrow", lambda: nn.Narrow(1, 1, 2), lambda: ft.randn(3, 4, 2)),
    ("Narrow negative", lambda: nn.Narrow(-2, -3, -1), lambda: ft.randn(3, 4, 2)),
    ("Sum", lambda: nn.Sum(1), lambda: ft.randn(3, 4, 2)),
    ("Max", lambda: nn.Max(1, 2), lambda: ft.randn(3, 4, 2)),
    ("JoinTable", lambda: nn.JoinTable(1), lambda: [ft.randn(2, 3), ft.randn(2, 4)]),
    ("SplitTable", lambda: nn.SplitTable(1), lambda: ft.randn(2, 3)),
    ("SelectTable", lambda: nn.SelectTable(1), lambda: [ft.randn(2), ft.randn(3)]),
    ("NarrowTable", lambda: nn.NarrowTable(1, 2), lambda: [ft.randn(2), ft.randn(3), ft.randn(4)]),
    ("Padding", lambda: nn.Padding(1, -2, None, 1.5, 1), lambda: ft.randn(2, 3)),
    ("Unsqueeze", lambda: nn.Unsqueeze(1), lambda: ft.randn(2, 3)),
    ("Transpose", lambda: nn.Transpose((0, 2), (1, 2)), lambda: ft.randn(2, 3, 4)),
    ("View", lambda: nn.View(-1, 6), lambda: ft.randn(4, 2, 3)),
    ("Reshape", lambda: nn.Reshape(3, 2), lambda: ft.randn(4, 6)),
    ("LookupTable", lambda: nn.LookupTable(7, 3, padding_value=2), lambda: ft.LongTensor([[0, 2, 6], [1, 1, 3]])),
    ("TemporalConvolution", lambda: nn.TemporalConvolution(3, 4, 2, 1), lambda: ft.randn(2, 6, 3)),
    (
        "SpatialConvolutionMap",
        lambda: nn.SpatialConvolutionMap(ft.LongTensor([[0, 0], [1, 0], [1, 1], [2, 1]]), 3, 3),
        _inputs_4d,
    ),
    ("PReLU", lambda: nn.PReLU(3), _inputs_4d),
    ("HardTanh", lambda: nn.HardTanh(-0.5, 0.25), lambda: ft.randn(4, 5)),
    ("LeakyReLU", lambda: nn.LeakyReLU(0.2), lambda: ft.randn(4, 5)),
    ("ELU", lambda: nn.ELU(0.7), lambda: ft.randn(4, 5)),
    ("SoftPlus", lambda: nn.SoftPlus(2.0), lambda: ft.randn(4, 5)),
    ("Clamp", lambda: nn.Clamp(-0.1, 0.2), lambda: ft.randn(4, 5)),
    ("Power", lambda: nn.Power(3), lambda: ft.randn(4, 5)),
    ("MulConstant", lambda: nn.MulConstant(2.5), lambda: ft.randn(4, 5)),
    ("SpatialLPPooling", lambda: nn.SpatialLPPooling(3, 2, 2, 2), lambda: ft.rand(2, 3, 6, 6)),
    ("CMul", lambda: nn.CMul(1, 5), lambda: ft.randn(4, 5)),
    ("Add", lambda: nn.Add(5), lambda: ft.randn(4, 5)),
    ("MapTable", lambda: nn.MapTable(nn.Linear(3, 2)), lambda: [ft.randn(2, 3), ft.randn(4, 3)]),
    ("SpatialZeroPadding", lambda: nn.SpatialZeroPadding(1, 2, 0, -1), _inputs_4d),
    ("SpatialUpSamplingNearest", lambda: nn.SpatialUpSamplingNearest(2), _inputs_4d),
    ("SpatialFullConvolution", lambda: nn.SpatialFullConvolution(3, 2, 3, 3, 2, 2, 1, 1, 1, 1), _inputs_4d),
    (
        "VolumetricConvolution",
        lambda: nn.VolumetricConvolution(2, 3, 2, 3, 3, 1, 2, 2, 1, 1, 0),
        lambda: ft.randn(2, 2, 4, 6, 5),
    ),
]


def _bn(m: Any) -> Any:
    m.running_mean.uniform_(-1, 1)
    m.running_var.uniform_(0.5, 2)
    m.weight.uniform_(0.5, 1.5)
    m.bias.uniform_(-1, 1)
    return m.evaluate()


def _outputs(m: Any, x: Any) -> Any:
    out = m.forward(x)
    return [o.clone() for o in out] if isinstance(out, list) else out.clone()


@pytest.mark.parametrize(("name", "make", "inputs"), CASES, ids=[c[0] for c in CASES])
def test_module_round_trip_gives_equal_outputs(name: str, make: Callable[[], Any], inputs: Callable[[], Any]) -> None:
    m = make()
    x = inputs()
    expected = _outputs(m, x)
    again = round_trip(m)
    assert type(again) is type(m)
    assert again.train == m.train
    assert_same_tensor(_outputs(again, x), expected)
    for a, b in zip(m.parameters()[0], again.parameters()[0], strict=True):
        assert_same_tensor(a, b)


def test_dropout_keeps_its_train_flag_and_p() -> None:
    d = round_trip(nn.Sequential(nn.Dropout(0.25), nn.Dropout(0.5).evaluate()))
    a, b = d.modules
    assert (a.train, a.p, b.train, b.p) == (True, 0.25, False, 0.5)
    x = ft.ones(1000)
    assert float(a.forward(x).eq(0).float().mean()) == pytest.approx(0.25, abs=0.06)  # it drops in training
    assert_same_tensor(b.forward(x), x)


def test_batch_normalization_keeps_running_statistics() -> None:
    m = _bn(nn.BatchNormalization(4, 1e-3, 0.3))
    again = round_trip(m)
    assert (again.eps, again.momentum, again.affine, again.train) == (1e-3, 0.3, True, False)
    assert_same_tensor(again.running_mean, m.running_mean)
    assert_same_tensor(again.running_var, m.running_var)
    no_affine = round_trip(nn.BatchNormalization(4, affine=False))
    assert no_affine.affine is False and getattr(no_affine, "weight", None) is None


CRITERIA: list[tuple[str, Callable[[], Any], Callable[[], tuple[Any, Any]]]] = [
    (
        "ClassNLLCriterion",
        lambda: nn.ClassNLLCriterion(ft.Tensor([1.0, 2.0, 0.5]), size_average=False),
        lambda: (ft.randn(4, 3), ft.LongTensor([0, 2, 1, 2])),
    ),
    (
        "CrossEntropyCriterion",
        lambda: nn.CrossEntropyCriterion(ft.Tensor([1.0, 2.0, 0.5])),
        lambda: (ft.randn(4, 3), ft.LongTensor([0, 2, 1, 2])),
    ),
    ("MSECriterion", lambda: nn.MSECriterion(size_average=False), lambda: (ft.randn(4, 3), ft.randn(4, 3))),
    ("AbsCriterion", lambda: nn.AbsCriterion(), lambda: (ft.randn(4, 3), ft.randn(4, 3))),
    ("BCECriterion", lambda: nn.BCECriterion(), lambda: (ft.rand(4, 3) * 0.8 + 0.1, ft.rand(4, 3).gt(0.5).double())),
    ("MarginCriterion", lambda: nn.MarginCriterion(0.5), lambda: (ft.randn(4), ft.Tensor([1.0, -1.0, 1.0, -1.0]))),
    (
        "MultiMarginCriterion",
        lambda: nn.MultiMarginCriterion(2, ft.Tensor([1.0, 0.5, 2.0]), 0.7),
        lambda: (ft.randn(4, 3), ft.LongTensor([0, 2, 1, 2])),
    ),
    (
        "MultiCriterion",
        lambda: nn.MultiCriterion().add(nn.MSECriterion(), 0.5).add(nn.AbsCriterion(), 2.0),
        lambda: (ft.randn(4, 3), ft.randn(4, 3)),
    ),
    (
        "ParallelCriterion",
        lambda: nn.ParallelCriterion().add(nn.MSECriterion(), 0.5).add(nn.AbsCriterion()),
        lambda: ([ft.randn(4, 3), ft.randn(2)], [ft.randn(4, 3), ft.randn(2)]),
    ),
]


@pytest.mark.parametrize(("name", "make", "data"), CRITERIA, ids=[c[0] for c in CRITERIA])
def test_criterion_round_trip_gives_equal_losses(name: str, make: Callable[[], Any], data: Callable[[], Any]) -> None:
    c = make()
    x, y = data()
    loss, grad = c.forward(x, y), c.backward(x, y)
    grad = [g.clone() for g in grad] if isinstance(grad, list) else grad.clone()
    again = round_trip(c)
    assert type(again) is type(c)
    assert again.forward(x, y) == pytest.approx(loss, rel=1e-12)
    assert_same_tensor(again.backward(x, y), grad)


# --------------------------------------------------------------------------------------------------
# Torch's field names and 1-based values on the Lua side.


def test_fields_use_torch_names_and_one_based_indices() -> None:
    name, f = t7.to_t7(nn.Narrow(1, 0, 2))
    assert name == "nn.Narrow" and (f["dimension"], f["index"], f["length"]) == (2, 1, 2)
    name, f = t7.to_t7(nn.Select(-1, -2))
    assert (f["dimension"], f["index"]) == (-1, -2)  # counting from the end needs no shift
    name, f = t7.to_t7(nn.Concat(1))
    assert f["dimension"] == 2
    name, f = t7.to_t7(nn.Linear(3, 2))
    assert {"weight", "bias", "gradWeight", "gradBias", "output", "gradInput", "train"} <= set(f)
    name, f = t7.to_t7(nn.SpatialConvolution(3, 8, 5, 4, 2, 1, 1, 2))
    assert [f[k] for k in ("nInputPlane", "nOutputPlane", "kW", "kH", "dW", "dH", "padW", "padH")] == [
        3,
        8,
        5,
        4,
        2,
        1,
        1,
        2,
    ]
    name, f = t7.to_t7(nn.SpatialMaxPooling(2, 2, 2, 2, 1, 1).ceil())
    assert f["ceil_mode"] is True and (f["padW"], f["padH"]) == (1, 1)
    name, f = t7.to_t7(nn.BatchNormalization(3))
    assert {"running_mean", "running_var", "eps", "momentum", "affine"} <= set(f)
    name, f = t7.to_t7(nn.Reshape(2, 3))
    assert f["size"].tolist() == [2, 3] and f["batchsize"].tolist() == [1, 2, 3] and f["nelement"] == 6
    name, f = t7.to_t7(nn.LookupTable(5, 2))
    assert f["paddingValue"] == 0  # Torch's "no padding"
    name, f = t7.to_t7(nn.SpatialConvolutionMap(ft.LongTensor([[0, 1], [1, 0]]), 3, 3))
    assert f["connTable"].tolist() == [[1, 2], [2, 1]]
    name, f = t7.to_t7(nn.ClassNLLCriterion(size_average=False, ignore_index=3))
    assert name == "nn.ClassNLLCriterion" and f["sizeAverage"] is False and f["ignoreIndex"] == 3
    name, f = t7.to_t7(nn.Transpose((0, 1)))
    assert f["permutations"] == [[1, 2]]


def test_lua_fields_load_as_flambeau_modules() -> None:
    w = ft.randn(4, 2, 3, 3).float()
    conv = t7.from_t7(
        "nn.SpatialConvolutionMM",  # an older file: the weight kept 2-D
        {"nInputPlane": 2, "nOutputPlane": 4, "kW": 3, "kH": 3, "dW": 1, "dH": 1, "padW": 1, "padH": 1,
         "weight": w.view(4, 18), "bias": ft.zeros(4).float(), "_type": "torch.FloatTensor"},
    )  # fmt: skip
    assert type(conv) is nn.SpatialConvolutionMM and tuple(conv.weight.size()) == (4, 2, 3, 3)
    assert (conv.pad_w, conv.pad_h) == (1, 1)
    assert_same_tensor(conv.weight, w)
    bn = t7.from_t7(  # BatchNormalization before version 2 kept running_std = 1/sqrt(var + eps)
        "nn.BatchNormalization",
        {
            "eps": 0.25,
            "momentum": 0.1,
            "affine": False,
            "running_mean": ft.zeros(2),
            "running_std": ft.Tensor([1.0, 0.5]),
        },
    )
    assert bn.running_var.tolist() == [0.75, 3.75]
    drop = t7.from_t7("nn.Dropout", {"p": 0.2, "train": False})  # before v2: scaled at evaluation
    assert drop.v2 is False and drop.train is False and drop.p == 0.2
    table = t7.from_t7("nn.LookupTable", {"weight": ft.randn(5, 2), "paddingValue": 0})
    assert table.padding_value is None
    table = t7.from_t7("nn.LookupTable", {"weight": ft.randn(5, 2), "paddingValue": 3})
    assert table.padding_value == 2
    seq = t7.from_t7("nn.Sequential", {"modules": [], "train": True})
    assert type(seq) is nn.Sequential and seq.modules == []


def test_missing_or_wrong_fields_raise_clear_errors() -> None:
    with pytest.raises(SerializationError, match="nn.Linear.*'weight'"):
        t7.from_t7("nn.Linear", {"bias": ft.zeros(2)})
    with pytest.raises(SerializationError, match="nn.Linear: field 'bias' must be a tensor or absent, got str"):
        t7.from_t7("nn.Linear", {"weight": ft.zeros(2, 3), "bias": "x"})
    assert "without bias" in repr(t7.from_t7("nn.Linear", {"weight": ft.zeros(2, 3)}))  # Torch's noBias()
    with pytest.raises(SerializationError, match="nn.Select.*'dimension'"):
        t7.from_t7("nn.Select", {"index": 1})
    with pytest.raises(SerializationError, match="nn.SpatialConvolution.*'weight'.*12 elements"):
        t7.from_t7(
            "nn.SpatialConvolution",
            {"nInputPlane": 2, "nOutputPlane": 4, "kW": 3, "kH": 3, "weight": ft.zeros(12), "bias": ft.zeros(4)},
        )
    with pytest.raises(SerializationError, match="no class"):
        t7.from_t7("nn.NoSuchModule", {})
    for typename, fields, message in [
        ("nn.MapTable", {}, "nn.MapTable: expected a 'modules' field holding the wrapped module"),
        ("nn.BatchNormalization", {}, "nn.BatchNormalization: expected a 'running_mean' tensor field"),
        ("nn.SpatialLPPooling", {"modules": []}, r"expected 3 modules \(power, pooling, root\), got 0"),
        ("nn.View", {"size": "abc"}, "nn.View size: expected a size .* got 'abc'"),
        ("nn.Sequential", {"modules": 5}, r"nn.Sequential modules: expected a Lua array \(keys 1..n\), got int"),
        ("nn.Sequential", {"modules": {1: "a", "n": 2}}, "expected a Lua array .* got dict"),  # mixed keys
    ]:
        with pytest.raises(SerializationError, match=message):
            t7.from_t7(typename, fields)
    with pytest.raises(SerializationError, match="save_t7: object is not a flambeau.nn class"):
        t7.to_t7(object())


def test_cmax_and_cmin_write_torchs_index_field_names() -> None:
    assert "maxIdx" in t7.to_t7(nn.CMaxTable())[1] and "minIdx" in t7.to_t7(nn.CMinTable())[1]


def test_classes_without_a_hook_stay_t7_objects() -> None:
    obj = ft.T7Object("nn.SpatialConvolutionCuDNNOnly", {"kW": 3, "weight": ft.ones(2)})
    again = round_trip(nn.Sequential(nn.Identity()).__dict__ | {"x": obj})["x"]
    assert isinstance(again, ft.T7Object) and again.typename == "nn.SpatialConvolutionCuDNNOnly"
    assert again.kW == 3


def test_shared_parameters_stay_shared() -> None:
    a = nn.Linear(3, 3)
    b = nn.Linear(3, 3)
    b.share(a, "weight", "bias")
    seq = round_trip(nn.Sequential(a, nn.Tanh(), b))
    a2, _, b2 = seq.modules
    a2.weight.fill_(0.5)
    assert b2.weight.tolist() == a2.weight.tolist()
    same = round_trip([a, a])
    assert same[0] is same[1]


# Constructor arguments for the classes whose constructor needs some.
ARGS: dict[str, Callable[[], tuple[Any, ...]]] = {
    "Linear": lambda: (3, 2),
    "SparseLinear": lambda: (3, 2),
    "Bilinear": lambda: (3, 4, 2),
    "PartialLinear": lambda: (3, 2),
    "Add": lambda: (3,),
    "CMul": lambda: (3, 4),
    "Euclidean": lambda: (3, 2),
    "WeightedEuclidean": lambda: (3, 2),
    "Cosine": lambda: (3, 2),
    "Power": lambda: (2,),
    "Clamp": lambda: (0, 1),
    "Normalize": lambda: (2,),
    "TemporalDynamicKMaxPooling": lambda: (2,),
    "L1Penalty": lambda: (0.1,),
    "Narrow": lambda: (1, 0, 2),
    "Replicate": lambda: (3,),
    "Reshape": lambda: (2, 3),
    "View": lambda: (6,),
    "Select": lambda: (1, 0),
    "Index": lambda: (0,),
    "Unsqueeze": lambda: (0,),
    "Transpose": lambda: ((0, 1),),
    "Padding": lambda: (0, 2),
    "Parallel": lambda: (0, 0),
    "Concat": lambda: (1,),
    "DepthConcat": lambda: (1,),
    "Bottle": lambda: (nn.Linear(2, 2),),
    "GPU": lambda: (nn.Linear(2, 2), "cpu"),
    "MapTable": lambda: (nn.Linear(2, 2),),
    "BatchNormalization": lambda: (3,),
    "SpatialBatchNormalization": lambda: (3,),
    "VolumetricBatchNormalization": lambda: (3,),
    "SpatialCrossMapLRN": lambda: (3,),
    "SpatialZeroPadding": lambda: (1,),
    "SpatialReflectionPadding": lambda: (1,),
    "SpatialReplicationPadding": lambda: (1,),
    "SpatialUpSamplingNearest": lambda: (2,),
    "SpatialUpSamplingBilinear": lambda: (2,),
    "SpatialConvolution": lambda: (2, 3, 3, 3),
    "SpatialConvolutionMM": lambda: (2, 3, 3, 3),
    "SpatialDilatedConvolution": lambda: (2, 3, 3, 3, 1, 1, 0, 0, 2, 2),
    "SpatialFullConvolution": lambda: (2, 3, 3, 3),
    "SpatialConvolutionLocal": lambda: (2, 3, 5, 5, 3, 3),
    "SpatialConvolutionMap": lambda: (ft.LongTensor([[0, 0], [1, 1]]), 3, 3),
    "SpatialFullConvolutionMap": lambda: (ft.LongTensor([[0, 0], [1, 1]]), 3, 3),
    "SpatialSubSampling": lambda: (2, 2, 2),
    "SpatialMaxPooling": lambda: (2, 2),
    "SpatialDilatedMaxPooling": lambda: (2, 2),
    "SpatialAveragePooling": lambda: (2, 2),
    "SpatialAdaptiveMaxPooling": lambda: (2, 2),
    "SpatialMaxUnpooling": lambda: (nn.SpatialMaxPooling(2, 2),),
    "SpatialLPPooling": lambda: (2, 3, 2, 2),
    "SpatialFractionalMaxPooling": lambda: (2, 2, 0.5, 0.5),
    "SplitTable": lambda: (0,),
    "JoinTable": lambda: (0,),
    "SelectTable": lambda: (0,),
    "NarrowTable": lambda: (0,),
    "CriterionTable": lambda: (nn.MSECriterion(),),
    "TemporalConvolution": lambda: (3, 2, 2),
    "TemporalSubSampling": lambda: (3, 2),
    "TemporalMaxPooling": lambda: (2,),
    "LookupTable": lambda: (5, 3),
    "AddConstant": lambda: (1.5,),
    "MulConstant": lambda: (2.0,),
    "VolumetricConvolution": lambda: (2, 3, 2, 2, 2),
    "VolumetricDilatedConvolution": lambda: (2, 3, 2, 2, 2),
    "VolumetricFullConvolution": lambda: (2, 3, 2, 2, 2),
    "VolumetricMaxPooling": lambda: (2, 2, 2),
    "VolumetricDilatedMaxPooling": lambda: (2, 2, 2),
    "VolumetricAveragePooling": lambda: (2, 2, 2),
    "VolumetricMaxUnpooling": lambda: (nn.VolumetricMaxPooling(2, 2, 2),),
    "VolumetricReplicationPadding": lambda: (1,),
    "ClassSimplexCriterion": lambda: (3,),
    "WeightedMSECriterion": lambda: (ft.ones(3),),
}


def _same_state(a: Any, b: Any, path: str) -> None:
    if isinstance(a, (nn.Module, nn.Criterion)):
        assert type(a) is type(b), path
        assert set(a.__dict__) == set(b.__dict__), path
        for k, v in a.__dict__.items():
            if k not in t7.RECOMPUTED:
                _same_state(v, b.__dict__[k], f"{path}.{k}")
    elif isinstance(a, ft.Tensor):
        assert isinstance(b, ft.Tensor), path
        assert a.type() == b.type() and a.tolist() == b.tolist(), path
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same_state(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.mark.parametrize("name", sorted(t7.CLASSES))
def test_every_class_round_trips(name: str) -> None:
    m = t7.CLASSES[name](*ARGS.get(name, lambda: ())())
    again = round_trip(m)
    _same_state(m, again, name)
