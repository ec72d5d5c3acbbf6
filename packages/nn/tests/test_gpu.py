"""nn.GPU on the device its inputs are on (moves are no-ops): it behaves as the module it decorates.

The tests run on cpu, or on the device under test (``--flambeau-device``): the decorator's device is
the current one, where the tests' tensors are made. The moves between devices are tested on the
third-party ``boxed`` backend in integration-tests/test_nn_gpu.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from nncheck import check_module

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.nn.gpu import GPU
from flambeau.tensor.errors import ArgumentError, ShapeError
from flambeau.tensor.testing import host, type_prefix


def here() -> str:
    """The current device (cpu, or the device under test inside a device test)."""
    return str(ft.device())


def pair() -> tuple[nn.Module, GPU]:
    """A plain model and a GPU-decorated copy of it."""
    plain = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    return plain, GPU(plain.clone(), here())


@pytest.mark.device
@pytest.mark.parametrize("shape", [(5, 4), (4,)], ids=["batch", "single"])
def test_forward_backward_and_update_match_the_plain_module(shape: tuple[int, ...]) -> None:
    plain, gpu = pair()
    x = ft.randn(*shape)
    g = ft.randn(*plain.forward(x).size())
    for m in (plain, gpu):
        m.zero_grad_parameters()
    out = gpu.forward(x)
    np.testing.assert_array_equal(host(out), host(plain.forward(x)))
    gi = gpu.backward(x, g, 0.5)
    np.testing.assert_array_equal(host(gi), host(plain.backward(x, g, 0.5)))
    for a, b in zip(plain.parameters()[1], gpu.parameters()[1], strict=True):
        np.testing.assert_array_equal(host(b), host(a))
    plain.update_parameters(0.1)
    gpu.update_parameters(0.1)
    for a, b in zip(plain.parameters()[0], gpu.parameters()[0], strict=True):
        np.testing.assert_array_equal(host(b), host(a))
    # update_grad_input and acc_grad_parameters called separately agree too
    gpu.zero_grad_parameters()
    plain.zero_grad_parameters()
    gpu.forward(x)
    plain.forward(x)
    np.testing.assert_array_equal(host(gpu.update_grad_input(x, g)), host(plain.update_grad_input(x, g)))
    gpu.acc_grad_parameters(x, g, 2.0)
    plain.acc_grad_parameters(x, g, 2.0)
    for a, b in zip(plain.parameters()[1], gpu.parameters()[1], strict=True):
        np.testing.assert_array_equal(host(b), host(a))


@pytest.mark.device
def test_a_move_to_the_device_the_tensors_are_on_copies_nothing() -> None:
    lin = nn.Linear(3, 2)
    gpu = GPU(lin, here())
    x = ft.randn(2, 3)
    assert gpu.forward(x) is lin.output
    assert gpu.backward(x, ft.ones(2, 2)) is lin.grad_input
    assert gpu.module is lin and gpu.get(0) is lin and gpu.parameters()[0] == [lin.weight, lin.bias]


@pytest.mark.device
@pytest.mark.parametrize("shape", [(3, 4), (4,)], ids=["batch", "single"])
def test_gradients_against_finite_differences_and_save_load(shape: tuple[int, ...]) -> None:
    check_module(GPU(nn.Sequential(nn.Linear(4, 3), nn.Sigmoid()), here()), ft.randn(*shape))


@pytest.mark.device
def test_table_inputs_and_outputs() -> None:
    gpu = GPU(nn.CAddTable(), here())
    a, b = ft.randn(2, 3), ft.randn(2, 3)
    out = gpu.forward([a, b])
    np.testing.assert_allclose(host(out), host(a) + host(b), rtol=1e-15)
    grads = gpu.backward([a, b], ft.ones(2, 3))
    assert isinstance(grads, list) and len(grads) == 2
    for g in grads:
        np.testing.assert_array_equal(host(g), np.ones((2, 3)))
    split = GPU(nn.ConcatTable().add(nn.Identity()).add(nn.MulConstant(2.0)), here())
    outs = split.forward(a)
    assert isinstance(outs, list) and len(outs) == 2
    np.testing.assert_allclose(host(outs[1]), 2 * host(a), rtol=1e-15)
    np.testing.assert_allclose(host(split.backward(a, [ft.ones(2, 3), ft.ones(2, 3)])), np.full((2, 3), 3.0))


@pytest.mark.device
def test_inside_a_model_modes_flattening_and_clear_state() -> None:
    model = nn.Sequential(nn.Linear(4, 4), GPU(nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 2)), here()))
    flat, grads = model.get_parameters()
    assert flat.nelement() == 4 * 4 + 4 + 4 * 2 + 2
    flat.fill_(0.0)
    assert model.get(1).module.get(1).weight.abs().sum().item() == 0.0  # a view of the flat tensor
    model.evaluate()
    assert not model.get(1).module.get(0).train
    x = ft.randn(3, 4)
    model.forward(x)
    model.clear_state()
    assert x.nelement() == 12  # the kept input is the caller's: it must not be emptied
    gpu = model.get(1)
    assert gpu._input is None and gpu.output.nelement() == 0 and gpu.module.output.nelement() == 0
    assert gpu.module.get(1).weight.nelement() == 8  # parameters are kept


@pytest.mark.device
def test_a_first_layer_without_grad_input_only_accumulates() -> None:
    lin = nn.Linear(3, 2)
    gpu = GPU(lin, here())
    gpu.grad_input = None
    x = ft.randn(4, 3)
    gpu.forward(x)
    gpu.zero_grad_parameters()
    assert gpu.backward(x, ft.ones(4, 2)) is None
    np.testing.assert_allclose(host(lin.grad_bias), [4.0, 4.0])
    gpu.clear_state()
    assert gpu.grad_input is None


@pytest.mark.device
def test_type_converts_the_module_and_it_stays_on_its_device() -> None:
    gpu = GPU(nn.Linear(3, 2), here())
    assert gpu.float() is gpu
    prefix = type_prefix()
    assert gpu.module.weight.dtype == ft.float32 and gpu.type() == f"{prefix}.FloatTensor"
    out = gpu.forward(ft.randn(2, 3).float())
    assert out.dtype == ft.float32
    assert gpu.to(here()) is gpu and str(gpu.module.weight.device) == here()


def test_printing_and_errors() -> None:
    gpu = GPU(nn.Linear(3, 2), "cpu", out_device="cpu")
    assert repr(gpu) == "nn.GPU(cpu -> cpu) @ nn.Linear(3 -> 2)"
    assert repr(nn.Sequential(GPU(nn.Linear(3, 2), "cpu"))).endswith("(0): nn.GPU(cpu) @ nn.Linear(3 -> 2)\n}")
    with pytest.raises(ArgumentError, match="decorates exactly one module"):
        gpu.add(nn.Tanh())
    with pytest.raises(ShapeError, match=r"^\(0\) nn\.Linear\(3 -> 2\): .*size mismatch"):
        gpu.forward(ft.randn(2, 5))
    with pytest.raises(ArgumentError, match="expected an nn module"):
        GPU("linear", "cpu")  # type: ignore[arg-type]


@pytest.mark.device
def test_the_fused_update_works_through_the_decorator() -> None:
    # Module's fused update, through parameters()
    fused = GPU(nn.Linear(3, 2), here())
    plain = fused.modules[0].clone()
    x, g = ft.randn(2, 3), ft.ones(2, 2)
    fused.forward(x)
    fused.backward_update(x, g, 0.1)
    plain.forward(x)
    plain.zero_grad_parameters()
    plain.backward(x, g)
    plain.update_parameters(0.1)
    for a, b in zip(fused.parameters()[0], plain.parameters()[0], strict=True):
        assert float((a - b).abs().max()) < 1e-12
