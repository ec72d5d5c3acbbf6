"""flambeau.nn on a second device: the talk's MLP moved to the third-party ``boxed`` backend.

``integration-tests/plugins/boxed-backend`` (the dist ``flambeau-boxed-backend``, installed by the
nox ``integration`` session) serves the device type ``boxed`` with numpy arrays in a type of their
own that refuse host arrays, so any tensor an nn module forgot to move, or any host array a
module mixed in, fails loudly. Checked here: ``.to(device)`` and ``.type(...)`` move every
parameter, gradient and buffer; forward and backward there give the numbers they give on cpu;
sharing (flattened parameters, shared modules) survives the move; mixing devices raises an error
naming both; criteria and the StochasticGradient trainer run there too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import flambeau.nn as nn
import flambeau.tensor as ft

try:
    import boxed_backend
except ImportError as e:  # the integration session installs it; a missing plugin must fail, not skip
    raise ImportError("install the test plugin: pip install ./integration-tests/plugins/boxed-backend") from e

BoxedArray = boxed_backend.BoxedArray
DEV = "boxed:0"
HAS_LOG_SOFTMAX = hasattr(nn, "LogSoftMax")


def talk_mlp() -> nn.Sequential:
    """The talk's MLP: 100 -> 1000 -> 10 with Tanh, and LogSoftMax when nn has it."""
    mlp = nn.Sequential(nn.Linear(100, 1000), nn.Tanh(), nn.Linear(1000, 10))
    if HAS_LOG_SOFTMAX:
        mlp.add(nn.LogSoftMax())
    return mlp


def on_device(t: ft.Tensor, dev: str = DEV) -> bool:
    return str(t.device) == dev and type(t._a) is (np.ndarray if dev == "cpu" else BoxedArray)


def all_tensors(model: nn.Module) -> list[tuple[str, ft.Tensor]]:
    """Every tensor field of every module, named ``(i) field``."""
    return [
        (f"({i}) {type(m).__name__}.{k}", v)
        for i, m in enumerate(model.list_modules())
        for k, v in m.__dict__.items()
        if isinstance(v, ft.Tensor)
    ]


def run(model: nn.Module, crit: nn.Criterion, x: ft.Tensor, y: Any) -> dict[str, Any]:
    """Forward, loss, backward and one update; every result copied to the host as numpy."""
    model.zero_grad_parameters()
    out = model.forward(x)
    loss = crit.forward(out, y)
    grad_in = model.backward(x, crit.backward(out, y))
    grads = [g.cpu().numpy().copy() for g in model.parameters()[1]]
    model.update_parameters(0.1)
    return {
        "out": out.cpu().numpy().copy(),
        "loss": loss,
        "grad_input": grad_in.cpu().numpy().copy(),
        "grads": grads,
        "params": [p.cpu().numpy().copy() for p in model.parameters()[0]],
    }


def assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert b["loss"] == pytest.approx(a["loss"], rel=1e-12, abs=1e-14)
    for key in ("out", "grad_input"):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-12, atol=1e-14)
    for key in ("grads", "params"):
        for u, v in zip(a[key], b[key], strict=True):
            np.testing.assert_allclose(v, u, rtol=1e-12, atol=1e-14)


# -- moving ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "move",
    [
        lambda m: m.to("boxed"),
        lambda m: m.to(ft.device("boxed:0")),
        lambda m: m.type(None, "boxed"),
        lambda m: m.type("torch.DoubleTensor", "boxed"),
    ],
    ids=["to-name", "to-device", "type-device", "type-name-and-device"],
)
def test_the_talks_mlp_moves_every_parameter_gradient_and_buffer(move: Any) -> None:
    mlp = talk_mlp()
    mlp.forward(ft.randn(3, 100))  # outputs exist and must move too
    assert move(mlp) is mlp
    params, grads = mlp.parameters()
    assert len(params) == len(grads) == 4
    for t in params + grads:
        assert on_device(t), t.type()
    for name, t in all_tensors(mlp):
        assert on_device(t), name
    assert mlp.type() == "flambeau.boxed.DoubleTensor"
    assert [tuple(p.size()) for p in params] == [(1000, 100), (1000,), (10, 1000), (10,)]
    out = mlp.forward(ft.randn(3, 100, device="boxed"))
    assert on_device(out) and out.size() == ft.Size([3, 10])
    mlp.to("cpu")
    for name, t in all_tensors(mlp):
        assert on_device(t, "cpu"), name


def test_float_type_and_device_together() -> None:
    mlp = talk_mlp().type("torch.FloatTensor", "boxed:1")
    assert mlp.type() == "flambeau.boxed.FloatTensor"
    for name, t in all_tensors(mlp):
        assert on_device(t, "boxed:1") and t.dtype == ft.float32, name
    out = mlp.forward(ft.randn(2, 100, device="boxed:1").float())
    assert on_device(out, "boxed:1") and out.dtype == ft.float32


def test_a_type_name_carrying_the_device_moves_the_model_as_it_moves_a_tensor() -> None:
    mlp = talk_mlp().type("flambeau.boxed.DoubleTensor")
    assert all(on_device(t) for t in mlp.parameters()[0])


# -- same numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [128, 1])
def test_forward_backward_and_update_on_the_device_match_cpu(batch: int) -> None:
    ft.manual_seed(11)
    cpu_model = talk_mlp()
    dev_model = cpu_model.clone().to("boxed")
    x = ft.randn(batch, 100) if batch > 1 else ft.randn(100)
    if batch > 1:
        y_cpu: Any = ft.LongTensor([i % 10 for i in range(batch)])
        y_dev: Any = y_cpu.to("boxed")
    else:
        y_cpu = y_dev = 7  # a single sample's class as an int
    crit_cpu, crit_dev = nn.ClassNLLCriterion(), nn.ClassNLLCriterion().to("boxed")
    on_cpu = run(cpu_model, crit_cpu, x, y_cpu)
    on_box = run(dev_model, crit_dev, x.to("boxed"), y_dev)
    assert_same(on_cpu, on_box)
    for t in dev_model.parameters()[0] + dev_model.parameters()[1] + [crit_dev.grad_input]:
        assert on_device(t)
    # a second step from the updated parameters still agrees
    assert_same(run(cpu_model, crit_cpu, x, y_cpu), run(dev_model, crit_dev, x.to("boxed"), y_dev))


def criteria_cases() -> list[tuple[str, nn.Criterion, Any, Any]]:
    rng = np.random.default_rng(3)

    def T(a: Any) -> ft.Tensor:
        return ft.from_numpy(np.array(a, dtype=np.float64))

    def L(a: Any) -> ft.Tensor:
        return ft.from_numpy(np.array(a, dtype=np.int64))

    x, x2 = T(rng.standard_normal((4, 5))), T(rng.standard_normal((4, 5)))
    probs, bits = T(rng.uniform(0.1, 0.9, (4, 5))), T(rng.integers(0, 2, (4, 5)))
    cls, signs = L([0, 4, 2, 1]), T([1.0, -1.0, -1.0, 1.0])
    return [
        ("ClassNLL-weights", nn.ClassNLLCriterion(T([1.0, 2.0, 0.5, 1.0, 3.0])), x, cls),
        ("ClassNLL-ignore", nn.ClassNLLCriterion(ignore_index=2), x, cls),
        ("CrossEntropy", nn.CrossEntropyCriterion(), x, cls),
        ("SpatialClassNLL", nn.SpatialClassNLLCriterion(), x.view(1, 4, 1, 5), L([[[0, 3, 2, 1, 1]]])),
        ("BCE-weights", nn.BCECriterion(T(np.arange(1.0, 6.0))), probs, bits),
        ("ClassSimplex", nn.ClassSimplexCriterion(5), x, cls),
        ("Margin", nn.MarginCriterion(), x.view(-1), T(np.tile([1.0, -1.0], 10))),
        ("SoftMargin", nn.SoftMarginCriterion(), x.view(-1), T(np.tile([1.0, -1.0], 10))),
        ("MultiMargin", nn.MultiMarginCriterion(2, T(np.arange(1.0, 6.0))), x, cls),
        ("MultiLabelMargin", nn.MultiLabelMarginCriterion(), x, L([[1, 3, -1, 0, 0]] * 4)),
        ("MultiLabelSoftMargin", nn.MultiLabelSoftMarginCriterion(T(np.arange(1.0, 6.0))), x, bits),
        ("MSE", nn.MSECriterion(), x, x2),
        ("WeightedMSE", nn.WeightedMSECriterion(T(np.arange(5.0))), x, x2),
        ("Abs", nn.AbsCriterion(), x, x2),
        ("SmoothL1", nn.SmoothL1Criterion(), x * 2, x2),
        ("DistKLDiv", nn.DistKLDivCriterion(), x, probs),
        ("HingeEmbedding", nn.HingeEmbeddingCriterion(), x[0].abs(), signs.repeat(2)[:5]),
        ("L1HingeEmbedding", nn.L1HingeEmbeddingCriterion(9.0), [x[0], x2[0]], -1),
        ("CosineEmbedding", nn.CosineEmbeddingCriterion(0.1), [x, x2], signs),
        ("MarginRanking", nn.MarginRankingCriterion(), [x[:, 0], x2[:, 0]], signs),
        ("L1Cost", nn.L1Cost(), x, None),
        ("Multi", nn.MultiCriterion().add(nn.MSECriterion()).add(nn.AbsCriterion(), 0.5), x, x2),
        (
            "Parallel",
            nn.ParallelCriterion().add(nn.MSECriterion()).add(nn.CrossEntropyCriterion(), 2),
            [x, x2],
            [x2, cls],
        ),
    ]


def to_dev(v: Any) -> Any:
    if isinstance(v, ft.Tensor):
        return v.to("boxed")
    if isinstance(v, list):
        return [to_dev(u) for u in v]
    return v


def host(v: Any) -> Any:
    return [host(u) for u in v] if isinstance(v, list) else v.cpu().numpy().copy()


@pytest.mark.parametrize("case", criteria_cases(), ids=lambda c: c[0])
def test_every_criterion_runs_on_the_device_with_cpu_numbers(case: tuple[str, nn.Criterion, Any, Any]) -> None:
    _, crit, x, y = case
    loss = crit.forward(x, y)
    grad = host(crit.backward(x, y))
    dev = crit.clone().to("boxed")
    for name, t in [(k, v) for k, v in dev.__dict__.items() if isinstance(v, ft.Tensor)]:
        assert on_device(t), name
    dloss = dev.forward(to_dev(x), to_dev(y))
    assert type(dloss) is float and dloss == pytest.approx(loss, rel=1e-12, abs=1e-14)
    dgrad = dev.backward(to_dev(x), to_dev(y))
    for g in dgrad if isinstance(dgrad, list) else [dgrad]:
        assert on_device(g)
    np.testing.assert_allclose(np.asarray(host(dgrad)), np.asarray(grad), rtol=1e-12, atol=1e-14)


def test_the_trainer_trains_on_the_device_as_on_cpu() -> None:
    def train(dev: str) -> tuple[float, list[np.ndarray]]:
        ft.manual_seed(5)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
        model.to(dev)
        g = ft.Generator("cpu", seed=9)
        data = [(ft.randn(4, generator=g).to(dev), i % 3) for i in range(12)]
        trainer = nn.StochasticGradient(model, nn.CrossEntropyCriterion().to(dev), max_iteration=3, verbose=False)
        err = trainer.train(data)
        return err, [p.cpu().numpy().copy() for p in model.parameters()[0]]

    (e_cpu, p_cpu), (e_box, p_box) = train("cpu"), train("boxed")
    assert e_box == pytest.approx(e_cpu, rel=1e-12)
    for a, b in zip(p_cpu, p_box, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12)


# -- sharing -----------------------------------------------------------------------------------------


def test_flattened_parameters_stay_views_of_one_storage_across_the_move() -> None:
    mlp = talk_mlp()
    flat, grads = mlp.get_parameters()
    offsets = [p.storage_offset() for p in mlp.parameters()[0]]
    mlp.to("boxed")
    params, gparams = mlp.parameters()
    for group in (params, gparams):
        storage = group[0].storage()
        assert on_device(group[0]) and storage.size() == flat.nelement() == 100 * 1000 + 1000 + 1000 * 10 + 10
        assert all(p.storage().data_ptr() == storage.data_ptr() for p in group)
    assert [p.storage_offset() for p in params] == offsets
    assert on_device(flat, "cpu")  # the old flat tensor is not reachable from the model: it stays
    flat2, grads2 = mlp.get_parameters()  # flattening again on the device keeps one storage, no copy
    assert on_device(flat2) and flat2.nelement() == flat.nelement()
    flat2.fill_(0.25)
    assert params[0][0, 0].item() == params[3][9].item() == 0.25
    grads2.fill_(1.0)
    assert gparams[2].sum().item() == 10 * 1000


def test_shared_modules_share_on_the_device() -> None:
    mlp = talk_mlp()
    twin = mlp.clone("weight", "bias", "grad_weight", "grad_bias")
    layer = nn.Linear(1000, 10)
    layer.share(mlp.get(2), "weight")  # one field of one layer
    pair = nn.Container(mlp, twin, layer)
    pair.to("boxed")
    for a, b in zip(
        mlp.parameters()[0] + mlp.parameters()[1], twin.parameters()[0] + twin.parameters()[1], strict=True
    ):
        assert on_device(a) and a.is_set_to(b)
    assert layer.weight.is_set_to(mlp.get(2).weight) and not layer.bias.is_set_to(mlp.get(2).bias)
    mlp.get(0).weight.fill_(0.5)
    assert twin.get(0).weight[3, 4].item() == 0.5
    layer.weight.zero_()
    assert mlp.get(2).weight.abs().sum().item() == 0.0
    # training the original moves the twin: one step through the shared gradients and parameters
    x = ft.randn(2, 100, device="boxed")
    mlp.zero_grad_parameters()
    mlp.backward(x, ft.ones(*mlp.forward(x).size(), device="boxed"))
    assert twin.get(2).grad_weight.abs().sum().item() > 0  # the twin sees the original's gradient
    np.testing.assert_array_equal(twin.get(2).grad_bias.cpu().numpy(), mlp.get(2).grad_bias.cpu().numpy())


# -- mixing is refused ---------------------------------------------------------------------------------


def assert_names_both(e: pytest.ExceptionInfo[BaseException], *also: str) -> None:
    msg = str(e.value)
    assert "'cpu'" in msg and "'boxed:0'" in msg, msg
    for part in also:
        assert part in msg, msg


def test_mixing_devices_raises_an_error_naming_both_devices_and_the_module() -> None:
    mlp = talk_mlp().to("boxed")
    with pytest.raises(ft.DeviceMismatchError) as e:
        mlp.forward(ft.randn(2, 100))
    assert_names_both(e, "(0) nn.Linear(100 -> 1000)")
    x = ft.randn(2, 100, device="boxed")
    out = mlp.forward(x)
    with pytest.raises(ft.DeviceMismatchError) as e:
        mlp.backward(x, ft.ones(2, 10))
    assert_names_both(e, f"({len(mlp) - 1}) {mlp.get(-1)!r}: ")  # the last module meets the gradient first
    with pytest.raises(ft.DeviceMismatchError) as e:
        nn.ClassNLLCriterion().forward(out, ft.LongTensor([1, 2]))
    assert_names_both(e)
    with pytest.raises(ft.DeviceMismatchError) as e:
        nn.MSECriterion().forward(out, ft.zeros(2, 10))
    assert_names_both(e)
    with pytest.raises(ft.DeviceMismatchError) as e:  # a target of another type is converted, never moved
        nn.MSECriterion().forward(out, ft.zeros(2, 10).float())
    assert_names_both(e)
    with pytest.raises(ft.DeviceMismatchError) as e:  # a criterion's own tensors left on cpu
        nn.ClassSimplexCriterion(10).forward(out, ft.LongTensor([1, 2], device="boxed"))
    assert_names_both(e)
    with pytest.raises(ft.DeviceMismatchError) as e:  # weights left on cpu
        nn.ClassNLLCriterion(ft.ones(10)).forward(out, ft.LongTensor([1, 2], device="boxed"))
    assert_names_both(e)


def test_a_half_moved_model_fails_at_the_first_layer_left_behind() -> None:
    mlp = talk_mlp()
    mlp.get(0).to("boxed")
    with pytest.raises(ft.DeviceMismatchError) as e:
        mlp.forward(ft.randn(2, 100, device="boxed"))
    assert_names_both(e, "(2) nn.Linear(1000 -> 10)")
    with pytest.raises(ft.ArgumentError) as e:
        mlp.get_parameters()
    assert "boxed:0" in str(e.value) and "on cpu" in str(e.value)
