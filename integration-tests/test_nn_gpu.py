"""nn.GPU on a second device: modules decorated to run on the third-party ``boxed`` backend.

``boxed`` (integration-tests/plugins/boxed-backend) serves ``boxed:0`` and ``boxed:1`` with arrays
that refuse host operands, so a tensor GPU forgot to move fails loudly. Checked here: forward and
backward give the plain cpu module's numbers; the output lands on ``out_device`` (by default the
input's device) and ``grad_input`` on the input's devices; parameters live on the module's device
and stay there through conversions of an enclosing model; save/load and clone keep it all.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.nn.gpu import GPU

try:
    import boxed_backend
except ImportError as e:  # the integration session installs it; a missing plugin must fail, not skip
    raise ImportError("install the test plugin: pip install ./integration-tests/plugins/boxed-backend") from e

BoxedArray = boxed_backend.BoxedArray


def on(t: ft.Tensor, dev: str) -> bool:
    return str(t.device) == dev and type(t._a) is (np.ndarray if dev == "cpu" else BoxedArray)


def host(x: Any) -> Any:
    return [host(v) for v in x] if isinstance(x, list) else x.cpu().numpy().copy()


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))


def module_tensors(m: nn.Module) -> list[tuple[str, ft.Tensor]]:
    return [
        (f"{type(c).__name__}.{k}", v)
        for c in m.list_modules()
        for k, v in c.__dict__.items()
        if isinstance(v, ft.Tensor)
    ]


def step(model: nn.Module, x: Any, g: Any) -> dict[str, Any]:
    model.zero_grad_parameters()
    out = model.forward(x)
    gi = model.backward(x, g)
    return {"out": host(out), "grad_input": host(gi), "grads": [host(t) for t in model.parameters()[1]]}


def assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    for key in ("out", "grad_input"):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-12, atol=1e-14)
    for u, v in zip(a["grads"], b["grads"], strict=True):
        np.testing.assert_allclose(v, u, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    ("in_dev", "device", "out_device", "expect_out"),
    [
        ("cpu", "boxed:1", None, "cpu"),
        ("cpu", "boxed:1", "boxed:0", "boxed:0"),
        ("boxed:0", "boxed:1", None, "boxed:0"),
        ("boxed:1", "boxed:1", None, "boxed:1"),
        ("boxed:0", "cpu", "boxed:1", "boxed:1"),
    ],
)
@pytest.mark.parametrize("batch", [3, 0], ids=["batch", "single"])
def test_forward_and_backward_match_cpu_and_land_where_asked(
    in_dev: str, device: str, out_device: str | None, expect_out: str, batch: int
) -> None:
    ft.manual_seed(3)
    plain = mlp()
    gpu = GPU(plain.clone(), device, out_device)
    for name, t in module_tensors(gpu.module):
        assert on(t, device), name
    x = ft.randn(batch, 5) if batch else ft.randn(5)
    g = ft.randn(batch, 3) if batch else ft.randn(3)
    ref = step(plain, x, g)
    out = gpu.forward(x.to(in_dev))
    assert on(out, expect_out)
    gi = gpu.backward(x.to(in_dev), g.to(expect_out))
    assert on(gi, in_dev)  # the gradient goes back where the input came from
    for p in gpu.parameters()[0] + gpu.parameters()[1]:
        assert on(p, device)
    assert_same(ref, step(gpu, x.to(in_dev), g.to(expect_out)))
    gpu.update_parameters(0.1)
    plain.update_parameters(0.1)
    for a, b in zip(plain.parameters()[0], gpu.parameters()[0], strict=True):
        np.testing.assert_allclose(host(b), host(a), rtol=1e-12, atol=1e-14)


def test_a_model_spread_over_devices_matches_the_same_model_on_cpu() -> None:
    ft.manual_seed(4)
    plain = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 4), nn.Sigmoid(), nn.Linear(4, 2))
    twin = plain.clone()
    spread = nn.Sequential(
        twin.get(0),
        GPU(nn.Sequential(twin.get(1), twin.get(2)), "boxed:0"),
        GPU(nn.Sequential(twin.get(3), twin.get(4)), "boxed:1"),
    )
    x, g = ft.randn(7, 5), ft.randn(7, 2)
    ref = step(plain, x, g)
    got = step(spread, x, g)
    assert_same(ref, got)
    assert on(spread.output, "cpu") and on(spread.grad_input, "cpu")
    assert [str(p.device) for p in spread.parameters()[0]] == ["cpu"] * 2 + ["boxed:0"] * 2 + ["boxed:1"] * 2
    with pytest.raises(ft.ArgumentError, match="one type and device"):  # as Torch: no flattening across devices
        spread.get_parameters()


def test_table_inputs_move_entry_by_entry() -> None:
    a, b = ft.randn(2, 3), ft.randn(2, 3)
    gpu = GPU(nn.CAddTable(), "boxed:1")
    out = gpu.forward([a, b.to("boxed:0")])
    assert on(out, "cpu")  # the first entry's device
    np.testing.assert_allclose(host(out), host(a) + host(b), rtol=1e-15)
    grads = gpu.backward([a, b.to("boxed:0")], ft.ones(2, 3))
    assert on(grads[0], "cpu") and on(grads[1], "boxed:0")
    np.testing.assert_array_equal(np.asarray(host(grads)), np.ones((2, 2, 3)))
    split = GPU(nn.ConcatTable().add(nn.Identity()).add(nn.MulConstant(3.0)), "boxed:1", out_device="boxed:0")
    outs = split.forward(a)
    assert [str(o.device) for o in outs] == ["boxed:0", "boxed:0"]
    gi = split.backward(a, [ft.ones(2, 3, device="boxed:0"), ft.ones(2, 3)])  # gradients from anywhere
    assert on(gi, "cpu") and host(gi).tolist() == [[4.0] * 3] * 2


def test_converting_the_enclosing_model_keeps_the_module_on_its_device() -> None:
    inner = nn.Linear(3, 2)
    gpu = GPU(inner, "boxed:1")
    model = nn.Sequential(nn.Linear(4, 3), gpu)
    model.forward(ft.randn(2, 4))
    model.to("boxed:0")
    assert on(model.get(0).weight, "boxed:0")
    params = model.parameters()[0]  # through GPU.parameters: the module is back home
    assert [str(p.device) for p in params] == ["boxed:0", "boxed:0", "boxed:1", "boxed:1"]
    for name, t in module_tensors(inner):
        assert on(t, "boxed:1"), name
    out = model.forward(ft.randn(2, 4, device="boxed:0"))
    assert on(out, "boxed:0")
    model.float()  # a type change reaches the module, on its device
    assert inner.weight.dtype == ft.float32 and on(inner.weight, "boxed:1")
    model.type("flambeau.DoubleTensor")  # a name carrying cpu
    assert on(model.get(0).weight, "cpu") and model.get(0).weight.dtype == ft.float64
    out = model.forward(ft.randn(2, 4))  # forward re-homes the module before running it
    assert on(out, "cpu") and on(inner.weight, "boxed:1") and inner.weight.dtype == ft.float64
    gpu.to("cpu")  # on the GPU module itself: re-homed at once
    assert on(inner.weight, "boxed:1") and on(inner.bias, "boxed:1")
    gpu.set_device("boxed:0")
    assert gpu.device == "boxed:0" and on(inner.weight, "boxed:0") and on(inner.grad_weight, "boxed:0")


def test_nested_gpu_modules_keep_their_own_devices() -> None:
    ft.manual_seed(6)
    plain = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 2))
    twin = plain.clone()
    inner = GPU(twin.get(2), "boxed:0")
    outer = GPU(nn.Sequential(twin.get(0), twin.get(1), inner), "boxed:1")
    x, g = ft.randn(4, 3), ft.randn(4, 2)
    ref = step(plain, x, g)
    assert_same(ref, step(outer, x, g))
    assert on(twin.get(0).weight, "boxed:1") and on(twin.get(2).weight, "boxed:0")
    assert on(inner.output, "boxed:1")  # the inner output goes back to the outer device
    assert on(outer.output, "cpu")


def test_save_load_and_clone_keep_devices_and_numbers() -> None:
    ft.manual_seed(8)
    model = nn.Sequential(nn.Linear(5, 4), GPU(nn.Sequential(nn.Tanh(), nn.Linear(4, 3)), "boxed:1", "boxed:0"))
    x = ft.randn(2, 5)
    out = host(model.forward(x))
    buf = io.BytesIO()
    ft.save(buf, model.clear_state())
    buf.seek(0)
    back = ft.load(buf)
    gpu = back.get(1)
    assert isinstance(gpu, GPU) and gpu.device == "boxed:1" and gpu.out_device == "boxed:0"
    for name, t in module_tensors(gpu.module):
        assert on(t, "boxed:1"), name
    got = back.forward(x)
    assert on(got, "boxed:0")
    np.testing.assert_allclose(host(got), out, rtol=1e-15)
    copy = model.clone()
    assert on(copy.get(1).module.get(1).weight, "boxed:1")
    np.testing.assert_allclose(host(copy.forward(x)), out, rtol=1e-15)


def test_a_cpu_tensor_reaching_the_module_directly_is_refused() -> None:
    gpu = GPU(nn.Linear(3, 2), "boxed:1")
    with pytest.raises(ft.DeviceMismatchError):
        gpu.module.forward(ft.randn(2, 3))  # bypassing the decorator: the module really lives on boxed:1
    assert on(gpu.forward(ft.randn(2, 3)), "cpu")
